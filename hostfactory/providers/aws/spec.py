"""Launch parameters built from a template's Host Factory launch settings.

Pure functions (no AWS calls), so what we ask EC2 for can be read and tested in one place.
Settings keep their Host Factory names in ``template.provider_config`` (domain.md):
imageId, vmType / vmTypes (instance type -> weight), subnetId (one, a list, or
comma-separated), securityGroupIds, keyName, instanceTags ("k=v;k2=v2"), instanceProfile,
userDataScript, rootDeviceVolumeSize, volumeType, fleetRole, maxSpotPrice,
allocationStrategy, percentOnDemand, launchTemplateId, fleetType.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostfactory.providers.base import LaunchFailed

if TYPE_CHECKING:
    from requests_app.domain import Request
    from templates_app.domain import Template

TAG_REQUEST = "hostfactory:request-id"
TAG_TEMPLATE = "hostfactory:template-id"
DEFAULT_FLEET_TYPES = {"EC2Fleet": "instant", "SpotFleet": "request"}
DEFAULT_ALLOCATION = "priceCapacityOptimized"
# Host Factory / Spot Fleet spelling -> (EC2 Fleet and Auto Scaling spelling, Spot Fleet spelling)
ALLOCATION_STRATEGIES = {
    "lowestprice": ("lowest-price", "lowestPrice"),
    "diversified": ("diversified", "diversified"),
    "capacityoptimized": ("capacity-optimized", "capacityOptimized"),
    "capacityoptimizedprioritized": ("capacity-optimized-prioritized", "capacityOptimizedPrioritized"),
    "pricecapacityoptimized": ("price-capacity-optimized", "priceCapacityOptimized"),
}
SPOT_FLEET_ROLE = "arn:aws:iam::{account}:role/aws-service-role/spotfleet.amazonaws.com/AWSServiceRoleForEC2SpotFleet"


def resource_name(request_id: str) -> str:
    """Name of the launch template and Auto Scaling group made for a request: AWS keeps
    names unique, so a second attempt finds the first one's instead of making another."""
    return f"hostfactory-{request_id}"


def client_token(request_id: str, purpose: str) -> str:
    """Idempotency token: the same request and purpose always give the same token (<= 64)."""
    return f"hf-{purpose}-{request_id}"[:64]


def fleet_type(template: Template) -> str | None:
    return template.provider_config.get("fleetType") or DEFAULT_FLEET_TYPES.get(template.effective_provider_api)


def max_spot_price(template: Template) -> Any:
    """maxSpotPrice, or spotPrice (the name IBM's LSF AWS templates give the spot bid)."""
    config = template.provider_config
    return config.get("maxSpotPrice") or config.get("spotPrice")


def parse_tags(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in (text or "").split(";") if item.strip())
    return {key.strip(): value.strip() for key, value in pairs}


def instance_tags(template: Template, request: Request) -> dict[str, str]:
    """The template's instanceTags plus the two tags every launched instance carries, by
    which a later run finds what a request launched."""
    tags = parse_tags(template.provider_config.get("instanceTags", ""))
    tags.update({TAG_REQUEST: request.request_id, TAG_TEMPLATE: template.template_id})
    return tags


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def request_tags(template: Template, request: Request) -> list[dict[str, str]]:
    return tag_list({TAG_REQUEST: request.request_id, TAG_TEMPLATE: template.template_id})


def subnets(template: Template) -> list[str]:
    value = template.provider_config.get("subnetId") or []
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item.strip()]


def weights(template: Template) -> dict[str, int]:
    """Instance type -> capacity units it counts for (vmTypes), or the one vmType at 1."""
    config = template.provider_config
    if config.get("vmTypes"):
        return dict(config["vmTypes"])
    return {config["vmType"]: 1} if config.get("vmType") else {}


def capacity_split(template: Template, units: int, spot_only_default: bool = False) -> tuple[int, int]:
    """(on-demand, spot) units for the template's price type. ``heterogeneous`` puts
    percentOnDemand percent (default 0) on demand. Spot Fleet launches spot, so there a
    template left at the default ``ondemand`` price type is read as spot."""
    price = template.price_type
    if price == "ondemand" and spot_only_default:
        price = "spot"
    return split_units(price, int(template.provider_config.get("percentOnDemand", 0)), units)


def split_units(price_type: str, percent_on_demand: int, units: int) -> tuple[int, int]:
    if price_type == "ondemand":
        return units, 0
    if price_type == "heterogeneous":
        on_demand = round(units * percent_on_demand / 100)
        return on_demand, units - on_demand
    return 0, units


