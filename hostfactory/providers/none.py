"""The ``none`` provider: the service launches nothing; an outside plugin launches hosts and
registers them as machines (the behaviour before the service could provision)."""

from __future__ import annotations

from hostfactory.providers.base import InstanceInfo, Launch, Provider

NOT_LAUNCHING = "HOSTFACTORY_PROVIDER is none: machines are registered by an outside provisioner, not launched here"


class NoneProvider(Provider):
    name = "none"
    launches = False

    def launch(self, *, request, template) -> Launch:
        raise RuntimeError(NOT_LAUNCHING)

    def find_launch(self, *, request, template) -> Launch | None:
        return None

    def launch_progress(self, *, request) -> Launch:
        raise RuntimeError(NOT_LAUNCHING)

    def describe_instances(self, instance_ids: list[str]) -> dict[str, InstanceInfo]:
        raise RuntimeError(NOT_LAUNCHING)

    def terminate(self, *, request, machines, keep) -> dict[str, str]:
        raise RuntimeError(NOT_LAUNCHING)

    def stop(self, *, request) -> None:
        return None

    def release(self, *, request, known_instance_ids) -> None:
        return None
