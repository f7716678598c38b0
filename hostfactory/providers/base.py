"""What every provider offers the provisioner: launch capacity for an acquire request, follow
it, describe instances, and give hosts back.

The provisioner (``hostfactory.providers.services``) owns the bookkeeping (claims, machines,
request statuses); a provider only talks to its cloud, so the same service drives every
provider and a new cloud is one class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from machines_app.domain import Machine
    from requests_app.domain import Request
    from templates_app.domain import Template


class LaunchFailed(Exception):
    """The cloud refused the launch (bad image, no capacity, a limit, throttling after the
    retries). Definitive: nothing was launched, and trying again would fail the same way, so
    the request ends ``failed`` with this message."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class LaunchUnsettled(Exception):
    """The launch call's outcome is unknown (connection lost, a server error): hosts may exist.
    The request stays claimed; once the claim expires a later run looks for what was launched
    (by tag) and retries with the same client token, so nothing is launched twice."""


@dataclass(frozen=True)
class Launch:
    """What one launch produced. ``provider_data`` is stored on the request and is all a later
    run needs to follow or undo the launch; ``final`` says no more instances will come."""

    provider_data: dict[str, Any]
    instance_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    final: bool = True


@dataclass(frozen=True)
class InstanceInfo:
    """One cloud instance as the provider sees it now (what sync and the provisioner record)."""

    instance_id: str
    state: str
    private_ip_address: str | None = None
    private_dns_name: str = ""
    public_ip_address: str | None = None
    launch_time: datetime | None = None
    instance_type: str | None = None
    price_type: str = "ondemand"
    tags: dict[str, str] = field(default_factory=dict)
    # When the cloud takes the host back (spot interruption notice, scheduled stop or
    # retirement), and why; None when nothing is scheduled.
    interruption_at: datetime | None = None
    interruption_reason: str = ""


class Provider(ABC):
    """A cloud the service launches hosts in. ``launches`` is False for the ``none`` provider,
    whose machines are registered by an outside plugin."""

    name: str = ""
    launches: bool = True

    def launch_problem(self, template: Template | None, template_id: str | None) -> str | None:
        """Why this provider cannot launch ``template`` (shown to Host Factory), or None."""
        if template is None:
            return f"Template {template_id} no longer exists."
        return None

    @classmethod
    def from_settings(cls) -> Provider:
        return cls()

    @classmethod
    def check_template(cls, template: Template) -> None:
        """Raise DomainValidationError (field, what is allowed) when this provider could not
        launch ``template``, so it is refused when stored rather than failed at launch.
        Providers that launch nothing accept every template."""
        return None

    def sync_machines(self, *, repos: Any) -> Any:
        """Reconcile every live machine with the cloud; returns the sync's report."""
        return None

    @abstractmethod
    def launch(self, *, request: Request, template: Template) -> Launch:
        """Start capacity for an acquire request. Raises LaunchFailed or LaunchUnsettled."""

    @abstractmethod
    def find_launch(self, *, request: Request, template: Template) -> Launch | None:
        """What an earlier, unrecorded attempt launched for ``request`` (found by tag), or None."""

    @abstractmethod
    def launch_progress(self, *, request: Request) -> Launch:
        """The launch recorded on ``request`` as it stands now (instances so far, errors, final)."""

    @abstractmethod
    def describe_instances(self, instance_ids: list[str]) -> dict[str, InstanceInfo]:
        """The instances the cloud still knows, by id; an id missing from the answer is gone."""

    @abstractmethod
    def terminate(self, *, request: Request, machines: list[Machine], keep: float) -> dict[str, str]:
        """Give back ``machines`` launched for the acquire ``request``, leaving ``keep`` units of
        its capacity (so a fleet that maintains capacity does not replace them). Returns the
        new cloud state per instance id. Safe to repeat."""

    @abstractmethod
    def stop(self, *, request: Request) -> None:
        """Stop a launch still filling (its request ran out of time) from bringing more hosts;
        the hosts it has keep running. Safe to repeat."""

    @abstractmethod
    def release(self, *, request: Request, known_instance_ids: set[str]) -> None:
        """Delete what the launch left behind (fleet, group, launch template) once none of the
        request's hosts is live; a host the launch holds that is not among
        ``known_instance_ids`` (the request's machines) is terminated. Safe to repeat."""
