"""The machine filter keys, declared once: the repositories validate and apply them, the
REST filter serializer and the admin's sidebar are built from them."""

from __future__ import annotations

from hostfactory.storage.filters import Filter, FilterSpec, parse_choice, parse_text
from machines_app.domain import MACHINE_FIELDS, MachineStatus


def _text(field: str, label: str = "") -> Filter:
    return Filter(field, "eq", parse_text, label=label, rule=MACHINE_FIELDS[field])


MACHINE_FILTERS = FilterSpec(
    {
        "status": Filter("status", "eq", parse_choice(MachineStatus), label="status", rule=MACHINE_FIELDS["status"]),
        "template_id": _text("template_id", "template"),
        "request_id": _text("request_id", "request"),
        "return_request_id": _text("return_request_id", "return request"),
        "name": _text("name"),
    }
)
