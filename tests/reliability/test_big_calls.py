"""Host Factory calls of the documented maximum, 10,000 hosts, under gunicorn with the
repository's gunicorn.conf.py on dynalite: known hosts, hosts we never heard of, and hosts sent
by name only. Each is answered (no WORKER TIMEOUT, no 500) with the right answer, in a bounded
number of storage calls; the times are printed beside the 5 s target (make bench measures)."""

from __future__ import annotations

import contextlib
import time

import pytest

from hostfactory.errors import StorageUnavailable
from machines_app.domain import MachineStatus
from tests.conftest import storage_settings
from tests.reliability.live import Gunicorn, call, fresh_tables, prepare_database, server_environment
from tests.support import aggregates

pytestmark = pytest.mark.slow

HOSTS = 10_000
TARGET_SECONDS = 5


@pytest.fixture(scope="module")
def big(dynalite_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    storage = storage_settings("dynalite", dynalite_server.endpoint)
    repos = fresh_tables(storage)
    fleets = {}
    for fleet in ("asked-by-id", "asked-by-name"):
        machines = [
            aggregates.machine(f"i-{fleet[9:11]}{n:015x}", name=f"ip-{fleet}-{n}", status=MachineStatus.RUNNING)
            for n in range(HOSTS)
        ]
        fleets[fleet] = aggregates.bulk_save(repos.machines, machines)
    env = server_environment(folder, storage)
    tokens = prepare_database(env)
    with Gunicorn(env, folder, workers=None) as server:
        yield server, tokens["plugin"], fleets
    for repo in repos.tables():
        with contextlib.suppress(StorageUnavailable):  # already gone
            repo.delete_table()


def hf(big, operation: str, hosts: list[dict]) -> dict:
    server, token, _fleets = big
    started = time.monotonic()
    answer = call(server.url, "POST", f"/api/v1/hostfactory/{operation}", token, {"machines": hosts}, timeout=60)
    seconds = time.monotonic() - started
    print(f"{operation} of {len(hosts)} hosts: {seconds:.2f} s (target {TARGET_SECONDS} s)")
    assert answer.status == 200 and answer.is_json, (answer.status, answer.text[:500], server.log())
    return answer.json


def test_ten_thousand_unknown_hosts(big):
    unknown = [{"name": f"ip-stranger-{n}", "machineId": f"i-ff{n:015x}"} for n in range(HOSTS)]

    assert hf(big, "getReturnRequests", unknown)["requests"] == []
    assert hf(big, "requestReturnMachines", unknown)["message"] == "No Active VM."


def test_ten_thousand_known_hosts(big):
    machines = big[2]["asked-by-id"]
    hosts = [{"name": m.name, "machineId": m.machine_id} for m in machines]

    assert hf(big, "getReturnRequests", hosts)["message"] == "No machines to return."
    answer = hf(big, "requestReturnMachines", hosts)
    assert answer["message"] == "Delete VM success."


def test_ten_thousand_hosts_named_only(big):
    machines = big[2]["asked-by-name"]
    hosts = [{"name": m.name} for m in machines]

    assert hf(big, "getReturnRequests", hosts)["message"] == "No machines to return."
    answer = hf(big, "requestReturnMachines", hosts)
    assert answer["message"] == "Delete VM success."
