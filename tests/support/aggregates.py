"""Valid aggregates for tests: every builder returns a fresh, never-saved value; keyword
arguments override any field."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from machines_app.domain import Machine
from machines_app.storage.dynamodb import name_key
from requests_app.domain import Request, RequestType, new_request_id
from templates_app.domain import Template

_numbers = itertools.count(1)


def template(template_id: str | None = None, **fields: Any) -> Template:
    values: dict[str, Any] = {
        "template_id": template_id or f"tpl-{next(_numbers)}",
        "max_number": 10,
        "attributes": {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "4096"]},
        "provider_api": "EC2Fleet",
        "provider_config": {"imageId": "ami-0123456789", "vmType": "t3.large", "securityGroupIds": ["sg-1"]},
    }
    values.update(fields)
    return Template(**values)


def acquire_request(**fields: Any) -> Request:
    values: dict[str, Any] = {
        "request_id": new_request_id(RequestType.ACQUIRE),
        "request_type": RequestType.ACQUIRE,
        "template_id": "tpl-a",
        "machine_count": 2,
    }
    values.update(fields)
    return Request(**values)


def return_request(**fields: Any) -> Request:
    values: dict[str, Any] = {
        "request_id": new_request_id(RequestType.RETURN),
        "request_type": RequestType.RETURN,
        "machine_count": 1,
    }
    values.update(fields)
    return Request(**values)


def machine(machine_id: str | None = None, **fields: Any) -> Machine:
    values: dict[str, Any] = {
        "machine_id": machine_id or f"i-{next(_numbers):017x}",
        "request_id": new_request_id(RequestType.ACQUIRE),
        "template_id": "tpl-a",
    }
    values.update(fields)
    return Machine(**values)


BUILDERS = {"templates": template, "requests": acquire_request, "machines": machine}


def bulk_save(repository, entities) -> list:
    """Store never-saved ``entities`` as ``save`` would (version 1, timestamps), quickly: one
    BatchWriteItem per 25 on DynamoDB instead of a PutItem each. For tests that need many
    items to read, not to test writing."""
    if not hasattr(repository, "model"):
        return [repository.save(entity) for entity in entities]
    now = datetime.now(UTC)
    stored = [entity.stamped(now).replace(version=1) for entity in entities]
    with repository.model.batch_write() as batch:
        for entity in stored:
            batch.save(repository.to_item(entity))
    names = getattr(repository, "name_model", None)  # machines: each host name's item too
    named = [entity for entity in stored if getattr(entity, "name", None)]
    if names is not None and named:
        with names.batch_write() as batch:
            for entity in named:
                batch.save(names(name_key(entity.name), named={entity.machine_id}))
    return stored


def store_machine(repos, machine: Machine) -> Machine:
    """Save ``machine`` straight into the repository, name it on its request and count it in
    its template's ledger (as a registration does), so progress and capacity see it. For fixtures that
    need a machine in a state registration would not give it."""
    stored = repos.machines.save(machine)
    for request_id in filter(None, (machine.return_request_id, machine.request_id)):
        request = repos.requests.get_by_id(request_id)
        if request is not None and machine.machine_id not in request.machine_ids:
            repos.requests.save(request.replace(machine_ids=(*request.machine_ids, machine.machine_id)))
    if machine.is_live and (request is None or request.is_terminal):
        repos.templates.add_usage(machine.template_id, 1)  # no active reservation holds its host
    return stored


def store_request(repos, request: Request) -> Request:
    """Save ``request`` straight into the repository; an active acquire request first
    reserves its hosts on its template's ledger (as ``requestMachines`` does)."""
    if request.request_type == RequestType.ACQUIRE and request.is_active:
        template = repos.templates.get_by_id(request.template_id)
        if template is not None and not repos.templates.reserve(template, request.request_id, request.machine_count):
            raise AssertionError(f"fixture: template {request.template_id} has no room for {request.machine_count}")
    return repos.requests.save(request)
