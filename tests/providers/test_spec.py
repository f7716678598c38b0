"""Launch settings read from a template, without AWS: the pieces the launchers put together."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from hostfactory.providers.aws import spec
from hostfactory.providers.aws.instances import _event_notice
from hostfactory.providers.base import LaunchFailed
from tests.support import aggregates as build

REQUEST = build.acquire_request(template_id="tpl-a", machine_count=4)


def template(price_type: str = "ondemand", **config):
    settings = {"imageId": "ami-0123456789abcdef0", "vmType": "t3.large", **config}
    settings = {key: value for key, value in settings.items() if value is not None}
    return build.template("tpl-a", provider_api="EC2Fleet", price_type=price_type, provider_config=settings)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("subnet-a", ["subnet-a"]),
        ("subnet-a, subnet-b", ["subnet-a", "subnet-b"]),
        (["subnet-a", "subnet-b"], ["subnet-a", "subnet-b"]),
    ],
)
def test_subnet_id_may_be_one_a_list_or_comma_separated(value, expected):
    assert spec.subnets(template(subnetId=value)) == expected


def test_instance_tags_keep_the_templates_and_always_name_request_and_template():
    tags = spec.instance_tags(template(instanceTags="owner=cae;hostfactory:request-id=spoofed"), REQUEST)

    assert tags == {"owner": "cae", spec.TAG_REQUEST: REQUEST.request_id, spec.TAG_TEMPLATE: "tpl-a"}


@pytest.mark.parametrize(
    ("price_type", "percent", "expected"),
    [
        ("ondemand", None, (4, 0)),
        ("spot", None, (0, 4)),
        ("heterogeneous", 25, (1, 3)),
        ("heterogeneous", None, (0, 4)),
    ],
)
def test_capacity_is_split_by_price_type(price_type, percent, expected):
    config = {"percentOnDemand": percent} if percent is not None else {}

    assert spec.capacity_split(template(price_type, **config), 4) == expected


def test_spot_fleet_reads_the_default_on_demand_price_type_as_spot():
    assert spec.capacity_split(template("ondemand"), 4, spot_only_default=True) == (0, 4)


@pytest.mark.parametrize(
    ("given", "fleet", "spot_fleet"),
    [
        ("lowestPrice", "lowest-price", "lowestPrice"),
        ("capacity-optimized", "capacity-optimized", "capacityOptimized"),
        ("priceCapacityOptimized", "price-capacity-optimized", "priceCapacityOptimized"),
        (None, "price-capacity-optimized", "priceCapacityOptimized"),
    ],
)
def test_allocation_strategy_is_spelled_as_each_api_wants(given, fleet, spot_fleet):
    config = {"allocationStrategy": given} if given else {}

    assert spec.allocation_strategy(template(**config)) == fleet
    assert spec.allocation_strategy(template(**config), spot_fleet=True) == spot_fleet


def test_an_unknown_allocation_strategy_fails_the_launch_naming_the_choices():
    with pytest.raises(LaunchFailed, match="allocationStrategy 'cheapest' is not one of lowestPrice, diversified"):
        spec.allocation_strategy(template(allocationStrategy="cheapest"))


def test_user_data_is_the_script_or_the_file_it_names(tmp_path):
    script = tmp_path / "user_data.sh"
    script.write_text("#!/bin/bash\necho ready\n")

    assert spec.user_data(template(userDataScript="#!/bin/bash\necho inline\n")) == "#!/bin/bash\necho inline\n"
    assert spec.user_data(template(userDataScript=str(script))) == "#!/bin/bash\necho ready\n"
    data = spec.launch_template_data(
        template(userDataScript=str(script)), REQUEST, image_id="ami-1", root_device="/dev/xvda"
    )
    assert base64.b64decode(data["UserData"]).decode() == "#!/bin/bash\necho ready\n"


def test_a_user_data_file_that_cannot_be_read_fails_the_launch(tmp_path):
    with pytest.raises(LaunchFailed, match=r"cannot read userDataScript .*missing\.sh"):
        spec.user_data(template(userDataScript=str(tmp_path / "missing.sh")))


def test_a_launch_template_of_the_user_is_extended_not_replaced():
    base = {
        "InstanceType": "m5.large",
        "Monitoring": {"Enabled": True},
        "TagSpecifications": [{"ResourceType": "network-interface", "Tags": [{"Key": "a", "Value": "b"}]}],
    }

    data = spec.launch_template_data(
        template(imageId=None, launchTemplateId="lt-1"), REQUEST, image_id=None, root_device="/dev/xvda", base=base
    )

    assert data["Monitoring"] == {"Enabled": True}
    assert data["InstanceType"] == "t3.large"  # the template's vmType wins
    assert "ImageId" not in data
    kinds = [item["ResourceType"] for item in data["TagSpecifications"]]
    assert kinds == ["network-interface", "instance", "volume"]


@pytest.mark.parametrize(
    ("description", "taken"),
    [
        ("The instance is scheduled for retirement", True),
        ("[Completed] The instance is scheduled for retirement", False),
        ("[Canceled] The instance is scheduled for retirement", False),
    ],
)
def test_finished_or_cancelled_events_are_not_notices(description, taken):
    when = datetime(2030, 1, 1, tzinfo=UTC)
    events = [{"Code": "instance-retirement", "Description": description, "NotBefore": when}]

    notice = _event_notice(events)

    assert (notice is not None) == taken
    if taken:
        assert notice[0] == when and "instance-retirement" in notice[1]
