"""The fleet at a glance on the admin index: each template's capacity (live hosts, hosts
reserved by active requests, its limit) and the active requests.

Read from the capacity ledgers (one read of the small templates table) and the active
requests (the status index, then the requests themselves): the cost does not grow with the
number of machines. Cached briefly so a busy index page does not repeat it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache

from hostfactory.storage import current_config, get_repositories
from requests_app.domain import ACTIVE_STATUSES, RequestType

CACHE_SECONDS = 10


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


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int


@dataclass(frozen=True)
class FleetCounts:
    templates: list[TemplateCapacity]
    requests: list[StatusCount]


def fleet_counts() -> FleetCounts:
    """Capacity per template and active requests, at most ``CACHE_SECONDS`` old."""
    key = "hostfactory:admin:fleet:" + hashlib.sha256(repr(current_config().key).encode()).hexdigest()[:16]
    counts = cache.get(key)
    if counts is None:
        counts = _count()
        cache.set(key, counts, CACHE_SECONDS)
    return counts


def _count() -> FleetCounts:
    repos = get_repositories()
    active = repos.requests.get_active_requests()
    unlaunched: dict[str, int] = {}
    for request in active:
        if request.request_type == RequestType.ACQUIRE:
            unlaunched[request.template_id] = unlaunched.get(request.template_id, 0) + request.unlaunched
    templates = [
        TemplateCapacity(
            template_id=template.template_id,
            live=max(0, usage.used - unlaunched.get(template.template_id, 0)),
            reserved=unlaunched.get(template.template_id, 0),
            max_number=template.max_number,
        )
        for template, usage in repos.templates.get_all_with_usage()
    ]
    requests = [StatusCount(s.value, sum(1 for r in active if r.status == s)) for s in ACTIVE_STATUSES]
    return FleetCounts(templates=templates, requests=requests)
