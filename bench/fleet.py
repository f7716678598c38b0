"""A synthetic fleet for benchmarks: the answer sizes stay fixed while the tables grow, so
a lookup whose cost follows the answer stays flat and one that follows the table does not.

Two shapes: the usual one keeps about 500 live machines at every size (the rest of the
fleet returned long ago), which hides any read of every live machine; ``all_live`` keeps
every machine running (the completed requests' hosts in use), which exposes it."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from hostfactory.domain import utcnow
from machines_app.domain import Machine, MachineStatus
from requests_app.domain import Request, RequestStatus, RequestType
from templates_app.domain import MAX_NUMBER_RANGE, Reservation, Template, Usage

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

MACHINES_PER_REQUEST = 10
ACTIVE_REQUESTS = 50  # in progress: nine machines running, the tenth still pending
TEMPLATES = 20
LIMITED_TEMPLATE = "bench-0"  # the one template with a maxNumber (requestMachines reserves on it)
LIMIT = MAX_NUMBER_RANGE[1]  # the largest maxNumber allowed: above the limited template's use at every size
LOAD_THREADS = 4  # batch writers in parallel: seeding 100k items on dynalite in about a minute
ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "8192"]}


@dataclass
class Fleet:
    templates: list[Template] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    machines: list[Machine] = field(default_factory=list)

    @property
    def active_request_ids(self) -> list[str]:
        return [r.request_id for r in self.requests if r.is_active]

    @property
    def live(self) -> list[Machine]:
        return [m for m in self.machines if m.is_live]

    def usage(self) -> dict[str, Usage]:
        """Each template's capacity ledger as this fleet makes it: its live machines (the
        active requests have launched all they asked for) and their reservations."""
        live = Counter(m.template_id for m in self.live)
        return {
            t.template_id: Usage(
                used=live[t.template_id],
                reservations={
                    r.request_id: Reservation(count=r.machine_count, at=r.created_at)
                    for r in self.requests
                    if r.is_active and r.template_id == t.template_id
                },
            )
            for t in self.templates
        }


def build_fleet(machine_count: int, seed: int | None = None, *, all_live: bool = False) -> Fleet:
    """``machine_count`` machines in requests of ten: 50 requests in progress (nine machines
    running and one pending each, launched by a fleet that is still filling, so polling and
    provisioning them changes nothing: a steady state), the rest of the fleet complete, its
    machines long returned (or, ``all_live``, running). The same ``seed`` gives the same ids
    (the HTTP benchmark seeds each server process with the fleet its client asks about)."""
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
            provider_data={"api": "EC2Fleet", "fleet_id": f"fleet-{number}"} if active else {},
            created_at=now,
            updated_at=now,
        )
        machines = [
            _machine(
                request, slot, active or all_live, active and slot == MACHINES_PER_REQUEST - 1, now, ids.getrandbits(68)
            )
            for slot in range(MACHINES_PER_REQUEST)
        ]
        # A request names its machines (storage v2): getRequestStatus reads them by id.
        fleet.requests.append(request.replace(machine_ids=tuple(m.machine_id for m in machines)))
        fleet.machines.extend(machines)
    return fleet


def _template(number: int) -> Template:
    return Template(
        template_id=f"bench-{number}",
        max_number=LIMIT if f"bench-{number}" == LIMITED_TEMPLATE else -1,
        attributes=ATTRIBUTES,
        provider_api="RunInstances",
        provider_config={"imageId": "ami-0123456789abcdef0", "vmType": "m5.large"},
    )


def _machine(request: Request, slot: int, live: bool, pending: bool, now, number: int) -> Machine:
    number %= 16**17
    status = MachineStatus.PENDING if pending else MachineStatus.RUNNING if live else MachineStatus.RETURNED
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
    """Store the fleet and its capacity ledgers: ``save`` on memory, batch writes on DynamoDB
    in ``LOAD_THREADS`` threads (the benchmarks measure reads; one conditional put at a time
    would take minutes at 100k)."""
    for repo, entities in (
        (repos.templates, fleet.templates),
        (repos.requests, fleet.requests),
        (repos.machines, fleet.machines),
    ):
        if getattr(repo, "model", None) is None:
            for entity in entities:
                repo.save(entity)
            continue
        share = -(-len(entities) // LOAD_THREADS)
        with ThreadPoolExecutor(LOAD_THREADS) as pool:
            done = [pool.submit(_batch_write, repo, entities[i : i + share]) for i in range(0, len(entities), share)]
            for future in done:
                future.result()
    for template_id, usage in fleet.usage().items():
        repos.templates.set_usage(template_id, usage, (repos.templates.usage(template_id) or Usage()).seq)


def _batch_write(repo, entities: list) -> None:
    with repo.model.batch_write() as batch:
        for entity in entities:
            batch.save(repo.to_item(entity.replace(version=1)))
