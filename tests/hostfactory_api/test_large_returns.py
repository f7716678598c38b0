"""A return of more hosts than one call claims (HOSTFACTORY_RETURN_CLAIMS_PER_CALL): the call
answers after claiming the first ones, and the return claims the rest as it is polled, or at
once in a provision pass; every host answers in its status meanwhile, and a crash between a
claim and its record loses nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hostfactory.domain import utcnow
from hostfactory.errors import StorageUnavailable
from hostfactory.fleet.machines import machine_update_status
from hostfactory.providers.none import NoneProvider
from hostfactory.providers.services import provision_run
from tests.api.fixtures import add_acquire, add_template, launch
from tests.hostfactory_api.test_endpoints import call, hosts, status_of

pytestmark = pytest.mark.decides


@pytest.fixture
def five(storage, settings):
    settings.HOSTFACTORY_RETURN_CLAIMS_PER_CALL = 2
    add_template(storage, max_number=-1)
    return launch(storage, add_acquire(storage, count=5))


def held_by(storage, request_id: str) -> set[str]:
    machines = storage.machines.get_many(all_ids(storage, request_id))
    return {m.machine_id for m in machines if m.return_request_id == request_id}


def all_ids(storage, request_id: str) -> list[str]:
    request = storage.requests.get_by_id(request_id)
    return [*request.machine_ids, *request.other_hosts]


def test_polls_claim_the_rest_of_a_large_return(storage, plugin, five):
    answer = call(plugin, "requestReturnMachines", hosts(*five)).json()
    return_id = answer["requestId"]
    assert answer["message"] == "Delete VM success."
    assert len(held_by(storage, return_id)) == 2  # the call claimed its share only

    entry = status_of(plugin, return_id)[0]
    assert entry["status"] == "running"
    assert {m["machineId"]: m["result"] for m in entry["machines"]} == {m.machine_id: "executing" for m in five}
    assert len(held_by(storage, return_id)) == 4

    status_of(plugin, return_id)
    request = storage.requests.get_by_id(return_id)
    assert held_by(storage, return_id) == {m.machine_id for m in five}
    assert set(request.machine_ids) == {m.machine_id for m in five}
    assert (request.other_hosts, request.machine_count) == ((), 5)


def test_a_large_return_completes_only_when_every_host_is_gone(storage, plugin, five):
    return_id = call(plugin, "requestReturnMachines", hosts(*five)).json()["requestId"]
    for machine_id in held_by(storage, return_id):
        machine_update_status(repos=storage, machine_id=machine_id, status="terminated")

    entry = status_of(plugin, return_id)[0]  # the two claimed are gone, three still to claim
    assert entry["status"] == "running"
    results = sorted(m["result"] for m in entry["machines"])
    assert results == ["executing"] * 3 + ["succeed"] * 2


@pytest.mark.reads_index  # the pass finds active returns through the status index
def test_a_provision_pass_claims_every_host_of_a_return(storage, plugin, five):
    return_id = call(plugin, "requestReturnMachines", hosts(*five)).json()["requestId"]

    provision_run(repos=storage, provider=NoneProvider(), sync=False)

    assert held_by(storage, return_id) == {m.machine_id for m in five}


def test_a_crash_between_claim_and_record_is_picked_up_by_the_next_poll(storage, plugin, five, monkeypatch):
    return_id = call(plugin, "requestReturnMachines", hosts(*five)).json()["requestId"]

    def storage_fails(*args, **kwargs):
        raise StorageUnavailable("requests table unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(type(storage.requests), "adopt_hosts", storage_fails)
        assert call(plugin, "getRequestStatus", {"requests": [{"requestId": return_id}]}).status_code == 503
    assert len(held_by(storage, return_id)) == 4  # claimed, not yet recorded on the return

    status_of(plugin, return_id)
    status_of(plugin, return_id)
    request = storage.requests.get_by_id(return_id)
    assert set(request.machine_ids) == {m.machine_id for m in five} and request.other_hosts == ()


def test_a_return_that_times_out_leaves_its_unclaimed_hosts_free(storage, plugin, five):
    return_id = call(plugin, "requestReturnMachines", hosts(*five)).json()["requestId"]
    request = storage.requests.get_by_id(return_id)
    storage.requests.save(request.replace(deadline=utcnow() - timedelta(seconds=1)))

    entry = status_of(plugin, return_id)[0]

    assert entry["status"] == "complete_with_error"
    assert all(m.return_request_id is None for m in storage.machines.get_many([m.machine_id for m in five]))
    answer = call(plugin, "requestReturnMachines", hosts(*five)).json()  # Host Factory asks again
    assert answer["message"] == "Delete VM success."
