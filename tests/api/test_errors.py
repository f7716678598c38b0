"""The one exception handler: every error is JSON with a stable code, never an HTML page or a
traceback; storage trouble is a 503."""

from __future__ import annotations

import logging

import pytest
from moto import mock_aws

from hostfactory import __version__
from hostfactory.storage import reset_repositories
from hostfactory.storage.config import TABLE_KEYS

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


@MEMORY
def test_protocol_errors_are_json_with_a_code(storage, operator):
    cases = [
        (operator.post("/api/v1/templates/", "{", content_type="application/json"), 400, "parse_error"),
        (
            operator.post("/api/v1/templates/", "template_id=x", content_type="text/plain"),
            415,
            "unsupported_media_type",
        ),
        (operator.put("/api/v1/templates/", {}, format="json"), 405, "method_not_allowed"),
        (operator.get("/api/v1/templates/x/", HTTP_ACCEPT="text/html"), 406, "not_acceptable"),
        (operator.get("/api/v1/nothing-here/"), 404, "not_found"),
        (operator.get("/api/v1/templates"), 404, "not_found"),
        (
            operator.post("/api/v1/machines/lookup/", {"instance_ids": ["i-0" * 100] * 10**4}, format="json"),
            413,
            "request_too_large",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.content
        assert response["Content-Type"] == "application/json", response.content
        assert response.json()["code"] == code and response.json()["detail"]
    assert "end with a slash" in cases[-2][0].json()["detail"]


@MEMORY
def test_an_unexpected_error_is_a_json_500_without_a_traceback(storage, operator, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise KeyError("internal detail")

    monkeypatch.setattr("templates_app.views.template_create", explode)
    attributes = {"type": ["String", "x"], "ncpus": ["Numeric", "1"], "nram": ["Numeric", "1"]}
    with caplog.at_level(logging.ERROR, logger="hostfactory.api"):
        response = operator.post(
            "/api/v1/templates/", {"template_id": "t", "max_number": 1, "attributes": attributes}, format="json"
        )
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error"
    assert b"internal detail" not in response.content and b"Traceback" not in response.content
    assert "internal detail" in caplog.text


def test_storage_unavailable_is_a_503(settings, operator):
    tables = {name: f"absent-{name}" for name in TABLE_KEYS}
    with mock_aws():
        settings.HOSTFACTORY_STORAGE = {"type": "dynamodb", "region": "us-east-1", "tables": tables}
        reset_repositories()
        responses = [
            operator.get("/api/v1/templates/"),
            operator.get("/api/v1/requests/active/"),
            operator.post("/api/v1/machines/lookup/", {"instance_ids": ["i-1"]}, format="json"),
        ]
        health = operator.get("/api/v1/health/")
    reset_repositories()
    for response in responses:
        assert response.status_code == 503
        assert response.json()["code"] == "storage_unavailable"
        assert "create_dynamodb_tables" in response.json()["detail"]
    assert health.status_code == 503 and health.json() == {
        "status": "unavailable",
        "storage": "dynamodb",
        "version": __version__,
        "checks": {"storage": "unavailable", "database": "ok"},
    }


def test_health_needs_no_authentication(storage, anonymous):
    ok = anonymous.get("/api/v1/health/")
    kind = "dynamodb" if storage.templates.__class__.__name__.startswith("Dynamo") else "memory"
    assert ok.status_code == 200
    assert ok.json() == {
        "status": "ok",
        "storage": kind,
        "version": __version__,
        "checks": {"storage": "ok", "database": "ok"},
    }
    anonymous.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert anonymous.get("/api/v1/health/").status_code == 200
