"""The cost figures of issue 11 point 6, each with its target: what one Host Factory
operation, admin page or background pass costs in DynamoDB calls, items read and capacity
units on a seeded fleet, and its median wall time (shown, never judged).

A figure is measured once under the call counter (after a warm-up for reads), then timed
``repeat`` times; figures that write take a fresh subject each time (another machine, another
return) and undo what they did outside the measured call, so the fleet stays as it was.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache

from bench.cloud import SteadyCloud
from bench.fleet import LIMITED_TEMPLATE, MACHINES_PER_REQUEST, Fleet
from bench.metering import metered
from hostfactory.admin.dashboard import fleet_counts
from hostfactory.fleet.requests import request_cancel
from hostfactory.hostfactory_api.services import (
    hf_get_available_templates,
    hf_get_request_status,
    hf_request_machines,
    hf_request_return_machines,
)
from hostfactory.providers.aws.sync import machines_sync
from hostfactory.providers.services import provision_run
from machines_app.domain import MachineStatus
from machines_app.storage.dynamodb import STATUS_SHARD_INDEX
from tests.support.dynamodb_calls import DynamoCalls

POLL_SIZES = (1, 50, 100)
RETURN_SIZES = (1, 100, 1000)
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
READS_BY_KEY = ("GetItem", "BatchGetItem")


@dataclass
class Cost:
    """One measured call: what DynamoDB did (None on memory), what the answer held."""

    calls: Counter = field(default_factory=Counter)
    items_read: int = 0
    index_reads: Counter = field(default_factory=Counter)
    index_items: Counter = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0

    @classmethod
    def of(cls, counted: DynamoCalls) -> Cost:
        return cls(
            Counter(counted.calls),
            counted.items_read,
            Counter(counted.reads_by_index),
            Counter(counted.items_by_index),
            counted.read_units,
            counted.write_units,
        )

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(self.calls[name] for name in WRITES)

    @property
    def by_key(self) -> int:
        return sum(self.calls[name] for name in READS_BY_KEY)


@dataclass
class Row:
    figure: str
    target: str
    backend: str
    shape: str
    fleet: int
    live: int
    answered: int
    ms: float
    cost: Cost | None
    verdict: str  # "ok", "MISS: why", or "-" (memory: nothing counted; ratios judge it)
    flat: bool = False  # judged by its ratio across fleet sizes too


@dataclass
class Figure:
    name: str
    target: str
    call: Callable[[Any], int]  # one operation on a subject; returns what its answer holds
    check: Callable[[Cost, int], str | None] | None = None  # why it misses, or None
    subject: Callable[[int], Any] = lambda i: None  # the i-th repetition's subject (not measured)
    undo: Callable[[Any, Any], None] | None = None  # after each call (not measured)
    reads_only: bool = True  # warmed up first
    heavy: bool = False  # seconds a call at 100k: measured once, not warmed up
    flat: bool = False


def measure(figure: Figure, *, repeat: int, repos, backend: str, shape: str, fleet: Fleet) -> Row:
    if figure.heavy or repeat == 1:
        repeat = 1
    elif figure.reads_only:
        figure.call(figure.subject(0))
    times, cost, answered = [], None, 0
    for i in range(repeat):
        subject = figure.subject(i)
        with metered(repos) as counted:
            started = time.perf_counter()
            result = figure.call(subject)
            times.append((time.perf_counter() - started) * 1000)
        if i == 0:
            answered = result if isinstance(result, int) else result[0]
            cost = Cost.of(counted) if counted is not None else None
        if figure.undo:
            figure.undo(subject, result)
    why = figure.check(cost, answered) if cost is not None and figure.check else None
    verdict = "-" if cost is None else f"MISS: {why}" if why else "ok"
    return Row(
        figure.name,
        figure.target,
        backend,
        shape,
        len(fleet.machines),
        len(fleet.live),
        answered,
        statistics.median(times),
        cost,
        verdict,
        figure.flat,
    )


# -- the figures ------------------------------------------------------------------------


def figures(repos, fleet: Fleet) -> list[Figure]:
    active = [r for r in fleet.requests if r.is_active]
    pending = [m for m in fleet.machines if m.status == MachineStatus.PENDING]
    poll_ids = [r.request_id for r in active] + [r.request_id for r in fleet.requests if not r.is_active]
    states = {m.machine_id: m.status.value for m in fleet.live}
    cloud = SteadyCloud(states)
    # Hosts to give back: live ones first (those of finished requests, so the polled ones
    # keep theirs as long as possible), then returned ones (answered "gone").
    polled = {r.request_id for r in active}
    hosts = sorted(fleet.machines, key=lambda m: (not m.is_live, m.request_id in polled))
    found = [
        *[poll_figure(repos, poll_ids[:k], MACHINES_PER_REQUEST * k) for k in POLL_SIZES if k <= len(poll_ids)],
        Figure(
            "getAvailableTemplates",
            "calls and items flat (10k/1k < 1.2)",
            lambda _: len(hf_get_available_templates(repos=repos)["templates"]),
            lambda c, n: None if c.items_read == n else f"{c.items_read} items read for {n} templates",
            flat=True,
        ),
        Figure(
            "admin dashboard (fleet_counts)",
            "calls and items flat (10k/1k < 1.2)",
            dashboard,
            check_dashboard,
            flat=True,
        ),
        Figure(
            "provision pass, without its sync",
            "calls and items flat (10k/1k < 1.2); no write in a steady fleet",
            lambda _: provision_pass(repos, cloud, len(active)),
            lambda c, n: None if c.writes == 0 else f"{c.writes} writes in a steady fleet",
            flat=True,
            heavy=True,
        ),
        Figure(
            "sync_machines pass",
            "each live machine read once, in pages; nothing else per machine",
            lambda _: machines_sync(repos=repos, ec2=cloud.ec2).checked,
            check_sync,
            heavy=True,
        ),
        Figure(
            "machine status change",
            "1 write call, <= 3 WCU",
            lambda machine: repos.machines.update_status(machine.machine_id, MachineStatus.RUNNING) and 1,
            check_status_change,
            subject=lambda i: pending[1 + i],  # the first pending machine's request is polled moving
            reads_only=False,
        ),
        moving_poll_figure(repos, active[0].request_id, pending[0].machine_id),
        *[return_figure(repos, hosts[:n]) for n in RETURN_SIZES],
        Figure(
            "requestMachines (limited template)",
            "<= 3 calls at every fleet size",
            lambda _: 1 if hf_request_machines(repos=repos, template_id=LIMITED_TEMPLATE, machine_count=1) else 0,
            lambda c, n: None if c.total <= 3 else f"{c.total} calls",
            reads_only=False,
        ),
    ]
    return found


def poll_figure(repos, ids: list[str], machines: int = 0) -> Figure:
    """getRequestStatus of ``ids``, whose requests name ``machines`` machines in all."""
    k = len(ids)
    most = k + math.ceil(k / 100)  # the target
    design = math.ceil(k / 100) + math.ceil(machines / 100)  # docs/storage-design.md

    def call(_subject) -> int:
        answer = hf_get_request_status(repos=repos, request_ids=ids)["requests"]
        return len(answer) + sum(len(entry["machines"]) for entry in answer)

    def check(cost: Cost, answered: int) -> str | None:
        misses = []
        if cost.total > most:
            misses.append(f"{cost.total} calls > {most}")
        elif cost.total > design:
            misses.append(f"{cost.total} calls, above the design's {design}")
        if cost.index_reads:
            misses.append(f"index reads {dict(cost.index_reads)}")
        if cost.items_read != answered:
            misses.append(f"{cost.items_read} items read for {answered} answered")
        if cost.writes:
            misses.append(f"{cost.writes} writes in a steady fleet")
        return "; ".join(misses) or None

    return Figure(
        f"getRequestStatus({k})",
        f"<= k + ceil(k/100) = {most} calls (design: ceil(k/100) + ceil(m/100) = {design}); "
        "0 index reads; items read = answered",
        call,
        check,
    )


def moving_poll_figure(repos, request_id: str, last_pending: str) -> Figure:
    """A poll right after the request's last host started: it completes the request."""

    def subject(i: int) -> str | None:
        if i == 0:
            repos.machines.update_status(last_pending, MachineStatus.RUNNING)
        return None

    def check(cost: Cost, answered: int) -> str | None:
        reads = math.ceil(1 / 100) + math.ceil(MACHINES_PER_REQUEST / 100)
        if cost.writes > 2 or cost.by_key != reads or cost.total != cost.writes + reads:
            return f"{cost.writes} writes and {cost.total - cost.writes} reads: want <= 2 writes and {reads} reads"
        return None

    def call(_subject) -> int:
        entry = hf_get_request_status(repos=repos, request_ids=[request_id])["requests"][0]
        return 1 + len(entry["machines"])

    return Figure(
        "getRequestStatus(1), the poll that completes it",
        "<= 2 writes per moved request; no re-read",
        call,
        check,
        subject=subject,
        reads_only=False,
    )


