"""boto3 clients for the AWS provider, and the one place cloud errors are classified.

The endpoint follows boto3's own ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``
(tests point it at moto's server); credentials come from boto3's usual chain.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, NoCredentialsError

from hostfactory.errors import HostFactoryError
from hostfactory.providers.base import LaunchFailed, LaunchUnsettled

# Server-side errors after which a launch may or may not have happened.
UNSETTLED_CODES = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"})


class CloudError(HostFactoryError):
    """A cloud call outside a launch failed after botocore's retries (refused, throttled,
    unreachable, no credentials): the one cloud error of the service. The step that met it
    is retried on the next run (provisioner or sync; sync meets it before writing anything)."""

    code = "cloud_error"

    def __init__(self, text: str, *, operation: str, code: str):
        self.operation = operation
        self.code = code
        super().__init__(text)


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "Unknown")


def error_message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", str(error))


def as_launch_error(error: Exception) -> Exception:
    """A launch call's failure as LaunchFailed (refused: nothing launched) or LaunchUnsettled
    (outcome unknown)."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        if code in UNSETTLED_CODES or status >= 500:
            return LaunchUnsettled(f"{code}: {error_message(error)}")
        return LaunchFailed(code, error_message(error))
    if isinstance(error, ConnectionError | HTTPClientError):
        return LaunchUnsettled(f"connection to AWS failed: {error}")
    return LaunchUnsettled(str(error))


def as_cloud_error(operation: str, error: Exception) -> CloudError:
    """``operation`` in AWS's spelling (``describe_fleets`` becomes ``DescribeFleets``)."""
    if "_" in operation or operation.islower():
        operation = "".join(part.title() for part in operation.split("_"))
    if isinstance(error, ClientError):
        code, message = error_code(error), error_message(error)
    else:
        code, message = type(error).__name__, str(error)
    return CloudError(f"{operation}: {code}: {message}", operation=operation, code=code)


class AwsClients:
    """Lazily built clients sharing one session, region and retry policy (standard mode:
    throttling and connection errors back off before an error reaches us)."""

    def __init__(self, *, region: str | None = None, max_attempts: int = 5, session: boto3.Session | None = None):
        self.session = session or boto3.Session(region_name=region or None)
        self.config = Config(
            region_name=self.session.region_name or "us-east-1",
            # botocore's "max_attempts" counts retries; "total_max_attempts" counts every attempt.
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=30,
        )

    @property
    def region(self) -> str:
        return self.config.region_name

    def client(self, service: str) -> Any:
        return self._client(service)

    @functools.cache  # noqa: B019  (one client per service for the provider's lifetime)
    def _client(self, service: str) -> Any:
        return self.session.client(service, config=self.config)

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def autoscaling(self) -> Any:
        return self.client("autoscaling")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")

    @property
    def sts(self) -> Any:
        return self.client("sts")


def ec2_client(*, region: str, max_attempts: int = 5) -> Any:
    """A boto3 EC2 client with the provider's bounded, standard-mode retries (throttling and
    connection errors are retried with backoff). The endpoint follows AWS_ENDPOINT_URL_EC2 /
    AWS_ENDPOINT_URL."""
    return AwsClients(region=region, max_attempts=max_attempts).ec2


__all__ = [
    "AwsClients",
    "BotoCoreError",
    "ClientError",
    "CloudError",
    "NoCredentialsError",
    "as_cloud_error",
    "as_launch_error",
    "ec2_client",
]
