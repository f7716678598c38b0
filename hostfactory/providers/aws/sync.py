"""Reconcile the live machines with EC2, the cloud's word on each instance.

``machines_sync`` reads every instance first (``DescribeInstances`` on the machines' ids, in
batches) and only then writes, so a cloud that cannot be reached changes nothing. Writes go
through ``machine_update_status`` (atomic, transition-checked, retried on version conflicts,
never overwriting a concurrent change), which also reconciles the machines' requests; last,
every active request is reconciled so the ones past their deadline time out. Safe to run from
cron while the API serves traffic. A provisioner can call it with its own EC2 client. An EC2
that cannot be asked is a CloudError, raised before anything is written.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hostfactory.domain import utcnow
from hostfactory.errors import InvalidTransition, NotFound
from hostfactory.fleet.capacity import capacity_sweep
from hostfactory.fleet.machines import machine_update_status
from hostfactory.fleet.progress import request_machines, request_progress, request_reconcile
from hostfactory.providers.aws.instances import EC2_BATCH_LIMIT, InstanceDescriber
from machines_app.domain import MACHINE_TRANSITIONS, Machine, MachineStatus
from requests_app.domain import RequestStatus

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

# EC2 is eventually consistent: an instance launched a moment ago may not be described yet.
NOT_FOUND_GRACE = timedelta(minutes=5)
EC2_INSTANCE_ID_RE = re.compile(r"^i-[0-9a-f]{8,17}$")
VANISHED_REASON = "Instance no longer exists in EC2."
# EC2 instance state name -> machine status (the first six machine statuses are EC2's own).
EC2_STATES = {
    status.value: status
    for status in (
        MachineStatus.PENDING,
        MachineStatus.RUNNING,
        MachineStatus.STOPPING,
        MachineStatus.STOPPED,
        MachineStatus.SHUTTING_DOWN,
        MachineStatus.TERMINATED,
    )
}


@dataclass(frozen=True)
class MachineChange:
    """What the cloud says about one machine, as a change to make."""

    machine: Machine
    target: MachineStatus
    route: tuple[MachineStatus, ...]  # statuses passed through before ``target``
    changes: dict[str, Any]
    vanished: bool = False

    @property
    def machine_id(self) -> str:
        return self.machine.machine_id

    @property
    def projected(self) -> Machine:
        return self.machine.replace(status=self.target, **self.changes)

    def describe(self) -> str:
        text = f"{self.machine_id}: {self.machine.status.value} -> {self.target.value}"
        if self.route:
            text += f" (via {', '.join(status.value for status in self.route)})"
        shown = {key: value for key, value in self.changes.items() if key != "status_reason"}
        if shown:
            text += " " + " ".join(f"{key}={_as_text(value)}" for key, value in shown.items())
        return text + (" [no longer in EC2]" if self.vanished else "")


@dataclass(frozen=True)
class RequestChange:
    request_id: str
    before: RequestStatus
    after: RequestStatus

    def describe(self) -> str:
        return f"{self.request_id}: {self.before.value} -> {self.after.value}"


@dataclass
class SyncReport:
    dry_run: bool = False
    checked: int = 0
    calls: int = 0
    changes: list[MachineChange] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requests: list[RequestChange] = field(default_factory=list)
    # The live machines as the pass read them: the provisioner's interruption check works on
    # these instead of reading the fleet a second time.
    live: list[Machine] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        vanished = sum(1 for change in self.changes if change.vanished)
        timed_out = sum(1 for change in self.requests if change.after == RequestStatus.TIMEOUT)
        verb = "would change" if self.dry_run else "changed"
        return (
            f"{'Dry run: ' if self.dry_run else ''}{self.checked} machines checked in {self.calls} "
            f"DescribeInstances calls; {verb} {len(self.changes)} ({vanished} no longer in EC2), "
            f"{self.checked - len(self.changes) - len(self.skipped)} unchanged, {len(self.skipped)} skipped; "
            f"{verb} {len(self.requests)} requests ({timed_out} timed out)"
        )


def machines_sync(
    *,
    repos: Repositories,
    ec2: Any,
    dry_run: bool = False,
    batch_size: int = EC2_BATCH_LIMIT,
    now: datetime | None = None,
    grace: timedelta = NOT_FOUND_GRACE,
    progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Bring every live machine (and the requests they belong to) in line with EC2."""
    if not 1 <= batch_size <= EC2_BATCH_LIMIT:
        raise ValueError(f"batch_size must be 1..{EC2_BATCH_LIMIT}, got {batch_size}")
    now = now or utcnow()
    report = SyncReport(dry_run=dry_run)
    machines = []
    for machine in repos.machines.get_live():
        if EC2_INSTANCE_ID_RE.match(machine.machine_id):
            machines.append(machine)
        else:
            report.skipped.append(f"{machine.machine_id}: not an EC2 instance id")
    report.checked = len(machines) + len(report.skipped)
    report.live = machines
    describer = InstanceDescriber(ec2)
    instances = describer.describe([machine.machine_id for machine in machines], batch_size=batch_size)
    report.calls = describer.calls
    for machine in machines:
        change = observed_change(machine, instances.get(machine.machine_id), now=now, grace=grace, report=report)
        if change:
            report.changes.append(change)
    if dry_run:
        report.requests = _projected_request_changes(repos=repos, changes=report.changes, now=now)
        return report
    active_before = repos.requests.get_active_requests()
    _apply(repos=repos, report=report, progress=progress)
    for request in repos.requests.get_active_requests():
        request_reconcile(repos=repos, request=request, now=now)  # the ones past their deadline time out
    capacity_sweep(repos=repos, now=now)
    report.requests = _request_changes(repos=repos, before=active_before)
    return report


