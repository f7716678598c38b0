"""What one storage call costs: the DynamoDB calls, items and capacity units of a block, or
nothing to count on the memory backend (its cost is its wall time)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hostfactory.storage.history import acting
from tests.support.dynamodb_calls import DynamoCalls, count_dynamodb_calls


def on_dynamodb(repos) -> bool:
    return getattr(repos.machines, "model", None) is not None


@contextlib.contextmanager
def metered(repos) -> Iterator[DynamoCalls | None]:
    if not on_dynamodb(repos):
        yield None
        return
    # One unit of work, as an HTTP request is. Its events move to the history when it ends,
    # after the count: these figures are the operation's own, beside issue 11's targets; the
    # move (+1 clean-up write per item changed, 1/25 of a batch write) is counted exactly in
    # tests/storage/test_costs.py and docs/storage-design.md "Event history".
    with acting("system"), count_dynamodb_calls(*repos.tables()) as counted:
        yield counted
