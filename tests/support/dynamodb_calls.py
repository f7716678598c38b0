"""Count the DynamoDB calls a repository makes, and the items each call read, with a
botocore event hook on the repository's own client."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class DynamoCalls:
    calls: Counter = field(default_factory=Counter)
    items_read: int = 0

    def record(self, model, parsed: dict, **_ignored) -> None:
        # botocore passes the operation model (``model.name`` is e.g. "Query") and the parsed response.
        self.calls[model.name] += 1
        self.items_read += len(parsed.get("Items", []))
        if "Item" in parsed:
            self.items_read += 1
        for items in parsed.get("Responses", {}).values():
            self.items_read += len(items)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextlib.contextmanager
def count_dynamodb_calls(*repositories) -> Iterator[DynamoCalls]:
    """Every call any of ``repositories`` makes inside the block (after retries: one per
    HTTP round trip botocore completed)."""
    counter = DynamoCalls()
    events = []
    for repository in repositories:
        # Touching ``.client`` creates the lazily built botocore client.
        client = repository.model._get_connection().connection.client
        if client.meta.events not in events:
            events.append(client.meta.events)
    for emitter in events:
        emitter.register("after-call.dynamodb", counter.record, unique_id=f"count-{id(counter)}")
    try:
        yield counter
    finally:
        for emitter in events:
            emitter.unregister("after-call.dynamodb", unique_id=f"count-{id(counter)}")