def observed_change(
    machine: Machine, instance: dict | None, *, now: datetime, grace: timedelta, report: SyncReport
) -> MachineChange | None:
    """The change EC2's description of ``machine`` (None: no such instance) calls for."""
    if instance is None:
        launched = machine.launch_time or machine.created_at
        if machine.status == MachineStatus.PENDING and launched and now - launched < grace:
            report.skipped.append(f"{machine.machine_id}: not described by EC2 yet (launched {launched:%H:%M:%S} UTC)")
            return None
        target, changes, vanished = MachineStatus.TERMINATED, {"status_reason": VANISHED_REASON}, True
    else:
        state = instance.get("State", {}).get("Name")
        if state not in EC2_STATES:
            report.skipped.append(f"{machine.machine_id}: EC2 state {state!r} is not one we know")
            return None
        target, changes, vanished = EC2_STATES[state], _reported_fields(machine, instance), False
        reason = (instance.get("StateReason") or {}).get("Message")
        if target != machine.status and reason:
            changes["status_reason"] = reason
    if target == machine.status and not changes:
        return None
    route = _route(machine.status, target)
    if route is None:
        allowed = ", ".join(sorted(MACHINE_TRANSITIONS.allowed(machine.status)))
        report.skipped.append(
            f"{machine.machine_id}: EC2 says {target.value}, but {machine.status.value} cannot become that "
            f"(allowed: {allowed})"
        )
        return None
    return MachineChange(machine=machine, target=target, route=route, changes=changes, vanished=vanished)


def _reported_fields(machine: Machine, instance: dict) -> dict[str, Any]:
    """The described values that differ from the stored ones; an empty value (a stopped or
    terminated instance loses its IPs and DNS name) never erases what we knew."""
    seen = {
        "name": instance.get("PrivateDnsName"),
        "private_ip_address": instance.get("PrivateIpAddress"),
        "public_ip_address": instance.get("PublicIpAddress"),
        "launch_time": instance.get("LaunchTime"),
        "instance_type": instance.get("InstanceType"),
    }
    return {key: value for key, value in seen.items() if value and getattr(machine, key) != value}


def _route(current: MachineStatus, target: MachineStatus) -> tuple[MachineStatus, ...] | None:
    """Statuses to pass through on the shortest allowed way to ``target`` (a machine launched and
    stopped between two syncs goes pending, running, stopping, stopped), or None: no way."""
    if target in MACHINE_TRANSITIONS.allowed(current):
        return ()
    cloud_states = set(EC2_STATES.values())
    paths = deque([(current, ())])
    seen = {current}
    while paths:
        status, path = paths.popleft()
        for step in sorted(MACHINE_TRANSITIONS.allowed(status) & cloud_states - seen):
            if step == target:
                return path
            seen.add(step)
            paths.append((step, (*path, step)))
    return None


def _apply(*, repos: Repositories, report: SyncReport, progress: Callable[[int, int], None] | None) -> None:
    applied = []
    for done, change in enumerate(report.changes, start=1):
        try:
            for step in change.route:
                repos.machines.update_status(change.machine_id, step)
            machine_update_status(
                repos=repos, machine_id=change.machine_id, status=change.target, changes=change.changes
            )
            applied.append(change)
        except (InvalidTransition, NotFound) as error:  # changed or deleted meanwhile by another writer
            report.skipped.append(f"{change.machine_id}: changed meanwhile, left as it is ({error})")
        if progress:
            progress(done, len(report.changes))
    report.changes = applied


def _request_changes(*, repos: Repositories, before: list) -> list[RequestChange]:
    changes = []
    for request in before:
        now_stored = repos.requests.get_by_id(request.request_id)
        if now_stored is not None and now_stored.status != request.status:
            changes.append(RequestChange(request.request_id, request.status, now_stored.status))
    return changes


def _projected_request_changes(
    *, repos: Repositories, changes: list[MachineChange], now: datetime
) -> list[RequestChange]:
    """What reconciling the active requests would do once ``changes`` are made (dry run)."""
    projected = {change.machine_id: change.projected for change in changes}
    result = []
    for request in repos.requests.get_active_requests():
        machines = [projected.get(m.machine_id, m) for m in request_machines(repos=repos, request=request)]
        target = request_progress(request, machines, now)
        if target != request.status:
            result.append(RequestChange(request.request_id, request.status, target))
    return result


def _as_text(value: Any) -> str:
    """A changed value as the report prints it."""
    return value.isoformat() if isinstance(value, datetime) else str(value)
