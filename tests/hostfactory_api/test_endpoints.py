"""The five Host Factory endpoints (hostfactory-protocol.md), on memory and on DynamoDB (moto)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.conf import settings

from hostfactory.domain import utcnow
from hostfactory.fleet.machines import machine_update_status
from hostfactory.storage.config import TABLE_KEYS
from hostfactory.storage.dynamodb import DynamoRepository
from machines_app.services import machine_reclaim
from requests_app.domain import RequestStatus
from tests.api.fixtures import add_acquire, add_template, launch
from tests.support.dynamodb_calls import count_dynamodb_calls

# Every decision here reads base items only: these tests also run with stale indexes.
pytestmark = pytest.mark.decides

HF = "/api/v1/hostfactory/"
ACQUIRE_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RETURN_ID = re.compile(r"^ret-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def call(client, operation: str, body=None):
    response = client.post(HF + operation, body if body is not None else {}, format="json")
    assert response["Content-Type"] == "application/json", response.content
    return response


def status_of(client, *request_ids: str) -> list[dict]:
    response = call(client, "getRequestStatus", {"requests": [{"requestId": i} for i in request_ids]})
    assert response.status_code == 200, response.json()
    return response.json()["requests"]


def hosts(*machines) -> dict:
    return {"machines": [{"name": m.name, "machineId": m.machine_id} for m in machines]}


def bad_input(response, *words: str) -> str:
    """A 400 whose only key is a message naming each of ``words``."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == ["message"] and body["message"]
    for word in words:
        assert word in body["message"], body["message"]
    return body["message"]


# -- getAvailableTemplates -----------------------------------------------------------------


def test_available_templates_lists_enabled_ones_with_their_room(storage, plugin):
    add_template(storage, "small", max_number=5, provider_config={"imageId": "ami-1", "vmType": "t3.micro"})
    add_template(storage, "off", enabled=False)
    add_template(storage, "endless", max_number=-1)
    request = add_acquire(storage, "small", count=3)
    launch(storage, request, count=1)

    body = call(plugin, "getAvailableTemplates").json()

    assert body["message"] == "Get available templates success."
    by_id = {t["templateId"]: t for t in body["templates"]}
    assert set(by_id) == {"small", "endless"}
    small = by_id["small"]
    # 5 minus one live machine minus the two the request has not launched yet.
    assert (small["maxNumber"], small["availableNumber"]) == (5, 2)
    assert small["imageId"] == "ami-1" and small["vmType"] == "t3.micro"
    assert small["attributes"]["ncpus"] == ["Numeric", "2"]
    assert by_id["endless"]["maxNumber"] == -1 and "availableNumber" not in by_id["endless"]


def test_available_templates_answers_get_and_ignores_the_input(storage, plugin):
    add_template(storage, "tpl")
    posted = call(plugin, "getAvailableTemplates", {"anything": ["ignored"]}).json()
    fetched = plugin.get(HF + "getAvailableTemplates").json()
    assert posted == fetched and [t["templateId"] for t in posted["templates"]] == ["tpl"]


# -- requestMachines -----------------------------------------------------------------------


def test_request_machines_creates_a_pending_request_with_a_deadline(storage, plugin):
    add_template(storage, "tpl", max_number=10)
    before = utcnow()

    body = call(plugin, "requestMachines", {"template": {"templateId": "tpl", "machineCount": 3}}).json()

    assert set(body) == {"requestId", "message"} and body["message"] == "Request VM success."
    assert ACQUIRE_ID.match(body["requestId"])
    stored = storage.requests.get_by_id(body["requestId"])
    assert (stored.status, stored.template_id, stored.machine_count) == (RequestStatus.PENDING, "tpl", 3)
    assert stored.requested_by == "plugin"
    timeout = timedelta(seconds=settings.HOSTFACTORY_REQUEST_TIMEOUT)
    assert before + timeout <= stored.deadline <= utcnow() + timeout


