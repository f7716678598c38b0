"""Registering machines and applying status reports. A registration is first recorded on
its request (one conditional write that refuses a machine past ``machine_count`` or on a
request that takes no more), then stored; a status report is one conditional write with
everything it carries. Whoever wins a write that ends a machine gives its capacity back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hostfactory.domain import fail
from hostfactory.errors import DomainValidationError, InvalidTransition, NotFound, VersionConflict
from hostfactory.fleet.capacity import capacity_follow_machine
from hostfactory.fleet.progress import request_reconcile, request_reconcile_by_id
from hostfactory.services import get_or_404
from machines_app.domain import MACHINE_TRANSITIONS, Machine, MachineStatus
from requests_app.domain import RequestType

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

# Fields a status report may carry besides the status itself.
REPORTED_FIELDS = ("name", "private_ip_address", "public_ip_address", "status_reason", "launch_time", "instance_type")


def machine_reconcile_requests(*, repos: Repositories, machine: Machine) -> None:
    request_reconcile_by_id(repos=repos, request_id=machine.request_id)
    request_reconcile_by_id(repos=repos, request_id=machine.return_request_id)


def machine_register(*, repos: Repositories, machine: Machine) -> Machine:
    """Record a machine launched for an acquire request (a provisioner's report).

    Idempotent by machine id: a retry of a registration that failed half-way (or that
    succeeded but whose answer was lost) completes it and returns the stored machine."""
    request = repos.requests.get_by_id(machine.request_id)
    if request is None or request.request_type != RequestType.ACQUIRE:
        fail("request_id", f"unknown acquire request {machine.request_id!r}")
    if machine.template_id != request.template_id:
        fail("template_id", f"must be the request's template {request.template_id!r}, got {machine.template_id!r}")
    existing = repos.machines.get_by_id(machine.machine_id)
    if existing is not None and existing.request_id != machine.request_id:
        raise VersionConflict(_taken(existing))
    request = repos.requests.add_machine(request.request_id, machine.machine_id)
    stored, created = _store_new(repos=repos, machine=machine)
    if created and not stored.is_live:  # registered already ended: its host is given back, once
        capacity_follow_machine(repos=repos, before=stored.replace(status=MachineStatus.PENDING), after=stored)
    request_reconcile(repos=repos, request=request)
    return stored


def _store_new(*, repos: Repositories, machine: Machine) -> tuple[Machine, bool]:
    """The stored machine, and whether this call stored it (a retry finds it stored)."""
    try:
        return repos.machines.save(machine.replace(version=0, created_at=None, updated_at=None)), True
    except VersionConflict:
        existing = repos.machines.get_by_id(machine.machine_id)
        if existing is not None and existing.request_id == machine.request_id:
            return existing, False  # the retry of a registration already stored
        # Another request's registration of this id won the race: leave this request as it was.
        repos.requests.remove_machine(machine.request_id, machine.machine_id)
        raise VersionConflict(
            _taken(existing) if existing else f"machine {machine.machine_id} was just taken"
        ) from None


def _taken(existing: Machine) -> str:
    return f"machine {existing.machine_id} already exists, registered for request {existing.request_id}"


def machine_update_status(
    *, repos: Repositories, machine_id: str, status: MachineStatus | str, changes: dict[str, Any] | None = None
) -> Machine:
    """Move a machine to ``status`` with what came with the report (name, IPs, reason), all in
    one atomic, transition-checked write. Everything is validated before anything is
    written."""
    changes = {key: value for key, value in (changes or {}).items() if value is not None}
    unknown = set(changes) - set(REPORTED_FIELDS)
    if unknown:
        fail(sorted(unknown)[0], f"cannot be reported with a status; allowed: {', '.join(REPORTED_FIELDS)}")
    current = get_or_404(repos.machines, machine_id)
    target = current.with_status(status, changes.get("status_reason")).status  # checks the move
    current.replace(status=target, **changes)  # validates the reported values
    reason = changes.pop("status_reason", None)
    moved = repos.machines.transition(machine_id, target, reason, changes)
    if moved is None:
        raise NotFound(f"machine {machine_id!r} does not exist")
    return machine_changed(repos=repos, before=moved[0], after=moved[1])


def machine_changed(*, repos: Repositories, before: Machine | None, after: Machine | None) -> Machine | None:
    """What follows a machine write, done by its writer: the ledger, then its requests."""
    capacity_follow_machine(repos=repos, before=before, after=after)
    machine = after or before
    if machine is not None:
        machine_reconcile_requests(repos=repos, machine=machine)
    return after


def machine_update(*, repos: Repositories, machine: Machine) -> Machine:
    """Store an edited machine (API PUT/PATCH, admin form): version-checked, and a status
    change must be a move the table allows."""
    current = get_or_404(repos.machines, machine.machine_id)
    if machine.status != current.status:
        MACHINE_TRANSITIONS.check(machine.machine_id, current.status, machine.status)
    stored = repos.machines.save(machine)
    return machine_changed(repos=repos, before=current, after=stored)


def machine_delete(*, repos: Repositories, machine_id: str) -> None:
    removed = repos.machines.remove(machine_id)
    if removed is None:
        raise NotFound(f"machine {machine_id!r} does not exist")
    machine_changed(repos=repos, before=removed, after=None)


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
