"""The Request aggregate (domain.md "Request"): its fields, its status machine, the Host
Factory status mapping, and request progress (the status its machines imply)."""

from __future__ import annotations

import dataclasses
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hostfactory.errors import DomainValidationError, InvalidTransition
from hostfactory.fleet.progress import request_progress
from machines_app.domain import Machine, MachineStatus
from requests_app.domain import (
    REQUEST_FIELDS,
    Request,
    RequestStatus,
    RequestType,
    hf_request_status,
    new_request_id,
    request_type_of,
)
from tests.support.domain import assert_rejected

S = RequestStatus
M = MachineStatus
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def acquire(**fields: Any) -> Request:
    values: dict[str, Any] = {"request_type": RequestType.ACQUIRE, "template_id": "t1", "machine_count": 2}
    values.update(fields)
    if "request_id" not in values:
        values["request_id"] = new_request_id(RequestType(values["request_type"]))
    return Request(**values)


def giving_back(**fields: Any) -> Request:
    values: dict[str, Any] = {"request_type": RequestType.RETURN, "machine_count": 1}
    values.update(fields)
    if "request_id" not in values:
        values["request_id"] = new_request_id(RequestType.RETURN)
    return Request(**values)


def rejected(field: str, build=acquire, **fields: Any) -> DomainValidationError:
    return assert_rejected(build, field, **fields)


# -- ids and types -------------------------------------------------------------------------


def test_new_ids_say_the_request_type():
    acquire_id = new_request_id(RequestType.ACQUIRE)
    return_id = new_request_id(RequestType.RETURN)

    assert re.fullmatch(f"req-{UUID4}", acquire_id)
    assert re.fullmatch(f"ret-{UUID4}", return_id)
    assert acquire_id != new_request_id(RequestType.ACQUIRE)
    assert (request_type_of(acquire_id), request_type_of(return_id)) == (RequestType.ACQUIRE, RequestType.RETURN)
    assert request_type_of("req-1") is None
    assert request_type_of(f"{acquire_id}\n") is None


def test_request_new_builds_the_id():
    request = Request.new(RequestType.RETURN, machine_count=3)

    assert request.request_id.startswith("ret-")
    assert (request.request_type, request.template_id, request.status) == (RequestType.RETURN, None, S.PENDING)


def test_defaults_and_normalised_enums():
    request = acquire(request_type="acquire", status="in_progress")

    assert request.request_type is RequestType.ACQUIRE
    assert request.status is S.IN_PROGRESS
    assert (request.message, request.requested_by, request.deadline, request.completed_at) == ("", "", None, None)
    assert request.provider_data == {}
    assert request.id == request.request_id


# -- field rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("request_id", {"request_id": new_request_id(RequestType.RETURN)}),
        ("request_id", {"request_id": "req-123"}),
        ("request_id", {"request_id": "req-6f1c1c9e-5a4e-4c8e-9d4c-6a1f2b3c4d5E"}),
        ("request_id", {"request_id": None}),
        ("request_type", {"request_type": "borrow", "request_id": "req-x"}),
        ("template_id", {"template_id": None}),
        ("template_id", {"template_id": "bad id"}),
        ("machine_count", {"machine_count": 0}),
        ("machine_count", {"machine_count": 10001}),
        ("machine_count", {"machine_count": "2"}),
        ("machine_count", {"machine_count": True}),
        ("status", {"status": "done"}),
        ("message", {"message": None}),
        ("requested_by", {"requested_by": 7}),
        ("deadline", {"deadline": datetime(2025, 1, 1)}),
        ("completed_at", {"completed_at": "2025-01-01"}),
        ("provider_data", {"provider_data": ["fleet-1"]}),
        ("version", {"version": -1}),
    ],
)
def test_acquire_request_rejects(field, fields):
    rejected(field, **fields)


def test_the_id_must_match_the_type():
    error = rejected("request_id", build=giving_back, request_id=new_request_id(RequestType.ACQUIRE))
    assert "must be ret-<uuid4> for a return request" in str(error)


