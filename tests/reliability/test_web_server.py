"""The repository's gunicorn.conf.py under load that used to starve the service: clients that
send their bodies a byte at a time must not stall the health check. Loopback only, every loop
bounded in time."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.reliability.live import Gunicorn, call, prepare_database, server_environment

pytestmark = pytest.mark.slow
SLOW_CLIENTS = 2
SLOW_FOR = 6.0  # seconds each slow client keeps dribbling its body


def dribble(port: int, token: str, stop: threading.Event) -> None:
    """A POST whose 4 kB body arrives one byte every 0.1 s: a slow or hostile client."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        head = (
            "POST /api/v1/hostfactory/getRequestStatus HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {token}\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
        )
        connection.sendall(head.encode())
        deadline = time.monotonic() + SLOW_FOR
        while time.monotonic() < deadline and not stop.is_set():
            connection.sendall(b" ")
            time.sleep(0.1)


def health_times_while_slow_clients_dribble(server: Gunicorn, token: str) -> list[float | None]:
    """How long each of a few health checks took (None: no answer within 2 s)."""
    stop = threading.Event()
    clients = [threading.Thread(target=dribble, args=(server.port, token, stop)) for _ in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(0.5)  # both are inside the server, past their headers
    times: list[float | None] = []
    try:
        for _ in range(4):
            started = time.monotonic()
            try:
                answer = call(server.url, "GET", "/api/v1/health/", timeout=2)
                times.append(time.monotonic() - started if answer.status == 200 else None)
            except OSError:  # timed out
                times.append(None)
            time.sleep(0.3)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=SLOW_FOR + 5)
    return times


@pytest.fixture
def server_env(tmp_path):
    env = server_environment(tmp_path)
    return env, prepare_database(env)["plugin"]


def test_slow_body_clients_do_not_stall_health_under_the_repository_config(server_env, tmp_path):
    env, token = server_env
    # As shipped: gthread, one process on the memory store, the config's threads.
    with Gunicorn(env, tmp_path, None) as server:
        times = health_times_while_slow_clients_dribble(server, token)
    assert None not in times, times
    assert max(times) < 2, times


def test_without_threads_the_same_clients_stall_health(server_env, tmp_path):
    """The contrast that shows the test above can fail: the README's former command (sync
    workers, two of them) is starved by the same two clients."""
    env, token = server_env
    with Gunicorn(env, tmp_path, 2, 1, "--worker-class", "sync") as server:
        times = health_times_while_slow_clients_dribble(server, token)
    assert times.count(None) >= 2, times
