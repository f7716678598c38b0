"""The table-less anchor models only anchor the admin and the permissions: no SQL ever
reaches their (non-existent) tables, from the admin or from Django's own tools."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from machines_app.models import Machine
from requests_app.models import Request
from templates_app.models import Template
from tests.admin.helpers import action, admin_url, submitted

ANCHOR_TABLES = ("templates_app_template", "requests_app_request", "machines_app_machine")


def anchor_queries(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in context.captured_queries if any(t in query["sql"] for t in ANCHOR_TABLES)]


def test_the_admin_sends_no_sql_for_aggregates(fleet, operator_client):
    with CaptureQueriesContext(connection) as context:
        for url in ("/admin/", admin_url("template"), admin_url("request"), admin_url("machine")):
            assert operator_client.get(url).status_code == 200
        url = admin_url("template", "change", "tpl-a")
        assert operator_client.post(url, submitted(operator_client.get(url), max_number="4")).status_code == 302
        operator_client.post(admin_url("machine"), action("mark_terminated", fleet.pending.machine_id, post="yes"))
        operator_client.post(admin_url("template", "delete", "tpl-spot"), {"post": "yes"})
        operator_client.get(admin_url("template", "history", "tpl-a"))
    assert context.captured_queries  # sessions, users and the admin log do use the database
    assert anchor_queries(context) == []
    assert fleet.repos.templates.get_by_id("tpl-a").max_number == 4


def test_dumpdata_and_unique_checks_stay_harmless(db):
    out = io.StringIO()
    with CaptureQueriesContext(connection) as context:
        call_command("dumpdata", "templates_app", "requests_app", "machines_app", stdout=out)
        for instance in (Template(template_id="tpl-a"), Request(request_id="req-x"), Machine(machine_id="i-1")):
            instance.validate_unique()
    assert out.getvalue().strip() == "[]"
    assert anchor_queries(context) == []
