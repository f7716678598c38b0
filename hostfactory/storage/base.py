"""``Repository[T]``: the collection-like interface every aggregate repository offers.

The public methods are written here once, over a handful of backend primitives (the
``_underscore`` methods) that the memory and DynamoDB backends implement. The apps'
``repository.py`` interfaces add their finders on top of the same primitives.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from typing import Any, ClassVar, Generic, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing

from hostfactory.domain import Aggregate, StatusMachine, utcnow
from hostfactory.errors import InvalidCursor, InvalidFilter, VersionConflict
from hostfactory.storage.filters import Condition, FilterSpec

T = TypeVar("T", bound=Aggregate)
logger = logging.getLogger("hostfactory.storage")
CURSOR_SALT = "hostfactory.storage.cursor"
MAX_PAGE_SIZE = 1000
# Called after every public repository call with ("<aggregate>.<method>", the error raised or
# None). Outer layers (hostfactory/metrics.py) append here, so storage imports none of them.
call_observers: list[Callable[[str, BaseException | None], None]] = []


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class async_twin:
    """Declares ``aname`` as the awaitable form of the sync method ``name``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.sync_name = name[1:]

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return sync_to_async(getattr(instance, self.sync_name), thread_sensitive=False)


def logged(method):
    """Log the call at DEBUG, or at WARNING when slower than HOSTFACTORY_SLOW_STORAGE_MS, and
    tell the call observers how it ended."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        started, error = time.perf_counter(), None
        try:
            return method(self, *args, **kwargs)
        except BaseException as raised:
            error = raised
            raise
        finally:
            for observer in call_observers:
                observer(f"{self.aggregate}.{method.__name__}", error)
            elapsed_ms = (time.perf_counter() - started) * 1000
            slow = elapsed_ms > getattr(settings, "HOSTFACTORY_SLOW_STORAGE_MS", 200)
            if slow or logger.isEnabledFor(logging.DEBUG):
                logger.log(
                    logging.WARNING if slow else logging.DEBUG,
                    "%s %s.%s(%s) took %.1f ms",
                    "slow storage call:" if slow else "storage",
                    self.aggregate,
                    method.__name__,
                    _describe(args),
                    elapsed_ms,
                )

    return wrapper


def _describe(args: tuple) -> str:
    text = ", ".join(repr(arg) if not isinstance(arg, Aggregate) else repr(arg.id) for arg in args)
    return text if len(text) < 200 else text[:197] + "..."


def encode_cursor(position: Any, conditions: tuple[Condition, ...], aggregate: str) -> str:
    """Signed with a salt per aggregate, so a cursor is refused by every other resource."""
    return signing.dumps(
        {"p": position, "f": _fingerprint(conditions)}, salt=f"{CURSOR_SALT}.{aggregate}", compress=True
    )


def decode_cursor(cursor: str | None, conditions: tuple[Condition, ...], aggregate: str) -> Any:
    if cursor is None:
        return None
    try:
        data = signing.loads(cursor, salt=f"{CURSOR_SALT}.{aggregate}")
    except (signing.BadSignature, TypeError, ValueError):
        raise InvalidCursor(
            f"cursor: not a cursor this service issued for the {aggregate} list (it is opaque; pass back "
            "unchanged the next link of this same list)"
        ) from None
    if not isinstance(data, dict) or data.get("f") != _fingerprint(conditions):
        raise InvalidCursor("cursor: issued for other filters; start again without a cursor")
    return data.get("p")


def _fingerprint(conditions: tuple[Condition, ...]) -> str:
    text = json.dumps([[c.field, c.op, str(c.value)] for c in conditions])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Repository(ABC, Generic[T]):
    """A collection of one aggregate: get, list, save, delete."""

    aggregate: ClassVar[str]
    entity_class: ClassVar[type[Aggregate]]
    filter_spec: ClassVar[FilterSpec]
    # Fields with a secondary index (DynamoDB GSI, memory dict index); same on both backends.
    indexed_fields: ClassVar[tuple[str, ...]] = ()
    status_machine: ClassVar[StatusMachine | None] = None
    status_enum: ClassVar[type[StrEnum] | None] = None
    # What the console's search box matches by prefix.
    search_fields: ClassVar[tuple[str, ...]] = ()

    # -- public interface -------------------------------------------------------------

    @logged
    def get_by_id(self, entity_id: str) -> T | None:
        if not isinstance(entity_id, str) or not entity_id:
            return None
        return self._get(entity_id)

    @logged
    def get_many(self, entity_ids: Iterable[str]) -> list[T]:
        """Every stored aggregate among ``entity_ids``, read consistently (one batch read per
        100 ids on DynamoDB), in the asked order; unknown ids are skipped."""
        wanted = list(dict.fromkeys(i for i in entity_ids if isinstance(i, str) and i))
        return self._get_many(wanted) if wanted else []

    @logged
    def exists(self, entity_id: str) -> bool:
        return self.get_by_id(entity_id) is not None

    @logged
    def get_all(self, filters: dict | None = None, limit: int | None = None, offset: int | None = None) -> list[T]:
        """Every match. ``offset`` skips items one by one: O(offset) reads on DynamoDB."""
        conditions = self.filter_spec.parse(filters)
        start = _non_negative("offset", offset, 0)
        stop = None if limit is None else start + _non_negative("limit", limit, 0)
        return [entity for entity, _ in islice(self._iter(conditions, None, page_size=stop), start, stop)]

    @logged
    def list_page(self, filters: dict | None = None, limit: int = 50, cursor: str | None = None) -> Page[T]:
        conditions = self.filter_spec.parse(filters)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidFilter(f"limit: must be an integer 1..{MAX_PAGE_SIZE}, got {limit!r}")
        start = decode_cursor(cursor, conditions, self.aggregate)
        rows = list(islice(self._iter(conditions, start, page_size=limit + 1), limit + 1))
        items = [entity for entity, _ in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1][1], conditions, self.aggregate) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor)

    @logged
    def save(self, entity: T) -> T:
        """Store ``entity`` if nobody saved it since it was read; returns the stored copy.

        Raises VersionConflict when the stored version is not ``entity.version`` (a stale
        copy), or when a never-saved aggregate (version 0) has an id that already exists.
        """
        if not isinstance(entity, self.entity_class):
            raise TypeError(
                f"{self.aggregate} repository stores {self.entity_class.__name__}, not {type(entity).__name__}"
            )
        stored = entity.stamped(utcnow()).replace(version=entity.version + 1)
        self._put(stored, expected_version=entity.version)
        return stored

    @logged
    def delete(self, entity_id: str) -> bool:
        return self.remove(entity_id) is not None

    @logged
    def remove(self, entity_id: str) -> T | None:
        """Delete in one write and return what was stored (None: nothing was)."""
        if not isinstance(entity_id, str) or not entity_id:
            return None
        return self._remove(entity_id)

    @logged
    def search(self, prefix: str, limit: int = 50) -> list[T]:
        """Aggregates whose ``search_fields`` (the id; a machine's host name and private IP
        address too) start with ``prefix``, by id, at most ``limit``: index queries on
        DynamoDB (docs/storage-design.md "Prefix search"), then consistent reads."""
        if not isinstance(prefix, str) or not 1 <= len(prefix.strip()) <= 100:
            raise InvalidFilter(f"search: must be 1-100 characters, got {prefix!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidFilter(f"limit: must be an integer 1..{MAX_PAGE_SIZE}, got {limit!r}")
        prefix = prefix.strip()
        found = [e for e in self._search(prefix, limit) if any(starts_with(e, f, prefix) for f in self.search_fields)]
        return sorted(found, key=lambda entity: entity.id)[:limit]

    @logged
    def history(self, entity_id: str, limit: int = 50, cursor: str | None = None) -> Page:
        """The events of one aggregate (deleted ones too), newest first: one key lookup."""
        return self.history_store.for_aggregate(self.aggregate, str(entity_id), limit, cursor)

    aget_by_id = async_twin()
    aget_many = async_twin()
    aexists = async_twin()
    aget_all = async_twin()
    alist_page = async_twin()
    asave = async_twin()
    adelete = async_twin()
    aremove = async_twin()
    ahistory = async_twin()
    asearch = async_twin()

    # -- shared helpers for the apps' finders ---------------------------------------------

    def _change_status(self, entity_id: str, status: Any, changes: dict, if_missing: dict) -> tuple[T, T] | None:
        """One atomic, transition-checked status change: ``(before, after)``, or None when the
        id does not exist. Raises InvalidTransition for a move the table forbids."""
        target = self._parse_status(status)
        # A final status is its own source only for a move that changes nothing else.
        changed = [key for key in changes if key != "updated_at"]
        sources = self.status_machine.sources(target, changing=bool(changed))
        if not isinstance(entity_id, str) or not entity_id:
            return None
        for _attempt in range(3):
            moved = self._set_status(entity_id, target, sources, changes, if_missing)
            if moved is not None:
                return moved
            current = self._get(entity_id)
            if current is None:
                return None
            # Raises with the refused move; when the move is allowed the status changed
            # under us between the conditional write and the read, so try again.
            self.status_machine.check(entity_id, current.status, target, changed)
        raise VersionConflict(f"{self.aggregate} {entity_id}: status kept changing; try again")

    def _parse_status(self, status: Any) -> StrEnum:
        try:
            return self.status_enum(status)
        except ValueError:
            allowed = ", ".join(member.value for member in self.status_enum)
            raise InvalidFilter(f"status: must be one of {allowed}, got {status!r}") from None

    # -- backend primitives ---------------------------------------------------------------

    @abstractmethod
    def _get(self, entity_id: str) -> T | None: ...

    @abstractmethod
    def _get_many(self, entity_ids: list[str]) -> list[T]:
        """Every stored aggregate among ``entity_ids`` (unknown ids skipped), in that order."""

    @abstractmethod
    def _put(self, entity: T, expected_version: int) -> None: ...

    @abstractmethod
    def _remove(self, entity_id: str) -> T | None:
        """Delete in one write; the stored aggregate, or None when there was none."""

    @abstractmethod
    def _iter(
        self, conditions: tuple[Condition, ...], start: Any, page_size: int | None = None
    ) -> Iterator[tuple[T, Any]]:
        """Matches in a stable order after position ``start``, each with its own position.
        ``page_size`` is how many items one storage round trip should read (a hint)."""

    @abstractmethod
    def _find(self, field: str, values: Iterable[Any]) -> list[T]:
        """Aggregates whose indexed ``field`` equals one of ``values``; reads only those."""

    @abstractmethod
    def _set_status(
        self, entity_id: str, target: StrEnum, sources: set, changes: dict, if_missing: dict
    ) -> tuple[T, T] | None:
        """Atomically set status (and ``changes``; ``if_missing`` where unset) when the stored
        status is in ``sources``: one write, returning ``(before, after)``. None when the id is
        missing or the status is not a source."""

    @abstractmethod
    def _search(self, prefix: str, limit: int) -> list[T]:
        """Candidates for ``search`` (at least every match among the first ``limit``)."""

    @abstractmethod
    def clear(self) -> None:
        """Remove everything (tests and demos)."""


def starts_with(entity: Aggregate, field: str, prefix: str) -> bool:
    value = getattr(entity, field)
    return isinstance(value, str) and value.startswith(prefix)


def _non_negative(name: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidFilter(f"{name}: must be a non-negative integer, got {value!r}")
    return value
