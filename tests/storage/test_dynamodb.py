"""What only the DynamoDB backend promises (storage.md): hot lookups are Query, GetItem or
BatchGetItem calls that read only what they return, never a Scan; results span 1 MB pages;
tables carry their indexes; botocore errors surface as StorageUnavailable.

Calls and items read are counted with a botocore event hook (tests/support/dynamodb_calls.py).
"""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from hostfactory.errors import StorageUnavailable
from hostfactory.storage import build_repositories
from hostfactory.storage.config import StorageConfig
from hostfactory.storage.history import acting
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus, RequestType, new_request_id
from tests.support import aggregates
from tests.support.dynalite import free_port
from tests.support.dynamodb_calls import count_dynamodb_calls

on_dynamodb = pytest.mark.parametrize("backend_settings", ["moto", "dynalite"], indirect=True)


def ids(entities) -> list[str]:
    return [entity.id for entity in entities]


def low_level_client(backend_settings):
    return boto3.client("dynamodb", region_name="us-east-1", endpoint_url=backend_settings[1]["host"])


@pytest.fixture
def busy_tables(repos):
    """Requests and machines in several states, so a Scan would read far more than a finder returns."""
    req_a, req_b = new_request_id(RequestType.ACQUIRE), new_request_id(RequestType.ACQUIRE)
    statuses = [MachineStatus.RUNNING, MachineStatus.PENDING, MachineStatus.TERMINATED]
    machines = [
        aggregates.machine(request_id=req_a if n % 4 == 0 else req_b, status=statuses[n % 3], name=f"host-{n}")
        for n in range(40)
    ]
    request_statuses = [RequestStatus.PENDING, RequestStatus.IN_PROGRESS, RequestStatus.COMPLETE, RequestStatus.FAILED]
    requests = [aggregates.acquire_request(status=request_statuses[n % 4]) for n in range(40)]
    aggregates.bulk_save(repos.machines, machines)
    aggregates.bulk_save(repos.requests, requests)
    return {"req_a": req_a, "machines": machines, "requests": requests}


FINDERS = {
    "machines.get_by_request_id": lambda repos, data: repos.machines.get_by_request_id(data["req_a"]),
    "machines.get_by_status": lambda repos, data: repos.machines.get_by_status("running"),
    "machines.get_by_name": lambda repos, data: repos.machines.get_by_name("host-7"),
    "requests.get_by_status": lambda repos, data: repos.requests.get_by_status("complete"),
    "requests.get_active_requests": lambda repos, data: repos.requests.get_active_requests(),
    "machines.get_all(status)": lambda repos, data: repos.machines.get_all(filters={"status": "pending"}),
    "requests.list_page(status)": lambda repos, data: repos.requests.list_page(filters={"status": "failed"}).items,
}
EXPECTED_COUNTS = {
    "machines.get_by_request_id": 10,
    "machines.get_by_status": 14,
    "machines.get_by_name": 1,
    "requests.get_by_status": 10,
    "requests.get_active_requests": 20,
    "machines.get_all(status)": 13,
    "requests.list_page(status)": 10,
}


@on_dynamodb
def test_finders_query_an_index_and_read_only_what_they_return(repos, busy_tables, subtests):
    for name, finder in FINDERS.items():
        with subtests.test(finder=name), count_dynamodb_calls(repos.machines, repos.requests) as counted:
            found = finder(repos, busy_tables)

            assert len(found) == EXPECTED_COUNTS[name]
            assert "Scan" not in counted.calls, dict(counted.calls)
            assert set(counted.calls) <= {"Query", "BatchGetItem"}, dict(counted.calls)
            # Each index entry found, then the item itself read consistently: nothing else.
            assert counted.items_read == 2 * len(found)


@on_dynamodb
def test_a_filter_on_two_indexed_fields_queries_one_index(repos, busy_tables):
    # The second condition is checked on the items of the first index's answer: no Scan.
    with count_dynamodb_calls(repos.machines) as counted:
        found = repos.machines.get_all(filters={"status": "running", "request_id": busy_tables["req_a"]})

    assert {machine.status for machine in found} == {MachineStatus.RUNNING}
    assert dict(counted.calls) == {"Query": 1, "BatchGetItem": 1}
    assert counted.items_read == 2 * 10  # the request's machines (keys, then items), not the table's 40


