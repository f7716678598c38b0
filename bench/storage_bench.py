"""Storage benchmark: every cost figure of issue 11 point 6 beside its target, on each
backend and fleet size, for two fleet shapes (bench/fleet.py).

    .venv/bin/python -m bench.storage_bench            # memory, moto 1k/10k; dynalite 1k/10k/100k
    .venv/bin/python -m bench.storage_bench --quick    # 1k/2k fleets, for a smoke run
    .venv/bin/python -m bench.storage_bench --backends memory --shapes current

Prints Markdown tables. Counts (DynamoDB calls by operation, items read, capacity units) are
the result: they are deterministic, counted with a botocore hook on the repositories' own
clients (tests/support/dynamodb_calls.py). Wall times are medians, shown and never judged.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import sys
import time
import uuid
from collections.abc import Iterator

from hostfactory.storage.config import TABLE_KEYS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
for key, value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "HOSTFACTORY_SLOW_STORAGE_MS": "600000",  # a sync pass of 100k is slow on purpose; no warnings
}.items():
    os.environ.setdefault(key, value)

import django  # noqa: E402

django.setup()
logging.getLogger("hostfactory").setLevel(logging.WARNING)  # a line per return is noise here

from django.test import override_settings  # noqa: E402

from bench.costs import Row, figures, measure  # noqa: E402
from bench.fleet import build_fleet, load  # noqa: E402
from hostfactory.storage import Repositories, get_repositories  # noqa: E402
from tests.support.dynalite import DynaliteServer, find_dynalite  # noqa: E402

# moto answers every GSI query by walking the table in Python: 100k there takes too long.
SIZES = {"memory": [1_000, 10_000], "moto": [1_000, 10_000], "dynalite": [1_000, 10_000, 100_000]}
QUICK_SIZES = {"memory": [1_000, 2_000], "moto": [1_000, 2_000], "dynalite": [1_000, 2_000]}
REPEAT = {"memory": 7, "moto": 1, "dynalite": 3}  # moto: counts only, measured once
SHAPES = {"current": False, "all-live": True}
FLAT_RATIO = 1.2  # the target: calls and items read at 10k within 1.2x of 1k


# -- backends ---------------------------------------------------------------------------


@contextlib.contextmanager
def backend(kind: str) -> Iterator[str | None]:
    """Yields the endpoint of a fresh DynamoDB-compatible server for ``kind`` (None: in
    process). One per fleet: dropping a table of 100k items takes dynalite longer than the
    service's timeouts allow, and a new server frees the memory at once."""
    if kind == "memory":
        yield None
    elif kind == "moto":
        from moto import mock_aws

        with mock_aws():
            yield None
    elif kind == "dynalite":
        binary = find_dynalite()
        if binary is None:
            sys.exit("dynalite is not installed: run 'make node' (npm ci) first")
        server = DynaliteServer(binary)
        server.start()
        try:
            yield server.endpoint
        finally:
            server.stop()
    else:
        sys.exit(f"unknown backend {kind!r}: choose among memory, moto, dynalite")


@contextlib.contextmanager
def stored(kind: str, host: str | None) -> Iterator[Repositories]:
    """Fresh, empty repositories on ``kind``, installed as the service's own (the admin
    dashboard reads ``get_repositories()``)."""
    if kind == "memory":
        config = {"type": "memory"}
    else:
        suffix = uuid.uuid4().hex[:8]
        tables = {name: f"bench-{name}-{suffix}" for name in TABLE_KEYS}
        config = {"type": "dynamodb", "region": "us-east-1", "host": host, "tables": tables}
    with override_settings(HOSTFACTORY_STORAGE=config):
        repos = get_repositories()
        if kind != "memory":
            for repo in repos.tables():
                repo.create_table()
        yield repos


