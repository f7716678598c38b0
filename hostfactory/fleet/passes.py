"""The record each provision and sync pass leaves: when it ended, whether it succeeded, and
what it counted on the way (the console's "last pass" panel and 24-hour chart, and the
metrics' gauges, read these records: never the fleet)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hostfactory.domain import utcnow
from hostfactory.storage.history import PassRecord

if TYPE_CHECKING:
    from hostfactory.storage import Repositories


def machine_counts(live: Iterable[Any], changes: Iterable[Any] = ()) -> dict[str, dict[str, int]]:
    """Live machines by status and template, as the pass left them (``changes``: the moves it
    made, each with ``machine_id`` and ``target``)."""
    moved = {change.machine_id: change.target for change in changes}
    counts: Counter = Counter()
    for machine in live:
        status = moved.get(machine.machine_id, machine.status)
        counts[(str(getattr(status, "value", status)), machine.template_id)] += 1
    return nested(counts)


def request_counts(requests: Iterable[Any]) -> dict[str, dict[str, int]]:
    counts = Counter((request.status.value, request.request_type.value) for request in requests)
    return nested(counts)


def nested(counts: Counter) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for (outer, inner), number in sorted(counts.items()):
        result.setdefault(outer, {})[inner] = number
    return result


def record_pass(repos: Repositories, name: str, *, errors: int, machines: dict, requests: dict) -> PassRecord:
    record = PassRecord(name=name, at=utcnow(), ok=errors == 0, machines=machines, requests=requests, errors=errors)
    repos.history.record_pass(record)
    return record