@on_dynamodb
def test_get_by_instance_ids_of_250_ids_takes_at_most_3_batch_gets(repos):
    wanted = [f"i-{n:017x}" for n in range(250)]
    aggregates.bulk_save(repos.machines, [aggregates.machine(machine_id) for machine_id in wanted])

    with count_dynamodb_calls(repos.machines) as counted:
        found = repos.machines.get_by_instance_ids(wanted)

    assert ids(found) == wanted
    assert counted.total <= 3, dict(counted.calls)
    assert set(counted.calls) == {"BatchGetItem"}
    assert counted.items_read == 250


@on_dynamodb
def test_get_by_id_is_one_consistent_get_item(repos):
    stored = repos.templates.save(aggregates.template())

    with count_dynamodb_calls(repos.templates) as counted:
        assert repos.templates.get_by_id(stored.id) == stored

    assert dict(counted.calls) == {"GetItem": 1}


@on_dynamodb
def test_update_status_is_one_conditional_update_without_a_read(repos):
    request = repos.requests.save(aggregates.acquire_request())
    machine = repos.machines.save(aggregates.machine())

    with count_dynamodb_calls(*repos.tables()) as counted, acting("api", actor="alice"):
        assert repos.requests.update_status(request.id, "in_progress") is not None
        assert repos.machines.update_status(machine.id, "running") is not None
        changes = dict(counted.calls)

    assert changes == {"UpdateItem": 2}  # each change with its event, no read
    # When the unit of work ends: both events in one batch write, and each item's clean-up.
    assert dict(counted.calls) == {"UpdateItem": 4, "BatchWriteItem": 1}


@on_dynamodb
def test_scans_and_queries_over_more_than_1_mb_follow_every_page(repos):
    # 25 templates of ~50 KB: DynamoDB answers a Scan 1 MB at a time.
    saved = aggregates.bulk_save(repos.templates, [aggregates.template(description="x" * 50_000) for _ in range(25)])

    with count_dynamodb_calls(repos.templates) as counted:
        everything = repos.templates.get_all()

    assert sorted(ids(everything)) == sorted(ids(saved))
    assert counted.calls["Scan"] >= 2, "the data set must span more than one DynamoDB page"

    with count_dynamodb_calls(repos.templates) as counted:
        found = repos.templates.find_by_attributes({"ncpus": 2})
    assert len(found) == 25
    assert counted.calls["Scan"] >= 2

    with count_dynamodb_calls(repos.templates) as counted:
        found = repos.templates.get_by_provider_type("aws")
    assert sorted(ids(found)) == sorted(ids(saved))
    # The templates table is small and has no index: the finder pages through it too.
    assert dict(counted.calls) == {"Scan": counted.calls["Scan"]} and counted.calls["Scan"] >= 2


@on_dynamodb
def test_listing_stops_reading_once_it_has_enough(repos):
    aggregates.bulk_save(repos.templates, [aggregates.template(description="x" * 50_000) for _ in range(25)])

    with count_dynamodb_calls(repos.templates) as counted:
        page = repos.templates.list_page(limit=3)
        first = repos.templates.get_all(limit=3)

    assert len(page.items) == 3 and page.next_cursor is not None
    assert len(first) == 3
    assert dict(counted.calls) == {"Scan": 2}  # one 1 MB page each, not the whole table


