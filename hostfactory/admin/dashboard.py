"""The fleet at a glance on the admin index: requests and machines counted by status.

Each count is one index query per status (the status index of both tables), never a scan;
the result is cached briefly so a busy index page does not repeat them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache

from hostfactory.storage import current_config, get_repositories
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus

CACHE_SECONDS = 10


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int


@dataclass(frozen=True)
class FleetCounts:
    requests: list[StatusCount]
    machines: list[StatusCount]


def fleet_counts() -> FleetCounts:
    """Counts by status, at most ``CACHE_SECONDS`` old."""
    key = "hostfactory:admin:fleet:" + hashlib.sha256(repr(current_config().key).encode()).hexdigest()[:16]
    counts = cache.get(key)
    if counts is None:
        repos = get_repositories()
        counts = FleetCounts(
            requests=[StatusCount(s.value, len(repos.requests.get_by_status(s))) for s in RequestStatus],
            machines=[StatusCount(s.value, len(repos.machines.get_by_status(s))) for s in MachineStatus],
        )
        cache.set(key, counts, CACHE_SECONDS)
    return counts
