"""The event history: every change to a template, request or machine, with who made it,
through what and why (docs/storage-design.md, "Event history").

A change and its event are one write: on memory both happen under the store's lock; on
DynamoDB the change carries its event on the item itself, and an idempotent move copies it
to the history table afterwards (at the end of the unit of work: the HTTP request, the
command, the pass). ``acting`` declares who is acting for the code inside it.
"""

from __future__ import annotations

import bisect
import contextlib
import contextvars
import dataclasses
import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings

from hostfactory.domain import utcnow
from hostfactory.errors import InvalidFilter
from hostfactory.storage.base import Page, decode_cursor, encode_cursor
from hostfactory.storage.filters import Condition

CHANNELS = ("admin", "api", "hostfactory", "command", "provisioner", "sync", "system")
AGGREGATES = ("template", "request", "machine")
# Bookkeeping every write moves: an event lists what a user changed, not these.
UNTRACKED = frozenset({"version", "updated_at", "created_at"})
# Fields holding sets of ids (a 10,000-host return): their change is [removed, added], so an
# event stays small however large the set is.
SET_FIELDS = frozenset({"machine_ids", "other_hosts"})
DEFAULT_HISTORY_DAYS = 90
# At most this many members of a set field in one event (an item has to fit in 400 KB).
SET_MEMBERS_SHOWN = 1000
MAX_PAGE_SIZE = 1000
logger = logging.getLogger("hostfactory.storage")


@dataclass(frozen=True)
class Event:
    event_id: str
    at: datetime
    aggregate: str  # "template", "request" or "machine"
    aggregate_id: str
    version: int  # the aggregate's version after the change (a deletion: the deleted one's + 1)
    channel: str
    actor: str
    reason: str
    changes: dict[str, list]  # field -> [old, new], JSON values

    @property
    def sort_key(self) -> str:
        """Time order, unique: where a page of history resumes."""
        return f"{time_key(self.at)}#{self.event_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "at": self.at.isoformat(),
            "aggregate": self.aggregate,
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "channel": self.channel,
            "actor": self.actor,
            "reason": self.reason,
            "changes": self.changes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(**{**data, "at": datetime.fromisoformat(data["at"]), "version": int(data["version"])})


# -- who is acting ------------------------------------------------------------------------


