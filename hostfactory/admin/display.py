"""How aggregate values show in the admin: list cells, read-only rows, links between pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import display_for_value, quote
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from hostfactory.admin.forms import pretty_json


def display_value(value: Any, empty: str) -> Any:
    """One aggregate value as the admin shows it, in a list cell or a read-only row."""
    if value is None:
        return empty
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return display_for_value(value, empty)
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


def admin_link(model: type[models.Model], object_id: str | None, text: str | None = None) -> str:
    if not object_id:
        return "-"
    return format_html('<a href="{}">{}</a>', change_url(model, object_id), text or object_id)