def test_request_machines_ignores_unknown_keys(storage, plugin):
    add_template(storage, "tpl")
    body = {"template": {"templateId": "tpl", "machineCount": 1, "extra": 1}, "rc_account": "default", "userData": {}}
    assert call(plugin, "requestMachines", body).status_code == 200


REQUEST_MACHINES_REFUSED = [
    ({"template": {"templateId": "tpl", "machineCount": 0}}, ["machineCount", "1..10000"]),
    ({"template": {"templateId": "tpl", "machineCount": -3}}, ["machineCount"]),
    ({"template": {"templateId": "tpl", "machineCount": 10**12}}, ["machineCount"]),
    ({"template": {"templateId": "tpl", "machineCount": 5}}, ["machineCount", "at most 4"]),
    ({"template": {"templateId": "tpl", "machineCount": "three"}}, ["machineCount", "integer"]),
    ({"template": {"templateId": "tpl", "machineCount": None}}, ["machineCount"]),
    ({"template": {"templateId": "tpl"}}, ["machineCount", "required"]),
    ({"template": {"templateId": "nope", "machineCount": 1}}, ["templateId", "unknown template 'nope'"]),
    ({"template": {"templateId": "off", "machineCount": 1}}, ["templateId", "disabled"]),
    ({"template": {"templateId": ["tpl"], "machineCount": 1}}, ["templateId"]),
    ({}, ["template", "required"]),
    ({"template": []}, ["template"]),
    ({"template": "tpl"}, ["template"]),
    ([], []),
    ("text", []),
    (3, []),
]


def test_request_machines_refuses_bad_input_and_stores_nothing(storage, plugin, subtests):
    add_template(storage, "tpl", max_number=4)
    add_template(storage, "off", enabled=False)
    for body, words in REQUEST_MACHINES_REFUSED:
        with subtests.test(body=body):
            bad_input(call(plugin, "requestMachines", body), *words)
    assert storage.requests.get_all() == []


def test_request_machines_refuses_malformed_json(storage, plugin):
    response = plugin.post(HF + "requestMachines", '{"template": {', content_type="application/json")
    bad_input(response, "JSON parse error")


# -- requestReturnMachines -----------------------------------------------------------------


@pytest.mark.reads_index  # hosts named without a machineId are found through the name index
def test_return_marks_the_machines_found_by_id_or_by_name(storage, plugin):
    add_template(storage, "tpl")
    first, second, kept = launch(storage, add_acquire(storage, "tpl", count=3))
    body = {
        "machines": [
            {"name": first.name, "machineId": first.machine_id},
            {"name": second.name},  # no id: found by host name
            {"name": "ip-never-seen", "machineId": "i-unknown"},
        ]
    }

    answer = call(plugin, "requestReturnMachines", body).json()

    assert answer["message"] == "Delete VM success." and RETURN_ID.match(answer["requestId"])
    returned = {m.machine_id for m in storage.machines.get_by_return_request_id(answer["requestId"])}
    assert returned == {first.machine_id, second.machine_id}
    assert storage.machines.get_by_id(kept.machine_id).return_request_id is None
    request = storage.requests.get_by_id(answer["requestId"])
    assert (request.machine_count, request.requested_by) == (2, "plugin")


def test_return_accepts_a_single_object(storage, plugin):
    add_template(storage, "tpl")
    (machine,) = launch(storage, add_acquire(storage, "tpl", count=1))
    body = {"machines": {"name": machine.name, "machineId": machine.machine_id}}
    answer = call(plugin, "requestReturnMachines", body).json()
    assert storage.machines.get_by_id(machine.machine_id).return_request_id == answer["requestId"]


