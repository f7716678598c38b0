"""HTTP benchmark: the Host Factory endpoints under gunicorn, driven by wrk on loopback.

    .venv/bin/python -m bench.http_bench                      # memory and dynalite, 10 s per endpoint
    .venv/bin/python -m bench.http_bench --duration 3 --backends memory
    .venv/bin/python -m bench.http_bench --no-cache ...   # as before the token cache

For each backend: a fresh SQLite database for Django's own tables (migrated, a plugin token
from ``manage.py create_plugin_token``), the same fleet as the storage benchmark, gunicorn
under the repository's gunicorn.conf.py (gthread; 2 workers) and production settings (DEBUG
off), then ``wrk`` against each endpoint in turn. The framework's ceiling is a trivial DRF
view with no authentication and no storage (bench/urls.py, served only by the benchmark's
settings, bench/settings.py): every endpoint is reported as a fraction of it, and
getRequestStatus of one request beside its target (at least half of it, issue 11).

The memory backend keeps its data per process: each worker loads the same seeded fleet at
start (bench/gunicorn_seeded.py), so a poll finds its requests whichever worker answers. A
request created by requestMachines lives only in the worker that created it, which is why
the memory backend serves one process in production use (README "Choosing the storage
backend"); here it measures the service without a storage round trip.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hostfactory.storage.config import TABLE_KEYS

ROOT = Path(__file__).resolve().parents[1]
# boto3 needs credentials even for a local server, which checks none.
for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(key, "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
LUA = ROOT / "bench" / "wrk" / "hostfactory.lua"
FLEET_SEED = 20260101
# gunicorn.conf.py's own choice on memory (the store lives in one process); two on dynalite,
# where processes share the tables (its default, 2n+1, would be five on this machine's two cores).
WORKERS = {"memory": 1, "dynalite": 2}
HF = "/api/v1/hostfactory"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    token: bool = True
    body: dict | None = None


@dataclass
class Result:
    backend: str
    endpoint: str
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    failed: int
    cpu_ms: float = 0.0  # CPU time of the gunicorn workers per request


CEILING = "trivial DRF view (no auth, no storage)"
POLL_ONE = "getRequestStatus(1): 10 machines"
TARGET = 0.5  # getRequestStatus(1) at least half the ceiling's throughput (issue 11)
TRIVIAL_PATH = "/bench/trivial/"  # bench/urls.py


def endpoints(request_ids: list[str], template_id: str) -> list[Endpoint]:
    return [
        Endpoint(CEILING, "GET", TRIVIAL_PATH, token=False),
        Endpoint("API root (token, no storage)", "GET", "/api/v1/"),
        Endpoint("health (no auth, 3 key reads)", "GET", "/api/v1/health/", token=False),
        Endpoint(POLL_ONE, "POST", f"{HF}/getRequestStatus", body=_status_body(request_ids[:1])),
        Endpoint(
            f"getRequestStatus({len(request_ids)}): {10 * len(request_ids)} machines",
            "POST",
            f"{HF}/getRequestStatus",
            body=_status_body(request_ids),
        ),
        Endpoint(
            "requestMachines(1)",
            "POST",
            f"{HF}/requestMachines",
            body={"template": {"templateId": template_id, "machineCount": 1}},
        ),
    ]


def _status_body(request_ids: list[str]) -> dict:
    return {"requests": [{"requestId": request_id} for request_id in request_ids]}


# -- processes --------------------------------------------------------------------------


def base_environment(folder: Path, cache: bool) -> dict[str, str]:
    """Production settings (DEBUG off, a real secret), plain HTTP on loopback; without
    ``cache``, no token cache and a new database connection per request (as before them)."""
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DYNAMODB_", "STORAGE_", "HOSTFACTORY_", "DJANGO_", "BENCH_"))
    }
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{folder / 'django.sqlite3'}",
        "AWS_EC2_METADATA_DISABLED": "true",
        **({} if cache else {"HOSTFACTORY_AUTH_CACHE_SECONDS": "0", "DATABASE_CONN_MAX_AGE": "0"}),
    }


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip()


@contextmanager
def gunicorn(env: dict[str, str], folder: Path, workers: int) -> Iterator[tuple[str, int]]:
    """gunicorn under gunicorn.conf.py with ``workers`` processes on a free port; yields the
    base URL and the master's pid once every worker has started (on memory, loaded the fleet)."""
    from tests.support.dynalite import free_port

    ready = folder / f"ready-{uuid.uuid4().hex[:6]}"
    ready.mkdir()
    port = free_port()
    log = (folder / "gunicorn.log").open("a")
    process = subprocess.Popen(
        [GUNICORN, "hostfactory.wsgi", "--config", str(ROOT / "bench" / "gunicorn_seeded.py"), "--no-control-socket"],
        cwd=ROOT,
        env={
            **env,
            "BENCH_READY_DIR": str(ready),
            **{"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers), "GUNICORN_TIMEOUT": "120"},
        },
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 180
        while len(list(ready.iterdir())) < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"gunicorn did not start; see {folder / 'gunicorn.log'}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def storage(kind: str, size: int) -> Iterator[dict[str, str]]:
    """The environment of a server on ``kind``, holding the fleet of ``size`` machines."""
    if kind == "memory":
        yield {"STORAGE_TYPE": "memory", "BENCH_FLEET_SIZE": str(size), "BENCH_FLEET_SEED": str(FLEET_SEED)}
        return
    if kind != "dynalite":
        sys.exit(f"unknown backend {kind!r}: choose among memory, dynalite")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from bench.fleet import build_fleet, load
    from hostfactory.storage import build_repositories
    from hostfactory.storage.config import StorageConfig
    from tests.support.dynalite import DynaliteServer, find_dynalite

    binary = find_dynalite()
    if binary is None:
        sys.exit("dynalite is not installed: run 'make node' (npm ci) first")
    server = DynaliteServer(binary)
    server.start()
    try:
        tables = {name: f"bench-{name}" for name in TABLE_KEYS}
        repos = build_repositories(StorageConfig(type="dynamodb", host=server.endpoint, tables=tables))
        for repo in repos.tables():
            repo.create_table()
        load(repos, build_fleet(size, seed=FLEET_SEED))
        yield {
            "STORAGE_TYPE": "dynamodb",
            "DYNAMODB_HOST": server.endpoint,
            **{f"DYNAMODB_{name.upper()}_TABLE": table for name, table in tables.items()},
        }
    finally:
        server.stop()


# -- load -------------------------------------------------------------------------------


def call(base: str, endpoint: Endpoint, token: str) -> tuple[int, object]:
    """One request with urllib: the benchmark checks each endpoint answers right before
    loading it (a benchmark of error pages would measure nothing)."""
    data = json.dumps(endpoint.body).encode() if endpoint.body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if endpoint.token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(base + endpoint.path, data=data, headers=headers, method=endpoint.method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def check(base: str, endpoint: Endpoint, token: str) -> None:
    status, answer = call(base, endpoint, token)
    if status != 200:
        sys.exit(f"{endpoint.name}: {endpoint.method} {endpoint.path} answered {status}: {answer}")
    if endpoint.path.endswith("getRequestStatus"):
        asked = len(endpoint.body["requests"])
        entries = answer["requests"]
        found = [e for e in entries if e["status"] == "running" and len(e["machines"]) == 10]
        if len(found) != asked:
            sys.exit(f"{endpoint.name}: expected {asked} running requests of 10 machines, got {entries[:2]}...")


def together(base: str, endpoint: Endpoint, token: str, count: int) -> None:
    """``count`` calls at once, waiting for all: the first call of each worker is slow (lazy
    imports), and a sync worker serves its queue in order, so these return only when the
    requests queued before them are done."""
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda _: call(base, endpoint, token), range(count)))


def wrk(base: str, endpoint: Endpoint, token: str, seconds: float, connections: int, folder: Path) -> Result:
    env = {**os.environ, "WRK_METHOD": endpoint.method, "WRK_TOKEN": token if endpoint.token else ""}
    if endpoint.body is not None:
        body = folder / f"body-{uuid.uuid4().hex[:6]}.json"
        body.write_text(json.dumps(endpoint.body))
        env["WRK_BODY_FILE"] = str(body)
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(LUA), base + endpoint.path],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        sys.exit(f"wrk failed on {endpoint.name}:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    return Result(
        backend="",
        endpoint=endpoint.name,
        requests=data["requests"],
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        failed=data["status_errors"] + data["socket_errors"] + data["timeouts"],
    )


