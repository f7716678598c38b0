"""Storage benchmark: cost of the hot lookups as the fleet grows, on each backend, beside
the original design's way (a full scan with a filter) on the same data.

    .venv/bin/python -m bench.storage_bench            # memory 1k/10k/100k, moto and dynalite 1k/10k
    .venv/bin/python -m bench.storage_bench --quick    # smaller sizes, for a smoke run

Prints one table; numbers are medians of repeated calls (wall time) and, for DynamoDB, the
calls made and items read by one call, counted with a botocore event hook.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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
}.items():
    os.environ.setdefault(key, value)

import django  # noqa: E402

django.setup()

from bench.fleet import Fleet, build_fleet  # noqa: E402
from hostfactory.storage import Repositories, build_repositories  # noqa: E402
from hostfactory.storage.config import StorageConfig  # noqa: E402
from tests.support.dynalite import DynaliteServer, find_dynalite  # noqa: E402
from tests.support.dynamodb_calls import count_dynamodb_calls  # noqa: E402


@dataclass
class Row:
    backend: str
    fleet: int
    operation: str
    ms: float
    returned: int
    calls: str = "-"
    items_read: str = "-"
    scan_ms: float | None = None
    scan_read: str = "-"


@contextlib.contextmanager
def backend(kind: str) -> Iterator[Callable[[], Repositories]]:
    """Yields a factory of fresh, empty repositories on ``kind``."""
    if kind == "memory":
        yield lambda: build_repositories(StorageConfig(type="memory"))
        return
    server = None
    mock = None
    if kind == "moto":
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
        host = None
    else:
        binary = find_dynalite()
        if binary is None:
            sys.exit("dynalite is not installed: run 'make node' (npm ci) first")
        server = DynaliteServer(binary)
        server.start()
        host = server.endpoint
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


def load(repos: Repositories, fleet: Fleet) -> None:
    for repo, entities in (
        (repos.templates, fleet.templates),
        (repos.requests, fleet.requests),
        (repos.machines, fleet.machines),
    ):
        model = getattr(repo, "model", None)
        if model is None:
            for entity in entities:
                repo.save(entity)
            continue
        with model.batch_write() as batch:  # bulk load; the benchmark measures reads
            for entity in entities:
                batch.save(repo.to_item(entity.replace(version=1)))


def timed(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure(kind: str, size: int, repos: Repositories, fleet: Fleet, repeat: int) -> list[Row]:
    request_id = fleet.requests[-1].request_id
    instance_ids = [m.machine_id for m in fleet.machines[-100:]]
    operations = {
        "get_by_request_id": (lambda: repos.machines.get_by_request_id(request_id), ("request_id", request_id)),
        "machines.get_by_status(pending)": (lambda: repos.machines.get_by_status("pending"), ("status", "pending")),
        "get_active_requests": (repos.requests.get_active_requests, None),
        "get_by_instance_ids(100)": (lambda: repos.machines.get_by_instance_ids(instance_ids), None),
    }
    rows = []
    for name, (call, scan_filter) in operations.items():
        ms, result = timed(call, repeat)
        row = Row(kind, size, name, ms, len(result))
        if kind != "memory":
            with count_dynamodb_calls(*repos.all()) as counted:
                call()
            row.calls = ", ".join(f"{count} {op}" for op, count in sorted(counted.calls.items()))
            row.items_read = str(counted.items_read)
        if name == "get_active_requests":
            scan_filter = ("status", "in_progress")
        if scan_filter:
            row.scan_ms, row.scan_read = scan_the_old_way(kind, repos, name, scan_filter, repeat)
        rows.append(row)
    rows.extend(measure_hostfactory(kind, size, repos, fleet, repeat))
    return rows


def scan_the_old_way(kind: str, repos: Repositories, name: str, scan_filter, repeat: int) -> tuple[float, str]:
    """The original design's repository: Scan the whole table with a filter."""
    field, value = scan_filter
    repo = repos.requests if name == "get_active_requests" else repos.machines
    if kind == "memory":
        every = repo._items  # the whole table, as the original in-memory repository walks it
        ms, _ = timed(lambda: [e for e in every.values() if str(getattr(e, field)) == value], max(1, repeat // 4))
        return ms, str(len(every))
    model = repo.model
    attribute = getattr(model, field)

    def scan():
        results = model.scan(filter_condition=attribute == value)
        list(results)
        return results.page_iter.total_scanned_count

    ms, scanned = timed(scan, 1)
    return ms, str(scanned)


def measure_hostfactory(kind: str, size: int, repos: Repositories, fleet: Fleet, repeat: int) -> list[Row]:
    from hostfactory.hostfactory_api.services import hf_get_request_status

    ids = fleet.active_request_ids[:50]
    call = lambda: hf_get_request_status(repos=repos, request_ids=ids)  # noqa: E731
    ms, _ = timed(call, max(1, repeat // 2))
    row = Row(kind, size, "HF getRequestStatus(50)", ms, len(ids))
    if kind != "memory":
        with count_dynamodb_calls(*repos.all()) as counted:
            call()
        row.calls = str(counted.total)
        row.items_read = str(counted.items_read)
    return [row]


def print_table(rows: list[Row]) -> None:
    header = (
        "backend",
        "fleet",
        "operation",
        "ms/call",
        "returned",
        "DynamoDB calls",
        "items read",
        "scan ms",
        "scan read",
        "scan/index",
    )
    lines = [header]
    for r in rows:
        ratio = f"{r.scan_ms / r.ms:.0f}x" if r.scan_ms and r.ms else "-"
        scan_ms = f"{r.scan_ms:.2f}" if r.scan_ms is not None else "-"
        lines.append(
            (
                r.backend,
                f"{r.fleet:,}",
                r.operation,
                f"{r.ms:.3f}",
                str(r.returned),
                r.calls,
                r.items_read,
                scan_ms,
                r.scan_read,
                ratio,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if number == 0:
            print("-+-".join("-" * width for width in widths))


def print_flatness(rows: list[Row]) -> None:
    print("\nCost ratio, largest fleet / smallest fleet (flat is ~1):")
    by_key: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        by_key.setdefault((row.backend, row.operation), []).append(row)
    for (kind, operation), group in by_key.items():
        group.sort(key=lambda r: r.fleet)
        small, large = group[0], group[-1]
        if small is large:
            continue
        ratio = large.ms / small.ms if small.ms else float("nan")
        reads = f"; items read {small.items_read} -> {large.items_read}" if kind != "memory" else ""
        print(f"  {kind:8} {operation:32} {large.fleet:,}/{small.fleet:,}: {ratio:.2f}{reads}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small fleets (smoke run)")
    parser.add_argument("--backends", default="memory,moto,dynalite")
    args = parser.parse_args()
    sizes = {"memory": [1000, 10000, 100000], "moto": [1000, 10000], "dynalite": [1000, 10000]}
    if args.quick:
        sizes = {"memory": [1000, 5000], "moto": [1000, 2000], "dynalite": [1000, 2000]}
    rows: list[Row] = []
    for kind in args.backends.split(","):
        with backend(kind) as fresh:
            for size in sizes[kind]:
                repos = fresh()
                fleet = build_fleet(size)
                started = time.perf_counter()
                load(repos, fleet)
                print(f"loaded {size:,} machines into {kind} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
                rows.extend(measure(kind, size, repos, fleet, repeat=21 if kind == "memory" else 5))
    print_table(rows)
    print_flatness(rows)


if __name__ == "__main__":
    main()
