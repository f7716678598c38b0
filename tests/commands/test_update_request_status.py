"""update_request_status through call_command: one transition, the rules enforced."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from requests_app.domain import RequestStatus
from tests.commands.support import run_command
from tests.support import aggregates


def test_moves_a_request_and_records_the_message(storage):
    request = storage.requests.save(aggregates.acquire_request())
    result = run_command("update_request_status", request.request_id, "cancelled", "--message", "Not needed.")
    stored = storage.requests.get_by_id(request.request_id)
    assert stored.status == RequestStatus.CANCELLED
    assert stored.message == "Not needed."
    assert stored.completed_at is not None
    assert result.out.strip() == f"Request {request.request_id}: pending -> cancelled (message: 'Not needed.')"


def test_a_refused_move_names_the_allowed_ones_and_writes_nothing(storage):
    request = storage.requests.save(aggregates.acquire_request(status="in_progress"))
    with pytest.raises(CommandError) as failure:
        run_command("update_request_status", request.request_id, "pending")
    assert str(failure.value) == (
        f"request {request.request_id}: cannot move from 'in_progress' to 'pending'; "
        "allowed from 'in_progress': cancelled, complete, failed, partial, timeout"
    )
    assert storage.requests.get_by_id(request.request_id).version == request.version


def test_a_finished_request_keeps_its_message(storage):
    request = storage.requests.save(aggregates.acquire_request())
    run_command("update_request_status", request.request_id, "cancelled", "--message", "Not needed.")
    finished = storage.requests.get_by_id(request.request_id)
    with pytest.raises(CommandError, match="'cancelled', a final status: nothing of it changes"):
        run_command("update_request_status", request.request_id, "cancelled", "--message", "Rewritten.")
    assert storage.requests.get_by_id(request.request_id) == finished


def test_an_unknown_status_lists_the_valid_ones(storage):
    request = storage.requests.save(aggregates.acquire_request())
    with pytest.raises(CommandError, match="status: must be one of pending, in_progress, complete, partial, failed"):
        run_command("update_request_status", request.request_id, "done")
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.PENDING


def test_an_unknown_request_is_an_error(storage):
    with pytest.raises(CommandError, match=r"request 'req-nope' does not exist"):
        run_command("update_request_status", "req-nope", "cancelled")


def test_help_explains_the_rules():
    from requests_app.management.commands.update_request_status import Command

    text = Command().create_parser("manage.py", "update_request_status").format_help()
    assert "REQUEST_ID" in text and "--message" in text
    assert "pending -> in_progress" in text
