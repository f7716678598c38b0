"""gunicorn settings of the HTTP benchmark (``gunicorn -c bench/gunicorn_seeded.py``): the
repository's gunicorn.conf.py as production runs it (gthread workers, its limits and access
log; bind, workers and timeout from the ``GUNICORN_*`` variables the benchmark sets), plus one
hook.

With the memory backend every worker process has its own store, so each worker loads the
same fleet (``BENCH_FLEET_SIZE`` machines, ids from ``BENCH_FLEET_SEED``) before it serves:
the requests the load generator polls exist in whichever worker answers. On DynamoDB the
benchmark loads the tables once and the workers share them. Each worker then leaves a file
in ``BENCH_READY_DIR`` so the benchmark starts only when all of them are ready.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

_production = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
globals().update({name: value for name, value in _production.items() if not name.startswith("_")})


def post_worker_init(worker) -> None:
    size = int(os.environ.get("BENCH_FLEET_SIZE") or 0)
    if size:
        from bench.fleet import build_fleet, load
        from hostfactory.storage import get_repositories

        load(get_repositories(), build_fleet(size, seed=int(os.environ["BENCH_FLEET_SEED"])))
    ready = os.environ.get("BENCH_READY_DIR")
    if ready:
        Path(ready, f"worker-{os.getpid()}").touch()