@dataclass(frozen=True)
class Target:
    """getRequestStatus(1) beside the ceiling in alternating short windows: on a machine shared
    with other work, the load moves between two long windows and less within a round. The
    workers' CPU time per request is steadier still: at saturation, throughput is its inverse."""

    backend: str
    rounds: list[tuple[Result, Result]]  # (ceiling, getRequestStatus(1))

    @property
    def throughput(self) -> float:
        return statistics.median(poll.rps / ceiling.rps for ceiling, poll in self.rounds)

    @property
    def by_cpu(self) -> float:
        return statistics.median(ceiling.cpu_ms / poll.cpu_ms for ceiling, poll in self.rounds)


def run_backend(
    kind: str, args: argparse.Namespace, env: dict[str, str], token: str, folder: Path
) -> tuple[list[Result], Target]:
    from bench.fleet import build_fleet

    fleet = build_fleet(args.fleet, seed=FLEET_SEED)
    targets = endpoints(fleet.active_request_ids[: args.poll], fleet.templates[0].template_id)
    with (
        storage(kind, args.fleet) as storage_env,
        gunicorn({**env, **storage_env}, folder, WORKERS[kind]) as (base, server),
    ):
        for endpoint in targets:
            check(base, endpoint, token)
            together(base, endpoint, token, 2 * args.connections)  # warm every worker up

        def measure(endpoint: Endpoint, seconds: float) -> Result:
            before = workers_cpu_seconds(server)
            result = wrk(base, endpoint, token, seconds, args.connections, folder)
            result.cpu_ms = (workers_cpu_seconds(server) - before) * 1000 / max(result.requests, 1)
            together(base, targets[0], token, args.connections)  # what wrk left queued is served before the next
            result.backend = kind
            return result

        results = []
        for endpoint in targets:
            results.append(measure(endpoint, args.duration))
            print(f"{kind:8} {endpoint.name:40} {results[-1].rps:8.1f} req/s", file=sys.stderr)
        pair = [next(e for e in targets if e.name == name) for name in (CEILING, POLL_ONE)]
        rounds = [tuple(measure(endpoint, args.round_seconds) for endpoint in pair) for _ in range(args.rounds)]
    return results, Target(kind, rounds)