def test_return_of_nothing_live_still_answers_a_request_id(storage, plugin):
    add_template(storage, "tpl")
    gone, returning = launch(storage, add_acquire(storage, "tpl", count=2))
    machine_update_status(repos=storage, machine_id=gone.machine_id, status="terminated")
    first = call(plugin, "requestReturnMachines", hosts(returning)).json()["requestId"]

    answer = call(plugin, "requestReturnMachines", hosts(gone, returning)).json()

    assert answer["message"] == "No Active VM." and RETURN_ID.match(answer["requestId"])
    assert storage.machines.get_by_id(returning.machine_id).return_request_id == first
    unknown = call(plugin, "requestReturnMachines", {"machines": [{"machineId": "i-nobody"}]}).json()
    assert unknown["message"] == "No Active VM."


RETURN_REFUSED = [
    ({}, ["machines", "required"]),
    ({"machines": [{}]}, ["machineId or a name"]),
    ({"machines": [{"machineId": 7, "name": ["x"]}]}, ["name"]),
    ({"machines": "i-1"}, ["machines"]),
    ({"machines": [{"machineId": "i-" + "9" * 300}]}, ["machineId"]),
]


def test_return_refuses_bad_input_and_stores_nothing(storage, plugin, subtests):
    add_template(storage, "tpl")
    (machine,) = launch(storage, add_acquire(storage, "tpl", count=1))
    for body, words in RETURN_REFUSED:
        with subtests.test(body=body):
            bad_input(call(plugin, "requestReturnMachines", {**body, "extra": hosts(machine)}), *words)
    assert storage.requests.get_active_requests() == []
    assert storage.machines.get_by_id(machine.machine_id).return_request_id is None


# -- getRequestStatus ----------------------------------------------------------------------


def test_status_follows_the_machines_of_an_acquire_request(storage, plugin):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=2)
    (entry,) = status_of(plugin, request.request_id)
    assert entry == {"requestId": request.request_id, "status": "running", "message": "", "machines": []}

    started = launch(storage, request, count=1)
    pending = launch(storage, request, count=1, status="pending")
    (entry,) = status_of(plugin, request.request_id)
    assert entry["status"] == "running"
    results = {m["machineId"]: (m["result"], m["status"]) for m in entry["machines"]}
    assert results == {started[0].machine_id: ("succeed", "running"), pending[0].machine_id: ("executing", "pending")}

    machine_update_status(
        repos=storage,
        machine_id=pending[0].machine_id,
        status="running",
        changes={"name": "ip-10-9-9-9.ec2.internal", "private_ip_address": "10.9.9.9"},
    )
    (entry,) = status_of(plugin, request.request_id)
    assert entry["status"] == "complete" and {m["result"] for m in entry["machines"]} == {"succeed"}


def test_status_machine_entries_are_host_factory_shaped(storage, plugin):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=2)
    (good,) = launch(storage, request, count=1, instance_type="t3.large")
    (bad,) = launch(storage, request, count=1, status="failed")

    (entry,) = status_of(plugin, request.request_id)

    by_id = {m["machineId"]: m for m in entry["machines"]}
    assert by_id[good.machine_id] == {
        "machineId": good.machine_id,
        "name": good.name,
        "result": "succeed",
        "status": "running",
        "privateIpAddress": good.private_ip_address,
        "publicIpAddress": "",
        "instanceType": "t3.large",
        "priceType": "",
        "launchtime": int(good.created_at.timestamp()),
        "message": "",
        "instanceTags": "",
        "cloudHostId": good.machine_id,
    }
    failed = by_id[bad.machine_id]
    assert (failed["result"], failed["status"], failed["message"]) == ("fail", "terminated", bad.status_reason)
    # One started, the other never will: Host Factory sees the request end with an error.
    assert (
        entry["status"] == "complete_with_error" and entry["message"] == "1 of 2 machines started; the others failed."
    )


