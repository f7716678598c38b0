"""/api/v1/machines/: every path, status code and error shape, on memory and on DynamoDB (moto)."""

from __future__ import annotations

import pytest

from hostfactory.fleet.requests import request_create_return
from requests_app.domain import RequestStatus
from tests.api.fixtures import OPERATORS, PROVISIONERS, add_acquire, add_template, launch, token_client

URL = "/api/v1/machines/"


@pytest.fixture
def operator(db):
    return token_client("operator", OPERATORS)


@pytest.fixture
def provisioner(db):
    return token_client("provisioner", PROVISIONERS)


@pytest.fixture
def request_of_two(storage):
    add_template(storage, "tpl")
    return add_acquire(storage, "tpl", count=2)


def register(client, request, machine_id: str, **fields):
    data = {"machine_id": machine_id, "request_id": request.request_id, "template_id": "tpl", **fields}
    return client.post(URL, data, format="json")


def report(client, machine_id: str, **fields):
    return client.post(URL + machine_id + "/status/", fields, format="json")


def test_register_and_report_reconcile_the_request(storage, provisioner, request_of_two):
    registered = register(provisioner, request_of_two, "i-0aaa", instance_type="t3.large", tags={"team": "hpc"})
    assert registered.status_code == 201
    data = registered.json()
    assert (data["status"], data["version"], data["tags"], data["return_request_id"]) == (
        "pending",
        1,
        {"team": "hpc"},
        None,
    )
    assert storage.requests.get_by_id(request_of_two.request_id).status == RequestStatus.IN_PROGRESS

    register(provisioner, request_of_two, "i-0bbb")
    for machine_id, address in (("i-0aaa", "10.0.0.1"), ("i-0bbb", "10.0.0.2")):
        reported = report(
            provisioner, machine_id, status="running", name=f"host-{machine_id}", private_ip_address=address
        )
        assert reported.status_code == 200, reported.json()
    assert reported.json()["private_ip_address"] == "10.0.0.2" and reported.json()["name"] == "host-i-0bbb"
    assert storage.requests.get_by_id(request_of_two.request_id).status == RequestStatus.COMPLETE
    assert provisioner.get(URL + "i-0bbb/").json() == reported.json()


REGISTER_REFUSED = [
    ({"request_id": "req-00000000-0000-4000-8000-000000000000"}, "request_id", "unknown acquire request"),
    ({"template_id": "other"}, "template_id", "must be the request's template"),
    ({"machine_id": "i with space"}, "machine_id", "without whitespace"),
    ({"private_ip_address": "10.0.0.300"}, "private_ip_address", "IPv4 or IPv6"),
    ({"status": "failed"}, "status_reason", "required when status is failed"),
    ({"status": "exploded"}, "status", "not a valid choice"),
    ({"price_type": "reserved"}, "price_type", "not a valid choice"),
    ({"tags": {"team": ["a", "b"]}}, "tags", "valid string"),
    ({"launch_time": "last tuesday"}, "launch_time", "Datetime has wrong format"),
]


def test_register_refuses_bad_input_and_stores_nothing(storage, provisioner, request_of_two, subtests):
    for changes, field, words in REGISTER_REFUSED:
        with subtests.test(changes=changes):
            data = {"machine_id": "i-0new", "request_id": request_of_two.request_id, "template_id": "tpl", **changes}
            response = provisioner.post(URL, data, format="json")
            assert response.status_code == 400 and response.json()["code"] == "invalid", response.json()
            assert words in str(response.json()[field])
    (machine,) = launch(storage, request_of_two, count=1)
    # A retry of a registration (its first answer lost) answers the stored machine, unchanged.
    retried = register(provisioner, request_of_two, machine.machine_id)
    assert retried.status_code == 201 and retried.json()["status"] == "running"
    assert [m.machine_id for m in storage.machines.get_all()] == [machine.machine_id]
    assert storage.requests.get_by_id(request_of_two.request_id).machine_ids == (machine.machine_id,)
    other = add_acquire(storage, "tpl", count=1)
    taken = register(provisioner, other, machine.machine_id)
    assert taken.status_code == 409 and taken.json()["code"] == "version_conflict", taken.json()
    assert storage.requests.get_by_id(other.request_id).machine_ids == ()


def test_status_reports_follow_the_transition_table(storage, provisioner, request_of_two):
    (machine,) = launch(storage, request_of_two, count=1)
    url_id = machine.machine_id

    refused = report(provisioner, url_id, status="pending")
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_transition"
    assert refused.json()["allowed"] == ["shutting-down", "stopping", "terminated", "unknown"]
    bad_address = report(provisioner, url_id, status="stopping", public_ip_address="nowhere")
    assert bad_address.status_code == 400 and "public_ip_address" in bad_address.json()
    assert storage.machines.get_by_id(url_id).status == "running"  # nothing written by either
    assert report(provisioner, url_id, status="gone").status_code == 400
    assert report(provisioner, "i-nobody", status="running").status_code == 404

    stopped = report(provisioner, url_id, status="terminated", status_reason="Spot interruption")
    assert (stopped.json()["status"], stopped.json()["status_reason"]) == ("terminated", "Spot interruption")


