"""The event history on DynamoDB: one table, key ``aggregate_key`` ("machine#<id>") and
``event_key`` (time#event id), so one aggregate's history is one query, newest first; the
``by-month`` index (key: the UTC month) serves the fleet's feed by time, never a scan: 90
days of history are at most four index partitions to walk, even when they are empty. (One
key per month takes every event's index write; far below a partition's 1,000 writes a
second at the rates a 100,000-host fleet changes.) Events
expire through DynamoDB's TTL on ``expires_at``, after HOSTFACTORY_HISTORY_DAYS."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import TableConnection
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from hostfactory.domain import utcnow
from hostfactory.storage.base import Page, decode_cursor, encode_cursor
from hostfactory.storage.config import StorageConfig
from hostfactory.storage.dynamodb import (
    DynamoTable,
    connection_settings,
    error_code,
    make_meta,
    translated_errors,
    unavailable,
)
from hostfactory.storage.history import (
    Event,
    FeedFilter,
    HistoryStore,
    PassRecord,
    check_limit,
    feed_conditions,
    history_days,
    oldest_kept,
    pass_bucket,
    time_key,
)

MONTH_INDEX = "by-month"
logger = logging.getLogger("hostfactory.storage")


class MonthIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = MONTH_INDEX
        projection = AllProjection()

    month = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)


def build_model(meta: type) -> type[Model]:
    class HistoryItem(Model):
        Meta = meta
        aggregate_key = UnicodeAttribute(hash_key=True)
        event_key = UnicodeAttribute(range_key=True)
        month = UnicodeAttribute()  # "2026-12"
        aggregate = UnicodeAttribute()
        channel = UnicodeAttribute()
        actor = UnicodeAttribute(default="")
        event = UnicodeAttribute()  # the whole event, JSON
        expires_at = NumberAttribute()  # DynamoDB TTL (epoch seconds)
        month_index = MonthIndex()

    return HistoryItem


def build_pass_model(meta: type) -> type[Model]:
    """A pass record in the same table: key "pass#<name>" and its 10-minute bucket, or
    "pass-ok#<name>" and "last" for the last successful one. No ``month``: not in the feed."""

    class PassItem(Model):
        Meta = meta
        aggregate_key = UnicodeAttribute(hash_key=True)
        event_key = UnicodeAttribute(range_key=True)
        record = UnicodeAttribute()  # JSON
        expires_at = NumberAttribute()

    return PassItem


class DynamoHistoryStore(DynamoTable, HistoryStore):
    def __init__(self, config: StorageConfig) -> None:
        self.table_name = config.tables["history"]
        self.model = build_model(make_meta(config, self.table_name))
        self.pass_model = build_pass_model(make_meta(config, self.table_name))
        self.table = TableConnection(self.table_name, **connection_settings(config))
        # aggregate -> its repository: whose items may hold events not moved yet
        self.sources: dict[str, Any] = {}

    def create_table(self, wait: bool = True) -> bool:
        created = super().create_table(wait=wait)
        if created:
            self._expire_events()
        return created

    def _expire_events(self) -> None:
        """Turn DynamoDB's TTL on for ``expires_at``. A local server without TTL (dynalite)
        keeps old events; reads never show them past HOSTFACTORY_HISTORY_DAYS anyway."""
        try:
            self.table.update_time_to_live("expires_at")
        except PynamoDBException as error:
            if error_code(error)[0] not in ("UnknownOperationException", "ValidationException"):
                raise unavailable(error, self.table_name, "UpdateTimeToLive") from error
            logger.warning("%s: this server has no TTL; expired events are hidden, not deleted", self.table_name)

    def record_pass(self, record: PassRecord) -> None:
        data = json.dumps(record.as_json())
        expires = int((record.at + timedelta(days=history_days())).timestamp())
        keys = [(f"pass#{record.name}", pass_bucket(record.at))]
        if record.ok:
            keys.append((f"pass-ok#{record.name}", "last"))
        with translated_errors(self.table_name, "PutItem"):
            for key, bucket in keys:
                self.pass_model(key, bucket, record=data, expires_at=expires).save()

    def last_pass(self, name: str) -> PassRecord | None:
        with translated_errors(self.table_name, "GetItem"):
            try:
                item = self.pass_model.get(f"pass-ok#{name}", "last", consistent_read=True)
            except self.pass_model.DoesNotExist:
                return None
        return PassRecord.from_json(json.loads(item.record))

    def passes(self, name: str, since) -> list[PassRecord]:
        with translated_errors(self.table_name, "Query"):
            items = self.pass_model.query(f"pass#{name}", self.pass_model.event_key >= pass_bucket(since))
            records = [PassRecord.from_json(json.loads(item.record)) for item in items]
        return [record for record in records if record.at >= since]

    def put_events(self, events: list[Event]) -> None:
        """Idempotent: an event's key is its own; a second put writes the same item."""
        if not events:
            return
        with translated_errors(self.table_name, "BatchWriteItem"), self.model.batch_write() as batch:
            for event in events:
                batch.save(self._item(event))

    def _item(self, event: Event) -> Model:
        return self.model(
            aggregate_key=f"{event.aggregate}#{event.aggregate_id}",
            event_key=event.sort_key,
            month=time_key(event.at)[:7],
            aggregate=event.aggregate,
            channel=event.channel,
            actor=event.actor,
            event=json.dumps(event.as_json()),
            expires_at=int((event.at + timedelta(days=history_days())).timestamp()),
        )

    def for_aggregate(self, aggregate: str, aggregate_id: str, limit: int = 50, cursor: str | None = None) -> Page:
        check_limit(limit)
        conditions = feed_conditions(FeedFilter(aggregate=aggregate, aggregate_id=aggregate_id))
        start = decode_cursor(cursor, conditions, self.aggregate)
        source = self.sources.get(aggregate)
        if source is not None:
            source.sweep_item(aggregate_id)  # its own events not moved yet come first
        oldest = time_key(oldest_kept(utcnow()))
        with translated_errors(self.table_name, "Query"):
            items = list(
                self.model.query(
                    f"{aggregate}#{aggregate_id}",
                    self.model.event_key >= oldest,
                    scan_index_forward=False,
                    consistent_read=True,
                    last_evaluated_key=start,
                    limit=limit + 1,
                    page_size=limit + 1,
                )
            )
        return self._page(items, limit, conditions)

    def feed(self, filters: FeedFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        """Month by month, newest first, from ``until`` (or now) back to ``since`` (or the
        oldest kept); aggregate, channel and actor are filter expressions on each query."""
        filters = filters or FeedFilter()
        check_limit(limit)
        conditions = feed_conditions(filters)
        start = decode_cursor(cursor, conditions, self.aggregate)
        now = utcnow()
        lowest = max(filters.since or oldest_kept(now), oldest_kept(now))
        month = time_key(filters.until or now)[:7] if start is None else start["month"]
        key = None if start is None else start["key"]
        found: list[tuple[str, Model]] = []
        while month >= time_key(lowest)[:7] and len(found) <= limit:
            for item in self._month(month, filters, lowest, key, limit + 1 - len(found)):
                found.append(item)
                if len(found) > limit:
                    break
            key = None
            month = previous_month(month)
        return self._page(found, limit, conditions, feed=True)

    def _month(self, month: str, filters: FeedFilter, lowest, key: dict | None, want: int):
        model = self.model
        bounds = model.event_key >= time_key(lowest)
        if filters.until is not None:
            bounds = model.event_key.between(time_key(lowest), time_key(filters.until) + "~")
        condition = None
        for name in ("aggregate", "channel", "actor"):
            value = getattr(filters, name)
            if value is not None:
                term = getattr(model, name) == value
                condition = term if condition is None else condition & term
        with translated_errors(self.table_name, "Query"):
            yield from model.month_index.query(
                month,
                bounds,
                filter_condition=condition,
                scan_index_forward=False,
                last_evaluated_key=key,
                page_size=want,
            )

    def _page(self, items: list[Model], limit: int, conditions, feed: bool = False) -> Page:
        events = [Event.from_json(json.loads(item.event)) for item in items]
        next_cursor = None
        if len(items) > limit:
            last = items[limit - 1]
            position: Any = {"aggregate_key": {"S": last.aggregate_key}, "event_key": {"S": last.event_key}}
            if feed:
                position = {"month": last.month, "key": {**position, "month": {"S": last.month}}}
            next_cursor = encode_cursor(position, conditions, self.aggregate)
        return Page(items=events[:limit], next_cursor=next_cursor)

    def sweep(self) -> int:
        return sum(source.sweep_pending() for source in self.sources.values())

    def clear(self) -> None:
        with translated_errors(self.table_name, "Scan"), self.model.batch_write() as batch:
            for item in self.model.scan():
                batch.delete(item)


def previous_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"
