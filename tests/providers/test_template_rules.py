"""An AWS template must carry what its launch API needs; it is refused when saved or loaded,
with the field named, so a request for it is never attempted."""

from __future__ import annotations

import json

import pytest

from hostfactory.errors import DomainValidationError
from templates_app.services import TemplateFileError, templates_parse, templates_read_file
from tests.providers.support import OHFP_TEMPLATES
from tests.support import aggregates as build

BASE = {"imageId": "ami-0123456789abcdef0", "vmType": "t3.large"}


def aws_template(api: str, price_type: str = "ondemand", **config):
    settings = {**BASE, **config}
    settings = {key: value for key, value in settings.items() if value is not None}
    return build.template("tpl", provider_api=api, price_type=price_type, provider_config=settings)


@pytest.mark.parametrize(
    ("api", "config", "price_type", "message"),
    [
        (
            "RunInstances",
            {"imageId": None},
            "ondemand",
            "provider_config.imageId: is required for provider_api RunInstances (unless launchTemplateId is set)",
        ),
        (
            "ASG",
            {"vmType": None},
            "ondemand",
            "provider_config.vmType: vmType or vmTypes is required for provider_api ASG",
        ),
        (
            "SpotFleet",
            {"fleetType": "instant"},
            "spot",
            "provider_config.fleetType: must be one of request, maintain for provider_api SpotFleet, got 'instant'",
        ),
        (
            "RunInstances",
            {"fleetType": "request"},
            "ondemand",
            "provider_config.fleetType: provider_api RunInstances takes no fleetType; remove it (got 'request')",
        ),
        (
            "ASG",
            {"fleetType": "maintain"},
            "ondemand",
            "provider_config.fleetType: provider_api ASG takes no fleetType; remove it (got 'maintain')",
        ),
        (
            "RunInstances",
            {},
            "heterogeneous",
            "price_type: must be one of ondemand, spot for provider_api RunInstances, got 'heterogeneous'",
        ),
    ],
)
def test_what_the_launch_api_needs_is_required(api, config, price_type, message):
    with pytest.raises(DomainValidationError) as caught:
        aws_template(api, price_type, **config)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("api", "config"),
    [
        ("EC2Fleet", {"imageId": None, "launchTemplateId": "lt-0123"}),
        ("EC2Fleet", {"vmType": None, "vmTypes": {"t3.large": 2, "t3.xlarge": 4}, "fleetType": "maintain"}),
        ("SpotFleet", {"fleetType": "request"}),
        ("ASG", {}),
    ],
)
def test_a_template_with_what_its_api_needs_is_accepted(api, config):
    assert aws_template(api, **config).provider_api == api


def test_templates_of_other_providers_or_without_an_api_are_not_held_to_it():
    build.template("gcp", provider_type="gcp", provider_api="RunInstances", provider_config={})
    build.template("plain", provider_api=None, provider_config={})


def test_a_templates_file_with_an_incomplete_template_is_refused_naming_it_and_the_field():
    document = {
        "templates": [
            {
                "templateId": "NoImage",
                "providerApi": "EC2Fleet",
                "maxNumber": 2,
                "attributes": {"type": ["String", "X86_64"], "ncpus": ["Numeric", "1"], "nram": ["Numeric", "1024"]},
                "vmType": "t3.micro",
            }
        ]
    }

    with pytest.raises(TemplateFileError) as caught:
        templates_parse(document, source="awsprov_templates.json")

    assert str(caught.value) == (
        "awsprov_templates.json: 1 of 1 templates refused:\n"
        "  template #1 ('NoImage'): imageId: is required for provider_api EC2Fleet (unless launchTemplateId is set)"
    )


def test_every_sample_template_still_loads_keeping_keys_we_do_not_use():
    templates = {template.template_id: template for template in templates_read_file(OHFP_TEMPLATES)}

    raw = json.loads(OHFP_TEMPLATES.read_text())["templates"]
    assert sorted(templates) == sorted(item["templateId"] for item in raw)
    spec_file = templates["EC2FleetNativeSpec"].provider_config["provider_api_spec_file"]
    assert spec_file == "examples/ec2fleet-price-capacity-optimized.json"
    assert templates["RunInstancesNativeSpec"].to_hostfactory()["launch_template_spec_file"] == (
        "examples/launch-template-basic.json"
    )
