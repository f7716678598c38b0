"""The Template aggregate (domain.md "Template"): every field's rule, the typed attributes,
the provider launch settings, the templates-file form, and the attribute search semantics."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hostfactory.errors import DomainValidationError
from templates_app.domain import Template, attribute_matches
from tests.support.domain import assert_rejected
from tests.support.samples import OHFP_TEMPLATES

SAMPLE_TEMPLATES = OHFP_TEMPLATES
ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "4096"]}


def make(**fields: Any) -> Template:
    values: dict[str, Any] = {"template_id": "t1", "max_number": 5, "attributes": dict(ATTRIBUTES)}
    values.update(fields)
    return Template(**values)


def aws(api: str = "EC2Fleet", price_type: str = "ondemand", **config: Any) -> Template:
    return make(
        provider_api=api, price_type=price_type, provider_config={"imageId": "ami-1", "vmType": "t3.large", **config}
    )


def rejected(field: str, **fields: Any) -> DomainValidationError:
    return assert_rejected(make, field, **fields)


def test_defaults():
    template = make()

    assert (template.provider_type, template.provider_api, template.price_type) == ("aws", None, "ondemand")
    assert (template.provider_config, template.description, template.enabled) == ({}, "", True)
    assert (template.version, template.created_at, template.updated_at) == (0, None, None)
    assert template.id == "t1"


# -- template_id ---------------------------------------------------------------------------


@pytest.mark.parametrize("template_id", ["a", "Z" * 64, "EC2Fleet-Spot_2"])
def test_template_id_accepts(template_id):
    assert make(template_id=template_id).template_id == template_id


@pytest.mark.parametrize("template_id", ["", "Z" * 65, "has space", "a/b", "é", "abc\n", None, 7])
def test_template_id_rejects(template_id):
    error = rejected("template_id", template_id=template_id)
    assert "must be 1-64 characters of A-Z a-z 0-9 _ -" in str(error)


# -- max_number ----------------------------------------------------------------------------


@pytest.mark.parametrize("max_number", [-1, 0, 1, 10000])
def test_max_number_accepts(max_number):
    template = make(max_number=max_number)
    assert template.max_number == max_number
    assert template.is_unlimited == (max_number == -1)


@pytest.mark.parametrize("max_number", [-2, 10001, "5", 5.0, True, None])
def test_max_number_rejects(max_number):
    rejected("max_number", max_number=max_number)


# -- attributes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "stored"),
    [
        (["Numeric", 2], ["Numeric", "2"]),
        (["Numeric", 2.5], ["Numeric", "2.5"]),
        (["Numeric", "-3"], ["Numeric", "-3"]),
        (("Numeric", "4096"), ["Numeric", "4096"]),
        (["String", "X86_64"], ["String", "X86_64"]),
        (["String", 7], ["String", "7"]),
        (["Boolean", True], ["Boolean", "1"]),
        (["Boolean", False], ["Boolean", "0"]),
        (["Boolean", "1"], ["Boolean", "1"]),
    ],
)
def test_attribute_values_are_stored_as_typed_string_pairs(pair, stored):
    assert make(attributes={**ATTRIBUTES, "extra": pair}).attributes["extra"] == stored


@pytest.mark.parametrize("missing", ["type", "ncpus", "nram"])
def test_attributes_type_ncpus_and_nram_are_required(missing):
    attributes = {key: value for key, value in ATTRIBUTES.items() if key != missing}

    error = rejected("attributes", attributes=attributes)

    assert f"missing {missing}" in str(error)


@pytest.mark.parametrize(
    ("attributes", "field", "says"),
    [
        ([["ncpus", "2"]], "attributes", "must be an object"),
        ({**ATTRIBUTES, "gpu": ["Numeric"]}, "attributes.gpu", "has a type and no value"),
        ({**ATTRIBUTES, "gpu": ["String", "1", "2"]}, "attributes.gpu", "must be a [type, value] pair"),
        ({**ATTRIBUTES, "ncpus": "four"}, "attributes.ncpus", "must be a decimal number"),
        ({**ATTRIBUTES, "gpu": None}, "attributes.gpu", "value must be a string"),
        ({**ATTRIBUTES, "gpu": ["Integer", "1"]}, "attributes.gpu", "type must be one of String, Numeric, Boolean"),
        ({**ATTRIBUTES, "ncpus": ["Numeric", "two"]}, "attributes.ncpus", "must be a decimal number"),
        ({**ATTRIBUTES, "ncpus": ["Numeric", "NaN"]}, "attributes.ncpus", "must be a decimal number"),
        ({**ATTRIBUTES, "ncpus": ["Numeric", True]}, "attributes.ncpus", "must be a number"),
        ({**ATTRIBUTES, "type": ["String", None]}, "attributes.type", "value must be a string"),
        ({**ATTRIBUTES, "type": ["String", ["X86_64"]]}, "attributes.type", "value must be a string"),
        ({**ATTRIBUTES, "k" * 65: ["String", "x"]}, "attributes", "keys must be 1-64 characters"),
        ({**ATTRIBUTES, "": ["String", "x"]}, "attributes", "keys must be 1-64 characters"),
    ],
)
def test_attributes_reject(attributes, field, says):
    error = rejected(field, attributes=attributes)
    assert says in str(error)


@pytest.mark.parametrize(
    "given",
    [
        # GCP provider tests: bare values.
        {"type": "X86_64", "ncpus": "4", "nram": 1024, "ncores": "1"},
        # Morgan Stanley's k8s templates: one-element lists.
        {"type": ["String", "X86_64"], "ncpus": ["8"], "nram": ["4096"], "zone": ["a"]},
    ],
)
def test_untyped_attributes_get_the_type_of_their_name(given):
    attributes = make(attributes=given).attributes

    numeric = {key for key, pair in attributes.items() if pair[0] == "Numeric"}
    assert numeric == {key for key in given if key in ("ncpus", "nram", "ncores")}
    assert attributes["type"] == ["String", "X86_64"]
    assert all(isinstance(pair[1], str) for pair in attributes.values())


def test_mem_stands_for_nram_and_is_kept_as_given():
    attributes = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "1"], "mem": ["Numeric", "1024"]}

    template = make(attributes=attributes)

    assert template.attributes == attributes
    assert "nram" not in template.to_hostfactory()["attributes"]


# -- provider_type, provider_api, price_type, description, enabled ------------------------


@pytest.mark.parametrize("provider_type", ["aws", "gcp", "azure2"])
def test_provider_type_accepts(provider_type):
    assert make(provider_type=provider_type).provider_type == provider_type


@pytest.mark.parametrize("provider_type", ["AWS", "", "my-cloud", None])
def test_provider_type_rejects(provider_type):
    rejected("provider_type", provider_type=provider_type)


@pytest.mark.parametrize("api", ["RunInstances", "EC2Fleet", "SpotFleet", "ASG"])
def test_provider_api_accepts_the_four_aws_apis(api):
    assert aws(api).provider_api == api


@pytest.mark.parametrize("api", ["Lambda", "ec2fleet", ""])
def test_provider_api_rejects(api):
    error = rejected("provider_api", provider_api=api)
    assert "RunInstances, EC2Fleet, SpotFleet, ASG" in str(error)


@pytest.mark.parametrize("price_type", ["ondemand", "spot", "heterogeneous"])
def test_price_type_accepts(price_type):
    assert make(price_type=price_type).price_type == price_type


@pytest.mark.parametrize("price_type", ["cheap", "", "OnDemand"])
def test_price_type_rejects(price_type):
    rejected("price_type", price_type=price_type)


@pytest.mark.parametrize(
    ("config", "price_type"),
    [({}, "ondemand"), ({"spotPrice": "0.05"}, "spot"), ({"spotPrice": 0}, "ondemand")],
)
def test_price_type_not_given_follows_from_spot_price(config, price_type):
    assert make(price_type=None, provider_config=config).price_type == price_type
    document = {"templateId": "t", "maxNumber": 1, "attributes": ATTRIBUTES, **config}
    assert Template.from_hostfactory(document).price_type == price_type


@pytest.mark.parametrize(
    ("fields", "api"),
    [
        ({}, "RunInstances"),
        ({"provider_config": {"imageId": "ami-1", "vmType": "t3.small", "launchTemplateId": "lt-1"}}, "RunInstances"),
        ({"provider_config": {"spotPrice": "0.1", "fleetRole": "arn:aws:iam::1:role/r"}}, "SpotFleet"),
        ({"price_type": "spot"}, "SpotFleet"),
        ({"price_type": "heterogeneous"}, "SpotFleet"),
        ({"provider_api": "EC2Fleet", "provider_type": "x", "price_type": "spot"}, "EC2Fleet"),
        ({"provider_type": "gcp"}, None),
    ],
)
def test_the_effective_launch_api_follows_ibms_provider_when_none_is_given(fields, api):
    assert make(**fields).effective_provider_api == api


@pytest.mark.parametrize(("field", "value"), [("description", None), ("description", 5), ("enabled", "yes")])
def test_description_and_enabled_reject(field, value):
    rejected(field, **{field: value})


def test_enabled_accepts_false():
    assert make(enabled=False).enabled is False


# -- provider_config -----------------------------------------------------------------------


def test_provider_config_accepts_host_factory_launch_settings():
    config = {
        "imageId": "ami-1",
        "vmTypes": {"t3.large": 1, "m5.xlarge": 2},
        "subnetId": ["subnet-1", "subnet-2"],
        "securityGroupIds": ["sg-1"],
        "keyName": "key",
        "instanceTags": "team=hpc;env=prod",
        "instanceProfile": "arn:aws:iam::1:instance-profile/hf",
        "fleetRole": "arn:aws:iam::1:role/fleet",
        "fleetType": "request",
        "maxSpotPrice": "0.25",
        "allocationStrategy": "capacityOptimized",
        "percentOnDemand": 30,
        "rootDeviceVolumeSize": 100,
        "volumeType": "gp3",
        "userDataScript": "#!/bin/sh\necho hi",
        "somethingNew": {"free": ["form"]},
    }

    template = make(provider_api="SpotFleet", price_type="spot", provider_config=config)

    assert template.provider_config == config


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"vmTypes": {"t3.large": 0}}, "provider_config.vmTypes.t3.large"),
        ({"vmTypes": {"t3.large": "1"}}, "provider_config.vmTypes.t3.large"),
        ({"vmTypes": {}}, "provider_config.vmTypes"),
        ({"vmTypes": ["t3.large"]}, "provider_config.vmTypes"),
        ({"securityGroupIds": "sg-1"}, "provider_config.securityGroupIds"),
        ({"securityGroupIds": ["sg-1", 2]}, "provider_config.securityGroupIds"),
        ({"instanceTags": "no-value-pairs"}, "provider_config.instanceTags"),
        ({"instanceTags": {"team": "hpc"}}, "provider_config.instanceTags"),
        ({"imageId": 5}, "provider_config.imageId"),
        ({"subnetId": 5}, "provider_config.subnetId"),
        ({"maxSpotPrice": "cheap"}, "provider_config.maxSpotPrice"),
        ({"maxSpotPrice": True}, "provider_config.maxSpotPrice"),
        ({"rootDeviceVolumeSize": 0}, "provider_config.rootDeviceVolumeSize"),
        ({"percentOnDemand": 101}, "provider_config.percentOnDemand"),
        ({"fleetType": "forever"}, "provider_config.fleetType"),
        ({"templateId": "other"}, "provider_config.templateId"),
        ({"maxNumber": 3}, "provider_config.maxNumber"),
        ({"when": datetime(2025, 1, 1, tzinfo=UTC)}, "provider_config"),
    ],
)
def test_provider_config_rejects(config, field):
    rejected(field, provider_config=config)


def test_provider_config_must_be_an_object():
    rejected("provider_config", provider_config=[("imageId", "ami-1")])


def test_instance_tags_may_be_empty():
    assert make(provider_config={"instanceTags": ""}).provider_config == {"instanceTags": ""}


# An AWS template with a launch API must carry what that API needs to launch.


@pytest.mark.parametrize(
    ("api", "config", "price_type", "field"),
    [
        ("EC2Fleet", {"vmType": "t3.large"}, "ondemand", "provider_config.imageId"),
        ("RunInstances", {"imageId": "ami-1"}, "ondemand", "provider_config.vmType"),
        (
            "RunInstances",
            {"imageId": "ami-1", "vmType": "t3.large", "fleetType": "request"},
            "spot",
            "provider_config.fleetType",
        ),
        (
            "SpotFleet",
            {"imageId": "ami-1", "vmType": "t3.large", "fleetType": "instant"},
            "spot",
            "provider_config.fleetType",
        ),
        ("RunInstances", {"imageId": "ami-1", "vmType": "t3.large"}, "heterogeneous", "price_type"),
    ],
)
def test_aws_launch_settings_reject(api, config, price_type, field):
    rejected(field, provider_api=api, price_type=price_type, provider_config=config)


def test_aws_launch_settings_accept_a_launch_template_and_weighted_types():
    template = make(provider_api="EC2Fleet", provider_config={"launchTemplateId": "lt-1", "vmTypes": {"t3.large": 1}})
    assert template.provider_config["launchTemplateId"] == "lt-1"


def test_other_providers_keep_free_form_settings():
    assert make(provider_type="gcp", provider_api=None, provider_config={"zone": "eu"}).provider_config == {
        "zone": "eu"
    }


# -- the aggregate -------------------------------------------------------------------------


def test_replace_returns_a_validated_copy():
    template = make()

    bigger = template.replace(max_number=10)

    assert (template.max_number, bigger.max_number) == (5, 10)
    with pytest.raises(DomainValidationError, match="max_number"):
        template.replace(max_number=-7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.max_number = 10


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"version": -1}, "version"),
        ({"version": "1"}, "version"),
        ({"created_at": datetime(2025, 1, 1)}, "created_at"),  # naive: no time zone
        ({"updated_at": "2025-01-01T00:00:00Z"}, "updated_at"),
    ],
)
def test_common_fields_reject(fields, field):
    rejected(field, **fields)


def test_stamped_sets_both_timestamps_once():
    first = datetime(2025, 1, 1, tzinfo=UTC)
    later = datetime(2025, 2, 1, tzinfo=UTC)

    stamped = make().stamped(first).stamped(later)

    assert (stamped.created_at, stamped.updated_at, stamped.version) == (first, later, 0)


# -- Host Factory templates-file form ------------------------------------------------------


def sample_templates() -> list[dict]:
    return json.loads(SAMPLE_TEMPLATES.read_text())["templates"]


def test_every_template_of_a_real_templates_file_is_valid_and_round_trips():
    for data in sample_templates():
        template = Template.from_hostfactory(data)

        assert template.template_id == data["templateId"]
        assert Template.from_hostfactory(template.to_hostfactory()) == template
        assert template.provider_config.get("imageId") == data.get("imageId")
        assert "templateId" not in template.provider_config


def test_from_hostfactory_maps_camel_case_keys_to_fields():
    template = Template.from_hostfactory(
        {
            "templateId": "gcp-1",
            "maxNumber": -1,
            "attributes": ATTRIBUTES,
            "providerType": "gcp",
            "priceType": "spot",
            "description": "preemptible",
            "enabled": False,
            "zone": "europe-west1-b",
        }
    )

    assert (template.template_id, template.max_number, template.provider_type) == ("gcp-1", -1, "gcp")
    assert (template.price_type, template.description, template.enabled) == ("spot", "preemptible", False)
    assert template.provider_config == {"zone": "europe-west1-b"}
    assert Template.from_hostfactory(template.to_hostfactory()) == template


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"maxNumber": 1, "attributes": ATTRIBUTES}, "template"),
        ({"templateId": "t", "attributes": ATTRIBUTES}, "template"),
        (["templateId", "t"], "template"),
        ({"templateId": "t", "maxNumber": "many", "attributes": ATTRIBUTES}, "max_number"),
    ],
)
def test_from_hostfactory_rejects(data, field):
    with pytest.raises(DomainValidationError) as caught:
        Template.from_hostfactory(data)
    assert caught.value.field == field


# -- find_by_attributes semantics ----------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "criterion", "matches"),
    [
        (["Numeric", "2"], ["Numeric", "2"], True),
        (["Numeric", "2"], 2, True),
        (["Numeric", "2"], "2", True),
        (["Numeric", "2"], "2.0", True),
        (["Numeric", "2"], 2.0, True),
        (["Numeric", "2"], ["Numeric", 2.0], True),
        (["Numeric", "2"], 3, False),
        (["Numeric", "2"], "two", False),
        (["Numeric", "2"], ["String", "2"], False),
        (["Numeric", "2"], ["Numeric"], False),
        (["String", "X86_64"], "X86_64", True),
        (["String", "X86_64"], ["String", "X86_64"], True),
        (["String", "X86_64"], "x86_64", False),
        (["String", "2"], "2.0", False),
        (["String", "2"], 2, True),
        (["Boolean", "1"], "1", True),
        (["Boolean", "1"], "0", False),
    ],
)
def test_attribute_matches(stored, criterion, matches):
    assert attribute_matches(stored, criterion) is matches


def test_provider_type_is_at_most_64_characters():
    assert make(provider_type="a" * 64).provider_type == "a" * 64
    error = rejected("provider_type", provider_type="a" * 65)
    assert str(error) == "provider_type: must be at most 64 characters, got 65"
