"""AWS on moto for the provider and provisioner tests: a network, the sample templates pointed
at it, a log of the parameters of every AWS call the provider makes, and injected faults."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from hostfactory.providers.aws import AwsProvider
from hostfactory.providers.aws.clients import AwsClients
from hostfactory.providers.aws.spec import TAG_REQUEST
from templates_app.domain import Template
from templates_app.services import templates_parse
from tests.support.samples import OHFP_TEMPLATES

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"


@dataclass
class Network:
    vpc_id: str
    subnet_ids: list[str]
    security_group_id: str
    image_id: str  # what SSM says the sample templates' image parameter is


def create_network(clients: AwsClients) -> Network:
    ec2 = clients.ec2
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "a"), (2, "b"))
    ]
    group_id = ec2.create_security_group(GroupName="hosts", Description="Symphony hosts", VpcId=vpc_id)["GroupId"]
    image_id = clients.ssm.get_parameter(Name=AL2023)["Parameter"]["Value"]
    return Network(vpc_id, subnet_ids, group_id, image_id)


def sample_document(network: Network, max_number: int = 10) -> dict[str, Any]:
    """The sample templates file, with its subnet and security group replaced by ones that
    exist in moto (launches check them) and room for more hosts."""
    data = json.loads(OHFP_TEMPLATES.read_text())
    for item in data["templates"]:
        item.update(subnetId=network.subnet_ids[0], securityGroupIds=[network.security_group_id], maxNumber=max_number)
    return data


def sample_templates(network: Network, **changes: dict[str, Any]) -> dict[str, Template]:
    """The sample templates by id; ``changes`` maps a template id to keys to set on it."""
    data = sample_document(network)
    for item in data["templates"]:
        item.update(changes.get(item["templateId"], {}))
    return {template.template_id: template for template in templates_parse(data)}


def variant(template: Template, template_id: str, *, price_type: str | None = None, **config: Any) -> Template:
    """A copy of ``template`` under another id with launch settings changed (None removes one)."""
    settings = copy.deepcopy(template.provider_config)
    for key, value in config.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    return template.replace(
        template_id=template_id, price_type=price_type or template.price_type, provider_config=settings, version=0
    )


@dataclass
class Call:
    operation: str
    params: dict[str, Any]


@dataclass
class CallLog:
    """Every call the provider's clients make, with the parameters as the provider passed them."""

    calls: list[Call] = field(default_factory=list)

    def record(self, params: dict, model: Any, **kwargs: Any) -> None:
        self.calls.append(Call(model.name, copy.deepcopy(params)))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.operation == operation]

    def one(self, operation: str) -> dict[str, Any]:
        found = self.of(operation)
        assert len(found) == 1, f"expected one {operation} call, got {len(found)}: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return [call.operation for call in self.calls]


@functools.cache
def shared_session() -> boto3.Session:
    """One boto3 session for every test provider: a new session parses the EC2 service model
    again (about a second); its clients are still each test's own."""
    return boto3.Session(region_name=REGION)


def watched_provider(log: CallLog, max_attempts: int = 3) -> AwsProvider:
    """An AWS provider whose every EC2 / Auto Scaling / SSM / STS call is logged."""
    provider = AwsProvider(AwsClients(region=REGION, max_attempts=max_attempts, session=shared_session()))
    for service in ("ec2", "autoscaling", "ssm", "sts"):
        client = provider.clients.client(service)
        client.meta.events.register("before-parameter-build", log.record)
    return provider


def accept_modify_fleet(provider: AwsProvider) -> None:
    """moto has no ModifyFleet: answer it as EC2 does (the call is still logged)."""

    def answer(**kwargs: Any) -> tuple[Any, dict]:
        return _Http(200), {"Return": True, "ResponseMetadata": {"HTTPStatusCode": 200}}

    provider.clients.ec2.meta.events.register("before-call.ec2.ModifyFleet", answer)


def tagged_instances(clients: AwsClients, request_id: str, *, live_only: bool = False) -> list[str]:
    """The instances EC2 holds for a request (by our tag): what a user would be billed for."""
    filters = [{"Name": f"tag:{TAG_REQUEST}", "Values": [request_id]}]
    if live_only:
        filters.append({"Name": "instance-state-name", "Values": ["pending", "running"]})
    pages = clients.ec2.get_paginator("describe_instances").paginate(Filters=filters)
    return sorted(i["InstanceId"] for page in pages for r in page["Reservations"] for i in r["Instances"])


def instance(clients: AwsClients, instance_id: str) -> dict[str, Any]:
    return clients.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


class Refuse:
    """EC2 answering ``operation`` with an error (default: RequestLimitExceeded, as when
    throttled) for the first ``times`` attempts, or all. The answer is given before the request
    leaves botocore, so only the client's own retries see it, and the request is pointed away
    from moto, which would otherwise still act on it. Counts the attempts."""

    def __init__(
        self,
        provider: AwsProvider,
        operation: str,
        *,
        status: int = 400,
        code: str = "RequestLimitExceeded",
        message: str = "Request limit exceeded.",
        times: int | None = None,
    ) -> None:
        self.attempts = 0
        self.times = times
        self.status = status
        self.body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>refused</RequestID></Response>"
        ).encode()
        provider.clients.ec2.meta.events.register_first(f"before-send.ec2.{operation}", self._answer)

    def _answer(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self.times is not None and self.attempts >= self.times:
            return None
        self.attempts += 1
        request.url = "https://refused.invalid/"  # every before-send handler runs: keep moto out of it
        return AWSResponse(request.url, self.status, {"Content-Type": "text/xml"}, _Body(self.body))


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
