"""GET /api/v1/health/: both checks (storage, Django's database), each bounded in time, so a
hung backend makes health a JSON 503 naming it within 5 s, never a hung worker or an HTML 500."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from hostfactory import __version__
from hostfactory.api import health
from hostfactory.storage import reset_repositories
from hostfactory.storage.config import TABLE_KEYS
from tests.support.hung import HungListener

URL = "/api/v1/health/"
pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


@contextlib.contextmanager
def hung_dynamodb(settings):
    """The storage routed to a listener that accepts connections and never answers."""
    tables = {name: f"hung-{name}" for name in TABLE_KEYS}
    with HungListener() as dynamodb:
        settings.HOSTFACTORY_STORAGE = {
            "type": "dynamodb",
            "region": "us-east-1",
            "host": dynamodb.url,
            "tables": tables,
        }
        reset_repositories()
        yield dynamodb


def timed_get(client, url: str):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def test_a_hung_dynamodb_is_a_503_naming_the_storage_within_5_s(storage, anonymous, settings):
    with hung_dynamodb(settings) as dynamodb:
        response, elapsed = timed_get(anonymous, URL)
        assert dynamodb.held, "the storage call never reached the hung endpoint"
    reset_repositories()

    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "unavailable",
        "storage": "dynamodb",
        "version": __version__,
        "checks": {"storage": "timeout", "database": "ok"},
    }
    assert settings.HOSTFACTORY_HEALTH_CHECK_TIMEOUT <= elapsed < 5, elapsed


def test_a_hung_dynamodb_makes_every_call_a_json_503_naming_the_storage_within_5_s(storage, plugin, settings):
    """The storage's own time budget (connect 1 s, read 1.2 s, 3 attempts) ends every call
    well inside the web server's 30 s, whatever the endpoint, as a JSON 503."""
    calls = {
        "getAvailableTemplates": lambda: plugin.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json"),
        "getRequestStatus": lambda: plugin.post(
            "/api/v1/hostfactory/getRequestStatus",
            {"requests": [{"requestId": "req-00000000-0000-4000-8000-000000000001"}]},
            format="json",
        ),
        "requestMachines": lambda: plugin.post(
            "/api/v1/hostfactory/requestMachines",
            {"template": {"templateId": "tpl", "machineCount": 1}},
            format="json",
        ),
    }
    with hung_dynamodb(settings):
        for name, call in calls.items():
            started = time.monotonic()
            response = call()
            elapsed = time.monotonic() - started
            assert response.status_code == 503, (name, response.content)
            assert "DynamoDB is unreachable" in response.json()["message"], (name, response.json())
            assert elapsed < 5, (name, elapsed)
    reset_repositories()


def test_a_hung_database_is_a_503_naming_the_database(storage, anonymous, settings, monkeypatch):
    # Stand-in for a database server that accepts and never answers: the check blocks until released.
    released = threading.Event()
    monkeypatch.setitem(health.CHECKS, "database", released.wait)
    settings.HOSTFACTORY_HEALTH_CHECK_TIMEOUT = 0.5
    try:
        response, elapsed = timed_get(anonymous, URL)
    finally:
        released.set()
    assert response.status_code == 503
    assert response.json()["checks"] == {"storage": "ok", "database": "timeout"}
    assert 0.5 <= elapsed < 2, elapsed
