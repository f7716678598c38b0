"""machines_sync against EC2 on moto: every instance state, vanished instances, batching,
throttling, concurrent writers, dry runs, and the requests the machines belong to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hostfactory.domain import utcnow
from hostfactory.providers.aws.clients import AwsClients, CloudError, ec2_client
from hostfactory.providers.aws.instances import describe_instances
from hostfactory.providers.aws.sync import VANISHED_REASON, machines_sync
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.commands.ec2 import GONE_ID, REGION, CallLog, Throttle, describe, launch, mocked_ec2
from tests.support import aggregates
from tests.support.dynalite import free_port

# The sync logic is the same over every backend (the storage contract suite proves the
# backends alike); the main flow and the concurrent-writer case also run on DynamoDB (moto).
memory_only = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


@pytest.fixture
def ec2(storage):
    with mocked_ec2() as client:
        yield client


def snapshot(repos) -> dict:
    """Every stored machine and request, versions included (a write changes it)."""
    machines = {m.machine_id: m for m in repos.machines.get_all()}
    requests = {r.request_id: r for r in repos.requests.get_all()}
    return {"machines": machines, "requests": requests}


@pytest.fixture
def fleet(storage, ec2):
    """One acquire request for four hosts: one pending machine whose instance now runs, one
    pending whose instance was launched and stopped since, one running whose instance was
    terminated, and one running whose instance EC2 no longer knows."""
    running, stopped, terminated = launch(ec2, 3)
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.terminate_instances(InstanceIds=[terminated])
    request = storage.requests.save(aggregates.acquire_request(template_id="tpl-a", machine_count=4))
    ids = {"running": running, "stopped": stopped, "terminated": terminated, "gone": GONE_ID}
    statuses = {"running": "pending", "stopped": "pending", "terminated": "running", "gone": "running"}
    for key, machine_id in ids.items():
        aggregates.store_machine(
            storage,
            aggregates.machine(machine_id, request_id=request.request_id, status=statuses[key], name=f"old-{key}"),
        )
    return request, ids


def test_machines_follow_their_instances_and_the_request_follows_its_machines(storage, ec2, fleet):
    request, ids = fleet
    report = machines_sync(repos=storage, ec2=ec2)

    machines = {m.machine_id: m for m in storage.machines.get_by_request_id(request.request_id)}
    running = machines[ids["running"]]
    seen = describe(ec2, ids["running"])
    assert running.status == MachineStatus.RUNNING
    assert running.name == seen["PrivateDnsName"]
    assert running.private_ip_address == seen["PrivateIpAddress"]
    assert running.public_ip_address == seen["PublicIpAddress"]
    assert running.launch_time == seen["LaunchTime"]
    assert running.instance_type == "t3.large"
    assert machines[ids["stopped"]].status == MachineStatus.STOPPED
    assert "User initiated" in machines[ids["stopped"]].status_reason
    assert machines[ids["terminated"]].status == MachineStatus.TERMINATED
    assert machines[ids["gone"]].status == MachineStatus.TERMINATED
    assert machines[ids["gone"]].status_reason == VANISHED_REASON
    # One host came up and three failed: the request is partial, and says so to Host Factory.
    stored = storage.requests.get_by_id(request.request_id)
    assert stored.status == RequestStatus.PARTIAL
    assert stored.message == "1 of 4 machines started; the others failed."
    assert [(c.before, c.after) for c in report.requests] == [(RequestStatus.PENDING, RequestStatus.PARTIAL)]
    assert len(report.changes) == 4
    assert sum(change.vanished for change in report.changes) == 1
    assert report.calls == 1 + 1  # the refused call naming the gone id, then one by filter


@memory_only
def test_a_second_sync_changes_nothing(storage, ec2, fleet):
    machines_sync(repos=storage, ec2=ec2)
    before = snapshot(storage)
    report = machines_sync(repos=storage, ec2=ec2)
    assert report.changes == [] and report.requests == []
    assert snapshot(storage) == before


@memory_only
def test_dry_run_reports_the_same_changes_and_writes_nothing(storage, ec2, fleet):
    request, ids = fleet
    before = snapshot(storage)

    planned = machines_sync(repos=storage, ec2=ec2, dry_run=True)

    assert snapshot(storage) == before
    assert {c.machine_id: c.target for c in planned.changes} == {
        ids["running"]: MachineStatus.RUNNING,
        ids["stopped"]: MachineStatus.STOPPED,
        ids["terminated"]: MachineStatus.TERMINATED,
        ids["gone"]: MachineStatus.TERMINATED,
    }
    assert [(c.request_id, c.after) for c in planned.requests] == [(request.request_id, RequestStatus.PARTIAL)]
    assert planned.summary().startswith("Dry run: 4 machines checked")
    done = machines_sync(repos=storage, ec2=ec2)
    assert {c.machine_id: c.target for c in done.changes} == {c.machine_id: c.target for c in planned.changes}


@memory_only
def test_stopped_between_two_syncs_passes_through_the_states_in_between(storage, ec2, fleet):
    _request, ids = fleet
    report = machines_sync(repos=storage, ec2=ec2, dry_run=True)
    change = next(c for c in report.changes if c.machine_id == ids["stopped"])
    assert [s.value for s in change.route] == ["running", "stopping"]
    assert change.describe().startswith(f"{ids['stopped']}: pending -> stopped (via running, stopping)")


@memory_only
def test_a_pending_machine_gets_time_to_appear_in_ec2(storage, ec2):
    aggregates.store_machine(storage, aggregates.machine(GONE_ID, status="pending"))
    report = machines_sync(repos=storage, ec2=ec2)
    assert storage.machines.get_by_id(GONE_ID).status == MachineStatus.PENDING
    assert report.skipped and "not described by EC2 yet" in report.skipped[0]

    later = machines_sync(repos=storage, ec2=ec2, now=utcnow() + timedelta(minutes=6))
    assert storage.machines.get_by_id(GONE_ID).status == MachineStatus.TERMINATED
    assert [c.vanished for c in later.changes] == [True]


@memory_only
def test_ids_are_described_in_batches(storage, ec2):
    ids = launch(ec2, 5)
    for machine_id in ids:
        aggregates.store_machine(storage, aggregates.machine(machine_id, status="pending"))
    log = CallLog(ec2)

    report = machines_sync(repos=storage, ec2=ec2, batch_size=2)

    assert sorted(len(call["InstanceIds"]) for call in log.calls) == [1, 2, 2]
    assert sorted(i for call in log.calls for i in call["InstanceIds"]) == sorted(ids)
    assert report.calls == 3
    assert {storage.machines.get_by_id(i).status for i in ids} == {MachineStatus.RUNNING}


@memory_only
def test_more_machines_than_one_call_takes(storage, ec2):
    """1003 machines: three live instances among a thousand that EC2 no longer knows."""
    live = launch(ec2, 3)
    gone = [f"i-{number:017x}" for number in range(1, 1001)]
    for machine_id in [*gone[:500], *live, *gone[500:]]:
        aggregates.store_machine(storage, aggregates.machine(machine_id, status="running"))
    log = CallLog(ec2)

    report = machines_sync(repos=storage, ec2=ec2)

    assert all(len(call.get("InstanceIds", [])) <= 1000 for call in log.calls)
    assert all(len(f["Values"]) <= 200 for call in log.calls for f in call.get("Filters", []))
    assert {storage.machines.get_by_id(i).status for i in live} == {MachineStatus.RUNNING}
    assert {storage.machines.get_by_id(i).status for i in gone} == {MachineStatus.TERMINATED}
    assert report.checked == 1003 and sum(c.vanished for c in report.changes) == 1000


@memory_only
def test_throttling_is_retried_by_the_client(storage, ec2, fleet):
    _request, ids = fleet
    throttle = Throttle(ec2, times=1)
    machines_sync(repos=storage, ec2=ec2)
    assert throttle.requests >= 2  # refused once, then answered
    assert storage.machines.get_by_id(ids["running"]).status == MachineStatus.RUNNING


@memory_only
def test_throttling_past_the_retries_is_an_error_and_nothing_is_written(storage, fleet):
    before = snapshot(storage)
    with mocked_ec2():
        ec2 = ec2_client(region=REGION, max_attempts=2)
        Throttle(ec2, times=10)
        with pytest.raises(CloudError, match="RequestLimitExceeded"):
            machines_sync(repos=storage, ec2=ec2)
    assert snapshot(storage) == before


@memory_only
def test_unreachable_ec2_is_an_error_and_nothing_is_written(storage, fleet, monkeypatch):
    before = snapshot(storage)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", f"http://127.0.0.1:{free_port()}")
    ec2 = ec2_client(region=REGION, max_attempts=1)
    with pytest.raises(CloudError, match=r"EC2 is unreachable \(region us-east-1, endpoint http://127\.0\.0\.1"):
        machines_sync(repos=storage, ec2=ec2)
    assert snapshot(storage) == before


def test_a_concurrent_change_is_kept_not_overwritten(storage, ec2):
    """Between reading EC2 and writing, an operator marks one machine terminated and someone
    else edits another: the first is left alone, the second gets both changes."""
    marked, edited = launch(ec2, 2)
    ec2.stop_instances(InstanceIds=[marked])
    for machine_id in (marked, edited):
        aggregates.store_machine(storage, aggregates.machine(machine_id, status="running"))

    def others_write(**kwargs):
        storage.machines.update_status(marked, "terminated", "Marked by an operator.")
        current = storage.machines.get_by_id(edited)
        storage.machines.save(current.replace(tags={"owner": "ops"}))

    ec2.meta.events.register("after-call.ec2.DescribeInstances", others_write)
    report = machines_sync(repos=storage, ec2=ec2)

    assert storage.machines.get_by_id(marked).status == MachineStatus.TERMINATED
    assert storage.machines.get_by_id(marked).status_reason == "Marked by an operator."
    assert any(line.startswith(f"{marked}: changed meanwhile") for line in report.skipped)
    both = storage.machines.get_by_id(edited)
    assert both.tags == {"owner": "ops"}
    assert both.private_ip_address == describe(ec2, edited)["PrivateIpAddress"]


@memory_only
def test_requests_past_their_deadline_time_out(storage, ec2):
    overdue = storage.requests.save(aggregates.acquire_request(deadline=utcnow() - timedelta(minutes=1)))
    fresh = storage.requests.save(aggregates.acquire_request(deadline=utcnow() + timedelta(hours=1)))
    report = machines_sync(repos=storage, ec2=ec2)
    assert storage.requests.get_by_id(overdue.request_id).status == RequestStatus.TIMEOUT
    assert storage.requests.get_by_id(fresh.request_id).status == RequestStatus.PENDING
    assert [(c.request_id, c.after) for c in report.requests] == [(overdue.request_id, RequestStatus.TIMEOUT)]


@memory_only
def test_a_returned_host_that_ec2_terminated_completes_its_return(storage, ec2):
    (instance,) = launch(ec2, 1)
    ec2.terminate_instances(InstanceIds=[instance])
    giving_back = storage.requests.save(aggregates.return_request(machine_count=1))
    aggregates.store_machine(
        storage, aggregates.machine(instance, status="running", return_request_id=giving_back.request_id)
    )
    machines_sync(repos=storage, ec2=ec2)
    assert storage.requests.get_by_id(giving_back.request_id).status == RequestStatus.COMPLETE
    assert storage.machines.get_by_id(instance).status == MachineStatus.RETURNED


@memory_only
def test_machines_that_are_not_ec2_instances_are_left_alone(storage, ec2):
    aggregates.store_machine(storage, aggregates.machine("vm-on-premises-7", status="running"))
    report = machines_sync(repos=storage, ec2=ec2)
    assert storage.machines.get_by_id("vm-on-premises-7").status == MachineStatus.RUNNING
    assert report.skipped == ["vm-on-premises-7: not an EC2 instance id"]
    assert report.calls == 0


def test_the_one_describer_leaves_out_ids_ec2_does_not_know():
    """The provisioner's describe_instances and sync share one DescribeInstances: an id that
    is gone, or not an instance id at all, is left out instead of failing the batch."""
    with mocked_ec2():
        clients = AwsClients(region=REGION)
        [live] = launch(clients.ec2, 1)
        described = describe_instances(clients, [live, GONE_ID, "host-1.example", live])
    assert list(described) == [live]
    assert described[live].state == "running"
