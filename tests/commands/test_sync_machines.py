"""sync_machines through call_command, against EC2 on moto (in-process)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from hostfactory.providers.aws.clients import ec2_client
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.commands.ec2 import GONE_ID, Throttle, launch, mocked_ec2
from tests.commands.support import run_command
from tests.support import aggregates


@pytest.fixture
def ec2(storage, settings):
    settings.HOSTFACTORY_AWS_REGION = "us-east-1"
    with mocked_ec2() as client:
        yield client


@pytest.fixture
def fleet(storage, ec2):
    """A request for three hosts: one instance running, one stopped, and one gone from EC2."""
    running, stopped = launch(ec2, 2)
    ec2.stop_instances(InstanceIds=[stopped])
    request = storage.requests.save(aggregates.acquire_request(machine_count=3))
    for machine_id in (running, stopped, GONE_ID):
        aggregates.store_machine(
            storage, aggregates.machine(machine_id, request_id=request.request_id, status="running")
        )
    return request, running, stopped


def state(repos) -> dict:
    return {
        "machines": {m.machine_id: (m.status, m.version) for m in repos.machines.get_all()},
        "requests": {r.request_id: (r.status, r.version) for r in repos.requests.get_all()},
    }


def test_sync_updates_machines_and_requests_and_says_what_it_did(storage, fleet):
    request, running, stopped = fleet
    result = run_command("sync_machines")
    lines = result.out.splitlines()
    assert any(line.startswith(f"machine {stopped}: running -> stopped (via stopping) name=ip-") for line in lines)
    assert f"machine {GONE_ID}: running -> terminated [no longer in EC2]" in lines
    assert any(line.startswith(f"machine {running}: running -> running name=ip-") for line in lines)
    assert f"request {request.request_id}: pending -> partial" in lines
    assert lines[-1] == (
        "3 machines checked in 2 DescribeInstances calls; changed 3 (1 no longer in EC2), 0 unchanged, "
        "0 skipped; changed 1 requests (0 timed out)"
    )
    assert storage.machines.get_by_id(stopped).status == MachineStatus.STOPPED
    assert storage.machines.get_by_id(GONE_ID).status == MachineStatus.TERMINATED
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.PARTIAL


def test_dry_run_prints_the_plan_and_writes_nothing(storage, fleet):
    request, _running, stopped = fleet
    before = state(storage)
    result = run_command("sync_machines", "--dry-run", "--region", "us-east-1")
    assert f"would change machine {stopped}: running -> stopped (via stopping)" in result.out
    assert f"would change request {request.request_id}: pending -> partial" in result.out
    assert result.out.splitlines()[-1].startswith("Dry run: 3 machines checked")
    assert state(storage) == before


def test_batch_size_sets_the_ids_per_call(storage, fleet):
    result = run_command("sync_machines", "--batch-size", "1")
    # One call per id, and one more by filter for the id EC2 no longer knows.
    assert "3 machines checked in 4 DescribeInstances calls" in result.out


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
@pytest.mark.parametrize("size", ["0", "1001"])
def test_a_batch_size_out_of_range_is_refused(storage, fleet, size):
    before = state(storage)
    with pytest.raises(CommandError, match=f"--batch-size: must be 1..1000, got {size}"):
        run_command("sync_machines", "--batch-size", size)
    assert state(storage) == before


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_throttling_is_retried(storage, fleet, monkeypatch):
    _request, _running, stopped = fleet
    throttles = []

    def throttled_client(**kwargs):
        client = ec2_client(**kwargs)
        throttles.append(Throttle(client, times=1))
        return client

    monkeypatch.setattr("hostfactory.management.commands.sync_machines.ec2_client", throttled_client)
    run_command("sync_machines")
    assert throttles[0].requests >= 2
    assert storage.machines.get_by_id(stopped).status == MachineStatus.STOPPED


def test_a_missing_region_is_an_error_and_nothing_is_written(storage, fleet, settings):
    settings.HOSTFACTORY_AWS_REGION = ""
    before = state(storage)
    with pytest.raises(CommandError, match="no AWS region: pass --region, or set AWS_REGION"):
        run_command("sync_machines")
    assert state(storage) == before


def test_nothing_to_sync_still_times_requests_out(storage, settings):
    from datetime import timedelta

    from hostfactory.domain import utcnow

    settings.HOSTFACTORY_AWS_REGION = "us-east-1"
    overdue = storage.requests.save(aggregates.acquire_request(deadline=utcnow() - timedelta(seconds=1)))
    with mocked_ec2():
        result = run_command("sync_machines")
    assert storage.requests.get_by_id(overdue.request_id).status == RequestStatus.TIMEOUT
    assert result.out.splitlines()[-1].startswith("0 machines checked in 0 DescribeInstances calls")
    assert "changed 1 requests (1 timed out)" in result.out


def test_help_explains_region_and_dry_run():
    from hostfactory.management.commands.sync_machines import Command

    text = Command().create_parser("manage.py", "sync_machines").format_help()
    for needle in ("DescribeInstances", "--region", "--dry-run", "AWS_REGION", "AWS_ENDPOINT_URL_EC2"):
        assert needle in text
