"""The triage panels of the admin index: what an operator comes to find out.

- each template's capacity: live hosts, hosts reserved by active requests, its limit;
- active requests waiting longer than expected or close to their deadline;
- machines being returned (live machines an active return holds), with that return;
- machines lost outside Host Factory (stopped, terminated or failed with no return);
- the last successful provision and sync pass, and live machines over 24 hours (passes.py).

Each panel reads only what it shows, so its cost grows with its answer, never with the
fleet: the capacity ledgers (one read of the small templates table), the active requests
(the status index, then the requests themselves), the machines the active returns name (one
batch read per 100), the machines in the lost statuses (the status index), and the pass
records (two key reads and a query of at most 144 records). Read once and
cached briefly, so a busy index page does not repeat it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from hostfactory.admin.passes import LiveChart, PassAge, live_chart, pass_ages
from hostfactory.domain import utcnow
from hostfactory.fleet.progress import requests_with_machines
from hostfactory.storage import current_config, get_repositories
from machines_app.domain import LOST_STATUSES, Machine
from requests_app.domain import ACTIVE_STATUSES, Request, RequestType

CACHE_SECONDS = 10
# A request is late once it has waited more than this share of its time (created to
# deadline), and close to its deadline once less than this share is left.
LATE_SHARE = 0.5
NEAR_DEADLINE_SHARE = 0.1
LOST_SHOWN = 50  # rows of the lost panel; the count covers all of them


@dataclass(frozen=True)
class TemplateCapacity:
    template_id: str
    live: int
    reserved: int
    max_number: int  # -1: unlimited

    @property
    def used(self) -> int:
        return self.live + self.reserved

    @property
    def over_limit(self) -> bool:
        """``maxNumber`` was lowered below use: new requests wait until use drops."""
        return self.max_number >= 0 and self.used > self.max_number

    @property
    def bar(self) -> tuple[float, float]:
        """Widths (percent of the bar) of the live and the reserved part: of the limit, or
        of the use when the template is unlimited or over its limit."""
        scale = max(self.max_number, self.used, 1) if self.max_number >= 0 else max(self.used, 1)
        return 100 * self.live / scale, 100 * self.reserved / scale


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int


@dataclass(frozen=True)
class WaitingRequest:
    """An active request past ``LATE_SHARE`` of its time or within ``NEAR_DEADLINE_SHARE``
    of its deadline (``flag`` says which: "late", "near deadline", "past deadline")."""

    request: Request
    age: timedelta
    left: timedelta
    flag: str


@dataclass(frozen=True)
class ReturningMachine:
    machine: Machine
    return_request: Request


@dataclass(frozen=True)
class FleetCounts:
    templates: list[TemplateCapacity]
    requests: list[StatusCount]
    waiting: list[WaitingRequest]
    returning: list[ReturningMachine]
    lost: list[Machine]
    lost_count: int
    passes: list[PassAge]
    chart: LiveChart
    read_at: datetime


def fleet_counts() -> FleetCounts:
    """The triage panels, at most ``CACHE_SECONDS`` old."""
    key = "hostfactory:admin:fleet:" + hashlib.sha256(repr(current_config().key).encode()).hexdigest()[:16]
    counts = cache.get(key)
    if counts is None:
        counts = _count(utcnow())
        cache.set(key, counts, CACHE_SECONDS)
    return counts


def _count(now: datetime) -> FleetCounts:
    repos = get_repositories()
    active = repos.requests.get_active_requests()
    lost = _lost(repos)
    return FleetCounts(
        templates=_capacity(repos, active),
        requests=[StatusCount(s.value, sum(1 for r in active if r.status == s)) for s in ACTIVE_STATUSES],
        waiting=waiting_requests(active, now),
        returning=_returning(repos, active),
        lost=lost[:LOST_SHOWN],
        lost_count=len(lost),
        passes=pass_ages(repos.history, now),
        chart=live_chart(repos.history, now),
        read_at=now,
    )


def _capacity(repos, active: list[Request]) -> list[TemplateCapacity]:
    unlaunched: dict[str, int] = {}
    for request in active:
        if request.request_type == RequestType.ACQUIRE:
            unlaunched[request.template_id] = unlaunched.get(request.template_id, 0) + request.unlaunched
    return [
        TemplateCapacity(
            template_id=template.template_id,
            live=max(0, usage.used - unlaunched.get(template.template_id, 0)),
            reserved=unlaunched.get(template.template_id, 0),
            max_number=template.max_number,
        )
        for template, usage in repos.templates.get_all_with_usage()
    ]


def waiting_requests(active: list[Request], now: datetime) -> list[WaitingRequest]:
    """The active requests that need a look, the nearest deadline first."""
    default_time = timedelta(seconds=settings.HOSTFACTORY_REQUEST_TIMEOUT)
    found = []
    for request in active:
        created = request.created_at or now
        deadline = request.deadline or created + default_time
        allowed = max(deadline - created, timedelta(seconds=1))
        age, left = now - created, deadline - now
        if left <= timedelta(0):
            flag = "past deadline"
        elif left < allowed * NEAR_DEADLINE_SHARE:
            flag = "near deadline"
        elif age > allowed * LATE_SHARE:
            flag = "late"
        else:
            continue
        found.append(WaitingRequest(request, age, left, flag))
    return sorted(found, key=lambda waiting: (waiting.left, waiting.request.request_id))


def _returning(repos, active: list[Request]) -> list[ReturningMachine]:
    returns = [request for request in active if request.request_type == RequestType.RETURN]
    return [
        ReturningMachine(machine, request)
        for request, machines in requests_with_machines(repos=repos, requests=returns)
        for machine in machines
        if machine.is_live and machine.return_request_id == request.request_id
    ]


def _lost(repos) -> list[Machine]:
    """Machines gone outside Host Factory: what getReturnRequests hands back with grace 0."""
    found = [m for status in sorted(LOST_STATUSES) for m in repos.machines.get_by_status(status)]
    lost = [machine for machine in found if machine.return_request_id is None]
    return sorted(lost, key=lambda machine: machine.updated_at or machine.created_at or utcnow(), reverse=True)
