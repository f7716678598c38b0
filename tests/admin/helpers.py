"""Small helpers of the admin tests: admin URLs, the values a browser would submit, messages."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse

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


def log_entries(model, object_id: str) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    return list(LogEntry.objects.filter(content_type=content_type, object_id=object_id).order_by("action_time", "pk"))


def action(name: str, *ids: str, **extra: Any) -> dict[str, Any]:
    """The changelist POST of an admin action on ``ids``."""
    return {"action": name, "_selected_action": list(ids), "index": "0", **extra}
