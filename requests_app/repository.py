"""RequestRepository: the original design's request finders over ``Repository``."""

from __future__ import annotations

from abc import abstractmethod

from hostfactory.domain import utcnow
from hostfactory.errors import NotFound, RequestClosed
from hostfactory.storage.base import Repository, async_twin, logged
from requests_app.domain import (
    ACTIVE_STATUSES,
    REQUEST_TRANSITIONS,
    TERMINAL_STATUSES,
    Request,
    RequestStatus,
    RequestType,
)
from requests_app.filters import REQUEST_FILTERS


class RequestRepository(Repository[Request]):
    aggregate = "request"
    entity_class = Request
    filter_spec = REQUEST_FILTERS
    indexed_fields = ("status",)
    search_fields = ("request_id",)
    status_machine = REQUEST_TRANSITIONS
    status_enum = RequestStatus

    @logged
    def get_by_status(self, status: RequestStatus | str) -> list[Request]:
        return self._find("status", [self._parse_status(status)])

    @logged
    def get_active_requests(self) -> list[Request]:
        """Requests still pending or in progress: found through the status index, each read
        again consistently, so a request that has just ended is never returned as active."""
        return [request for request in self._find("status", ACTIVE_STATUSES) if request.is_active]

    @logged
    def update_status(self, request_id: str, status: RequestStatus | str, message: str | None = None) -> Request | None:
        """Atomically move to ``status`` if the transition table allows it; the stored request
        (no re-read needed), or None when the id does not exist. InvalidTransition when the
        move is not allowed. A terminal status stamps ``completed_at``."""
        moved = self.transition(request_id, status, message)
        return moved[1] if moved else None

    @logged
    def transition(
        self, request_id: str, status: RequestStatus | str, message: str | None = None
    ) -> tuple[Request, Request] | None:
        """``update_status`` returning ``(before, after)``: the caller that sees an active
        ``before`` and a terminal ``after`` is the one writer that ended the request."""
        target = self._parse_status(status)
        now = utcnow()
        changes = {"updated_at": now}
        if message is not None:
            changes["message"] = message
        if_missing = {"completed_at": now} if target in TERMINAL_STATUSES else {}
        return self._change_status(request_id, target, changes, if_missing)

    @logged
    def add_machine(self, request_id: str, machine_id: str) -> Request:
        """Record ``machine_id`` as launched for the acquire request, in one conditional write
        that holds only while the request is active and short of its ``machine_count``.
        Idempotent: a machine already recorded is no change. RequestClosed otherwise."""
        stored = self._add_machine(request_id, machine_id, ACTIVE_STATUSES)
        if stored is not None:
            return stored
        current = self._get(request_id)
        if current is None or current.request_type != RequestType.ACQUIRE:
            raise NotFound(f"acquire request {request_id!r} does not exist")
        if machine_id in current.machine_ids:
            return current
        if current.is_terminal:
            raise RequestClosed(
                f"request {request_id} is {current.status.value}; it takes no more machines "
                f"({len(current.machine_ids)} of {current.machine_count} registered)"
            )
        raise RequestClosed(
            f"request {request_id} already has all {current.machine_count} of its machines; "
            f"it takes no more (registered: {len(current.machine_ids)})"
        )

    @logged
    def remove_machine(self, request_id: str, machine_id: str) -> Request | None:
        """Undo ``add_machine`` (a registration that failed after it): one conditional write."""
        return self._remove_machine(request_id, machine_id)

    @logged
    def adopt_hosts(self, request: Request, machine_ids: list[str]) -> Request | None:
        """Move hosts an active return has just claimed from its ``other_hosts`` to its
        ``machine_ids``, in one conditional write that holds while it is active and stays
        within its ``machine_count``. The stored request, or None when the write did not
        hold (re-read it to see why)."""
        ids = sorted(set(machine_ids) - set(request.machine_ids))
        if not ids:
            return request
        return self._adopt_hosts(request.request_id, ids, ACTIVE_STATUSES, request.machine_count - len(ids))

    aget_by_status = async_twin()
    aget_active_requests = async_twin()
    aupdate_status = async_twin()
    atransition = async_twin()
    aadd_machine = async_twin()
    aremove_machine = async_twin()
    aadopt_hosts = async_twin()

    @abstractmethod
    def _adopt_hosts(
        self, request_id: str, machine_ids: list[str], active: tuple, held_at_most: int
    ) -> Request | None: ...

    @abstractmethod
    def _remove_machine(self, request_id: str, machine_id: str) -> Request | None: ...

    @abstractmethod
    def _add_machine(self, request_id: str, machine_id: str, active: tuple) -> Request | None:
        """One conditional write: add ``machine_id`` to an acquire request whose status is in
        ``active``, that does not hold it yet and has fewer than ``machine_count``."""