def run(kind: str, sizes: list[int], shapes: list[str]) -> list[Row]:
    rows: list[Row] = []
    for shape in shapes:
        for size in sizes:
            fleet = build_fleet(size, all_live=SHAPES[shape])
            with backend(kind) as host, stored(kind, host) as repos:
                started = time.perf_counter()
                load(repos, fleet)
                loaded = time.perf_counter() - started
                print(f"{kind} {shape} {size:,}: loaded in {loaded:.1f} s", file=sys.stderr, flush=True)
                for figure in figures(repos, fleet):
                    rows.append(
                        measure(figure, repeat=REPEAT[kind], repos=repos, backend=kind, shape=shape, fleet=fleet)
                    )
                print(
                    f"{kind} {shape} {size:,}: measured in {time.perf_counter() - started - loaded:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


# -- output -----------------------------------------------------------------------------


def markdown(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([row(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(row, lines)])


def calls_text(row: Row) -> str:
    if row.cost is None:
        return "-"
    parts = ", ".join(f"{count} {name}" for name, count in sorted(row.cost.calls.items()) if count)
    return f"{row.cost.total}: {parts}" if parts else "0"


def index_text(row: Row) -> str:
    if row.cost is None:
        return "-"
    reads = row.cost.index_reads
    return ", ".join(f"{reads[name]} {name} ({row.cost.index_items[name]:,} items)" for name in sorted(reads)) or "0"


def figures_table(rows: list[Row]) -> str:
    header = (
        "figure",
        "target",
        "backend",
        "fleet",
        "live",
        "calls",
        "Query/Scan",
        "items read",
        "answered",
        "RCU",
        "WCU",
        "ms (median)",
        "verdict",
    )
    order = {name: i for i, name in enumerate(dict.fromkeys(r.figure for r in rows))}
    lines = [
        (
            r.figure,
            r.target,
            r.backend,
            f"{r.fleet:,}",
            f"{r.live:,}",
            calls_text(r),
            index_text(r),
            "-" if r.cost is None else f"{r.cost.items_read:,}",
            f"{r.answered:,}",
            "-" if r.cost is None else f"{r.cost.read_units:g}",
            "-" if r.cost is None else f"{r.cost.write_units:g}",
            f"{r.ms:.1f}",
            r.verdict,
        )
        for r in sorted(rows, key=lambda r: (order[r.figure], r.backend, r.fleet))
    ]
    return markdown(header, lines)


def flatness_table(rows: list[Row]) -> str:
    """Each flat figure at every size against the smallest, per backend: calls and items read
    (the target), and wall time (shown)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.flat:
            groups.setdefault((row.figure, row.backend), []).append(row)
    lines = []
    for (figure, kind), group in groups.items():
        group.sort(key=lambda r: r.fleet)
        small = group[0]
        for large in group[1:]:
            times = f"{large.ms / small.ms:.2f}" if small.ms else "-"
            if small.cost is None:
                lines.append(
                    (figure, kind, f"{small.fleet:,} -> {large.fleet:,}", "-", "-", times, "- (memory: times only)")
                )
                continue
            calls = large.cost.total / small.cost.total if small.cost.total else float("inf")
            items = large.cost.items_read / small.cost.items_read if small.cost.items_read else 1.0
            verdict = "ok" if max(calls, items) < FLAT_RATIO else f"MISS (target < {FLAT_RATIO:g})"
            lines.append(
                (
                    figure,
                    kind,
                    f"{small.fleet:,} -> {large.fleet:,}",
                    f"{small.cost.total} -> {large.cost.total} ({calls:.2f})",
                    f"{small.cost.items_read:,} -> {large.cost.items_read:,} ({items:.2f})",
                    times,
                    verdict,
                )
            )
    header = ("figure", "backend", "fleet", "calls (ratio)", "items read (ratio)", "time ratio", "verdict")
    return markdown(header, lines)


def misses(rows: list[Row]) -> list[str]:
    return [
        f"{r.figure} on {r.backend} {r.shape} {r.fleet:,}: {r.verdict.removeprefix('MISS: ')}"
        for r in rows
        if r.verdict.startswith("MISS")
    ]


NOTES = {
    "moto": (
        "moto answers a GSI Query by walking the whole table in Python, so its wall time grows with the table "
        "even where calls and items read stay flat: count moto's calls, do not read its milliseconds."
    ),
    "dynalite": (
        "dynalite keys index entries by a 6-hex-digit hash prefix, so about 0.35% of 100k entries under one index key "
        "collide and vanish; the status index is sharded 16 ways (about 6k entries a key at 100k), so a sync pass "
        "should read every live machine: its row says whether it did. dynalite reports write capacity for the base "
        "item only, not index entries."
    ),
}


def machine_note() -> str:
    load_average = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs shared with other work, load average at the end {load_average}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fleets of 1k and 2k (a smoke run)")
    parser.add_argument("--backends", default="memory,moto,dynalite", help="comma-separated: memory,moto,dynalite")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated: {','.join(SHAPES)}")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    shapes = args.shapes.split(",")
    unknown = [shape for shape in shapes if shape not in SHAPES]
    if unknown:
        sys.exit(f"unknown shape {unknown[0]!r}: choose among {', '.join(SHAPES)}")
    started = time.perf_counter()
    rows = [row for kind in args.backends.split(",") for row in run(kind, sizes.get(kind, []), shapes)]
    for shape in shapes:
        mine = [r for r in rows if r.shape == shape]
        live = (
            "about 500 live machines at every size, the rest returned" if shape == "current" else "every machine live"
        )
        print(f"### Cost figures beside their targets: {shape} fleet ({live})\n")
        print(figures_table(mine))
        print(f"\n### Flat in the fleet size: {shape} fleet (each size against the smallest)\n")
        print(flatness_table(mine))
        print()
    missed = misses(rows)
    print("### Misses\n")
    print("\n".join(f"- {line}" for line in missed) if missed else "none")
    print(f"\n{machine_note()}; {time.perf_counter() - started:.0f} s in all")
    for kind, note in NOTES.items():
        if kind in args.backends:
            print(note)


if __name__ == "__main__":
    main()