def allocation_strategy(template: Template, spot_fleet: bool = False) -> str:
    name = str(template.provider_config.get("allocationStrategy") or DEFAULT_ALLOCATION)
    key = name.replace("-", "").replace("_", "").lower()
    if key not in ALLOCATION_STRATEGIES:
        allowed = ", ".join(spelling[1] for spelling in ALLOCATION_STRATEGIES.values())
        raise LaunchFailed("InvalidAllocationStrategy", f"allocationStrategy {name!r} is not one of {allowed}")
    return ALLOCATION_STRATEGIES[key][1 if spot_fleet else 0]


def user_data(template: Template) -> str | None:
    """userDataScript: the script itself, or (Host Factory's form) the path of a file holding it."""
    script = template.provider_config.get("userDataScript")
    if not script:
        return None
    if "\n" not in script and script.startswith("/"):
        try:
            return Path(script).read_text(encoding="utf-8")
        except OSError as error:
            raise LaunchFailed("UserDataScript", f"cannot read userDataScript {script}: {error.strerror}") from None
    return script


def iam_profile(template: Template) -> dict[str, str] | None:
    profile = template.provider_config.get("instanceProfile")
    if not profile:
        return None
    return {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}


def block_devices(template: Template, root_device: str) -> list[dict[str, Any]] | None:
    config = template.provider_config
    ebs: dict[str, Any] = {"DeleteOnTermination": True}
    if config.get("rootDeviceVolumeSize"):
        ebs["VolumeSize"] = int(config["rootDeviceVolumeSize"])
    if config.get("volumeType"):
        ebs["VolumeType"] = config["volumeType"]
    return [{"DeviceName": root_device, "Ebs": ebs}] if len(ebs) > 1 else None


def needs_root_device(template: Template) -> bool:
    return bool(template.provider_config.get("rootDeviceVolumeSize") or template.provider_config.get("volumeType"))


def _common(template: Template, image_id: str | None, root_device: str) -> dict[str, Any]:
    """Settings RunInstances and launch templates spell the same way."""
    config = template.provider_config
    params: dict[str, Any] = {}
    if image_id:
        params["ImageId"] = image_id
    if config.get("keyName"):
        params["KeyName"] = config["keyName"]
    if config.get("securityGroupIds"):
        params["SecurityGroupIds"] = list(config["securityGroupIds"])
    if iam_profile(template):
        params["IamInstanceProfile"] = iam_profile(template)
    devices = block_devices(template, root_device)
    if devices:
        params["BlockDeviceMappings"] = devices
    return params


def launch_template_data(
    template: Template, request: Request, *, image_id: str | None, root_device: str, base: dict | None = None
) -> dict[str, Any]:
    """LaunchTemplateData for the launch template made per request (fleets and groups take
    instance tags only from a launch template). ``base``: the data of the template's own
    launchTemplateId, which our settings extend."""
    data = dict(base or {})
    data.update(_common(template, image_id, root_device))
    if template.provider_config.get("vmType"):
        data["InstanceType"] = template.provider_config["vmType"]
    script = user_data(template)
    if script:
        data["UserData"] = base64.b64encode(script.encode()).decode()
    tags = instance_tags(template, request)
    ours = ("instance", "volume")
    kept = [item for item in data.get("TagSpecifications", []) if item.get("ResourceType") not in ours]
    data["TagSpecifications"] = [
        *kept,
        {"ResourceType": "instance", "Tags": tag_list(tags)},
        {"ResourceType": "volume", "Tags": tag_list(tags)},
    ]
    return data


def run_instances_params(template: Template, request: Request, *, image_id: str | None, root_device: str) -> dict:
    """RunInstances: all the request's hosts or none (MinCount = MaxCount, as the Open Host
    Factory Plugin does), in the first subnet; spot through InstanceMarketOptions."""
    config = template.provider_config
    count = request.machine_count
    tags = tag_list(instance_tags(template, request))
    params: dict[str, Any] = {
        **_common(template, image_id, root_device),
        "MinCount": count,
        "MaxCount": count,
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}, {"ResourceType": "volume", "Tags": tags}],
        "ClientToken": client_token(request.request_id, "run"),
    }
    if config.get("vmType") or config.get("vmTypes"):
        params["InstanceType"] = config.get("vmType") or next(iter(config["vmTypes"]))
    if config.get("launchTemplateId"):
        params["LaunchTemplate"] = {"LaunchTemplateId": config["launchTemplateId"], "Version": "$Default"}
    if subnets(template):
        params["SubnetId"] = subnets(template)[0]
    script = user_data(template)
    if script:
        params["UserData"] = script
    if template.price_type == "spot":
        options: dict[str, Any] = {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}
        if max_spot_price(template):
            options["MaxPrice"] = str(max_spot_price(template))
        params["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": options}
    return params


