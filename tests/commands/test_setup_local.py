"""setup_local: the one-time local setup of ``make run``."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError
from django.test import RequestFactory
from rest_framework.authtoken.models import Token

from tests.commands.support import SAMPLE_TEMPLATES, run_command

pytestmark = pytest.mark.django_db


def printed(label: str, text: str) -> str:
    match = re.search(rf"^\s+{label}\s+(\S+)", text, re.MULTILINE)
    assert match, f"{label} not printed in:\n{text}"
    return match.group(1)


def test_first_run_creates_the_admin_and_the_plugin_token_and_prints_them_once(storage):
    result = run_command("setup_local", "--url", "http://127.0.0.1:8123")

    password = printed("Password", result.out)
    admin = authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password)
    assert admin is not None and admin.is_superuser and admin.is_staff
    token = printed("Token", result.out)
    plugin = Token.objects.get(key=token).user
    assert plugin.username == "hf-plugin"
    assert list(plugin.groups.values_list("name", flat=True)) == ["hostfactory-plugins"]
    assert not plugin.has_usable_password()
    for url in ("/admin/", "/api/v1/", "/api/docs/", "/api/v1/health/"):
        assert f"http://127.0.0.1:8123{url}" in result.out
    assert f'curl -H "Authorization: Token {token}" http://127.0.0.1:8123/api/v1/templates/' in result.out

    again = run_command("setup_local")
    assert "'admin' already exists; its password is unchanged" in again.out
    assert password not in again.out and token not in again.out
    assert authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password) is not None
    assert Token.objects.get(user=plugin).key == token


def test_every_run_makes_a_new_random_password(storage):
    first = printed("Password", run_command("setup_local").out)
    get_user_model().objects.all().delete()
    second = printed("Password", run_command("setup_local").out)
    assert first != second and len(first) >= 20


def test_sample_templates_go_where_the_server_reads_them(storage, backend_settings):
    """With memory the server process loads the file at start (this process's store stays
    empty); with DynamoDB they are loaded now, into the shared tables."""
    result = run_command("setup_local")
    count = len(json.loads(SAMPLE_TEMPLATES.read_text())["templates"])
    if backend_settings[0] == "memory":
        assert f"{count} from {SAMPLE_TEMPLATES} (the server loads them at start)" in result.out
        assert storage.templates.get_all() == []
    else:
        assert f"{count} created" in result.out
        assert len(storage.templates.get_all()) == count


def test_a_bad_templates_file_stops_before_anything_is_created(storage, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"templates": [{"templateId": "x"}]}', encoding="utf-8")
    with pytest.raises(CommandError, match=r"template #1 \('x'\): template: must have templateId"):
        run_command("setup_local", "--templates", str(bad))
    assert not get_user_model().objects.exists()
