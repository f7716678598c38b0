"""A deployment on the first (v1) table layout, for the migration tests: the v1 tables built with
boto3 as the v1 ``create_dynamodb_tables`` built them (four whole-item GSIs on machines, one on
requests and templates), and v1 items as the v1 repositories wrote them: every domain field,
none of what v2 derives (``status_shard``, ``machine_ids``, the capacity ledger)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.support import aggregates

V1_LAYOUT = {
    # table: (key, [(index name, hash key, range key)])
    "templates": ("template_id", [("provider_type-index", "provider_type", None)]),
    "requests": ("request_id", [("status-index", "status", "created_at")]),
    "machines": (
        "machine_id",
        [
            ("request_id-index", "request_id", None),
            ("return_request_id-index", "return_request_id", None),
            ("status-index", "status", None),
            ("name-index", "name", None),
        ],
    ),
}
V2_ONLY = {"status_shard", "machine_ids", "used", "reservations", "ledger_seq"}


def create_v1_tables(client, tables: dict[str, str]) -> None:
    for kind, (key, indexes) in V1_LAYOUT.items():
        names = {key} | {name for _index, hash_key, range_key in indexes for name in (hash_key, range_key) if name}
        client.create_table(
            TableName=tables[kind],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in sorted(names)],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index,
                    "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}]
                    + ([{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index, hash_key, range_key in indexes
            ],
        )
    for kind in V1_LAYOUT:
        client.get_waiter("table_exists").wait(TableName=tables[kind], WaiterConfig={"Delay": 0.1})


def delete_tables(client, names) -> None:
    for name in names:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_table(TableName=name)


def put_v1(client, repository, entity) -> None:
    """``entity`` stored as a v1 repository stored it (version 1, stamped)."""
    stored = entity.stamped(datetime.now(UTC)).replace(version=1)
    item = repository.to_item(stored).serialize()
    client.put_item(TableName=repository.table_name, Item={k: v for k, v in item.items() if k not in V2_ONLY})


@dataclass
class V1Fleet:
    """What the v1 tables hold, as the v2 repositories must read it back."""

    machine_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)  # request id -> its machines
    running: set[str] = field(default_factory=set)
    used: dict[str, int] = field(default_factory=dict)  # template id -> used capacity
    acquire: str = ""  # the active acquire request
    active_return: str = ""


def put_v1_fleet(client, repos, extra_running: int = 30) -> V1Fleet:
    """Three templates; an active acquire request (3 hosts, 2 launched); a complete one on tpl-b
    whose two hosts were handed back (one return done, one in progress); and a complete request
    of ``extra_running`` running hosts on tpl-c (more than one page of a status shard)."""
    fleet = V1Fleet()
    for template_id, max_number in (("tpl-a", 10), ("tpl-b", 5), ("tpl-c", 50)):
        put_v1(client, repos.templates, aggregates.template(template_id, max_number=max_number))
    active = aggregates.acquire_request(template_id="tpl-a", machine_count=3, status=RequestStatus.IN_PROGRESS)
    done = aggregates.acquire_request(template_id="tpl-b", machine_count=2, status=RequestStatus.COMPLETE)
    big = aggregates.acquire_request(template_id="tpl-c", machine_count=extra_running, status=RequestStatus.COMPLETE)
    returning = aggregates.return_request(status=RequestStatus.IN_PROGRESS)
    returned = aggregates.return_request(status=RequestStatus.COMPLETE)
    for request in (active, done, big, returning, returned):
        put_v1(client, repos.requests, request)
    machines = [
        aggregates.machine(request_id=active.request_id, template_id="tpl-a", status=MachineStatus.RUNNING, name="a-1"),
        aggregates.machine(request_id=active.request_id, template_id="tpl-a", status=MachineStatus.PENDING),
        aggregates.machine(
            request_id=done.request_id,
            template_id="tpl-b",
            status=MachineStatus.RUNNING,
            return_request_id=returning.request_id,
        ),
        aggregates.machine(
            request_id=done.request_id,
            template_id="tpl-b",
            status=MachineStatus.RETURNED,
            return_request_id=returned.request_id,
        ),
        *(
            aggregates.machine(request_id=big.request_id, template_id="tpl-c", status=MachineStatus.RUNNING)
            for _ in range(extra_running)
        ),
    ]
    for machine in machines:
        put_v1(client, repos.machines, machine)
        for owner in (machine.request_id, machine.return_request_id):
            if owner:
                fleet.machine_ids[owner] = tuple(sorted((*fleet.machine_ids.get(owner, ()), machine.machine_id)))
        if machine.status == MachineStatus.RUNNING:
            fleet.running.add(machine.machine_id)
    fleet.used = {"tpl-a": 3, "tpl-b": 1, "tpl-c": extra_running}
    fleet.acquire, fleet.active_return = active.request_id, returning.request_id
    return fleet