def _overrides(template: Template, *, weight_key: str, price_key: str | None) -> list[dict[str, Any]]:
    """One override per instance type and subnet, each type counted at its weight."""
    price = max_spot_price(template)
    result = []
    for instance_type, weight in weights(template).items():
        for subnet in subnets(template) or [None]:
            override: dict[str, Any] = {"InstanceType": instance_type, weight_key: float(weight)}
            if subnet:
                override["SubnetId"] = subnet
            if price_key and price:
                override[price_key] = str(price)
            result.append(override)
    return result


def target_capacity(template: Template, units: int) -> dict[str, Any]:
    on_demand, spot = capacity_split(template, units)
    return {
        "TotalTargetCapacity": units,
        "OnDemandTargetCapacity": on_demand,
        "SpotTargetCapacity": spot,
        "DefaultTargetCapacityType": "on-demand" if template.price_type == "ondemand" else "spot",
    }


def ec2_fleet_params(template: Template, request: Request, *, launch_template_id: str) -> dict[str, Any]:
    kind = fleet_type(template)
    spot = template.price_type != "ondemand"
    price_key = "MaxPrice" if spot else None
    params: dict[str, Any] = {
        "Type": kind,
        "LaunchTemplateConfigs": [
            {
                "LaunchTemplateSpecification": {"LaunchTemplateId": launch_template_id, "Version": "$Latest"},
                "Overrides": _overrides(template, weight_key="WeightedCapacity", price_key=price_key),
            }
        ],
        "TargetCapacitySpecification": target_capacity(template, request.machine_count),
        "OnDemandOptions": {"AllocationStrategy": "lowest-price"},
        "TagSpecifications": [{"ResourceType": "fleet", "Tags": request_tags(template, request)}],
        "ClientToken": client_token(request.request_id, "fleet"),
    }
    if spot:
        params["SpotOptions"] = {
            "AllocationStrategy": allocation_strategy(template),
            "InstanceInterruptionBehavior": "terminate",
        }
    if kind != "instant":
        # Lowering the target on a return must not make the fleet pick a host to terminate.
        params["ExcessCapacityTerminationPolicy"] = "no-termination"
    return params


def spot_fleet_config(template: Template, request: Request, *, launch_template_id: str, fleet_role: str) -> dict:
    on_demand, _spot = capacity_split(template, request.machine_count, spot_only_default=True)
    config: dict[str, Any] = {
        "IamFleetRole": fleet_role,
        "AllocationStrategy": allocation_strategy(template, spot_fleet=True),
        "TargetCapacity": request.machine_count,
        "OnDemandTargetCapacity": on_demand,
        "Type": fleet_type(template),
        "ExcessCapacityTerminationPolicy": "noTermination",
        "InstanceInterruptionBehavior": "terminate",
        "LaunchTemplateConfigs": [
            {
                "LaunchTemplateSpecification": {"LaunchTemplateId": launch_template_id, "Version": "$Latest"},
                "Overrides": _overrides(template, weight_key="WeightedCapacity", price_key="SpotPrice"),
            }
        ],
        "TagSpecifications": [{"ResourceType": "spot-fleet-request", "Tags": request_tags(template, request)}],
        "ClientToken": client_token(request.request_id, "spotfleet"),
    }
    if max_spot_price(template):
        config["SpotPrice"] = str(max_spot_price(template))
    return config


def asg_params(template: Template, request: Request, *, launch_template_id: str) -> dict[str, Any]:
    """An Auto Scaling group of exactly the request's hosts. One on-demand type: the launch
    template alone; several types or spot: a mixed instances policy."""
    count = request.machine_count
    spec = {"LaunchTemplateId": launch_template_id, "Version": "$Latest"}
    params: dict[str, Any] = {
        "AutoScalingGroupName": resource_name(request.request_id),
        "MinSize": 0,
        "MaxSize": count,
        "DesiredCapacity": count,
        "Tags": [{**tag, "PropagateAtLaunch": True} for tag in request_tags(template, request)],
    }
    if subnets(template):
        params["VPCZoneIdentifier"] = ",".join(subnets(template))
    types = weights(template)
    if template.price_type == "ondemand" and len(types) <= 1:
        params["LaunchTemplate"] = spec
        return params
    on_demand, _spot = capacity_split(template, 100)
    distribution: dict[str, Any] = {
        "OnDemandBaseCapacity": 0,
        "OnDemandPercentageAboveBaseCapacity": on_demand,
        "SpotAllocationStrategy": allocation_strategy(template),
    }
    if max_spot_price(template):
        distribution["SpotMaxPrice"] = str(max_spot_price(template))
    params["MixedInstancesPolicy"] = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": spec,
            "Overrides": [{"InstanceType": instance_type} for instance_type in types],
        },
        "InstancesDistribution": distribution,
    }
    return params
