"""The capacity ledger (docs/storage-design.md, "Capacity").

A template's ``used`` counts its live machines plus the not-yet-launched part of its active
acquire requests. It moves only together with the write that causes the move:

- an acquire request reserves its whole count before it is written (``capacity_reserve``);
- a machine registered for an active request takes one of the request's reserved hosts:
  the ledger does not move;
- a machine that stops living gives its host back, once, by the writer that won its status
  change (``capacity_follow_machine``), and one that lives again takes it back;
- a request that ends gives back what it reserved and did not launch, once: the
  reservation, keyed by request id, is removed in the same write (``capacity_release``);
- what a crash between two writes can leave (a reservation whose request was never
  written, a request ended before its release) is found by ``capacity_sweep``, which every
  provision and sync pass runs; ``capacity_recount`` rebuilds every ledger from the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hostfactory.domain import fail, utcnow
from hostfactory.errors import VersionConflict
from machines_app.domain import Machine
from requests_app.domain import Request, RequestType
from templates_app.domain import Reservation, Template, Usage

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

# A reservation is written just before its request; one older than this whose request does
# not exist was left by a call that died between the two writes.
ORPHAN_AFTER = timedelta(minutes=2)
RESERVE_ATTEMPTS = 5


def capacity_reserve(*, repos: Repositories, template_id: str, request_id: str, count: int) -> Template:
    """Reserve ``count`` hosts of the template for the request about to be written, in one
    conditional write that fails when it would pass ``maxNumber``. Errors name the field."""
    for _attempt in range(RESERVE_ATTEMPTS):
        template = repos.templates.get_by_id(template_id) if isinstance(template_id, str) else None
        if template is None:
            fail("template_id", f"unknown template {template_id!r}")
        if not template.enabled:
            fail("template_id", f"template {template_id!r} is disabled")
        if repos.templates.reserve(template, request_id, count):
            return template
        usage = repos.templates.usage(template_id) or Usage()
        available = usage.available(template)
        if available is not None and count > available:
            fail(
                "machine_count",
                f"must be at most {available} (available for template {template_id!r}), got {count}",
            )
        # The template changed between the read and the write (edited, disabled): read again.
    fail("template_id", f"template {template_id!r} kept changing; try again")


def capacity_release(*, repos: Repositories, request: Request) -> bool:
    """An acquire request has ended: give back the hosts it reserved and did not launch.
    Exactly once, whoever calls it (the reservation is removed in the same write)."""
    if request.request_type != RequestType.ACQUIRE or request.is_active:
        return False
    return repos.templates.release_reservation(
        request.template_id, request.request_id, len(request.machine_ids), reserved=request.machine_count
    )


def capacity_follow_machine(*, repos: Repositories, before: Machine | None, after: Machine | None) -> None:
    """The ledger's share of one machine write, made by the writer whose write it was: a
    machine that stopped living gives its host back; one that lives again takes it."""
    delta = int(after is not None and after.is_live) - int(before is not None and before.is_live)
    if delta:
        template_id = (after or before).template_id
        repos.templates.add_usage(template_id, delta)


def templates_available(*, repos: Repositories) -> dict[str, int]:
    """How many more hosts each limited template may give, from the ledgers: one read of the
    templates table, whatever the size of the fleet."""
    return {
        template.template_id: usage.available(template)
        for template, usage in repos.templates.get_all_with_usage()
        if not template.is_unlimited
    }


@dataclass
class SweepReport:
    released: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.released)} stale reservations released"


def capacity_sweep(*, repos: Repositories, now: datetime | None = None) -> SweepReport:
    """Release every reservation whose request has ended, or was never written (older than
    ``ORPHAN_AFTER``). Reads the templates and the few requests holding reservations."""
    now = now or utcnow()
    report = SweepReport()
    for template, usage in repos.templates.get_all_with_usage():
        if not usage.reservations:
            continue
        stored = {request.request_id: request for request in repos.requests.get_many(list(usage.reservations))}
        for request_id, reservation in usage.reservations.items():
            request = stored.get(request_id)
            if _stale(request, reservation, now):
                launched = len(request.machine_ids) if request else 0
                if repos.templates.release_reservation(template.template_id, request_id, launched):
                    report.released.append(f"{template.template_id}: {request_id}")
    return report


def _stale(request: Request | None, reservation: Reservation, now: datetime) -> bool:
    if request is None:
        return now - reservation.at > ORPHAN_AFTER
    return request.is_terminal


@dataclass(frozen=True)
class Difference:
    template_id: str
    stored: Usage
    counted: Usage

    def describe(self) -> str:
        text = f"{self.template_id}: used {self.stored.used} -> {self.counted.used}"
        gone = sorted(set(self.stored.reservations) - set(self.counted.reservations))
        added = sorted(set(self.counted.reservations) - set(self.stored.reservations))
        if gone:
            text += f"; reservations dropped: {', '.join(gone)}"
        if added:
            text += f"; reservations added: {', '.join(added)}"
        return text


def capacity_count(*, repos: Repositories, now: datetime | None = None) -> dict[str, Usage]:
    """Every template's ledger as the stored machines and requests say it should be: live
    machines, plus each active acquire request's unlaunched part (reserved under its id).
    Reads every request and machine once (consistent paged scans): a repair, not a hot path."""
    now = now or utcnow()
    # Requests first, then machines: a machine registered in between is then counted twice
    # (over, the safe side), never missed. Both are consistent scans, no index.
    active = [r for r in repos.requests.get_all() if r.is_active and r.request_type == RequestType.ACQUIRE]
    live: dict[str, int] = {}
    for machine in repos.machines.get_all():
        if machine.is_live:
            live[machine.template_id] = live.get(machine.template_id, 0) + 1
    counted: dict[str, Usage] = {}
    for template, _usage in repos.templates.get_all_with_usage():
        mine = [request for request in active if request.template_id == template.template_id]
        counted[template.template_id] = Usage(
            used=live.get(template.template_id, 0) + sum(request.unlaunched for request in mine),
            reservations={r.request_id: Reservation(count=r.machine_count, at=now) for r in mine},
        )
    return counted


def capacity_recount(*, repos: Repositories, dry_run: bool = False) -> list[Difference]:
    """Rebuild the ledgers from the truth and return every difference (fixed unless
    ``dry_run``). A ledger that moved while it was counted is counted again."""
    differences = []
    for _attempt in range(3):
        stored = {template.template_id: usage for template, usage in repos.templates.get_all_with_usage()}
        counted = capacity_count(repos=repos)
        moved = []
        for template_id, usage in counted.items():
            current = stored.get(template_id, Usage())
            if _same(current, usage):
                continue
            if not dry_run and not repos.templates.set_usage(template_id, _keep_times(current, usage), current.seq):
                moved.append(template_id)
                continue
            differences.append(Difference(template_id, current, usage))
        if not moved:
            return differences
    raise VersionConflict(
        f"capacity of {', '.join(moved)} kept moving while it was counted; run recount_capacity again"
    )


def _same(stored: Usage, counted: Usage) -> bool:
    return stored.used == counted.used and set(stored.reservations) == set(counted.reservations)


def _keep_times(stored: Usage, counted: Usage) -> Usage:
    """Reservations that were already there keep their time (the sweeper's clock)."""
    reservations = {key: stored.reservations.get(key, value) for key, value in counted.reservations.items()}
    return Usage(used=counted.used, reservations=reservations)
