"""``manage.py create_dynamodb_tables [--wait]``: in-process on moto, and as a real process
against dynalite configured only through the environment, as an operator runs it."""

from __future__ import annotations

import contextlib
import time

import boto3
import pytest
from django.core.management import CommandError, load_command_class

from tests.commands.support import dynamodb_environment, manage, run_command
from tests.conftest import storage_settings
from tests.support.dynalite import free_port

SUMMARY_NEW = "created 4 tables, 0 already existed"
SUMMARY_AGAIN = "created 0 tables, 4 already existed"


@pytest.fixture
def moto_storage(settings):
    """Settings pointing at DynamoDB on moto, with table names no table has yet."""
    from moto import mock_aws

    from hostfactory.storage import reset_repositories

    with mock_aws():
        settings.HOSTFACTORY_STORAGE = storage_settings("moto")
        yield settings.HOSTFACTORY_STORAGE
        reset_repositories()


def table_indexes(client, table_name: str) -> dict[str, str]:
    """Each index of the table with its projection type."""
    table = client.describe_table(TableName=table_name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    return {
        index["IndexName"]: index["Projection"]["ProjectionType"] for index in table.get("GlobalSecondaryIndexes", [])
    }


def test_help_says_what_it_creates_and_that_it_is_safe_to_rerun():
    command = load_command_class("hostfactory", "create_dynamodb_tables")
    text = command.create_parser("manage.py", "create_dynamodb_tables").format_help()

    for needle in ("DYNAMODB_TEMPLATES_TABLE", "indexes", "already exist", "--wait", "STORAGE_TYPE=dynamodb"):
        assert needle in text


def test_creates_the_four_tables_with_their_indexes_then_leaves_them_alone(moto_storage):
    first = run_command("create_dynamodb_tables", "--wait")

    assert SUMMARY_NEW in first.out
    client = boto3.client("dynamodb", region_name="us-east-1")
    tables = moto_storage["tables"]
    # The v2 layout (docs/storage-design.md): no template index, narrow keys-only indexes, and
    # whole items only on the sharded status index a sync pass reads.
    pending = {"pending-events": "KEYS_ONLY"}  # items holding events not moved to the history yet
    assert table_indexes(client, tables["templates"]) == pending
    search = {"search-id": "KEYS_ONLY"}  # prefix search (docs/storage-design.md)
    assert table_indexes(client, tables["requests"]) == {"status-keys": "KEYS_ONLY", **pending, **search}
    assert table_indexes(client, tables["history"]) == {"by-month": "ALL"}
    assert table_indexes(client, tables["machines"]) == {
        **pending,
        **search,
        "search-name": "KEYS_ONLY",
        "search-ip": "KEYS_ONLY",
        "status-shard": "ALL",
        "request-id-keys": "KEYS_ONLY",
        "return-request-id-keys": "KEYS_ONLY",
        "name-keys": "KEYS_ONLY",
    }

    again = run_command("create_dynamodb_tables", verbosity=2)

    assert SUMMARY_AGAIN in again.out
    assert f"already existed: {tables['machines']}" in again.out


def test_creates_only_the_missing_table(moto_storage):
    client = boto3.client("dynamodb", region_name="us-east-1")
    run_command("create_dynamodb_tables")
    client.delete_table(TableName=moto_storage["tables"]["requests"])

    output = run_command("create_dynamodb_tables", verbosity=2)

    assert "created 1 table, 3 already existed" in output.out
    assert f"created: {moto_storage['tables']['requests']}" in output.out


def test_refuses_the_memory_store(settings):
    settings.HOSTFACTORY_STORAGE = {"type": "memory"}

    with pytest.raises(CommandError, match="STORAGE_TYPE is 'memory': there are no tables to create"):
        run_command("create_dynamodb_tables")


def test_an_unreachable_endpoint_is_a_command_error_within_seconds(settings):
    settings.HOSTFACTORY_STORAGE = {**storage_settings("dynalite", f"http://127.0.0.1:{free_port()}")}
    started = time.monotonic()

    with pytest.raises(CommandError, match="DynamoDB is unreachable"):
        run_command("create_dynamodb_tables")

    assert time.monotonic() - started < 15


@pytest.mark.dynalite
def test_as_a_process_configured_by_the_environment(dynalite_server, tmp_path):
    storage = storage_settings("dynalite", dynalite_server.endpoint)
    env = dynamodb_environment(storage, tmp_path)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=dynalite_server.endpoint)
    try:
        first = manage("create_dynamodb_tables", "--wait", env=env)
        assert first.returncode == 0, first.stderr
        assert SUMMARY_NEW in first.stdout
        assert set(storage["tables"].values()) <= set(client.list_tables()["TableNames"])
    finally:
        for table in storage["tables"].values():
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=table)


def test_as_a_process_against_a_dead_endpoint_fails_with_one_clear_line(tmp_path):
    storage = storage_settings("dynalite", f"http://127.0.0.1:{free_port()}")

    result = manage("create_dynamodb_tables", env=dynamodb_environment(storage, tmp_path))

    assert result.returncode != 0
    assert "CommandError: DynamoDB is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert "created" not in result.stdout