@pytest.mark.parametrize("machine_count", [1, 10000])
def test_acquire_machine_count_range(machine_count):
    assert acquire(machine_count=machine_count).machine_count == machine_count


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("template_id", {"template_id": "t1"}),
        ("machine_count", {"machine_count": -1}),
        ("machine_count", {"machine_count": 10001}),
    ],
)
def test_return_request_rejects(field, fields):
    rejected(field, build=giving_back, **fields)


def test_a_return_request_may_hold_no_machine():
    assert giving_back(machine_count=0).machine_count == 0


# -- status machine: one case per (from, to) pair of the domain.md table -------------------

TERMINAL = {S.COMPLETE, S.PARTIAL, S.FAILED, S.CANCELLED, S.TIMEOUT}
DOCUMENTED_MOVES = {
    S.PENDING: {S.IN_PROGRESS, *TERMINAL},
    S.IN_PROGRESS: TERMINAL,
    **{status: set() for status in TERMINAL},
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(RequestStatus, RequestStatus)))
def test_transition(current, target):
    request = acquire(status=current, completed_at=NOW if current in TERMINAL else None)
    later = NOW + timedelta(minutes=5)

    if current == target and current in TERMINAL:  # finished: a no-op only when nothing changes
        assert request.with_status(target, later) == request
        assert request.with_status(target, later, message=request.message) == request
        with pytest.raises(InvalidTransition, match=f"is {current.value!r}, a final status") as caught:
            request.with_status(target, later, message="rewritten")
        assert "message" in str(caught.value)
    elif current == target or target in DOCUMENTED_MOVES[current]:
        moved = request.with_status(target, later, message="moved")
        assert (moved.status, moved.message) == (target, "moved")
        assert request.status is current  # the original is unchanged
        if target in TERMINAL:
            assert moved.completed_at == (NOW if current in TERMINAL else later)
        else:
            assert moved.completed_at is None
    else:
        with pytest.raises(InvalidTransition) as caught:
            request.with_status(target, later)
        message = str(caught.value)
        assert f"request {request.request_id}: cannot move from {current.value!r} to {target.value!r}" in message
        if current in TERMINAL:
            assert "none (terminal status)" in message


@pytest.mark.parametrize(
    ("status", "active"), [(status, status in (S.PENDING, S.IN_PROGRESS)) for status in RequestStatus]
)
def test_active_and_terminal(status, active):
    request = acquire(status=status)
    assert (request.is_active, request.is_terminal) == (active, not active)


def test_with_status_keeps_the_message_unless_given_and_checks_the_target():
    request = acquire(message="waiting for capacity")

    assert request.with_status("in_progress", NOW).message == "waiting for capacity"
    with pytest.raises(DomainValidationError, match="status: must be one of pending, in_progress"):
        request.with_status("finished", NOW)


def test_a_finished_request_keeps_its_message():
    assert acquire(status=S.PENDING).with_message("new").message == "new"
    finished = acquire(status=S.CANCELLED, completed_at=NOW, message="Cancelled by an operator.")
    assert finished.with_message("Cancelled by an operator.") == finished
    with pytest.raises(InvalidTransition, match="'cancelled', a final status"):
        finished.with_message("never happened")


def test_is_overdue_only_after_the_deadline():
    request = acquire(deadline=NOW)

    assert not request.is_overdue(NOW)
    assert request.is_overdue(NOW + timedelta(seconds=1))
    assert not acquire().is_overdue(NOW + timedelta(days=365))


def test_requests_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        acquire().status = S.COMPLETE


# -- Host Factory status: one case per RequestStatus --------------------------------------


@pytest.mark.parametrize(
    ("status", "sent"),
    [
        (S.PENDING, "running"),
        (S.IN_PROGRESS, "running"),
        (S.COMPLETE, "complete"),
        (S.PARTIAL, "complete_with_error"),
        (S.FAILED, "complete_with_error"),
        (S.CANCELLED, "complete_with_error"),
        (S.TIMEOUT, "complete_with_error"),
    ],
)
def test_hf_request_status(status, sent):
    assert hf_request_status(status) == sent


# -- request progress ----------------------------------------------------------------------


