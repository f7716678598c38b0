"""``manage.py recount_capacity [--dry-run]`` through call_command, on memory and moto (as a real
process on dynalite: tests/commands/test_processes.py)."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from django.core.management import CommandError, load_command_class

from hostfactory.domain import utcnow
from hostfactory.fleet.capacity import capacity_count
from hostfactory.fleet.machines import machine_register
from hostfactory.fleet.requests import request_create_acquire
from templates_app.domain import Reservation, Usage
from tests.commands.support import run_command
from tests.support import aggregates


@pytest.fixture
def fleet(storage):
    """Template tpl-a (max 10): a request for 3 hosts with 1 launched, so the ledger says 3."""
    template = storage.templates.save(aggregates.template("tpl-a", max_number=10))
    request = request_create_acquire(repos=storage, template_id="tpl-a", machine_count=3)
    machine_register(repos=storage, machine=aggregates.machine(request_id=request.request_id, template_id="tpl-a"))
    assert storage.templates.usage("tpl-a").used == 3
    return template, request


def corrupt(storage, template_id: str, used: int, **reservations: Reservation) -> None:
    seq = storage.templates.usage(template_id).seq
    assert storage.templates.set_usage(template_id, Usage(used=used, reservations=reservations), seq)


def test_help_says_what_it_repairs_and_what_dry_run_does():
    command = load_command_class("hostfactory", "recount_capacity")
    text = command.create_parser("manage.py", "recount_capacity").format_help()
    for needle in ("ledger", "reservations", "--dry-run", "write nothing", "consistent scans"):
        assert needle in text


def test_a_correct_ledger_is_left_alone(storage, fleet):
    before = storage.templates.usage("tpl-a")
    result = run_command("recount_capacity")
    assert result.out.splitlines() == ["0 ledgers fixed, 0 stale reservations released"]
    assert storage.templates.usage("tpl-a") == before


def test_a_corrupted_ledger_is_recounted_and_the_difference_printed(storage, fleet):
    _template, request = fleet
    corrupt(storage, "tpl-a", 7)

    result = run_command("recount_capacity")

    assert result.out.splitlines() == [
        f"fixed tpl-a: used 7 -> 3; reservations added: {request.request_id}",
        "1 ledger fixed, 0 stale reservations released",
    ]
    usage = storage.templates.usage("tpl-a")
    assert usage.used == 3
    assert set(usage.reservations) == {request.request_id}
    assert usage.used == capacity_count(repos=storage)["tpl-a"].used
    assert run_command("recount_capacity").out.splitlines() == ["0 ledgers fixed, 0 stale reservations released"]


def test_dry_run_prints_the_difference_and_changes_nothing(storage, fleet):
    corrupt(storage, "tpl-a", 7, **{"req-gone": Reservation(count=2, at=utcnow() - timedelta(hours=1))})
    before = storage.templates.usage("tpl-a")

    result = run_command("recount_capacity", "--dry-run")

    _template, request = fleet
    assert result.out.splitlines() == [
        f"would fix tpl-a: used 7 -> 3; reservations dropped: req-gone; reservations added: {request.request_id}",
        "1 ledger would be fixed (dry run: nothing written, sweep skipped)",
    ]
    assert storage.templates.usage("tpl-a") == before


def test_the_sweep_runs_first_and_is_reported(storage, fleet):
    """A reservation whose request was never written (older than the sweeper's patience) is
    released by the sweep; the recount then finds the ledger right."""
    _template, request = fleet
    usage = storage.templates.usage("tpl-a")
    orphan = Reservation(count=2, at=utcnow() - timedelta(hours=1))
    corrupt(storage, "tpl-a", usage.used + 2, **usage.reservations, **{"req-orphan": orphan})

    result = run_command("recount_capacity")

    assert result.out.splitlines() == [
        "released reservation tpl-a: req-orphan",
        "0 ledgers fixed, 1 stale reservations released",
    ]
    assert storage.templates.usage("tpl-a").used == 3
    assert set(storage.templates.usage("tpl-a").reservations) == {request.request_id}


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_a_storage_error_is_one_command_error_and_writes_nothing(storage, fleet):
    corrupt(storage, "tpl-a", 7)
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=storage.machines.table_name)

    with pytest.raises(CommandError, match=r"^DynamoDB table 'test-machines-\w+' does not exist"):
        run_command("recount_capacity")
    assert storage.templates.usage("tpl-a").used == 7
