"""Real processes for the reliability and security tests: the app under gunicorn with
production settings, Django's tables in a SQLite file of its own, and a dynalite that keeps
its data on disk so it can be stopped and started again on the same port.

Only the standard library talks to the server (``call``), as a plugin or a load balancer
would; nothing here reaches into the server's process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostfactory.storage import Repositories, build_repositories
from hostfactory.storage.config import StorageConfig
from tests.conftest import storage_settings
from tests.support.dynalite import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
WORKERS = 4  # gunicorn worker processes of a race stack
CLIENTS = 8  # client processes of a race stack
SECRET_KEY = "reliability-tests-secret-key-5f0c8a2e91d34b7f8c6e0a1b2c3d4e5f60718293a4b5"

# Users of the server's own database, each with a token: one per group, and an inactive one.
USERS_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
users = get_user_model()
tokens = {}
# "plugin" is Host Factory's plugin and an outside provisioner in one (it calls the five
# operations and registers and reports machines), as the race clients act as both.
for name, groups, active in (
    ("plugin", ("hostfactory-plugins", "hostfactory-provisioners"), True),
    ("operator", ("hostfactory-operators",), True),
    ("viewer", ("hostfactory-viewers",), True),
    ("retired", ("hostfactory-operators",), False),
):
    user = users.objects.create_user(name, is_active=active)
    user.groups.add(*Group.objects.filter(name__in=groups))
    tokens[name] = Token.objects.create(user=user).key
print("TOKENS " + json.dumps(tokens))
"""


# The servers' claim lease: short, so a test can wait out a dead call's claims.
CLAIM_SECONDS = 5