def workers_cpu_seconds(master: int) -> float:
    """User and system CPU time used so far by the children of gunicorn's master (its workers)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = 0
    for child in children:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


# -- output -----------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    ceilings = {r.backend: r.rps for r in results if r.endpoint == CEILING}
    header = ("backend", "endpoint", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "failed", "of ceiling")
    header += ("CPU ms/req",)
    lines = [
        (
            r.backend,
            r.endpoint,
            str(r.requests),
            f"{r.rps:.1f}",
            f"{r.p50_ms:.1f}",
            f"{r.p90_ms:.1f}",
            f"{r.p99_ms:.1f}",
            str(r.failed),
            f"{r.rps / ceilings[r.backend]:.0%}" if ceilings.get(r.backend) else "-",
            f"{r.cpu_ms:.2f}",
        )
        for r in results
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def row(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([row(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(row, lines)])


def against_target(targets: list[Target], seconds: float) -> list[str]:
    """getRequestStatus of one request beside the trivial view of the same rounds, per backend."""
    lines = []
    for target in targets:
        rounds = ", ".join(f"{poll.rps:.0f}/{ceiling.rps:.0f}" for ceiling, poll in target.rounds)
        cpu = ", ".join(f"{poll.cpu_ms:.2f}/{ceiling.cpu_ms:.2f}" for ceiling, poll in target.rounds)
        lines.append(
            f"- {target.backend}: getRequestStatus(1) beside the trivial view, {len(target.rounds)} alternating rounds "
            f"of {seconds:g} s: req/s {rounds}, median ratio **{target.throughput:.0%}**; workers' CPU ms per request "
            f"{cpu}, median ratio **{target.by_cpu:.0%}** (target >= {TARGET:.0%}: "
            f"{'met' if min(target.throughput, target.by_cpu) >= TARGET else 'NOT met'})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="memory,dynalite", help="comma-separated: memory,dynalite")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per endpoint (default 10)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--fleet", type=int, default=1000, help="machines in the fleet (default 1000)")
    parser.add_argument("--poll", type=int, default=50, help="requests in the large getRequestStatus (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the target (default 5)")
    parser.add_argument("--round-seconds", type=float, default=2.0, help="seconds of each round's window (default 2)")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="HOSTFACTORY_AUTH_CACHE_SECONDS=0 and DATABASE_CONN_MAX_AGE=0: the HTTP path as before the token cache",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: 'apt-get install -y wrk' (Debian/Ubuntu), or 'make bench' does it")
    results: list[Result] = []
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="hf-http-bench-") as name:
        folder = Path(name)
        env = base_environment(folder, cache=not args.no_cache)
        manage("migrate", "--no-input", "--verbosity", "0", env=env)
        token = manage("create_plugin_token", "bench-plugin", env=env)
        for kind in args.backends.split(","):
            measured, target = run_backend(kind, args, env, token, folder)
            results.extend(measured)
            targets.append(target)
    cache = "no token cache, a connection per request" if args.no_cache else "token cache on"
    workers = ", ".join(f"{WORKERS[kind]} on {kind}" for kind in args.backends.split(","))
    print(
        f"#### Host Factory endpoints under gunicorn.conf.py (gthread; workers: {workers}), {cache}, "
        f"wrk -t1 -c{args.connections}, {args.duration:g} s each, fleet of {args.fleet:,} machines\n"
    )
    print(table(results))
    print("", *against_target(targets, args.round_seconds), sep="\n")
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"\nPython {platform.python_version()}, {os.cpu_count()} CPUs shared by wrk, gunicorn and dynalite; "
        f"load average at the end {load}"
    )


if __name__ == "__main__":
    main()
