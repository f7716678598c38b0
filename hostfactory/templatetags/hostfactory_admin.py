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
    """Capacity per template and the active requests, each linking to its list; only the
    parts the user may view."""
    user = context["request"].user
    show_templates = user.has_perm("templates_app.view_template")
    show_requests = user.has_perm("requests_app.view_request")
    if not (show_templates or show_requests):
        return {"shown": False}
    try:
        counts = fleet_counts()
    except StorageUnavailable as error:
        return {"shown": True, "error": str(error)}
    return {
        "shown": True,
        "templates": counts.templates if show_templates else None,
        "templates_url": reverse("admin:templates_app_template_changelist"),
        "requests": counts.requests if show_requests else None,
        "requests_url": reverse("admin:requests_app_request_changelist"),
        "cache_seconds": CACHE_SECONDS,
    }
