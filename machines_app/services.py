"""Machine services that touch the machine alone. Registering machines and status reports
span requests and capacity: they live in ``hostfactory.fleet.machines``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from hostfactory.domain import utcnow
from hostfactory.services import update_with_retry
from machines_app.domain import Machine

if TYPE_CHECKING:
    from hostfactory.storage import Repositories


def machine_reclaim(*, repos: Repositories, machine_id: str, at: datetime | None = None) -> Machine:
    """Ask Host Factory to give the machine back (reported by getReturnRequests)."""
    when = at or utcnow()
    return update_with_retry(repos.machines, machine_id, lambda m: m.replace(reclaim_at=when))


def machine_reclaim_clear(*, repos: Repositories, machine_id: str) -> Machine:
    """Withdraw a reclaim notice: getReturnRequests stops listing the machine."""
    return update_with_retry(repos.machines, machine_id, lambda m: m.replace(reclaim_at=None))
