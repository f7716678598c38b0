"""The event history over REST: each aggregate's history and the fleet's feed.

What a client sees: each change with its old and new values, newest first, paged like every
list; a deleted aggregate's history; JSON 404/400/403 that say what is wrong. The channel of
REST and admin changes is set by the middleware (api, admin); the other channels are set
here with ``acting`` as the commands, the provisioner and the sync set them.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hostfactory.domain import utcnow
from hostfactory.fleet.machines import machine_update_status
from hostfactory.storage.history import acting
from templates_app.services import template_update
from tests.support import aggregates

EVENT_FIELDS = {"event_id", "at", "aggregate", "aggregate_id", "version", "channel", "actor", "reason", "changes"}


def history(client, kind: str, object_id: str, **params):
    return client.get(f"/api/v1/{kind}s/{object_id}/history/", params)


def all_pages(client, url: str, params: dict | None = None) -> list[dict]:
    """Every item, following ``next`` links as a client would."""
    items, response = [], client.get(url, params or {})
    while True:
        assert response.status_code == 200, response.json()
        items += response.json()["results"]
        if response.json()["next"] is None:
            return items
        response = client.get(response.json()["next"])


def cursor_of(next_link: str) -> str:
    return parse_qs(urlsplit(next_link).query)["cursor"][0]


def client_with(*permissions: str) -> APIClient:
    """A token user holding only ``permissions`` ("machines_app.view_machine"...)."""
    user = get_user_model().objects.create_user(username=f"partial-{len(permissions)}")
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# -- one aggregate's history ---------------------------------------------------------------


def test_a_machine_changed_through_rest_shows_each_change_old_and_new_newest_first(fleet, operator):
    machine_id = fleet.machine.machine_id
    tagged = operator.patch(f"/api/v1/machines/{machine_id}/", {"tags": {"team": "hpc"}, "version": 2}, format="json")
    assert tagged.status_code == 200, tagged.json()
    reported = operator.post(f"/api/v1/machines/{machine_id}/status/", {"status": "unknown"}, format="json")
    assert reported.status_code == 200, reported.json()

    response = history(operator, "machine", machine_id)
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    newest, tagging, running, registered = body["results"]
    assert set(newest) == EVENT_FIELDS
    assert newest["changes"] == {"status": ["running", "unknown"]}
    assert tagging["changes"] == {"tags": [{}, {"team": "hpc"}]}
    assert running["changes"]["status"] == ["pending", "running"]
    assert running["changes"]["private_ip_address"] == [None, fleet.machine.private_ip_address]
    assert registered["changes"]["machine_id"] == [None, machine_id]
    assert [event["version"] for event in body["results"]] == [4, 3, 2, 1]
    assert all(event["aggregate"] == "machine" and event["aggregate_id"] == machine_id for event in body["results"])
    assert body["results"][0]["at"] >= body["results"][-1]["at"] and newest["at"].endswith("Z")


def test_a_template_and_a_request_changed_through_rest_show_old_and_new(fleet, operator):
    template = operator.patch(
        "/api/v1/templates/tpl-hist/", {"max_number": 20, "version": fleet.template.version}, format="json"
    )
    assert template.status_code == 200, template.json()
    assert history(operator, "template", "tpl-hist").json()["results"][0]["changes"] == {"max_number": [10, 20]}

    request_id = fleet.request.request_id
    message = {"message": "Waiting for capacity.", "version": fleet.request.version}
    assert operator.patch(f"/api/v1/requests/{request_id}/", message, format="json").status_code == 200
    [newest, *older] = history(operator, "request", request_id).json()["results"]
    assert newest["changes"] == {"message": ["", "Waiting for capacity."]}
    assert older[-1]["changes"]["request_type"] == [None, "acquire"]


def test_each_change_names_its_channel_and_actor(fleet, operator, storage):
    """REST changes are "api" by the token's owner (set by the middleware); a provisioner pass
    or a command names itself."""
    machine_id = fleet.machine.machine_id
    operator.patch(f"/api/v1/machines/{machine_id}/", {"tags": {"a": "b"}, "version": 2}, format="json")
    with acting("provisioner", reason="provision"):
        machine_update_status(repos=storage, machine_id=machine_id, status="unknown")
    provisioned, tagged, *_ = history(operator, "machine", machine_id).json()["results"]
    assert (provisioned["channel"], provisioned["actor"], provisioned["reason"]) == ("provisioner", "", "provision")
    assert (tagged["channel"], tagged["actor"]) == ("api", "operator")


def test_a_deleted_aggregate_still_has_its_history(storage, operator):
    created = operator.post(
        "/api/v1/templates/",
        {"template_id": "tpl-gone", "max_number": 3, "attributes": ATTRIBUTES, "provider_config": CONFIG},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert operator.delete("/api/v1/templates/tpl-gone/").status_code == 204
    assert operator.get("/api/v1/templates/tpl-gone/").status_code == 404
    response = history(operator, "template", "tpl-gone")
    assert response.status_code == 200
    deletion, creation = response.json()["results"]
    assert deletion["changes"]["template_id"] == ["tpl-gone", None]
    assert deletion["changes"]["max_number"] == [3, None]
    assert creation["changes"]["max_number"] == [None, 3]


ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "1"], "nram": ["Numeric", "1024"]}
CONFIG = {"imageId": "ami-0123456789", "vmType": "t3.small"}


@pytest.mark.parametrize(
    ("kind", "object_id"),
    [("template", "tpl-never"), ("request", "req-00000000-0000-4000-8000-000000000000"), ("machine", "i-0123abcd")],
)
def test_history_of_what_never_existed_is_a_404_naming_it(storage, operator, kind, object_id):
    response = history(operator, kind, object_id)
    assert response.status_code == 404
    assert response.json() == {"detail": f"{kind} {object_id!r} does not exist and has no history", "code": "not_found"}


def test_history_of_an_id_that_cannot_exist_is_a_404_without_a_read(storage, operator):
    response = history(operator, "machine", "not an id")
    assert response.status_code == 404 and "'not an id' does not exist" in response.json()["detail"]


def test_an_aggregate_stored_before_the_history_began_has_an_empty_history_not_a_404(storage, operator):
    storage.templates.save(aggregates.template("tpl-old"))
    storage.history.clear()
    response = history(operator, "template", "tpl-old")
    assert response.status_code == 200 and response.json() == {"next": None, "results": []}


def test_history_pages_like_every_list(fleet, operator, storage):
    template = fleet.template
    for number in range(1, 6):
        template = template_update(repos=storage, template=template.replace(max_number=10 + number))
    first = history(operator, "template", "tpl-hist", limit=2)
    assert first.status_code == 200
    assert len(first.json()["results"]) == 2 and "cursor=" in first.json()["next"]
    events = all_pages(operator, "/api/v1/templates/tpl-hist/history/", {"limit": 2})
    assert [event["version"] for event in events] == [6, 5, 4, 3, 2, 1]  # each once, newest first
    assert [event["changes"]["max_number"] for event in events[:2]] == [[14, 15], [13, 14]]


def test_bad_paging_of_a_history_is_a_400_naming_the_parameter(fleet, operator):
    machine_id = fleet.machine.machine_id
    assert history(operator, "machine", machine_id, limit=0).json()["limit"] == [
        "Ensure this value is greater than or equal to 1."
    ]
    unknown = history(operator, "machine", machine_id, status="running")
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "unknown query parameter status; allowed: cursor, limit"
    forged = history(operator, "machine", machine_id, cursor="bm90IGEgY3Vyc29y")
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_cursor"


def test_a_cursor_of_one_history_is_refused_on_another(fleet, operator, storage):
    template = fleet.template
    for number in range(3):
        template = template_update(repos=storage, template=template.replace(max_number=number))
    cursor = cursor_of(history(operator, "template", "tpl-hist", limit=1).json()["next"])
    other = history(operator, "machine", fleet.machine.machine_id, cursor=cursor)
    assert other.status_code == 400 and other.json()["code"] == "invalid_cursor"


def test_history_needs_the_view_permission_of_its_aggregate(fleet, anonymous, db):
    machines_only = client_with("machines_app.view_machine")
    assert history(machines_only, "machine", fleet.machine.machine_id).status_code == 200
    refused = history(machines_only, "template", "tpl-hist")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert history(anonymous, "machine", fleet.machine.machine_id).status_code == 401


# -- the fleet's feed ---------------------------------------------------------------------------


def feed(client, **params):
    return client.get("/api/v1/events/", params)


def test_the_feed_lists_every_change_newest_first_and_pages(fleet, operator):
    events = all_pages(operator, "/api/v1/events/", {"limit": 3})
    kinds = [(event["aggregate"], event["aggregate_id"]) for event in events]
    # The template, its request, the machine registered then running (and the request moved).
    assert ("template", "tpl-hist") in kinds and ("machine", fleet.machine.machine_id) in kinds
    assert ("request", fleet.request.request_id) in kinds
    assert len({event["event_id"] for event in events}) == len(events)
    assert [event["at"] for event in events] == sorted((event["at"] for event in events), reverse=True)
    assert feed(operator, limit=len(events)).json()["results"] == events


def test_the_feed_filters_by_aggregate_channel_actor_and_time(fleet, operator, storage):
    before = utcnow()
    with acting("command", actor="ops", reason="manage.py disable_template tpl-hist"):
        template_update(repos=storage, template=fleet.template.replace(enabled=False))
    with acting("sync", reason="sync_machines"):
        machine_update_status(
            repos=storage, machine_id=fleet.machine.machine_id, status="terminated", changes={"status_reason": "gone"}
        )
    after = utcnow()

    machines = feed(operator, aggregate="machine").json()["results"]
    assert machines and {event["aggregate"] for event in machines} == {"machine"}
    [synced] = feed(operator, channel="sync").json()["results"]
    assert synced["changes"]["status"] == ["running", "terminated"] and synced["reason"] == "sync_machines"
    [by_ops] = feed(operator, actor="ops").json()["results"]
    assert by_ops["changes"] == {"enabled": [True, False]} and by_ops["channel"] == "command"
    window = feed(operator, since=before.isoformat(), until=after.isoformat()).json()["results"]
    assert {event["channel"] for event in window} >= {"command", "sync"}
    assert all(event["channel"] in ("command", "sync") for event in window)  # the request's reconcile too
    assert feed(operator, until=(before - timedelta(days=1)).isoformat()).json()["results"] == []
    assert feed(operator, aggregate="template", channel="sync").json()["results"] == []


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"aggregate": "host"}, "aggregate: must be one of template, request, machine, got 'host'"),
        ({"channel": "web"}, "channel: must be one of admin, api, hostfactory, command, provisioner, sync, system, "),
        ({"since": "yesterday"}, "since: must be an ISO 8601 time such as 2026-12-01T15:00:00Z, got 'yesterday'"),
        (
            {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
            "since: must not be after until",
        ),
        ({"status": "running"}, "unknown query parameter status; allowed: actor, aggregate, channel, cursor, "),
        ({"actor": "x" * 151}, "actor: must be a user name of at most 150 characters"),
    ],
)
def test_a_bad_feed_filter_is_a_400_naming_it_and_what_is_allowed(storage, operator, params, detail):
    response = feed(operator, **params)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail) and response.json()["code"] == "invalid_filter"


def test_a_feed_cursor_is_valid_only_with_its_filters(fleet, operator):
    cursor = cursor_of(feed(operator, limit=1, aggregate="machine").json()["next"])
    assert feed(operator, limit=1, aggregate="machine", cursor=cursor).status_code == 200
    refused = feed(operator, limit=1, aggregate="request", cursor=cursor)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_cursor"


def test_the_feed_shows_only_what_the_user_may_view(fleet, anonymous, db):
    machines_only = client_with("machines_app.view_machine")
    everything = feed(machines_only)
    assert everything.status_code == 403
    assert everything.json()["detail"] == "you may view the events of machines only: ask with aggregate=machine"
    templates = feed(machines_only, aggregate="template")
    assert templates.status_code == 403
    assert templates.json()["detail"] == "the events of templates need the permission templates_app.view_template"
    machines = feed(machines_only, aggregate="machine")
    assert machines.status_code == 200 and {e["aggregate"] for e in machines.json()["results"]} == {"machine"}
    nothing = feed(client_with())
    assert nothing.status_code == 403 and "view permission" in nothing.json()["detail"]
    assert feed(anonymous).status_code == 401


def test_a_viewer_reads_the_feed(fleet, viewer):
    assert feed(viewer).status_code == 200 and feed(viewer).json()["results"]


def test_storage_down_is_a_json_503_for_the_history_and_the_feed(fleet, operator, storage, monkeypatch):
    from hostfactory.errors import StorageUnavailable

    def down(*args, **kwargs):
        raise StorageUnavailable("DynamoDB did not answer in time")

    monkeypatch.setattr(type(storage.history), "for_aggregate", down)
    monkeypatch.setattr(type(storage.history), "feed", down)
    for response in (history(operator, "machine", fleet.machine.machine_id), feed(operator)):
        assert response.status_code == 503
        assert response.json() == {"detail": "DynamoDB did not answer in time", "code": "storage_unavailable"}
