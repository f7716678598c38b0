"""Count the DynamoDB calls repositories make, the items each call read, and the capacity
units DynamoDB says it consumed (PynamoDB asks for ``ReturnConsumedCapacity=TOTAL`` on every
data call), with a botocore event hook on each connection's client.

The hook is put on a client the first time PynamoDB signals a call through it
(``pynamodb.signals.pre_dynamodb_send``: its sender is the public ``Connection``), so the
repositories' own clients are counted, however many threads made them; only calls on the
repositories' tables count.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from pynamodb.signals import pre_dynamodb_send


@dataclass
class DynamoCalls:
    tables: set[str]
    calls: Counter = field(default_factory=Counter)
    items_read: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    # Query and Scan calls by what they read ("status-shard", or "table" for the base
    # table), and the items each read: a lookup that must be by key shows none here.
    reads_by_index: Counter = field(default_factory=Counter)
    items_by_index: Counter = field(default_factory=Counter)
    hooked: set[int] = field(default_factory=set)

    def record(self, model, parsed: dict, params: dict | None = None, **_ignored) -> None:
        if not self._ours(params or {}):
            return
        self.calls[model.name] += 1
        self.items_read += len(parsed.get("Items", []))
        if model.name in ("Query", "Scan"):
            index = params.get("IndexName") or "table"
            self.reads_by_index[index] += 1
            self.items_by_index[index] += len(parsed.get("Items", []))
        if "Item" in parsed:
            self.items_read += 1
        for items in parsed.get("Responses", {}).values():
            self.items_read += len(items)
        capacity = parsed.get("ConsumedCapacity")
        for entry in capacity if isinstance(capacity, list) else [capacity] if capacity else []:
            units = float(entry.get("CapacityUnits") or 0)
            if model.name in ("GetItem", "BatchGetItem", "Query", "Scan"):
                self.read_units += units
            else:
                self.write_units += units

    def _ours(self, params: dict) -> bool:
        names = {params.get("TableName"), *params.get("RequestItems", {})}
        return bool(names & self.tables)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(count for name, count in self.calls.items() if name in ("PutItem", "UpdateItem", "DeleteItem"))


@contextlib.contextmanager
def count_dynamodb_calls(*repositories) -> Iterator[DynamoCalls]:
    """Every call any of ``repositories`` makes inside the block (one per HTTP round trip
    botocore completed, retries included)."""
    counter = DynamoCalls(tables={repository.table_name for repository in repositories})
    emitters = []

    def hook(connection, **_kwargs) -> None:
        events = connection.client.meta.events
        if id(events) not in counter.hooked:
            counter.hooked.add(id(events))
            emitters.append(events)
            events.register("before-parameter-build.dynamodb", _remember_params, unique_id=f"params-{id(counter)}")
            events.register("after-call.dynamodb", _with_params(counter), unique_id=f"count-{id(counter)}")

    pre_dynamodb_send.connect(hook)
    try:
        yield counter
    finally:
        pre_dynamodb_send.disconnect(hook)
        for events in emitters:
            events.unregister("before-parameter-build.dynamodb", unique_id=f"params-{id(counter)}")
            events.unregister("after-call.dynamodb", unique_id=f"count-{id(counter)}")


def _remember_params(params, context, **_kwargs) -> None:
    """botocore's after-call event carries the response, not the request: keep the request's
    parameters in the call's context, which both events share."""
    context["hostfactory_params"] = params


def _with_params(counter: DynamoCalls):

    def record(model, parsed, context=None, **kwargs) -> None:
        params = (context or {}).get("hostfactory_params") or {}
        counter.record(model, parsed, params=params)

    return record