def test_status_answers_mixed_known_and_unknown_ids_in_the_asked_order(storage, plugin):
    add_template(storage, "tpl")
    machines = launch(storage, add_acquire(storage, "tpl", count=1))
    acquire = machines[0].request_id
    returned = call(plugin, "requestReturnMachines", hosts(*machines)).json()["requestId"]
    unknown = ["req-00000000-0000-4000-8000-000000000000", "not-an-id", "ret-x"]

    entries = status_of(plugin, returned, unknown[0], acquire, unknown[1], unknown[2])

    assert [e["requestId"] for e in entries] == [returned, unknown[0], acquire, unknown[1], unknown[2]]
    for entry in (entries[1], entries[3], entries[4]):
        assert entry == {
            "requestId": entry["requestId"],
            "status": "complete_with_error",
            "message": "Unknown request.",
            "machines": [],
        }
    assert entries[0]["status"] == "running" and entries[0]["machines"][0]["result"] == "executing"
    assert entries[2]["status"] == "complete"


def test_status_of_a_return_completes_once_its_machines_are_gone(storage, plugin):
    add_template(storage, "tpl")
    machines = launch(storage, add_acquire(storage, "tpl", count=2))
    ret = call(plugin, "requestReturnMachines", hosts(*machines)).json()["requestId"]
    machine_update_status(repos=storage, machine_id=machines[0].machine_id, status="terminated")

    (entry,) = status_of(plugin, ret)
    assert entry["status"] == "running"
    assert sorted((m["result"], m["status"]) for m in entry["machines"]) == [
        ("executing", "running"),
        ("succeed", "terminated"),
    ]

    machine_update_status(repos=storage, machine_id=machines[1].machine_id, status="terminated")
    (entry,) = status_of(plugin, ret)
    assert entry["status"] == "complete"
    assert [(m["result"], m["status"]) for m in entry["machines"]] == [("succeed", "terminated")] * 2
    # Once returned, the machines are gone for the service too.
    assert {storage.machines.get_by_id(m.machine_id).status for m in machines} == {"returned"}


def test_polling_past_the_deadline_times_the_request_out(storage, plugin):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=2)
    launch(storage, request, count=1)
    storage.requests.save(storage.requests.get_by_id(request.request_id).replace(deadline=utcnow() - timedelta(1)))

    (entry,) = status_of(plugin, request.request_id)

    assert entry["status"] == "complete_with_error" and "Timed out" in entry["message"]
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.TIMEOUT


def test_status_accepts_a_single_object(storage, plugin):
    response = call(plugin, "getRequestStatus", {"requests": {"requestId": "a681e4c2-7ba1-4ac8-934a-c7337e59c5a4"}})
    assert response.json()["requests"][0]["message"] == "Unknown request."


STATUS_REFUSED = [
    ({}, ["requests", "required"]),
    ({"requests": [{}]}, ["requestId", "required"]),
    ({"requests": [{"requestId": ""}]}, ["requestId", "blank"]),
    ({"requests": [{"requestId": {"id": 1}}]}, ["requestId"]),
    ({"requests": [{"requestId": "r"}] * 1001}, ["requests", "1000"]),
    ({"requests": "req-1"}, ["requests"]),
]


def test_status_refuses_bad_input(storage, plugin, subtests):
    for body, words in STATUS_REFUSED:
        with subtests.test(body=str(body)[:80]):
            bad_input(call(plugin, "getRequestStatus", body), *words)


def test_status_reads_requests_and_machines_in_batches_and_no_index(storage, plugin, monkeypatch):
    add_template(storage, "tpl", max_number=-1)
    ids = [launch(storage, add_acquire(storage, "tpl", count=2))[0].request_id for _ in range(3)]
    status_of(plugin, *ids)  # settle: the requests complete on the first poll

    if isinstance(storage.requests, DynamoRepository):
        with count_dynamodb_calls(storage.requests, storage.machines) as counted:
            status_of(plugin, *ids)
        # One consistent batch for the 3 requests, one for their 6 machines: items read =
        # items answered, at most k + ceil(k/100) calls.
        assert counted.calls == {"BatchGetItem": 2}
        assert counted.items_read == 3 + 6
    else:
        for repository in storage.all():
            monkeypatch.setattr(repository, "_iter", lambda *a: pytest.fail("a listing or scan ran"))
        assert [e["status"] for e in status_of(plugin, *ids)] == ["complete"] * 3


