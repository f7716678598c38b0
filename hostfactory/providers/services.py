"""The provisioner: the slow cloud work done outside Host Factory's calls.

One run (``provision_run``) launches pending acquire requests, follows launches still
filling, terminates the hosts of return requests, reconciles every live machine with the
cloud (the shared ``machines_sync``), passes on spot interruption notices as ``reclaim_at``,
and ends launches that got fewer hosts than asked.

Never launching twice is the point of the design:
- a request is *claimed* before anything is launched: it moves pending -> in_progress with
  ``provider_data.claimed_by`` in one version-checked save, so of two provisioners reading the
  same pending request exactly one wins (the other gets VersionConflict and moves on);
- the launch is recorded on the request (``provider_data``: api, fleet or group id, instance
  ids) right after the cloud answers; a run that died in between leaves a claim without a
  record, which another run takes over only once the claim is older than
  HOSTFACTORY_PROVISION_CLAIM_TIMEOUT, and then first looks for what was launched (every
  instance, fleet and group carries the request id) before launching; the cloud's client
  tokens, derived from the request id, make a repeated call return the first call's result;
- a launch the cloud refused (LaunchFailed) ends the request ``failed`` and is never retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings

from hostfactory.domain import utcnow
from hostfactory.errors import HostFactoryError, InvalidTransition, RequestClosed, VersionConflict
from hostfactory.fleet.capacity import capacity_sweep
from hostfactory.fleet.machines import machine_register, machine_update_status
from hostfactory.fleet.passes import machine_counts, record_pass, request_counts
from hostfactory.fleet.progress import request_machines, request_move, request_reconcile
from hostfactory.providers.base import Launch, LaunchFailed, LaunchUnsettled, Provider
from hostfactory.services import update_with_retry
from hostfactory.storage import history
from machines_app.domain import HFResult, Machine, MachineStatus, hf_acquire_result
from machines_app.services import machine_reclaim
from requests_app.domain import REQUEST_FIELDS, Request, RequestStatus, RequestType

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

logger = logging.getLogger("hostfactory.provision")
# Machines still holding a host that a return must terminate.
TERMINABLE = frozenset(
    {MachineStatus.PENDING, MachineStatus.RUNNING, MachineStatus.STOPPING, MachineStatus.STOPPED, MachineStatus.UNKNOWN}
)


def new_worker_id() -> str:
    """Who holds a claim: host, process and a random part (two runs in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class ProvisionReport:
    launched: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    reclaimed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sync: Any = None

    def lines(self) -> list[str]:
        named = [
            ("launched", self.launched),
            ("failed", self.failed),
            ("registered", self.registered),
            ("finished", self.finished),
            ("terminated", self.terminated),
            ("released", self.released),
            ("reclaim", self.reclaimed),
            ("skipped", self.skipped),
            ("error", self.errors),
        ]
        return [f"{label} {item}" for label, items in named for item in items]

    def summary(self) -> str:
        text = (
            f"{len(self.launched)} requests launched, {len(self.failed)} failed, "
            f"{len(self.registered)} machines registered, {len(self.terminated)} terminated, "
            f"{len(self.finished)} requests finished, {len(self.reclaimed)} reclaim notices, "
            f"{len(self.errors)} errors (retried next run)"
        )
        return f"{text}; sync: {self.sync.summary()}" if self.sync is not None else text


def provision_run(
    *,
    repos: Repositories,
    provider: Provider,
    worker: str | None = None,
    now: datetime | None = None,
    sync: bool = True,
) -> ProvisionReport:
    """One pass over the active requests (index queries by status; no scan)."""
    worker = worker or new_worker_id()
    now = now or utcnow()
    report = ProvisionReport()
    launched_now = set()
    for request in repos.requests.get_by_status(RequestStatus.PENDING):
        if request.request_type == RequestType.ACQUIRE:
            launched_now.add(request.request_id)
            _guarded(report, provision_launch, repos=repos, provider=provider, request=request, worker=worker)
    for request in repos.requests.get_by_status(RequestStatus.IN_PROGRESS):
        if request.request_type != RequestType.ACQUIRE or request.request_id in launched_now:
            continue
        if not is_launched(request):
            if claim_expired(request, now):
                _guarded(report, provision_launch, repos=repos, provider=provider, request=request, worker=worker)
        elif request.is_overdue(now) and not request.provider_data.get("final"):
            _guarded(report, provision_stop, repos=repos, provider=provider, request=request)
        else:
            _guarded(report, provision_follow, repos=repos, provider=provider, request=request)
    active = repos.requests.get_active_requests()
    for request in active:
        if request.request_type == RequestType.RETURN:
            _guarded(report, provision_return, repos=repos, provider=provider, request=request)
    if sync:
        try:
            with history.acting("sync", actor=history.current().who(), reason="provision pass: sync with the cloud"):
                report.sync = provider.sync_machines(repos=repos)
        except HostFactoryError as error:
            report.errors.append(f"sync: {error}")
        except Exception as error:  # the sync is retried next pass; the steps after it still run
            logger.exception("machine sync failed")
            report.errors.append(f"sync: {type(error).__name__}: {error}")
        live = getattr(report.sync, "live", None)
        if live:  # none without a sync that read the fleet (a provider with no cloud)
            provision_interruptions(repos=repos, provider=provider, report=report, live=live)
        capacity_sweep(repos=repos, now=now)
        # The sync may have settled the last hosts of a launch that brings no more.
        for request in repos.requests.get_by_status(RequestStatus.IN_PROGRESS):
            if request.request_type == RequestType.ACQUIRE and request.provider_data.get("final"):
                errors = request.provider_data.get("errors", [])
                _guarded(report, finish_short_launch, repos=repos, request=request, errors=errors)
    try:  # events a crashed writer left on their items reach the history
        repos.history.sweep()
    except HostFactoryError as error:
        report.errors.append(f"history: {error}")
    _record(repos, report, active)
    return report


def _record(repos: Repositories, report: ProvisionReport, active: list) -> None:
    """The pass's record (its counts are what it read: the live fleet only with a sync)."""
    sync = report.sync
    machines = machine_counts(sync.live, sync.changes) if getattr(sync, "live", None) is not None else {}
    try:
        record_pass(repos, "provision", errors=len(report.errors), machines=machines, requests=request_counts(active))
    except HostFactoryError as error:
        report.errors.append(f"pass record: {error}")


def _guarded(report: ProvisionReport, step, **kwargs) -> None:
    """Run one request's step; a failure of one request never stops the others."""
    request_id = kwargs["request"].request_id
    try:
        step(report=report, **kwargs)
    except HostFactoryError as error:
        report.errors.append(f"{request_id}: {error}")
    except Exception as error:
        logger.exception("provisioning %s failed", request_id)
        report.errors.append(f"{request_id}: {type(error).__name__}: {error}")


def is_launched(request: Request) -> bool:
    return "api" in request.provider_data


def claim_expired(request: Request, now: datetime) -> bool:
    """An in-progress request without a launch record: its claimer died, or an operator moved
    it. Taken over only once the claim is older than the claim timeout."""
    claimed_at = request.provider_data.get("claimed_at")
    if not claimed_at:
        return True
    try:
        since = datetime.fromisoformat(claimed_at)
    except (TypeError, ValueError):
        return True
    return now - since >= timedelta(seconds=settings.HOSTFACTORY_PROVISION_CLAIM_TIMEOUT)


def request_claim(*, repos: Repositories, request: Request, worker: str, now: datetime | None = None) -> Request | None:
    """Claim ``request`` for launching, or None when another provisioner got it first.

    One save at the version we read: of any number of claimers exactly one succeeds."""
    now = now or utcnow()
    claimed = request.with_status(RequestStatus.IN_PROGRESS, now).replace(
        provider_data={**request.provider_data, "claimed_by": worker, "claimed_at": now.isoformat()}
    )
    try:
        return repos.requests.save(claimed)
    except VersionConflict:
        return None


def provision_launch(
    *, repos: Repositories, provider: Provider, request: Request, worker: str, report: ProvisionReport
) -> None:
    """Claim, find an earlier attempt's launch or launch, record, register the machines."""
    template = repos.templates.get_by_id(request.template_id)
    problem = provider.launch_problem(template, request.template_id)
    claimed = request_claim(repos=repos, request=request, worker=worker)
    if claimed is None:
        report.skipped.append(f"{request.request_id}: claimed by another provisioner")
        return
    if problem:
        _end(repos=repos, request=claimed, status=RequestStatus.FAILED, message=problem)
        report.failed.append(f"{request.request_id}: {problem}")
        return
    try:
        launch = provider.find_launch(request=claimed, template=template) or provider.launch(
            request=claimed, template=template
        )
    except LaunchFailed as error:
        message = f"Launch failed: {error}"
        _end(repos=repos, request=claimed, status=RequestStatus.FAILED, message=message)
        report.failed.append(f"{request.request_id}: {message}")
        return
    except LaunchUnsettled as error:
        report.errors.append(f"{request.request_id}: launch outcome unknown, retried after the claim expires: {error}")
        return
    stored = record_launch(repos=repos, request=claimed, launch=launch)
    report.launched.append(f"{request.request_id}: {describe_launch(launch)}")
    provision_follow(repos=repos, provider=provider, request=stored, report=report)


def record_launch(*, repos: Repositories, request: Request, launch: Launch) -> Request:
    """Store what was launched on the request (merged into whatever was stored meanwhile);
    ``final`` marks a launch that brings no more hosts."""
    data = {**launch.provider_data, **({"final": True} if launch.final else {})}
    return update_with_retry(
        repos.requests,
        request.request_id,
        lambda current: current.replace(provider_data={**current.provider_data, **data}),
    )


def describe_launch(launch: Launch) -> str:
    data = launch.provider_data
    where = data.get("fleet_id") or data.get("spot_fleet_request_id") or data.get("group_name") or ""
    text = f"{data.get('api')}{' ' + where if where else ''}, {len(launch.instance_ids)} instances so far"
    return text + (f"; errors: {'; '.join(launch.errors)}" if launch.errors else "")


def register_instances(
    *, repos: Repositories, provider: Provider, request: Request, instance_ids: list[str], report: ProvisionReport
) -> None:
    """Record the request's instances not yet known as machines (pending; the sync moves them on)."""
    current = repos.requests.get_by_id(request.request_id) or request
    known = set(current.machine_ids)
    new = [instance_id for instance_id in dict.fromkeys(instance_ids) if instance_id not in known]
    if not new:
        return
    described = provider.describe_instances(new)
    for instance_id in new:
        info = described.get(instance_id)
        machine = Machine(
            machine_id=instance_id,
            request_id=request.request_id,
            template_id=request.template_id,
            name=info.private_dns_name if info else "",
            private_ip_address=info.private_ip_address if info else None,
            public_ip_address=info.public_ip_address if info else None,
            instance_type=info.instance_type if info else None,
            price_type=info.price_type if info else None,
            launch_time=info.launch_time if info else None,
            tags=info.tags if info else {},
        )
        try:
            machine_register(repos=repos, machine=machine)
        except RequestClosed as error:
            report.skipped.append(f"{instance_id}: {error}")
            continue
        report.registered.append(f"{instance_id} for {request.request_id}")


def provision_follow(*, repos: Repositories, provider: Provider, request: Request, report: ProvisionReport) -> None:
    """A launch still filling (a fleet or group): register the instances it has now."""
    launch = provider.launch_progress(request=request)
    register_instances(repos=repos, provider=provider, request=request, instance_ids=launch.instance_ids, report=report)
    if not launch.final:
        return
    if not request.provider_data.get("final"):
        final = Launch({"final": True, "errors": launch.errors})
        request = record_launch(repos=repos, request=request, launch=final)
    finish_short_launch(repos=repos, request=request, errors=launch.errors, report=report)


def provision_stop(*, repos: Repositories, provider: Provider, request: Request, report: ProvisionReport) -> None:
    """A launch still filling at its request's deadline: register what it has, then stop it
    bringing hosts nobody waits for (the sync then times the request out)."""
    launch = provider.launch_progress(request=request)
    register_instances(repos=repos, provider=provider, request=request, instance_ids=launch.instance_ids, report=report)
    provider.stop(request=request)
    reason = f"Stopped at the request's deadline with {len(launch.instance_ids)} instances launched."
    record_launch(repos=repos, request=request, launch=Launch({"stopped": True, "errors": [*launch.errors, reason]}))
    report.finished.append(f"{request.request_id}: launch stopped at the deadline")


def finish_short_launch(*, repos: Repositories, request: Request, errors: list[str], report: ProvisionReport) -> None:
    """End a launch that will bring no more hosts once none of its hosts is still starting:
    complete when the started hosts cover the asked capacity (a host counts its vmTypes
    weight), else partial or failed with the cloud's errors. Launches that got every host
    are completed by the usual reconciliation as well; the first to decide wins."""
    current = repos.requests.get_by_id(request.request_id)
    if current is None or current.is_terminal:
        return
    machines = request_machines(repos=repos, request=current)
    results = [hf_acquire_result(machine) for machine in machines]
    if HFResult.EXECUTING in results:
        return
    weights = current.provider_data.get("weights") or {}
    started = [m for m, result in zip(machines, results, strict=True) if result == HFResult.SUCCEED]
    units = sum(int(weights.get(machine.instance_type or "", 1)) for machine in started)
    if units >= current.machine_count:
        status, message = RequestStatus.COMPLETE, ""
    else:
        status = RequestStatus.PARTIAL if started else RequestStatus.FAILED
        message = f"{len(started)} of {current.machine_count} machines started"
        message += f"; launch errors: {'; '.join(errors)}" if errors else "."
    _end(repos=repos, request=current, status=status, message=message)
    report.finished.append(f"{request.request_id}: {status.value} {message}".rstrip())


def _end(*, repos: Repositories, request: Request, status: RequestStatus, message: str) -> None:
    with contextlib.suppress(InvalidTransition):  # finished meanwhile (cancelled, timed out)
        request_move(repos=repos, request=request, status=status, message=REQUEST_FIELDS["message"].clip(message))


def provision_return(*, repos: Repositories, provider: Provider, request: Request, report: ProvisionReport) -> None:
    """Terminate the return's hosts that still run, per acquire request (so a fleet that
    maintains capacity is lowered first), then clean up launches with no host left. It
    first claims every host the return still has to claim (the polls claim a share each)."""
    request = request_reconcile(repos=repos, request=request, claim_limit=None)
    if request.is_terminal:
        return
    machines = [
        m
        for m in request_machines(repos=repos, request=request)
        if m.status in TERMINABLE and m.return_request_id == request.request_id
    ]
    by_acquire: dict[str, list[Machine]] = defaultdict(list)
    for machine in machines:
        by_acquire[machine.request_id].append(machine)
    for acquire_id, group in by_acquire.items():
        acquire = repos.requests.get_by_id(acquire_id)
        if acquire is None or not is_launched(acquire):
            report.skipped.append(f"{request.request_id}: {len(group)} hosts of {acquire_id} not launched here")
            continue
        _terminate(repos=repos, provider=provider, acquire=acquire, machines=group, report=report)
    request_reconcile(repos=repos, request=repos.requests.get_by_id(request.request_id) or request)


def _terminate(
    *, repos: Repositories, provider: Provider, acquire: Request, machines: list[Machine], report: ProvisionReport
) -> None:
    weights = acquire.provider_data.get("weights") or {}
    returning = {machine.machine_id for machine in machines}
    kept = [
        m
        for m in request_machines(repos=repos, request=acquire)
        if m.is_live and m.return_request_id is None and m.machine_id not in returning
    ]
    keep = sum(int(weights.get(machine.instance_type or "", 1)) for machine in kept)
    states = provider.terminate(request=acquire, machines=machines, keep=keep)
    for machine in machines:
        state = states.get(machine.machine_id, MachineStatus.SHUTTING_DOWN.value)
        target = MachineStatus(state) if state in MachineStatus._value2member_map_ else MachineStatus.SHUTTING_DOWN
        with contextlib.suppress(InvalidTransition):  # moved on meanwhile (the sync saw it go)
            machine_update_status(repos=repos, machine_id=machine.machine_id, status=target)
        report.terminated.append(f"{machine.machine_id} of {acquire.request_id} ({state})")
    if not kept:
        provision_release(repos=repos, provider=provider, request_id=acquire.request_id, report=report)


def provision_release(*, repos: Repositories, provider: Provider, request_id: str, report: ProvisionReport) -> None:
    """Delete the fleet, group or launch template of a finished request with no live host."""
    acquire = repos.requests.get_by_id(request_id)
    if acquire is None or acquire.is_active or acquire.provider_data.get("released"):
        return
    known = set(acquire.machine_ids)
    provider.release(request=acquire, known_instance_ids=known)
    update_with_retry(
        repos.requests, request_id, lambda r: r.replace(provider_data={**r.provider_data, "released": True})
    )
    report.released.append(request_id)


def provision_interruptions(
    *, repos: Repositories, provider: Provider, report: ProvisionReport, live: list[Machine]
) -> None:
    """Spot hosts the cloud is about to take back get ``reclaim_at``, so getReturnRequests
    hands them back to Host Factory before they vanish. ``live`` is what the pass's sync read:
    no second read of the fleet (the cloud is asked about the spot hosts among them)."""
    spot = [
        machine
        for machine in live
        if machine.status in (MachineStatus.PENDING, MachineStatus.RUNNING)
        and machine.price_type == "spot"
        and machine.reclaim_at is None
    ]
    if not spot:
        return
    try:
        described = provider.describe_instances([machine.machine_id for machine in spot])
    except HostFactoryError as error:
        report.errors.append(f"interruption check: {error}")
        return
    for machine in spot:
        info = described.get(machine.machine_id)
        if info and info.interruption_at:
            machine_reclaim(repos=repos, machine_id=machine.machine_id, at=info.interruption_at)
            report.reclaimed.append(
                f"{machine.machine_id}: {info.interruption_reason} at {info.interruption_at:%H:%M:%S}"
            )
