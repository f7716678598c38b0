"""The event history on DynamoDB: one table, key ``aggregate_key`` ("machine#<id>") and
``event_key`` (time#event id), so one aggregate's history is one query, newest first; the
``by-day`` index (key: the UTC day) serves the fleet's feed by time, never a scan. Events
expire through DynamoDB's TTL on ``expires_at``, after HOSTFACTORY_HISTORY_DAYS."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
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
    check_limit,
    feed_conditions,
    history_days,
    oldest_kept,
    time_key,
)

DAY_INDEX = "by-day"
logger = logging.getLogger("hostfactory.storage")


class DayIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = DAY_INDEX
        projection = AllProjection()

    day = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)


def build_model(meta: type) -> type[Model]:
    class HistoryItem(Model):
        Meta = meta
        aggregate_key = UnicodeAttribute(hash_key=True)
        event_key = UnicodeAttribute(range_key=True)
        day = UnicodeAttribute()
        aggregate = UnicodeAttribute()
        channel = UnicodeAttribute()
        actor = UnicodeAttribute(default="")
        event = UnicodeAttribute()  # the whole event, JSON
        expires_at = NumberAttribute()  # DynamoDB TTL (epoch seconds)
        day_index = DayIndex()

    return HistoryItem


class DynamoHistoryStore(DynamoTable, HistoryStore):
    def __init__(self, config: StorageConfig) -> None:
        self.table_name = config.tables["history"]
        self.model = build_model(make_meta(config, self.table_name))
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
            day=time_key(event.at)[:10],
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
        return self._page(items, limit, conditions, lambda item: None)

    def feed(self, filters: FeedFilter | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        """Day by day, newest first, from ``until`` (or now) back to ``since`` (or the oldest
        kept); aggregate, channel and actor are filter expressions on each day's query."""
        filters = filters or FeedFilter()
        check_limit(limit)
        conditions = feed_conditions(filters)
        start = decode_cursor(cursor, conditions, self.aggregate)
        now = utcnow()
        lowest = max(filters.since or oldest_kept(now), oldest_kept(now))
        day = time_key(filters.until or now)[:10] if start is None else start["day"]
        key = None if start is None else start["key"]
        found: list[tuple[str, Model]] = []
        while day >= time_key(lowest)[:10] and len(found) <= limit:
            for item in self._day(day, filters, lowest, key, limit + 1 - len(found)):
                found.append((day, item))
                if len(found) > limit:
                    break
            key = None
            day = (datetime_of(day) - timedelta(days=1)).date().isoformat()
        items = [item for _, item in found]
        days = {id(item): day for day, item in found}
        return self._page(items, limit, conditions, lambda item: days[id(item)])

    def _day(self, day: str, filters: FeedFilter, lowest, key: dict | None, want: int):
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
            yield from model.day_index.query(
                day,
                bounds,
                filter_condition=condition,
                scan_index_forward=False,
                last_evaluated_key=key,
                page_size=max(want, 25),
            )

    def _page(self, items: list[Model], limit: int, conditions, day_of) -> Page:
        events = [Event.from_json(json.loads(item.event)) for item in items]
        next_cursor = None
        if len(items) > limit:
            last = items[limit - 1]
            position: Any = {"aggregate_key": {"S": last.aggregate_key}, "event_key": {"S": last.event_key}}
            day = day_of(last)
            if day is not None:
                position = {"day": day, "key": {**position, "day": {"S": last.day}}}
            next_cursor = encode_cursor(position, conditions, self.aggregate)
        return Page(items=events[:limit], next_cursor=next_cursor)

    def sweep(self) -> int:
        return sum(source.sweep_pending() for source in self.sources.values())

    def clear(self) -> None:
        with translated_errors(self.table_name, "Scan"), self.model.batch_write() as batch:
            for item in self.model.scan():
                batch.delete(item)


def datetime_of(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)
