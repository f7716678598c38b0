"""A provisioner killed at the worst moments, then run again: nothing is launched twice.

moto ignores EC2 client tokens, so what is proven here holds through the claim and the
look-up of what a request already launched (by tag, fleet tag or group name) alone."""

from __future__ import annotations

import pytest

from hostfactory.providers import services
from requests_app.domain import RequestStatus
from tests.providers.support import sample_templates, tagged_instances

LAUNCH_CALLS = {
    "RunInstances": "RunInstances",
    "EC2FleetRequest": "CreateFleet",
    "SpotFleet": "RequestSpotFleet",
    "ASG": "CreateAutoScalingGroup",
}


class Killed(BaseException):
    """Like SIGKILL: not an Exception, so nothing in the provisioner catches it."""


def kill(*args, **kwargs):
    raise Killed()


@pytest.mark.parametrize("backend_settings", ["memory", "moto"], indirect=True)
def test_killed_between_the_launch_and_its_record_never_launches_again(cloud, calls, settings, monkeypatch):
    cloud.add(sample_templates(cloud.network)["RunInstances"])
    request = cloud.acquire("RunInstances", 3)
    monkeypatch.setattr(services, "record_launch", kill)

    with pytest.raises(Killed):
        cloud.provision()

    launched = tagged_instances(cloud.provider.clients, request.request_id)
    assert len(launched) == 3
    stored = cloud.repos.requests.get_by_id(request.request_id)
    assert stored.status == RequestStatus.IN_PROGRESS and "claimed_by" in stored.provider_data
    assert "api" not in stored.provider_data and cloud.machines(request) == []
    monkeypatch.undo()

    cloud.provision()  # restarted at once: the claim is fresh, so another provisioner may be at work
    assert len(calls.of("RunInstances")) == 1
    assert cloud.machines(request) == []

    settings.HOSTFACTORY_PROVISION_CLAIM_TIMEOUT = 0  # the claim has expired
    report = cloud.provision()

    assert len(calls.of("RunInstances")) == 1
    assert tagged_instances(cloud.provider.clients, request.request_id) == launched
    assert [m.machine_id for m in cloud.machines(request)] == launched
    assert report.launched[0].startswith(f"{request.request_id}: RunInstances, 3 instances")
    assert cloud.status(request)["status"] == "complete"


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
@pytest.mark.parametrize("template_id", ["EC2FleetRequest", "SpotFleet", "ASG"])
def test_a_fleet_or_group_launched_before_the_crash_is_found_and_followed(
    cloud, calls, settings, monkeypatch, template_id
):
    cloud.add(sample_templates(cloud.network)[template_id])
    request = cloud.acquire(template_id, 2)
    monkeypatch.setattr(services, "record_launch", kill)
    with pytest.raises(Killed):
        cloud.provision()
    monkeypatch.undo()
    launched = tagged_instances(cloud.provider.clients, request.request_id)
    assert len(launched) == 2

    settings.HOSTFACTORY_PROVISION_CLAIM_TIMEOUT = 0
    cloud.provision()

    assert len(calls.of(LAUNCH_CALLS[template_id])) == 1
    assert calls.of("CreateLaunchTemplate") and len(calls.of("CreateLaunchTemplate")) == 1
    assert [m.machine_id for m in cloud.machines(request)] == launched
    assert cloud.status(request)["status"] == "complete"
    data = cloud.repos.requests.get_by_id(request.request_id).provider_data
    assert data.get("fleet_id") or data.get("spot_fleet_request_id") or data.get("group_name")


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_killed_while_registering_machines_registers_the_rest_next_run(cloud, calls, monkeypatch):
    cloud.add(sample_templates(cloud.network)["EC2FleetInstant"])
    request = cloud.acquire("EC2FleetInstant", 3)
    register = services.machine_register
    done = []

    def register_then_die(**kwargs):
        if len(done) == 1:
            raise Killed()
        done.append(register(**kwargs))

    monkeypatch.setattr(services, "machine_register", register_then_die)
    with pytest.raises(Killed):
        cloud.provision()
    monkeypatch.undo()
    assert len(cloud.machines(request)) == 1

    cloud.provision()  # the launch was recorded: followed at once, no claim to wait for

    assert len(calls.of("CreateFleet")) == 1
    assert [m.machine_id for m in cloud.machines(request)] == tagged_instances(
        cloud.provider.clients, request.request_id
    )
    assert cloud.status(request)["status"] == "complete"


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_killed_after_terminating_a_returned_host_does_not_shrink_the_fleet_twice(cloud, calls, monkeypatch):
    cloud.add(sample_templates(cloud.network)["SpotFleetMaintain"])
    request = cloud.acquire("SpotFleetMaintain", 3)
    cloud.provision()
    returned = cloud.machines(request)[0]
    give_back = cloud.give_back([returned])
    monkeypatch.setattr(services, "machine_update_status", kill)
    with pytest.raises(Killed):
        cloud.provision()
    monkeypatch.undo()

    cloud.provision()

    targets = [call["TargetCapacity"] for call in calls.of("ModifySpotFleetRequest")]
    assert targets == [2, 2]  # the capacity to keep, not "one less" each time
    assert cloud.status(give_back)["status"] == "complete"
    live = tagged_instances(cloud.provider.clients, request.request_id, live_only=True)
    assert live == sorted(m.machine_id for m in cloud.machines(request) if m.machine_id != returned.machine_id)
