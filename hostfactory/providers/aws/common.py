"""AWS calls every launch API shares: images, launch templates, tag look-ups, termination."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hostfactory.providers.aws import spec
from hostfactory.providers.aws.clients import AwsClients, ClientError, as_cloud_error, as_launch_error, error_code
from hostfactory.providers.aws.instances import chunks
from hostfactory.providers.base import LaunchFailed

if TYPE_CHECKING:
    from requests_app.domain import Request
    from templates_app.domain import Template

logger = logging.getLogger("hostfactory.providers.aws")
SSM_PREFIX = "resolve:ssm:"
DEFAULT_ROOT_DEVICE = "/dev/xvda"
TERMINATE_BATCH = 500
# Errors that mean "already gone", which is what a repeated clean-up wants.
GONE_CODES = frozenset(
    {
        "InvalidInstanceID.NotFound",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateName.NotFoundException",
        "InvalidFleetId.NotFound",
        "InvalidSpotFleetRequestId.NotFound",
    }
)


class AwsContext:
    """The clients plus what one provisioner run looks up once (images, account)."""

    def __init__(self, clients: AwsClients):
        self.clients = clients
        self._images: dict[str, str] = {}
        self._account: str | None = None

    @property
    def ec2(self) -> Any:
        return self.clients.ec2

    def launch_call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """A call that may launch or prepare a launch: errors become LaunchFailed/LaunchUnsettled."""
        try:
            return getattr(client, operation)(**params)
        except Exception as error:
            raise as_launch_error(error) from None

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """Any other call: errors become CloudError (the step is retried on the next run)."""
        try:
            return getattr(client, operation)(**params)
        except ClientError as error:
            raise as_cloud_error(operation, error) from None

    def account_id(self) -> str:
        if self._account is None:
            self._account = self.launch_call(self.clients.sts, "get_caller_identity")["Account"]
        return self._account

    def resolve_image(self, template: Template) -> str | None:
        """imageId as an AMI id; an SSM parameter path (/aws/service/..., or
        resolve:ssm:<path>) is read from SSM once per run."""
        image = template.provider_config.get("imageId")
        if not image or not (image.startswith("/") or image.startswith(SSM_PREFIX)):
            return image or None
        path = image.removeprefix(SSM_PREFIX)
        if path not in self._images:
            try:
                value = self.clients.ssm.get_parameter(Name=path)["Parameter"]["Value"]
            except ClientError as error:
                failure = as_launch_error(error)
                if isinstance(failure, LaunchFailed):
                    raise LaunchFailed(failure.code, f"imageId {path}: {failure.message}") from None
                raise failure from None
            self._images[path] = value
        return self._images[path]

    def root_device(self, template: Template, image_id: str | None) -> str:
        """The AMI's root device name (only looked up when the template sizes the root volume)."""
        if not image_id or not spec.needs_root_device(template):
            return DEFAULT_ROOT_DEVICE
        images = self.launch_call(self.ec2, "describe_images", ImageIds=[image_id]).get("Images", [])
        return (images[0].get("RootDeviceName") if images else None) or DEFAULT_ROOT_DEVICE

    def ensure_launch_template(self, request: Request, template: Template) -> str:
        """The launch template made for this request (by its unique name: a second attempt
        gets the first one's), built from the template's settings."""
        name = spec.resource_name(request.request_id)
        existing = self.launch_template_id(name)
        if existing:
            return existing
        image_id = self.resolve_image(template)
        base = self._base_launch_template(template)
        data = spec.launch_template_data(
            template, request, image_id=image_id, root_device=self.root_device(template, image_id), base=base
        )
        try:
            created = self.ec2.create_launch_template(
                LaunchTemplateName=name,
                LaunchTemplateData=data,
                ClientToken=spec.client_token(request.request_id, "lt"),
                TagSpecifications=[{"ResourceType": "launch-template", "Tags": spec.request_tags(template, request)}],
            )
        except ClientError as error:
            if "AlreadyExists" in error_code(error):
                return self.launch_template_id(name) or ""
            raise as_launch_error(error) from None
        except Exception as error:
            raise as_launch_error(error) from None
        return created["LaunchTemplate"]["LaunchTemplateId"]

    def _base_launch_template(self, template: Template) -> dict[str, Any] | None:
        template_id = template.provider_config.get("launchTemplateId")
        if not template_id:
            return None
        versions = self.launch_call(
            self.ec2, "describe_launch_template_versions", LaunchTemplateId=template_id, Versions=["$Default"]
        ).get("LaunchTemplateVersions", [])
        return versions[0].get("LaunchTemplateData", {}) if versions else {}

    def launch_template_id(self, name: str) -> str | None:
        try:
            found = self.ec2.describe_launch_templates(LaunchTemplateNames=[name]).get("LaunchTemplates", [])
        except ClientError as error:
            if "NotFound" in error_code(error):
                return None
            raise as_launch_error(error) from None
        return found[0]["LaunchTemplateId"] if found else None

    def delete_launch_template(self, launch_template_id: str | None) -> None:
        if launch_template_id:
            self.quietly(self.ec2, "delete_launch_template", LaunchTemplateId=launch_template_id)

    def undo(self, client: Any, operation: str, **params: Any) -> None:
        """Clean up after a refused launch: best effort, logged, never hiding the launch's own error."""
        try:
            self.quietly(client, operation, **params)
        except Exception as error:
            logger.warning("clean-up %s(%s) after a failed launch did not work: %s", operation, params, error)

    def quietly(self, client: Any, operation: str, **params: Any) -> dict[str, Any] | None:
        """A clean-up call: "already gone" is success; other errors are CloudError."""
        try:
            return getattr(client, operation)(**params)
        except ClientError as error:
            if error_code(error) in GONE_CODES or "NotFound" in error_code(error):
                return None
            raise as_cloud_error(operation, error) from None

    def instances_by_tag(self, request_id: str) -> list[str]:
        """Every instance (any state) tagged with the request: what was launched for it."""
        ids = []
        try:
            paginator = self.ec2.get_paginator("describe_instances")
            for page in paginator.paginate(Filters=[{"Name": f"tag:{spec.TAG_REQUEST}", "Values": [request_id]}]):
                for reservation in page.get("Reservations", []):
                    ids.extend(instance["InstanceId"] for instance in reservation.get("Instances", []))
        except Exception as error:
            raise as_launch_error(error) from None
        return sorted(set(ids))

    def tagged_resources(self, request_id: str, resource_type: str) -> list[str]:
        filters = [
            {"Name": "resource-type", "Values": [resource_type]},
            {"Name": "key", "Values": [spec.TAG_REQUEST]},
            {"Name": "value", "Values": [request_id]},
        ]
        try:
            paginator = self.ec2.get_paginator("describe_tags")
            return sorted({tag["ResourceId"] for page in paginator.paginate(Filters=filters) for tag in page["Tags"]})
        except Exception as error:
            raise as_launch_error(error) from None

    def terminate(self, instance_ids: list[str]) -> dict[str, str]:
        """TerminateInstances; an id EC2 no longer knows counts as terminated."""
        states: dict[str, str] = {}
        for batch in chunks(sorted(set(instance_ids)), TERMINATE_BATCH):
            try:
                answer = self.ec2.terminate_instances(InstanceIds=batch)
            except ClientError as error:
                if error_code(error) != "InvalidInstanceID.NotFound" or len(batch) == 1:
                    if error_code(error) == "InvalidInstanceID.NotFound":
                        states[batch[0]] = "terminated"
                        continue
                    raise as_cloud_error("TerminateInstances", error) from None
                for instance_id in batch:  # find the vanished ones one by one
                    states.update(self.terminate([instance_id]))
                continue
            for change in answer.get("TerminatingInstances", []):
                states[change["InstanceId"]] = change.get("CurrentState", {}).get("Name", "shutting-down")
        return states
