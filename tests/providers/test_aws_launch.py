"""Each AWS launch API and price type on moto: the call made (its parameters, built from the
template's Host Factory launch settings), the machines recorded, the request reaching complete
through provision + sync, and a return terminating exactly the returned hosts."""

from __future__ import annotations

import pytest

from hostfactory.providers.aws.spec import TAG_REQUEST, TAG_TEMPLATE
from tests.providers.support import ACCOUNT, instance, sample_templates, tagged_instances, variant

pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)

KEY = "HF_SSH_KEY"  # the sample templates' keyName


def tags_of(spec_list: list[dict], resource_type: str) -> dict[str, str]:
    (spec,) = [item for item in spec_list if item["ResourceType"] == resource_type]
    return {tag["Key"]: tag["Value"] for tag in spec["Tags"]}


def launched(cloud, template_id: str, count: int, **changes):
    """Add the sample template ``template_id`` (with ``changes``), request ``count`` hosts, provision."""
    template = sample_templates(cloud.network)[template_id]
    if changes:
        template = variant(template, template.template_id, **changes)
    cloud.add(template)
    request = cloud.acquire(template.template_id, count)
    report = cloud.provision()
    assert not report.errors, report.errors
    return template, request


def assert_complete_with_real_hosts(cloud, request, count: int) -> list:
    """What Host Factory sees: complete, every host succeeded with EC2's own IP and DNS name."""
    answer = cloud.status(request)
    assert answer["status"] == "complete", answer
    assert len(answer["machines"]) == count
    for host in answer["machines"]:
        ec2 = instance(cloud.provider.clients, host["machineId"])
        assert host["result"] == "succeed"
        assert host["privateIpAddress"] == ec2["PrivateIpAddress"]
        assert host["name"] == ec2["PrivateDnsName"]
        assert host["launchtime"] > 0
    return cloud.machines(request)


def assert_tagged(cloud, instance_ids, request, template_id: str) -> None:
    for instance_id in instance_ids:
        tags = {tag["Key"]: tag["Value"] for tag in instance(cloud.provider.clients, instance_id)["Tags"]}
        assert tags[TAG_REQUEST] == request.request_id
        assert tags[TAG_TEMPLATE] == template_id


def return_one(cloud, request, calls):
    """Host Factory returns the first host; the provisioner terminates it, the sync sees it go."""
    machines = cloud.machines(request)
    returned, kept = machines[0], machines[1:]
    calls.calls.clear()
    give_back = cloud.give_back([returned])
    cloud.provision()
    assert cloud.status(give_back)["status"] == "complete"
    assert calls.one("TerminateInstances")["InstanceIds"] == [returned.machine_id]
    assert instance(cloud.provider.clients, returned.machine_id)["State"]["Name"] == "terminated"
    for machine in kept:
        assert instance(cloud.provider.clients, machine.machine_id)["State"]["Name"] == "running"
        assert cloud.repos.machines.get_by_id(machine.machine_id).status.value == "running"
    return returned, kept


def test_run_instances_on_demand_launches_all_hosts_in_one_call(cloud, calls):
    template, request = launched(cloud, "RunInstances", 3, instanceTags="team=cae;cost-center=42")

    params = calls.one("RunInstances")
    assert calls.one("GetParameter")["Name"] == template.provider_config["imageId"]
    assert params["ImageId"] == cloud.network.image_id  # the SSM parameter, resolved
    assert params["InstanceType"] == "t2.micro"
    assert (params["MinCount"], params["MaxCount"]) == (3, 3)
    assert params["SubnetId"] == cloud.network.subnet_ids[0]
    assert params["SecurityGroupIds"] == [cloud.network.security_group_id]
    assert params["KeyName"] == KEY
    assert request.request_id in params["ClientToken"]
    assert "InstanceMarketOptions" not in params
    assert tags_of(params["TagSpecifications"], "instance") == {
        "team": "cae",
        "cost-center": "42",
        TAG_REQUEST: request.request_id,
        TAG_TEMPLATE: "RunInstances",
    }

    machines = assert_complete_with_real_hosts(cloud, request, 3)
    assert {m.machine_id for m in machines} == set(tagged_instances(cloud.provider.clients, request.request_id))
    assert {m.price_type for m in machines} == {"ondemand"}
    assert cloud.repos.requests.get_by_id(request.request_id).provider_data["api"] == "RunInstances"
    return_one(cloud, request, calls)


