"""The event history in the console: an object's "History" page and the index's "Recent
actions", both read from the repositories' events (the same storage as the data), so they
show every channel's changes and never link to another store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from hostfactory.admin.display import change_url, display_time
from hostfactory.anchors import ANCHORS, view_permission
from hostfactory.storage import get_repositories
from hostfactory.storage.history import AGGREGATES, SET_FIELDS, Event, FeedFilter

RECENT = 10  # events the index lists


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str
    is_set: bool  # old is what was removed, new what was added


@dataclass(frozen=True)
class EventRow:
    """One event as the console shows it."""

    event: Event
    at: str  # seconds and UTC
    changes: list[FieldChange]
    url: str | None  # the object's page; None when it no longer exists

    @property
    def fields(self) -> str:
        return ", ".join(change.field for change in self.changes) or "-"

    @property
    def kind(self) -> str:
        """``addlink``, ``changelink`` or ``deletelink``: Django's icons for the index list."""
        if is_deletion(self.event):
            return "deletelink"
        return "addlink" if all(change.old == "-" for change in self.changes) else "changelink"


def shown(value: Any) -> str:
    """A JSON value on one line: ``-`` for nothing, strings as they are."""
    if value in (None, "", [], {}):
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return json.dumps(value, sort_keys=True)


def event_row(event: Event, url: str | None) -> EventRow:
    changes = [
        FieldChange(name, shown(old), shown(new), name in SET_FIELDS)
        for name, (old, new) in sorted(event.changes.items())
    ]
    return EventRow(event=event, at=display_time(event.at), changes=changes, url=url)


def history_rows(events: list[Event], object_url: str | None) -> list[EventRow]:
    return [event_row(event, object_url) for event in events]


def recent_rows(user: AbstractBaseUser, limit: int = RECENT) -> list[EventRow]:
    """The latest changes of the kinds ``user`` may view: one feed read (one per kind when
    they may view only some), each row linking to its object's page unless it is gone."""
    history = get_repositories().history
    kinds = [kind for kind in AGGREGATES if user.has_perm(view_permission(kind))]
    if not kinds:
        return []
    if len(kinds) == len(AGGREGATES):
        events = history.feed(FeedFilter(), limit=limit).items
    else:
        read = [event for kind in kinds for event in history.feed(FeedFilter(aggregate=kind), limit=limit).items]
        events = sorted(read, key=lambda event: event.sort_key, reverse=True)[:limit]
    gone = deleted_since(events)
    return [event_row(event, object_url(event, gone)) for event in events]


def object_url(event: Event, gone: set[tuple[str, str]]) -> str | None:
    if (event.aggregate, event.aggregate_id) in gone:
        return None
    return change_url(ANCHORS[event.aggregate], event.aggregate_id)


def is_deletion(event: Event) -> bool:
    """Only a deletion takes the id away: its change is ``[id, None]``."""
    old, new = event.changes.get(ANCHORS[event.aggregate]._meta.pk.name, (None, None))
    return old is not None and new is None


def deleted_since(events: list[Event]) -> set[tuple[str, str]]:
    """The aggregates of ``events`` (newest first, the latest of the fleet) that are gone: those
    whose newest event is their deletion. No read: a deletion is the last event of what it
    deletes, so any later one is in the list too."""
    newest: dict[tuple[str, str], Event] = {}
    for event in events:
        newest.setdefault((event.aggregate, event.aggregate_id), event)
    return {key for key, event in newest.items() if is_deletion(event)}
