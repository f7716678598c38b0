"""/api/v1/requests/: every path, status code and error shape, on memory and on DynamoDB (moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hostfactory.domain import utcnow
from hostfactory.fleet.requests import request_create_return
from requests_app.domain import RequestStatus
from tests.api.fixtures import OPERATORS, PLUGINS, PROVISIONERS, add_acquire, add_template, launch, token_client

URL = "/api/v1/requests/"


@pytest.fixture
def operator(db):
    return token_client("operator", OPERATORS)


@pytest.fixture
def plugin(db):
    return token_client("plugin", PLUGINS)


@pytest.fixture
def provisioner(db):
    return token_client("provisioner", PROVISIONERS)


def test_create_an_acquire_request(storage, operator):
    add_template(storage, "tpl", max_number=5)

    response = operator.post(URL, {"template_id": "tpl", "machine_count": 2}, format="json")

    assert response.status_code == 201
    data = response.json()
    assert data["request_id"].startswith("req-") and data["request_type"] == "acquire"
    assert (data["status"], data["machine_count"], data["version"]) == ("pending", 2, 1)
    assert data["requested_by"] == "operator"
    assert data["deadline"] > data["created_at"] and data["completed_at"] is None
    assert operator.get(URL + data["request_id"] + "/").json() == data


CREATE_REFUSED = [
    ({"template_id": "nope", "machine_count": 1}, "template_id", "unknown template 'nope'"),
    ({"template_id": "off", "machine_count": 1}, "template_id", "disabled"),
    ({"template_id": "tpl", "machine_count": 0}, "machine_count", "1..10000"),
    ({"template_id": "tpl", "machine_count": 6}, "machine_count", "at most 5"),
    ({"template_id": "tpl", "machine_count": "two"}, "machine_count", "integer"),
    ({"template_id": "tpl"}, "machine_count", "required"),
    ({"machine_count": 1}, "template_id", "required"),
]


def test_create_refuses_bad_input_and_stores_nothing(storage, operator, subtests):
    add_template(storage, "tpl", max_number=5)
    add_template(storage, "off", enabled=False)
    for data, field, words in CREATE_REFUSED:
        with subtests.test(data=data):
            response = operator.post(URL, data, format="json")
            assert response.status_code == 400 and response.json()["code"] == "invalid"
            assert words in " ".join(response.json()[field])
    assert storage.requests.get_all() == []


def test_list_filters_and_active(storage, operator):
    add_template(storage, "a", max_number=-1)
    add_template(storage, "b", max_number=-1)
    pending = add_acquire(storage, "a", count=1)
    started = add_acquire(storage, "b", count=2)
    launch(storage, started, count=1)
    done = add_acquire(storage, "b", count=1)
    launch(storage, done)
    returned, _ = request_create_return(repos=storage, machines=[])

    def ids(path: str) -> set[str]:
        response = operator.get(path)
        assert response.status_code == 200, response.json()
        return {r["request_id"] for r in response.json()["results"]}

    assert ids(URL + "active/") == {pending.request_id, started.request_id}
    assert ids(URL + "?status=complete&request_type=acquire") == {done.request_id}
    assert ids(URL + "?request_type=return") == {returned.request_id}
    assert ids(URL + "?template_id=b") == {started.request_id, done.request_id}
    before = (utcnow() + timedelta(minutes=1)).isoformat()
    assert ids(URL + f"?created_before={before.replace('+', '%2B')}&template_id=a") == {pending.request_id}
    assert ids(URL + "?created_after=2999-01-01T00:00:00Z") == set()
    for query, field in [("?status=done", "status"), ("?created_after=yesterday", "created_after"), ("?x=1", "x")]:
        response = operator.get(URL + query)
        assert response.status_code == 400 and field in str(response.json()), query


def test_unknown_and_malformed_ids_are_404(storage, operator):
    for request_id in ("req-00000000-0000-4000-8000-000000000000", "not-a-request", "x" * 3000):
        response = operator.get(URL + request_id + "/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_patch_changes_the_message_with_the_version_it_read(storage, operator):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=1)
    url = URL + request.request_id + "/"

    changed = operator.patch(url, {"message": "Waiting for capacity.", "version": request.version}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["message"], changed.json()["version"]) == ("Waiting for capacity.", request.version + 1)

    stale = operator.patch(url, {"message": "lost update", "version": request.version}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    missing = operator.patch(url, {"message": "no version"}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()
    other = {"message": "x", "version": request.version + 1, "request_id": "req-00000000-0000-4000-8000-000000000000"}
    renamed = operator.patch(url, other, format="json")
    assert renamed.status_code == 400 and "cannot be changed" in renamed.json()["request_id"][0]
    assert operator.put(url, {"message": "x", "version": 2}, format="json").status_code == 405
    assert storage.requests.get_by_id(request.request_id).message == "Waiting for capacity."


def test_patch_refuses_read_only_fields_instead_of_ignoring_them(storage, operator):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=1)
    url = URL + request.request_id + "/"

    for body in (
        {"status": "cancelled", "version": request.version},
        {"message": "x", "completed_at": "2026-01-01T00:00:00Z", "machine_count": 9, "version": request.version},
    ):
        response = operator.patch(url, body, format="json")
        assert response.status_code == 400, response.content
        refused = sorted(set(body) - {"message", "version"})
        assert sorted(set(response.json()) - {"code"}) == refused
        assert "writable fields: message, request_id, version" in response.json()[refused[0]][0]
    assert storage.requests.get_by_id(request.request_id) == request  # nothing changed


def test_a_finished_request_keeps_its_message(storage, operator):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=1)
    url = URL + request.request_id + "/"
    operator.post(url + "status/", {"status": "cancelled", "message": "Not needed."}, format="json")
    finished = storage.requests.get_by_id(request.request_id)

    rewritten = operator.post(url + "status/", {"status": "cancelled", "message": "Never asked."}, format="json")
    assert rewritten.status_code == 409 and rewritten.json()["code"] == "invalid_transition"
    assert "a final status" in rewritten.json()["detail"]
    patched = operator.patch(url, {"message": "Never asked.", "version": finished.version}, format="json")
    assert patched.status_code == 409 and "a final status" in patched.json()["detail"]
    # Saying again what is already true changes nothing and is fine.
    again = operator.post(url + "status/", {"status": "cancelled", "message": "Not needed."}, format="json")
    assert again.status_code == 200 and again.json()["message"] == "Not needed."
    assert operator.post(url + "status/", {"status": "cancelled"}, format="json").status_code == 200
    assert storage.requests.get_by_id(request.request_id).message == "Not needed."


def test_status_changes_follow_the_transition_table(storage, operator):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=1)
    url = URL + request.request_id + "/status/"

    moved = operator.post(url, {"status": "in_progress"}, format="json")
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
    done = operator.post(url, {"status": "failed", "message": "Quota exceeded."}, format="json")
    assert (done.json()["status"], done.json()["message"]) == ("failed", "Quota exceeded.")
    assert done.json()["completed_at"] is not None

    refused = operator.post(url, {"status": "pending"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_transition" and refused.json()["allowed"] == []
    assert "cannot move from 'failed' to 'pending'" in refused.json()["detail"]
    unknown = operator.post(url, {"status": "finished"}, format="json")
    assert unknown.status_code == 400 and "status" in unknown.json()
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.FAILED
    assert operator.post(URL + "not-a-request/status/", {"status": "failed"}, format="json").status_code == 404


def test_only_operators_end_a_request_by_hand(storage, operator, plugin, provisioner):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=1)
    url = URL + request.request_id + "/status/"

    for status in ("cancelled", "failed", "timeout", "complete", "partial"):
        refused = provisioner.post(url, {"status": status}, format="json")
        assert refused.status_code == 403, (status, refused.content)
        assert "requests_app.cancel_request" in refused.json()["detail"] and status in refused.json()["detail"]
        assert plugin.post(url, {"status": status}, format="json").status_code == 403
    assert plugin.post(url, {"status": "in_progress"}, format="json").status_code == 403  # plugins only read
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.PENDING
    assert provisioner.post(url, {"status": "in_progress"}, format="json").status_code == 200
    assert operator.post(url, {"status": "cancelled"}, format="json").json()["status"] == "cancelled"


def test_machines_of_acquire_and_return_requests(storage, operator):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=2)
    first, second = launch(storage, request)
    returned, _ = request_create_return(repos=storage, machines=[second])

    acquired = operator.get(URL + request.request_id + "/machines/").json()
    assert acquired["next"] is None
    assert {m["machine_id"] for m in acquired["results"]} == {first.machine_id, second.machine_id}
    given_back = operator.get(URL + returned.request_id + "/machines/").json()["results"]
    assert [(m["machine_id"], m["return_request_id"]) for m in given_back] == [(second.machine_id, returned.request_id)]


def test_delete_only_finished_requests(storage, operator):
    add_template(storage, "tpl")
    request = add_acquire(storage, "tpl", count=1)
    url = URL + request.request_id + "/"

    active = operator.delete(url)
    assert active.status_code == 409 and active.json()["code"] == "in_use"
    assert "cancel it first" in active.json()["detail"]
    operator.post(url + "status/", {"status": "cancelled"}, format="json")
    assert operator.delete(url).status_code == 204
    assert operator.get(url).status_code == 404
    assert not storage.requests.exists(request.request_id)