def server_environment(folder: Path, storage: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a production-like server: DEBUG off, a real secret, plain HTTP on
    loopback, Django's tables in ``folder``; ``storage`` is a HOSTFACTORY_STORAGE dict
    (memory when None)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DYNAMODB_", "STORAGE_", "HOSTFACTORY_", "DJANGO_", "AWS_ENDPOINT_URL"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="hostfactory.settings",
        DEBUG="false",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=f"sqlite:///{folder / 'django.sqlite3'}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        LOG_LEVEL="WARNING",
        HOSTFACTORY_SLOW_STORAGE_MS="60000",
        HOSTFACTORY_RETURN_CLAIM_SECONDS=str(CLAIM_SECONDS),
    )
    if storage and storage.get("type") == "dynamodb":
        env.update(
            STORAGE_TYPE="dynamodb",
            DYNAMODB_REGION=storage["region"],
            DYNAMODB_HOST=storage["host"],
            DYNAMODB_TEMPLATES_TABLE=storage["tables"]["templates"],
            DYNAMODB_REQUESTS_TABLE=storage["tables"]["requests"],
            DYNAMODB_MACHINES_TABLE=storage["tables"]["machines"],
            DYNAMODB_HISTORY_TABLE=storage["tables"]["history"],
        )
    else:
        env["STORAGE_TYPE"] = "memory"
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def start_manage(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """``manage.py`` as a process running beside the test (its output in text pipes)."""
    command = [sys.executable, "manage.py", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def prepare_database(env: dict[str, str]) -> dict[str, str]:
    """Migrate the server's database and create its users; returns their tokens by name."""
    manage("migrate", "--no-input", "--verbosity", "0", env=env)
    output = manage("shell", "--no-imports", "--command", USERS_SCRIPT, env=env)
    line = next(line for line in output.splitlines() if line.startswith("TOKENS "))
    return json.loads(line.removeprefix("TOKENS "))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")


def call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One HTTP request; any status is an answer (never raised)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        sent["Authorization"] = f"Token {token}"
    sent.update(headers or {})
    request = urllib.request.Request(base + path, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _lower(response.headers), response.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Answer(error.code, _lower(error.headers), error.read().decode(errors="replace"))


def _lower(headers) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


class Gunicorn:
    """``gunicorn hostfactory.wsgi`` on a free loopback port: with the repository's
    gunicorn.conf.py as it stands (``workers=None``), or with that many workers and threads."""

    def __init__(self, env: dict[str, str], folder: Path, workers: int | None = 2, threads: int = 1, *options) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = folder / f"gunicorn-{self.port}.log"
        self.workers = workers
        self.threads = threads
        self.options = options
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        command = [GUNICORN, "hostfactory.wsgi", "--config", str(ROOT / "gunicorn.conf.py")]
        command += ["--bind", f"127.0.0.1:{self.port}", "--no-control-socket", *self.options]
        if self.workers is None:
            return command
        return [*command, "--workers", str(self.workers), "--threads", str(self.threads), "--timeout", "60"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Gunicorn:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command(), "--graceful-timeout", "5"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            try:
                if call(self.url, "GET", "/api/v1/", timeout=5).status == 401:  # up and routing
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class DiskDynalite:
    """dynalite with ``--path``: its tables live in a LevelDB folder, so a server stopped
    (even killed) and started again on the same port has every write it acknowledged."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        import socket

        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--host", "127.0.0.1", "--path", str(self.folder)),
                *("--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("dynalite exited at start")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dynalite did not listen on {self.port} within {timeout} s")

    def kill(self) -> None:
        """Stop it the hard way, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ClientPool:
    """``size`` client processes (``tests.reliability.clients --serve``) kept for many rounds:
    starting eight Python processes per trial would cost more than the trial."""

    def __init__(self, base: str, token: str, size: int = 8) -> None:
        self.base, self.token, self.size = base, token, size
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> ClientPool:
        command = [sys.executable, "-m", "tests.reliability.clients", "--serve", self.base, self.token]
        for _ in range(self.size):
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            )
        return self

    def send(self, scripts: list[list[dict]]) -> None:
        """Give client i the calls ``scripts[i]``, every client at once (a missing script is
        an empty one); they start as soon as they read it."""
        assert len(scripts) <= self.size, f"{len(scripts)} scripts for {self.size} clients"
        lines = [json.dumps(script) + "\n" for script in scripts]
        lines += ["[]\n"] * (self.size - len(lines))
        for process, line in zip(self.processes, lines, strict=True):
            process.stdin.write(line)
        for process in self.processes:
            process.stdin.flush()

    def receive(self) -> list[list[list[dict]]]:
        """Per client, per call, its attempts (``http``, ``body``, ``at``)."""
        answers = []
        for process in self.processes:
            line = process.stdout.readline()
            assert line, f"a client process died (exit {process.poll()})"
            answers.append(json.loads(line))
        return answers

    def round(self, scripts: list[list[dict]]) -> list[list[list[dict]]]:
        self.send(scripts)
        return self.receive()

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            process.stdin.close()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Stack:
    """Fresh tables, the repositories this test process reads them with, the server's
    environment (for ``manage.py`` processes too), gunicorn and the client processes."""

    repos: Repositories
    env: dict[str, str]
    server: Gunicorn
    clients: ClientPool  # they call as the plugin user
    tokens: dict[str, str]  # by user name (tests.reliability.live.USERS_SCRIPT)


def fresh_tables(storage: dict) -> Repositories:
    """Repositories on the tables of ``storage`` (a HOSTFACTORY_STORAGE dict), created."""
    repos = build_repositories(StorageConfig.from_settings(storage))
    for repo in repos.tables():
        repo.create_table()
    return repos


def running_stack(endpoint: str, folder: Path, **extra: str) -> Iterator[Stack]:
    """Build a ``Stack`` on the DynamoDB at ``endpoint``; a generator (yield it from a fixture)."""
    storage = storage_settings("dynalite", endpoint)
    repos = fresh_tables(storage)
    env = server_environment(folder, storage, **extra)
    tokens = prepare_database(env)
    with Gunicorn(env, folder, workers=WORKERS) as server, ClientPool(server.url, tokens["plugin"], CLIENTS) as pool:
        yield Stack(repos, env, server, pool, tokens)
    for repo in repos.tables():
        repo.delete_table()
