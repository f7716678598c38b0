"""The fleet dashboard on the admin index: requests and machines by status, from the
status indexes, cached for a few seconds."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from machines_app.domain import MachineStatus
from tests.support.dynamodb_calls import count_dynamodb_calls


def counts(page: str, table: str) -> dict[str, int]:
    section = page.split(f'class="fleet-{table}"')[1].split("</table>")[0]
    return {
        status: int(n) for status, n in re.findall(r'<tr class="status-([a-z_-]+)">.*?<td>(\d+)</td>', section, re.S)
    }


def test_counts_by_status_link_to_the_filtered_lists(fleet, viewer_client):
    page = viewer_client.get("/admin/").content.decode()
    assert counts(page, "requests") == {
        "pending": 0,
        "in_progress": 1,
        "complete": 1,
        "partial": 0,
        "failed": 0,
        "cancelled": 0,
        "timeout": 0,
    }
    machines = counts(page, "machines")
    assert machines["running"] == 1 and machines["pending"] == 1 and sum(machines.values()) == 2
    assert 'href="/admin/machines_app/machine/?status=shutting-down"' in page
    assert 'href="/admin/requests_app/request/?status=in_progress"' in page


def test_counts_are_cached_briefly(fleet, operator_client):
    operator_client.get("/admin/")
    fleet.repos.machines.update_status(fleet.pending.machine_id, MachineStatus.RUNNING)
    assert counts(operator_client.get("/admin/").content.decode(), "machines")["running"] == 1  # cached
    cache.clear()  # as when the few seconds have passed
    assert counts(operator_client.get("/admin/").content.decode(), "machines")["running"] == 2


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_counts_come_from_index_queries(fleet, operator_client):
    with count_dynamodb_calls(fleet.repos.requests, fleet.repos.machines) as calls:
        operator_client.get("/admin/")
    assert set(calls.calls) == {"Query"}
    assert calls.calls["Query"] == len(list(MachineStatus)) + 7  # one per status of each table
