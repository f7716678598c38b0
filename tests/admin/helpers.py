"""Small helpers of the admin tests: admin URLs, the values a browser would submit, messages."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import quote
from django.contrib.messages import get_messages
from django.urls import reverse

from hostfactory.storage import get_repositories
from hostfactory.storage.history import Event

MODELS = {"template": "templates_app_template", "request": "requests_app_request", "machine": "machines_app_machine"}


def admin_url(kind: str, view: str = "changelist", object_id: str | None = None) -> str:
    args = [quote(object_id)] if object_id is not None else []
    return reverse(f"admin:{MODELS[kind]}_{view}", args=args)


def submitted(response, **changes: Any) -> dict[str, Any]:
    """What the browser sends for the change form in ``response``, with ``changes``."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def form_errors(response) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {field or "__all__": [str(e) for e in errors] for field, errors in form.errors.items()}


def events_of(kind: str, object_id: str) -> list[Event]:
    """The object's events in its history, newest first."""
    return getattr(get_repositories(), f"{kind}s").history(object_id, limit=1000).items


def newest_event(kind: str, object_id: str) -> Event:
    return events_of(kind, object_id)[0]


def is_deletion(event: Event) -> bool:
    old, new = event.changes[f"{event.aggregate}_id"]
    return old is not None and new is None


def action(name: str, *ids: str, **extra: Any) -> dict[str, Any]:
    """The changelist POST of an admin action on ``ids``."""
    return {"action": name, "_selected_action": list(ids), "index": "0", **extra}
