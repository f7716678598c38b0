"""The DynamoDB backend on PynamoDB: one table per aggregate, every hot lookup a GetItem,
BatchGetItem or Query on an index; writes conditional on ``version``.

Each app's ``storage/dynamodb.py`` declares its PynamoDB model (attributes and indexes) with
``make_meta``; everything else is shared here. No DynamoDB detail leaves this package.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader
from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import GlobalSecondaryIndex
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
# Short timeouts and few retries: a dead endpoint must surface as "storage unavailable"
# within seconds, not hang a Host Factory call.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 10
MAX_RETRY_ATTEMPTS = 3
TABLE_WAIT_SECONDS = 300


def make_meta(config: StorageConfig, table_name: str) -> type:
    """The PynamoDB ``Meta`` for one table of ``config``."""
    attrs: dict[str, Any] = {
        "table_name": table_name,
        "region": config.region,
        "billing_mode": "PAY_PER_REQUEST",
        "connect_timeout_seconds": CONNECT_TIMEOUT_SECONDS,
        "read_timeout_seconds": READ_TIMEOUT_SECONDS,
        "max_retry_attempts": MAX_RETRY_ATTEMPTS,
    }
    if config.host:
        attrs["host"] = config.host
    attrs.update(_profile_credentials(config.profile))
    return type("Meta", (), attrs)


def _profile_credentials(profile: str | None) -> dict[str, str]:
    if not profile:
        return {}
    import boto3  # only when a profile is named

    credentials = boto3.Session(profile_name=profile).get_credentials()
    if credentials is None:
        raise StorageUnavailable(f"DYNAMODB_PROFILE {profile!r} has no credentials")
    frozen = credentials.get_frozen_credentials()
    keys = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key}
    if frozen.token:
        keys["aws_session_token"] = frozen.token
    return keys


# PynamoDB gives every table's connection its own botocore session per thread, and each new
# session re-reads botocore's endpoint and service JSON (0.3-1 s of CPU): three times per
# rebuild of the repositories and again in every new thread (the async twins run in executor
# threads). The sessions stay per connection and thread, made when PynamoDB first asks, but
# read that JSON through one loader shared by the whole process.
_botocore_loader: Loader | None = None
_botocore_loader_lock = threading.Lock()


def _new_botocore_session() -> botocore.session.Session:
    global _botocore_loader
    session = botocore.session.get_session()
    with _botocore_loader_lock:
        if _botocore_loader is None:
            _botocore_loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _botocore_loader)
    return session


class _ConnectionLocal(threading.local):
    """Stands in for PynamoDB's per-thread ``connection._local``, which holds only the session;
    made on first use in each thread, as PynamoDB does."""

    def __init__(self, credentials: tuple) -> None:
        self.credentials = credentials

    def __getattr__(self, name: str) -> Any:
        if name != "session":
            raise AttributeError(name)
        self.session = _new_botocore_session()
        if self.credentials[0] and self.credentials[1]:
            self.session.set_credentials(*self.credentials)
        return self.session


def share_botocore_loader(model: type[Model]) -> None:
    meta = model.Meta
    credentials = tuple(
        getattr(meta, name, None) for name in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
    )
    model._get_connection().connection._local = _ConnectionLocal(credentials)


@contextlib.contextmanager
def translated_errors(table: str, operation: str):
    """Botocore and PynamoDB errors never reach callers raw."""
    try:
        yield
    except (PynamoDBException, BotoCoreError, ClientError) as error:
        raise unavailable(error, table, operation) from error


def _error_code(error: Exception) -> tuple[str | None, str | None]:
    if isinstance(error, PynamoDBException):
        return error.cause_response_code, error.cause_response_message
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return details.get("Code"), details.get("Message")
    return None, None


def unavailable(error: Exception, table: str, operation: str) -> StorageUnavailable:
    code, message = _error_code(error)
    if code == "ResourceNotFoundException":
        return StorageUnavailable(f"DynamoDB table {table!r} does not exist; run 'manage.py create_dynamodb_tables'")
    if code in THROTTLED:
        return StorageUnavailable(
            f"DynamoDB throttled {operation} on {table!r} after {MAX_RETRY_ATTEMPTS} retries; try again shortly"
        )
    if code:
        return StorageUnavailable(f"DynamoDB refused {operation} on {table!r}: {code}: {message}")
    cause = getattr(error, "cause", None) or error
    return StorageUnavailable(f"DynamoDB is unreachable ({operation} on {table!r}): {type(cause).__name__}")


def is_condition_failure(error: Exception) -> bool:
    return _error_code(error)[0] == CONDITION_FAILED


class DynamoRepository(Repository[T]):
    """Shared DynamoDB machinery; subclasses set ``build_model`` (table schema)."""

    table_key: str  # "templates", "requests" or "machines": which configured table

    def __init__(self, config: StorageConfig) -> None:
        self.table_name = config.tables[self.table_key]
        self.model: type[Model] = self.build_model(make_meta(config, self.table_name))
        share_botocore_loader(self.model)
        self.indexes: dict[str, GlobalSecondaryIndex] = {
            field: getattr(self.model, f"{field}_index") for field in self.indexed_fields
        }
        self.id_attribute = getattr(self.model, self.entity_class.id_field)

    @staticmethod
    def build_model(meta: type) -> type[Model]:
        raise NotImplementedError

    # -- conversion -------------------------------------------------------------------

    def to_item(self, entity: Aggregate) -> Model:
        values = {}
        for field in dataclasses.fields(entity):
            value = getattr(entity, field.name)
            if isinstance(value, StrEnum):
                value = value.value
            # Index keys cannot be empty strings: leave them out (sparse index).
            if value is None or (value == "" and field.name in self.indexed_fields):
                continue
            values[field.name] = value
        return self.model(**values)

    def from_item(self, item: Model) -> T:
        values = {
            key: value.as_dict() if isinstance(value, MapAttribute) else value
            for key, value in item.attribute_values.items()
        }
        return self.entity_class(**values)

    # -- primitives -------------------------------------------------------------------

    def _get(self, entity_id: str) -> T | None:
        with translated_errors(self.table_name, "GetItem"):
            try:
                return self.from_item(self.model.get(entity_id, consistent_read=True))
            except self.model.DoesNotExist:
                return None

    def _get_many(self, entity_ids: list[str]) -> list[T]:
        with translated_errors(self.table_name, "BatchGetItem"):
            found = {
                item.attribute_values[self.entity_class.id_field]: item for item in self.model.batch_get(entity_ids)
            }
        return [self.from_item(found[i]) for i in entity_ids if i in found]

    def _put(self, entity: T, expected_version: int) -> None:
        if expected_version == 0:
            condition = self.id_attribute.does_not_exist()
        else:
            condition = self.model.version == expected_version
        with translated_errors(self.table_name, "PutItem"):
            try:
                self.to_item(entity).save(condition=condition)
            except PynamoDBException as error:
                if is_condition_failure(error):
                    raise VersionConflict(self._conflict_message(entity.id, expected_version)) from None
                raise

    def _conflict_message(self, entity_id: str, expected_version: int) -> str:
        if expected_version == 0:
            return f"{self.aggregate} {entity_id} already exists; load it and save the loaded copy"
        return (
            f"{self.aggregate} {entity_id} was changed or deleted by someone else since version "
            f"{expected_version} was read; reload and retry"
        )

    def _remove(self, entity_id: str) -> bool:
        with translated_errors(self.table_name, "DeleteItem"):
            try:
                self.model(entity_id).delete(condition=self.id_attribute.exists())
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return False
                raise
        return True

    def _iter(
        self, conditions: tuple[Condition, ...], start: Any, page_size: int | None = None
    ) -> Iterator[tuple[T, Any]]:
        indexed = equality_values(conditions, self.indexed_fields)
        with translated_errors(self.table_name, "Query" if indexed else "Scan"):
            if indexed:
                first = indexed[0]
                results = self.indexes[first.field].query(
                    _plain(first.value), last_evaluated_key=start, page_size=page_size
                )
            else:
                results = self.model.scan(last_evaluated_key=start, page_size=page_size)
            for item in results:
                entity = self.from_item(item)
                if matches(entity, conditions):
                    yield entity, results.last_evaluated_key

    def _find(self, field: str, values: Iterable[Any]) -> list[T]:
        index = self.indexes[field]
        with translated_errors(self.table_name, "Query"):
            return [self.from_item(item) for value in values for item in index.query(_plain(value))]

    def _set_status(self, entity_id: str, target: StrEnum, sources: set, changes: dict, if_missing: dict) -> bool:
        model = self.model
        actions = [model.status.set(target.value), model.version.add(1)]
        actions += [getattr(model, key).set(value) for key, value in changes.items()]
        actions += [getattr(model, key).set(getattr(model, key) | value) for key, value in if_missing.items()]
        condition = self.id_attribute.exists() & model.status.is_in(*(s.value for s in sources))
        with translated_errors(self.table_name, "UpdateItem"):
            try:
                model(entity_id).update(actions=actions, condition=condition)
            except PynamoDBException as error:
                if is_condition_failure(error):
                    return False
                raise
        return True

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
                    if _error_code(error)[0] != "ResourceInUseException":
                        raise  # else created meanwhile by another process
            if wait:
                self._wait_until_active()
        return created

    def _wait_until_active(self, timeout: float = TABLE_WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            table = self.model._get_connection().describe_table() or {}
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


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value
