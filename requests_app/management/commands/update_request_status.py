"""``manage.py update_request_status REQUEST_ID STATUS [--message M]``"""

from __future__ import annotations

from typing import Any

from hostfactory.domain import parse_enum
from hostfactory.fleet.requests import request_set_status
from hostfactory.management.base import HostFactoryCommand
from hostfactory.services import get_or_404
from requests_app.domain import RequestStatus

STATUSES = ", ".join(status.value for status in RequestStatus)


class Command(HostFactoryCommand):
    help = (
        "Move one request to STATUS, as an operator would in the admin. The transition rules apply: "
        "pending -> in_progress or any terminal status; in_progress -> a terminal status; terminal "
        "statuses (complete, partial, failed, cancelled, timeout) never change. "
        f"STATUS is one of: {STATUSES}."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("request_id", metavar="REQUEST_ID", help="req-<uuid> or ret-<uuid>")
        parser.add_argument("status", metavar="STATUS", help=f"one of {STATUSES}")
        parser.add_argument("--message", help="the message Host Factory shows for the request")

    def handle(self, *args: Any, **options: Any) -> None:
        status = parse_enum(RequestStatus, "status", options["status"])
        repos = self.repositories()
        before = get_or_404(repos.requests, options["request_id"])
        after = request_set_status(repos=repos, request_id=before.request_id, status=status, message=options["message"])
        message = f" (message: {after.message!r})" if options["message"] is not None else ""
        self.summary(f"Request {after.request_id}: {before.status.value} -> {after.status.value}{message}")
