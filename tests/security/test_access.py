"""Nothing but the health check answers without credentials: every URL pattern of the project,
walked with every method; a plugin token cannot delete templates or reach the admin, and the
admin takes only a staff session."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.api.fixtures import add_acquire, add_template, operator, plugin, provisioner  # noqa: F401

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
PUBLIC = {"/api/v1/health/"}  # for load balancers; says nothing a stranger could use
ADMIN_LOGIN = "/admin/login/"


def url_patterns(patterns=None, prefix: str = ""):
    """Every leaf pattern of the project's URLconf, as (pattern text, name)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.name


def concrete(pattern: str) -> str:
    """A path the pattern matches: each parameter gets a sample value, each alternation its
    first choice, each wildcard some text."""

    def sample(match: re.Match) -> str:
        body = match.group(2)
        if "|" in body:
            return body.split("|")[0]
        return "nothing-here" if body.startswith(".*") else "sample-1"

    path = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", sample, pattern)
    path = re.sub(r"<(?:\w+:)?\w+>", "sample-1", path)
    path = path.replace("^", "").replace("$", "").replace(".*", "nothing-here")
    return "/" + path


def test_the_walk_covers_every_part_of_the_site():
    paths = {concrete(pattern) for pattern, _name in url_patterns()}
    for path in paths:
        resolve(path)  # each sample path reaches a view
    for expected in ("/api/v1/hostfactory/getRequestStatus", "/api/v1/machines/sample-1/status/", "/api/schema/"):
        assert expected in paths
    assert len([p for p in paths if p.startswith("/admin/")]) > 30 and len(paths) > 60


@MEMORY
@pytest.mark.django_db
def test_no_endpoint_but_health_answers_without_credentials(storage, settings):
    settings.HOSTFACTORY_METRICS_TOKEN = "metrics-walk-token"  # unset, loopback may scrape (tests/test_metrics.py)
    anonymous = Client(enforce_csrf_checks=True)
    problems = []
    for pattern, name in url_patterns():
        path = concrete(pattern)
        for method in METHODS:
            response = getattr(anonymous, method)(path)
            status = response.status_code
            if path in PUBLIC:
                ok = status in (200, 405)
            elif path.startswith("/admin/") or path == "/":  # a refusal, or a redirect to the console's login
                ok = status in (403, 405) or (status == 302 and response["Location"].startswith("/admin/"))
                ok = ok or (path == ADMIN_LOGIN and status == 200 and method in ("get", "head", "options"))
            elif name == "no-endpoint":  # a JSON 404 for paths that name no endpoint: nothing to protect
                ok = status == 404 and response["Content-Type"] == "application/json"
            elif name == "metrics":  # its own bearer token, not the API's
                ok = status == 401 and response.get("WWW-Authenticate", "").startswith("Bearer")
            elif name in ("schema", "swagger-ui"):  # their own renderers: YAML and HTML
                ok = status == 401 and response.get("WWW-Authenticate") == "Token"
            else:
                ok = (
                    status == 401
                    and response["Content-Type"] == "application/json"
                    and response.get("WWW-Authenticate") == "Token"
                )
            if not ok:
                problems.append(f"{method.upper()} {path} ({pattern}) -> {status} {response.get('Location', '')}")
    assert not problems, "\n".join(problems)


@MEMORY
def test_a_plugin_token_cannot_delete_or_change_templates(storage, plugin):  # noqa: F811
    add_template(storage, "tpl-kept")
    for method, body in (("delete", None), ("put", {"max_number": 1, "version": 1}), ("patch", {"version": 1})):
        response = getattr(plugin, method)("/api/v1/templates/tpl-kept/", body, format="json")
        assert response.status_code == 403, (method, response.content)
        assert response.json()["code"] == "permission_denied"
    assert storage.templates.get_by_id("tpl-kept").version == 1


@MEMORY
def test_a_provisioner_token_reports_but_deletes_nothing_and_ends_no_request(storage, provisioner):  # noqa: F811
    add_template(storage, "tpl-kept", max_number=-1)
    request = add_acquire(storage, "tpl-kept", count=1)
    refused = [
        ("delete", "/api/v1/templates/tpl-kept/", None),
        ("put", "/api/v1/templates/tpl-kept/", {"max_number": 1, "version": 1}),
        ("post", "/api/v1/requests/", {"template_id": "tpl-kept", "machine_count": 1}),
        ("delete", f"/api/v1/requests/{request.request_id}/", None),
        ("post", f"/api/v1/requests/{request.request_id}/status/", {"status": "cancelled"}),
        ("post", f"/api/v1/requests/{request.request_id}/status/", {"status": "complete"}),
        ("post", "/api/v1/hostfactory/requestMachines", {"template": {"templateId": "tpl-kept", "machineCount": 1}}),
    ]
    for method, path, body in refused:
        response = getattr(provisioner, method)(path, body, format="json")
        assert response.status_code == 403, (method, path, response.content)
    assert storage.requests.get_by_id(request.request_id).status == "pending"
    assert len(storage.requests.get_all()) == 1


@MEMORY
@pytest.mark.parametrize("role", ["plugin", "provisioner"])
def test_a_plugin_token_does_not_open_the_admin(storage, role, request):
    client = request.getfixturevalue(role)
    token_header = client._credentials["HTTP_AUTHORIZATION"]
    browser = Client(HTTP_AUTHORIZATION=token_header)
    for path in ("/admin/", "/admin/templates_app/template/", "/admin/authtoken/tokenproxy/", "/admin/auth/user/"):
        response = browser.get(path)
        assert response.status_code == 302 and response["Location"].startswith(ADMIN_LOGIN), (path, response)
    # A plugin user has no password: it cannot log in either.
    refused = browser.post(ADMIN_LOGIN, {"username": client.user.username, "password": ""})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    assert browser.get("/admin/").status_code == 302


@MEMORY
@pytest.mark.django_db
def test_the_admin_needs_a_staff_session(storage):
    users = get_user_model()
    operator_user = users.objects.create_user("ops-not-staff", password="a-Long-passphrase-42")
    operator_user.groups.add(Group.objects.get(name="hostfactory-operators"))
    browser = Client()
    refused = browser.post(ADMIN_LOGIN, {"username": "ops-not-staff", "password": "a-Long-passphrase-42"})
    assert refused.status_code == 200 and "staff account" in refused.content.decode()
    assert browser.get("/admin/").status_code == 302

    operator_user.is_staff = True
    operator_user.save()
    accepted = browser.post(ADMIN_LOGIN, {"username": "ops-not-staff", "password": "a-Long-passphrase-42"})
    assert accepted.status_code == 302
    assert browser.get("/admin/").status_code == 200
