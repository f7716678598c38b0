"""What only the in-memory backend promises (storage.md): stored aggregates cannot be changed
without ``save``, it is safe to share between threads, its finders use its indexes, and it can
be pre-loaded from a Host Factory templates file."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading

import pytest

from hostfactory.storage import build_repositories, get_repositories
from hostfactory.storage.config import StorageConfig
from machines_app.domain import MachineStatus
from requests_app.domain import RequestType, new_request_id
from templates_app.services import TemplateFileError
from tests.support import aggregates
from tests.support.samples import OHFP_TEMPLATES

# A real Host Factory templates file (the Open Host Factory Plugin's AWS sample).
SAMPLE_TEMPLATES = OHFP_TEMPLATES


@pytest.fixture
def memory():
    return build_repositories(StorageConfig(type="memory"))


@pytest.fixture
def busy_threads():
    """Switch threads as often as possible, so unlocked read-modify-write code would fail."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


# -- immutable aggregates ------------------------------------------------------------------


def test_aggregates_are_frozen(memory):
    stored = memory.templates.save(aggregates.template())

    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.max_number = 99


def test_changing_a_returned_dict_does_not_change_stored_data(memory):
    template = memory.templates.save(aggregates.template("t1"))
    machine = memory.machines.save(aggregates.machine("i-1", tags={"team": "hpc"}))
    request = memory.requests.save(aggregates.acquire_request(provider_data={"fleet": {"id": "fleet-1"}}))

    for copy in (memory.templates.get_by_id("t1"), template, memory.templates.get_all()[0]):
        copy.attributes["ncpus"][1] = "64"
        copy.attributes["gpu"] = ["Boolean", "1"]
        copy.provider_config["securityGroupIds"].append("sg-evil")
    for copy in (memory.machines.get_by_id("i-1"), machine, memory.machines.get_by_request_id(machine.request_id)[0]):
        copy.tags["team"] = "changed"
    for copy in (memory.requests.get_by_id(request.id), memory.requests.get_active_requests()[0]):
        copy.provider_data["fleet"]["id"] = "changed"

    assert memory.templates.get_by_id("t1").attributes == aggregates.template().attributes
    assert memory.templates.get_by_id("t1").provider_config["securityGroupIds"] == ["sg-1"]
    assert memory.templates.find_by_attributes({"ncpus": 64}) == []
    assert memory.machines.get_by_instance_ids(["i-1"])[0].tags == {"team": "hpc"}
    assert memory.requests.get_by_id(request.id).provider_data == {"fleet": {"id": "fleet-1"}}


def test_changing_a_saved_value_afterwards_does_not_change_stored_data(memory):
    tags = {"team": "hpc"}
    entity = aggregates.machine("i-1", tags=tags)
    memory.machines.save(entity)

    tags["team"] = "changed"
    entity.tags["extra"] = "x"

    assert memory.machines.get_by_id("i-1").tags == {"team": "hpc"}


# -- thread safety -------------------------------------------------------------------------


def test_concurrent_writers_leave_the_store_and_its_indexes_consistent(memory, busy_threads):
    requests = [new_request_id(RequestType.ACQUIRE) for _ in range(4)]
    errors = []

    def writer(number: int):
        try:
            for n in range(50):
                machine_id = f"i-{number:02d}{n:03d}"
                memory.machines.save(aggregates.machine(machine_id, request_id=requests[n % 4]))
                assert memory.machines.update_status(machine_id, "running") is not None
                if n % 5 == 0:
                    assert memory.machines.delete(machine_id) is True
        except Exception as error:  # reported below: a thread's exception would be lost
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    everything = memory.machines.get_all()
    assert len(everything) == 8 * 40
    assert len({machine.id for machine in everything}) == 8 * 40
    assert {machine.status for machine in everything} == {MachineStatus.RUNNING}
    assert len(memory.machines.get_by_status("running")) == 8 * 40
    assert memory.machines.get_by_status("pending") == []
    assert sum(len(memory.machines.get_by_request_id(request_id)) for request_id in requests) == 8 * 40
    paged, cursor = [], None
    while True:
        page = memory.machines.list_page(limit=100, cursor=cursor)
        paged += [machine.id for machine in page.items]
        if not (cursor := page.next_cursor):
            break
    assert sorted(paged) == sorted(machine.id for machine in everything)


def test_concurrent_status_updates_each_apply_exactly_once(memory, busy_threads):
    machine_ids = [memory.machines.save(aggregates.machine(f"i-{n:04d}")).id for n in range(200)]
    wins = []

    def run_them_all():
        wins.append(sum(memory.machines.update_status(machine_id, "running") is not None for machine_id in machine_ids))

    threads = [threading.Thread(target=run_them_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # running -> running is an allowed no-op that still counts as applied, so every call wins,
    # but each machine moved once from pending: version 2 after the move, +1 per no-op.
    assert sum(wins) == 4 * 200
    assert {machine.version for machine in memory.machines.get_all()} == {5}
    assert len(memory.machines.get_by_status("running")) == 200


# -- indexes -------------------------------------------------------------------------------


class _NoFullWalk(list):
    def __iter__(self):
        raise AssertionError("walked every stored id; an index should have answered")


def test_indexed_finders_do_not_walk_the_whole_store(memory):
    request_id = new_request_id(RequestType.ACQUIRE)
    for n in range(30):
        memory.machines.save(
            aggregates.machine(request_id=request_id if n < 3 else new_request_id(RequestType.ACQUIRE))
        )
        memory.requests.save(aggregates.acquire_request())
    for repo in (memory.requests, memory.machines):  # the (small) templates table has no index
        repo._order = _NoFullWalk(repo._order)

    assert len(memory.machines.get_by_request_id(request_id)) == 3
    assert len(memory.machines.get_by_status("pending")) == 30
    assert len(memory.machines.get_all(filters={"request_id": request_id, "status": "pending"})) == 3
    assert len(memory.requests.get_active_requests()) == 30
    assert len(memory.requests.list_page(filters={"status": "pending"}, limit=10).items) == 10
    with pytest.raises(AssertionError, match="walked every stored id"):
        memory.machines.get_all()  # no filter: a full listing walks everything, as it must


# -- pre-loading a templates file ----------------------------------------------------------


def test_memory_store_is_preloaded_from_hostfactory_templates_file(settings):
    expected = [template["templateId"] for template in json.loads(SAMPLE_TEMPLATES.read_text())["templates"]]
    settings.HOSTFACTORY_STORAGE = {"type": "memory", "templates_file": str(SAMPLE_TEMPLATES)}

    repos = get_repositories()

    loaded = repos.templates.get_all()
    assert sorted(template.template_id for template in loaded) == sorted(expected)
    assert all(template.version == 1 for template in loaded)
    fleet = repos.templates.get_by_id("EC2FleetInstant")
    assert (fleet.provider_api, fleet.max_number, fleet.provider_config["fleetType"]) == ("EC2Fleet", 2, "instant")
    assert fleet.attributes["ncpus"] == ["Numeric", "1"]
    assert get_repositories() is repos  # loaded once, not on every call


def test_a_bad_templates_file_stops_the_store_from_being_built(settings, tmp_path):
    broken = tmp_path / "templates.json"
    broken.write_text('{"templates": [{"templateId": "bad id", "maxNumber": 1, "attributes": {}}]}')
    settings.HOSTFACTORY_STORAGE = {"type": "memory", "templates_file": str(broken)}

    with pytest.raises(TemplateFileError, match=r"template #1 \('bad id'\).*templateId"):
        get_repositories()