# -- getReturnRequests ---------------------------------------------------------------------


def test_return_requests_lists_reclaimed_and_lost_hosts(storage, plugin, caplog):
    add_template(storage, "tpl", max_number=-1)
    soon, late, lost, returning, healthy = launch(storage, add_acquire(storage, "tpl", count=5))
    now = utcnow()
    machine_reclaim(repos=storage, machine_id=soon.machine_id, at=now - timedelta(seconds=30))
    machine_reclaim(repos=storage, machine_id=late.machine_id, at=now + timedelta(seconds=120))
    machine_update_status(repos=storage, machine_id=lost.machine_id, status="terminated")
    call(plugin, "requestReturnMachines", hosts(returning))
    machine_update_status(repos=storage, machine_id=returning.machine_id, status="terminated")
    body = hosts(soon, late, lost, returning, healthy)
    body["machines"].append({"name": "ip-stranger", "machineId": "i-stranger"})

    with caplog.at_level(logging.WARNING, logger="hostfactory.hostfactory_api"):
        answer = call(plugin, "getReturnRequests", body).json()

    assert (answer["status"], answer["message"]) == ("complete", "Machines to return.")
    listed = {entry["machineId"]: entry for entry in answer["requests"]}
    assert set(listed) == {soon.machine_id, late.machine_id, lost.machine_id}
    assert listed[soon.machine_id] == {"machine": soon.name, "machineId": soon.machine_id, "gracePeriod": 0}
    assert 100 <= listed[late.machine_id]["gracePeriod"] <= 120
    assert listed[lost.machine_id]["gracePeriod"] == 0
    assert "ip-stranger" in caplog.text


@pytest.mark.reads_index  # hosts named without a machineId are found through the name index
def test_return_requests_finds_hosts_by_name_and_says_when_nothing_is_wanted(storage, plugin):
    add_template(storage, "tpl")
    (machine,) = launch(storage, add_acquire(storage, "tpl", count=1))
    empty = call(plugin, "getReturnRequests", {"machines": [{"name": machine.name}]}).json()
    assert empty == {"status": "complete", "message": "No machines to return.", "requests": []}
    assert call(plugin, "getReturnRequests", {}).json() == empty

    machine_update_status(repos=storage, machine_id=machine.machine_id, status="stopping")
    machine_update_status(repos=storage, machine_id=machine.machine_id, status="stopped")
    answer = call(plugin, "getReturnRequests", {"machines": {"name": machine.name}}).json()
    assert answer["requests"] == [{"machine": machine.name, "machineId": machine.machine_id, "gracePeriod": 0}]


def test_return_requests_refuses_bad_input(storage, plugin):
    bad_input(call(plugin, "getReturnRequests", {"machines": [{"name": ""}]}), "machineId or a name")
    bad_input(call(plugin, "getReturnRequests", {"machines": 5}), "machines")


# -- authentication and errors -------------------------------------------------------------

