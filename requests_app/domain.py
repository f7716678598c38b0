"""The Request aggregate: one Host Factory call that asks for hosts or gives them back."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from hostfactory.domain import (
    REQUEST_ID,
    TEMPLATE_ID,
    UUID_RE,
    Aggregate,
    FieldRule,
    StatusMachine,
    check_datetime,
    check_int_range,
    check_template_id,
    check_type,
    choices_of,
    fail,
    parse_enum,
)

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


REQUEST_STATUSES = choices_of(RequestStatus)
# The Request's declared field rules (read by the serializers, the admin form and storage).
REQUEST_FIELDS = {
    "request_id": REQUEST_ID,
    "request_type": FieldRule(choices=choices_of(RequestType)),
    "template_id": dataclasses.replace(TEMPLATE_ID, nullable=True),
    "status": FieldRule(choices=REQUEST_STATUSES),
    "message": FieldRule(max_length=4096),
}
ACTIVE_STATUSES = (RequestStatus.PENDING, RequestStatus.IN_PROGRESS)
TERMINAL_STATUSES = (
    RequestStatus.COMPLETE,
    RequestStatus.PARTIAL,
    RequestStatus.FAILED,
    RequestStatus.CANCELLED,
    RequestStatus.TIMEOUT,
)
REQUEST_TRANSITIONS = StatusMachine(
    "request",
    {
        RequestStatus.PENDING: {RequestStatus.IN_PROGRESS, *TERMINAL_STATUSES},
        RequestStatus.IN_PROGRESS: set(TERMINAL_STATUSES),
        **{status: set() for status in TERMINAL_STATUSES},
    },
)

HF_REQUEST_STATUS = {
    RequestStatus.PENDING: "running",
    RequestStatus.IN_PROGRESS: "running",
    RequestStatus.COMPLETE: "complete",
    RequestStatus.PARTIAL: "complete_with_error",
    RequestStatus.FAILED: "complete_with_error",
    RequestStatus.CANCELLED: "complete_with_error",
    RequestStatus.TIMEOUT: "complete_with_error",
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
    # An acquire request's launched machines, a return request's claimed ones: read with the
    # request itself (one consistent read), never through an index.
    machine_ids: tuple[str, ...] = ()
    # A return request's other hosts: asked for, but not claimed by it (gone, unknown to the
    # service, or held by another return); each still answers in getRequestStatus.
    other_hosts: tuple[str, ...] = ()

    id_field = "request_id"
    field_rules = REQUEST_FIELDS

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
        self._validate_machine_ids(kind)

    def _validate_machine_ids(self, kind: RequestType) -> None:
        check_type("machine_ids", self.machine_ids, (tuple, list, set, frozenset), "a list of machine ids")
        ids = tuple(sorted(self.machine_ids))
        for machine_id in ids:
            if not isinstance(machine_id, str) or not machine_id or any(c.isspace() for c in machine_id):
                fail("machine_ids", f"must hold machine ids (text without whitespace), got {machine_id!r}")
        if kind == RequestType.ACQUIRE and len(ids) > self.machine_count:
            fail("machine_ids", f"must hold at most machine_count ({self.machine_count}) ids, got {len(ids)}")
        self.normalise("machine_ids", ids)
        check_type("other_hosts", self.other_hosts, (tuple, list, set, frozenset), "a list of machine ids")
        others = tuple(sorted(self.other_hosts))
        if others and kind != RequestType.RETURN:
            fail("other_hosts", f"is for return requests only, got {len(others)} ids")
        if any(not isinstance(i, str) or not i or any(c.isspace() for c in i) for i in others):
            fail("other_hosts", "must hold machine ids (text without whitespace)")
        self.normalise("other_hosts", others)

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

    @property
    def unlaunched(self) -> int:
        """Machines an acquire request still waits for (its reserved, not yet used capacity)."""
        if self.request_type != RequestType.ACQUIRE or self.is_terminal:
            return 0
        return max(0, self.machine_count - len(self.machine_ids))

    def with_message(self, message: str) -> Request:
        """A copy with ``message``; a finished request keeps its message (InvalidTransition)."""
        changed = ["message"] if message != self.message else []
        REQUEST_TRANSITIONS.check(self.request_id, self.status, self.status, changed)
        return self.replace(message=message)

    def is_overdue(self, now: datetime) -> bool:
        return self.deadline is not None and now > self.deadline


def hf_request_status(status: RequestStatus) -> str:
    return HF_REQUEST_STATUS[status]
