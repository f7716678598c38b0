"""Valid aggregates for tests: every builder returns a fresh, never-saved value; keyword
arguments override any field."""

from __future__ import annotations

import itertools
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
