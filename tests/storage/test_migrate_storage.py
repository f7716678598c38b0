"""``manage.py migrate_storage [--dry-run]``: v1 tables with data, migrated in place, then read
back through the v2 repositories; on moto and on dynalite (which ignores UpdateTable's index
changes, so its tables are rebuilt), in-process and as a real process."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.management import CommandError, load_command_class

from hostfactory.errors import DomainValidationError
from hostfactory.fleet.capacity import capacity_count
from hostfactory.storage import build_repositories
from hostfactory.storage.config import StorageConfig
from hostfactory.storage.migration import BACKUP_SUFFIX, Migration
from machines_app.domain import MachineStatus
from tests.commands.support import dynamodb_environment, manage, run_command
from tests.conftest import storage_settings
from tests.support.v1_storage import create_v1_tables, delete_tables, put_v1_fleet

V2_INDEXES = {
    "templates": {"pending-events": "KEYS_ONLY"},
    "requests": {"status-keys": "KEYS_ONLY", "pending-events": "KEYS_ONLY", "search-id": "KEYS_ONLY"},
    "machines": {
        "pending-events": "KEYS_ONLY",
        "search-id": "KEYS_ONLY",
        "search-name": "KEYS_ONLY",
        "search-ip": "KEYS_ONLY",
        "status-shard": "ALL",
        "request-id-keys": "KEYS_ONLY",
        "return-request-id-keys": "KEYS_ONLY",
        "name-keys": "KEYS_ONLY",
    },
}
STEPS = ("tables", "indexes", "machines", "requests", "ledger", "old indexes")


@pytest.fixture(params=["moto", "dynalite"])
def v1(request, settings):
    """Settings routed to v1 tables holding a small fleet; yields (v2 repositories, client, fleet)."""
    from hostfactory.storage import reset_repositories

    if request.param == "moto":
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
        request.addfinalizer(mock.stop)
        data = storage_settings("moto")
    else:
        data = storage_settings("dynalite", request.getfixturevalue("dynalite_server").endpoint)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=data["host"])
    tables = data["tables"]
    create_v1_tables(client, tables)
    names = [*tables.values(), *(f"{name}{BACKUP_SUFFIX}" for name in tables.values())]
    request.addfinalizer(lambda: delete_tables(client, names))
    settings.HOSTFACTORY_STORAGE = data
    reset_repositories()
    repos = build_repositories(StorageConfig.from_settings(data))
    yield repos, client, put_v1_fleet(client, repos)
    reset_repositories()


def indexes(client, repos) -> dict[str, dict[str, str]]:
    layout = {}
    for repo in repos.all():
        table = client.describe_table(TableName=repo.table_name)["Table"]
        assert table["TableStatus"] == "ACTIVE"
        found = table.get("GlobalSecondaryIndexes", [])
        layout[repo.table_key] = {i["IndexName"]: i["Projection"]["ProjectionType"] for i in found}
    return layout


def dump(client, repos) -> dict:
    """Every item of every table, and the tables' indexes: what "writes nothing" compares."""
    items = {}
    for repo in repos.all():
        pages = client.get_paginator("scan").paginate(TableName=repo.table_name, ConsistentRead=True)
        items[repo.table_key] = sorted(str(sorted(item.items())) for page in pages for item in page["Items"])
    return {"items": items, "indexes": indexes(client, repos)}


def step_counts(output: str) -> dict[str, int]:
    counts = {}
    for line in output.splitlines():
        name, _, rest = line.partition(": ")
        if name in STEPS:
            counts[name] = int(rest.split()[0])
    return counts


def assert_migrated(client, repos, fleet) -> None:
    assert indexes(client, repos) == V2_INDEXES
    for request_id, machine_ids in fleet.machine_ids.items():
        assert repos.requests.get_by_id(request_id).machine_ids == machine_ids
    assert {m.machine_id for m in repos.machines.get_by_status(MachineStatus.RUNNING)} == fleet.running
    assert {m.machine_id for m in repos.machines.get_by_request_id(fleet.acquire)} == set(
        fleet.machine_ids[fleet.acquire]
    )
    assert [m.machine_id for m in repos.machines.get_by_return_request_id(fleet.active_return)] == list(
        fleet.machine_ids[fleet.active_return]
    )
    counted = capacity_count(repos=repos)
    for template, usage in repos.templates.get_all_with_usage():
        assert usage.used == fleet.used[template.template_id] == counted[template.template_id].used
        assert set(usage.reservations) == set(counted[template.template_id].reservations)
    assert set(repos.templates.usage("tpl-a").reservations) == {fleet.acquire}


def test_help_says_what_it_does_and_that_a_rerun_completes_it():
    command = load_command_class("hostfactory", "migrate_storage")
    text = command.create_parser("manage.py", "migrate_storage").format_help()
    for needle in ("v1", "indexes", "ACTIVE", "running it again", "--dry-run", "Stop the service"):
        assert needle in text


