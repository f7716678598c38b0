"""The Machine aggregate (domain.md "Machine"): its fields, its status machine, and how
Host Factory sees a machine (status, result, message)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from hostfactory.errors import DomainValidationError, InvalidTransition
from machines_app.domain import (
    HFResult,
    Machine,
    MachineStatus,
    hf_acquire_result,
    hf_machine_message,
    hf_machine_status,
    hf_return_result,
)
from tests.support.domain import assert_rejected

S = MachineStatus
# Fixed ids, so test ids are the same in every pytest-xdist worker.
ACQUIRE_ID = "req-00000000-0000-4000-8000-000000000001"
RETURN_ID = "ret-00000000-0000-4000-8000-000000000002"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make(**fields: Any) -> Machine:
    values: dict[str, Any] = {"machine_id": "i-0123456789abcdef0", "request_id": ACQUIRE_ID, "template_id": "t1"}
    values.update(fields)
    return Machine(**values)


def rejected(field: str, **fields: Any) -> DomainValidationError:
    return assert_rejected(make, field, **fields)


def test_defaults():
    machine = make()

    assert (machine.name, machine.status, machine.status_reason) == ("", S.PENDING, "")
    assert (machine.return_request_id, machine.private_ip_address, machine.public_ip_address) == (None, None, None)
    assert (machine.instance_type, machine.price_type, machine.launch_time, machine.reclaim_at) == (None,) * 4
    assert machine.tags == {}
    assert machine.id == "i-0123456789abcdef0"


def test_every_field_set():
    machine = make(
        name="ip-10-0-0-1.ec2.internal",
        return_request_id=RETURN_ID,
        status="running",
        status_reason="launched",
        private_ip_address="10.0.0.1",
        public_ip_address="2001:db8::1",
        instance_type="t3.large",
        price_type="spot",
        launch_time=NOW,
        tags={"Name": "hf"},
        reclaim_at=NOW,
    )

    assert machine.status is S.RUNNING  # a string status is normalised to the enum
    assert machine.return_request_id == RETURN_ID


# -- field rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("machine_id", ""),
        ("machine_id", "i-1 2"),
        ("machine_id", "i-1\n"),
        ("machine_id", "i" * 256),
        ("machine_id", None),
        ("request_id", RETURN_ID),
        ("request_id", "req-1"),
        ("request_id", None),
        ("return_request_id", ACQUIRE_ID),
        ("return_request_id", "ret-1"),
        ("template_id", "bad id"),
        ("template_id", None),
        ("name", None),
        ("status", "exploded"),
        ("status_reason", None),
        ("private_ip_address", "10.0.0.256"),
        ("private_ip_address", "host.example"),
        ("private_ip_address", 167772161),
        ("public_ip_address", ""),
        ("instance_type", 5),
        ("price_type", "heterogeneous"),
        ("launch_time", datetime(2025, 1, 1)),
        ("reclaim_at", "soon"),
        ("tags", {"team": 1}),
        ("tags", [("team", "hpc")]),
    ],
)
def test_field_rejects(field, value):
    rejected(field, **{field: value})


@pytest.mark.parametrize("machine_id", ["i-0123456789abcdef0", "x", "a" * 255, "vm/azure:1"])
def test_machine_id_accepts_any_provider_id_without_whitespace(machine_id):
    assert make(machine_id=machine_id).machine_id == machine_id


def test_a_failed_machine_needs_a_reason():
    error = rejected("status_reason", status="failed", status_reason="  ")
    assert "required when status is failed" in str(error)
    assert make(status="failed", status_reason="no capacity").status is S.FAILED


# -- status machine: one case per (from, to) pair of the domain.md table -------------------

DOCUMENTED_MOVES = {
    S.PENDING: {S.RUNNING, S.SHUTTING_DOWN, S.TERMINATED, S.FAILED},
    S.RUNNING: {S.STOPPING, S.SHUTTING_DOWN, S.TERMINATED},
    S.STOPPING: {S.STOPPED, S.SHUTTING_DOWN, S.TERMINATED},
    S.STOPPED: {S.PENDING, S.RUNNING, S.SHUTTING_DOWN, S.TERMINATED},
    S.SHUTTING_DOWN: {S.TERMINATED},
    S.TERMINATED: {S.RETURNED},
    S.FAILED: {S.RETURNED, S.TERMINATED},
    S.RETURNED: set(),
}


def allowed_by_the_docs(current: MachineStatus, target: MachineStatus) -> bool:
    if current == target or current == S.UNKNOWN:
        return True  # a no-op; unknown may go anywhere
    if target == S.UNKNOWN:  # the cloud stopped answering about a machine that is not gone for good
        return current not in (S.TERMINATED, S.RETURNED, S.FAILED)
    return target in DOCUMENTED_MOVES[current]


@pytest.mark.parametrize(("current", "target"), list(itertools.product(MachineStatus, MachineStatus)))
def test_transition(current, target):
    machine = make(status=current, status_reason="was failing" if current == S.FAILED else "")

    if current == target == S.RETURNED:  # final: a no-op only when nothing changes
        assert machine.with_status(target) == machine
        with pytest.raises(InvalidTransition, match="final status"):
            machine.with_status(target, reason="because")
    elif allowed_by_the_docs(current, target):
        moved = machine.with_status(target, reason="because")
        assert moved.status is target
        assert moved.status_reason == "because"
        assert machine.status is current  # the original is unchanged
    else:
        with pytest.raises(InvalidTransition) as caught:
            machine.with_status(target, reason="because")
        message = str(caught.value)
        assert f"machine {machine.machine_id}: cannot move from {current.value!r} to {target.value!r}" in message
        assert (caught.value.current, caught.value.target) == (current.value, target.value)


def test_with_status_keeps_the_reason_unless_given_and_checks_the_target():
    machine = make(status="running", status_reason="launched")

    assert machine.with_status("stopping").status_reason == "launched"
    with pytest.raises(DomainValidationError, match="status: must be one of"):
        machine.with_status("exploded")
    with pytest.raises(DomainValidationError, match="status_reason: is required when status is failed"):
        make(status="pending").with_status("failed", reason="")


def test_a_terminated_machine_never_comes_back_through_unknown():
    for final in ("terminated", "returned", "failed"):
        with pytest.raises(InvalidTransition, match=f"cannot move from '{final}' to 'unknown'"):
            make(status=final, status_reason="gone").with_status("unknown")
    assert make(status="unknown").with_status("running").status is S.RUNNING  # never terminated


def test_returned_is_the_end():
    with pytest.raises(InvalidTransition, match="allowed from 'returned': none"):
        make(status="returned").with_status("unknown")


@pytest.mark.parametrize(
    ("status", "live"), [(status, status not in (S.TERMINATED, S.RETURNED, S.FAILED)) for status in MachineStatus]
)
def test_is_live(status, live):
    assert make(status=status, status_reason="x").is_live is live


# -- Host Factory view: status sent, one case per table row ---------------------------------


@pytest.mark.parametrize(
    ("status", "sent"),
    [
        (S.PENDING, "pending"),
        (S.RUNNING, "running"),
        (S.STOPPING, "stopping"),
        (S.STOPPED, "stopped"),
        (S.SHUTTING_DOWN, "shutting-down"),
        (S.TERMINATED, "terminated"),
        (S.RETURNED, "terminated"),
        (S.FAILED, "terminated"),
        (S.UNKNOWN, "unknown"),
    ],
)
def test_hf_machine_status(status, sent):
    assert hf_machine_status(status) == sent


# -- Host Factory result of a machine in an acquire request ---------------------------------

READY = {"name": "ip-10-0-0-1", "private_ip_address": "10.0.0.1"}


@pytest.mark.parametrize(
    ("fields", "result"),
    [
        ({"status": S.RUNNING, **READY}, HFResult.SUCCEED),
        ({"status": S.RUNNING, "name": "", "private_ip_address": "10.0.0.1"}, HFResult.EXECUTING),
        ({"status": S.RUNNING, "name": "ip-10-0-0-1"}, HFResult.EXECUTING),
        ({"status": S.PENDING, **READY}, HFResult.EXECUTING),
        ({"status": S.UNKNOWN, **READY}, HFResult.EXECUTING),
        ({"status": S.STOPPING, **READY}, HFResult.FAIL),
        ({"status": S.STOPPED}, HFResult.FAIL),
        ({"status": S.SHUTTING_DOWN}, HFResult.FAIL),
        ({"status": S.TERMINATED}, HFResult.FAIL),
        ({"status": S.RETURNED}, HFResult.FAIL),
        ({"status": S.FAILED, "status_reason": "InsufficientInstanceCapacity"}, HFResult.FAIL),
    ],
)
def test_hf_acquire_result(fields, result):
    machine = make(**fields)

    assert hf_acquire_result(machine) is result
    message = hf_machine_message(machine, result)
    if result is HFResult.FAIL:
        assert message, "a failed machine must carry a message for Host Factory"
    else:
        assert message == machine.status_reason


def test_hf_message_prefers_the_recorded_reason():
    failed = make(status="failed", status_reason="InsufficientInstanceCapacity")
    gone = make(status="terminated")

    assert hf_machine_message(failed, HFResult.FAIL) == "InsufficientInstanceCapacity"
    assert hf_machine_message(gone, HFResult.FAIL) == "Machine i-0123456789abcdef0 is terminated."


# -- Host Factory result of a machine in a return request ------------------------------------


@pytest.mark.parametrize(
    ("status", "while_active", "once_terminal"),
    [
        (S.TERMINATED, HFResult.SUCCEED, HFResult.SUCCEED),
        (S.RETURNED, HFResult.SUCCEED, HFResult.SUCCEED),
        (S.FAILED, HFResult.SUCCEED, HFResult.SUCCEED),
        *[
            (status, HFResult.EXECUTING, HFResult.FAIL)
            for status in (S.PENDING, S.RUNNING, S.STOPPING, S.STOPPED, S.SHUTTING_DOWN, S.UNKNOWN)
        ],
    ],
)
def test_hf_return_result(status, while_active, once_terminal):
    machine = make(status=status, status_reason="x", return_request_id=RETURN_ID)

    assert hf_return_result(machine, return_is_terminal=False) is while_active
    assert hf_return_result(machine, return_is_terminal=True) is once_terminal


def test_machines_are_frozen():
    machine = make()

    with pytest.raises(dataclasses.FrozenInstanceError):
        machine.status = S.RUNNING
    assert machine.replace(name="host").name == "host"
    assert machine.name == ""


def test_status_reason_is_at_most_4096_characters():
    assert len(make(status_reason="x" * 4096).status_reason) == 4096
    error = rejected("status_reason", status_reason="x" * 4097)
    assert str(error) == "status_reason: must be at most 4096 characters, got 4097"