OPERATIONS = [
    "getAvailableTemplates",
    "requestMachines",
    "requestReturnMachines",
    "getRequestStatus",
    "getReturnRequests",
]


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_callers_need_a_token_with_the_host_factory_permission(storage, anonymous, viewer, operation):
    response = call(anonymous, operation)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json() == {"message": "Authentication credentials were not provided."}

    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert call(anonymous, operation).json() == {"message": "Invalid token."}

    response = call(viewer, operation)
    assert response.status_code == 403 and "requests_app.call_hostfactory" in response.json()["message"]


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_an_unexpected_error_is_a_json_500_without_details(storage, plugin, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("hostfactory.hostfactory_api.views.hf_get_request_status", explode)
    with caplog.at_level(logging.ERROR, logger="hostfactory.api"):
        response = call(plugin, "getRequestStatus", {"requests": [{"requestId": "req-x"}]})

    assert response.status_code == 500
    assert list(response.json()) == ["message"] and "logged" in response.json()["message"]
    assert b"secret" not in response.content and b"Traceback" not in response.content
    assert "secret internals" in caplog.text  # the operators still see it


def test_unreachable_storage_is_a_503_with_a_message(settings, plugin):
    from moto import mock_aws

    from hostfactory.storage import reset_repositories

    tables = {name: f"missing-{name}" for name in TABLE_KEYS}
    unknown_request = {"requests": [{"requestId": "req-00000000-0000-4000-8000-000000000000"}]}
    with mock_aws():
        settings.HOSTFACTORY_STORAGE = {"type": "dynamodb", "region": "us-east-1", "tables": tables}
        reset_repositories()
        responses = [
            call(plugin, "getAvailableTemplates"),
            call(plugin, "getRequestStatus", unknown_request),
            call(plugin, "requestMachines", {"template": {"templateId": "tpl", "machineCount": 1}}),
        ]
    reset_repositories()
    for response in responses:
        assert response.status_code == 503
        assert list(response.json()) == ["message"] and "does not exist" in response.json()["message"]


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_oversized_input_is_refused_with_a_message(storage, plugin):
    hosts_over_limit = {"machines": [{"machineId": f"i-{n}"} for n in range(10001)]}
    bad_input(call(plugin, "getReturnRequests", hosts_over_limit), "machines", "10000")
    huge = {"machines": [{"name": "x" * 250, "machineId": f"i-{n}"} for n in range(10000)]}  # ~3 MB
    response = call(plugin, "requestReturnMachines", huge)
    assert response.status_code == 413 and list(response.json()) == ["message"]
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["message"]
    assert storage.requests.get_all() == []


def test_a_return_accounts_for_every_host_it_was_asked_for(storage, plugin):
    """Each host named in requestReturnMachines answers in that return's getRequestStatus: one
    already gone or unknown here as succeed/terminated (so Host Factory can release it), one
    another return holds with that return's progress (the return waits for it)."""
    add_template(storage, "tpl", max_number=-1)
    mine, elsewhere, gone = launch(storage, add_acquire(storage, "tpl", count=3))
    earlier = call(plugin, "requestReturnMachines", hosts(elsewhere)).json()["requestId"]
    machine_update_status(repos=storage, machine_id=gone.machine_id, status="terminated")
    asked = [*hosts(mine)["machines"], *hosts(elsewhere)["machines"], *hosts(gone)["machines"]]
    asked.append({"name": "ip-never-seen", "machineId": "i-0unknown0000000"})

    answer = call(plugin, "requestReturnMachines", {"machines": asked}).json()
    (entry,) = status_of(plugin, answer["requestId"])

    by_id = {machine["machineId"]: machine for machine in entry["machines"]}
    assert set(by_id) == {mine.machine_id, elsewhere.machine_id, gone.machine_id, "i-0unknown0000000"}
    assert (by_id[mine.machine_id]["result"], by_id[elsewhere.machine_id]["result"]) == ("executing", "executing")
    assert (by_id[gone.machine_id]["result"], by_id[gone.machine_id]["status"]) == ("succeed", "terminated")
    unknown = by_id["i-0unknown0000000"]
    assert (unknown["result"], unknown["status"], unknown["cloudHostId"]) == ("succeed", "terminated", None)
    assert entry["status"] == "running"
    # Only the earlier return gives that host back; once it is gone, both returns are done.
    assert storage.machines.get_by_id(elsewhere.machine_id).return_request_id == earlier
    for machine in (mine, elsewhere):
        machine_update_status(repos=storage, machine_id=machine.machine_id, status="terminated")
    assert [e["status"] for e in status_of(plugin, answer["requestId"], earlier)] == ["complete", "complete"]
