"""Template tags of the operator console (the admin)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.urls import reverse

from hostfactory.admin import display
from hostfactory.admin.dashboard import CACHE_SECONDS, LATE_SHARE, NEAR_DEADLINE_SHARE, fleet_counts
from hostfactory.admin.history import recent_rows
from hostfactory.admin.passes import FRAME, STALE_INTERVALS
from hostfactory.anchors import ANCHORS, view_permission
from hostfactory.errors import StorageUnavailable

register = template.Library()


@register.filter
def console_time(value: datetime | None) -> str:
    """A time with seconds and UTC, as everywhere in the console."""
    return display.display_time(value)


@register.filter
def console_duration(value: timedelta) -> str:
    return display.display_duration(value)


@register.simple_tag
def console_link(kind: str, object_id: str | None) -> str:
    """A link to the page of the template, request or machine ``object_id``."""
    return display.admin_link(ANCHORS[kind], object_id)


@register.inclusion_tag("admin/hostfactory/fleet_dashboard.html", takes_context=True)
def fleet_dashboard(context: template.Context) -> dict[str, Any]:
    """The triage panels, each linking to its list; only the panels the user may view."""
    user = context["request"].user
    shown = {kind: user.has_perm(view_permission(kind)) for kind in ANCHORS}
    if not any(shown.values()):
        return {"shown": False}
    try:
        counts = fleet_counts()
    except StorageUnavailable as error:
        return {"shown": True, "error": str(error)}
    return {
        "shown": True,
        "templates": counts.templates if shown["template"] else None,
        "requests": counts.requests if shown["request"] else None,
        "waiting": counts.waiting if shown["request"] else None,
        "returning": counts.returning if shown["machine"] else None,
        "lost": counts.lost if shown["machine"] else None,
        "lost_count": counts.lost_count,
        "passes": counts.passes,
        "chart": counts.chart if shown["machine"] else None,
        "frame": FRAME,
        "stale_intervals": STALE_INTERVALS,
        "read_at": counts.read_at,
        "templates_url": reverse("admin:templates_app_template_changelist"),
        "requests_url": reverse("admin:requests_app_request_changelist"),
        "machines_url": reverse("admin:machines_app_machine_changelist"),
        "cache_seconds": CACHE_SECONDS,
        "late_percent": int(LATE_SHARE * 100),
        "near_percent": int(NEAR_DEADLINE_SHARE * 100),
    }


@register.inclusion_tag("admin/hostfactory/recent_changes.html", takes_context=True)
def recent_changes(context: template.Context) -> dict[str, Any]:
    """The index's "Recent actions": the latest events the user may view."""
    try:
        return {"rows": recent_rows(context["request"].user)}
    except StorageUnavailable as error:
        return {"error": str(error)}
