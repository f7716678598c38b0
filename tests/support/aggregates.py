"""Valid aggregates for tests: every builder returns a fresh, never-saved value; keyword
arguments override any field."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from machines_app.domain import Machine
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
    return stored
