"""Secrets never reach the logs or a response body: with every logger at DEBUG, a run of API
and admin calls (good ones, refused ones, broken ones, a server error) leaves no API token,
password or SECRET_KEY in any log record or in any answer."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.api.fixtures import OPERATORS, PLUGINS, add_acquire, add_template, launch, token_client

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
HF = "/api/v1/hostfactory"


def ask(template_id: str) -> dict:
    return {"template": {"templateId": template_id, "machineCount": 1}}


class Everything(logging.Handler):
    """Keeps every record, formatted with its traceback, as a file handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def everything_logged() -> Iterator[Everything]:
    """Every logger at DEBUG (botocore and PynamoDB too) into one handler."""
    handler = Everything()
    root = logging.getLogger()
    loggers = [root] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


@MEMORY
@pytest.mark.django_db
def test_no_secret_in_logs_or_answers(storage, settings, monkeypatch):
    settings.SECRET_KEY = "hf-" + secrets.token_urlsafe(50)
    password = "Pw-" + secrets.token_urlsafe(24)
    get_user_model().objects.create_superuser("root", password=password)
    plugin = token_client("plugin", PLUGINS)
    operator = token_client("operator", OPERATORS)
    plugin_key = Token.objects.get(user=plugin.user).key
    operator_key = Token.objects.get(user=operator.user).key
    add_template(storage, "tpl", max_number=-1)
    request = add_acquire(storage, "tpl", count=2)
    (machine, _) = launch(storage, request)
    answers = []

    with everything_logged() as log:
        answers += [
            plugin.post(f"{HF}/getAvailableTemplates", {}, format="json"),
            plugin.post(f"{HF}/requestMachines", ask("tpl"), format="json"),
            plugin.post(f"{HF}/getRequestStatus", {"requests": [{"requestId": request.request_id}]}, format="json"),
            plugin.post(f"{HF}/requestMachines", ask("nope"), format="json"),  # 400
            plugin.post(f"{HF}/getRequestStatus", "{not json", content_type="application/json"),
            plugin.delete("/api/v1/templates/tpl/"),  # 403
            operator.get("/api/v1/templates/?cursor=forged"),  # 400
            operator.patch(f"/api/v1/machines/{machine.machine_id}/", {"version": 0}, format="json"),  # 409
            operator.post(f"/api/v1/requests/{request.request_id}/status/", {"status": "nope"}, format="json"),
            operator.get("/api/v1/requests/req-00000000-0000-4000-8000-000000000000/"),  # 404
            Client().get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Token {plugin_key[:-1]}x"),  # 401
            Client().get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Token {plugin_key} extra"),  # 401
            Client().post(f"{HF}/getAvailableTemplates", {}, HTTP_AUTHORIZATION=f"Bearer {operator_key}"),
        ]
        browser = Client()
        answers.append(browser.post("/admin/login/", {"username": "root", "password": password + "-wrong"}))
        answers.append(browser.post("/admin/login/", {"username": "root", "password": password}))
        answers.append(browser.get("/admin/templates_app/template/"))

        def broken(**kwargs):
            raise RuntimeError("unexpected failure while reading templates")

        monkeypatch.setattr("hostfactory.hostfactory_api.views.hf_get_available_templates", broken)
        answers.append(plugin.post(f"{HF}/getAvailableTemplates", {}, format="json"))  # a 500, logged with traceback

    statuses = {answer.status_code for answer in answers}
    assert {200, 302, 400, 401, 403, 404, 409, 500} <= statuses, statuses
    assert any("Traceback" in line for line in log.lines)  # the 500 was logged in full ...
    assert any("storage" in line and "DEBUG" in line for line in log.lines)  # ... and so was every storage call
    for secret in (plugin_key, operator_key, password, settings.SECRET_KEY):
        pieces = {secret, secret[:16], secret[-16:]}
        for line in log.lines:
            assert not any(piece in line for piece in pieces), f"a secret in the log: {line[:300]}"
        for answer in answers:
            text = answer.content.decode(errors="replace") + str(answer.headers)
            assert not any(piece in text for piece in pieces), f"a secret in an answer: {answer} {text[:300]}"
