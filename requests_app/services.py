"""Request services: creating acquire and return requests, status changes, and keeping an
active request's status in step with its machines (domain.md "Request progress")."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from hostfactory.domain import fail, utcnow
from hostfactory.errors import InUse, InvalidTransition
from hostfactory.services import get_or_404, update_with_retry
from machines_app.domain import HFResult, MachineStatus, hf_acquire_result
from requests_app.domain import (
    REQUEST_TRANSITIONS,
    Request,
    RequestStatus,
    RequestType,
    request_progress,
)

if TYPE_CHECKING:
    from hostfactory.storage import Repositories
    from machines_app.domain import Machine


def request_deadline(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.HOSTFACTORY_REQUEST_TIMEOUT)


def request_create_acquire(
    *, repos: Repositories, template_id: str, machine_count: int, requested_by: str = ""
) -> Request:
    """A pending acquire request, if the template exists, is enabled and has room."""
    from templates_app.services import templates_available

    template = repos.templates.get_by_id(template_id) if isinstance(template_id, str) else None
    if template is None:
        fail("template_id", f"unknown template {template_id!r}")
    if not template.enabled:
        fail("template_id", f"template {template_id!r} is disabled")
    now = utcnow()
    request = Request.new(
        RequestType.ACQUIRE,
        template_id=template_id,
        machine_count=machine_count,
        requested_by=requested_by,
        deadline=request_deadline(now),
    )
    if not template.is_unlimited:
        available = templates_available(repos=repos).get(template_id, 0)
        if machine_count > available:
            fail(
                "machine_count",
                f"must be at most {available} (available for template {template_id!r}), got {machine_count}",
            )
    return repos.requests.save(request)


def request_create_return(
    *, repos: Repositories, machines: list[Machine], requested_by: str = ""
) -> tuple[Request, list[Machine]]:
    """A return request for the live ``machines`` not already being returned; each of them
    gets the request's id as ``return_request_id``. Returns the request and those machines."""
    eligible = [m for m in machines if m.is_live and m.return_request_id is None]
    now = utcnow()
    request = repos.requests.save(
        Request.new(
            RequestType.RETURN,
            machine_count=len(eligible),
            requested_by=requested_by,
            deadline=request_deadline(now),
            message="" if eligible else "No Active VM.",
        )
    )
    marked = []
    for machine in eligible:

        def mark(current: Machine) -> Machine | None:
            if current.return_request_id is not None:
                return None  # claimed meanwhile by another return
            return current.replace(return_request_id=request.request_id)

        stored = update_with_retry(repos.machines, machine.machine_id, mark)
        if stored.return_request_id == request.request_id:
            marked.append(stored)
    if len(marked) != len(eligible):
        request = update_with_retry(repos.requests, request.request_id, lambda r: r.replace(machine_count=len(marked)))
    return request_reconcile(repos=repos, request=request), marked


def request_machines(*, repos: Repositories, request: Request) -> list[Machine]:
    """An acquire request's launched machines, or a return request's returned ones."""
    if request.request_type == RequestType.RETURN:
        return repos.machines.get_by_return_request_id(request.request_id)
    return repos.machines.get_by_request_id(request.request_id)


def request_reconcile(
    *, repos: Repositories, request: Request, machines: list[Machine] | None = None, now: datetime | None = None
) -> Request:
    """Move an active request to the status its machines (and deadline) give it.

    Safe under concurrency: the move is one atomic, transition-checked update; if another
    writer finished the request first, the stored request is returned unchanged.
    """
    if request.is_terminal:
        return request
    now = now or utcnow()
    machines = request_machines(repos=repos, request=request) if machines is None else machines
    target = request_progress(request, machines, now)
    if target == request.status:
        return request
    with contextlib.suppress(InvalidTransition):  # finished meanwhile by someone else
        repos.requests.update_status(request.request_id, target, progress_message(request, machines, target))
    if request.request_type == RequestType.RETURN and target == RequestStatus.COMPLETE:
        _mark_returned(repos=repos, machines=machines)
    return repos.requests.get_by_id(request.request_id) or request


def request_reconcile_by_id(*, repos: Repositories, request_id: str | None) -> Request | None:
    request = repos.requests.get_by_id(request_id) if request_id else None
    return request_reconcile(repos=repos, request=request) if request else None


def _mark_returned(*, repos: Repositories, machines: list[Machine]) -> None:
    for machine in machines:
        if machine.status == MachineStatus.TERMINATED:
            with contextlib.suppress(InvalidTransition):  # moved on meanwhile
                repos.machines.update_status(machine.machine_id, MachineStatus.RETURNED)


def progress_message(request: Request, machines: list[Machine], target: RequestStatus) -> str:
    """What Host Factory shows for the new status."""
    if request.request_type == RequestType.RETURN:
        if target == RequestStatus.TIMEOUT:
            return f"Return not finished before its deadline {request.deadline:%Y-%m-%d %H:%M:%S} UTC."
        return ""
    succeeded = sum(1 for m in machines if hf_acquire_result(m) == HFResult.SUCCEED)
    asked = request.machine_count
    if target == RequestStatus.PARTIAL:
        return f"{succeeded} of {asked} machines started; the others failed."
    if target == RequestStatus.FAILED:
        return f"None of the {asked} machines started."
    if target == RequestStatus.TIMEOUT:
        return f"Timed out with {succeeded} of {asked} machines started."
    return ""


def request_set_status(
    *, repos: Repositories, request_id: str, status: RequestStatus | str, message: str | None = None
) -> Request:
    """An operator's or tool's status change; the transition table is enforced."""
    # The domain's rules first (a finished request keeps its message); the write checks the move again.
    get_or_404(repos.requests, request_id).with_status(status, utcnow(), message)
    repos.requests.update_status(request_id, status, message)
    return get_or_404(repos.requests, request_id)


def request_cancel(*, repos: Repositories, request_id: str, message: str = "Cancelled by an operator.") -> Request:
    return request_set_status(repos=repos, request_id=request_id, status=RequestStatus.CANCELLED, message=message)


def request_update_message(
    *, repos: Repositories, request_id: str, message: str, version: int | None = None
) -> Request:
    current = get_or_404(repos.requests, request_id)
    return repos.requests.save(
        current.with_message(message).replace(version=current.version if version is None else version)
    )


def request_delete(*, repos: Repositories, request_id: str) -> None:
    """Delete a finished request; an active one is InUse (cancel it first)."""
    request = get_or_404(repos.requests, request_id)
    if request.is_active:
        raise InUse(f"request {request_id} is still {request.status.value}; cancel it first")
    repos.requests.delete(request_id)


def request_allowed_statuses(request: Request) -> list[str]:
    return sorted(status.value for status in REQUEST_TRANSITIONS.allowed(request.status))
