"""The Machine aggregate: one host launched for an acquire request."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from enum import StrEnum

from hostfactory.domain import (
    REQUEST_ID,
    TEMPLATE_ID,
    UUID_RE,
    Aggregate,
    FieldRule,
    StatusMachine,
    check_datetime,
    check_ip,
    check_str_dict,
    check_template_id,
    check_type,
    choices_of,
    fail,
    parse_enum,
)

MACHINE_ID = FieldRule(max_length=255)
MACHINE_ID_RE = re.compile(rf"^\S{{1,{MACHINE_ID.max_length}}}$")
ACQUIRE_ID_RE = re.compile(rf"^req-{UUID_RE}$")
RETURN_ID_RE = re.compile(rf"^ret-{UUID_RE}$")
MACHINE_PRICE_TYPES = ("ondemand", "spot")


class MachineStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    RETURNED = "returned"
    FAILED = "failed"
    UNKNOWN = "unknown"


ADDRESS = FieldRule(max_length=64, nullable=True)
MACHINE_STATUSES = choices_of(MachineStatus)
# The Machine's declared field rules (read by the serializers, the admin form and storage).
MACHINE_FIELDS = {
    "machine_id": MACHINE_ID,
    "request_id": REQUEST_ID,
    "return_request_id": dataclasses.replace(REQUEST_ID, nullable=True),
    "template_id": TEMPLATE_ID,
    "name": FieldRule(max_length=255),
    "status": FieldRule(choices=MACHINE_STATUSES),
    "status_reason": FieldRule(max_length=4096),
    "private_ip_address": ADDRESS,
    "public_ip_address": ADDRESS,
    "instance_type": FieldRule(max_length=64, nullable=True),
    "price_type": FieldRule(choices=MACHINE_PRICE_TYPES, nullable=True),
}
# A final machine is gone for good: it never goes to unknown (EC2 forgetting a terminated
# instance after an hour is not "unknown"), so an unknown machine was never terminated and may
# go anywhere. terminated -> returned stays: a completed return marks its terminated machines
# returned (hostfactory.fleet.progress.request_ended); failed -> terminated/returned when its
# instance is cleaned up or given back.
FINAL_STATUSES = frozenset({MachineStatus.TERMINATED, MachineStatus.RETURNED, MachineStatus.FAILED})
MACHINE_TRANSITIONS = StatusMachine(
    "machine",
    {
        MachineStatus.PENDING: {
            MachineStatus.RUNNING,
            MachineStatus.SHUTTING_DOWN,
            MachineStatus.TERMINATED,
            MachineStatus.FAILED,
            MachineStatus.UNKNOWN,
        },
        MachineStatus.RUNNING: {
            MachineStatus.STOPPING,
            MachineStatus.SHUTTING_DOWN,
            MachineStatus.TERMINATED,
            MachineStatus.UNKNOWN,
        },
        MachineStatus.STOPPING: {
            MachineStatus.STOPPED,
            MachineStatus.SHUTTING_DOWN,
            MachineStatus.TERMINATED,
            MachineStatus.UNKNOWN,
        },
        MachineStatus.STOPPED: {
            MachineStatus.PENDING,
            MachineStatus.RUNNING,
            MachineStatus.SHUTTING_DOWN,
            MachineStatus.TERMINATED,
            MachineStatus.UNKNOWN,
        },
        MachineStatus.SHUTTING_DOWN: {MachineStatus.TERMINATED, MachineStatus.UNKNOWN},
        MachineStatus.TERMINATED: {MachineStatus.RETURNED},
        MachineStatus.FAILED: {MachineStatus.RETURNED, MachineStatus.TERMINATED},
        MachineStatus.RETURNED: set(),
        MachineStatus.UNKNOWN: set(MachineStatus) - {MachineStatus.UNKNOWN},
    },
)

# Host Factory result of a machine in an acquire request (domain.md).
GONE_STATUSES = frozenset(
    {
        MachineStatus.STOPPING,
        MachineStatus.STOPPED,
        MachineStatus.SHUTTING_DOWN,
        MachineStatus.TERMINATED,
        MachineStatus.RETURNED,
        MachineStatus.FAILED,
    }
)
# A return is done once the host is gone.
RETURN_DONE_STATUSES = frozenset({MachineStatus.TERMINATED, MachineStatus.RETURNED, MachineStatus.FAILED})
# Terminated outside Host Factory: reported by getReturnRequests when no return holds it.
LOST_STATUSES = frozenset({MachineStatus.TERMINATED, MachineStatus.STOPPED, MachineStatus.FAILED})
LIVE_STATUSES = frozenset(MachineStatus) - FINAL_STATUSES


class HFResult(StrEnum):
    SUCCEED = "succeed"
    EXECUTING = "executing"
    FAIL = "fail"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Machine(Aggregate):
    machine_id: str
    request_id: str
    template_id: str
    name: str = ""
    return_request_id: str | None = None
    status: MachineStatus = MachineStatus.PENDING
    status_reason: str = ""
    private_ip_address: str | None = None
    public_ip_address: str | None = None
    instance_type: str | None = None
    price_type: str | None = None
    launch_time: datetime | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    reclaim_at: datetime | None = None

    id_field = "machine_id"
    field_rules = MACHINE_FIELDS

    def validate(self) -> None:
        if not isinstance(self.machine_id, str) or not MACHINE_ID_RE.fullmatch(self.machine_id):
            fail(
                "machine_id",
                f"must be 1-{MACHINE_ID.max_length} characters without whitespace, got {self.machine_id!r}",
            )
        if not isinstance(self.request_id, str) or not ACQUIRE_ID_RE.fullmatch(self.request_id):
            fail("request_id", f"must be an acquire request id req-<uuid4>, got {self.request_id!r}")
        if self.return_request_id is not None and not RETURN_ID_RE.fullmatch(str(self.return_request_id)):
            fail(
                "return_request_id", f"must be a return request id ret-<uuid4> or null, got {self.return_request_id!r}"
            )
        check_template_id("template_id", self.template_id)
        check_type("name", self.name, str, "a string")
        self.normalise("status", parse_enum(MachineStatus, "status", self.status))
        check_type("status_reason", self.status_reason, str, "a string")
        if self.status == MachineStatus.FAILED and not self.status_reason.strip():
            fail("status_reason", "is required when status is failed")
        check_ip("private_ip_address", self.private_ip_address)
        check_ip("public_ip_address", self.public_ip_address)
        if self.instance_type is not None:
            check_type("instance_type", self.instance_type, str, "a string or null")
        self.check_rule("price_type")
        check_datetime("launch_time", self.launch_time)
        check_datetime("reclaim_at", self.reclaim_at)
        check_str_dict("tags", self.tags)

    def with_status(self, status: MachineStatus | str, reason: str | None = None) -> Machine:
        """A copy in ``status``; raises InvalidTransition for a move the table forbids."""
        target = parse_enum(MachineStatus, "status", status)
        changed = ["status_reason"] if reason is not None and reason != self.status_reason else []
        MACHINE_TRANSITIONS.check(self.machine_id, self.status, target, changed)
        return self.replace(status=target, status_reason=self.status_reason if reason is None else reason)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


def hf_machine_status(status: MachineStatus) -> str:
    """The cloud state Host Factory is told: returned and failed hosts are terminated."""
    if status in (MachineStatus.RETURNED, MachineStatus.FAILED):
        return MachineStatus.TERMINATED.value
    return status.value


def hf_acquire_result(machine: Machine) -> HFResult:
    if machine.status in GONE_STATUSES:
        return HFResult.FAIL
    if machine.status == MachineStatus.RUNNING and machine.name and machine.private_ip_address:
        return HFResult.SUCCEED
    return HFResult.EXECUTING


def hf_return_result(machine: Machine, return_is_terminal: bool) -> HFResult:
    if machine.status in RETURN_DONE_STATUSES:
        return HFResult.SUCCEED
    return HFResult.FAIL if return_is_terminal else HFResult.EXECUTING


def hf_machine_message(machine: Machine, result: HFResult) -> str:
    """Non-empty for a ``fail`` result, as Host Factory shows it to the administrator."""
    if result != HFResult.FAIL:
        return machine.status_reason
    return machine.status_reason or f"Machine {machine.machine_id} is {machine.status.value}."