def return_figure(repos, machines: list) -> Figure:
    n = len(machines)
    machine_ids = [m.machine_id for m in machines]
    claims = sum(1 for m in machines if m.is_live)

    def call(_subject) -> tuple[int, str]:
        answer = hf_request_return_machines(repos=repos, hosts=[{"machineId": i} for i in machine_ids])
        return n, answer["requestId"]

    def check(cost: Cost, answered: int) -> str | None:
        misses = []
        if cost.calls["BatchGetItem"] > math.ceil(n / 100):
            misses.append(f"{cost.calls['BatchGetItem']} batch reads > {math.ceil(n / 100)}")
        if cost.index_reads:
            misses.append(f"index reads {dict(cost.index_reads)}")
        if cost.writes > claims + 2 or cost.total - cost.writes - cost.by_key:
            misses.append(f"{cost.writes} writes for {claims} live hosts; other calls {dict(cost.calls)}")
        return "; ".join(misses) or None

    return Figure(
        f"requestReturnMachines({n}), {claims} live",
        f"<= ceil(n/100) = {math.ceil(n / 100)} batch reads; 1 conditional write per live host",
        call,
        check,
        # Cancelled after each call, so its hosts can be given back again; the largest
        # return is the last one to use them.
        undo=(lambda _subject, result: request_cancel(repos=repos, request_id=result[1]))
        if n < RETURN_SIZES[-1]
        else None,
        reads_only=False,
        heavy=n >= 100,
    )


