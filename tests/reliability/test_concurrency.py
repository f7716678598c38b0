"""Several client processes hammer the same machines and requests through gunicorn (three
worker processes) on the same DynamoDB tables (dynalite), as provisioners, plugins and
operators do in production. Every answer is recorded; afterwards the stored data must hold
every acknowledged change, in an order the transition tables allow."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from functools import cache

import pytest

from machines_app.domain import MACHINE_TRANSITIONS, MachineStatus
from requests_app.domain import REQUEST_TRANSITIONS, TERMINAL_STATUSES, RequestStatus
from tests.conftest import storage_settings
from tests.reliability.live import ROOT, Gunicorn, fresh_tables, prepare_database, server_environment
from tests.support import aggregates

pytestmark = [pytest.mark.dynalite, pytest.mark.slow]

CLIENTS = 4
OPERATIONS = 45  # per client, then each client tries to finish every request
REQUESTS = 4
MACHINES_PER_REQUEST = 3


@pytest.fixture
def fleet(dynalite_server, tmp_path):
    """Fresh tables with a few pending requests and their pending machines, and gunicorn
    serving them with three worker processes."""
    storage = storage_settings("dynalite", dynalite_server.endpoint)
    repos = fresh_tables(storage)
    template = repos.templates.save(aggregates.template("tpl-hammer", max_number=-1))
    requests, machines = [], []
    for _ in range(REQUESTS):
        request = repos.requests.save(
            aggregates.acquire_request(template_id=template.template_id, machine_count=MACHINES_PER_REQUEST)
        )
        requests.append(request)
        for _ in range(MACHINES_PER_REQUEST):
            machines.append(
                aggregates.store_machine(
                    repos, aggregates.machine(request_id=request.request_id, template_id=template.template_id)
                )
            )
    env = server_environment(tmp_path, storage)
    tokens = prepare_database(env)
    with Gunicorn(env, tmp_path, workers=3) as server:
        yield repos, server, tokens["operator"], requests, machines
    for repo in repos.tables():
        repo.delete_table()


def hammer(server: Gunicorn, token: str, requests, machines) -> list[dict]:
    """Run the client processes at once; every record of every client."""
    processes = []
    for number in range(CLIENTS):
        plan = {
            "base": server.url,
            "token": token,
            "name": f"c{number}",
            "seed": 1000 + number,
            "operations": OPERATIONS,
            "machine_ids": [m.machine_id for m in machines],
            "request_ids": [r.request_id for r in requests],
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.clients"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        process.stdin.write(json.dumps(plan))
        process.stdin.close()
        processes.append(process)
    records = []
    for process in processes:
        process.wait(timeout=240)
        output, errors = process.stdout.read(), process.stderr.read()
        assert process.returncode == 0, errors
        records.extend(json.loads(output))
    return records


@cache
def reachable(machine, start):
    """Every status reachable from ``start`` in zero or more moves of ``machine``."""
    seen, todo = {start}, [start]
    while todo:
        for target in machine.allowed(todo.pop()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return frozenset(seen)


def observed_history(records: list[dict], entity_id: str) -> list[tuple[int, str]]:
    """Every (version, status) an answer showed for ``entity_id``, by version. A version is
    one stored state, so two answers showing the same version must show the same status."""
    states: dict[int, str] = {}
    for record in records:
        if record["id"] == entity_id and record["http"] == 200 and record["version"] is not None:
            assert states.setdefault(record["version"], record["status"]) == record["status"], (
                f"{entity_id} version {record['version']} answered as {states[record['version']]} "
                f"and as {record['status']}"
            )
    return sorted(states.items())


def assert_valid_sequence(machine, kind: type, history: list[tuple[int, str]], final: str, entity_id: str) -> None:
    """Each observed status is reachable from the one before it, and the stored one from the last."""
    statuses = [kind(status) for _version, status in history] + [kind(final)]
    for before, after in itertools.pairwise(statuses):
        assert after in reachable(machine, before), f"{entity_id}: {before} then {after}\n{history}"


def test_concurrent_writers_lose_nothing_and_follow_the_transition_tables(fleet):
    repos, server, token, requests, machines = fleet
    records = hammer(server, token, requests, machines)

    # Every answer is an acknowledgement or a clean refusal: nothing failed, nothing was a 5xx.
    refused = {"invalid_transition", "version_conflict"}
    unexpected = [r for r in records if not (r["http"] == 200 or (r["http"] == 409 and r["code"] in refused))]
    assert not unexpected, f"{len(unexpected)} unexpected answers, e.g. {unexpected[:5]}\n{server.log()}"
    acknowledged = [r for r in records if r["http"] == 200 and r["kind"] != "machine-read"]
    conflicts = [r for r in records if r["http"] == 409]
    assert len(acknowledged) > CLIENTS * OPERATIONS // 3 and conflicts, "the clients did not contend"

    for initial in machines:
        stored = repos.machines.get_by_id(initial.machine_id)
        mine = [r for r in records if r["id"] == initial.machine_id]
        writes = [r for r in mine if r["http"] == 200 and r["kind"] in ("machine-status", "machine-tag")]
        tags = [r for r in mine if r["http"] == 200 and r["kind"] == "machine-tag"]
        # No lost update: every acknowledged tag is there, each from its own version ...
        assert {r["sent"] for r in tags} <= set(stored.tags), f"{initial.machine_id}: a tag was lost"
        assert len({r["read_version"] for r in tags}) == len(tags), f"{initial.machine_id}: two writes, one version"
        # ... and every acknowledged write moved the version on at least once.
        assert stored.version - initial.version >= len(writes), (initial.machine_id, stored.version, len(writes))
        history = observed_history(records, initial.machine_id)
        assert_valid_sequence(MACHINE_TRANSITIONS, MachineStatus, history, stored.status, initial.machine_id)
        for client in {r["client"] for r in mine}:  # each client sees its own writes in order
            seen = [r["version"] for r in mine if r["client"] == client and r["http"] == 200]
            assert seen == sorted(seen), f"{initial.machine_id}: {client} saw versions go back: {seen}"

    for initial in requests:
        stored = repos.requests.get_by_id(initial.request_id)
        assert stored.status in TERMINAL_STATUSES and stored.completed_at is not None, stored
        finished = {
            r["status"]
            for r in records
            if r["id"] == initial.request_id and r["http"] == 200 and r["status"] in TERMINAL_STATUSES
        }
        assert finished == {stored.status.value}, f"{initial.request_id} ended as {finished}, stored {stored.status}"
        history = observed_history(records, initial.request_id)
        assert_valid_sequence(REQUEST_TRANSITIONS, RequestStatus, history, stored.status, initial.request_id)
    summary = defaultdict(int)
    for record in records:
        summary[(record["kind"], record["http"], record["code"])] += 1
    print(dict(summary))
