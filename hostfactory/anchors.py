"""The anchor model of each kind of aggregate, by the name the event history gives the kind
("template", "request", "machine"): where its permissions and its admin pages hang."""

from __future__ import annotations

from django.db import models

from machines_app.models import Machine
from requests_app.models import Request
from templates_app.models import Template

ANCHORS: dict[str, type[models.Model]] = {"template": Template, "request": Request, "machine": Machine}


def view_permission(kind: str) -> str:
    """``"machines_app.view_machine"`` for ``"machine"``."""
    opts = ANCHORS[kind]._meta
    return f"{opts.app_label}.view_{opts.model_name}"
