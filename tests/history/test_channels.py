"""One machine changed through each channel the admin and REST tests do not cover: a Host
Factory operation over HTTP, a command as a real process, and the provisioner's pass with its
sync. Each change's history names its channel, who acted and why."""

from __future__ import annotations

import getpass
from io import StringIO

import pytest
from django.core.management import call_command

from tests.commands.support import dynamodb_environment, manage
from tests.conftest import storage_settings
from tests.providers.support import sample_templates
from tests.support import aggregates


def newest(repos, machine_id: str):
    return repos.machines.history(machine_id).items[0]


def test_a_host_factory_operation_is_recorded_with_its_name_and_the_plugin_token_owner(fleet, plugin, storage):
    machine = fleet.machine
    body = {"machines": [{"name": machine.name, "machineId": machine.machine_id}]}

    answer = plugin.post("/api/v1/hostfactory/requestReturnMachines", body, format="json")

    assert answer.status_code == 200, answer.content
    event = newest(storage, machine.machine_id)
    assert (event.channel, event.actor, event.reason) == ("hostfactory", "plugin", "requestReturnMachines")
    assert event.changes == {"return_request_id": [None, answer.json()["requestId"]]}


@pytest.mark.dynalite
def test_a_command_run_as_a_process_is_recorded_as_the_command_line_and_the_os_user(dynalite_server, tmp_path):
    from hostfactory.storage import build_repositories
    from hostfactory.storage.config import StorageConfig

    data = storage_settings("dynalite", dynalite_server.endpoint)
    repos = build_repositories(StorageConfig.from_settings(data))
    for repo in repos.tables():
        repo.create_table()
    try:
        machine = repos.machines.save(aggregates.machine())
        done = manage(
            "update_machine_status",
            machine.machine_id,
            "failed",
            "--reason",
            "disk gone",
            env=dynamodb_environment(data, tmp_path),
        )
        assert done.returncode == 0, done.stderr

        event = newest(repos, machine.machine_id)
        assert (event.channel, event.actor) == ("command", getpass.getuser())
        assert event.reason == f"manage.py update_machine_status {machine.machine_id} failed --reason disk gone"
        assert event.changes == {"status": ["pending", "failed"], "status_reason": ["", "disk gone"]}
    finally:
        for repo in repos.tables():
            repo.delete_table()


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_a_provision_pass_records_its_launches_as_the_provisioner_and_its_sync_as_sync(cloud):
    cloud.add(sample_templates(cloud.network)["RunInstances"])
    request = cloud.acquire("RunInstances", 1)

    call_command("provision", "--once", stdout=StringIO(), stderr=StringIO())

    [machine] = cloud.machines(request)
    events = cloud.repos.machines.history(machine.machine_id).items
    created = events[-1]
    assert (created.channel, created.actor, created.reason) == ("provisioner", getpass.getuser(), "manage.py provision")
    assert created.changes["request_id"] == [None, request.request_id]
    # The same pass asked the cloud and found the instance running: its sync's move.
    synced = events[0]
    assert (synced.channel, synced.reason) == ("sync", "provision pass: sync with the cloud")
    assert synced.changes == {"status": ["pending", "running"]}
    record = cloud.repos.history.last_pass("provision")
    assert (record.ok, record.machines, record.requests) == (
        True,
        {"running": {"RunInstances": 1}},
        {"in_progress": {"acquire": 1}},
    )


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_a_missing_history_table_makes_health_a_503(storage, anonymous, settings):
    """Without it every change's event would stay on its item: the service is not healthy."""
    storage.history.delete_table()

    response = anonymous.get("/api/v1/health/")

    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "unavailable"
