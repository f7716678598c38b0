"""Machine services: registering launched machines, status changes, reclaim. Every change
of a machine's status reconciles the requests it belongs to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hostfactory.domain import fail, utcnow
from hostfactory.errors import DomainValidationError, InvalidTransition, NotFound
from hostfactory.services import get_or_404, update_with_retry
from machines_app.domain import MACHINE_TRANSITIONS, Machine, MachineStatus
from requests_app.domain import RequestType
from requests_app.services import request_reconcile_by_id

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

# Fields a status report may carry besides the status itself.
REPORTED_FIELDS = ("name", "private_ip_address", "public_ip_address", "status_reason", "launch_time", "instance_type")


def machine_reconcile_requests(*, repos: Repositories, machine: Machine) -> None:
    request_reconcile_by_id(repos=repos, request_id=machine.request_id)
    request_reconcile_by_id(repos=repos, request_id=machine.return_request_id)


def machine_register(*, repos: Repositories, machine: Machine) -> Machine:
    """Record a machine launched for an acquire request (a provisioner's report)."""
    request = repos.requests.get_by_id(machine.request_id)
    if request is None or request.request_type != RequestType.ACQUIRE:
        fail("request_id", f"unknown acquire request {machine.request_id!r}")
    if machine.template_id != request.template_id:
        fail("template_id", f"must be the request's template {request.template_id!r}, got {machine.template_id!r}")
    stored = repos.machines.save(machine.replace(version=0, created_at=None, updated_at=None))
    machine_reconcile_requests(repos=repos, machine=stored)
    return stored


def machine_update_status(
    *, repos: Repositories, machine_id: str, status: MachineStatus | str, changes: dict[str, Any] | None = None
) -> Machine:
    """Move a machine to ``status`` (transition-checked, atomic) and record what came with
    the report (name, IPs, reason). Everything is validated before anything is written."""
    changes = {key: value for key, value in (changes or {}).items() if value is not None}
    unknown = set(changes) - set(REPORTED_FIELDS)
    if unknown:
        fail(sorted(unknown)[0], f"cannot be reported with a status; allowed: {', '.join(REPORTED_FIELDS)}")
    current = get_or_404(repos.machines, machine_id)
    target = current.with_status(status, changes.get("status_reason")).status  # checks the move
    current.replace(status=target, **changes)  # validates the reported values

    repos.machines.update_status(machine_id, target, changes.get("status_reason"))
    stored = update_with_retry(repos.machines, machine_id, lambda m: m.replace(**changes)) if changes else None
    stored = stored or get_or_404(repos.machines, machine_id)
    machine_reconcile_requests(repos=repos, machine=stored)
    return stored


def machine_update(*, repos: Repositories, machine: Machine) -> Machine:
    """Store an edited machine (API PUT/PATCH, admin form): version-checked, and a status
    change must be a move the table allows."""
    current = get_or_404(repos.machines, machine.machine_id)
    if machine.status != current.status:
        MACHINE_TRANSITIONS.check(machine.machine_id, current.status, machine.status)
    stored = repos.machines.save(machine)
    machine_reconcile_requests(repos=repos, machine=stored)
    return stored


def machine_reclaim(*, repos: Repositories, machine_id: str, at: datetime | None = None) -> Machine:
    """Ask Host Factory to give the machine back (reported by getReturnRequests)."""
    when = at or utcnow()
    return update_with_retry(repos.machines, machine_id, lambda m: m.replace(reclaim_at=when))


def machine_reclaim_clear(*, repos: Repositories, machine_id: str) -> Machine:
    """Withdraw a reclaim notice: getReturnRequests stops listing the machine."""
    return update_with_retry(repos.machines, machine_id, lambda m: m.replace(reclaim_at=None))


def machine_delete(*, repos: Repositories, machine_id: str) -> None:
    machine = get_or_404(repos.machines, machine_id)
    repos.machines.delete(machine_id)
    machine_reconcile_requests(repos=repos, machine=machine)


def machine_set_status_safely(*, repos: Repositories, machine_id: str, status: MachineStatus) -> bool:
    """Bulk helper (admin action, sync): False instead of an error for a refused move."""
    try:
        machine_update_status(repos=repos, machine_id=machine_id, status=status)
    except InvalidTransition:
        return False
    return True


@dataclass(frozen=True)
class MachineStatusUpdate:
    """One machine's reported status and what came with it; ``source`` names where it came
    from (``updates.csv line 4``) so an error can point at it."""

    machine_id: str
    status: str
    changes: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def machines_check_status_updates(*, repos: Repositories, updates: list[MachineStatusUpdate]) -> list[Machine]:
    """Each machine as it would be after its update, or the first error, prefixed with the
    update's source: an unknown id, a machine named twice, a refused move, a bad value.
    Reads only (one batch read for all ids); nothing is written."""
    first_source: dict[str, str] = {}
    for update in updates:
        if update.machine_id in first_source:
            earlier = first_source[update.machine_id] or "an earlier update"
            fail(f"{update.source}: machine_id", f"{update.machine_id!r} is already given at {earlier}")
        first_source[update.machine_id] = update.source
    stored = {m.machine_id: m for m in repos.machines.get_by_instance_ids([u.machine_id for u in updates])}
    return [_checked(update, stored.get(update.machine_id)) for update in updates]


def _checked(update: MachineStatusUpdate, current: Machine | None) -> Machine:
    prefix = f"{update.source}: " if update.source else ""
    if current is None:
        raise NotFound(f"{prefix}machine {update.machine_id!r} does not exist")
    changes = {key: value for key, value in update.changes.items() if value is not None}
    unknown = set(changes) - set(REPORTED_FIELDS)
    try:
        if unknown:
            fail(sorted(unknown)[0], f"cannot be reported with a status; allowed: {', '.join(REPORTED_FIELDS)}")
        moved = current.with_status(update.status, changes.get("status_reason"))
        return moved.replace(**changes)
    except DomainValidationError as error:
        raise DomainValidationError(f"{prefix}{error.field}", error.rule) from None
    except InvalidTransition as error:
        kind = f"{prefix}machine"
        raise InvalidTransition(kind, update.machine_id, error.current, error.target, error.allowed) from None


def machines_update_status_many(
    *,
    repos: Repositories,
    updates: list[MachineStatusUpdate],
    progress: Callable[[int, int], None] | None = None,
) -> list[Machine]:
    """Apply many status reports (an operator's file): all are checked first, so a bad one
    stops the run with nothing written; then each is applied as ``machine_update_status``."""
    machines_check_status_updates(repos=repos, updates=updates)
    stored = []
    for done, update in enumerate(updates, start=1):
        stored.append(
            machine_update_status(
                repos=repos, machine_id=update.machine_id, status=update.status, changes=update.changes
            )
        )
        if progress:
            progress(done, len(updates))
    return stored
