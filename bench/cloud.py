"""A cloud for the storage benchmark: every host the bench fleet names runs (or starts) as
stored, and every launch still fills, so a provision or sync pass has nothing to change and
what it costs is its storage reads.

It stands in for EC2 because the figures are DynamoDB calls, not cloud calls, and moto's EC2
cannot hold 100k instances in a reasonable time; the provisioner and the sync are the
service's own (``provision_run``, ``machines_sync``), unchanged. The sync a provision pass
runs is left out here (``sync_machines`` answers an empty report): it is a figure of its own,
and running it twice would double the bench's longest step at 100k.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hostfactory.providers.aws.sync import SyncReport
from hostfactory.providers.base import InstanceInfo, Launch, Provider

NOT_HERE = "the benchmark cloud launches and terminates nothing: its fleet is in a steady state"


class SteadyEc2:
    """The ``describe_instances`` paginator of an EC2 client, answering each known id with
    the state it was given (unknown ids are left out, as EC2 leaves them out of a filter)."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states

    def get_paginator(self, operation: str) -> SteadyEc2:
        if operation != "describe_instances":
            raise NotImplementedError(f"{operation}: {NOT_HERE}")
        return self

    def paginate(self, InstanceIds: list[str] | None = None, Filters: list[dict] | None = None) -> Iterator[dict]:
        ids = InstanceIds or [value for spec in Filters or [] for value in spec["Values"]]
        instances = [{"InstanceId": i, "State": {"Name": self.states[i]}} for i in ids if i in self.states]
        yield {"Reservations": [{"Instances": instances}]}


class SteadyCloud(Provider):
    name = "bench"

    def __init__(self, states: dict[str, str]) -> None:
        self.ec2 = SteadyEc2(states)

    def sync_machines(self, *, repos: Any) -> SyncReport:
        return SyncReport()

    def launch_progress(self, *, request) -> Launch:
        return Launch(dict(request.provider_data), instance_ids=list(request.machine_ids), final=False)

    def describe_instances(self, instance_ids: list[str]) -> dict[str, InstanceInfo]:
        states = self.ec2.states
        return {i: InstanceInfo(instance_id=i, state=states[i]) for i in instance_ids if i in states}

    def find_launch(self, *, request, template) -> Launch | None:
        return None

    def launch(self, *, request, template) -> Launch:
        raise NotImplementedError(NOT_HERE)

    def terminate(self, *, request, machines, keep) -> dict[str, str]:
        raise NotImplementedError(NOT_HERE)

    def stop(self, *, request) -> None:
        raise NotImplementedError(NOT_HERE)

    def release(self, *, request, known_instance_ids) -> None:
        raise NotImplementedError(NOT_HERE)