def test_run_instances_spot_asks_for_the_spot_market_at_the_max_price(cloud, calls):
    _template, request = launched(cloud, "RunInstances", 2, price_type="spot", maxSpotPrice=0.05)

    options = calls.one("RunInstances")["InstanceMarketOptions"]
    assert options["MarketType"] == "spot"
    assert options["SpotOptions"]["MaxPrice"] == "0.05"
    machines = assert_complete_with_real_hosts(cloud, request, 2)
    assert {m.price_type for m in machines} == {"spot"}


def test_run_instances_sizes_the_root_volume_of_the_image(cloud, calls):
    launched(cloud, "RunInstances", 1, rootDeviceVolumeSize=50, volumeType="gp3", instanceProfile="hf-hosts")

    params = calls.one("RunInstances")
    root = calls.one("DescribeImages")
    assert root["ImageIds"] == [cloud.network.image_id]
    (device,) = params["BlockDeviceMappings"]
    assert device["Ebs"] == {"VolumeSize": 50, "VolumeType": "gp3", "DeleteOnTermination": True}
    assert device["DeviceName"].startswith("/dev/")
    assert params["IamInstanceProfile"] == {"Name": "hf-hosts"}


def test_ec2_fleet_instant_on_demand_uses_a_launch_template_made_for_the_request(cloud, calls):
    _template, request = launched(cloud, "EC2FleetInstant", 3)

    template_call = calls.one("CreateLaunchTemplate")
    data = template_call["LaunchTemplateData"]
    assert template_call["LaunchTemplateName"] == f"hostfactory-{request.request_id}"
    assert data["ImageId"] == cloud.network.image_id
    assert data["KeyName"] == KEY
    assert data["SecurityGroupIds"] == [cloud.network.security_group_id]
    assert tags_of(data["TagSpecifications"], "instance")[TAG_REQUEST] == request.request_id

    fleet = calls.one("CreateFleet")
    assert fleet["Type"] == "instant"
    assert fleet["TargetCapacitySpecification"] == {
        "TotalTargetCapacity": 3,
        "OnDemandTargetCapacity": 3,
        "SpotTargetCapacity": 0,
        "DefaultTargetCapacityType": "on-demand",
    }
    (config,) = fleet["LaunchTemplateConfigs"]
    assert config["Overrides"] == [
        {"InstanceType": "t2.micro", "WeightedCapacity": 1.0, "SubnetId": cloud.network.subnet_ids[0]}
    ]
    assert "SpotOptions" not in fleet
    assert tags_of(fleet["TagSpecifications"], "fleet")[TAG_REQUEST] == request.request_id

    machines = assert_complete_with_real_hosts(cloud, request, 3)
    assert_tagged(cloud, [m.machine_id for m in machines], request, "EC2FleetInstant")
    data = cloud.repos.requests.get_by_id(request.request_id).provider_data
    assert data["fleet_id"].startswith("fleet-") and data["launch_template_id"].startswith("lt-")
    return_one(cloud, request, calls)


def test_ec2_fleet_request_spot_weights_instance_types_over_every_subnet(cloud, calls):
    two_subnets = cloud.network.subnet_ids
    _template, request = launched(
        cloud,
        "EC2FleetRequest",
        3,
        price_type="spot",
        vmType=None,
        vmTypes={"t3.large": 2, "t3.medium": 1},
        subnetId=two_subnets,
        allocationStrategy="capacityOptimized",
        maxSpotPrice="0.08",
    )

    fleet = calls.one("CreateFleet")
    assert fleet["Type"] == "request"
    assert fleet["ExcessCapacityTerminationPolicy"] == "no-termination"
    assert fleet["SpotOptions"]["AllocationStrategy"] == "capacity-optimized"
    assert fleet["TargetCapacitySpecification"] == {
        "TotalTargetCapacity": 3,
        "OnDemandTargetCapacity": 0,
        "SpotTargetCapacity": 3,
        "DefaultTargetCapacityType": "spot",
    }
    overrides = fleet["LaunchTemplateConfigs"][0]["Overrides"]
    assert {(o["InstanceType"], o["WeightedCapacity"], o["SubnetId"], o["MaxPrice"]) for o in overrides} == {
        (kind, weight, subnet, "0.08")
        for kind, weight in (("t3.large", 2.0), ("t3.medium", 1.0))
        for subnet in two_subnets
    }
    # moto fills 3 units with two t3.large (weight 2): fewer hosts than units asked, still complete.
    answer = cloud.status(request)
    assert answer["status"] == "complete", answer
    machines = cloud.machines(request)
    assert [m.instance_type for m in machines] == ["t3.large", "t3.large"]
    assert {m.price_type for m in machines} == {"spot"}


