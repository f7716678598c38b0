"""The storage benchmark still runs (``make bench`` is not part of ``make test``): a quick
pass on the memory backend prints every cost figure of issue 11 point 6 with its target, for
both fleet shapes and both sizes. No timing is asserted; BENCHMARKS.md holds the numbers.
The verdicts the bench prints for DynamoDB are checked here on made-up costs, so a miss
cannot be printed as "ok"."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from tests.reliability.live import ROOT

FIGURES = (
    "getRequestStatus(1)",
    "getRequestStatus(50)",
    "getRequestStatus(100)",
    "getAvailableTemplates",
    "admin dashboard (fleet_counts)",
    "provision pass, without its sync",
    "sync_machines pass",
    "machine status change",
    "getRequestStatus(1), the poll that completes it",
    "requestReturnMachines(1),",
    "requestReturnMachines(100),",
    "requestReturnMachines(1000),",
    "requestMachines (limited template)",
)


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_storage_benchmark_prints_every_figure_beside_its_target():
    done = subprocess.run(
        [sys.executable, "-m", "bench.storage_bench", "--quick", "--backends", "memory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for shape in ("current", "all-live"):
        assert f"### Cost figures beside their targets: {shape} fleet" in out
        assert f"### Flat in the fleet size: {shape} fleet" in out
    rows = [cells(line) for line in out.splitlines() if line.startswith("| ") and "| memory " in line]
    figure_rows = [row for row in rows if len(row) == 13]
    for figure in FIGURES:
        mine = [row for row in figure_rows if row[0] == figure or (figure.endswith(",") and row[0].startswith(figure))]
        assert len(mine) == 4, (figure, mine)  # two shapes, two sizes
        assert all(row[1] for row in mine), mine  # a target beside it
    # The fleet keeps answers the same size at every size; only the live machines grow.
    by_figure: dict[str, set] = {}
    for row in figure_rows:
        if row[0] != "sync_machines pass":
            by_figure.setdefault(row[0], set()).add(row[8])
    assert all(len(answered) == 1 for answered in by_figure.values()), by_figure
    sync = {(row[3], row[8]) for row in figure_rows if row[0] == "sync_machines pass"}
    assert sync == {("1,000", "500"), ("2,000", "500"), ("1,000", "1,000"), ("2,000", "2,000")}, sync
    assert "### Misses" in out


def test_the_verdicts_name_what_misses():
    from bench.costs import Cost, check_dashboard, check_status_change, check_sync, poll_figure
    from machines_app.storage.dynamodb import STATUS_SHARD_INDEX

    poll = poll_figure(repos=None, ids=["req-1"] * 50, machines=500)
    by_key = Cost(calls=Counter(BatchGetItem=6), items_read=550)
    assert poll.check(by_key, 550) is None
    through_index = Cost(calls=Counter(Query=50), items_read=550, index_reads=Counter({"request-id-keys": 50}))
    assert "index reads" in poll.check(through_index, 550)
    assert "551 items read for 550" in poll.check(Cost(calls=Counter(BatchGetItem=6), items_read=551), 550)
    assert "calls > 51" in poll.check(Cost(calls=Counter(GetItem=100), items_read=550), 550)
    assert "above the design's 6" in poll.check(Cost(calls=Counter(BatchGetItem=7), items_read=550), 550)

    assert check_status_change(Cost(calls=Counter(UpdateItem=1), write_units=3), 1) is None
    assert check_status_change(Cost(calls=Counter(UpdateItem=1, GetItem=1), write_units=1), 1)
    assert check_status_change(Cost(calls=Counter(UpdateItem=1), write_units=5), 1)

    lost_ones_asked = Cost(calls=Counter(Query=50, Scan=1), index_reads=Counter({STATUS_SHARD_INDEX: 48}))
    assert check_dashboard(lost_ones_asked, 70) is None
    reads_live = Cost(calls=Counter(Query=50), index_items=Counter({STATUS_SHARD_INDEX: 500}))
    assert "500 machines read" in check_dashboard(reads_live, 70)

    read_once = Cost(calls=Counter(Query=96), index_items=Counter({STATUS_SHARD_INDEX: 500}))
    assert check_sync(read_once, 500) is None
    assert "499 machines read" in check_sync(
        Cost(calls=Counter(Query=96), index_items=Counter({STATUS_SHARD_INDEX: 499})), 500
    )