@on_dynamodb
def test_tables_have_the_documented_keys_and_indexes(repos, backend_settings):
    client = low_level_client(backend_settings)
    tables = backend_settings[1]["tables"]

    def describe(name):
        table = client.describe_table(TableName=tables[name])["Table"]
        indexes = {
            index["IndexName"]: (
                [(key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]],
                index["Projection"]["ProjectionType"],
            )
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        return table, indexes

    templates, template_indexes = describe("templates")
    assert templates["KeySchema"] == [{"AttributeName": "template_id", "KeyType": "HASH"}]
    assert templates["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    pending = {"pending-events": ([("hf_pending", "HASH")], "KEYS_ONLY")}  # events not moved yet
    assert template_indexes == pending  # a small table; its items carry the capacity ledger

    requests, request_indexes = describe("requests")
    assert requests["KeySchema"] == [{"AttributeName": "request_id", "KeyType": "HASH"}]

    def search(field):  # prefix search: begins_with on the field, per shard
        return ([("search_shard", "HASH"), (field, "RANGE")], "KEYS_ONLY")

    assert request_indexes == {
        "status-keys": ([("status", "HASH"), ("created_at", "RANGE")], "KEYS_ONLY"),
        "search-id": search("request_id"),
        **pending,
    }

    machines, machine_indexes = describe("machines")
    assert machines["KeySchema"] == [{"AttributeName": "machine_id", "KeyType": "HASH"}]
    assert machine_indexes == {
        "status-shard": ([("status_shard", "HASH"), ("machine_id", "RANGE")], "ALL"),
        "request-id-keys": ([("request_id", "HASH")], "KEYS_ONLY"),
        "return-request-id-keys": ([("return_request_id", "HASH")], "KEYS_ONLY"),
        "name-keys": ([("name", "HASH")], "KEYS_ONLY"),
        "search-id": search("machine_id"),
        "search-name": search("name"),
        "search-ip": search("private_ip_address"),
        **pending,
    }

    history, history_indexes = describe("history")
    assert history["KeySchema"] == [
        {"AttributeName": "aggregate_key", "KeyType": "HASH"},
        {"AttributeName": "event_key", "KeyType": "RANGE"},
    ]
    assert history_indexes == {"by-month": ([("month", "HASH"), ("event_key", "RANGE")], "ALL")}


@on_dynamodb
def test_create_table_is_idempotent(repos):
    for repo in repos.tables():
        assert repo.create_table() is False  # the fixture created them
    repos.machines.delete_table()
    assert repos.machines.create_table() is True
    assert repos.machines.create_table() is False
    assert repos.machines.get_all() == []


@on_dynamodb
def test_free_form_dicts_are_native_maps_and_empty_index_keys_are_left_out(repos, backend_settings):
    client = low_level_client(backend_settings)
    tables = backend_settings[1]["tables"]
    template = repos.templates.save(
        aggregates.template(provider_config={"imageId": "ami-1", "vmTypes": {"t3.large": 2}, "securityGroupIds": []})
    )
    machine = repos.machines.save(aggregates.machine(name="", tags={"team": "hpc"}))

    item = client.get_item(TableName=tables["templates"], Key={"template_id": {"S": template.id}})["Item"]
    assert item["attributes"]["M"]["ncpus"] == {"L": [{"S": "Numeric"}, {"S": "2"}]}
    assert item["provider_config"]["M"]["vmTypes"] == {"M": {"t3.large": {"N": "2"}}}

    item = client.get_item(TableName=tables["machines"], Key={"machine_id": {"S": machine.id}})["Item"]
    assert item["tags"] == {"M": {"team": {"S": "hpc"}}}
    assert "name" not in item and "return_request_id" not in item  # sparse indexes
    assert repos.machines.get_by_id(machine.id) == machine


@on_dynamodb
def test_a_missing_table_is_reported_with_the_command_that_creates_it(repos):
    repos.templates.delete_table()

    with pytest.raises(StorageUnavailable, match=re.escape("does not exist; run 'manage.py create_dynamodb_tables'")):
        repos.templates.get_by_id("any")
    with pytest.raises(StorageUnavailable, match="does not exist"):
        repos.templates.save(aggregates.template())


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body


@on_dynamodb
def test_throttling_after_the_retries_is_storage_unavailable(repos):
    attempts = []

    def throttle(request, **kwargs):
        attempts.append(1)
        body = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
        )
        headers = {"x-amzn-ErrorType": "ThrottlingException", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 400, headers, _Raw(body.encode()))

    events = repos.requests.model._get_connection().connection.client.meta.events
    events.register_first("before-send.dynamodb", throttle, unique_id="test-throttle")
    started = time.monotonic()
    try:
        with pytest.raises(StorageUnavailable, match=r"throttled GetItem on .* after 2 retries"):
            repos.requests.get_by_id(new_request_id(RequestType.ACQUIRE))
    finally:
        events.unregister("before-send.dynamodb", unique_id="test-throttle")

    assert len(attempts) == 3  # the first try and 2 retries (the storage call budget)
    assert time.monotonic() - started < 15


def test_an_unreachable_endpoint_is_storage_unavailable_within_seconds(subtests):
    repos = build_repositories(StorageConfig(type="dynamodb", host=f"http://127.0.0.1:{free_port()}"))
    calls = {
        "get_by_id": lambda: repos.templates.get_by_id("tpl-1"),
        "save": lambda: repos.requests.save(aggregates.acquire_request()),
        "get_by_request_id": lambda: repos.machines.get_by_request_id(new_request_id(RequestType.ACQUIRE)),
        "create_table": lambda: repos.machines.create_table(),
    }
    for name, call in calls.items():
        with subtests.test(call=name):
            started = time.monotonic()
            with pytest.raises(StorageUnavailable, match="DynamoDB is unreachable"):
                call()
            assert time.monotonic() - started < 15, "a dead endpoint must not hang the caller"
