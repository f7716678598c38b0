"""A tiny HTTP server on a free port that answers every POST the same way (a status, a body,
after a delay) and records what it got: the misbehaving service the client must survive."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class StubService:
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def answer(self, status: int, body: Any = None, *, delay: float = 0.0, headers: dict | None = None) -> None:
        self.status, self.delay, self.headers = status, delay, headers or {}
        self.body = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()

    def start(self) -> str:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub.received.append(Received(self.path, dict(self.headers), self.rfile.read(length)))
                if stub.delay:
                    time.sleep(stub.delay)
                try:
                    self.send_response(stub.status)
                    for name, value in {"Content-Type": "application/json", **stub.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(stub.body)))
                    self.end_headers()
                    self.wfile.write(stub.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the point of a delay

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
