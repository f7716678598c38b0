"""Storage benchmark: cost of the hot lookups as the fleet grows, on each backend, beside
the original design's way (a full scan with a filter) on the same data.

    .venv/bin/python -m bench.storage_bench            # memory 1k/10k/100k, moto and dynalite 1k/10k
    .venv/bin/python -m bench.storage_bench --quick    # smaller fleets, for a smoke run
    .venv/bin/python -m bench.storage_bench --backends memory

Prints Markdown tables. Wall times are medians of repeated calls after one warm-up call; for
DynamoDB, the calls made and the items read by one call are counted with a botocore event
hook on the repositories' own client (items read: what DynamoDB bills reads for, and what
grows with the table when a lookup scans).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
for key, value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "HOSTFACTORY_SLOW_STORAGE_MS": "600000",  # a scan of 100k is slow on purpose; no warnings
}.items():
    os.environ.setdefault(key, value)

import django  # noqa: E402

django.setup()

from bench.fleet import Fleet, build_fleet, load  # noqa: E402
from hostfactory.hostfactory_api.services import hf_get_request_status  # noqa: E402
from hostfactory.storage import Repositories, build_repositories  # noqa: E402
from hostfactory.storage.config import StorageConfig  # noqa: E402
from hostfactory.storage.memory import detached  # noqa: E402
from tests.support.dynalite import DynaliteServer, find_dynalite  # noqa: E402
from tests.support.dynamodb_calls import count_dynamodb_calls  # noqa: E402

SIZES = {"memory": [1_000, 10_000, 100_000], "moto": [1_000, 10_000], "dynalite": [1_000, 10_000]}
QUICK_SIZES = {"memory": [1_000, 5_000], "moto": [500, 1_000], "dynalite": [500, 1_000]}
REPEAT = {"memory": 51, "moto": 5, "dynalite": 7}
HF_REQUESTS = 50
# The original way of getRequestStatus scans the machines table once per request: on
# DynamoDB it is timed on this many requests and scaled to 50 (items read are exact).
HF_SCAN_SAMPLE = 5
FLAT_MEMORY_RATIO = 2.0  # the target: 100k/1k under 2


@dataclass
class Row:
    backend: str
    fleet: int
    operation: str
    ms: float
    returned: int
    calls: str = "-"
    items_read: int | None = None
    scan_ms: float | None = None
    scan_read: int | None = None
    scan_estimated: bool = False


@dataclass
class Operation:
    name: str
    call: Callable[[], object]  # the service's way
    scan: Callable[[], int]  # the original way; returns the items it read
    count: Callable[[object], int]  # aggregates in the answer


# -- backends and data ------------------------------------------------------------------


@contextlib.contextmanager
def backend(kind: str) -> Iterator[Callable[[], Repositories]]:
    """Yields a factory of fresh, empty repositories on ``kind``."""
    if kind == "memory":
        yield lambda: build_repositories(StorageConfig(type="memory"))
        return
    server = mock = None
    if kind == "moto":
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
        host = None
    elif kind == "dynalite":
        binary = find_dynalite()
        if binary is None:
            sys.exit("dynalite is not installed: run 'make node' (npm ci) first")
        server = DynaliteServer(binary)
        server.start()
        host = server.endpoint
    else:
        sys.exit(f"unknown backend {kind!r}: choose among memory, moto, dynalite")
    try:

        def fresh() -> Repositories:
            suffix = uuid.uuid4().hex[:8]
            tables = {name: f"bench-{name}-{suffix}" for name in ("templates", "requests", "machines")}
            repos = build_repositories(StorageConfig(type="dynamodb", host=host, tables=tables))
            for repo in repos.all():
                repo.create_table()
            return repos

        yield fresh
    finally:
        if mock:
            mock.stop()
        if server:
            server.stop()


# -- the original design's way ----------------------------------------------------------


def memory_scan(repo, keep: Callable[[object], bool]) -> Callable[[], int]:
    """Walk every stored aggregate and copy the matches out, as the memory backend's index
    path copies its answers: the only difference left is the walk."""

    def scan() -> int:
        every = list(repo._items.values())
        [detached(entity) for entity in every if keep(entity)]
        return len(every)

    return scan


def dynamodb_scan(repo, condition_of: Callable[[object], object]) -> Callable[[], int]:
    """A Scan of the whole table with a filter expression (every page), as the original
    design's DynamoDB repository does; returns the items DynamoDB read."""

    def scan() -> int:
        results = repo.model.scan(filter_condition=condition_of(repo.model))
        for item in results:
            repo.from_item(item)
        return results.page_iter.total_scanned_count

    return scan


def original(kind: str, repo, field: str, values: list[str]) -> Callable[[], int]:
    """The original way of "``field`` is one of ``values``" on ``kind``."""
    if kind == "memory":
        wanted = set(values)
        return memory_scan(repo, lambda entity: str(getattr(entity, field)) in wanted)
    if len(values) == 1:
        return dynamodb_scan(repo, lambda model: getattr(model, field) == values[0])
    return dynamodb_scan(repo, lambda model: getattr(model, field).is_in(*values))


def original_getrequeststatus(kind: str, repos: Repositories, request_ids: list[str]) -> Callable[[], int]:
    """Each request read by key, then its machines found by a scan of the machines table."""

    def scan() -> int:
        read = 0
        for request_id in request_ids:
            read += 1 if repos.requests.get_by_id(request_id) else 0
            read += original(kind, repos.machines, "request_id", [request_id])()
        return read

    return scan


# -- measuring --------------------------------------------------------------------------


