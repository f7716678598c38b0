"""One launcher per AWS launch API (RunInstances, EC2Fleet, SpotFleet, ASG).

Each knows how to start capacity for a request, find an earlier attempt's by tag or name,
follow a launch, lower the capacity a fleet maintains before hosts are returned, and clean
up. What they record (``provider_data``) is all a later run needs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from hostfactory.providers.aws import spec
from hostfactory.providers.aws.clients import ClientError, CloudError, as_cloud_error, as_launch_error, error_code
from hostfactory.providers.aws.common import AwsContext
from hostfactory.providers.aws.instances import chunks
from hostfactory.providers.base import Launch, LaunchFailed

if TYPE_CHECKING:
    from requests_app.domain import Request
    from templates_app.domain import Template

DETACH_BATCH = 20  # DetachInstances takes at most 20 ids
ENDED_FLEET_STATES = {"deleted", "deleted_running", "deleted_terminating", "failed", "cancelled"}


def launch_record(template: Template, **extra: Any) -> dict[str, Any]:
    """What every launch records: enough to follow, shrink and clean up without the template."""
    return {
        "api": template.effective_provider_api,
        "fleet_type": spec.fleet_type(template),
        "price_type": template.price_type,
        "percent_on_demand": int(template.provider_config.get("percentOnDemand", 0)),
        "weights": spec.weights(template),
        "launched_at": datetime.now(UTC).isoformat(),
        **extra,
    }


class Launcher:
    api: ClassVar[str]

    def __init__(self, context: AwsContext):
        self.aws = context
        self.ec2 = context.ec2

    def launch(self, request: Request, template: Template) -> Launch:
        raise NotImplementedError

    def find(self, request: Request, template: Template) -> Launch | None:
        """An earlier attempt's launch. Any instance tagged with the request counts, so a
        request whose hosts exist is never launched again."""
        instance_ids = self.aws.instances_by_tag(request.request_id)
        return Launch(launch_record(template, instance_ids=instance_ids), instance_ids) if instance_ids else None

    def progress(self, request: Request) -> Launch:
        data = request.provider_data
        return Launch(data, list(data.get("instance_ids", [])), list(data.get("errors", [])), final=True)

    def shrink(self, request: Request, keep: int) -> None:
        """Before hosts are terminated: lower what the launch maintains to ``keep`` units."""

    def detach(self, request: Request, instance_ids: list[str]) -> None:
        """Before hosts are terminated: take them out of whatever would replace them."""

    def stop(self, request: Request) -> None:
        """Stop a launch still filling from bringing more hosts; the hosts it has keep running."""

    def release(self, request: Request, known_instance_ids: set[str]) -> None:
        self.aws.delete_launch_template(request.provider_data.get("launch_template_id"))

    def _terminate_strays(self, request: Request, known_instance_ids: set[str]) -> None:
        """Hosts a fleet launched that were never the request's (a maintain fleet replacing an
        interrupted host after the request completed): nobody uses them once the request's own
        hosts are all gone."""
        try:
            held = self.progress(request).instance_ids
        except CloudError:
            return  # the fleet is gone, and its hosts with it
        strays = sorted(set(held) - known_instance_ids)
        if strays:
            self.aws.terminate(strays)


class RunInstancesLauncher(Launcher):
    api = "RunInstances"

    def launch(self, request: Request, template: Template) -> Launch:
        image_id = self.aws.resolve_image(template)
        params = spec.run_instances_params(
            template, request, image_id=image_id, root_device=self.aws.root_device(template, image_id)
        )
        answer = self.aws.launch_call(self.ec2, "run_instances", **params)
        instance_ids = [instance["InstanceId"] for instance in answer.get("Instances", [])]
        record = launch_record(template, reservation_id=answer.get("ReservationId"), instance_ids=instance_ids)
        return Launch(record, instance_ids)


class EC2FleetLauncher(Launcher):
    api = "EC2Fleet"

    def launch(self, request: Request, template: Template) -> Launch:
        launch_template_id = self.aws.ensure_launch_template(request, template)
        params = spec.ec2_fleet_params(template, request, launch_template_id=launch_template_id)
        try:
            answer = self.aws.launch_call(self.ec2, "create_fleet", **params)
        except LaunchFailed:
            self.aws.undo(self.ec2, "delete_launch_template", LaunchTemplateId=launch_template_id)
            raise
        record = launch_record(template, fleet_id=answer["FleetId"], launch_template_id=launch_template_id)
        if params["Type"] != "instant":
            return Launch(record, final=False)
        instance_ids = [i for item in answer.get("Instances", []) for i in item.get("InstanceIds", [])]
        errors = [f"{e.get('ErrorCode', 'Error')}: {e.get('ErrorMessage', '')}" for e in answer.get("Errors", [])]
        if not instance_ids and errors:
            self.aws.undo(self.ec2, "delete_fleets", FleetIds=[answer["FleetId"]], TerminateInstances=True)
            self.aws.undo(self.ec2, "delete_launch_template", LaunchTemplateId=launch_template_id)
            code, _, message = errors[0].partition(": ")
            raise LaunchFailed(code, "; ".join([message, *errors[1:]]))
        return Launch({**record, "instance_ids": instance_ids, "errors": errors}, instance_ids, errors)

    def find(self, request: Request, template: Template) -> Launch | None:
        fleets = self.aws.tagged_resources(request.request_id, "fleet")
        if not fleets:
            return super().find(request, template)
        launch_template_id = self.aws.launch_template_id(spec.resource_name(request.request_id))
        record = launch_record(template, fleet_id=fleets[0], launch_template_id=launch_template_id)
        if spec.fleet_type(template) == "instant":
            instance_ids = self.aws.instances_by_tag(request.request_id)
            return Launch({**record, "instance_ids": instance_ids}, instance_ids)
        return Launch(record, final=False)

    def progress(self, request: Request) -> Launch:
        data = request.provider_data
        if data.get("fleet_type") == "instant":
            return super().progress(request)
        fleet_id = data["fleet_id"]
        instance_ids = []
        token = None
        while True:
            page = self.aws.call(
                self.ec2, "describe_fleet_instances", FleetId=fleet_id, **({"NextToken": token} if token else {})
            )
            instance_ids.extend(item["InstanceId"] for item in page.get("ActiveInstances", []))
            token = page.get("NextToken")
            if not token:
                break
        fleets = self.aws.call(self.ec2, "describe_fleets", FleetIds=[fleet_id]).get("Fleets", [])
        return _fleet_progress(data, instance_ids, fleets[0] if fleets else None, fleet_id, "FleetState")

    def stop(self, request: Request) -> None:
        data = request.provider_data
        if data.get("fleet_type") != "instant":
            self.aws.quietly(self.ec2, "delete_fleets", FleetIds=[data["fleet_id"]], TerminateInstances=False)

    def shrink(self, request: Request, keep: int) -> None:
        data = request.provider_data
        if data.get("fleet_type") != "maintain" or data.get("stopped"):
            return
        if keep <= 0:
            self.aws.quietly(self.ec2, "delete_fleets", FleetIds=[data["fleet_id"]], TerminateInstances=False)
            return
        on_demand, spot = spec.split_units(data["price_type"], data.get("percent_on_demand", 0), keep)
        self.aws.call(
            self.ec2,
            "modify_fleet",
            FleetId=data["fleet_id"],
            ExcessCapacityTerminationPolicy="no-termination",
            TargetCapacitySpecification={
                "TotalTargetCapacity": keep,
                "OnDemandTargetCapacity": on_demand,
                "SpotTargetCapacity": spot,
            },
        )

    def release(self, request: Request, known_instance_ids: set[str]) -> None:
        data = request.provider_data
        if data.get("fleet_type") != "instant":  # an instant fleet holds nothing once its hosts are gone
            self._terminate_strays(request, known_instance_ids)
            self.aws.quietly(self.ec2, "delete_fleets", FleetIds=[data["fleet_id"]], TerminateInstances=False)
        super().release(request, known_instance_ids)


class SpotFleetLauncher(Launcher):
    api = "SpotFleet"

    def launch(self, request: Request, template: Template) -> Launch:
        role = template.provider_config.get("fleetRole") or spec.SPOT_FLEET_ROLE.format(account=self.aws.account_id())
        launch_template_id = self.aws.ensure_launch_template(request, template)
        config = spec.spot_fleet_config(template, request, launch_template_id=launch_template_id, fleet_role=role)
        try:
            answer = self.aws.launch_call(self.ec2, "request_spot_fleet", SpotFleetRequestConfig=config)
        except LaunchFailed:
            self.aws.undo(self.ec2, "delete_launch_template", LaunchTemplateId=launch_template_id)
            raise
        record = launch_record(
            template, spot_fleet_request_id=answer["SpotFleetRequestId"], launch_template_id=launch_template_id
        )
        return Launch(record, final=False)

    def find(self, request: Request, template: Template) -> Launch | None:
        found = self._tagged_fleet(request.request_id)
        if not found:
            return super().find(request, template)
        launch_template_id = self.aws.launch_template_id(spec.resource_name(request.request_id))
        return Launch(
            launch_record(template, spot_fleet_request_id=found, launch_template_id=launch_template_id), final=False
        )

    def _tagged_fleet(self, request_id: str) -> str | None:
        """Spot fleet requests cannot be looked up by tag server-side; their list is short."""
        try:
            paginator = self.ec2.get_paginator("describe_spot_fleet_requests")
            for page in paginator.paginate():
                for config in page.get("SpotFleetRequestConfigs", []):
                    tags = {tag["Key"]: tag.get("Value") for tag in config.get("Tags", [])}
                    if tags.get(spec.TAG_REQUEST) == request_id:
                        return config["SpotFleetRequestId"]
        except Exception as error:
            raise as_launch_error(error) from None
        return None

    def progress(self, request: Request) -> Launch:
        data = request.provider_data
        fleet_id = data["spot_fleet_request_id"]
        instance_ids = []
        token = None
        while True:
            page = self.aws.call(
                self.ec2,
                "describe_spot_fleet_instances",
                SpotFleetRequestId=fleet_id,
                **({"NextToken": token} if token else {}),
            )
            instance_ids.extend(item["InstanceId"] for item in page.get("ActiveInstances", []))
            token = page.get("NextToken")
            if not token:
                break
        configs = self.aws.call(self.ec2, "describe_spot_fleet_requests", SpotFleetRequestIds=[fleet_id])
        fleet = (configs.get("SpotFleetRequestConfigs") or [None])[0]
        if fleet:
            config = fleet.get("SpotFleetRequestConfig", {})
            fleet = {
                **fleet,
                "FulfilledCapacity": config.get("FulfilledCapacity", 0),
                "TargetCapacitySpecification": {"TotalTargetCapacity": config.get("TargetCapacity", 0)},
            }
        return _fleet_progress(data, instance_ids, fleet, fleet_id, "SpotFleetRequestState")

    def stop(self, request: Request) -> None:
        fleet_id = request.provider_data["spot_fleet_request_id"]
        self.aws.quietly(
            self.ec2, "cancel_spot_fleet_requests", SpotFleetRequestIds=[fleet_id], TerminateInstances=False
        )

    def shrink(self, request: Request, keep: int) -> None:
        data = request.provider_data
        if data.get("fleet_type") != "maintain" or data.get("stopped"):
            return
        fleet_id = data["spot_fleet_request_id"]
        if keep <= 0:
            self.aws.quietly(
                self.ec2, "cancel_spot_fleet_requests", SpotFleetRequestIds=[fleet_id], TerminateInstances=False
            )
            return
        on_demand, _spot = spec.split_units(
            "spot" if data["price_type"] == "ondemand" else data["price_type"], data.get("percent_on_demand", 0), keep
        )
        self.aws.call(
            self.ec2,
            "modify_spot_fleet_request",
            SpotFleetRequestId=fleet_id,
            TargetCapacity=keep,
            OnDemandTargetCapacity=on_demand,
            ExcessCapacityTerminationPolicy="noTermination",
        )

    def release(self, request: Request, known_instance_ids: set[str]) -> None:
        self._terminate_strays(request, known_instance_ids)
        fleet_ids = [request.provider_data["spot_fleet_request_id"]]
        self.aws.quietly(
            self.ec2, "cancel_spot_fleet_requests", SpotFleetRequestIds=fleet_ids, TerminateInstances=False
        )
        super().release(request, known_instance_ids)


class ASGLauncher(Launcher):
    api = "ASG"

    @property
    def autoscaling(self) -> Any:
        return self.aws.clients.autoscaling

    def launch(self, request: Request, template: Template) -> Launch:
        launch_template_id = self.aws.ensure_launch_template(request, template)
        params = spec.asg_params(template, request, launch_template_id=launch_template_id)
        try:
            self.autoscaling.create_auto_scaling_group(**params)
        except ClientError as error:
            if error_code(error) != "AlreadyExists":  # the group of an earlier attempt: ours
                failure = as_launch_error(error)
                if isinstance(failure, LaunchFailed):
                    self.aws.undo(self.ec2, "delete_launch_template", LaunchTemplateId=launch_template_id)
                raise failure from None
        except Exception as error:
            raise as_launch_error(error) from None
        name = params["AutoScalingGroupName"]
        record = launch_record(template, group_name=name, launch_template_id=launch_template_id)
        return Launch(record, final=False)

    def find(self, request: Request, template: Template) -> Launch | None:
        name = spec.resource_name(request.request_id)
        if not self._group(name, launching=True):
            return super().find(request, template)
        launch_template_id = self.aws.launch_template_id(name)
        return Launch(launch_record(template, group_name=name, launch_template_id=launch_template_id), final=False)

    def _group(self, name: str, launching: bool = False) -> dict[str, Any] | None:
        try:
            groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        except Exception as error:
            failure = as_launch_error(error) if launching else as_cloud_error("DescribeAutoScalingGroups", error)
            raise failure from None
        found = groups.get("AutoScalingGroups", [])
        return found[0] if found else None

    def progress(self, request: Request) -> Launch:
        data = request.provider_data
        group = self._group(data["group_name"])
        if group is None:
            return Launch(data, [], [f"GroupNotFound: Auto Scaling group {data['group_name']} no longer exists"])
        instance_ids = [instance["InstanceId"] for instance in group.get("Instances", [])]
        return Launch(data, instance_ids, final=len(instance_ids) >= group.get("DesiredCapacity", 0))

    def stop(self, request: Request) -> None:
        """Hold the group at the hosts it has (it still replaces an unhealthy one)."""
        group = self._group(request.provider_data["group_name"])
        if group is None:
            return
        held = len(group.get("Instances", []))
        self.aws.call(
            self.autoscaling,
            "update_auto_scaling_group",
            AutoScalingGroupName=group["AutoScalingGroupName"],
            MinSize=0,
            MaxSize=held,
            DesiredCapacity=held,
        )

    def detach(self, request: Request, instance_ids: list[str]) -> None:
        """Detach (lowering desired capacity) so the group does not replace them; instances
        already out of the group are skipped, so a repeat does not lower it twice."""
        group = self._group(request.provider_data["group_name"])
        members = {instance["InstanceId"] for instance in (group or {}).get("Instances", [])}
        for batch in chunks([i for i in instance_ids if i in members], DETACH_BATCH):
            self.aws.call(
                self.autoscaling,
                "detach_instances",
                AutoScalingGroupName=request.provider_data["group_name"],
                InstanceIds=batch,
                ShouldDecrementDesiredCapacity=True,
            )

    def release(self, request: Request, known_instance_ids: set[str]) -> None:
        try:  # ForceDelete terminates what the group still holds: none of the request's hosts by now
            self.autoscaling.delete_auto_scaling_group(
                AutoScalingGroupName=request.provider_data["group_name"], ForceDelete=True
            )
        except ClientError as error:
            if "not found" not in str(error).lower() and error_code(error) != "ValidationError":
                raise as_cloud_error("DeleteAutoScalingGroup", error) from None
        super().release(request, known_instance_ids)


def _fleet_progress(
    data: dict[str, Any], instance_ids: list[str], fleet: dict[str, Any] | None, fleet_id: str, state_key: str
) -> Launch:
    """A request or maintain fleet is final once it holds its target, or once it ended or
    reported an error (then what it has is all that will come)."""
    if fleet is None:
        return Launch(data, instance_ids, [f"FleetNotFound: fleet {fleet_id} no longer exists"])
    state, activity = fleet.get(state_key, ""), fleet.get("ActivityStatus") or ""
    target = fleet.get("TargetCapacitySpecification", {}).get("TotalTargetCapacity", 0)
    fulfilled = float(fleet.get("FulfilledCapacity") or 0) >= float(target or 0)
    errors = []
    if activity == "error" or state in ENDED_FLEET_STATES:
        errors.append(f"FleetError: fleet {fleet_id} is {state} (activity {activity or 'none'}); see its history")
    return Launch(data, instance_ids, errors, final=fulfilled or bool(errors))


LAUNCHERS = {cls.api: cls for cls in (RunInstancesLauncher, EC2FleetLauncher, SpotFleetLauncher, ASGLauncher)}
