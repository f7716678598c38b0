"""The request filter keys, declared once: the repositories validate and apply them, the
REST filter serializer and the admin's sidebar are built from them."""

from __future__ import annotations

from hostfactory.storage.filters import Filter, FilterSpec, parse_choice, parse_datetime, parse_text
from requests_app.domain import REQUEST_FIELDS, RequestStatus, RequestType

REQUEST_FILTERS = FilterSpec(
    {
        "status": Filter("status", "eq", parse_choice(RequestStatus), label="status", rule=REQUEST_FIELDS["status"]),
        "request_type": Filter(
            "request_type", "eq", parse_choice(RequestType), label="type", rule=REQUEST_FIELDS["request_type"]
        ),
        "template_id": Filter("template_id", "eq", parse_text, label="template", rule=REQUEST_FIELDS["template_id"]),
        "created_after": Filter("created_at", "gt", parse_datetime, help_text="ISO 8601; created strictly after."),
        "created_before": Filter("created_at", "lt", parse_datetime, help_text="ISO 8601; created strictly before."),
    }
)
