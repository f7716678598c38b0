"""Describing instances: state, addresses, and whether the cloud is about to take one back.

``InstanceDescriber`` is the one ``DescribeInstances`` of the service: sync reads every live
machine with it, the provisioner its new and its spot hosts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hostfactory.providers.aws.clients import (
    AwsClients,
    BotoCoreError,
    ClientError,
    CloudError,
    NoCredentialsError,
    as_cloud_error,
    error_code,
    error_message,
)
from hostfactory.providers.base import InstanceInfo

logger = logging.getLogger("hostfactory.providers.aws")
EC2_BATCH_LIMIT = 1000  # DescribeInstances takes at most 1000 instance ids per call
FILTER_VALUES_LIMIT = 200  # and at most 200 values per filter
# Answers that fail a whole InstanceIds batch for one id EC2 does not know (gone, or not an
# instance id at all): the batch is asked again by filter, which leaves such ids out.
UNKNOWN_ID_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})
NO_CREDENTIALS = (
    "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an "
    "instance role)"
)
SPOT_NOTICE = timedelta(minutes=2)  # a spot interruption notice comes two minutes ahead
# Spot request status codes that announce an interruption.
SPOT_MARKED = {"marked-for-termination", "marked-for-stop", "marked-for-hibernation"}
# Scheduled events that take an instance away (AWS's Spot interruptions and retirements).
TAKING_EVENTS = ("instance-stop", "instance-retirement")


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class InstanceDescriber:
    """``DescribeInstances`` over many ids: batches of at most 1000, every page followed, and
    ``calls`` counted. Ids EC2 does not know are left out of the answer instead of failing the
    batch. Any other failure (refused, throttled past the retries, unreachable, no
    credentials) is a CloudError naming the region and endpoint."""

    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2
        self.calls = 0

    def describe(self, instance_ids: list[str], *, batch_size: int = EC2_BATCH_LIMIT) -> dict[str, dict]:
        ids = list(dict.fromkeys(instance_ids))
        found: dict[str, dict] = {}
        try:
            for batch in chunks(ids, batch_size):
                found.update(self._describe_batch(batch))
        except NoCredentialsError as error:
            raise CloudError(NO_CREDENTIALS, operation="DescribeInstances", code="NoCredentials") from error
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(error) from error
        return found

    def _describe_batch(self, instance_ids: list[str]) -> dict[str, dict]:
        try:
            return self._collect(InstanceIds=instance_ids)
        except ClientError as error:
            if error_code(error) not in UNKNOWN_ID_CODES:
                raise
            self.calls += 1  # the refused call counts too
        # EC2 may name only one of the unknown ids: ask again by filter.
        found: dict[str, dict] = {}
        for chunk in chunks(instance_ids, FILTER_VALUES_LIMIT):
            found.update(self._collect(Filters=[{"Name": "instance-id", "Values": chunk}]))
        return found

    def _collect(self, **query: Any) -> dict[str, dict]:
        found = {}
        for page in self.ec2.get_paginator("describe_instances").paginate(**query):
            self.calls += 1
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    found[instance["InstanceId"]] = instance
        return found

    def _unavailable(self, error: Exception) -> CloudError:
        where = f"region {self.ec2.meta.region_name}, endpoint {self.ec2.meta.endpoint_url}"
        if isinstance(error, ClientError):
            code = error_code(error)
            text = f"EC2 DescribeInstances failed ({where}): {code}: {error_message(error)}"
            return CloudError(text, operation="DescribeInstances", code=code)
        text = f"EC2 is unreachable ({where}): {error}"
        return CloudError(text, operation="DescribeInstances", code=type(error).__name__)


def describe_instances(clients: AwsClients, instance_ids: list[str]) -> dict[str, InstanceInfo]:
    """Every id EC2 still knows, with its interruption notice if any."""
    raw = InstanceDescriber(clients.ec2).describe(instance_ids)
    notices = {**_scheduled_events(clients, set(raw)), **_spot_notices(clients, raw)}
    return {instance_id: _info(instance, notices.get(instance_id)) for instance_id, instance in raw.items()}


def _info(instance: dict[str, Any], notice: tuple[datetime, str] | None) -> InstanceInfo:
    tags = {tag["Key"]: tag.get("Value", "") for tag in instance.get("Tags", [])}
    return InstanceInfo(
        instance_id=instance["InstanceId"],
        state=instance.get("State", {}).get("Name", "unknown"),
        private_ip_address=instance.get("PrivateIpAddress") or None,
        private_dns_name=instance.get("PrivateDnsName") or "",
        public_ip_address=instance.get("PublicIpAddress") or None,
        launch_time=_aware(instance.get("LaunchTime")),
        instance_type=instance.get("InstanceType"),
        price_type="spot" if instance.get("InstanceLifecycle") == "spot" else "ondemand",
        tags=tags,
        interruption_at=notice[0] if notice else None,
        interruption_reason=notice[1] if notice else "",
    )


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _spot_notices(clients: AwsClients, raw: dict[str, dict[str, Any]]) -> dict[str, tuple[datetime, str]]:
    """Spot instances whose spot request is marked for termination (or stop/hibernation)."""
    spot_ids = [i for i, instance in raw.items() if instance.get("InstanceLifecycle") == "spot"]
    notices: dict[str, tuple[datetime, str]] = {}
    try:
        paginator = clients.ec2.get_paginator("describe_spot_instance_requests")
        for batch in chunks(spot_ids, FILTER_VALUES_LIMIT):
            for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": batch}]):
                for spot_request in page.get("SpotInstanceRequests", []):
                    status = spot_request.get("Status", {})
                    if spot_request.get("InstanceId") in raw and status.get("Code") in SPOT_MARKED:
                        noticed = _aware(status.get("UpdateTime")) or datetime.now(UTC)
                        reason = f"Spot interruption: {status['Code']} ({status.get('Message', '')})".replace(" ()", "")
                        notices[spot_request["InstanceId"]] = (noticed + SPOT_NOTICE, reason)
    except ClientError as error:
        logger.warning("cannot read spot request status: %s", as_cloud_error("DescribeSpotInstanceRequests", error))
    return notices


def _scheduled_events(clients: AwsClients, instance_ids: set[str]) -> dict[str, tuple[datetime, str]]:
    """Instances with a scheduled stop or retirement (Spot interruptions show up as such)."""
    notices: dict[str, tuple[datetime, str]] = {}
    if not instance_ids:
        return notices
    try:
        paginator = clients.ec2.get_paginator("describe_instance_status")
        pages = paginator.paginate(Filters=[{"Name": "event.code", "Values": list(TAKING_EVENTS)}])
        for page in pages:
            for status in page.get("InstanceStatuses", []):
                if status.get("InstanceId") in instance_ids:
                    notice = _event_notice(status.get("Events", []))
                    if notice:
                        notices[status["InstanceId"]] = notice
    except ClientError as error:
        logger.warning("cannot read scheduled events: %s", as_cloud_error("DescribeInstanceStatus", error))
    return notices


def _event_notice(events: list[dict[str, Any]]) -> tuple[datetime, str] | None:
    for event in events:
        description = event.get("Description", "")
        if event.get("Code") in TAKING_EVENTS and not description.startswith(("[Completed]", "[Canceled]")):
            when = _aware(event.get("NotBefore")) or datetime.now(UTC)
            return when, f"Scheduled {event['Code']}: {description}".rstrip(": ")
    return None
