"""The five Host Factory operations (hostfactory-protocol.md) over the apps' services.

Input arrives already type-checked by the serializers; output is the exact Host Factory JSON:
camelCase keys, ``launchtime`` an int, ``""`` (never null) for unknown text.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hostfactory.domain import utcnow
from hostfactory.errors import DomainValidationError
from hostfactory.fleet.progress import request_reconcile, requests_with_machines
from hostfactory.fleet.requests import request_create_acquire, request_create_return, void_claims
from machines_app.domain import (
    LOST_STATUSES,
    HFResult,
    Machine,
    hf_acquire_result,
    hf_machine_message,
    hf_machine_status,
    hf_return_result,
)
from requests_app.domain import Request, RequestType, hf_request_status, request_type_of
from templates_app.domain import Template
from templates_app.services import TemplateFileError, templates_file_sync, templates_source

if TYPE_CHECKING:
    from hostfactory.storage import Repositories

logger = logging.getLogger("hostfactory.hostfactory_api")

TEMPLATES_MESSAGE = "Get available templates success."
REQUEST_MESSAGE = "Request VM success."
RETURN_MESSAGE = "Delete VM success."
NO_ACTIVE_VM = "No Active VM."
UNKNOWN_REQUEST = "Unknown request."
NOT_RETURNED = "Not returned: no return holds this host; ask for it again."
TO_RETURN_MESSAGE = "Machines to return."
NOTHING_TO_RETURN_MESSAGE = "No machines to return."
# Our field names as Host Factory's input calls them, so its administrator sees its own words.
HF_FIELD_NAMES = {"template_id": "templateId", "machine_count": "machineCount"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BOOKKEEPING_TAGS = ("hostfactory:", "aws:")


# -- getAvailableTemplates ---------------------------------------------------------------


def hf_get_available_templates(*, repos: Repositories) -> dict[str, Any]:
    """Enabled templates, with ``availableNumber`` for the limited ones."""
    # One paged read of the (small) templates table, each template with its capacity ledger:
    # the cost does not grow with the fleet.
    return {
        "message": TEMPLATES_MESSAGE,
        "templates": [
            hf_template(template, usage.available(template))
            for template, usage in repos.templates.get_all_with_usage()
            if template.enabled
        ],
    }


def hf_sync_templates_file(*, repos: Repositories, sent: dict[str, str] | None) -> None:
    """With HOSTFACTORY_TEMPLATES_SOURCE=hostfactory, load the conf-dir templates file the
    plugin sent (templates_file_sync) before the templates are read; else ignore it."""
    if templates_source() != "hostfactory":
        return
    if not sent:
        raise TemplateFileError(
            "HOSTFACTORY_TEMPLATES_SOURCE is hostfactory, but the plugin sent no templates file: it reads "
            "$HF_PROVIDER_CONFDIR/<HF_PROVIDER_NAME>prov_templates.json (install the plugin of export_plugin)"
        )
    report = templates_file_sync(repos=repos, name=sent["name"], sha256=sent["sha256"], content=sent.get("content"))
    if report is not None:
        logger.info("getAvailableTemplates: loaded %s from Host Factory: %s", sent["name"], report.summary())


def hf_template(template: Template, available: int | None) -> dict[str, Any]:
    """The templates-file form (provider settings at top level) plus ``availableNumber``, and
    ``providerApi`` set to the API the template launches with (open-hostfactory-plugin's key)."""
    data = template.to_hostfactory()
    if template.effective_provider_api:
        data["providerApi"] = template.effective_provider_api
    head = {"templateId": data.pop("templateId"), "maxNumber": data.pop("maxNumber")}
    if available is not None and not template.is_unlimited:
        head["availableNumber"] = available
    return {**head, **data}


# -- requestMachines ---------------------------------------------------------------------


def hf_request_machines(
    *, repos: Repositories, template_id: str, machine_count: int, requested_by: str = ""
) -> dict[str, Any]:
    try:
        request = request_create_acquire(
            repos=repos, template_id=template_id, machine_count=machine_count, requested_by=requested_by
        )
    except DomainValidationError as error:
        raise DomainValidationError(HF_FIELD_NAMES.get(error.field, error.field), error.rule) from None
    logger.info("requestMachines: %s for %d x %s by %s", request.request_id, machine_count, template_id, requested_by)
    return {"requestId": request.request_id, "message": REQUEST_MESSAGE}


# -- requestReturnMachines ---------------------------------------------------------------


def hf_request_return_machines(*, repos: Repositories, hosts: list[dict[str, str]], requested_by: str = "") -> dict:
    """A return request for the hosts we know and that are live and not already returning."""
    pairs = hf_find_machines(repos=repos, hosts=hosts)
    found = {m.machine_id: m for _host, m in pairs if m is not None}
    asked = [m.machine_id if m is not None else host.get("machineId") for host, m in pairs]
    request, marked = request_create_return(
        repos=repos, machines=list(found.values()), requested_by=requested_by, asked_ids=[i for i in asked if i]
    )
    logger.info("requestReturnMachines: %s returns %d of %d hosts", request.request_id, len(marked), len(hosts))
    return {"requestId": request.request_id, "message": RETURN_MESSAGE if marked else NO_ACTIVE_VM}


def hf_find_machines(*, repos: Repositories, hosts: list[dict[str, str]]) -> list[tuple[dict, Machine | None]]:
    """Each host with its machine: by ``machineId`` (consistent batch reads of 100), and by
    ``name`` only for a host sent without one (consistent batch reads of the names' items; a
    machineId we do not know is not looked up again by name: host names are reused, the id is
    the identity)."""
    ids = [host["machineId"] for host in hosts if host.get("machineId")]
    by_id = {machine.machine_id: machine for machine in repos.machines.get_by_instance_ids(ids)} if ids else {}
    names = [host["name"] for host in hosts if not host.get("machineId") and host.get("name")]
    by_name = {name: _preferred(found) for name, found in repos.machines.get_by_names(names).items()} if names else {}
    return [
        (host, by_id.get(host["machineId"]) if host.get("machineId") else by_name.get(host.get("name") or ""))
        for host in hosts
    ]


def _preferred(candidates: list[Machine]) -> Machine:
    """Host names are reused by the cloud: prefer a live machine, then the newest."""
    return max(candidates, key=lambda m: (m.is_live, m.created_at or EPOCH))


# -- getRequestStatus --------------------------------------------------------------------


def hf_get_request_status(*, repos: Repositories, request_ids: list[str]) -> dict[str, Any]:
    """One entry per asked id, in the asked order; acquire and return ids may be mixed.

    Reads the requests in consistent batches of 100, then all their machines by id in
    consistent batches of 100: no index, so a write made a moment ago is always seen. A
    request past its deadline, or whose machines say it is done, moves here (one write)."""
    known = [request_id for request_id in request_ids if request_type_of(request_id)]
    stored = {request.request_id: request for request in repos.requests.get_many(known)}
    with_machines = dict(
        (request.request_id, machines)
        for request, machines in requests_with_machines(repos=repos, requests=list(stored.values()))
    )
    now = utcnow()
    return {
        "requests": [
            hf_request_entry(
                repos=repos,
                request=stored.get(request_id),
                request_id=request_id,
                machines=with_machines.get(request_id, []),
                now=now,
            )
            for request_id in request_ids
        ]
    }


def hf_request_entry(
    *, repos: Repositories, request: Request | None, request_id: str, machines: list[Machine], now: datetime
) -> dict[str, Any]:
    if request is None:
        return {"requestId": request_id, "status": "complete_with_error", "message": UNKNOWN_REQUEST, "machines": []}
    machines = sorted(machines, key=_launch_order)
    request = request_reconcile(repos=repos, request=request, machines=machines, now=now)
    return {
        "requestId": request.request_id,
        "status": hf_request_status(request.status),
        "message": request.message,
        "machines": [hf_machine(machine, request) for machine in machines] + hf_other_hosts(repos, request, machines),
    }


def hf_other_hosts(repos: Repositories, request: Request, listed: list[Machine]) -> list[dict[str, Any]]:
    """The hosts a return was asked for that are not live (the live ones are listed with its
    machines): gone already (or never known here) they are ``succeed``/``terminated``, as IBM's
    provider lists them, so Host Factory can release each one."""
    shown = {machine.machine_id for machine in listed}
    wanted = [i for i in request.other_hosts if i not in shown]
    if not wanted:
        return []
    found = {machine.machine_id: machine for machine in repos.machines.get_many(wanted)}
    entries = []
    for machine_id in wanted:
        machine = found.get(machine_id)
        entries.append(hf_gone_host(machine_id) if machine is None else hf_machine(machine, request))
    return entries


def hf_gone_host(machine_id: str) -> dict[str, Any]:
    """A host this service holds no record of: gone, as far as Host Factory need care."""
    return {
        "machineId": machine_id,
        "name": "",
        "result": "succeed",
        "status": "terminated",
        "privateIpAddress": "",
        "publicIpAddress": "",
        "instanceType": "",
        "priceType": "",
        "launchtime": 0,
        "message": "",
        "instanceTags": "",
        "cloudHostId": None,
    }


def hf_machine(machine: Machine, request: Request) -> dict[str, Any]:
    if request.request_type == RequestType.RETURN:
        result = hf_return_result(machine, request.is_terminal)
    else:
        result = hf_acquire_result(machine)
    message = hf_machine_message(machine, result)
    held = machine.return_request_id == request.request_id
    if result == HFResult.FAIL and request.request_type == RequestType.RETURN and machine.is_live and not held:
        message = NOT_RETURNED  # the return ended before it could claim this host
    return {
        "machineId": machine.machine_id,
        "name": machine.name,
        "result": result.value,
        "status": hf_machine_status(machine.status),
        "privateIpAddress": machine.private_ip_address or "",
        "publicIpAddress": machine.public_ip_address or "",
        "instanceType": machine.instance_type or "",
        "priceType": machine.price_type or "",
        "launchtime": hf_launchtime(machine),
        "message": message,
        "instanceTags": hf_instance_tags(machine),
        "cloudHostId": machine.machine_id,
    }


def hf_instance_tags(machine: Machine) -> str:
    """The instance's tags as IBM writes them, ``key=value;key=value`` (``""`` for none),
    without the bookkeeping tags (ours, AWS's) no template set."""
    tags = [f"{key}={value}" for key, value in machine.tags.items() if not key.startswith(BOOKKEEPING_TAGS)]
    return ";".join(tags)


def hf_launchtime(machine: Machine) -> int:
    """Epoch seconds of the launch; before the cloud reports it, when we registered the
    machine (Host Factory wants an int, and 0 would read as 1970)."""
    moment = machine.launch_time or machine.created_at
    return int(moment.timestamp()) if moment else 0


def _launch_order(machine: Machine) -> tuple:
    return (hf_launchtime(machine), machine.machine_id)


# -- getReturnRequests -------------------------------------------------------------------


def hf_get_return_requests(
    *, repos: Repositories, hosts: list[dict[str, str]], now: datetime | None = None
) -> dict[str, Any]:
    """The hosts among ``hosts`` that we want back: reclaimed ones (``gracePeriod`` = seconds
    left) and ones gone outside Host Factory (0). Hosts already in a return are not listed
    again: Host Factory is giving them back already."""
    now = now or utcnow()
    found = hf_find_machines(repos=repos, hosts=hosts)
    void = void_claims(repos=repos, machines=[machine for _host, machine in found if machine is not None])
    wanted = []
    unknown = [host for host, machine in found if machine is None]
    if unknown:  # one line, however many: a 10,000-host call must not write 10,000 lines
        sample = ", ".join(f"{host.get('name')!r} ({host.get('machineId')!r})" for host in unknown[:5])
        more = ", ..." if len(unknown) > 5 else ""
        logger.warning("getReturnRequests: no record of %d hosts (%s%s)", len(unknown), sample, more)
    for host, machine in found:
        if machine is None:
            continue
        grace = hf_grace_period(machine, now, void)
        if grace is not None:
            name = host.get("name") or machine.name
            wanted.append({"machine": name, "machineId": machine.machine_id, "gracePeriod": grace})
    message = TO_RETURN_MESSAGE if wanted else NOTHING_TO_RETURN_MESSAGE
    return {"status": "complete", "message": message, "requests": wanted}


def hf_grace_period(machine: Machine, now: datetime, void_claims: frozenset[str] = frozenset()) -> int | None:
    """Seconds Host Factory has to give the host back, or None when we do not want it back
    (a return holds it already; a claim in ``void_claims``, whose return was never written,
    holds nothing)."""
    if machine.return_request_id is not None and machine.return_request_id not in void_claims:
        return None
    if machine.reclaim_at is not None:
        return max(0, math.ceil((machine.reclaim_at - now).total_seconds()))
    if machine.status in LOST_STATUSES:
        return 0
    return None
