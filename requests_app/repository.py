"""RequestRepository: the original design's request finders over ``Repository``."""

from __future__ import annotations

from hostfactory.domain import utcnow
from hostfactory.storage.base import Repository, async_twin, logged
from requests_app.domain import (
    ACTIVE_STATUSES,
    REQUEST_TRANSITIONS,
    TERMINAL_STATUSES,
    Request,
    RequestStatus,
)
from requests_app.filters import REQUEST_FILTERS


class RequestRepository(Repository[Request]):
    aggregate = "request"
    entity_class = Request
    filter_spec = REQUEST_FILTERS
    indexed_fields = ("status",)
    status_machine = REQUEST_TRANSITIONS
    status_enum = RequestStatus

    @logged
    def get_by_status(self, status: RequestStatus | str) -> list[Request]:
        return self._find("status", [self._parse_status(status)])

    @logged
    def get_active_requests(self) -> list[Request]:
        """Requests still pending or in progress (one index query per active status)."""
        return self._find("status", ACTIVE_STATUSES)

    @logged
    def update_status(self, request_id: str, status: RequestStatus | str, message: str | None = None) -> bool:
        """Atomically move to ``status`` if the transition table allows it.

        False when the id does not exist; InvalidTransition when the move is not allowed.
        A terminal status stamps ``completed_at``.
        """
        target = self._parse_status(status)
        now = utcnow()
        changes = {"updated_at": now}
        if message is not None:
            changes["message"] = message
        if_missing = {"completed_at": now} if target in TERMINAL_STATUSES else {}
        return self._change_status(request_id, target, changes, if_missing)

    aget_by_status = async_twin()
    aget_active_requests = async_twin()
    aupdate_status = async_twin()
