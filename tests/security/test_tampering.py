"""Tampered credentials: malformed Authorization headers, truncated or altered tokens, a
token of an inactive user, a forged session cookie. Each is a 401 in JSON that echoes
nothing back, never a 500; a session without its CSRF token cannot write."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.api.fixtures import PLUGINS, plugin, token_client  # noqa: F401

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
ENDPOINTS = (
    ("get", "/api/v1/templates/"),
    ("get", "/api/v1/requests/req-00000000-0000-4000-8000-000000000000/"),
    ("post", "/api/v1/hostfactory/getAvailableTemplates"),
    ("post", "/api/v1/hostfactory/getRequestStatus"),
    ("post", "/api/v1/machines/lookup/"),
)


def tampered_headers(key: str) -> dict[str, str]:
    other = "0" if key[-1] != "0" else "1"
    return {
        "keyword only": "Token",
        "keyword and a space": "Token ",
        "two parts": f"Token {key} {key}",
        "truncated": f"Token {key[:-1]}",
        "one character more": f"Token {key}0",
        "last character altered": f"Token {key[:-1]}{other}",
        "upper case": f"Token {key.upper()}",
        "another scheme": f"Bearer {key}",
        "basic with the key as password": "Basic " + base64.b64encode(f"plugin:{key}".encode()).decode(),
        "bytes that are not UTF-8": "Token \xff\xfe\xfd",
        "control characters": f"Token {key[:20]}\x01\x02",
        "very long": "Token " + "a" * 20000,
        "SQL": "Token ' OR '1'='1",
    }


@MEMORY
def test_tampered_authorization_headers_are_401_json(storage, plugin, settings):  # noqa: F811
    settings.HOSTFACTORY_AUTH_FAILURES_PER_MINUTE = 10_000  # the answer to each, not the brake (test_brute_force)
    key = Token.objects.get(user=plugin.user).key
    for label, header in tampered_headers(key).items():
        for method, path in ENDPOINTS:
            response = getattr(Client(), method)(path, {}, content_type="application/json", HTTP_AUTHORIZATION=header)
            where = f"{label}: {method.upper()} {path}"
            assert response.status_code == 401, (where, response.status_code, response.content[:300])
            assert response["Content-Type"] == "application/json", where
            body = response.json()
            code = body.get("code")
            if "hostfactory" in path:
                assert list(body) == ["message"] and body["message"], (where, body)
            else:
                assert code in ("not_authenticated", "authentication_failed"), (where, body)
            assert key not in response.content.decode() and key[:16] not in response.content.decode(), where


@MEMORY
@pytest.mark.django_db
def test_a_token_of_an_inactive_or_deleted_user_is_refused(storage):
    client = token_client("retired-plugin", PLUGINS)
    assert client.get("/api/v1/templates/").status_code == 200
    client.user.is_active = False
    client.user.save()
    response = client.get("/api/v1/templates/")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted.", "code": "authentication_failed"}
    response = client.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json")
    assert response.status_code == 401 and response.json() == {"message": "User inactive or deleted."}

    client.user.is_active = True
    client.user.save()
    Token.objects.filter(user=client.user).delete()  # rotated away
    response = client.get("/api/v1/templates/")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


@MEMORY
@pytest.mark.django_db
def test_forged_sessions_and_missing_csrf_tokens_are_refused(storage):
    forged = Client()
    forged.cookies["sessionid"] = "forged0session0value0that0no0server0issued"
    response = forged.get("/api/v1/templates/")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"

    users = get_user_model()
    root = users.objects.create_superuser("root", password="a-Long-passphrase-42")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(root)  # a real session (the login form itself: tests/security/test_brute_force.py)
    assert browser.get("/api/v1/templates/").status_code == 200  # a session may read ...
    body = {"template": {"templateId": "tpl", "machineCount": 1}}
    for path in ("/api/v1/requests/", "/api/v1/hostfactory/requestMachines"):  # ... but not write without CSRF
        response = browser.post(path, body, content_type="application/json")
        assert response.status_code == 403, (path, response.content)
        assert "CSRF" in response.content.decode() and response["Content-Type"] == "application/json"
    assert storage.requests.get_all() == []
