"""A synthetic fleet for benchmarks: the answer sizes stay fixed while the tables grow, so
a lookup whose cost follows the answer stays flat and one that follows the table does not."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from hostfactory.domain import utcnow
from machines_app.domain import Machine, MachineStatus
from requests_app.domain import Request, RequestStatus, RequestType
from templates_app.domain import Template

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

MACHINES_PER_REQUEST = 10
ACTIVE_REQUESTS = 50  # in progress: nine machines running, the tenth still pending
TEMPLATES = 20
ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "8192"]}


@dataclass
class Fleet:
    templates: list[Template] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    machines: list[Machine] = field(default_factory=list)

    @property
    def active_request_ids(self) -> list[str]:
        return [r.request_id for r in self.requests if r.is_active]


def build_fleet(machine_count: int, seed: int | None = None) -> Fleet:
    """``machine_count`` machines in requests of ten: 50 requests in progress (nine machines
    running and one pending each, so polling them changes nothing: a steady state), the rest
    of the fleet complete and long returned. The same ``seed`` gives the same ids (the HTTP
    benchmark seeds each server process with the fleet its client asks about)."""
    ids = random.Random(seed)
    now = utcnow()
    fleet = Fleet(templates=[_template(i) for i in range(TEMPLATES)])
    for number in range(machine_count // MACHINES_PER_REQUEST):
        active = number < ACTIVE_REQUESTS
        template_id = fleet.templates[number % TEMPLATES].template_id
        request = Request(
            request_id=f"req-{uuid.UUID(int=ids.getrandbits(128), version=4)}",
            request_type=RequestType.ACQUIRE,
            template_id=template_id,
            machine_count=MACHINES_PER_REQUEST,
            status=RequestStatus.IN_PROGRESS if active else RequestStatus.COMPLETE,
            deadline=now + timedelta(hours=1),
            created_at=now,
            updated_at=now,
        )
        machines = [
            _machine(request, slot, active, active and slot == MACHINES_PER_REQUEST - 1, now, ids.getrandbits(68))
            for slot in range(MACHINES_PER_REQUEST)
        ]
        # A request names its machines (storage v2): getRequestStatus reads them by id.
        fleet.requests.append(request.replace(machine_ids=tuple(m.machine_id for m in machines)))
        fleet.machines.extend(machines)
    return fleet


def _template(number: int) -> Template:
    return Template(
        template_id=f"bench-{number}",
        max_number=-1,
        attributes=ATTRIBUTES,
        provider_api="RunInstances",
        provider_config={"imageId": "ami-0123456789abcdef0", "vmType": "m5.large"},
    )


def _machine(request: Request, slot: int, active: bool, pending: bool, now, number: int) -> Machine:
    number %= 16**17
    status = MachineStatus.PENDING if pending else MachineStatus.RUNNING if active else MachineStatus.RETURNED
    return Machine(
        machine_id=f"i-{number:017x}",
        name=f"ip-10-{slot}-{number % 250}-{number % 251}.ec2.internal",
        request_id=request.request_id,
        template_id=request.template_id,
        status=status,
        private_ip_address=f"10.{slot}.{number % 250}.{number % 251}",
        launch_time=now,
        created_at=now,
        updated_at=now,
    )


def load(repos: Repositories, fleet: Fleet) -> None:
    """Store the fleet: ``save`` on memory, a batch write on DynamoDB (the benchmarks measure
    reads; loading 10k items one conditional put at a time only makes them slower)."""
    for repo, entities in (
        (repos.templates, fleet.templates),
        (repos.requests, fleet.requests),
        (repos.machines, fleet.machines),
    ):
        model = getattr(repo, "model", None)
        if model is None:
            for entity in entities:
                repo.save(entity)
            continue
        with model.batch_write() as batch:
            for entity in entities:
                batch.save(repo.to_item(entity.replace(version=1)))
