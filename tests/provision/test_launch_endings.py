"""How a fleet's life ends without leaking hosts: one still filling when its request runs out of
time is stopped (the hosts it has keep running), and a host a maintain fleet put in on its own
is terminated with the request's last return."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hostfactory.domain import utcnow
from hostfactory.services import update_with_retry
from requests_app.domain import RequestStatus
from tests.providers.support import ACCOUNT, REGION, instance, sample_templates, tagged_instances

pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


def test_a_fleet_short_of_capacity_at_the_deadline_is_stopped_and_the_request_times_out(cloud, calls):
    cloud.add(sample_templates(cloud.network)["EC2FleetRequest"])
    request = cloud.acquire("EC2FleetRequest", 3)

    def two_so_far(parsed: dict, **kwargs: Any) -> None:
        """EC2 has found capacity for two of the three hosts so far."""
        parsed["ActiveInstances"] = parsed["ActiveInstances"][:2]

    def filling(parsed: dict, **kwargs: Any) -> None:
        for fleet in parsed["Fleets"]:
            fleet.update(FulfilledCapacity=2.0, ActivityStatus="pending_fulfillment")

    events = cloud.provider.clients.ec2.meta.events
    events.register("after-call.ec2.DescribeFleetInstances", two_so_far)
    events.register("after-call.ec2.DescribeFleets", filling)
    cloud.provision()
    assert cloud.status(request)["status"] == "running"
    started = cloud.machines(request)
    assert len(started) == 2

    update_with_retry(cloud.repos.requests, request.request_id, lambda r: r.replace(deadline=utcnow() - timedelta(1)))
    calls.calls.clear()
    report = cloud.provision()

    fleet_id = cloud.repos.requests.get_by_id(request.request_id).provider_data["fleet_id"]
    assert calls.one("DeleteFleets") == {"FleetIds": [fleet_id], "TerminateInstances": False}
    assert report.finished == [f"{request.request_id}: launch stopped at the deadline"]
    answer = cloud.status(request)
    assert answer["status"] == "complete_with_error"
    assert answer["message"] == "Timed out with 2 of 3 machines started."
    assert [host["result"] for host in answer["machines"]] == ["succeed", "succeed"]
    assert cloud.repos.requests.get_by_id(request.request_id).status == RequestStatus.TIMEOUT
    for machine in started:
        assert instance(cloud.provider.clients, machine.machine_id)["State"]["Name"] == "running"

    calls.calls.clear()
    cloud.provision()
    assert calls.of("DeleteFleets") == [] and calls.of("DescribeFleetInstances") == []


def test_a_host_a_maintain_fleet_put_in_after_the_request_is_terminated_with_the_last_return(cloud, calls):
    from moto.ec2.models import ec2_backends

    cloud.add(sample_templates(cloud.network)["SpotFleetMaintain"])
    request = cloud.acquire("SpotFleetMaintain", 2)
    cloud.provision()
    assert cloud.status(request)["status"] == "complete"
    interrupted, other = cloud.machines(request)
    backend = ec2_backends[ACCOUNT][REGION]
    fleet_id = cloud.repos.requests.get_by_id(request.request_id).provider_data["spot_fleet_request_id"]
    backend.terminate_instances([interrupted.machine_id])  # a spot interruption ...
    backend.spot_fleet_requests[fleet_id].create_spot_requests(1)  # ... and the fleet's replacement
    (replacement,) = set(tagged_instances(cloud.provider.clients, request.request_id, live_only=True)) - {
        other.machine_id
    }
    cloud.provision()  # Host Factory is told the interrupted host is gone; it gives both back
    assert [m.machine_id for m in cloud.machines(request)] == sorted([interrupted.machine_id, other.machine_id])

    give_back = cloud.give_back(cloud.machines(request))
    calls.calls.clear()
    cloud.provision()

    assert cloud.status(give_back)["status"] == "complete"
    terminated = [call["InstanceIds"] for call in calls.of("TerminateInstances")]
    assert terminated == [[other.machine_id], [replacement]]
    assert tagged_instances(cloud.provider.clients, request.request_id, live_only=True) == []
