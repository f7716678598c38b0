"""A TCP listener that accepts connections and never answers: a hung backend (a DynamoDB
endpoint behind a stuck load balancer, a stopped process whose socket still accepts)."""

from __future__ import annotations

import socket
import threading


class HungListener:
    """On 127.0.0.1, a free port; accepts and holds every connection until ``close``."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.held: list[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(connection)  # read nothing, answer nothing

    def __enter__(self) -> HungListener:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.closing.set()
        self.thread.join(timeout=2)
        for connection in self.held:  # clients still waiting get a reset, so their threads end
            connection.close()
        self.socket.close()
