"""HOSTFACTORY_TEMPLATES_SOURCE=hostfactory: getAvailableTemplates loads the conf-dir templates
file the plugin sends (its hash; its content when the service asks), with load_templates'
checks, and refuses a bad one with a message naming every problem."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.api.fixtures import add_template
from tests.templates_app.test_domain import ATTRIBUTES

URL = "/api/v1/hostfactory/getAvailableTemplates"


@pytest.fixture
def from_hostfactory(settings):
    settings.HOSTFACTORY_TEMPLATES_SOURCE = "hostfactory"


def templates_text(*ids: str, **extra) -> str:
    templates = [{"templateId": tid, "maxNumber": 5, "attributes": ATTRIBUTES, **extra} for tid in ids]
    return json.dumps({"templates": templates}, indent=2)


def sent(text: str, *, content: bool) -> dict:
    data = {"name": "hfsvcprov_templates.json", "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return {"templatesFile": {**data, "content": text} if content else data}


def offered_ids(answer) -> list[str]:
    return [template["templateId"] for template in answer.json()["templates"]]


def test_an_edited_file_reaches_the_service_on_the_next_call(storage, plugin, from_hostfactory):
    first = templates_text("hf-a", "hf-b")
    asked = plugin.post(URL, sent(first, content=False), format="json")
    assert asked.status_code == 409 and asked.json()["code"] == "templates_file_unknown"

    loaded = plugin.post(URL, sent(first, content=True), format="json")
    assert loaded.status_code == 200 and offered_ids(loaded) == ["hf-a", "hf-b"]
    assert offered_ids(plugin.post(URL, sent(first, content=False), format="json")) == ["hf-a", "hf-b"]

    edited = templates_text("hf-b", "hf-c")
    assert plugin.post(URL, sent(edited, content=False), format="json").status_code == 409
    assert offered_ids(plugin.post(URL, sent(edited, content=True), format="json")) == ["hf-b", "hf-c"]
    assert storage.templates.get_by_id("hf-a") is None  # the file is the source: gone from it, gone here


def test_a_bad_file_is_refused_naming_every_problem_and_changes_nothing(storage, plugin, from_hostfactory):
    add_template(storage, "kept")
    text = json.dumps({"templates": [{"templateId": "x", "maxNumber": 99999, "attributes": ATTRIBUTES}, {"a": 1}]})

    refused = plugin.post(URL, sent(text, content=True), format="json")

    assert refused.status_code == 400
    message = refused.json()["message"]
    assert "2 of 2 templates refused" in message
    assert "template #1 ('x'): maxNumber: must be -1 (unlimited) or 0..10000, got 99999" in message
    assert "template #2: template: must have templateId, maxNumber and attributes" in message
    assert [t.template_id for t in storage.templates.get_all()] == ["kept"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "the plugin sent no templates file"),
        ({"templatesFile": {"name": "f.json", "sha256": "0" * 64, "content": "{}"}}, "does not match its sha256"),
        ({"templatesFile": {"name": "f.json", "sha256": "nothex"}}, "sha256"),
    ],
)
def test_what_cannot_be_loaded_is_a_clear_400(storage, plugin, from_hostfactory, body, says):
    answer = plugin.post(URL, body, format="json")
    assert answer.status_code == 400 and says in answer.json()["message"]


def test_the_service_source_ignores_the_file(storage, plugin, settings):
    settings.HOSTFACTORY_TEMPLATES_SOURCE = "service"
    add_template(storage, "stored")

    answer = plugin.post(URL, sent(templates_text("from-file"), content=False), format="json")

    assert answer.status_code == 200 and offered_ids(answer) == ["stored"]
