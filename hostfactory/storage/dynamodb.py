"""The DynamoDB backend on PynamoDB (storage v2, docs/storage-design.md).

Each app's ``storage/dynamodb.py`` declares its PynamoDB model (attributes and narrow indexes)
and its conditional writes; what every table shares is here. Reads go through the model
(strongly consistent for single items and batches); writes that must return what they
replaced go through a ``TableConnection`` with ``ReturnValues``. No DynamoDB detail leaves
this package and the apps' storage modules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import MapAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.connection import TableConnection
from pynamodb.connection.base import MetaTable
from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.condition import Condition as PynamoCondition
from pynamodb.expressions.operand import Path
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from hostfactory.domain import Aggregate, utcnow
from hostfactory.errors import StorageUnavailable, VersionConflict
from hostfactory.storage import history
from hostfactory.storage.base import Repository, T
from hostfactory.storage.config import StorageConfig
from hostfactory.storage.filters import Condition, equality_values, matches

CONDITION_FAILED = "ConditionalCheckFailedException"
THROTTLED = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
}
# The time budget of one storage call: a hung or dead endpoint must surface as "storage
# unavailable" well inside a Host Factory call and the web server's 30 s worker timeout.
# Worst case, a server that accepts and never answers: 3 attempts x 1.2 s read = 3.6 s.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 1.2
MAX_RETRY_ATTEMPTS = 2
TABLE_WAIT_SECONDS = 300
BATCH_GET_LIMIT = 100
INDEX_PAGE_SIZE = 100
ALL_OLD = "ALL_OLD"
ALL_NEW = "ALL_NEW"
# A change carries its event on the item it changes, in the same write (dynalite has no
# transactions; one item write is atomic everywhere): "hfe.<event id>" holds the event,
# "hfo.<event id>.<field>" each changed field's value before the write (copied by the write
# itself, so no read is needed), and "hf_pending" puts the item in the sparse pending-events
# index. An idempotent move then copies the event to the history table and removes these.
EVENT_PREFIX = "hfe."
OLD_PREFIX = "hfo."
PENDING = "hf_pending"
DELETED = "hf_deleted"  # a deletion whose event has not moved yet: reads skip the item
MISSING = {"S": "hf:missing"}  # the copy of a field the item did not have
PENDING_SHARDS = 4
PENDING_INDEX = "pending-events"
# Prefix search: keys-only indexes whose range key is the searched field, under a hash key
# spread over a few shards, so "begins_with" is an index query per shard (never a scan).
SEARCH_SHARD = "search_shard"
SEARCH_SHARDS = 4


def connection_settings(config: StorageConfig) -> dict[str, Any]:
    """What every PynamoDB model and table connection of ``config`` is built with. Credentials
    are botocore's own chain (environment, AWS_PROFILE, instance role), so they refresh."""
    attrs: dict[str, Any] = {
        "region": config.region,
        "connect_timeout_seconds": CONNECT_TIMEOUT_SECONDS,
        "read_timeout_seconds": READ_TIMEOUT_SECONDS,
        "max_retry_attempts": MAX_RETRY_ATTEMPTS,
    }
    if config.host:
        attrs["host"] = config.host
    return attrs


def make_meta(config: StorageConfig, table_name: str) -> type:
    """The PynamoDB ``Meta`` for one table of ``config``."""
    return type(
        "Meta", (), {"table_name": table_name, "billing_mode": "PAY_PER_REQUEST", **connection_settings(config)}
    )


# Batch reads of more than one batch (a 10,000-host Host Factory call) run side by side: the
# answer's latency is that of a few batches, not of a hundred in a row. Bounded, so a worker
# never opens more than this many connections for one call.
BATCH_GET_LIMIT = 100
BATCH_READ_THREADS = 8
_batch_readers = ThreadPoolExecutor(max_workers=BATCH_READ_THREADS, thread_name_prefix="batch-get")


