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
import time
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import MapAttribute, UnicodeSetAttribute
from pynamodb.connection import TableConnection
from pynamodb.connection.base import MetaTable
from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.condition import Condition as PynamoCondition
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from hostfactory.domain import Aggregate
from hostfactory.errors import StorageUnavailable, VersionConflict
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
    from pynamodb.attributes import UnicodeAttribute

    attrs = {
        "Meta": type("Meta", (), {"index_name": name, "projection": KeysOnlyProjection()}),
        field: UnicodeAttribute(hash_key=True),
    }
    if range_field:
        attrs[range_field] = range_attribute
    return type(f"{name.title().replace('-', '')}Index", (GlobalSecondaryIndex,), attrs)()


def plain_value(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


class DynamoRepository(Repository[T]):
    """Shared DynamoDB machinery; subclasses set ``build_model`` (table schema)."""

    table_key: str  # "templates", "requests" or "machines": which configured table
    # field -> (index attribute on the model, the index's key attributes), for the keys-only
    # indexes that serve ``indexed_fields``
    keys_indexes: dict[str, tuple[str, tuple[str, ...]]] = {}

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
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
                return self.from_item(self.model.get(entity_id, consistent_read=True))
            except self.model.DoesNotExist:
                return None

    def _get_many(self, entity_ids: list[str]) -> list[T]:
        found = {}
        with translated_errors(self.table_name, "BatchGetItem"):
            for item in self.model.batch_get(entity_ids, consistent_read=True):
                found[item.attribute_values[self.entity_class.id_field]] = item
        return [self.from_item(found[i]) for i in entity_ids if i in found]

    def _put(self, entity: T, expected_version: int) -> None:
        with translated_errors(self.table_name, "PutItem"):
            try:
                self.to_item(entity).save(condition=self._version_condition(expected_version))
            except PynamoDBException as error:
                if is_condition_failure(error):
                    raise VersionConflict(self._conflict_message(entity.id, expected_version)) from None
                raise

    def _version_condition(self, expected_version: int) -> PynamoCondition:
        """Optimistic locking, written out rather than PynamoDB's ``VersionAttribute``:
        that attribute adds its condition to every write, but the status changes and ledger
        writes here are single conditional UpdateItems with conditions of their own."""
        if expected_version == 0:
            return self.id_attribute.does_not_exist()
        return self.model.version == expected_version

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
        """One conditional DeleteItem returning what it deleted; None when the condition failed."""
        with translated_errors(self.table_name, "DeleteItem"):
            try:
                data = self.table.delete_item(entity_id, condition=condition, return_values=ALL_OLD)
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return None
                raise
        return self.from_raw(data["Attributes"])

    def _update_where(self, entity_id: str, actions: list, condition: PynamoCondition) -> tuple[T, dict] | None:
        """One conditional UpdateItem (the version always moves); ``(before, raw before)``
        or None when the condition failed. The caller knows what it set, so it derives the
        after-image itself instead of reading it back."""
        actions = [*actions, self.model.version.add(1)]
        with translated_errors(self.table_name, "UpdateItem"):
            try:
                data = self.table.update_item(
                    entity_id, actions=actions, condition=self.id_attribute.exists() & condition, return_values=ALL_OLD
                )
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return None
                raise
        raw = data["Attributes"]
        return self.from_raw(raw), raw

    def _update_returning_new(self, entity_id: str, actions: list, condition: PynamoCondition) -> T | None:
        """One conditional UpdateItem returning the stored aggregate (ALL_NEW); None when the
        condition failed."""
        item = self.model(entity_id)
        with translated_errors(self.table_name, "UpdateItem"):
            try:
                item.update(
                    actions=[*actions, self.model.version.add(1)], condition=self.id_attribute.exists() & condition
                )
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return None
                raise
        return self.from_item(item)

    def _set_status(
        self, entity_id: str, target: StrEnum, sources: set, changes: dict, if_missing: dict
    ) -> tuple[T, T] | None:
        model = self.model
        actions = [model.status.set(target.value)]
        actions += [self._set_or_remove(key, value) for key, value in changes.items()]
        actions += [getattr(model, key).set(getattr(model, key) | value) for key, value in if_missing.items()]
        actions += [getattr(model, key).set(value) for key, value in self.derived_on_status(entity_id, target).items()]
        moved = self._update_where(entity_id, actions, model.status.is_in(*(s.value for s in sources)))
        if moved is None:
            return None
        before, _raw = moved
        missing = {key: value for key, value in if_missing.items() if getattr(before, key) is None}
        after = before.replace(status=target, version=before.version + 1, **changes, **missing)
        return before, after

    def _set_or_remove(self, key: str, value: Any):
        attribute = getattr(self.model, key)
        value = plain_value(value)
        return attribute.remove() if value is None else attribute.set(value)

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
            results = self.model.scan(
                self.scan_filter(), last_evaluated_key=start, page_size=page_size, consistent_read=True
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

    # -- tables -----------------------------------------------------------------------

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
