"""Authentication (token, session with CSRF) and Django's permissions on every endpoint."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from tests.api.fixtures import OPERATORS, add_acquire, add_template, launch, token_client

REQ = "req-00000000-0000-4000-8000-000000000000"
ENDPOINTS = [
    ("get", "/api/v1/"),
    ("get", "/api/v1/templates/"),
    ("post", "/api/v1/templates/"),
    ("get", "/api/v1/templates/tpl/"),
    ("put", "/api/v1/templates/tpl/"),
    ("patch", "/api/v1/templates/tpl/"),
    ("delete", "/api/v1/templates/tpl/"),
    ("post", "/api/v1/templates/search/"),
    ("get", "/api/v1/requests/"),
    ("post", "/api/v1/requests/"),
    ("get", "/api/v1/requests/active/"),
    ("get", f"/api/v1/requests/{REQ}/"),
    ("patch", f"/api/v1/requests/{REQ}/"),
    ("delete", f"/api/v1/requests/{REQ}/"),
    ("post", f"/api/v1/requests/{REQ}/status/"),
    ("get", f"/api/v1/requests/{REQ}/machines/"),
    ("get", "/api/v1/machines/"),
    ("post", "/api/v1/machines/"),
    ("post", "/api/v1/machines/lookup/"),
    ("get", "/api/v1/machines/i-1/"),
    ("put", "/api/v1/machines/i-1/"),
    ("patch", "/api/v1/machines/i-1/"),
    ("delete", "/api/v1/machines/i-1/"),
    ("post", "/api/v1/machines/i-1/status/"),
    ("post", "/api/v1/hostfactory/getAvailableTemplates"),
    ("get", "/api/v1/hostfactory/getAvailableTemplates"),
    ("post", "/api/v1/hostfactory/requestMachines"),
    ("post", "/api/v1/hostfactory/requestReturnMachines"),
    ("post", "/api/v1/hostfactory/getRequestStatus"),
    ("post", "/api/v1/hostfactory/getReturnRequests"),
    ("get", "/api/schema/"),
    ("get", "/api/docs/"),
]


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_anonymous_calls_get_401_everywhere_but_health(storage, anonymous, subtests):
    for method, path in ENDPOINTS:
        with subtests.test(method=method, path=path):
            response = getattr(anonymous, method)(path, {}, format="json")
            assert response.status_code == 401, response.content
            assert response["WWW-Authenticate"] == "Token"
    assert anonymous.get("/api/v1/health/").status_code == 200


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_a_bad_or_disabled_token_is_401(storage, plugin):
    anonymous = APIClient()
    anonymous.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    response = anonymous.get("/api/v1/templates/")
    assert response.status_code == 401 and response.json() == {
        "detail": "Invalid token.",
        "code": "authentication_failed",
    }

    plugin.user.is_active = False
    plugin.user.save()
    assert plugin.get("/api/v1/templates/").status_code == 401


def status_codes(client, calls) -> list[int]:
    return [getattr(client, method)(path, data, format="json").status_code for method, path, data in calls]


def test_each_group_may_do_what_its_permissions_say(storage, operator, plugin, provisioner, viewer):
    add_template(storage, "tpl", max_number=-1)
    request = add_acquire(storage, "tpl", count=1)
    (machine,) = launch(storage, request)
    waiting = add_acquire(storage, "tpl", count=1)
    reads = [
        ("get", "/api/v1/templates/tpl/", None),
        ("post", "/api/v1/templates/search/", {"attributes": {}}),
        ("get", "/api/v1/requests/active/", None),
        ("get", f"/api/v1/requests/{request.request_id}/machines/", None),
        ("post", "/api/v1/machines/lookup/", {"instance_ids": [machine.machine_id]}),
    ]
    for client in (viewer, plugin, provisioner, operator):
        assert status_codes(client, reads) == [200] * 5, client.user.username

    hostfactory = [("post", "/api/v1/hostfactory/getAvailableTemplates", {})]
    assert [status_codes(c, hostfactory) for c in (viewer, plugin, provisioner)] == [[403], [200], [403]]

    new_machine = {"machine_id": "i-new", "request_id": waiting.request_id, "template_id": "tpl"}
    writes = [
        ("post", "/api/v1/templates/", {"template_id": "new"}),
        ("patch", "/api/v1/templates/tpl/", {"version": 1}),
        ("delete", "/api/v1/templates/tpl/", None),
        ("post", "/api/v1/requests/", {"template_id": "tpl", "machine_count": 1}),
        ("post", f"/api/v1/requests/{waiting.request_id}/status/", {"status": "failed"}),
        ("post", f"/api/v1/requests/{waiting.request_id}/status/", {"status": "in_progress"}),
        ("post", "/api/v1/machines/", new_machine),
        ("post", f"/api/v1/machines/{machine.machine_id}/status/", {"status": "running"}),
        ("delete", f"/api/v1/machines/{machine.machine_id}/", None),
    ]
    assert status_codes(viewer, writes) == [403] * 9
    # Plugins ask for hosts through the Host Factory operations only; over REST they read.
    assert status_codes(plugin, writes) == [403] * 9
    # Provisioners register and report machines and move requests, but never end one by hand.
    assert status_codes(provisioner, writes) == [403, 403, 403, 403, 403, 200, 201, 200, 403]
    assert storage.templates.exists("tpl") and storage.machines.exists(machine.machine_id)
    assert storage.requests.get_by_id(waiting.request_id).status == "in_progress"
    assert status_codes(operator, writes[:1] + writes[-1:]) == [400, 204]
    assert viewer.delete("/api/v1/templates/tpl/").json()["code"] == "permission_denied"


def test_a_user_without_a_group_sees_nothing(storage, db):
    stranger = token_client("stranger")
    assert stranger.get("/api/v1/templates/").status_code == 403
    assert stranger.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json").status_code == 403


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_session_authentication_enforces_csrf(storage, db):
    operator = get_user_model().objects.create_user("browser-operator", password="a-long-passphrase-42")
    operator.groups.add(Group.objects.get(name=OPERATORS))
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(operator)

    assert browser.get("/api/v1/templates/").status_code == 200
    forged = browser.post("/api/v1/requests/", {"template_id": "tpl", "machine_count": 1}, format="json")
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
