"""What the hot paths cost on DynamoDB, in calls (deterministic, so asserted exactly), beside
the targets of docs/storage-design.md: independent of the fleet, items read = items answered."""

from __future__ import annotations

import contextlib

import pytest

from hostfactory.fleet.machines import machine_register
from hostfactory.fleet.requests import request_create_acquire
from hostfactory.hostfactory_api.services import (
    hf_get_available_templates,
    hf_get_request_status,
    hf_request_return_machines,
)
from hostfactory.providers.none import NoneProvider
from hostfactory.providers.services import provision_run
from hostfactory.storage.history import acting
from tests.support import aggregates
from tests.support.dynamodb_calls import count_dynamodb_calls

HOSTS = 120  # more than one batch of 100


def a_fleet(repos, *, idle: int):
    """A template with a request of HOSTS registered machines, beside ``idle`` live machines of
    another template that the measured calls have nothing to do with."""
    repos.templates.save(aggregates.template("tpl", max_number=1000))
    repos.templates.save(aggregates.template("other", max_number=-1))
    request = request_create_acquire(repos=repos, template_id="tpl", machine_count=HOSTS)
    machines = [
        machine_register(repos=repos, machine=aggregates.machine(request_id=request.request_id, template_id="tpl"))
        for _ in range(HOSTS)
    ]
    bystander = request_create_acquire(repos=repos, template_id="other", machine_count=max(idle, 1))
    aggregates.bulk_save(
        repos.machines,
        [aggregates.machine(request_id=bystander.request_id, template_id="other") for _ in range(idle)],
    )
    return request, machines


@contextlib.contextmanager
def measuring(repos):
    """Calls to every table, the event history's included, of one unit of work (an HTTP
    request or a pass: its events move to the history when it ends)."""
    with count_dynamodb_calls(*repos.tables()) as counted, acting("hostfactory", actor="hfplugin"):
        yield counted


def costs(repos, idle: int) -> dict[str, tuple[dict, int]]:
    request, machines = a_fleet(repos, idle=idle)
    measured = {}
    with measuring(repos) as counted:
        request_create_acquire(repos=repos, template_id="tpl", machine_count=1)
    measured["requestMachines"] = (dict(counted.calls), counted.items_read)
    with measuring(repos) as counted:
        hf_get_request_status(repos=repos, request_ids=[request.request_id])
    measured["getRequestStatus"] = (dict(counted.calls), counted.items_read)
    with measuring(repos) as counted:
        hf_get_available_templates(repos=repos)
    measured["getAvailableTemplates"] = (dict(counted.calls), counted.items_read)
    with measuring(repos) as counted:
        repos.machines.update_status(machines[0].machine_id, "running")
    measured["status change"] = (dict(counted.calls), counted.items_read)
    with measuring(repos) as counted:
        provision_run(repos=repos, provider=NoneProvider())
    measured["provision pass"] = (dict(counted.calls), counted.items_read)
    with measuring(repos) as counted:
        hf_request_return_machines(repos=repos, hosts=[{"machineId": m.machine_id} for m in machines])
    measured["requestReturnMachines"] = (dict(counted.calls), counted.items_read)
    return measured


@pytest.mark.parametrize("backend_settings", ["moto", "dynalite"], indirect=True)
def test_hot_paths_cost_what_the_design_says(repos):
    measured = costs(repos, idle=0)
    # Read the template, reserve on it, write the request: 3 calls; then, when the unit of
    # work ends, the request's event to the history (one batch) and off its item (one update).
    assert measured["requestMachines"] == ({"GetItem": 1, "UpdateItem": 1 + 1, "PutItem": 1, "BatchWriteItem": 1}, 1)
    # k = 1 id: the request, then its 120 machines by id (two batches): k + ceil(m/100) calls,
    # no index read, and items read = items answered.
    assert measured["getRequestStatus"] == ({"BatchGetItem": 3}, 1 + HOSTS)
    # One read of the (small) templates table, whatever the fleet.
    assert measured["getAvailableTemplates"] == ({"Scan": 1}, 2)
    # One conditional write: status, reason, the sharded status key, the version and the
    # event together; then the event's move (a batch write and the item's clean-up).
    assert measured["status change"] == ({"UpdateItem": 1 + 1, "BatchWriteItem": 1}, 0)
    # ceil(n/100) batch reads, one conditional claim per host, the request, its first status.
    # The first HOSTFACTORY_RETURN_CLAIMS_PER_CALL hosts (100) are claimed in the call, the
    # other 20 by the return's polls (tests/hostfactory_api/test_large_returns.py); then the
    # request, and its first status move.
    # Then the 102 events in ceil(102/25) batch writes, and one clean-up per item written.
    calls, items = measured["requestReturnMachines"]
    assert calls == {"BatchGetItem": 2, "UpdateItem": 100 + 1 + 101, "PutItem": 1, "BatchWriteItem": 5}
    assert items == HOSTS


@pytest.mark.slow
@pytest.mark.parametrize("backend_settings", ["dynalite"], indirect=True)
def test_hot_paths_cost_the_same_beside_a_larger_fleet(repos, backend_settings):
    """The same calls and items beside 0 and 300 machines that need nothing (ratio 1), a
    provision pass included (it reads active requests, never the live fleet)."""
    assert costs(repos, idle=300) == costs_on_fresh_tables(backend_settings)


def costs_on_fresh_tables(backend_settings):
    from hostfactory.storage import build_repositories
    from hostfactory.storage.config import StorageConfig
    from tests.conftest import storage_settings

    fresh = build_repositories(StorageConfig.from_settings(storage_settings("dynalite", backend_settings[1]["host"])))
    for repo in fresh.tables():
        repo.create_table()
    try:
        return costs(fresh, idle=0)
    finally:
        for repo in fresh.tables():
            repo.delete_table()


@pytest.mark.parametrize("backend_settings", ["moto", "dynalite"], indirect=True)
def test_a_poll_that_completes_a_request_writes_twice_and_reads_nothing_again(repos):
    """The request and its machines (two batch reads), then its move to complete and the
    release of its reservation: two writes, no re-read of the template or the request."""
    repos.templates.save(aggregates.template("tpl", max_number=10))
    request = request_create_acquire(repos=repos, template_id="tpl", machine_count=2)
    for number in range(2):
        machine = machine_register(
            repos=repos, machine=aggregates.machine(request_id=request.request_id, template_id="tpl")
        )
        changes = {"name": f"ip-10-0-9-{number}", "private_ip_address": f"10.0.9.{number}"}
        repos.machines.update_status(machine.machine_id, "running", changes=changes)

    with measuring(repos) as counted:
        answer = hf_get_request_status(repos=repos, request_ids=[request.request_id])

    assert answer["requests"][0]["status"] == "complete"
    # The ledger release records no event (capacity is not a field of the template): one
    # event, the request's, moved in one batch write and one clean-up.
    assert dict(counted.calls) == {"BatchGetItem": 2, "UpdateItem": 2 + 1, "BatchWriteItem": 1}