def test_ec2_fleet_maintain_heterogeneous_lowers_the_target_before_terminating(cloud, calls):
    _template, request = launched(cloud, "EC2FleetMaintain", 4, price_type="heterogeneous", percentOnDemand=50)

    fleet = calls.one("CreateFleet")
    assert fleet["Type"] == "maintain"
    assert fleet["TargetCapacitySpecification"] == {
        "TotalTargetCapacity": 4,
        "OnDemandTargetCapacity": 2,
        "SpotTargetCapacity": 2,
        "DefaultTargetCapacityType": "spot",
    }
    machines = assert_complete_with_real_hosts(cloud, request, 4)
    assert sorted(m.price_type for m in machines) == ["ondemand", "ondemand", "spot", "spot"]

    return_one(cloud, request, calls)
    names = calls.names()
    assert names.index("ModifyFleet") < names.index("TerminateInstances")
    modify = calls.one("ModifyFleet")
    assert modify["FleetId"] == cloud.repos.requests.get_by_id(request.request_id).provider_data["fleet_id"]
    assert modify["TargetCapacitySpecification"]["TotalTargetCapacity"] == 3
    assert modify["ExcessCapacityTerminationPolicy"] == "no-termination"


def test_spot_fleet_without_a_role_uses_the_accounts_service_linked_role(cloud, calls):
    _template, request = launched(cloud, "SpotFleet", 2)

    assert calls.one("GetCallerIdentity") == {}
    config = calls.one("RequestSpotFleet")["SpotFleetRequestConfig"]
    assert config["IamFleetRole"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/spotfleet.amazonaws.com/AWSServiceRoleForEC2SpotFleet"
    )
    assert config["Type"] == "request"
    assert config["TargetCapacity"] == 2
    assert config["OnDemandTargetCapacity"] == 0
    assert config["AllocationStrategy"] == "priceCapacityOptimized"
    assert config["LaunchTemplateConfigs"][0]["LaunchTemplateSpecification"]["LaunchTemplateId"].startswith("lt-")
    assert tags_of(config["TagSpecifications"], "spot-fleet-request")[TAG_REQUEST] == request.request_id

    machines = assert_complete_with_real_hosts(cloud, request, 2)
    assert {m.price_type for m in machines} == {"spot"}
    assert_tagged(cloud, [m.machine_id for m in machines], request, "SpotFleet")
    return_one(cloud, request, calls)


def test_spot_fleet_maintain_heterogeneous_lowers_its_target_before_terminating(cloud, calls):
    role = f"arn:aws:iam::{ACCOUNT}:role/hf-spot-fleet"
    _template, request = launched(
        cloud, "SpotFleetMaintain", 4, price_type="heterogeneous", percentOnDemand=25, fleetRole=role
    )

    config = calls.one("RequestSpotFleet")["SpotFleetRequestConfig"]
    assert calls.of("GetCallerIdentity") == []
    assert config["IamFleetRole"] == role
    assert (config["Type"], config["TargetCapacity"], config["OnDemandTargetCapacity"]) == ("maintain", 4, 1)
    assert config["ExcessCapacityTerminationPolicy"] == "noTermination"
    assert_complete_with_real_hosts(cloud, request, 4)

    _returned, kept = return_one(cloud, request, calls)
    names = calls.names()
    assert names.index("ModifySpotFleetRequest") < names.index("TerminateInstances")
    fleet_id = cloud.repos.requests.get_by_id(request.request_id).provider_data["spot_fleet_request_id"]
    modify = calls.one("ModifySpotFleetRequest")
    assert (modify["SpotFleetRequestId"], modify["TargetCapacity"]) == (fleet_id, 3)
    described = cloud.provider.clients.ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[fleet_id])
    assert described["SpotFleetRequestConfigs"][0]["SpotFleetRequestConfig"]["TargetCapacity"] == 3
    live = tagged_instances(cloud.provider.clients, request.request_id, live_only=True)
    assert live == sorted(m.machine_id for m in kept)


