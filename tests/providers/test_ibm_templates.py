"""Templates in IBM's own awsprov_templates.json form (no providerApi) on moto: they launch the
way IBM's AWS provider launches them (docs/hostfactory.md "Templates without providerApi"),
are offered with that price type, and a template the provider could not launch is refused
when it is stored, never at launch."""

from __future__ import annotations

from typing import Any

import pytest

from hostfactory.errors import DomainValidationError
from hostfactory.hostfactory_api.services import hf_get_available_templates
from templates_app.domain import Template
from tests.providers.test_aws_launch import return_one

pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)

ROLE = "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role"


def ibm_template(network, template_id: str, **settings: Any) -> Template:
    """A template as IBM documents it: typed attributes, launch settings, no providerApi."""
    document = {
        "templateId": template_id,
        "maxNumber": 10,
        "attributes": {"type": ["String", "X86_64"], "ncpus": ["Numeric", "1"], "nram": ["Numeric", "1024"]},
        "imageId": network.image_id,
        "subnetId": network.subnet_ids[0],
        "securityGroupIds": [network.security_group_id],
        "instanceTags": "company=abc;team=xyz",
        **settings,
    }
    return Template.from_hostfactory({key: value for key, value in document.items() if value is not None})


def offered(cloud, template_id: str) -> dict[str, Any]:
    (template,) = [
        t for t in hf_get_available_templates(repos=cloud.repos)["templates"] if t["templateId"] == template_id
    ]
    return template


def test_an_on_demand_template_without_provider_api_launches_through_run_instances(cloud, calls):
    cloud.add(ibm_template(cloud.network, "OnDemand-VM", vmType="t3.micro"))
    request = cloud.acquire("OnDemand-VM", 2)

    report = cloud.provision()

    assert not report.errors, report.errors
    assert calls.one("RunInstances")["MinCount"] == 2
    assert not calls.of("RequestSpotFleet")
    answer = cloud.status(request)
    assert answer["status"] == "complete", answer
    assert [host["result"] for host in answer["machines"]] == ["succeed", "succeed"]
    assert offered(cloud, "OnDemand-VM")["priceType"] == "ondemand"
    assert offered(cloud, "OnDemand-VM")["providerApi"] == "RunInstances"
    assert {host["instanceTags"] for host in answer["machines"]} == {"company=abc;team=xyz"}
    return_one(cloud, request, calls)


def test_a_spot_template_with_spot_price_and_fleet_role_launches_a_spot_fleet(cloud, calls):
    template = ibm_template(
        cloud.network, "Spot-VM", vmTypes={"t3.micro": 1, "t3.small": 2}, spotPrice=0.05, fleetRole=ROLE
    )
    cloud.add(template)
    request = cloud.acquire("Spot-VM", 2)

    report = cloud.provision()

    assert not report.errors, report.errors
    config = calls.one("RequestSpotFleet")["SpotFleetRequestConfig"]
    assert config["IamFleetRole"] == ROLE
    assert config["SpotPrice"] == "0.05"
    assert not calls.of("RunInstances")
    assert cloud.status(request)["status"] in ("running", "complete")
    assert offered(cloud, "Spot-VM")["priceType"] == "spot"
    assert offered(cloud, "Spot-VM")["providerApi"] == "SpotFleet"


@pytest.mark.parametrize(
    ("launch", "field"),
    [
        ({"imageId": None, "vmType": "t3.micro"}, "provider_config.imageId"),
        ({}, "provider_config.vmType"),
        ({"vmType": "t3.micro", "providerType": "gcp"}, "provider_type"),
    ],
)
def test_a_template_the_aws_provider_cannot_launch_is_refused_when_stored(cloud, launch, field):
    with pytest.raises(DomainValidationError) as refused:
        cloud.add(ibm_template(cloud.network, "Broken", **launch))

    assert refused.value.field == field
    assert cloud.repos.templates.get_by_id("Broken") is None


def test_without_a_launching_provider_any_template_is_stored(cloud, settings):
    settings.HOSTFACTORY_PROVIDER = "none"

    cloud.add(ibm_template(cloud.network, "Outside", imageId=None, providerType="gcp"))

    assert cloud.repos.templates.get_by_id("Outside") is not None