@dataclass
class Acting:
    """Who is acting in this context, and the events its writes left to move. ``actor`` may be
    a callable, read when an event is made (a request's user is known only after the view
    authenticated it)."""

    channel: str
    actor: str | Callable[[], str] = ""
    reason: str = ""
    moves: list[Callable[[], None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def who(self) -> str:
        actor = self.actor() if callable(self.actor) else self.actor
        return str(actor or "")


SYSTEM = Acting("system")
_acting: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("hostfactory_acting", default=None)


@contextlib.contextmanager
def acting(channel: str, actor: str | Callable[[], str] = "", reason: str = "") -> Iterator[Acting]:
    """Writes inside are recorded as made by ``actor`` through ``channel``. The outermost
    ``acting`` moves the events its writes left when it ends (nested ones share its moves)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    outer = _acting.get()
    shared = {"moves": outer.moves, "lock": outer.lock} if outer else {}
    context = Acting(channel, actor, reason, **shared)
    token = _acting.set(context)
    try:
        yield context
    finally:
        _acting.reset(token)
        if outer is None:
            run_moves(context)


def current() -> Acting:
    return _acting.get() or SYSTEM


def note_reason(reason: str) -> None:
    """Why the writes that follow in this context happen (a Host Factory operation)."""
    context = _acting.get()
    if context is not None:
        context.reason = reason


@dataclass(frozen=True)
class Move:
    """Events a write left on its item: ``store.put_events(events)``, then ``clear()`` takes
    them off the item. Both idempotent."""

    store: Any
    events: list[Event]
    clear: Callable[[], None]
    item: tuple = ()  # (table, key) of the item holding the events
    version: int = 0  # the item's version when they were read from it


def defer_move(move: Move) -> None:
    """Run ``move`` when the current unit of work ends, or at once outside of one."""
    context = _acting.get()
    if context is None:
        run([move])
        return
    with context.lock:
        context.moves.append(move)


def flush() -> None:
    """Move now what the current unit of work left (a long-running loop ends a pass)."""
    context = _acting.get()
    if context is not None:
        run_moves(context)


def run_moves(context: Acting) -> None:
    with context.lock:
        moves, context.moves[:] = list(context.moves), []
    if moves:
        run(moves)


def run(moves: list[Move]) -> None:
    """The events of every move in as few batch writes as the history allows, then each
    item's clean-up. A failure leaves the events on their items, where history reads still
    find them and the next sweep moves them; it never fails the caller's unit of work."""
    # A later write to an item holds every event the earlier ones left on it (nothing is
    # cleared before the unit ends): one clean-up per item, the newest, and each event once.
    latest: dict[tuple, Move] = {}
    for move in moves:
        known = latest.get(move.item)
        if known is None or move.version >= known.version or not move.item:
            latest[move.item or (id(move),)] = move
    by_store: dict[int, tuple[Any, dict[tuple, Event]]] = {}
    for move in moves:
        events = by_store.setdefault(id(move.store), (move.store, {}))[1]
        events.update({(e.aggregate, e.aggregate_id, e.event_id): e for e in move.events})
    moves = list(latest.values())
    try:
        for store, events in by_store.values():
            store.put_events(list(events.values()))
    except Exception:
        logger.warning("moving %d events to the history failed; the next sweep moves them", len(moves), exc_info=True)
        return
    # Independent conditional writes, one per item: several at once (a 100-host return's).
    for failed in _cleaners.map(_clear, moves) if len(moves) > 1 else map(_clear, moves):
        if failed:
            logger.warning("clearing moved events off an item failed; the next sweep does it: %s", failed)


_cleaners = ThreadPoolExecutor(max_workers=8, thread_name_prefix="history-move")


def _clear(move: Move) -> str:
    try:
        move.clear()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return ""


def time_key(at: datetime) -> str:
    """A time as a fixed-width UTC string: such strings sort as the times do."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def capped(members: list) -> list:
    if len(members) <= SET_MEMBERS_SHOWN:
        return members
    return [*members[:SET_MEMBERS_SHOWN], f"... and {len(members) - SET_MEMBERS_SHOWN} more"]


def new_event_id() -> str:
    return uuid.uuid4().hex[:16]


def history_days() -> int:
    return int(getattr(settings, "HOSTFACTORY_HISTORY_DAYS", DEFAULT_HISTORY_DAYS))


# -- what changed -----------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A field value as JSON."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list | set | frozenset):
        items = [plain(item) for item in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def tracked_fields(entity_class: type) -> list[str]:
    return [f.name for f in dataclasses.fields(entity_class) if f.name not in UNTRACKED]


def changes_between(before: Any, after: Any) -> dict[str, list]:
    """``{field: [old, new]}`` for every tracked field that differs (``before`` None: a
    creation; ``after`` None: a deletion). Set fields give ``[removed, added]``."""
    sample = after if after is not None else before
    changes = {}
    for name in tracked_fields(type(sample)):
        old = getattr(before, name) if before is not None else None
        new = getattr(after, name) if after is not None else None
        if name in SET_FIELDS:
            old_set, new_set = set(old or ()), set(new or ())
            if old_set != new_set:
                changes[name] = [capped(sorted(old_set - new_set)), capped(sorted(new_set - old_set))]
            continue
        old, new = plain(old), plain(new)
        if old != new and not (old in (None, "", {}, []) and new in (None, "", {}, []) and before is None):
            changes[name] = [old, new]
    return changes


def make_event(
    aggregate: str, aggregate_id: str, version: int, changes: dict, at: datetime, event_id: str | None = None
) -> Event:
    context = current()
    return Event(
        event_id=event_id or new_event_id(),
        at=at,
        aggregate=aggregate,
        aggregate_id=aggregate_id,
        version=version,
        channel=context.channel,
        actor=context.who(),
        reason=context.reason,
        changes=changes,
    )


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFilter:
    aggregate: str | None = None
    aggregate_id: str | None = None
    channel: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, event: Event) -> bool:
        return (
            (self.aggregate is None or event.aggregate == self.aggregate)
            and (self.aggregate_id is None or event.aggregate_id == self.aggregate_id)
            and (self.channel is None or event.channel == self.channel)
            and (self.actor is None or event.actor == self.actor)
            and (self.since is None or event.at >= self.since)
            and (self.until is None or event.at <= self.until)
        )

    def fingerprint(self) -> tuple:
        return tuple((key, plain(value)) for key, value in dataclasses.asdict(self).items() if value is not None)


FEED_FILTERS = ("aggregate", "channel", "actor", "since", "until")


def parse_feed_filter(params: dict | None) -> FeedFilter:
    """The fleet feed's filters from query parameters; InvalidFilter names a bad one."""
    params = {key: value for key, value in (params or {}).items() if value not in (None, "")}
    unknown = sorted(set(params) - set(FEED_FILTERS))
    if unknown:
        raise InvalidFilter(f"{unknown[0]}: not a filter of the event feed; allowed: {', '.join(FEED_FILTERS)}")
    values: dict[str, Any] = {}
    for name, allowed in (("aggregate", AGGREGATES), ("channel", CHANNELS)):
        if name in params:
            if params[name] not in allowed:
                raise InvalidFilter(f"{name}: must be one of {', '.join(allowed)}, got {params[name]!r}")
            values[name] = params[name]
    if "actor" in params:
        if not isinstance(params["actor"], str) or len(params["actor"]) > 150:
            raise InvalidFilter("actor: must be a user name of at most 150 characters")
        values["actor"] = params["actor"]
    for name in ("since", "until"):
        if name in params:
            values[name] = _parse_time(name, params[name])
    if "since" in values and "until" in values and values["since"] > values["until"]:
        raise InvalidFilter("since: must not be after until")
    return FeedFilter(**values)


def _parse_time(name: str, value: Any) -> datetime:
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter(f"{name}: must be an ISO 8601 time such as 2026-12-01T15:00:00Z, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidFilter(f"limit: must be an integer 1..{MAX_PAGE_SIZE}, got {limit!r}")
    return limit


def oldest_kept(now: datetime) -> datetime:
    return now - timedelta(days=history_days())


PASSES = ("provision", "sync")
# A pass record per pass kind and 10 minutes (the last pass in it): a day is 144 records,
# what the console's 24-hour chart reads, however often passes run.
PASS_BUCKET_SECONDS = 600


@dataclass(frozen=True)
class PassRecord:
    """One provision or sync pass: when it ended, whether every step succeeded, and what it
    counted (live machines by status and template, active requests by status and type)."""

    name: str
    at: datetime
    ok: bool
    machines: dict[str, dict[str, int]] = field(default_factory=dict)  # status -> template -> n
    requests: dict[str, dict[str, int]] = field(default_factory=dict)  # status -> type -> n
    errors: int = 0

    @property
    def live(self) -> int:
        return sum(n for by_template in self.machines.values() for n in by_template.values())

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "at": self.at.isoformat()}

    @classmethod
    def from_json(cls, data: dict) -> PassRecord:
        return cls(**{**data, "at": datetime.fromisoformat(data["at"])})


def pass_bucket(at: datetime) -> str:
    stamp = int(at.timestamp()) // PASS_BUCKET_SECONDS * PASS_BUCKET_SECONDS
    return time_key(datetime.fromtimestamp(stamp, UTC))


class HistoryStore(ABC):
    """Where events live: one aggregate's history by key, the fleet's feed by time; and the
    records of the provision and sync passes."""

    aggregate = "event"

    @abstractmethod
    def record_pass(self, record: PassRecord) -> None:
        """Keep ``record`` (the newest of its 10 minutes), and, when it succeeded, as the
        last successful pass of its kind."""

    @abstractmethod
    def last_pass(self, name: str) -> PassRecord | None:
        """The last successful pass of kind ``name``: one key read."""

    @abstractmethod
    def passes(self, name: str, since: datetime) -> list[PassRecord]:
        """Pass records of kind ``name`` since ``since``, oldest first (one per 10 minutes)."""

    @abstractmethod
    def for_aggregate(self, aggregate: str, aggregate_id: str, limit: int = 50, cursor: str | None = None):
        """One aggregate's events, newest first (a ``Page``)."""

    @abstractmethod
    def feed(self, filters: FeedFilter | None = None, limit: int = 50, cursor: str | None = None):
        """Every aggregate's events, newest first (a ``Page``), read by time, never a scan."""

    def sweep(self) -> int:
        """Move events that a change left on its item and nobody moved (a crash between the
        two steps); how many. Nothing to do where events are written directly."""
        return 0

    @abstractmethod
    def clear(self) -> None: ...


def feed_conditions(filters: FeedFilter) -> tuple[Condition, ...]:
    """The filters as the cursor's fingerprint sees them: a cursor is valid only with them."""
    return tuple(Condition(name, "eq", value) for name, value in filters.fingerprint())


class MemoryHistoryStore(HistoryStore):
    """Events in process memory, written under the store's one lock by the write they record."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._keys: list[str] = []  # sort keys of every event, oldest first
        self._events: dict[str, Event] = {}
        self._by_aggregate: dict[tuple[str, str], list[str]] = {}
        self._passes: dict[str, dict[str, PassRecord]] = {}
        self._last_ok: dict[str, PassRecord] = {}

    def record_pass(self, record: PassRecord) -> None:
        with self._lock:
            self._passes.setdefault(record.name, {})[pass_bucket(record.at)] = record
            if record.ok:
                self._last_ok[record.name] = record

    def last_pass(self, name: str) -> PassRecord | None:
        with self._lock:
            return self._last_ok.get(name)

    def passes(self, name: str, since: datetime) -> list[PassRecord]:
        with self._lock:
            records = dict(self._passes.get(name, {}))
        return [records[key] for key in sorted(records) if records[key].at >= since]

    def record(self, event: Event) -> None:
        """Called with the lock held, by the write the event records."""
        key = event.sort_key
        bisect.insort(self._keys, key)
        self._events[key] = event
        bisect.insort(self._by_aggregate.setdefault((event.aggregate, event.aggregate_id), []), key)

    def for_aggregate(self, aggregate: str, aggregate_id: str, limit: int = 50, cursor: str | None = None) -> Page:
        filters = FeedFilter(aggregate=aggregate, aggregate_id=aggregate_id)
        with self._lock:
            keys = list(self._by_aggregate.get((aggregate, aggregate_id), ()))
        return self._page(keys, filters, limit, cursor)

    def feed(self, filters: FeedFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        filters = filters or FeedFilter()
        with self._lock:
            keys = list(self._keys)
        return self._page(keys, filters, limit, cursor)

    def _page(self, keys: list[str], filters: FeedFilter, limit: int, cursor: str | None) -> Page:
        check_limit(limit)
        conditions = feed_conditions(filters)
        start = decode_cursor(cursor, conditions, self.aggregate)
        end = bisect.bisect_left(keys, start) if isinstance(start, str) else len(keys)
        oldest = time_key(oldest_kept(utcnow()))
        found: list[Event] = []
        for key in reversed(keys[:end]):
            if key < oldest:
                break
            event = self._events[key]
            if filters.matches(event):
                found.append(event)
                if len(found) > limit:
                    break
        next_cursor = (
            encode_cursor(found[limit - 1].sort_key, conditions, self.aggregate) if len(found) > limit else None
        )
        return Page(items=found[:limit], next_cursor=next_cursor)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._events.clear()
            self._by_aggregate.clear()
            self._passes.clear()
            self._last_ok.clear()
