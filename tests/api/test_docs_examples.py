"""Every example in the API docs is true.

Each request example is sent, as it stands, to a live server over a fresh memory store that
holds the fleet the examples describe (hostfactory/api/examples.py: IBM's templates and hosts,
made through the services as Host Factory and a provisioner would), and must be accepted; the
answer has the fields the response example shows, as has the answer of every read (GET). Each
example, request or response, validates against its schema in the OpenAPI document.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker

from hostfactory.api import examples as ex
from hostfactory.domain import utcnow
from hostfactory.fleet.machines import machine_register, machine_update_status
from hostfactory.fleet.requests import request_create_acquire
from hostfactory.hostfactory_api.services import hf_request_return_machines
from machines_app.domain import Machine
from machines_app.services import machine_reclaim
from templates_app.domain import Template
from templates_app.services import template_create
from tests.api.fixtures import OPERATORS, token_client

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = [
    (path, method, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
    if method in METHODS
]
# The object each path parameter names, where it is not the usual one (Spot-Template-VM, the
# pending request, the first kept host): the status report is about the pending host.
PLUGIN = "hostfactory-plugin"  # the user name the examples' requests were made by
PATH_IDS = {"machine_id": ex.KEPT_HOSTS[0][0], "template_id": ex.SPOT_ID, "request_id": ex.PENDING_ID}
PATH_IDS_BY_OPERATION = {"machines_status_create": {"machine_id": ex.PENDING_MACHINE_ID}}


def json_content(part: dict[str, Any]) -> dict[str, Any]:
    return part.get("content", {}).get("application/json", {})


def request_examples() -> list:
    return [
        pytest.param(path, method, operation, name, example["value"], id=f"{operation['operationId']}:{name}")
        for path, method, operation in OPERATIONS
        for name, example in json_content(operation.get("requestBody", {})).get("examples", {}).items()
    ]


def response_examples() -> list:
    return [
        pytest.param(status, content["schema"], example["value"], id=f"{operation['operationId']}:{status}:{name}")
        for _path, _method, operation in OPERATIONS
        for status, response in operation["responses"].items()
        if (content := json_content(response)).get("examples")
        for name, example in content["examples"].items()
    ]


def validate(validator_class, schema: dict[str, Any], value: Any) -> None:
    """``value`` against ``schema``, its references resolved in the whole document."""
    document = {**schema, "components": SCHEMA["components"]}
    validator_class(document, format_checker=oas30_format_checker).validate(value)


def test_every_endpoint_is_described_and_has_examples():
    missing = []
    for path, method, operation in OPERATIONS:
        where = f"{method.upper()} {path}"
        if not operation.get("summary") or not operation.get("description"):
            missing.append(f"{where}: summary or description")
        if "requestBody" in operation and not json_content(operation["requestBody"]).get("examples"):
            missing.append(f"{where}: request example")
        for status, response in operation["responses"].items():
            if status.startswith("2") and json_content(response) and not json_content(response).get("examples"):
                missing.append(f"{where}: {status} example")
    assert not missing, "\n".join(missing)
    assert len(OPERATIONS) > 30


def test_the_host_factory_operations_say_what_host_factory_sends_and_gets():
    for path, _method, operation in OPERATIONS:
        if path.startswith("/api/v1/hostfactory/"):
            assert len(operation["description"]) > 150, (path, operation["description"])
            assert "Host Factory" in operation["description"], path


@pytest.mark.parametrize(("status", "schema", "value"), response_examples())
def test_each_response_example_validates_against_its_schema(status, schema, value):
    validate(OAS30ReadValidator, schema, value)


@pytest.mark.parametrize(("path", "method", "operation", "name", "value"), request_examples())
def test_each_request_example_validates_against_its_schema(path, method, operation, name, value):
    validate(OAS30WriteValidator, json_content(operation["requestBody"])["schema"], value)


# -- sent to a live server ------------------------------------------------------------------


def launched(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def pending_host(machine_id: str, request_id: str) -> Machine:
    return Machine(
        machine_id=machine_id,
        request_id=request_id,
        template_id=ex.ONDEMAND_ID,
        instance_type=ex.INSTANCE_TYPE,
        price_type="ondemand",
    )


def add_host(repos, host: tuple, request_id: str) -> None:
    machine_id, name, address, epoch = host
    machine_register(repos=repos, machine=pending_host(machine_id, request_id))
    changes = {"name": name, "private_ip_address": address, "instance_type": ex.INSTANCE_TYPE}
    machine_update_status(
        repos=repos, machine_id=machine_id, status="running", changes={**changes, "launch_time": launched(epoch)}
    )


def seed_fleet(repos, monkeypatch) -> None:
    """The examples' fleet: IBM's two templates; ten hosts launched for ACQUIRE_ID, eight of
    them given back by return RETURN_ID (terminated), one of the other two reclaimed by the
    cloud in two minutes; PENDING_ID with one host launching and one to come."""
    ids = iter([ex.ACQUIRE_ID, ex.RETURN_ID, ex.PENDING_ID])
    with monkeypatch.context() as patch:  # the service names its requests as the samples do
        patch.setattr("hostfactory.fleet.requests.new_request_id", lambda kind: next(ids))
        for template_id, config in ((ex.ONDEMAND_ID, ex.ONDEMAND_CONFIG), (ex.SPOT_ID, ex.SPOT_CONFIG)):
            template = Template(
                template_id=template_id, max_number=10, attributes=ex.ATTRIBUTES, provider_config=config
            )
            template_create(repos=repos, template=template)
        request_create_acquire(repos=repos, template_id=ex.ONDEMAND_ID, machine_count=10, requested_by=PLUGIN)
        for host in ex.RETURNED_HOSTS + ex.KEPT_HOSTS:
            add_host(repos, host, ex.ACQUIRE_ID)
        hosts = [{"machineId": machine_id, "name": name} for machine_id, name, _ip, _t in ex.RETURNED_HOSTS]
        hf_request_return_machines(repos=repos, hosts=hosts, requested_by=PLUGIN)
        for machine_id, *_ in ex.RETURNED_HOSTS:
            machine_update_status(repos=repos, machine_id=machine_id, status="terminated")
        request_create_acquire(repos=repos, template_id=ex.ONDEMAND_ID, machine_count=2, requested_by=PLUGIN)
    machine_reclaim(repos=repos, machine_id=ex.KEPT_HOSTS[1][0], at=utcnow() + timedelta(seconds=120))
    machine_register(repos=repos, machine=pending_host(ex.PENDING_MACHINE_ID, ex.PENDING_ID))


def call(url: str, method: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}
    request = urllib.request.Request(url, data=data, method=method.upper(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def concrete(path: str, operation: dict[str, Any]) -> str:
    ids = {**PATH_IDS, **PATH_IDS_BY_OPERATION.get(operation["operationId"], {})}
    return path.format(**ids)


@pytest.fixture
def token(transactional_db) -> str:
    client = token_client("docs-reader", OPERATORS)
    return client.user.auth_token.key


@MEMORY
@pytest.mark.parametrize(("path", "method", "operation", "name", "value"), request_examples())
def test_each_request_example_is_accepted_by_a_live_server(
    storage, live_server, token, monkeypatch, path, method, operation, name, value
):
    seed_fleet(storage, monkeypatch)
    url = live_server.url + concrete(path, operation)
    body = dict(value) if isinstance(value, dict) else value
    if "version" in body:  # a client sends the version it read
        status, current = call(url, "get", token)
        assert status == 200, current
        body["version"] = current["version"]
    status, answer = call(url, method, token, body)
    assert 200 <= status < 300, (status, answer)
    shown = json_content(operation["responses"][str(status)])["examples"]
    for example in shown.values():
        assert same_fields(example["value"], answer), (example["value"], answer)


def same_fields(shown: Any, answered: Any, depth: int = 2) -> bool:
    """The example names the fields the answer has: at the top and in the items of its lists
    (the first of each; an empty list says nothing), whatever the values. Deeper down are
    free-form settings (``provider_config``, attributes) that differ from object to object."""
    if isinstance(shown, list) and isinstance(answered, list):
        return not shown or not answered or same_fields(shown[0], answered[0], depth)
    if depth == 0 or not (isinstance(shown, dict) and isinstance(answered, dict)):
        return True
    return set(shown) == set(answered) and all(same_fields(shown[key], answered[key], depth - 1) for key in shown)


@MEMORY
@pytest.mark.parametrize(
    ("path", "operation"),
    [pytest.param(path, op, id=op["operationId"]) for path, method, op in OPERATIONS if method == "get"],
)
def test_each_read_answers_the_fields_its_examples_show(storage, live_server, token, monkeypatch, path, operation):
    seed_fleet(storage, monkeypatch)
    status, answer = call(live_server.url + concrete(path, operation), "get", token)
    assert status == 200, answer
    for example in json_content(operation["responses"]["200"])["examples"].values():
        assert same_fields(example["value"], answer), (example["value"], answer)