def operations(kind: str, repos: Repositories, fleet: Fleet) -> list[Operation]:
    request_id = fleet.requests[-1].request_id  # a finished request of ten returned machines
    instance_ids = [m.machine_id for m in fleet.machines[-100:]]
    hf_ids = fleet.active_request_ids[:HF_REQUESTS]
    hf_sample = hf_ids[: HF_SCAN_SAMPLE if kind != "memory" else HF_REQUESTS]
    return [
        Operation(
            "get_by_request_id",
            lambda: repos.machines.get_by_request_id(request_id),
            original(kind, repos.machines, "request_id", [request_id]),
            len,
        ),
        Operation(
            "machines.get_by_status(pending)",
            lambda: repos.machines.get_by_status("pending"),
            original(kind, repos.machines, "status", ["pending"]),
            len,
        ),
        Operation(
            "get_active_requests",
            repos.requests.get_active_requests,
            original(kind, repos.requests, "status", ["pending", "in_progress"]),
            len,
        ),
        Operation(
            "get_by_instance_ids(100)",
            lambda: repos.machines.get_by_instance_ids(instance_ids),
            original(kind, repos.machines, "machine_id", instance_ids),
            len,
        ),
        Operation(
            f"HF getRequestStatus({len(hf_ids)})",
            lambda: hf_get_request_status(repos=repos, request_ids=hf_ids),
            original_getrequeststatus(kind, repos, hf_sample),
            lambda answer: sum(1 + len(entry["machines"]) for entry in answer["requests"]),
        ),
    ]


def timed(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time in ms over ``repeat`` calls, after one warm-up call."""
    result = call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure(kind: str, size: int, repos: Repositories, fleet: Fleet) -> list[Row]:
    repeat = REPEAT[kind]
    rows = []
    for operation in operations(kind, repos, fleet):
        ms, answer = timed(operation.call, repeat)
        row = Row(kind, size, operation.name, ms, operation.count(answer))
        if kind != "memory":
            with count_dynamodb_calls(*repos.all()) as counted:
                operation.call()
            row.calls = ", ".join(f"{count} {name}" for name, count in sorted(counted.calls.items()))
            row.items_read = counted.items_read
        scan_repeat = max(1, repeat // 5) if kind == "memory" else 1
        row.scan_ms, row.scan_read = timed(operation.scan, scan_repeat)
        if operation.name.startswith("HF") and kind != "memory":
            scale = HF_REQUESTS / HF_SCAN_SAMPLE
            row.scan_ms, row.scan_read, row.scan_estimated = row.scan_ms * scale, int(row.scan_read * scale), True
        rows.append(row)
    return rows


# -- output -----------------------------------------------------------------------------


def markdown(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([row(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(row, lines)])


def results_table(rows: list[Row]) -> str:
    header = (
        "backend",
        "fleet",
        "operation",
        "ms/call",
        "returned",
        "DynamoDB calls",
        "items read",
        "scan ms/call",
        "scan items read",
        "scan/index time",
    )
    lines = []
    for r in rows:
        mark = "~" if r.scan_estimated else ""
        lines.append(
            (
                r.backend,
                f"{r.fleet:,}",
                r.operation,
                f"{r.ms:.3f}",
                str(r.returned),
                r.calls,
                "-" if r.items_read is None else str(r.items_read),
                f"{mark}{r.scan_ms:.2f}" if r.scan_ms is not None else "-",
                f"{r.scan_read:,}" if r.scan_read is not None else "-",
                f"{mark}{r.scan_ms / r.ms:.0f}x" if r.scan_ms and r.ms else "-",
            )
        )
    return markdown(header, lines)


def flatness_table(rows: list[Row]) -> str:
    """Largest fleet against smallest, per backend and operation."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.backend, row.operation), []).append(row)
    lines = []
    for (kind, operation), group in groups.items():
        group.sort(key=lambda r: r.fleet)
        small, large = group[0], group[-1]
        if small is large:
            continue
        ratio = large.ms / small.ms if small.ms else float("nan")
        if kind == "memory":
            reads = "-"
            verdict = "flat" if ratio < FLAT_MEMORY_RATIO else f"NOT flat (target < {FLAT_MEMORY_RATIO:g})"
        else:
            reads = f"{small.items_read} -> {large.items_read}"
            exact = all(r.items_read == r.returned for r in group) and small.items_read == large.items_read
            verdict = "reads = answer, flat" if exact else "reads grow with the table"
        scan_growth = f"{large.scan_ms / small.scan_ms:.1f}" if small.scan_ms and large.scan_ms else "-"
        lines.append(
            (kind, operation, f"{small.fleet:,} -> {large.fleet:,}", f"{ratio:.2f}", reads, scan_growth, verdict)
        )
    header = ("backend", "operation", "fleet", "time ratio", "items read", "scan time ratio", "verdict")
    return markdown(header, lines)


def machine_note() -> str:
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average at the end {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small fleets (a smoke run)")
    parser.add_argument("--backends", default="memory,moto,dynalite", help="comma-separated: memory,moto,dynalite")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    rows: list[Row] = []
    for kind in args.backends.split(","):
        with backend(kind) as fresh:
            for size in sizes[kind]:
                repos = fresh()
                fleet = build_fleet(size)
                started = time.perf_counter()
                load(repos, fleet)
                print(f"loaded {size:,} machines into {kind} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                rows.extend(measure(kind, size, repos, fleet))
    print("### Hot lookups by fleet size, beside the original full scan\n")
    print(results_table(rows))
    print("\n### Cost as the fleet grows (largest fleet / smallest)\n")
    print(flatness_table(rows))
    print(f"\n{machine_note()}")
    if "moto" in args.backends:
        print(
            "moto answers a GSI Query by walking the whole table in Python, so its wall time grows with the table "
            "even though the calls and items read stay flat; items read is the DynamoDB cost."
        )


if __name__ == "__main__":
    main()
