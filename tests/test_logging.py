"""Logs (docs/operations.md "Logs"): one line per request, with its request id, user, operation,
status and duration; the request id on every record made while serving it; JSON with
LOG_FORMAT=json, the plain format by default.

In process, through the settings' own filters with the JSON formatter of the settings; then
the real thing: gunicorn with the repository's gunicorn.conf.py, its stderr read line by line.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from pythonjsonlogger.json import JsonFormatter

from hostfactory.logging import JSON_FORMATTER, RequestContextFilter
from tests.api.fixtures import OPERATORS, PLUGINS, add_template, token_client
from tests.reliability.live import ROOT, Gunicorn, call, prepare_database, server_environment

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
HF = "/api/v1/hostfactory"


def broken_page(request):
    raise RuntimeError("a bug in a page that is not the API")


# The URLs of the test of a page outside DRF that raises (pytest.mark.urls).
urlpatterns = [path("broken/", broken_page), path("fine/", lambda request: HttpResponse("fine"))]


class Lines(logging.Handler):
    """The settings' stderr handler as LOG_FORMAT=json makes it: request filter, JSON formatter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.setFormatter(JsonFormatter(**{key: value for key, value in JSON_FORMATTER.items() if key != "()"}))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]

    def about(self, request_id: str) -> list[dict]:
        return [record for record in self.records if record.get("request_id") == request_id]


@contextmanager
def json_lines() -> Iterator[Lines]:
    handler = Lines()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


def the_access_line(records: list[dict]) -> dict:
    assert [record["logger"] for record in records] == ["hostfactory.access"], records
    return records[0]


@MEMORY
@pytest.mark.django_db
def test_a_request_is_one_json_line_with_its_id_user_operation_and_duration(storage):
    operator = token_client("operator", OPERATORS)
    with json_lines() as log:
        answer = operator.get("/api/v1/templates/", HTTP_X_REQUEST_ID="lb-7f3a.9_c")
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "lb-7f3a.9_c"
    line = the_access_line(log.about("lb-7f3a.9_c"))
    assert {key: line[key] for key in ("level", "user", "operation", "status", "method", "path")} == {
        "level": "INFO",
        "user": "operator",
        "operation": "template-list",
        "status": 200,
        "method": "GET",
        "path": "/api/v1/templates/",
    }
    assert 0 < line["duration_ms"] < 60_000
    stamp = datetime.fromisoformat(line["timestamp"])
    assert stamp.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


@MEMORY
@pytest.mark.django_db
def test_every_record_made_while_serving_carries_the_request_id_and_operation(storage):
    plugin = token_client("plugin", PLUGINS)
    add_template(storage, "tpl", max_number=-1)
    body = {"template": {"templateId": "tpl", "machineCount": 1}}
    with json_lines() as log:
        answer = plugin.post(f"{HF}/requestMachines", body, format="json")
        logging.getLogger("hostfactory").warning("after the request")
    assert answer.status_code == 200
    records = log.about(answer.headers["X-Request-ID"])
    assert [(record["logger"], record["operation"]) for record in records] == [
        ("hostfactory.hostfactory_api", "requestMachines"),  # the service's own line ...
        ("hostfactory.access", "requestMachines"),  # ... then the access line
    ]
    assert records[1]["user"] == "plugin"
    outside = log.records[-1]
    assert outside["message"] == "after the request" and "request_id" not in outside


@pytest.mark.django_db
@pytest.mark.parametrize("sent", ["", "has space", "x" * 129, "a,b", 'quo"te', "new\nline", "é"])
def test_an_unsafe_client_request_id_is_replaced_by_a_generated_one(sent):
    with json_lines() as log:
        answer = Client().get("/api/v1/", HTTP_X_REQUEST_ID=sent)
    generated = answer.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(generated), generated
    assert the_access_line(log.about(generated))["status"] == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "operation"),
    [
        ("/api/v1/templates/", 401, "template-list"),  # no token
        ("/api/v1/no-such-thing/", 404, "no-endpoint"),  # the API's JSON 404
        ("/nowhere/", 404, None),  # Django's own 404, no URL matched
    ],
)
def test_a_4xx_is_logged_once_at_warning(path, status, operation):
    with json_lines() as log:
        answer = Client().get(path)
    assert answer.status_code == status
    assert len(log.records) == 1, log.records  # Django's "Not Found"/"Unauthorized" line is not repeated
    line = the_access_line(log.about(answer.headers["X-Request-ID"]))
    assert (line["level"], line["status"], line["operation"], line["user"]) == ("WARNING", status, operation, None)


@MEMORY
@pytest.mark.django_db
def test_a_400_for_bad_json_is_logged_once(storage):
    plugin = token_client("plugin", PLUGINS)
    with json_lines() as log:
        answer = plugin.post(f"{HF}/getRequestStatus", "{not json", content_type="application/json")
    assert answer.status_code == 400
    assert len(log.records) == 1
    assert the_access_line(log.records)["operation"] == "getRequestStatus"