_machine_numbers = itertools.count(1)


def host(status: MachineStatus, ready: bool = True) -> Machine:
    """A machine with a result of: succeed (running and ready), executing, or fail."""
    fields: dict[str, Any] = {"status": status, "status_reason": "x" if status == M.FAILED else ""}
    if ready:
        fields.update(name="ip-10-0-0-1", private_ip_address="10.0.0.1")
    return Machine(
        machine_id=f"i-{next(_machine_numbers)}",
        request_id=new_request_id(RequestType.ACQUIRE),
        template_id="t1",
        **fields,
    )


SUCCEEDED = host(M.RUNNING)
EXECUTING = host(M.PENDING)
BOOTING = host(M.RUNNING, ready=False)  # running, but no name or IP yet: still executing
GONE = host(M.TERMINATED)


@pytest.mark.parametrize(
    ("status", "machines", "overdue", "expected"),
    [
        # complete when n machines succeeded (even past the deadline)
        (S.IN_PROGRESS, [SUCCEEDED, SUCCEEDED], False, S.COMPLETE),
        (S.IN_PROGRESS, [SUCCEEDED, SUCCEEDED], True, S.COMPLETE),
        (S.PENDING, [SUCCEEDED, SUCCEEDED, SUCCEEDED], False, S.COMPLETE),
        # no machine executing and n exist: partial with a success, failed without
        (S.IN_PROGRESS, [SUCCEEDED, GONE], False, S.PARTIAL),
        (S.IN_PROGRESS, [GONE, host(M.FAILED)], False, S.FAILED),
        # else timeout once the deadline has passed
        (S.IN_PROGRESS, [SUCCEEDED, EXECUTING], True, S.TIMEOUT),
        (S.IN_PROGRESS, [GONE], True, S.TIMEOUT),
        (S.PENDING, [], True, S.TIMEOUT),
        # else in progress with a machine, pending without
        (S.PENDING, [SUCCEEDED, EXECUTING], False, S.IN_PROGRESS),
        (S.PENDING, [SUCCEEDED, BOOTING], False, S.IN_PROGRESS),
        (S.PENDING, [GONE], False, S.IN_PROGRESS),
        (S.PENDING, [], False, S.PENDING),
        # an in-progress request whose machines went away does not go back to pending
        (S.IN_PROGRESS, [], False, S.IN_PROGRESS),
        # a terminal request keeps its status
        (S.CANCELLED, [SUCCEEDED, SUCCEEDED], False, S.CANCELLED),
        (S.TIMEOUT, [SUCCEEDED, SUCCEEDED], False, S.TIMEOUT),
    ],
)
def test_acquire_progress(status, machines, overdue, expected):
    request = acquire(machine_count=2, status=status, deadline=NOW - timedelta(minutes=1) if overdue else NOW)

    assert request_progress(request, machines, NOW) is expected


@pytest.mark.parametrize(
    ("machines", "overdue", "expected"),
    [
        ([host(M.TERMINATED), host(M.RETURNED), host(M.FAILED)], False, S.COMPLETE),
        ([host(M.TERMINATED), host(M.RETURNED)], True, S.COMPLETE),
        ([], False, S.COMPLETE),
        ([host(M.TERMINATED), host(M.SHUTTING_DOWN)], False, S.IN_PROGRESS),
        ([host(M.RUNNING)], False, S.IN_PROGRESS),
        ([host(M.TERMINATED), host(M.RUNNING)], True, S.TIMEOUT),
    ],
)
def test_return_progress(machines, overdue, expected):
    request = giving_back(machine_count=len(machines), deadline=NOW - timedelta(minutes=1) if overdue else NOW)

    assert request_progress(request, machines, NOW) is expected


def test_a_message_is_at_most_4096_characters_and_a_composed_one_is_cut_to_fit():
    assert_rejected(acquire, "message", message="m" * 4097)
    cut = REQUEST_FIELDS["message"].clip("launch errors: " + "e" * 5000)
    assert len(acquire(message=cut).message) == 4096 and cut.endswith("...")
    assert REQUEST_FIELDS["message"].clip("short") == "short"
