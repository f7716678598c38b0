"""The admin's request form: an operator changes a request's status and message."""

from __future__ import annotations

from typing import Any

from django import forms

from hostfactory.admin_forms import AggregateForm, rule_form_field
from hostfactory.domain import utcnow
from requests_app import models
from requests_app.domain import REQUEST_FIELDS, REQUEST_TRANSITIONS, Request


class RequestForm(AggregateForm):
    model = models.Request

    status = rule_form_field(REQUEST_FIELDS["status"], label="Status")
    message = rule_form_field(
        REQUEST_FIELDS["message"],
        label="Message",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What Host Factory shows for this request.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.current is not None:
            moves = sorted(status.value for status in REQUEST_TRANSITIONS.table[self.current.status])
            allowed = ", ".join(moves) if moves else "none (a finished request keeps its status)"
            self.fields["status"].help_text = f"Moves allowed from {self.current.status.value}: {allowed}."

    def initial_from(self, request: Request) -> dict[str, Any]:
        return {"status": request.status.value, "message": request.message}

    def build(self, data: dict[str, Any]) -> Request:
        """The request in its new status; the transition table decides (InvalidTransition)."""
        return self.current.with_status(data["status"], utcnow(), data["message"]).replace(version=data["version"])
