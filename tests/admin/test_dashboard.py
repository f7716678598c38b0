"""The fleet dashboard on the admin index: capacity per template from the ledgers, and the
active requests, cached for a few seconds; its cost does not grow with the machines."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from machines_app.domain import MachineStatus
from tests.support import aggregates
from tests.support.dynamodb_calls import count_dynamodb_calls


def capacity(page: str) -> dict[str, tuple[str, str, str]]:
    section = page.split('class="fleet-capacity"')[1].split("</table>")[0]
    rows = re.findall(
        r'<tr class="template-([\w-]+)[^"]*">.*?"live">(\d+)<.*?"reserved">(\d+)<.*?"max">([\w]+)', section, re.S
    )
    return {template_id: (live, reserved, limit) for template_id, live, reserved, limit in rows}


def requests(page: str) -> dict[str, int]:
    section = page.split('class="fleet-requests"')[1].split("</table>")[0]
    return {s: int(n) for s, n in re.findall(r'<tr class="status-([a-z_-]+)">.*?<td>(\d+)</td>', section, re.S)}


def test_capacity_and_active_requests_link_to_their_lists(fleet, viewer_client):
    page = viewer_client.get("/admin/").content.decode()
    # tpl-a: an in-progress request for 2 with both machines registered (one running).
    assert capacity(page)["tpl-a"] == ("2", "0", "10")
    assert capacity(page)["tpl-off"] == ("0", "0", "unlimited")
    assert requests(page) == {"pending": 0, "in_progress": 1}
    assert 'href="/admin/requests_app/request/?status=in_progress"' in page
    assert 'href="/admin/templates_app/template/tpl-a/change/"' in page


def test_a_limit_lowered_below_use_is_shown(fleet, operator_client):
    fleet.repos.templates.save(fleet.template.replace(max_number=1))
    page = operator_client.get("/admin/").content.decode()
    assert "over the limit: new requests wait until use drops" in page


def test_counts_are_cached_briefly(fleet, operator_client):
    operator_client.get("/admin/")
    fleet.repos.machines.update_status(fleet.running.machine_id, MachineStatus.TERMINATED)
    fleet.repos.templates.add_usage("tpl-a", -1)
    assert capacity(operator_client.get("/admin/").content.decode())["tpl-a"][0] == "2"  # cached
    cache.clear()  # as when the few seconds have passed
    assert capacity(operator_client.get("/admin/").content.decode())["tpl-a"][0] == "1"


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_cost_does_not_grow_with_the_machines(fleet, operator_client):
    def cost():
        cache.clear()
        with count_dynamodb_calls(*fleet.repos.all()) as calls:
            operator_client.get("/admin/")
        return calls

    before = cost()
    fleet.repos.templates.save(aggregates.template("tpl-big", max_number=-1))
    done = aggregates.store_request(fleet.repos, aggregates.acquire_request(template_id="tpl-big", machine_count=40))
    for n in range(40):
        machine = aggregates.machine(f"i-{n:017x}", request_id=done.request_id, template_id="tpl-big")
        aggregates.store_machine(fleet.repos, machine)
    after = cost()
    # 40 more machines, one more template and one more active request: the same queries and
    # scans (at most one more batch read, for the new active request's status), and exactly
    # three items more read (the template, the request, and its status-index key): nothing
    # grows with the machines.
    assert (after.calls["Query"], after.calls["Scan"]) == (before.calls["Query"], before.calls["Scan"])
    assert after.calls["BatchGetItem"] <= before.calls["BatchGetItem"] + 1
    assert after.items_read == before.items_read + 3