def test_asg_is_a_group_per_request_and_a_return_detaches_then_terminates(cloud, calls):
    _template, request = launched(cloud, "ASG", 3)

    group = calls.one("CreateAutoScalingGroup")
    name = f"hostfactory-{request.request_id}"
    assert group["AutoScalingGroupName"] == name
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 3, 3)
    assert group["VPCZoneIdentifier"] == cloud.network.subnet_ids[0]
    data = cloud.repos.requests.get_by_id(request.request_id).provider_data
    assert group["LaunchTemplate"] == {"LaunchTemplateId": data["launch_template_id"], "Version": "$Latest"}
    assert calls.one("CreateLaunchTemplate")["LaunchTemplateName"] == name
    assert {(t["Key"], t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]} == {
        (TAG_REQUEST, request.request_id, True),
        (TAG_TEMPLATE, "ASG", True),
    }
    assert_complete_with_real_hosts(cloud, request, 3)

    returned, kept = return_one(cloud, request, calls)
    names = calls.names()
    assert names.index("DetachInstances") < names.index("TerminateInstances")
    detach = calls.one("DetachInstances")
    assert detach == {
        "AutoScalingGroupName": name,
        "InstanceIds": [returned.machine_id],
        "ShouldDecrementDesiredCapacity": True,
    }
    stored = cloud.provider.clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    (group,) = stored["AutoScalingGroups"]
    assert group["DesiredCapacity"] == 2
    assert sorted(i["InstanceId"] for i in group["Instances"]) == [m.machine_id for m in kept]


def test_asg_spot_with_several_types_uses_a_mixed_instances_policy(cloud, calls):
    _template, request = launched(
        cloud, "ASG", 2, price_type="spot", vmType=None, vmTypes={"t3.small": 1, "t3.medium": 1}
    )

    policy = calls.one("CreateAutoScalingGroup")["MixedInstancesPolicy"]
    assert policy["LaunchTemplate"]["Overrides"] == [{"InstanceType": "t3.small"}, {"InstanceType": "t3.medium"}]
    assert policy["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0
    assert policy["InstancesDistribution"]["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert_complete_with_real_hosts(cloud, request, 2)


def test_returning_every_host_cleans_up_the_fleet_and_its_launch_template(cloud, calls):
    _template, request = launched(cloud, "EC2FleetRequest", 2)
    data = cloud.repos.requests.get_by_id(request.request_id).provider_data
    calls.calls.clear()

    give_back = cloud.give_back(cloud.machines(request))
    cloud.provision()

    assert cloud.status(give_back)["status"] == "complete"
    assert sorted(calls.one("TerminateInstances")["InstanceIds"]) == [m.machine_id for m in cloud.machines(request)]
    assert calls.one("DeleteFleets")["FleetIds"] == [data["fleet_id"]]
    assert calls.one("DeleteLaunchTemplate")["LaunchTemplateId"] == data["launch_template_id"]
    templates = cloud.provider.clients.ec2.describe_launch_templates()["LaunchTemplates"]
    assert data["launch_template_id"] not in [t["LaunchTemplateId"] for t in templates]
    assert cloud.repos.requests.get_by_id(request.request_id).provider_data["released"] is True


def test_a_second_pass_launches_nothing_more(cloud, calls):
    _template, request = launched(cloud, "RunInstances", 2)
    calls.calls.clear()

    report = cloud.provision()

    assert report.launched == [] and report.registered == []
    assert calls.of("RunInstances") == []
    assert len(tagged_instances(cloud.provider.clients, request.request_id)) == 2
