"""The in-memory backend: thread-safe dicts of immutable aggregates, with secondary indexes
on the same fields the DynamoDB tables index, so finders cost O(matches), not O(all)."""

from __future__ import annotations

import bisect
import copy
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

from hostfactory.domain import Aggregate, utcnow
from hostfactory.errors import VersionConflict
from hostfactory.storage.base import Repository, T, starts_with
from hostfactory.storage.filters import Condition, equality_values, matches
from hostfactory.storage.history import MemoryHistoryStore, changes_between, make_event

CONTAINERS = (dict, list)
SCALARS = (str, int, float, datetime)  # immutable: shared, not copied


def detached(entity: Aggregate) -> Aggregate:
    """A copy whose dict and list values are private, so no caller can change stored data in
    place. The memory backend copies every aggregate it returns, so this is its hot path:
    field values are copied straight from the instance dict, and JSON-like containers by hand
    (``copy.deepcopy`` costs several times more)."""
    clone = object.__new__(type(entity))
    state = clone.__dict__
    state.update(entity.__dict__)
    for name, value in state.items():
        if isinstance(value, CONTAINERS):
            state[name] = _private(value)
    return clone


def _private(value: Any) -> Any:
    """A deep copy of a JSON-like value (dicts, lists, immutable scalars); anything else
    mutable goes through ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: _private(item) for key, item in value.items()} if value else {}
    if isinstance(value, list):
        return [_private(item) for item in value]
    if value is None or isinstance(value, SCALARS):
        return value
    return copy.deepcopy(value)


def _index_key(value: Any) -> Any:
    """Index entries for a field value; None and "" are not indexed (sparse, as on DynamoDB)."""
    if value is None or value == "":
        return None
    return value.value if isinstance(value, StrEnum) else value


class MemoryRepository(Repository[T]):
    """``lock`` is the store's one lock, shared by the three repositories of one store, so a
    write that keeps an invariant across aggregates is atomic here as on DynamoDB."""

    def __init__(self, lock: threading.RLock | None = None, history: MemoryHistoryStore | None = None) -> None:
        self._lock = lock or threading.RLock()
        self.history_store = history or MemoryHistoryStore(self._lock)
        self._items: dict[str, T] = {}
        self._order: list[str] = []  # every id, sorted: the paging order
        self._indexes: dict[str, dict[Any, set[str]]] = {field: defaultdict(set) for field in self.indexed_fields}

    def _get(self, entity_id: str) -> T | None:
        with self._lock:
            entity = self._items.get(entity_id)
        return detached(entity) if entity is not None else None

    def _get_many(self, entity_ids: list[str]) -> list[T]:
        with self._lock:
            found = [self._items[i] for i in entity_ids if i in self._items]
        return [detached(entity) for entity in found]

    def _put(self, entity: T, expected_version: int) -> None:
        entity = detached(entity)
        with self._lock:
            current = self._items.get(entity.id)
            stored_version = current.version if current else 0
            if stored_version != expected_version:
                raise VersionConflict(_conflict_message(self.aggregate, entity.id, expected_version, stored_version))
            self._store(current, entity)

    def _store(self, current: T | None, entity: T) -> None:
        """Store ``entity`` over ``current`` and record the change's event (the lock is held:
        the two are one step)."""
        self._record(current, entity, entity.version)
        if current is None:
            bisect.insort(self._order, entity.id)
        for field, index in self._indexes.items():
            old = _index_key(getattr(current, field)) if current else None
            new = _index_key(getattr(entity, field))
            if old != new:
                self._unindex(index, old, entity.id)
                if new is not None:
                    index[new].add(entity.id)
        self._items[entity.id] = entity

    @staticmethod
    def _unindex(index: dict[Any, set[str]], key: Any, entity_id: str) -> None:
        if key is None:
            return
        ids = index.get(key)
        if ids is not None:
            ids.discard(entity_id)
            if not ids:
                del index[key]

    def _remove(self, entity_id: str) -> T | None:
        with self._lock:
            current = self._items.pop(entity_id, None)
            if current is None:
                return None
            del self._order[bisect.bisect_left(self._order, entity_id)]
            for field, index in self._indexes.items():
                self._unindex(index, _index_key(getattr(current, field)), entity_id)
            self._record(current, None, current.version + 1)
            return detached(current)

    def _record(self, before: T | None, after: T | None, version: int) -> None:
        changes = changes_between(before, after)
        if changes:
            entity_id = (after or before).id
            self.history_store.record(make_event(self.aggregate, entity_id, version, changes, utcnow()))

    def _iter(
        self, conditions: tuple[Condition, ...], start: Any, page_size: int | None = None
    ) -> Iterator[tuple[T, Any]]:
        with self._lock:
            ids = self._candidates(conditions)
            ids = ids[bisect.bisect_right(ids, start) :] if isinstance(start, str) else ids
        for entity_id in ids:
            entity = self._items.get(entity_id)
            if entity is not None and matches(entity, conditions):
                yield detached(entity), entity_id

    def _candidates(self, conditions: tuple[Condition, ...]) -> list[str]:
        indexed = equality_values(conditions, self.indexed_fields)
        if not indexed:
            return list(self._order)
        sets = [self._indexes[c.field].get(_index_key(c.value), set()) for c in indexed]
        return sorted(min(sets, key=len))

    def _find(self, field: str, values: Iterable[Any]) -> list[T]:
        with self._lock:
            index = self._indexes[field]
            ids = sorted(set().union(*(index.get(_index_key(value), ()) for value in values)))
            found = [self._items[i] for i in ids]
        return [detached(entity) for entity in found]

    def _set_status(
        self, entity_id: str, target: StrEnum, sources: set, changes: dict, if_missing: dict
    ) -> tuple[T, T] | None:
        with self._lock:
            current = self._items.get(entity_id)
            if current is None or current.status not in sources:
                return None
            missing = {key: value for key, value in if_missing.items() if getattr(current, key) is None}
            return self._update(current, status=target, **changes, **missing)

    def _update(self, current: T, **changes: Any) -> tuple[T, T]:
        """Store ``current`` with ``changes`` and the next version (the lock is held)."""
        updated = current.replace(version=current.version + 1, **changes)
        self._store(current, updated)
        return detached(current), detached(updated)

    def _update_where(self, entity_id: str, condition, **changes: Any) -> tuple[T, T] | None:
        """One conditional write: ``changes`` when ``condition(stored)`` holds, else None."""
        with self._lock:
            current = self._items.get(entity_id)
            if current is None or not condition(current):
                return None
            return self._update(current, **changes)

    def _search(self, prefix: str, limit: int) -> list[T]:
        with self._lock:
            found = [e for e in self._items.values() if any(starts_with(e, f, prefix) for f in self.search_fields)]
        return [detached(entity) for entity in found]

    def clear(self) -> None:
        with self._lock:
            self.history_store.clear()
            self._items.clear()
            self._order.clear()
            for index in self._indexes.values():
                index.clear()


def _conflict_message(aggregate: str, entity_id: str, expected: int, stored: int) -> str:
    if expected == 0:
        return f"{aggregate} {entity_id} already exists (version {stored}); load it and save the loaded copy"
    if stored == 0:
        return f"{aggregate} {entity_id} no longer exists; it was deleted after version {expected} was read"
    return (
        f"{aggregate} {entity_id} was changed by someone else: you have version {expected}, "
        f"the stored one is {stored}; reload and retry"
    )