def test_migrates_v1_tables_so_the_v2_repositories_read_everything_then_a_rerun_is_a_no_op(v1):
    repos, client, fleet = v1

    first = run_command("migrate_storage")

    counts = step_counts(first.out)
    assert counts["tables"] == 1  # the event history's table, which v1 did not have
    assert counts["machines"] == len(fleet.running) + 2  # every machine got its status_shard
    assert counts["requests"] == len(fleet.machine_ids)
    assert counts["ledger"] == 3  # tpl-a, tpl-b, tpl-c recounted from 0
    assert_migrated(client, repos, fleet)

    again = run_command("migrate_storage")
    assert step_counts(again.out) == dict.fromkeys(STEPS, 0)
    assert again.out.splitlines()[-1] == "nothing to migrate: the tables are on the current layout"


def test_the_migrated_store_takes_new_work(v1):
    """A new acquire request on the migrated tables reserves against the recounted ledger."""
    from hostfactory.fleet.requests import request_create_acquire

    repos, _client, _fleet = v1
    run_command("migrate_storage")
    with pytest.raises(DomainValidationError, match="machine_count: must be at most 4"):
        request_create_acquire(repos=repos, template_id="tpl-b", machine_count=5)
    request_create_acquire(repos=repos, template_id="tpl-b", machine_count=4)
    assert repos.templates.usage("tpl-b").used == 5


def test_dry_run_prints_the_plan_and_writes_nothing(v1):
    repos, client, fleet = v1
    before = dump(client, repos)

    planned = run_command("migrate_storage", "--dry-run")

    assert dump(client, repos) == before
    counts = step_counts(planned.out)
    assert counts["machines"] == len(fleet.running) + 2
    assert counts["requests"] == len(fleet.machine_ids)
    assert counts["old indexes"] == 6
    assert "machines: 34 would be given status_shard" in planned.out
    assert planned.out.splitlines()[-1].startswith("migrate_storage would change ")


def test_a_run_that_storage_stops_half_way_is_completed_by_the_next(v1, monkeypatch):
    repos, client, fleet = v1

    def storage_dies(self):
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    with monkeypatch.context() as patched:
        patched.setattr(Migration, "requests", storage_dies)
        with pytest.raises(CommandError, match=r"DynamoDB is unreachable .*'requests'.*run it again"):
            run_command("migrate_storage")
    # Steps 1-3 are done: the v2 indexes exist and the machines have their shard key.
    assert repos.machines.get_by_status(MachineStatus.RUNNING)
    assert repos.requests.get_by_id(fleet.acquire).machine_ids == ()

    rerun = run_command("migrate_storage")

    counts = step_counts(rerun.out)
    assert counts["indexes"] == counts["machines"] == 0
    assert counts["requests"] == len(fleet.machine_ids)
    assert_migrated(client, repos, fleet)


def test_an_interrupted_table_rebuild_is_finished_by_the_next_run(v1):
    """The rebuild path (a server that ignores index changes): a run that died after deleting
    the original table loses nothing; the backup is copied back."""
    repos, client, fleet = v1
    machines = repos.machines.table_name
    migration = Migration(repos, client=client)
    backup = f"{machines}{BACKUP_SUFFIX}"
    client.create_table(
        TableName=backup,
        KeySchema=[{"AttributeName": "machine_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "machine_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    migration.copy(machines, backup)
    client.delete_table(TableName=machines)

    done = run_command("migrate_storage")

    assert step_counts(done.out)["tables"] == 2  # the machines table again, and the new history table
    assert f"rebuilt {machines} in the v2 layout ({len(fleet.running) + 2} items)" in done.out
    assert backup not in client.list_tables()["TableNames"]
    assert_migrated(client, repos, fleet)


def test_refuses_the_memory_store(settings):
    settings.HOSTFACTORY_STORAGE = {"type": "memory"}
    with pytest.raises(CommandError, match="STORAGE_TYPE is 'memory'"):
        run_command("migrate_storage")


@pytest.mark.dynalite
@pytest.mark.slow
def test_as_a_process_against_dynalite(dynalite_server, tmp_path):
    data = storage_settings("dynalite", dynalite_server.endpoint)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=data["host"])
    create_v1_tables(client, data["tables"])
    repos = build_repositories(StorageConfig.from_settings(data))
    env = dynamodb_environment(data, tmp_path)
    try:
        fleet = put_v1_fleet(client, repos)
        done = manage("migrate_storage", env=env)
        assert done.returncode == 0, done.stderr
        assert step_counts(done.stdout)["requests"] == len(fleet.machine_ids)
        assert_migrated(client, repos, fleet)
        again = manage("migrate_storage", env=env)
        assert again.stdout.splitlines()[-1] == "nothing to migrate: the tables are on the current layout"
    finally:
        delete_tables(client, [*data["tables"].values(), *(f"{t}{BACKUP_SUFFIX}" for t in data["tables"].values())])
