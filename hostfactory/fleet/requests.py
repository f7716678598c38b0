"""Creating and ending requests: an acquire request reserves its capacity before it exists;
a return request claims its hosts before it exists, so a return that is stored is whole."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from hostfactory.domain import utcnow
from hostfactory.errors import HostFactoryError, ReturnInFlight
from hostfactory.fleet.capacity import capacity_reserve
from hostfactory.fleet.progress import request_move, request_reconcile
from hostfactory.services import get_or_404
from machines_app.domain import Machine
from requests_app.domain import Request, RequestStatus, RequestType, new_request_id

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

NO_ACTIVE_VM = "No Active VM."
# Claims are independent one-item writes: a few at once cut a 100-host claim's latency to a
# fraction on DynamoDB (round trips overlap). Bounded per process.
_claimers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="return-claim")


def request_deadline(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.HOSTFACTORY_REQUEST_TIMEOUT)


def request_create_acquire(
    *, repos: Repositories, template_id: str, machine_count: int, requested_by: str = ""
) -> Request:
    """A pending acquire request, if the template exists, is enabled and has room: its hosts
    are reserved (one conditional write) before the request is written."""
    now = utcnow()
    request = Request(
        request_id=new_request_id(RequestType.ACQUIRE),
        request_type=RequestType.ACQUIRE,
        template_id=template_id,
        machine_count=machine_count,
        requested_by=requested_by,
        deadline=request_deadline(now),
    )  # validates template_id and machine_count before anything is written
    capacity_reserve(repos=repos, template_id=template_id, request_id=request.request_id, count=machine_count)
    try:
        return repos.requests.save(request)
    except HostFactoryError:
        # Give the hosts back now; if even that fails, the sweeper does once it is old enough.
        with contextlib.suppress(HostFactoryError):
            repos.templates.release_reservation(template_id, request.request_id, 0)
        raise


def request_create_return(
    *,
    repos: Repositories,
    machines: list[Machine],
    requested_by: str = "",
    now: datetime | None = None,
    asked_ids: list[str] | None = None,
) -> tuple[Request, list[Machine]]:
    """A return request for the live ``machines`` that no other return holds. Up to
    HOSTFACTORY_RETURN_CLAIMS_PER_CALL hosts are claimed first (one conditional write each),
    then the request is written naming the claimed ones and, as ``other_hosts``, every other
    asked host (``asked_ids``), so each asked host answers in its status and the hosts still to
    claim are claimed by its polls (return_adopt). Until the request exists its claims count as
    none, and if anything fails they are undone, so a failed call leaves no host stranded.
    Returns the request and the hosts it returns (claimed now or to claim)."""
    now = now or utcnow()
    request_id = new_request_id(RequestType.RETURN)
    unwritten = unwritten_claims(repos=repos, machines=machines)
    void = frozenset(m.return_request_id for m in machines if m.return_request_id in unwritten and _lapsed(m, now))
    free = [m for m in machines if m.is_live and (m.return_request_id is None or m.return_request_id in void)]
    claimed: list[Machine] = []
    try:
        _claim_all(repos, free[: settings.HOSTFACTORY_RETURN_CLAIMS_PER_CALL], request_id, void, claimed)
        # Hosts left to claim hold no unwritten claim (void ones stay for this call's chunk).
        later = [m for m in free[settings.HOSTFACTORY_RETURN_CLAIMS_PER_CALL :] if m.return_request_id is None]
        if not claimed and not later:
            _refuse_if_in_flight(machines, void, unwritten)
        ids = {m.machine_id for m in claimed}
        others = tuple(sorted({*(asked_ids or ()), *(m.machine_id for m in machines)} - ids))
        # What it returns: the hosts live now (a host not live now never comes back to life).
        live = {m.machine_id for m in machines if m.is_live} | ids
        request = repos.requests.save(
            Request(
                request_id=request_id,
                request_type=RequestType.RETURN,
                machine_count=len(live),
                machine_ids=tuple(sorted(ids)),
                other_hosts=others,
                requested_by=requested_by,
                deadline=request_deadline(now),
                message="" if claimed or later else NO_ACTIVE_VM,
            )
        )
    except HostFactoryError:
        with contextlib.suppress(HostFactoryError):
            for machine in claimed:
                repos.machines.release_claim(machine.machine_id, request_id)
        raise
    # Its hosts as just read and claimed: no re-read, and no more claims in this call.
    waiting = set(others)  # a set: 10,000 hosts
    known = [*claimed, *(m for m in machines if m.machine_id in waiting and m.is_live)]
    request = request_reconcile(repos=repos, request=request, machines=known, now=now, claim_limit=0)
    return request, [*claimed, *later]


def _claim_all(repos: Repositories, machines: list[Machine], request_id: str, void: frozenset, claimed: list) -> None:
    """Claim each machine (independent conditional writes, several at once), appending what
    was claimed to ``claimed`` even when one fails, so the caller can undo every claim made;
    the first failure is raised once all have ended."""
    futures = [
        _claimers.submit(copy_context().run, repos.machines.claim_for_return, m.machine_id, request_id, void)
        for m in machines
    ]
    failure = None
    for future in futures:
        try:
            stored = future.result()
        except HostFactoryError as error:
            failure = failure or error
            continue
        if stored is not None:
            claimed.append(stored)
    if failure is not None:
        raise failure


def claim_lease() -> timedelta:
    return timedelta(seconds=settings.HOSTFACTORY_RETURN_CLAIM_SECONDS)


def unwritten_claims(*, repos: Repositories, machines: list[Machine]) -> frozenset[str]:
    """The return ids among the machines' claims whose return request does not exist (a
    consistent batch read of the claiming returns)."""
    claims = {m.return_request_id for m in machines if m.return_request_id}
    if not claims:
        return frozenset()
    existing = {request.request_id for request in repos.requests.get_many(sorted(claims))}
    return frozenset(claims - existing)


def void_claims(*, repos: Repositories, machines: list[Machine], now: datetime | None = None) -> frozenset[str]:
    """Claims that hold nothing: their return request was never written and their lease (as
    long as any call may run) is over, so the call that made them is dead."""
    now = now or utcnow()
    unwritten = unwritten_claims(repos=repos, machines=machines)
    return frozenset(m.return_request_id for m in machines if m.return_request_id in unwritten and _lapsed(m, now))


def _lapsed(machine: Machine, now: datetime) -> bool:
    return machine.updated_at is not None and now - machine.updated_at > claim_lease()


def _refuse_if_in_flight(machines: list[Machine], void: frozenset[str], unwritten: frozenset[str]) -> None:
    """Hosts held only by returns not yet written (and not void) are being returned by a call
    still running, or were left by one that failed a moment ago: never answer "No Active VM."
    for them (Host Factory would drop the host); ask for a retry instead."""
    held = [m for m in machines if m.is_live and m.return_request_id in unwritten and m.return_request_id not in void]
    if held:
        seconds = int(claim_lease().total_seconds())
        names = ", ".join(m.machine_id for m in held[:5])
        raise ReturnInFlight(
            f"hosts {names} are held by a return not written yet (a call in progress, or one that failed "
            f"moments ago); retry within {seconds} s"
        )


def request_set_status(
    *, repos: Repositories, request_id: str, status: RequestStatus | str, message: str | None = None
) -> Request:
    """An operator's or tool's status change; the transition table is enforced, and a request
    it ends gives back its capacity (or its hosts) at once."""
    current = get_or_404(repos.requests, request_id)
    wanted = current.with_status(status, utcnow(), message)  # the table, and a final request's rule
    if wanted.status == current.status and wanted.message == current.message:
        return current  # the allowed no-op
    return request_move(repos=repos, request=current, status=wanted.status, message=message)


def request_cancel(*, repos: Repositories, request_id: str, message: str = "Cancelled by an operator.") -> Request:
    return request_set_status(repos=repos, request_id=request_id, status=RequestStatus.CANCELLED, message=message)