def test_put_and_patch_carry_the_version(storage, operator, request_of_two):
    (machine,) = launch(storage, request_of_two, count=1)
    url = URL + machine.machine_id + "/"

    patched = operator.patch(url, {"tags": {"owner": "ops"}, "version": machine.version}, format="json")
    assert patched.status_code == 200 and patched.json()["tags"] == {"owner": "ops"}
    assert patched.json()["name"] == machine.name  # untouched
    version = patched.json()["version"]

    replaced = operator.put(url, {"instance_type": "m5.large", "status": "running", "version": version}, format="json")
    assert replaced.status_code == 200
    data = replaced.json()
    assert (data["instance_type"], data["name"], data["tags"], data["request_id"]) == (
        "m5.large",
        "",
        {},
        machine.request_id,
    )

    stale = operator.patch(url, {"name": "late", "version": version}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    for field, value in (("request_id", "req-00000000-0000-4000-8000-000000000000"), ("machine_id", "i-other")):
        moved = operator.patch(url, {field: value, "version": version + 1}, format="json")
        assert moved.status_code == 400 and "cannot be changed" in moved.json()[field][0]
    backwards = operator.patch(url, {"status": "pending", "version": version + 1}, format="json")
    assert backwards.status_code == 409 and backwards.json()["code"] == "invalid_transition"
    assert operator.patch(url, {"name": "x"}, format="json").status_code == 400  # no version
    assert storage.machines.get_by_id(machine.machine_id).instance_type == "m5.large"


def test_put_and_patch_refuse_read_only_fields(storage, operator, request_of_two):
    (machine,) = launch(storage, request_of_two, count=1)
    url = URL + machine.machine_id + "/"
    ret = "ret-00000000-0000-4000-8000-000000000000"

    for method in ("put", "patch"):
        body = {"return_request_id": ret, "reclaim_at": "2026-01-01T00:00:00Z", "version": machine.version}
        response = getattr(operator, method)(url, body, format="json")
        assert response.status_code == 400, (method, response.content)
        assert sorted(set(response.json()) - {"code"}) == ["reclaim_at", "return_request_id"]
        assert "read-only" in response.json()["return_request_id"][0]
    assert storage.machines.get_by_id(machine.machine_id) == machine


def test_lookup_by_instance_ids(storage, operator, request_of_two):
    first, second = launch(storage, request_of_two)
    asked = [second.machine_id, "i-unknown", first.machine_id]

    found = operator.post(URL + "lookup/", {"instance_ids": asked}, format="json")

    assert found.status_code == 200
    assert [m["machine_id"] for m in found.json()["results"]] == [second.machine_id, first.machine_id]
    for data in ({"instance_ids": "i-1"}, {"instance_ids": ["i-1"] * 1001}, {"instance_ids": [""]}, {}):
        response = operator.post(URL + "lookup/", data, format="json")
        assert response.status_code == 400 and "instance_ids" in response.json(), data


def test_list_filters(storage, operator, request_of_two):
    first, second = launch(storage, request_of_two)
    report(operator, second.machine_id, status="terminated")
    returned, _ = request_create_return(repos=storage, machines=[storage.machines.get_by_id(first.machine_id)])

    def ids(query: str) -> set[str]:
        response = operator.get(URL + query)
        assert response.status_code == 200, response.json()
        return {m["machine_id"] for m in response.json()["results"]}

    assert ids("?status=terminated") == {second.machine_id}
    assert ids(f"?request_id={request_of_two.request_id}") == {first.machine_id, second.machine_id}
    assert ids(f"?return_request_id={returned.request_id}") == {first.machine_id}
    assert ids(f"?name={first.name}&template_id=tpl") == {first.machine_id}
    response = operator.get(URL + "?status=exploded")
    assert response.status_code == 400 and "status" in response.json()


def test_delete_reconciles_the_request(storage, operator, request_of_two):
    (machine,) = launch(storage, request_of_two, count=1)
    assert operator.delete(URL + machine.machine_id + "/").status_code == 204
    assert operator.get(URL + machine.machine_id + "/").status_code == 404
    assert operator.delete(URL + machine.machine_id + "/").json()["code"] == "not_found"
    assert storage.machines.get_by_request_id(request_of_two.request_id) == []


def test_a_retried_registration_of_an_ended_machine_gives_its_host_back_once(storage, provisioner):
    """A machine registered already failed frees its reserved host; the retry of that
    registration (its first answer lost) must not free it a second time."""
    add_template(storage, "tpl", max_number=4)
    request = add_acquire(storage, "tpl", count=2)
    assert storage.templates.usage("tpl").used == 2
    failed = {"status": "failed", "status_reason": "InsufficientInstanceCapacity"}
    for _attempt in range(2):
        answer = register(provisioner, request, "i-0failed", **failed)
        assert answer.status_code == 201, answer.json()
    assert storage.templates.usage("tpl").used == 1
