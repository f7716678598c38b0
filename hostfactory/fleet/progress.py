"""An active request's status from its machines (domain.md "Request progress"), and keeping
it in step: every read here is of base items (the request, then its machines by id, both
consistent), never of an index, so a write made a moment ago is always seen."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings

from hostfactory.domain import utcnow
from hostfactory.errors import InvalidTransition, NotFound
from hostfactory.fleet.capacity import capacity_release
from machines_app.domain import HFResult, Machine, MachineStatus, hf_acquire_result, hf_return_result
from requests_app.domain import REQUEST_TRANSITIONS, Request, RequestStatus, RequestType

if TYPE_CHECKING:
    from hostfactory.storage import Repositories


def request_progress(request: Request, machines: Iterable[Machine], now: datetime) -> RequestStatus:
    """The status an active request should have, given its machines. ``machines`` are those
    its ``machine_ids`` name that are stored; a named machine not (yet) stored counts as
    still coming, never as done."""
    if request.is_terminal:
        return request.status
    machines = list(machines)
    if request.request_type == RequestType.RETURN:
        target = _return_progress(request, machines, now)
    else:
        target = _acquire_progress(request, machines, now)
    # An in-progress request whose machines were all deleted does not go back to pending.
    return target if target in REQUEST_TRANSITIONS.allowed(request.status) else request.status


def _acquire_progress(request: Request, machines: list[Machine], now: datetime) -> RequestStatus:
    results = [hf_acquire_result(machine) for machine in machines]
    succeeded = results.count(HFResult.SUCCEED)
    if succeeded >= request.machine_count:
        return RequestStatus.COMPLETE
    if HFResult.EXECUTING not in results and len(machines) >= request.machine_count:
        return RequestStatus.PARTIAL if succeeded else RequestStatus.FAILED
    if request.is_overdue(now):
        return RequestStatus.TIMEOUT
    return RequestStatus.IN_PROGRESS if machines else RequestStatus.PENDING


def _return_progress(request: Request, machines: list[Machine], now: datetime) -> RequestStatus:
    done = [machine for machine in machines if hf_return_result(machine, False) == HFResult.SUCCEED]
    # Every host it holds is gone, and none it names is missing from the answer.
    if len(done) == len(machines) >= len(request.machine_ids):
        return RequestStatus.COMPLETE
    if request.is_overdue(now):
        return RequestStatus.TIMEOUT
    return RequestStatus.IN_PROGRESS


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


def request_machines(*, repos: Repositories, request: Request) -> list[Machine]:
    """An acquire request's launched machines, or a return request's hosts still to go (those
    it claimed, and those it was asked for that another return holds and that still live):
    one consistent batch read per 100 of the ids the request names."""
    return requests_with_machines(repos=repos, requests=[request])[0][1]


def requests_with_machines(*, repos: Repositories, requests: list[Request]) -> list[tuple[Request, list[Machine]]]:
    """Each request with its machines, all machines read in shared batches of 100."""
    found = {m.machine_id: m for m in repos.machines.get_many(i for r in requests for i in _named(r))}
    return [(r, _counted(r, found)) for r in requests]


def _named(request: Request) -> tuple[str, ...]:
    return (*request.machine_ids, *request.other_hosts)


def _counted(request: Request, found: dict[str, Machine]) -> list[Machine]:
    """Its machines among ``found``. A host a return names but does not hold yet counts while
    it lives: another return holds it, or this one is still to claim it (return_adopt); the
    return is done when it is gone."""
    held = set(request.machine_ids)  # a set: a return may name 10,000 hosts
    return [found[i] for i in _named(request) if i in found and (i in held or found[i].is_live)]


def return_adopt(
    *, repos: Repositories, request: Request, machines: list[Machine], limit: int | None
) -> tuple[Request, list[Machine]]:
    """The continuation of a return: claim (one conditional write each) up to ``limit`` of the
    live hosts it names that no return holds, then record them as its own in one write. Safe to
    repeat after a crash at any point: a host claimed but not yet recorded is recorded next time."""
    if request.request_type != RequestType.RETURN or request.is_terminal or not request.other_hosts:
        return request, machines
    others = set(request.other_hosts)  # a set: a return may name 10,000 hosts
    waiting = [m for m in machines if m.machine_id in others and _unheld(request, m)]
    claimed = {}
    for machine in waiting[:limit]:
        if machine.return_request_id == request.request_id:
            claimed[machine.machine_id] = machine  # claimed by an earlier pass that died before recording
            continue
        stored = repos.machines.claim_for_return(machine.machine_id, request.request_id)
        if stored is not None:
            claimed[stored.machine_id] = stored
    if not claimed:
        return request, machines
    adopted = repos.requests.adopt_hosts(request, list(claimed))
    if adopted is None:
        adopted = repos.requests.get_by_id(request.request_id) or request
        if adopted.is_terminal:  # ended meanwhile: whoever ended it may not have seen these claims
            for machine_id in set(claimed) - set(adopted.machine_ids):
                repos.machines.release_claim(machine_id, request.request_id)
                claimed.pop(machine_id)
        # Still active: a racing pass recorded hosts first; these claims stand, the next
        # pass records them (a host claimed by this return and not yet recorded).
    return adopted, [claimed.get(m.machine_id, m) for m in machines]


def _unheld(request: Request, machine: Machine) -> bool:
    return machine.is_live and machine.return_request_id in (None, request.request_id)


def request_reconcile(
    *,
    repos: Repositories,
    request: Request,
    machines: list[Machine] | None = None,
    now: datetime | None = None,
    claim_limit: int | None = -1,
) -> Request:
    """Move an active request to the status its machines (and deadline) give it; the stored
    request. Safe under concurrency: the move is one atomic, transition-checked write; if
    another writer ended the request first, it is returned as that writer left it. A return
    first claims up to ``claim_limit`` more of its hosts (-1: HOSTFACTORY_RETURN_CLAIMS_PER_CALL;
    None: all), so a return of thousands is finished by its polls and the provisioner."""
    if request.is_terminal:
        return request
    now = now or utcnow()
    machines = request_machines(repos=repos, request=request) if machines is None else machines
    limit = settings.HOSTFACTORY_RETURN_CLAIMS_PER_CALL if claim_limit == -1 else claim_limit
    request, machines = return_adopt(repos=repos, request=request, machines=machines, limit=limit)
    if request.is_terminal:
        return request
    target = request_progress(request, machines, now)
    if target == request.status:
        return request
    message = progress_message(request, machines, target)
    try:
        return request_move(repos=repos, request=request, status=target, message=message, machines=machines)
    except InvalidTransition:  # ended meanwhile by someone else
        return repos.requests.get_by_id(request.request_id) or request


def request_move(
    *,
    repos: Repositories,
    request: Request,
    status: RequestStatus | str,
    message: str | None,
    machines: list[Machine] | None = None,
) -> Request:
    """One transition-checked status write (InvalidTransition when the table forbids it), then
    what the writer that ended the request owes:
    its capacity back (acquire), its hosts marked returned or, for a return that ended
    short, handed back so another return can take them."""
    moved = repos.requests.transition(request.request_id, status, message)
    if moved is None:
        raise NotFound(f"request {request.request_id!r} does not exist")
    before, after = moved
    if before.is_active and after.is_terminal:
        request_ended(repos=repos, request=after, machines=machines)
    return after


def request_ended(*, repos: Repositories, request: Request, machines: list[Machine] | None = None) -> None:
    """What the one writer that ended ``request`` does next (each step idempotent, so the
    sweeper or a retry may do it again without effect)."""
    if request.request_type == RequestType.ACQUIRE:
        capacity_release(repos=repos, request=request)
        return
    machines = request_machines(repos=repos, request=request) if machines is None else machines
    if request.status == RequestStatus.COMPLETE:
        for machine in machines:
            if machine.status == MachineStatus.TERMINATED and machine.return_request_id == request.request_id:
                with contextlib.suppress(InvalidTransition):  # moved on meanwhile
                    repos.machines.update_status(machine.machine_id, MachineStatus.RETURNED)
        return
    # Timed out, failed or cancelled with hosts still live: free them for the next return.
    for machine in machines:
        if machine.is_live and machine.return_request_id == request.request_id:
            repos.machines.release_claim(machine.machine_id, request.request_id)


def request_reconcile_by_id(*, repos: Repositories, request_id: str | None) -> Request | None:
    request = repos.requests.get_by_id(request_id) if request_id else None
    return request_reconcile(repos=repos, request=request) if request else None
