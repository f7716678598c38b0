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
    # One unit of work, as an HTTP request is: the block's events move to the history at its end,
    # and those calls count too.
    with count_dynamodb_calls(*repos.tables()) as counted, acting("system"):
        yield counted