def batch_read(model: type[Model], keys: list[str]) -> list[Model]:
    """Items by key, consistently, in BatchGetItem calls of 100 (several at once when there
    are more); keys not stored are left out."""
    unique = list(dict.fromkeys(keys))
    chunks = [unique[i : i + BATCH_GET_LIMIT] for i in range(0, len(unique), BATCH_GET_LIMIT)]
    if len(chunks) <= 1:
        return list(model.batch_get(unique, consistent_read=True)) if unique else []
    pages = _batch_readers.map(lambda chunk: list(model.batch_get(chunk, consistent_read=True)), chunks)
    return [item for page in pages for item in page]


@contextlib.contextmanager
def translated_errors(table: str, operation: str):
    """Botocore and PynamoDB errors never reach callers raw."""
    try:
        yield
    except (PynamoDBException, BotoCoreError, ClientError) as error:
        raise unavailable(error, table, operation) from error


def error_code(error: Exception) -> tuple[str | None, str | None]:
    """DynamoDB's error code and message, when DynamoDB answered at all (a timeout, a reset
    or a refused connection has none)."""
    cause = error.cause if isinstance(error, PynamoDBException) else error
    if isinstance(cause, ClientError):
        details = cause.response.get("Error", {})
        return details.get("Code"), details.get("Message")
    return None, None


def unavailable(error: Exception, table: str, operation: str) -> StorageUnavailable:
    code, message = error_code(error)
    if code == "ResourceNotFoundException":
        return StorageUnavailable(f"DynamoDB table {table!r} does not exist; run 'manage.py create_dynamodb_tables'")
    if code in THROTTLED:
        return StorageUnavailable(
            f"DynamoDB throttled {operation} on {table!r} after {MAX_RETRY_ATTEMPTS} retries; try again shortly"
        )
    if code == "UnrecognizedClientException" or code == "InvalidSignatureException":
        return StorageUnavailable(f"DynamoDB refused the credentials ({operation} on {table!r}): {code}: {message}")
    if code:
        return StorageUnavailable(f"DynamoDB refused {operation} on {table!r}: {code}: {message}")
    cause = getattr(error, "cause", None) or error
    if type(cause).__name__ == "NoCredentialsError":
        return StorageUnavailable(
            "DynamoDB: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or AWS_PROFILE, or run with an instance role"
        )
    if type(cause).__name__ == "ReadTimeoutError":
        return StorageUnavailable(
            f"DynamoDB is unreachable ({operation} on {table!r}): no answer within {READ_TIMEOUT_SECONDS} s, "
            f"{MAX_RETRY_ATTEMPTS + 1} attempts (ReadTimeoutError)"
        )
    return StorageUnavailable(f"DynamoDB is unreachable ({operation} on {table!r}): {type(cause).__name__}")


def is_condition_failure(error: Exception) -> bool:
    return error_code(error)[0] == CONDITION_FAILED


def keys_index(
    field: str, name: str, range_field: str | None = None, range_attribute: Any = None
) -> GlobalSecondaryIndex:
    """A keys-only GSI on ``field``: an index entry is written only when ``field`` (or the range
    key) changes, and a finder reads the items themselves afterwards, consistently."""
    attrs = {
        "Meta": type("Meta", (), {"index_name": name, "projection": KeysOnlyProjection()}),
        field: UnicodeAttribute(hash_key=True),
    }
    if range_field:
        attrs[range_field] = range_attribute
    return type(f"{name.title().replace('-', '')}Index", (GlobalSecondaryIndex,), attrs)()


