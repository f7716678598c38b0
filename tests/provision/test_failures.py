"""Launches that go wrong, as Host Factory sees them through getRequestStatus: a bad image, a
throttled call, a fleet that got part of its capacity, an outcome EC2 could not tell us. A
refused launch ends the request and is never retried into an over-launch."""

from __future__ import annotations

from typing import Any

import moto.settings
import pytest
from botocore.retries.standard import ExponentialBackoff

from requests_app.domain import RequestStatus
from tests.providers.support import ACCOUNT, REGION, Refuse, sample_templates, tagged_instances, variant

pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)

BAD_IMAGE = "ami-0000000000badbad0"


@pytest.fixture
def ami_validation(monkeypatch):
    """moto checks image ids only when asked (MOTO_ENABLE_AMI_VALIDATION); it reads the flag at call time."""
    monkeypatch.setattr(moto.settings, "ENABLE_AMI_VALIDATION", True)


@pytest.fixture
def no_backoff(monkeypatch):
    """botocore's retries without their sleeps (the number of attempts is unchanged)."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def add(cloud, template_id: str, new_id: str | None = None, **changes: Any):
    template = sample_templates(cloud.network)[template_id]
    return cloud.add(variant(template, new_id or template_id, **changes))


def assert_failed(cloud, request, *fragments: str) -> dict:
    answer = cloud.status(request)
    assert answer["status"] == "complete_with_error"
    assert answer["machines"] == []
    for fragment in fragments:
        assert fragment in answer["message"]
    assert cloud.repos.requests.get_by_id(request.request_id).status == RequestStatus.FAILED
    return answer


def test_an_image_ec2_does_not_know_fails_the_request_with_ec2s_error(cloud, calls, ami_validation):
    add(cloud, "RunInstances", imageId=BAD_IMAGE)
    request = cloud.acquire("RunInstances", 2)

    report = cloud.provision()

    assert_failed(cloud, request, "Launch failed", "InvalidAMIID.NotFound", BAD_IMAGE)
    assert len(report.failed) == 1
    assert tagged_instances(cloud.provider.clients, request.request_id) == []
    cloud.provision()
    assert len(calls.of("RunInstances")) == 1  # never tried again


def test_a_fleet_with_a_bad_image_fails_and_leaves_no_launch_template(cloud, calls, ami_validation):
    add(cloud, "EC2FleetInstant", imageId=BAD_IMAGE)
    request = cloud.acquire("EC2FleetInstant", 2)

    cloud.provision()

    assert_failed(cloud, request, "InvalidAMIID.NotFound")
    created = calls.one("CreateLaunchTemplate")
    remaining = cloud.provider.clients.ec2.describe_launch_templates()["LaunchTemplates"]
    assert created["LaunchTemplateName"] not in [t["LaunchTemplateName"] for t in remaining]


def test_an_image_parameter_ssm_does_not_have_fails_naming_it(cloud, calls):
    add(cloud, "ASG", imageId="/aws/service/ami-amazon-linux-latest/no-such-image")
    request = cloud.acquire("ASG", 1)

    cloud.provision()

    assert_failed(cloud, request, "ParameterNotFound", "/aws/service/ami-amazon-linux-latest/no-such-image")
    assert calls.of("CreateAutoScalingGroup") == []


def test_throttling_past_the_retries_fails_the_request_once(cloud, calls, no_backoff):
    add(cloud, "RunInstances")
    request = cloud.acquire("RunInstances", 2)
    throttle = Refuse(cloud.provider, "RunInstances")

    cloud.provision()

    assert throttle.attempts == 3  # the provider's max_attempts: botocore retried before giving up
    assert_failed(cloud, request, "RequestLimitExceeded", "Request limit exceeded.")
    cloud.provision()
    assert throttle.attempts == 3
    assert tagged_instances(cloud.provider.clients, request.request_id) == []


def test_a_fleet_that_got_part_of_its_capacity_ends_partial_with_ec2s_reason(cloud, calls):
    from moto.ec2.models import ec2_backends

    add(cloud, "EC2FleetInstant")
    request = cloud.acquire("EC2FleetInstant", 3)

    def short_of_capacity(parsed: dict, **kwargs: Any) -> None:
        """EC2 launched two of three: the third is refused (and so never exists)."""
        missing = parsed["Instances"].pop()["InstanceIds"]
        ec2_backends[ACCOUNT][REGION].terminate_instances(missing)
        parsed["Errors"] = [
            {
                "ErrorCode": "InsufficientInstanceCapacity",
                "ErrorMessage": "We currently do not have sufficient t2.micro capacity.",
            }
        ]

    cloud.provider.clients.ec2.meta.events.register("after-call.ec2.CreateFleet", short_of_capacity)
    cloud.provision()

    answer = cloud.status(request)
    assert answer["status"] == "complete_with_error"
    assert answer["message"] == (
        "2 of 3 machines started; launch errors: InsufficientInstanceCapacity: "
        "We currently do not have sufficient t2.micro capacity."
    )
    assert [host["result"] for host in answer["machines"]] == ["succeed", "succeed"]
    assert cloud.repos.requests.get_by_id(request.request_id).status == RequestStatus.PARTIAL
    cloud.provision()
    assert len(calls.of("CreateFleet")) == 1


def test_a_fleet_that_got_nothing_fails_with_every_reason(cloud, calls):
    add(cloud, "EC2FleetInstant")
    request = cloud.acquire("EC2FleetInstant", 1)

    def no_capacity(parsed: dict, **kwargs: Any) -> None:
        from moto.ec2.models import ec2_backends

        ids = [i for item in parsed.pop("Instances") for i in item["InstanceIds"]]
        ec2_backends[ACCOUNT][REGION].terminate_instances(ids)
        parsed["Errors"] = [
            {"ErrorCode": "InsufficientInstanceCapacity", "ErrorMessage": "No t2.micro capacity in us-east-1a."},
            {"ErrorCode": "InsufficientInstanceCapacity", "ErrorMessage": "No t2.micro capacity in us-east-1b."},
        ]

    cloud.provider.clients.ec2.meta.events.register("after-call.ec2.CreateFleet", no_capacity)
    cloud.provision()

    assert_failed(cloud, request, "InsufficientInstanceCapacity", "us-east-1a", "us-east-1b")
    assert calls.one("DeleteLaunchTemplate")


def test_an_unknown_outcome_keeps_the_claim_and_is_settled_by_the_tag_look_up(cloud, calls, settings, no_backoff):
    add(cloud, "RunInstances")
    request = cloud.acquire("RunInstances", 2)
    server_error = Refuse(cloud.provider, "RunInstances", status=500, code="InternalError", message="oops", times=3)
    report = cloud.provision()

    assert "launch outcome unknown" in report.errors[0]
    stored = cloud.repos.requests.get_by_id(request.request_id)
    assert stored.status == RequestStatus.IN_PROGRESS and "api" not in stored.provider_data
    assert cloud.status(request)["status"] == "running"  # Host Factory keeps waiting

    cloud.provision()  # the claim is fresh: left alone
    assert len(calls.of("RunInstances")) == 1
    settings.HOSTFACTORY_PROVISION_CLAIM_TIMEOUT = 0
    cloud.provision()
    assert server_error.attempts == 3
    assert len(calls.of("RunInstances")) == 2
    assert cloud.status(request)["status"] == "complete"
    assert len(tagged_instances(cloud.provider.clients, request.request_id)) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider_type": "gcp"}, "cannot be launched: provider_type: must be aws: HOSTFACTORY_PROVIDER is aws"),
        (
            {"provider_api": None, "provider_config": {"vmType": "t3.micro"}},
            "cannot be launched: provider_config.imageId: is required for launch API RunInstances",
        ),
    ],
)
def test_a_template_the_aws_provider_cannot_launch_fails_the_request(cloud, calls, changes, message):
    """Such a template is refused when stored (tests/providers/test_ibm_templates.py); one that is
    stored anyway (before an upgrade, or with HOSTFACTORY_PROVIDER=none then) fails its request."""
    template = sample_templates(cloud.network)["RunInstances"].replace(template_id="elsewhere", **changes)
    cloud.repos.templates.save(template)
    request = cloud.acquire("elsewhere", 1)

    cloud.provision()

    assert_failed(cloud, request, message)
    assert calls.of("RunInstances") == []
