"""The Request aggregate: one Host Factory call that asks for hosts or gives them back."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from hostfactory.domain import (
    UUID_RE,
    Aggregate,
    StatusMachine,
    check_datetime,
    check_int_range,
    check_template_id,
    check_type,
    fail,
    parse_enum,
)
from machines_app.domain import HFResult, Machine, hf_acquire_result, hf_return_result

REQUEST_ID_RE = re.compile(rf"^(req|ret)-{UUID_RE}$")
MAX_MACHINES = 10000


class RequestType(StrEnum):
    ACQUIRE = "acquire"
    RETURN = "return"


ID_PREFIX = {RequestType.ACQUIRE: "req", RequestType.RETURN: "ret"}


class RequestStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


S = RequestStatus
ACTIVE_STATUSES = (S.PENDING, S.IN_PROGRESS)
TERMINAL_STATUSES = (S.COMPLETE, S.PARTIAL, S.FAILED, S.CANCELLED, S.TIMEOUT)
REQUEST_TRANSITIONS = StatusMachine(
    "request",
    {
        S.PENDING: {S.IN_PROGRESS, *TERMINAL_STATUSES},
        S.IN_PROGRESS: set(TERMINAL_STATUSES),
        **{status: set() for status in TERMINAL_STATUSES},
    },
)

HF_REQUEST_STATUS = {
    S.PENDING: "running",
    S.IN_PROGRESS: "running",
    S.COMPLETE: "complete",
    S.PARTIAL: "complete_with_error",
    S.FAILED: "complete_with_error",
    S.CANCELLED: "complete_with_error",
    S.TIMEOUT: "complete_with_error",
}


def new_request_id(request_type: RequestType) -> str:
    return f"{ID_PREFIX[request_type]}-{uuid.uuid4()}"


def request_type_of(request_id: str) -> RequestType | None:
    """The type an id's prefix says, or None for an id we could not have issued."""
    if not isinstance(request_id, str) or not REQUEST_ID_RE.fullmatch(request_id):
        return None
    return RequestType.ACQUIRE if request_id.startswith("req-") else RequestType.RETURN


@dataclasses.dataclass(frozen=True, kw_only=True)
class Request(Aggregate):
    request_id: str
    request_type: RequestType
    machine_count: int
    template_id: str | None = None
    status: RequestStatus = RequestStatus.PENDING
    message: str = ""
    requested_by: str = ""
    deadline: datetime | None = None
    completed_at: datetime | None = None
    # What the provider launched for this request (fleet, group or reservation ids), so a
    # return or a retry can find it again. Empty with the `none` provider.
    provider_data: dict[str, Any] = dataclasses.field(default_factory=dict)

    id_field = "request_id"

    def validate(self) -> None:
        kind = parse_enum(RequestType, "request_type", self.request_type)
        self.normalise("request_type", kind)
        if request_type_of(self.request_id) != kind:
            fail("request_id", f"must be {ID_PREFIX[kind]}-<uuid4> for a {kind.value} request, got {self.request_id!r}")
        self._validate_template_and_count(kind)
        self.normalise("status", parse_enum(RequestStatus, "status", self.status))
        check_type("message", self.message, str, "a string")
        check_type("requested_by", self.requested_by, str, "a string")
        check_datetime("deadline", self.deadline)
        check_datetime("completed_at", self.completed_at)
        check_type("provider_data", self.provider_data, dict, "an object")

    def _validate_template_and_count(self, kind: RequestType) -> None:
        if kind == RequestType.ACQUIRE:
            check_template_id("template_id", self.template_id)
            check_int_range("machine_count", self.machine_count, 1, MAX_MACHINES)
        else:
            if self.template_id is not None:
                fail("template_id", f"must be null for a return request, got {self.template_id!r}")
            check_int_range("machine_count", self.machine_count, 0, MAX_MACHINES)

    @classmethod
    def new(cls, request_type: RequestType, **fields) -> Request:
        return cls(request_id=new_request_id(request_type), request_type=request_type, **fields)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        return not self.is_active

    def with_status(self, status: RequestStatus | str, now: datetime, message: str | None = None) -> Request:
        """A copy in ``status``; raises InvalidTransition for a move the table forbids."""
        target = parse_enum(RequestStatus, "status", status)
        changed = ["message"] if message is not None and message != self.message else []
        REQUEST_TRANSITIONS.check(self.request_id, self.status, target, changed)
        completed_at = self.completed_at
        if target in TERMINAL_STATUSES and completed_at is None:
            completed_at = now
        return self.replace(
            status=target, message=self.message if message is None else message, completed_at=completed_at
        )

    def with_message(self, message: str) -> Request:
        """A copy with ``message``; a finished request keeps its message (InvalidTransition)."""
        changed = ["message"] if message != self.message else []
        REQUEST_TRANSITIONS.check(self.request_id, self.status, self.status, changed)
        return self.replace(message=message)

    def is_overdue(self, now: datetime) -> bool:
        return self.deadline is not None and now > self.deadline


def hf_request_status(status: RequestStatus) -> str:
    return HF_REQUEST_STATUS[status]


def request_progress(request: Request, machines: Iterable[Machine], now: datetime) -> RequestStatus:
    """The status an active request should have, given its machines (domain.md)."""
    if request.is_terminal:
        return request.status
    machines = list(machines)
    if request.request_type == RequestType.RETURN:
        target = _return_progress(request, machines, now)
    else:
        target = _acquire_progress(request, machines, now)
    # An in-progress request whose machines were all deleted does not go back to pending.
    return target if target in REQUEST_TRANSITIONS.allowed(request.status) else request.status


def _acquire_progress(request: Request, machines: list[Machine], now: datetime) -> RequestStatus:
    results = [hf_acquire_result(machine) for machine in machines]
    succeeded = results.count(HFResult.SUCCEED)
    if succeeded >= request.machine_count:
        return S.COMPLETE
    if HFResult.EXECUTING not in results and len(machines) >= request.machine_count:
        return S.PARTIAL if succeeded else S.FAILED
    if request.is_overdue(now):
        return S.TIMEOUT
    return S.IN_PROGRESS if machines else S.PENDING


def _return_progress(request: Request, machines: list[Machine], now: datetime) -> RequestStatus:
    if all(hf_return_result(machine, False) == HFResult.SUCCEED for machine in machines):
        return S.COMPLETE
    if request.is_overdue(now):
        return S.TIMEOUT
    return S.IN_PROGRESS