def dashboard(_subject) -> int:
    cache.clear()  # fleet_counts keeps its answer 10 s: measure the read, not the cache
    counts = fleet_counts()
    return len(counts.templates) + sum(status.count for status in counts.requests)


def provision_pass(repos, cloud: SteadyCloud, active: int) -> int:
    """A provision pass over the ``active`` requests, without its sync (a figure of its own:
    bench/cloud.py). A step that failed is a broken bench."""
    report = provision_run(repos=repos, provider=cloud)
    if report.errors:
        raise RuntimeError(f"provision pass failed: {report.errors[:3]}")
    return active


def check_dashboard(cost: Cost, _answered: int) -> str | None:
    """The dashboard lists the machines that need an operator (lost ones: none in this
    fleet); any machine it reads here is one that needs nothing."""
    read = cost.index_items[STATUS_SHARD_INDEX]
    if cost.calls["Scan"] > 1 or read:
        return f"{cost.calls['Scan']} scans, {read} machines read from {STATUS_SHARD_INDEX}"
    return None


def check_sync(cost: Cost, live: int) -> str | None:
    misses = []
    read = cost.index_items[STATUS_SHARD_INDEX]
    if read != live:
        misses.append(f"{read} machines read from {STATUS_SHARD_INDEX} for {live} live")
    if cost.writes:
        misses.append(f"{cost.writes} writes in a steady fleet")
    return "; ".join(misses) or None


def check_status_change(cost: Cost, _answered: int) -> str | None:
    if cost.total != 1 or cost.writes != 1 or cost.write_units > 3:
        return f"{dict(cost.calls)}, {cost.write_units:g} WCU"
    return None
