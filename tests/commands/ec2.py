"""EC2 on moto for the sync tests: instances in each state, a call log, injected throttling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse

from hostfactory.providers.aws.clients import ec2_client

REGION = "us-east-1"
# Well-formed, never launched: EC2 answers InvalidInstanceID.NotFound for it.
GONE_ID = "i-0badc0ffee0000001"
THROTTLED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
    b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttled-1</RequestID></Response>"
)


@contextmanager
def mocked_ec2() -> Iterator[Any]:
    """EC2 on moto in this process (nested inside the ``storage`` fixture's own mock, if any)."""
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    try:
        yield ec2_client(region=REGION)
    finally:
        mock.stop()


def launch(ec2: Any, count: int = 1, instance_type: str = "t3.large") -> list[str]:
    answer = ec2.run_instances(ImageId="ami-12345678", MinCount=count, MaxCount=count, InstanceType=instance_type)
    return [instance["InstanceId"] for instance in answer["Instances"]]


def describe(ec2: Any, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


class CallLog:
    """The parameters of every DescribeInstances call a client makes (retries not counted)."""

    def __init__(self, ec2: Any) -> None:
        self.calls: list[dict] = []
        ec2.meta.events.register("provide-client-params.ec2.DescribeInstances", self._record)

    def _record(self, params: dict, **kwargs: Any) -> None:
        self.calls.append(dict(params))


class Throttle:
    """Answers the first ``times`` DescribeInstances requests with RequestLimitExceeded, as EC2
    does, before they leave botocore: only the client's own retries can get past it."""

    def __init__(self, ec2: Any, times: int = 1) -> None:
        self.times = times
        self.requests = 0
        ec2.meta.events.register_first("before-send.ec2.DescribeInstances", self._answer)

    def _answer(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        self.requests += 1
        if self.requests > self.times:
            return None
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Body(THROTTLED_BODY))


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.data


@contextmanager
def ec2_over_http() -> Iterator[tuple[str, Any]]:
    """moto's EC2 in server mode on a free loopback port, what a separate process reaches over
    HTTP: its endpoint, and a client of it for the test."""
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.support.dynalite import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield endpoint, boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    finally:
        server.stop()
