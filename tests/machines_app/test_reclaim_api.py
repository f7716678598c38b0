"""POST/DELETE /api/v1/machines/<id>/reclaim/: an outside provisioner gives notice that its
cloud takes a host back; getReturnRequests then lists the host with the seconds left."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hostfactory.domain import utcnow
from tests.api.fixtures import (
    OPERATORS,
    PLUGINS,
    PROVISIONERS,
    VIEWERS,
    add_acquire,
    add_template,
    launch,
    token_client,
)

URL = "/api/v1/machines/"


@pytest.fixture
def host(storage):
    add_template(storage, "tpl")
    (machine,) = launch(storage, add_acquire(storage, "tpl", count=1))
    return machine


def return_requests(client, machine) -> list[dict]:
    body = {"machines": [{"name": machine.name, "machineId": machine.machine_id}]}
    return client.post("/api/v1/hostfactory/getReturnRequests", body, format="json").json()["requests"]


@pytest.mark.parametrize("group", [PROVISIONERS, OPERATORS])
def test_a_grace_period_is_listed_by_get_return_requests_and_delete_withdraws_it(db, storage, host, group):
    client = token_client("provisioner", group)
    plugin = token_client("hf", PLUGINS)
    assert return_requests(plugin, host) == []

    given = client.post(URL + host.machine_id + "/reclaim/", {"grace_period": 120}, format="json")

    assert given.status_code == 200, given.json()
    (entry,) = return_requests(plugin, host)
    assert entry["machineId"] == host.machine_id and 110 <= entry["gracePeriod"] <= 120
    withdrawn = client.delete(URL + host.machine_id + "/reclaim/")
    assert withdrawn.status_code == 200 and withdrawn.json()["reclaim_at"] is None
    assert return_requests(plugin, host) == []


def test_reclaim_at_is_an_iso_8601_moment(db, storage, host):
    client = token_client("provisioner", PROVISIONERS)
    at = utcnow() + timedelta(minutes=10)

    given = client.post(URL + host.machine_id + "/reclaim/", {"reclaim_at": at.isoformat()}, format="json")

    assert given.status_code == 200
    (entry,) = return_requests(token_client("hf", PLUGINS), host)  # what Host Factory's plugin sees
    assert 590 <= entry["gracePeriod"] <= 600


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "give exactly one of grace_period (seconds) or reclaim_at (ISO 8601)"),
        ({"grace_period": 5, "reclaim_at": "2030-01-01T00:00:00Z"}, "give exactly one of"),
        ({"grace_period": -1}, "grace_period"),
        ({"grace_period": "soon"}, "grace_period"),
        ({"reclaim_at": "tomorrow"}, "reclaim_at"),
    ],
)
def test_bad_notice_is_a_400_naming_the_problem_and_changes_nothing(db, storage, host, body, says):
    client = token_client("provisioner", PROVISIONERS)

    answer = client.post(URL + host.machine_id + "/reclaim/", body, format="json")

    assert answer.status_code == 400
    assert says in str(answer.json())
    assert storage.machines.get_by_id(host.machine_id).reclaim_at is None


def test_viewers_may_not_reclaim_and_unknown_machines_are_404(db, storage, host):
    viewer = token_client("viewer", VIEWERS)
    assert viewer.post(URL + host.machine_id + "/reclaim/", {"grace_period": 1}, format="json").status_code == 403
    assert viewer.delete(URL + host.machine_id + "/reclaim/").status_code == 403
    operator = token_client("operator", OPERATORS)
    assert operator.post(URL + "i-0nothere/reclaim/", {"grace_period": 1}, format="json").status_code == 404
    assert storage.machines.get_by_id(host.machine_id).reclaim_at is None


def test_a_machine_already_gone_cannot_be_reclaimed(db, storage):
    add_template(storage, "tpl")
    (gone,) = launch(storage, add_acquire(storage, "tpl", count=1), status="terminated")
    client = token_client("provisioner", PROVISIONERS)

    answer = client.post(URL + gone.machine_id + "/reclaim/", {"grace_period": 1}, format="json")

    assert answer.status_code == 400
    assert "is terminated: only a live machine can be reclaimed" in str(answer.json())
