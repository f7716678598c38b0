"""The AWS provider: launches EC2 capacity with the template's launch API (RunInstances,
EC2Fleet, SpotFleet or ASG), follows it, and terminates returned hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from hostfactory.errors import DomainValidationError
from hostfactory.providers.aws.clients import AwsClients
from hostfactory.providers.aws.common import AwsContext
from hostfactory.providers.aws.instances import describe_instances
from hostfactory.providers.aws.launchers import LAUNCHERS, Launcher
from hostfactory.providers.aws.sync import SyncReport, machines_sync
from hostfactory.providers.base import InstanceInfo, Launch, LaunchFailed, Provider

if TYPE_CHECKING:
    from hostfactory.storage import Repositories
    from machines_app.domain import Machine
    from requests_app.domain import Request
    from templates_app.domain import Template


class AwsProvider(Provider):
    name = "aws"

    def __init__(self, clients: AwsClients):
        self.clients = clients
        self.context = AwsContext(clients)

    @classmethod
    def from_settings(cls) -> AwsProvider:
        return cls(
            AwsClients(
                region=getattr(settings, "HOSTFACTORY_AWS_REGION", "") or None,
                max_attempts=getattr(settings, "HOSTFACTORY_AWS_MAX_ATTEMPTS", 5),
            )
        )

    def launcher(self, api: str | None) -> Launcher:
        if api not in LAUNCHERS:
            raise LaunchFailed("InvalidProviderApi", f"provider_api must be one of {', '.join(LAUNCHERS)}, got {api!r}")
        return LAUNCHERS[api](self.context)

    def launch_problem(self, template: Template | None, template_id: str | None) -> str | None:
        problem = super().launch_problem(template, template_id)
        if problem or template is None:
            return problem
        try:
            self.check_template(template)
        except DomainValidationError as error:
            return f"Template {template_id} cannot be launched: {error}"
        return None

    @classmethod
    def check_template(cls, template: Template) -> None:
        if template.provider_type != "aws":
            raise DomainValidationError(
                "provider_type", f"must be aws: HOSTFACTORY_PROVIDER is aws, got {template.provider_type!r}"
            )
        template.check_launch_settings()

    def sync_machines(self, *, repos: Repositories) -> SyncReport:
        """The reconciliation ``manage.py sync_machines`` runs, on our EC2 client."""
        return machines_sync(repos=repos, ec2=self.clients.ec2)

    def launch(self, *, request: Request, template: Template) -> Launch:
        return self.launcher(template.effective_provider_api).launch(request, template)

    def find_launch(self, *, request: Request, template: Template) -> Launch | None:
        return self.launcher(template.effective_provider_api).find(request, template)

    def launch_progress(self, *, request: Request) -> Launch:
        return self.launcher(request.provider_data.get("api")).progress(request)

    def describe_instances(self, instance_ids: list[str]) -> dict[str, InstanceInfo]:
        return describe_instances(self.clients, instance_ids)

    def terminate(self, *, request: Request, machines: list[Machine], keep: float) -> dict[str, str]:
        launcher = self.launcher(request.provider_data.get("api"))
        instance_ids = [machine.machine_id for machine in machines]
        launcher.shrink(request, int(keep))
        launcher.detach(request, instance_ids)
        return self.context.terminate(instance_ids)

    def stop(self, *, request: Request) -> None:
        self.launcher(request.provider_data.get("api")).stop(request)

    def release(self, *, request: Request, known_instance_ids: set[str]) -> None:
        self.launcher(request.provider_data.get("api")).release(request, known_instance_ids)