def plain_value(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def pending_shard(entity_id: str) -> str:
    return str(zlib.crc32(entity_id.encode()) % PENDING_SHARDS)


def event_names(raw: dict) -> list[str]:
    """The ids of the events an item holds, in the order of their writes."""
    found = [name[len(EVENT_PREFIX) :] for name in raw if name.startswith(EVENT_PREFIX)]
    return sorted(found, key=lambda event_id: event_version(raw, event_id))


def event_version(raw: dict, event_id: str) -> int:
    """The version event ``event_id``'s write made: its copy of the version before, plus one
    (a creation says it itself)."""
    copy = raw.get(f"{OLD_PREFIX}{event_id}.version")
    if copy is not None and copy != MISSING:
        return int(copy["N"]) + 1
    return int(json.loads(raw[EVENT_PREFIX + event_id]["S"]).get("version", 1))


def overlay_copies(raw: dict, event_id: str) -> dict:
    """``raw`` with event ``event_id``'s copies of old values put back in their fields."""
    overlay = dict(raw)
    prefix = f"{OLD_PREFIX}{event_id}."
    for name, value in raw.items():
        if name.startswith(prefix):
            field = name[len(prefix) :]
            if value == MISSING:
                overlay.pop(field, None)
            else:
                overlay[field] = value
    return overlay


def event_attribute_names(raw: dict, event_ids) -> list[str]:
    """The attributes events ``event_ids`` occupy on an item."""
    prefixes = tuple(f"{OLD_PREFIX}{event_id}." for event_id in event_ids)
    wanted = {EVENT_PREFIX + event_id for event_id in event_ids}
    return [name for name in raw if name in wanted or name.startswith(prefixes)]


class TrackedItem(Model):
    """The base of every aggregate's model: what the history keeps on an item (see
    EVENT_PREFIX). Each model adds its own ``pending_index = pending_events_index()`` (an index
    object belongs to one model)."""

    hf_pending = UnicodeAttribute(null=True)
    hf_deleted = UnicodeAttribute(null=True)


def pending_events_index() -> GlobalSecondaryIndex:
    return keys_index(PENDING, PENDING_INDEX)


def search_index(field: str, name: str) -> GlobalSecondaryIndex:
    return keys_index(SEARCH_SHARD, name, field, UnicodeAttribute(range_key=True))


def search_shard(entity_id: str) -> str:
    return str(zlib.crc32(entity_id.encode()) % SEARCH_SHARDS)


class DynamoTable:
    """Creating, describing and deleting the table of ``model`` (``table_name``, ``table``)."""

    model: type[Model]
    table_name: str
    table: TableConnection

    def create_table(self, wait: bool = True) -> bool:
        """Create the table and its indexes unless it exists; True when it was created.

        With ``wait``, return once the table and every index are ACTIVE (polling every 50 ms
        at first: PynamoDB's own wait sleeps 2 s, even on a local server that is done at once).
        """
        with translated_errors(self.table_name, "CreateTable"):
            created = False
            if not self.model.exists():
                try:
                    self.model.create_table(wait=False, billing_mode="PAY_PER_REQUEST")
                    created = True
                except PynamoDBException as error:
                    if error_code(error)[0] != "ResourceInUseException":
                        raise  # else created meanwhile by another process
            if wait:
                self.wait_until_active()
        return created

    def describe(self) -> dict:
        with translated_errors(self.table_name, "DescribeTable"):
            return self.table.describe_table() or {}

    def wait_until_active(self, timeout: float = TABLE_WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            table = self.describe()
            statuses = [table.get("TableStatus")]
            statuses += [index.get("IndexStatus") for index in table.get("GlobalSecondaryIndexes", [])]
            if all(status == "ACTIVE" for status in statuses):
                return
            if time.monotonic() > deadline:
                raise StorageUnavailable(
                    f"DynamoDB table {self.table_name!r} is not ACTIVE after {timeout:.0f} s (status: {statuses})"
                )
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def delete_table(self) -> None:
        with translated_errors(self.table_name, "DeleteTable"):
            if self.model.exists():
                self.model.delete_table()


class DynamoRepository(DynamoTable, Repository[T]):
    """Shared DynamoDB machinery; subclasses set ``build_model`` (table schema)."""

    table_key: str  # "templates", "requests" or "machines": which configured table
    # field -> (index attribute on the model, the index's key attributes), for the keys-only
    # indexes that serve ``indexed_fields``
    keys_indexes: dict[str, tuple[str, tuple[str, ...]]] = {}

    def __init__(self, config: StorageConfig, history_store: Any = None) -> None:
        self.config = config
        self.history_store = history_store
        self.table_name = config.tables[self.table_key]
        self.model: type[Model] = self.build_model(make_meta(config, self.table_name))
        self.id_attribute = getattr(self.model, self.entity_class.id_field)
        self.table = TableConnection(self.table_name, meta_table=self._meta_table(), **connection_settings(config))

    def _meta_table(self) -> MetaTable:
        key = self.entity_class.id_field
        return MetaTable(
            {
                "TableName": self.table_name,
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
            }
        )

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        raise NotImplementedError

    # -- conversion -------------------------------------------------------------------

    def item_values(self, entity: Aggregate) -> dict[str, Any]:
        """The stored attributes of ``entity``: its fields (None and empty index keys left
        out: sparse indexes) plus what the table derives from them."""
        values = {}
        for field in dataclasses.fields(entity):
            value = plain_value(getattr(entity, field.name))
            if value is None or (value == "" and field.name in self.indexed_fields):
                continue
            if isinstance(getattr(self.model, field.name, None), UnicodeSetAttribute):
                value = set(value) or None
                if value is None:
                    continue
            values[field.name] = value
        values.update(self.derived(entity))
        return values

    def derived(self, entity: Aggregate) -> dict[str, Any]:
        """Attributes the table keeps beside the fields (index keys); subclasses."""
        return {}

    def to_item(self, entity: Aggregate) -> Model:
        return self.model(**self.item_values(entity))

    def from_item(self, item: Model) -> T:
        names = {field.name for field in dataclasses.fields(self.entity_class)}
        values = {}
        for key, value in item.attribute_values.items():
            if key not in names:
                continue
            if isinstance(value, MapAttribute):
                value = value.as_dict()
            elif isinstance(value, set):
                value = tuple(sorted(value))
            values[key] = value
        return self.entity_class(**values)

    def from_raw(self, raw: dict) -> T:
        return self.from_item(self.model.from_raw_data(raw))

    # -- primitives -------------------------------------------------------------------

    def _get(self, entity_id: str) -> T | None:
        with translated_errors(self.table_name, "GetItem"):
            try:
                item = self.model.get(entity_id, consistent_read=True)
            except self.model.DoesNotExist:
                return None
        return None if item.hf_deleted else self.from_item(item)

    def _get_many(self, entity_ids: list[str]) -> list[T]:
        found = {}
        with translated_errors(self.table_name, "BatchGetItem"):
            for item in batch_read(self.model, entity_ids):
                if not item.hf_deleted:
                    found[item.attribute_values[self.entity_class.id_field]] = item
        return [self.from_item(found[i]) for i in entity_ids if i in found]

    def _get_raw(self, entity_id: str) -> dict | None:
        with translated_errors(self.table_name, "GetItem"):
            return self.table.get_item(entity_id, consistent_read=True).get("Item")

    def _live(self) -> PynamoCondition:
        """The condition of every write to an aggregate: it exists and is not being deleted."""
        return self.id_attribute.exists() & self.model.hf_deleted.does_not_exist()

    def _put(self, entity: T, expected_version: int) -> None:
        if expected_version == 0:
            self._create(entity)
        else:
            self._save_changes(entity, expected_version)

    def _create(self, entity: T, retried: bool = False) -> None:
        """One conditional PutItem carrying the creation's event."""
        event_id, at = history.new_event_id(), utcnow()
        changes = history.changes_between(None, entity)
        attributes = {**self.to_item(entity).serialize(), **self.created_values(entity)}
        attributes.update(self._event_attributes(entity.id, event_id, at, {"changes": changes, "version": 1}))
        with translated_errors(self.table_name, "PutItem"):
            try:
                self.table.put_item(entity.id, attributes=attributes, condition=self.id_attribute.does_not_exist())
            except PynamoDBException as error:
                if not is_condition_failure(error):
                    raise
                if not retried and self._finish_deletion(entity.id):
                    return self._create(entity, retried=True)
                raise VersionConflict(self._conflict_message(entity.id, 0)) from None
        self._defer_move(attributes)

    def _save_changes(self, entity: T, expected_version: int) -> None:
        """A save of a stored aggregate writes the fields that changed, and their event with
        old and new values: read first, then one UpdateItem conditional on the version read
        (so what was read is exactly what the write replaces)."""
        raw = self._get_raw(entity.id)
        if raw is None or DELETED in raw or int(raw["version"]["N"]) != expected_version:
            raise VersionConflict(self._conflict_message(entity.id, expected_version))
        before = self.from_raw(raw)
        changes = history.changes_between(before, entity)
        values = self.item_values(entity)
        changed = [name for name in self._field_names() if name in changes or name == "updated_at"]
        actions = [self._set_or_remove(name, values.get(name)) for name in changed]
        actions += [getattr(self.model, key).set(value) for key, value in self.derived(entity).items()]
        deltas = {name: change for name, change in changes.items() if name in history.SET_FIELDS}
        copied = [name for name in changed if name not in history.SET_FIELDS]
        condition = self.model.version == expected_version
        updated = self._tracked_update(entity.id, actions, condition, {"deltas": deltas}, copied)
        if updated is None:
            raise VersionConflict(self._conflict_message(entity.id, expected_version))

    def _field_names(self) -> list[str]:
        key = self.entity_class.id_field
        return [field.name for field in dataclasses.fields(self.entity_class) if field.name != key]

    def created_values(self, entity: Aggregate) -> dict[str, Any]:
        """Raw attributes a new item starts with beside its fields (the templates' ledger)."""
        return {}

    def _conflict_message(self, entity_id: str, expected_version: int) -> str:
        if expected_version == 0:
            return f"{self.aggregate} {entity_id} already exists; load it and save the loaded copy"
        return (
            f"{self.aggregate} {entity_id} was changed or deleted by someone else since version "
            f"{expected_version} was read; reload and retry"
        )

    def _remove(self, entity_id: str) -> T | None:
        return self._delete_where(entity_id, self.id_attribute.exists())

    def _delete_where(self, entity_id: str, condition: PynamoCondition) -> T | None:
        """A deletion in one conditional write that marks the item deleted and carries the
        event; the move then deletes the item. None when the condition failed."""
        actions = [self.model.hf_deleted.set(utcnow().isoformat())]
        updated = self._tracked_update(entity_id, actions, condition, {"deleted": True}, ())
        return updated[0] if updated else None

    def _update_where(
        self, entity_id: str, actions: list, condition: PynamoCondition, copied=(), deltas: dict | None = None
    ) -> tuple[T, T] | None:
        """One conditional UpdateItem carrying its event; ``(before, after)`` or None when the
        condition failed. ``copied``: the fields the actions set (their old values go into the
        event, copied by the write itself); ``deltas``: ``{set field: [removed, added]}``."""
        return self._tracked_update(entity_id, actions, condition, {"deltas": deltas or {}}, copied)

    def _update_returning_new(
        self, entity_id: str, actions: list, condition: PynamoCondition, copied=(), deltas: dict | None = None
    ) -> T | None:
        updated = self._update_where(entity_id, actions, condition, copied, deltas)
        return updated[1] if updated else None

    def _tracked_update(
        self, entity_id: str, actions: list, condition: PynamoCondition, record: dict, copied
    ) -> tuple[T, T] | None:
        """The one UpdateItem every change but a creation makes: ``actions`` plus the event
        (``record``, and a copy of each ``copied`` field as it was), the version moved, the
        item put in the pending-events index; ``(before, after)``, or None when ``condition``
        failed. The event moves to the history when the unit of work ends."""
        event_id, at = history.new_event_id(), utcnow()
        # SET, not ADD: dynalite applies ADD before it evaluates the SET copies below, which
        # DynamoDB evaluates on the item as it was; a SET is read the same way by both.
        actions = [*actions, self.model.version.set(self.model.version + 1)]
        actions += self._copy_actions(event_id, ["version", *copied])
        values = self._event_attributes(entity_id, event_id, at, record)
        actions += [Path([name]).set(value) for name, value in values.items()]
        with translated_errors(self.table_name, "UpdateItem"):
            try:
                data = self.table.update_item(
                    entity_id, actions=actions, condition=self._live() & condition, return_values=ALL_NEW
                )
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return None
                raise
        raw = data["Attributes"]
        self._defer_move(raw)
        return self._before(raw, event_id), self.from_raw(raw)

    def _copy_actions(self, event_id: str, fields) -> list:
        """``SET hfo.<event>.<field> = if_not_exists(<field>, MISSING)``: DynamoDB evaluates the
        right side on the item as it was before this write."""
        return [Path([f"{OLD_PREFIX}{event_id}.{name}"]).set(Path([name]) | MISSING) for name in dict.fromkeys(fields)]

    def _event_attributes(self, entity_id: str, event_id: str, at, record: dict) -> dict[str, Any]:
        context = history.current()
        meta = {"at": at.isoformat(), "channel": context.channel, "actor": context.who(), "reason": context.reason}
        return {
            EVENT_PREFIX + event_id: {"S": json.dumps({**meta, **record})},
            PENDING: {"S": pending_shard(entity_id)},
        }

    # -- the events an item holds ---------------------------------------------------------

    def _before(self, raw: dict, event_id: str) -> T:
        """The aggregate as it was before the newest event's write."""
        return self.from_raw(overlay_copies(raw, event_id))

    def _pending_events(self, raw: dict) -> list[history.Event]:
        """Every event an item holds, as history events (empty changes left out)."""
        events = []
        entity_id = raw[self.entity_class.id_field]["S"]
        for event_id in event_names(raw):
            record = json.loads(raw[EVENT_PREFIX + event_id]["S"])
            version, changes = self._changes_of(raw, event_id, record)
            meta = {key: record.get(key, "") for key in ("channel", "actor", "reason")}
            at = datetime.fromisoformat(record["at"])
            if changes:
                events.append(history.Event(event_id, at, self.aggregate, entity_id, version, changes=changes, **meta))
        return events

    def _changes_of(self, raw: dict, event_id: str, record: dict) -> tuple[int, dict]:
        """An event's version and ``{field: [old, new]}``, from the item that holds it: the
        state after the event is the item with every later event's copies put back (newest
        first), the state before it that with this event's own copies too."""
        if "changes" in record:  # a creation: known whole when written
            return int(record["version"]), record["changes"]
        order = {name: event_version(raw, name) for name in event_names(raw)}
        after_raw = dict(raw)
        for later in sorted((n for n in order if order[n] > order[event_id]), key=order.get, reverse=True):
            after_raw = overlay_copies(after_raw, later)
        before = self.from_raw(overlay_copies(after_raw, event_id))
        if record.get("deleted"):
            return order[event_id], history.changes_between(before, None)
        changes = history.changes_between(before, self.from_raw(after_raw))
        changes.update({name: delta for name, delta in record.get("deltas", {}).items() if any(delta)})
        return order[event_id], changes

    # -- moving events to the history ------------------------------------------------------

    def _defer_move(self, raw: dict) -> None:
        """Move the events ``raw`` (an item as a write left it) holds when the unit of work
        ends; each event is built now, while this thread knows the item as written."""
        events = self._pending_events(raw)
        ids = event_names(raw)
        names = event_attribute_names(raw, ids)
        entity_id, version = raw[self.entity_class.id_field]["S"], int(raw["version"]["N"])
        deleting = DELETED in raw
        clear = lambda: self._clear(entity_id, version, names, deleting)  # noqa: E731
        history.defer_move(history.Move(self.history_store, events, clear, (self.table_name, entity_id), version))

    def _move(self, entity_id: str, version: int, events: list, names: list[str], deleting: bool) -> None:
        """Idempotent: the history's put is keyed by the event; the item's clean-up is
        conditional on the version the events were read at."""
        self.history_store.put_events(events)
        self._clear(entity_id, version, names, deleting)

    def _clear(self, entity_id: str, version: int, names: list[str], deleting: bool) -> None:
        """Take moved events off their item (a deletion: delete it now), if nobody wrote it since."""
        at_version = self.model.version == version
        with translated_errors(self.table_name, "UpdateItem"):
            try:
                if deleting:
                    self.table.delete_item(entity_id, condition=at_version & self.model.hf_deleted.exists())
                    return
                removals = [Path([name]).remove() for name in names]
                self.table.update_item(
                    entity_id, actions=[*removals, self.model.hf_pending.remove()], condition=at_version
                )
            except PynamoDBException as error:
                if not is_condition_failure(error):
                    raise
                if not deleting:
                    # Written again since: remove only these events; the newer write's move
                    # (or the next sweep) takes the index flag with its own.
                    self._remove_attributes(entity_id, names)

    def _remove_attributes(self, entity_id: str, names: list[str]) -> None:
        with contextlib.suppress(PynamoDBException):
            self.table.update_item(
                entity_id, actions=[Path([name]).remove() for name in names], condition=self.id_attribute.exists()
            )

    def move_now(self, raw: dict) -> None:
        """Move the events of ``raw`` (read consistently) at once."""
        ids = event_names(raw)
        if not ids:
            return
        version = int(raw["version"]["N"])
        entity_id = raw[self.entity_class.id_field]["S"]
        self._move(entity_id, version, self._pending_events(raw), event_attribute_names(raw, ids), DELETED in raw)

    def sweep_item(self, entity_id: str) -> None:
        """Move what one item holds (its history is about to be read)."""
        raw = self._get_raw(entity_id)
        if raw is not None and PENDING in raw:
            self.move_now(raw)

    def _finish_deletion(self, entity_id: str) -> bool:
        """A create found the id taken: if by a deletion whose event has not moved, finish it
        (True: the id is free now)."""
        raw = self._get_raw(entity_id)
        if raw is None or DELETED not in raw:
            return False
        self.move_now(raw)
        return True

    def sweep_pending(self) -> int:
        """Move the events of every item in the pending-events index (written by a unit of
        work that died before its move); how many items."""
        moved = 0
        index = self.model.pending_index
        with translated_errors(self.table_name, "Query"):
            for shard in range(PENDING_SHARDS):
                for entry in index.query(str(shard)):
                    raw = self._get_raw(entry.attribute_values[self.entity_class.id_field])
                    if raw is not None and PENDING in raw:
                        self.move_now(raw)
                        moved += 1
        return moved

    def _set_status(
        self, entity_id: str, target: StrEnum, sources: set, changes: dict, if_missing: dict
    ) -> tuple[T, T] | None:
        model = self.model
        actions = [model.status.set(target.value)]
        actions += [self._set_or_remove(key, value) for key, value in changes.items()]
        actions += [getattr(model, key).set(getattr(model, key) | value) for key, value in if_missing.items()]
        actions += [getattr(model, key).set(value) for key, value in self.derived_on_status(entity_id, target).items()]
        copied = ["status", *changes, *if_missing]
        return self._update_where(entity_id, actions, model.status.is_in(*(s.value for s in sources)), copied)

    def _set_or_remove(self, key: str, value: Any):
        attribute = getattr(self.model, key)
        value = plain_value(value)
        return attribute.remove() if value is None else attribute.set(value)

    # field -> the model's attribute holding its search index (see SEARCH_SHARD)
    search_indexes: dict[str, str] = {}

    def _search(self, prefix: str, limit: int) -> list[T]:
        """Per searched field and shard, the first ``limit`` index keys after ``prefix``;
        then the items themselves, read consistently (``search`` keeps those that match)."""
        ids: set[str] = set()
        key = self.entity_class.id_field
        with translated_errors(self.table_name, "Query"):
            for field, index_name in self.search_indexes.items():
                index, attribute = getattr(self.model, index_name), getattr(self.model, field)
                for shard in range(SEARCH_SHARDS):
                    entries = index.query(str(shard), attribute.startswith(prefix), limit=limit, page_size=limit)
                    ids.update(entry.attribute_values[key] for entry in entries)
        return self._get_many(sorted(ids))

    def scan_filter(self) -> PynamoCondition | None:
        """What keeps a scan to the aggregates' items (a table may hold helper items)."""
        return None

    def derived_on_status(self, entity_id: str, target: StrEnum) -> dict[str, Any]:
        """Derived attributes a status change moves (the machines' sharded status key)."""
        return {}

    # -- listing ----------------------------------------------------------------------

    def _iter(
        self, conditions: tuple[Condition, ...], start: Any, page_size: int | None = None
    ) -> Iterator[tuple[T, Any]]:
        indexed = equality_values(conditions, self.indexed_fields)
        if indexed:
            yield from self._iter_index(indexed[0].field, indexed[0].value, conditions, start, page_size)
            return
        with translated_errors(self.table_name, "Scan"):
            live = self.model.hf_deleted.does_not_exist()
            extra = self.scan_filter()
            results = self.model.scan(
                live if extra is None else live & extra,
                last_evaluated_key=start,
                page_size=page_size,
                consistent_read=True,
            )
            for item in results:
                entity = self.from_item(item)
                if matches(entity, conditions):
                    yield entity, {self.entity_class.id_field: {"S": entity.id}}

    def _iter_index(
        self, field: str, value: Any, conditions: tuple[Condition, ...], start: Any, page_size: int | None
    ) -> Iterator[tuple[T, Any]]:
        """Matches through a keys-only index: each page of keys, then the items themselves in
        one consistent batch read, kept only where they still match."""
        index = getattr(self.model, self.keys_indexes[field][0])
        size = page_size or INDEX_PAGE_SIZE
        with translated_errors(self.table_name, "Query"):
            while True:
                results = index.query(plain_value(value), last_evaluated_key=start, limit=size, page_size=size)
                keys = [
                    (item.attribute_values[self.entity_class.id_field], self._position(field, item)) for item in results
                ]
                fresh = {entity.id: entity for entity in self._get_many([key for key, _ in keys])} if keys else {}
                for key, position in keys:
                    entity = fresh.get(key)
                    if entity is not None and matches(entity, conditions):
                        yield entity, position
                start = results.last_evaluated_key
                if start is None:
                    return

    def _position(self, field: str, item: Model) -> dict:
        """The raw key of an index entry (the index's keys and the table's): where a query
        resumes after it."""
        raw = item.serialize(null_check=False)
        names = {self.entity_class.id_field, *self.keys_indexes[field][1]}
        return {name: value for name, value in raw.items() if name in names}

    def _find(self, field: str, values: Iterable[Any]) -> list[T]:
        return [entity for value in values for entity, _ in self._iter_index(field, value, (), None, None)]

    def clear(self) -> None:
        with translated_errors(self.table_name, "Scan"), self.model.batch_write() as batch:
            for item in self.model.scan():
                batch.delete(item)
