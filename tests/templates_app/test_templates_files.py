"""Every templates file under tests/fixtures/hostfactory/templates-files loads through
``manage.py load_templates``: each template is loaded, or refused with a message that names
the template, the field and what is allowed (templates-files/README.md says which public
format each file imitates)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management.base import CommandError

from tests.commands.support import run_command

FILES = Path(__file__).resolve().parents[1] / "fixtures" / "hostfactory" / "templates-files"
LOADED = "loaded"
OHFP = {
    name: LOADED
    for name in (
        "EC2FleetInstant",
        "EC2FleetMaintain",
        "EC2FleetRequest",
        "EC2Fleet",
        "SpotFleet",
        "SpotFleetRequest",
        "SpotFleetMaintain",
        "ASG",
        "RunInstances",
        "EC2FleetNativeSpec",
        "SpotFleetNativeSpec",
        "ASGNativeSpec",
        "RunInstancesNativeSpec",
    )
}
AZURE_REFUSED = "providerType: must be aws: HOSTFACTORY_PROVIDER is aws, got 'azure'"
# file -> HOSTFACTORY_PROVIDER -> template id -> "loaded" or what the refusal says
EXPECTED = {
    "awsprov_templates.ohfp.json": {"none": OHFP, "aws": OHFP},
    "lsf-aws-style.json": {
        "none": {"lsf-ondemand-small": LOADED, "lsf-spot-medium": LOADED, "lsf-no-image": LOADED},
        "aws": {
            "lsf-ondemand-small": LOADED,
            "lsf-spot-medium": LOADED,
            "lsf-no-image": "imageId: is required for launch API RunInstances (no providerApi; see priceType) "
            "(unless launchTemplateId is set)",
        },
    },
    "lsf-azure-style.json": {
        "none": {
            "azure-general-4": LOADED,
            "azure-no-memory": "attributes: must include type, ncpus, nram (mem may stand for nram); missing nram",
        },
        "aws": {
            "azure-general-4": AZURE_REFUSED,
            "azure-no-memory": "attributes: must include type, ncpus, nram (mem may stand for nram); missing nram",
        },
    },
    "gcp-style-untyped.json": {
        "none": {"gce-n2-standard-4": LOADED, "gce-bad-cpus": "attributes.ncpus: must be a decimal number, got 'four'"},
        "aws": {
            "gce-n2-standard-4": "providerType: must be aws: HOSTFACTORY_PROVIDER is aws, got 'gcp'",
            "gce-bad-cpus": "attributes.ncpus: must be a decimal number, got 'four'",
        },
    },
    "k8s-style.tpl.json": {
        "none": {
            "k8s-pod-small": LOADED,
            "k8s pod large": "templateId: must be 1-64 characters of A-Z a-z 0-9 _ -, got 'k8s pod large'",
        },
    },
}
CASES = [(name, provider) for name, outcomes in EXPECTED.items() for provider in outcomes]


def test_every_templates_file_is_covered():
    assert {path.name for path in FILES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
@pytest.mark.parametrize(("name", "provider"), CASES)
def test_each_template_of_each_file_is_loaded_or_refused_with_an_actionable_message(storage, settings, name, provider):
    settings.HOSTFACTORY_PROVIDER = provider
    expected = EXPECTED[name][provider]
    refused = {template_id: says for template_id, says in expected.items() if says != LOADED}
    path = str(FILES / name)

    output = run_command("load_templates", path, "--skip-invalid")

    stored = {template.template_id: template for template in storage.templates.get_all()}
    assert set(stored) == {template_id for template_id, says in expected.items() if says == LOADED}
    for position, (template_id, says) in enumerate(expected.items(), start=1):
        if says != LOADED:
            assert f"template #{position} ({template_id!r}): {says}" in output.err
    assert f"{len(refused)} refused" in output.out if refused else "refused" not in output.out


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_a_file_with_refused_templates_loads_nothing_without_skip_invalid(storage):
    with pytest.raises(CommandError) as failure:
        run_command("load_templates", str(FILES / "gcp-style-untyped.json"))

    assert "1 of 2 templates refused" in str(failure.value)
    assert storage.templates.get_all() == []


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_loaded_templates_keep_what_the_file_said(storage):
    run_command("load_templates", str(FILES / "lsf-aws-style.json"))
    run_command("load_templates", str(FILES / "k8s-style.tpl.json"), "--skip-invalid")
    run_command("load_templates", str(FILES / "gcp-style-untyped.json"), "--skip-invalid")

    lsf = storage.templates.get_by_id("lsf-spot-medium")
    assert lsf.attributes["mem"] == ["Numeric", "4096"] and "nram" not in lsf.attributes
    assert lsf.price_type == "spot" and lsf.effective_provider_api == "SpotFleet"
    assert storage.templates.get_by_id("lsf-ondemand-small").effective_provider_api == "RunInstances"
    assert storage.templates.get_by_id("k8s-pod-small").attributes["nram"] == ["Numeric", "4096"]
    gce = storage.templates.get_by_id("gce-n2-standard-4").attributes
    assert gce == {
        "type": ["String", "X86_64"],
        "ncores": ["Numeric", "2"],
        "ncpus": ["Numeric", "4"],
        "nram": ["Numeric", "16384"],
    }
