"""Spot interruption notices reach Host Factory: the provisioner sets ``reclaim_at`` on the
machine, and getReturnRequests hands the host back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.providers.support import ACCOUNT, REGION, sample_templates, variant

pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


def running_spot_hosts(cloud, template_id: str, count: int, **changes: Any):
    template = sample_templates(cloud.network)[template_id]
    cloud.add(variant(template, template_id, **changes) if changes else template)
    request = cloud.acquire(template_id, count)
    cloud.provision()
    assert cloud.status(request)["status"] == "complete"
    return cloud.machines(request)


def test_a_spot_request_marked_for_termination_is_handed_back(cloud):
    from moto.ec2.models import ec2_backends

    machines = running_spot_hosts(cloud, "SpotFleet", 2)
    assert cloud.return_requests(machines)["requests"] == []
    doomed = machines[0]
    backend = ec2_backends[ACCOUNT][REGION]
    (spot_request,) = [r for r in backend.spot_instance_requests.values() if r.instance.id == doomed.machine_id]
    spot_request._status_code = "marked-for-termination"

    report = cloud.provision()

    assert len(report.reclaimed) == 1 and doomed.machine_id in report.reclaimed[0]
    stored = cloud.repos.machines.get_by_id(doomed.machine_id)
    # EC2 noted the interruption at its status time; the host goes two minutes later.
    assert stored.reclaim_at == datetime(2015, 1, 1, 0, 2, tzinfo=UTC)
    answer = cloud.return_requests(machines)
    assert answer["requests"] == [{"machine": doomed.name, "machineId": doomed.machine_id, "gracePeriod": 0}]
    assert cloud.repos.machines.get_by_id(machines[1].machine_id).reclaim_at is None


def test_a_scheduled_stop_of_a_spot_instance_is_handed_back_with_its_grace_period(cloud):
    machines = running_spot_hosts(cloud, "RunInstances", 1, price_type="spot")
    (host,) = machines
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)

    def scheduled_stop(parsed: dict, **kwargs: Any) -> None:
        """EC2's answer when it plans to take the instance (moto never schedules events)."""
        parsed["InstanceStatuses"] = [
            {
                "InstanceId": host.machine_id,
                "Events": [
                    {
                        "Code": "instance-stop",
                        "Description": "The instance is running on degraded hardware",
                        "NotBefore": when,
                    }
                ],
            }
        ]

    cloud.provider.clients.ec2.meta.events.register("after-call.ec2.DescribeInstanceStatus", scheduled_stop)
    cloud.provision()

    assert cloud.repos.machines.get_by_id(host.machine_id).reclaim_at == when
    (entry,) = cloud.return_requests(machines)["requests"]
    assert entry["machineId"] == host.machine_id
    assert 590 <= entry["gracePeriod"] <= 600


def test_on_demand_hosts_are_not_asked_about(cloud, calls):
    machines = running_spot_hosts(cloud, "RunInstances", 1)
    calls.calls.clear()

    cloud.provision()

    assert calls.of("DescribeSpotInstanceRequests") == []
    assert cloud.repos.machines.get_by_id(machines[0].machine_id).reclaim_at is None
