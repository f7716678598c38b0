"""How aggregate values show in the admin: list cells, read-only rows, links between pages.

Times show one way everywhere (``display_time``: seconds and UTC); ids show in one element
(``id_element``) that the stylesheet cuts to one line (``.hf-id``), holding the full id as its
text (selecting it copies the whole id), its title (on hover) and ``data-copy``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from hostfactory.admin.forms import pretty_json
from hostfactory.domain import utcnow

TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
LONG_ID = 20  # longer than an EC2 instance id (19): cut short on screen


def display_time(value: datetime | None, empty: str = "-") -> str:
    """A time as the console shows it: ``2026-12-01 12:38:23 UTC``."""
    if value is None:
        return empty
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TIME_FORMAT)


def display_duration(delta: timedelta) -> str:
    """A duration in its two largest units: ``45s``, ``12m 03s``, ``3h 04m``, ``2d 05h``;
    negative is shown as ``-`` before it (a deadline already passed)."""
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def display_age(since: datetime | None, now: datetime, empty: str = "-") -> str:
    return empty if since is None else display_duration(now - since)


def id_element(object_id: str) -> SafeString:
    """An id on one line, a long one cut short by the stylesheet, the full id kept to hover
    and copy."""
    kind = "hf-id long" if len(object_id) > LONG_ID else "hf-id"
    return format_html('<span class="{1}" title="{0}" data-copy="{0}">{0}</span>', object_id, kind)


def display_value(value: Any, empty: str) -> Any:
    """One aggregate value as the admin shows it, in a list cell or a read-only row."""
    if value is None:
        return empty
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return display_time(value, empty)
    if isinstance(value, dict):
        return format_html("<pre>{}</pre>", pretty_json(value))
    return value


def aggregate_field(name: str, description: str | None = None, *, boolean: bool = False) -> Callable:
    """An admin display method showing one field of ``obj.aggregate``. Named like the field,
    so it serves as a list column and as the read-only row of a view-only page."""

    @admin.display(description=description or name.replace("_", " "), boolean=boolean)
    def show(model_admin: admin.ModelAdmin, obj: models.Model) -> Any:
        return display_value(getattr(obj.aggregate, name), model_admin.get_empty_value_display())

    show.__name__ = name
    return show


def aggregate_age(*fields: str, description: str = "age") -> Callable:
    """An admin display method showing how long ago the first set of ``fields`` was (a
    machine's launch, else its registration)."""

    @admin.display(description=description)
    def age(model_admin: admin.ModelAdmin, obj: models.Model) -> str:
        since = next((value for value in (getattr(obj.aggregate, f) for f in fields) if value is not None), None)
        return display_age(since, utcnow(), model_admin.get_empty_value_display())

    return age


def id_column(name: str, description: str) -> Callable:
    """A ``list_display`` column showing the object's id on one line (see ``id_element``);
    named like the id field, so the cell keeps its ``field-<name>`` class."""

    @admin.display(description=description)
    def show(obj: models.Model) -> str:
        return id_element(obj.pk)

    show.__name__ = name
    return show


def aggregate_link(name: str, model: type[models.Model], id_field: str, description: str | None = None) -> Callable:
    """An admin display method linking to the page of the aggregate whose id ``obj.aggregate``
    holds in ``id_field``."""

    @admin.display(description=description or name.replace("_", " "))
    def show(model_admin: admin.ModelAdmin, obj: models.Model) -> str:
        return admin_link(model, getattr(obj.aggregate, id_field))

    show.__name__ = name
    return show


def change_url(model: type[models.Model], object_id: str) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(object_id)])


def admin_link(model: type[models.Model], object_id: str | None) -> str:
    """A link to an aggregate's page, showing its id (see ``id_element``)."""
    if not object_id:
        return "-"
    return format_html('<a href="{}">{}</a>', change_url(model, object_id), id_element(object_id))
