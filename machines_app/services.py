"""Machine services: registering launched machines, status changes, reclaim. Every change
of a machine's status reconciles the requests it belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hostfactory.domain import fail, utcnow
from hostfactory.errors import InvalidTransition
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