@MEMORY
@pytest.mark.django_db
def test_an_api_500_logs_its_traceback_once_and_its_access_line(storage, monkeypatch):
    plugin = token_client("plugin", PLUGINS)

    def broken(**kwargs):
        raise RuntimeError("unexpected failure while reading templates")

    monkeypatch.setattr("hostfactory.hostfactory_api.views.hf_get_available_templates", broken)
    with json_lines() as log:
        answer = plugin.post(f"{HF}/getAvailableTemplates", {}, format="json")
    assert answer.status_code == 500
    records = log.about(answer.headers["X-Request-ID"])
    assert [(record["logger"], record["level"]) for record in records] == [
        ("hostfactory.api", "ERROR"),
        ("hostfactory.access", "ERROR"),
    ]
    assert "unexpected failure while reading templates" in records[0]["exc_info"]
    assert len(log.records) == 1 + 1  # and no "Internal Server Error" line from django.request


@pytest.mark.urls("tests.test_logging")
@pytest.mark.django_db
def test_a_500_outside_the_api_logs_django_s_traceback_once():
    with json_lines() as log:
        answer = Client(raise_request_exception=False).get("/broken/")
    assert answer.status_code == 500
    records = log.about(answer.headers["X-Request-ID"])
    assert [record["logger"] for record in records] == ["django.request", "hostfactory.access"]
    assert "a bug in a page that is not the API" in records[0]["exc_info"]
    assert sum("Traceback" in line for line in log.lines) == 1


@pytest.mark.urls("tests.test_logging")
@pytest.mark.django_db
def test_a_decoded_newline_in_the_path_cannot_forge_a_plain_line():
    with json_lines() as log:
        Client().get("/fine/%0A2026-01-01 00:00:00,000 ERROR forged")
    (line,) = log.records
    assert "\n" not in line["message"] and "\\n2026-01-01" in line["message"]


def test_plain_is_the_default_format():
    assert django_settings.LOG_FORMAT == "plain"
    assert django_settings.LOGGING["handlers"]["stderr"]["formatter"] == "plain"


def test_a_bad_log_format_stops_the_commands_naming_the_setting_and_the_choices(tmp_path):
    env = {**server_environment(tmp_path), "LOG_FORMAT": "xml"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith("LOG_FORMAT must be plain or json, got 'xml'")


# -- under gunicorn ----------------------------------------------------------------------------

ASKED = (  # (method, path, body, token name, status)
    ("GET", "/api/v1/templates/", None, "operator", 200),
    ("GET", "/api/v1/templates/no-such-template/", None, "operator", 404),
    ("POST", f"{HF}/getRequestStatus", b"{not json", "plugin", 400),
    ("GET", "/api/v1/templates/", None, None, 401),
)
PLAIN_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) [\w.]+ .+")


@pytest.fixture
def server_env(tmp_path):
    env = server_environment(tmp_path, LOG_LEVEL="INFO")
    return env, prepare_database(env)


def serve_and_ask(env: dict, tokens: dict, folder, **extra: str) -> tuple[list[str], list[str]]:
    """The request ids of ASKED (each sent by the client), and gunicorn's output lines."""
    ids = [f"test-{index}-{status}" for index, (*_, status) in enumerate(ASKED)]
    with Gunicorn({**env, **extra}, folder, 1, 2) as server:
        lines_before = len(server.log_path.read_text().splitlines())
        for request_id, (method, where, body, token, status) in zip(ids, ASKED, strict=True):
            answer = call(server.url, method, where, tokens.get(token), body, {"X-Request-ID": request_id})
            assert (answer.status, answer.headers["x-request-id"]) == (status, request_id)
    return ids, server.log_path.read_text().splitlines()[lines_before:]


@pytest.mark.slow
def test_under_gunicorn_json_gives_one_parseable_line_per_request(server_env, tmp_path):
    env, tokens = server_env
    ids, lines = serve_and_ask(env, tokens, tmp_path, LOG_FORMAT="json")
    records = [json.loads(line) for line in lines]  # every line is JSON, gunicorn's own too
    assert "gunicorn.error" in {record["logger"] for record in records}
    for request_id, (method, where, _, token, status) in zip(ids, ASKED, strict=True):
        (line,) = [record for record in records if record.get("request_id") == request_id]
        assert line["logger"] == "hostfactory.access"
        assert (line["method"], line["path"], line["status"], line["user"]) == (method, where, status, token)
        assert line["level"] == ("INFO" if status < 400 else "WARNING")
        assert line["operation"] and line["duration_ms"] >= 0 and line["timestamp"].endswith("+00:00")
    for secret in tokens.values():
        assert not any(secret in line for line in lines)


@pytest.mark.slow
def test_under_gunicorn_the_default_stays_plain_and_logs_each_request_once(server_env, tmp_path):
    env, tokens = server_env
    ids, lines = serve_and_ask(env, tokens, tmp_path)
    app_lines = [line for line in lines if not line.startswith("[")]  # gunicorn's own: "[date] [pid] ..."
    assert app_lines and all(PLAIN_LINE.fullmatch(line) for line in app_lines), app_lines
    for request_id, (method, where, *_, status) in zip(ids, ASKED, strict=True):
        (line,) = [line for line in lines if f"request_id={request_id}" in line]
        assert f" hostfactory.access {method} {where} {status} " in line


@pytest.mark.slow
def test_under_gunicorn_a_bad_log_format_stops_the_server_naming_it(server_env, tmp_path):
    env, _ = server_env
    with pytest.raises(RuntimeError, match="LOG_FORMAT must be plain or json, got 'yaml'"):
        Gunicorn({**env, "LOG_FORMAT": "yaml"}, tmp_path, 1, 1).start()
