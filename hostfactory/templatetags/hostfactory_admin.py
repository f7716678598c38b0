"""Template tags of the operator console (the admin)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from hostfactory.admin.dashboard import CACHE_SECONDS, fleet_counts
from hostfactory.errors import StorageUnavailable

register = template.Library()


@register.inclusion_tag("admin/hostfactory/fleet_dashboard.html", takes_context=True)
def fleet_dashboard(context: template.Context) -> dict[str, Any]:
    """Requests and machines by status, each count linking to its filtered list; only the
    parts the user may view."""
    user = context["request"].user
    show_requests = user.has_perm("requests_app.view_request")
    show_machines = user.has_perm("machines_app.view_machine")
    if not (show_requests or show_machines):
        return {"shown": False}
    try:
        counts = fleet_counts()
    except StorageUnavailable as error:
        return {"shown": True, "error": str(error)}
    tables = []
    if show_requests:
        tables.append(("Requests", reverse("admin:requests_app_request_changelist"), counts.requests))
    if show_machines:
        tables.append(("Machines", reverse("admin:machines_app_machine_changelist"), counts.machines))
    return {"shown": True, "tables": tables, "cache_seconds": CACHE_SECONDS}
