"""Conformance with real Host Factory traffic (tests/fixtures/hostfactory/).

Every sample input is accepted; our outputs have the shape of the sample outputs of the same
operation: every key all samples carry, the same JSON type for every key both carry, and
values from the sets Host Factory knows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hostfactory.fleet.machines import machine_update_status
from machines_app.services import machine_reclaim
from templates_app.domain import Template
from templates_app.services import templates_load
from tests.api.fixtures import add_acquire, add_template, launch
from tests.support.samples import OHFP_TEMPLATES, SAMPLES

# Every decision here reads base items only: these tests also run with stale indexes.
pytestmark = pytest.mark.decides

OPERATIONS = (
    "getAvailableTemplates",
    "requestMachines",
    "requestReturnMachines",
    "getRequestStatus",
    "getReturnRequests",
)

REQUEST_STATUSES = {"running", "complete", "complete_with_error"}
RESULTS = {"succeed", "executing", "fail"}
# EC2 instance states, as Host Factory samples spell them in any case.
MACHINE_STATUSES = {"pending", "running", "stopping", "stopped", "shutting-down", "terminated"}
ATTRIBUTE_TYPES = {"String", "Numeric", "Boolean"}
# "k=v;k2=v2" or "" (IBM's instanceTags)
INSTANCE_TAGS_RE = re.compile(r"(|[^=;]+=[^;]*(;[^=;]+=[^;]*)*)")
# Objects keyed by free-form names rather than by field names.
MAPS = {"attributes", "vmTypes"}


def samples(pattern: str) -> list[Path]:
    found = sorted(SAMPLES.rglob(pattern))
    assert found, f"no {pattern} under {SAMPLES}"
    return found


def operation_of(path: Path) -> str:
    return path.name.split(".")[0]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def seed(repos) -> dict[str, Any]:
    """State in which every operation has something to say: the templates the samples ask
    for, the hosts of the sample traffic running, a return, a reclaim and a lost host."""
    files = [OHFP_TEMPLATES, *samples("getAvailableTemplates.output.json")]
    templates = {}
    for path in files:
        for data in load(path)["templates"]:
            data = {key: value for key, value in data.items() if value is not None}
            data["maxNumber"] = max(data["maxNumber"], 20)
            templates[data["templateId"]] = Template.from_hostfactory(data)
    templates_load(repos=repos, templates=list(templates.values()))

    add_template(repos, "conformance", max_number=-1)
    acquire = add_acquire(repos, "conformance", count=6)
    tags = {"team": "hpc", "project": "risk", "hostfactory:request-id": acquire.request_id}
    machines = launch(repos, acquire, count=4, instance_type="r5n.2xlarge", price_type="ondemand", tags=tags)
    machines += launch(repos, acquire, count=1, status="pending")
    machines += launch(repos, acquire, count=1, status="failed")
    returned, reclaimed, lost = machines[0], machines[1], machines[2]
    return_answer = {"machines": [{"name": returned.name, "machineId": returned.machine_id}]}
    machine_reclaim(repos=repos, machine_id=reclaimed.machine_id)
    machine_update_status(repos=repos, machine_id=lost.machine_id, status="terminated")
    return {"acquire": acquire, "machines": machines, "return_body": return_answer}


@pytest.fixture
def traffic(storage, plugin) -> dict[str, Any]:
    state = seed(storage)
    answer = plugin.post("/api/v1/hostfactory/requestReturnMachines", state["return_body"], format="json").json()
    state["return_id"] = answer["requestId"]
    return state


def post(client, operation: str, body: Any):
    return client.post(f"/api/v1/hostfactory/{operation}", body, format="json")


def test_every_sample_input_is_accepted(traffic, plugin, subtests):
    for path in samples("*.input*.json"):
        with subtests.test(sample=str(path.relative_to(SAMPLES))):
            response = post(plugin, operation_of(path), load(path))
            body = response.json()
            assert response.status_code in (200, 400), (response.status_code, body)
            if response.status_code == 400:  # e.g. a template id the service does not know
                assert list(body) == ["message"] and body["message"]


def our_outputs(client, state: dict[str, Any]) -> dict[str, list[Any]]:
    hosts = [{"name": m.name, "machineId": m.machine_id} for m in state["machines"]]
    statuses = {"requests": [{"requestId": state["acquire"].request_id}, {"requestId": state["return_id"]}]}
    asks = {
        "getAvailableTemplates": [{}],
        "requestMachines": [{"template": {"templateId": "conformance", "machineCount": 2}}],
        "requestReturnMachines": [{"machines": hosts[3:4]}, {"machines": [{"machineId": "i-unknown"}]}],
        "getRequestStatus": [statuses],
        "getReturnRequests": [{"machines": hosts}, {"machines": []}],
    }
    outputs = {}
    for operation, bodies in asks.items():
        responses = [post(client, operation, body) for body in bodies]
        assert all(r.status_code == 200 for r in responses), [r.json() for r in responses]
        outputs[operation] = [r.json() for r in responses]
    return outputs


def test_our_outputs_have_the_shape_of_the_samples(traffic, plugin, subtests):
    outputs = our_outputs(plugin, traffic)
    # The outputs say something: every machine result, and hosts to give back.
    machines = [m for r in outputs["getRequestStatus"][0]["requests"] for m in r["machines"]]
    assert {m["result"] for m in machines} == RESULTS
    assert len(outputs["getReturnRequests"][0]["requests"]) == 3  # reclaimed, terminated, failed
    # Tags as key=value without our bookkeeping ones; hosts without tags say "".
    assert {m["instanceTags"] for m in machines} == {"team=hpc;project=risk", ""}
    for operation in OPERATIONS:
        shapes = [load(path) for path in samples(f"{operation}.output*.json") if "failure" not in path.name]
        for output in outputs[operation]:
            with subtests.test(operation=operation, output=str(output)[:100]):
                assert_shape(output, shapes, operation)
                assert_values(operation, output)


def test_our_errors_have_the_shape_of_the_failure_sample(traffic, plugin):
    (failure,) = samples("requestMachines.output.failure.json")
    response = post(plugin, "requestMachines", {"template": {"templateId": "unknown", "machineCount": 1}})
    assert response.status_code == 400
    assert_shape(response.json(), [load(failure)], "requestMachines failure")


def assert_shape(ours: Any, shapes: list[Any], where: str) -> None:
    """Keys every sample has are ours too; keys both have hold the same JSON type."""
    shapes = [shape for shape in shapes if shape is not None]
    if not shapes:
        return
    if where.rsplit(".", 1)[-1] in MAPS:  # free-form names: each value like any sample value
        assert isinstance(ours, dict), f"{where}: expected an object, got {ours!r}"
        values = [value for shape in shapes for value in shape.values()]
        for key, value in ours.items():
            assert_shape(value, values, f"{where}[{key!r}]")
    elif all(isinstance(shape, dict) for shape in shapes):
        assert isinstance(ours, dict), f"{where}: expected an object, got {ours!r}"
        required = set.intersection(*(set(shape) for shape in shapes))
        assert required <= set(ours), f"{where}: missing {sorted(required - set(ours))}"
        for key in ours:
            assert_shape(ours[key], [shape[key] for shape in shapes if key in shape], f"{where}.{key}")
    elif all(isinstance(shape, list) for shape in shapes):
        assert isinstance(ours, list), f"{where}: expected a list, got {ours!r}"
        items = [item for shape in shapes for item in shape]
        for index, item in enumerate(ours):
            assert_shape(item, items, f"{where}[{index}]")
    else:
        kinds = {json_type(shape) for shape in shapes}
        assert json_type(ours) in kinds, f"{where}: {ours!r} is a {json_type(ours)}, samples have {kinds}"


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {str: "string", float: "number", dict: "object", list: "array"}.get(type(value), repr(type(value)))


def assert_values(operation: str, output: dict[str, Any]) -> None:
    if operation == "getAvailableTemplates":
        for template in output["templates"]:
            for name, pair in template["attributes"].items():
                assert isinstance(pair, list) and len(pair) == 2, (name, pair)
                assert pair[0] in ATTRIBUTE_TYPES and isinstance(pair[1], str), (name, pair)
            assert isinstance(template["maxNumber"], int)
    elif operation == "getRequestStatus":
        for request in output["requests"]:
            assert request["status"] in REQUEST_STATUSES
            for machine in request["machines"]:
                assert machine["result"] in RESULTS and machine["status"].lower() in MACHINE_STATUSES
                assert type(machine["launchtime"]) is int and machine["launchtime"] > 1_500_000_000
                assert all(value is not None for value in machine.values()), machine
                assert INSTANCE_TAGS_RE.fullmatch(machine["instanceTags"]), machine  # IBM's keys, IBM's form
                assert machine["cloudHostId"] == machine["machineId"], machine
                if machine["result"] == "fail":
                    assert machine["message"], machine
    elif operation == "getReturnRequests":
        assert output["status"] == "complete" and output["message"]
        for entry in output["requests"]:
            assert type(entry["gracePeriod"]) is int and entry["gracePeriod"] >= 0
    else:
        assert output["requestId"] and output["message"]
