"""A client process of the reliability tests, over HTTP, recording every answer. Two modes:

    python -m tests.reliability.clients < plan.json > records.json

hammers the same machines and requests as its siblings (the concurrency test): the plan names
the server, the token, the ids, a seed and how many operations to make.

    python -m tests.reliability.clients --serve BASE TOKEN

stays up for many rounds (the race tests): each line read is a JSON list of calls to make in
order, each line written back is the JSON list of their attempts. The test writes one line to
every client at once, so the clients' first calls leave together, as racing callers' do.

Standard library only: this runs in its own process, as a provisioner or plugin would.
"""

from __future__ import annotations

import json
import random
import sys
import time
import urllib.error
import urllib.request
from typing import Any

MACHINE_STATUSES = [
    "pending",
    "running",
    "stopping",
    "stopped",
    "shutting-down",
    "terminated",
    "failed",
    "returned",
    "unknown",
]
REQUEST_TERMINALS = ["complete", "partial", "failed", "cancelled", "timeout"]
TAG_RETRIES = 6


class Client:
    def __init__(self, base: str, token: str, name: str, rng: random.Random) -> None:
        self.base = base
        self.token = token
        self.name = name
        self.rng = rng
        self.records: list[dict[str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Token {token or self.token}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, {"unparsed": text.decode(errors="replace")[:500]}

    def record(self, kind: str, entity_id: str, sent: Any, status: int, answer: Any, **extra: Any) -> None:
        self.records.append(
            {
                "client": self.name,
                "kind": kind,
                "id": entity_id,
                "sent": sent,
                "http": status,
                "code": answer.get("code") if isinstance(answer, dict) else None,
                "status": answer.get("status") if status == 200 else None,
                "version": answer.get("version") if status == 200 else None,
                "body": answer if status >= 500 or status not in (200, 409) else None,
                **extra,
            }
        )

    def report_status(self, machine_id: str) -> None:
        """A provisioner's status report, of any status: the server must refuse bad moves."""
        target = self.rng.choice(MACHINE_STATUSES)
        body = {"status": target}
        if target == "failed":
            body["status_reason"] = f"{self.name}: no capacity"
        status, answer = self.call("POST", f"/api/v1/machines/{machine_id}/status/", body)
        self.record("machine-status", machine_id, target, status, answer)

    def add_tag(self, machine_id: str, number: int) -> None:
        """Read, add one tag, write back with the version read; on a conflict read again."""
        key = f"{self.name}-{number}"
        for _attempt in range(TAG_RETRIES):
            status, current = self.call("GET", f"/api/v1/machines/{machine_id}/")
            self.record("machine-read", machine_id, None, status, current)
            if status != 200:
                return
            body = {"tags": {**current["tags"], key: "1"}, "version": current["version"]}
            status, answer = self.call("PATCH", f"/api/v1/machines/{machine_id}/", body)
            self.record("machine-tag", machine_id, key, status, answer, read_version=current["version"])
            if status != 409 or answer.get("code") != "version_conflict":
                return

    def move_request(self, request_id: str) -> None:
        target = self.rng.choice(REQUEST_TERMINALS)
        status, answer = self.call("POST", f"/api/v1/requests/{request_id}/status/", {"status": target})
        self.record("request-status", request_id, target, status, answer)


def run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    client = Client(plan["base"], plan["token"], plan["name"], random.Random(plan["seed"]))
    machines, requests = plan["machine_ids"], plan["request_ids"]
    for number in range(plan["operations"]):
        roll = client.rng.random()
        if roll < 0.45:
            client.report_status(client.rng.choice(machines))
        elif roll < 0.85:
            client.add_tag(client.rng.choice(machines), number)
        else:
            client.move_request(client.rng.choice(requests))
    for request_id in requests:  # every request ends: each client tries to finish each one
        client.move_request(request_id)
    return client.records


def attempts(client: Client, call: dict[str, Any]) -> list[dict[str, Any]]:
    """One call of a round: ``method``, ``path``, ``body``; optional ``token`` (another
    user's than the client's), ``delay`` (seconds to
    wait first) and, to retry as Host Factory does, ``until`` (statuses that end it),
    ``retry_for`` (seconds) and ``pause`` (between attempts). Every attempt is kept."""
    time.sleep(call.get("delay", 0))
    deadline = time.monotonic() + call.get("retry_for", 0)
    made = []
    while True:
        try:
            status, answer = client.call(call["method"], call["path"], call.get("body"), call.get("token"))
        except OSError as error:  # the server itself away: an answer too, of a kind
            status, answer = 0, {"error": f"{type(error).__name__}: {error}"}
        made.append({"http": status, "body": answer, "at": time.time()})
        if status in call.get("until", [status]) or time.monotonic() > deadline:
            return made
        time.sleep(call.get("pause", 0.1))


def serve(base: str, token: str) -> None:
    client = Client(base, token, "serve", random.Random(0))
    for line in sys.stdin:
        calls = json.loads(line)
        sys.stdout.write(json.dumps([attempts(client, call) for call in calls]) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(*sys.argv[2:4])
    else:
        json.dump(run(json.load(sys.stdin)), sys.stdout)
