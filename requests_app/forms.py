"""The admin's request form: an operator changes a request's status and message."""

from __future__ import annotations

from typing import Any

from django import forms

from hostfactory.admin.forms import AggregateForm, rule_form_field
from hostfactory.domain import utcnow
from hostfactory.fleet.requests import request_set_status
from hostfactory.storage import get_repositories
from requests_app import models
from requests_app.domain import REQUEST_FIELDS, REQUEST_TRANSITIONS, Request
from requests_app.services import request_update_message


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
        self.explain_moves(REQUEST_TRANSITIONS, "none (a finished request keeps its status)")

    def initial_from(self, request: Request) -> dict[str, Any]:
        return {"status": request.status.value, "message": request.message}

    def build(self, data: dict[str, Any]) -> Request:
        """The request in its new status; the transition table decides (InvalidTransition)."""
        return self.current.with_status(data["status"], utcnow(), data["message"]).replace(version=data["version"])

    def store(self, request: Request) -> Request:
        """A status move (the transition table decides) or a new message; else nothing."""
        repos, current = get_repositories(), self.current
        if request.status != current.status:
            return request_set_status(
                repos=repos, request_id=request.request_id, status=request.status, message=request.message
            )
        if request.message != current.message:
            return request_update_message(
                repos=repos, request_id=request.request_id, message=request.message, version=current.version
            )
        return current
