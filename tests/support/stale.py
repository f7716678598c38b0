"""A memory store whose every index read is stale: it answers as the index was before the
last ``LAG`` writes (an entry written since is missing, or shows the copy it had before).

DynamoDB's global secondary indexes are eventually consistent: a query a moment after a write
can miss it. Nothing that decides (request progress, capacity, a return's claims) may read an
index; running the Host Factory tests and the contract's decision tests on this store proves
it. Base reads (by id, batches by id, unfiltered scans) stay exact, as on DynamoDB.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from hostfactory.storage import Repositories
from hostfactory.storage.filters import equality_values, matches
from hostfactory.storage.history import MemoryHistoryStore
from hostfactory.storage.memory import _index_key, detached
from machines_app.storage.memory import MemoryMachineRepository
from requests_app.storage.memory import MemoryRequestRepository
from templates_app.storage.memory import MemoryTemplateRepository

# More writes than any test makes: every index read misses everything the test wrote.
LAG = 10_000


class StaleIndexes:
    """Mixed in before a memory repository: journals each write, and rewinds index reads."""

    def __init__(self, lock=None, history=None) -> None:
        super().__init__(lock, history)
        self._journal: deque[tuple[str, Any]] = deque(maxlen=LAG)

    def _store(self, current, entity) -> None:
        self._journal.append((entity.id, current))
        super()._store(current, entity)

    def _remove(self, entity_id: str):
        with self._lock:
            current = self._items.get(entity_id)
            if current is not None:
                self._journal.append((entity_id, current))
            return super()._remove(entity_id)

    def _stale_view(self, field: str, value: Any) -> dict[str, Any]:
        """id -> entity, for the index entries of ``field == value`` as they were before the
        journaled writes."""
        key = _index_key(value)
        view = {i: self._items[i] for i in self._indexes[field].get(key, ()) if i in self._items}
        earliest: dict[str, Any] = {}
        for entity_id, before in self._journal:
            earliest.setdefault(entity_id, before)
        for entity_id, before in earliest.items():
            view.pop(entity_id, None)
            if before is not None and _index_key(getattr(before, field)) == key:
                view[entity_id] = before
        return view

    def _find(self, field: str, values):
        with self._lock:
            found = {}
            for value in values:
                found.update(self._stale_view(field, value))
            entities = [found[i] for i in sorted(found)]
        return [detached(entity) for entity in entities]

    def _iter(self, conditions, start, page_size=None):
        indexed = equality_values(conditions, self.indexed_fields)
        if not indexed:
            yield from super()._iter(conditions, start, page_size)
            return
        with self._lock:
            view = self._stale_view(indexed[0].field, indexed[0].value)
        for entity_id in sorted(view):
            if isinstance(start, str) and entity_id <= start:
                continue
            if matches(view[entity_id], conditions):
                yield detached(view[entity_id]), entity_id


class StaleTemplates(StaleIndexes, MemoryTemplateRepository):
    pass


class StaleRequests(StaleIndexes, MemoryRequestRepository):
    pass


class StaleMachines(StaleIndexes, MemoryMachineRepository):
    pass


def stale_repositories() -> Repositories:
    lock = threading.RLock()
    history = MemoryHistoryStore(lock)
    return Repositories(
        StaleTemplates(lock, history), StaleRequests(lock, history), StaleMachines(lock, history), history
    )
