"""The storage benchmark still runs (``make bench`` is not part of ``make test``): a quick
pass on the memory backend prints both tables with every operation. No timing is asserted;
BENCHMARKS.md holds the numbers."""

from __future__ import annotations

import subprocess
import sys

from tests.reliability.live import ROOT

OPERATIONS = (
    "get_by_request_id",
    "machines.get_by_status(pending)",
    "get_active_requests",
    "get_by_instance_ids(100)",
    "HF getRequestStatus(50)",
)


def test_the_storage_benchmark_runs_and_prints_its_tables():
    done = subprocess.run(
        [sys.executable, "-m", "bench.storage_bench", "--quick", "--backends", "memory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "### Hot lookups by fleet size" in done.stdout and "### Cost as the fleet grows" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("| memory")]
    for operation in OPERATIONS:
        sizes = [row for row in rows if f"| {operation} " in row]
        assert len(sizes) == 3, (operation, sizes)  # two fleet sizes, and their ratio
    # Every lookup returns the same answer at both sizes: the fleet keeps answers fixed.
    returned = {row.split("|")[3].strip(): set() for row in rows}
    for row in rows:
        cells = [cell.strip() for cell in row.split("|")]
        if cells[2] in ("1,000", "5,000"):
            returned[cells[3]].add(cells[5])
    assert all(len(counts) == 1 for counts in returned.values() if counts), returned
