"""The console's index triages (issue 15): capacity bars, requests waiting longer than
expected or near their deadline, machines being returned and machines lost outside Host
Factory; the product's name in the header and the tab title; times with seconds and UTC."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from hostfactory.admin.display import display_duration, display_time
from hostfactory.domain import utcnow
from hostfactory.fleet.requests import request_create_return
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.admin.helpers import admin_url
from tests.support import aggregates
from tests.support.dynamodb_calls import count_dynamodb_calls


def panel(page: str, name: str) -> str:
    return page.split(f'class="fleet-{name}"')[1].split("</table>")[0]


def test_the_console_names_the_product_not_django(fleet, viewer_client, client):
    page = viewer_client.get("/admin/").content.decode()
    assert "<title>Fleet triage | Host Factory console</title>" in page
    assert '<div id="site-name"><a href="/admin/">Host Factory console</a></div>' in page
    assert "Django administration" not in page and "Django site admin" not in page
    listing = viewer_client.get(admin_url("machine")).content.decode()
    assert "| Host Factory console</title>" in listing
    login = client.get("/admin/login/").content.decode()
    assert "Host Factory console" in login and "Django administration" not in login


def test_capacity_shows_used_reserved_and_max_with_a_bar(fleet, viewer_client, storage):
    # tpl-spot: one more acquire request for 3, nothing launched: 3 reserved of 10.
    aggregates.store_request(storage, aggregates.acquire_request(template_id="tpl-spot", machine_count=3))
    page = viewer_client.get("/admin/").content.decode()
    row = re.search(r'<tr class="template-tpl-spot">(.*?)</tr>', panel(page, "capacity"), re.S).group(1)
    assert '"live">0<' in row and '"reserved">3<' in row and '"max">10' in row
    assert 'aria-label="0 used and 3 reserved of 10"' in row
    assert '<rect class="live" width="0.00"' in row and '<rect class="reserved" x="0.00" width="30.00"' in row
    used = re.search(r'<tr class="template-tpl-a">(.*?)</tr>', panel(page, "capacity"), re.S).group(1)
    assert '<rect class="live" width="20.00"' in used  # 2 live of 10


def test_a_template_over_its_limit_is_flagged_and_its_bar_is_of_its_use(fleet, viewer_client, storage):
    storage.templates.save(fleet.template.replace(max_number=1))
    page = viewer_client.get("/admin/").content.decode()
    row = re.search(r'<tr class="template-tpl-a over-limit">(.*?)</tr>', panel(page, "capacity"), re.S).group(1)
    assert "over the limit: new requests wait until use drops" in row
    assert '<rect class="live" width="100.00"' in row  # 2 live, over a max of 1: the whole bar


def waiting_rows(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr class="waiting ([\w-]+)">.*?data-copy="([^"]+)".*?</tr>', panel(page, "waiting"), re.S)
    return {request_id: flag for flag, request_id in rows}


def test_requests_waiting_longer_than_expected_or_near_their_deadline(fleet, viewer_client, storage):
    now = utcnow()

    def waiting(minutes_ago: int, timeout_minutes: int = 60, **fields):
        created = now - timedelta(minutes=minutes_ago)
        request = aggregates.acquire_request(
            template_id="tpl-off",
            machine_count=1,
            created_at=created,
            deadline=created + timedelta(minutes=timeout_minutes),
            **fields,
        )
        return storage.requests.save(request)  # (no reservation: only its times matter here)

    fresh = waiting(10)  # a sixth of its time: fine
    late = waiting(40)  # two thirds: longer than expected
    near = waiting(57)  # 3 of 60 minutes left
    past = waiting(65, status=RequestStatus.IN_PROGRESS)  # the sync will time it out
    short = waiting(4, timeout_minutes=5)  # 1 of 5 minutes left is 20%: late, not near
    page = viewer_client.get("/admin/").content.decode()
    found = waiting_rows(page)
    assert found == {
        past.request_id: "past-deadline",
        near.request_id: "near-deadline",
        late.request_id: "late",
        short.request_id: "late",
    }
    assert fresh.request_id not in page.split('id="recent-actions-module"')[0]  # (its creation is a recent action)
    # The nearest deadline first, each with how long it waited and what is left.
    assert list(found) == [past.request_id, short.request_id, near.request_id, late.request_id]
    row = re.search(rf'<tr class="waiting near-deadline">.*?{near.request_id}.*?</tr>', page, re.S).group(0)
    assert re.search(r'<td class="age">57m 0\ds</td>', row) and re.search(
        r'<td class="left">(2m 5\ds|3m 00s)</td>', row
    )
    assert display_time(near.deadline) in row


def test_machines_being_returned_show_with_their_return(fleet, viewer_client, storage):
    returned, _ = request_create_return(repos=storage, machines=[fleet.running], requested_by="hf")
    page = viewer_client.get("/admin/").content.decode()
    section = panel(page, "returning")
    assert f'data-copy="{fleet.running.machine_id}"' in section and f'data-copy="{returned.request_id}"' in section
    assert fleet.pending.machine_id not in section
    assert f'href="{admin_url("request", "change", returned.request_id)}"' in section


def test_machines_lost_outside_host_factory(fleet, viewer_client, storage):
    lost = fleet.lost("i-0bbbbbbbbbbbbbbb1", "Terminated in EC2 by someone.")
    page = viewer_client.get("/admin/").content.decode()
    section = panel(page, "lost")
    assert "Machines lost outside Host Factory (1)" in page
    assert f'data-copy="{lost.machine_id}"' in section and "Terminated in EC2 by someone." in section
    assert fleet.running.machine_id not in section and fleet.pending.machine_id not in section


def test_empty_panels_say_so(storage, viewer_client):
    page = viewer_client.get("/admin/").content.decode()
    assert "None: every active request is within 50% of its time." in page
    assert "None: no active return holds a live machine." in page
    assert "None: no machine stopped, terminated or failed without a return." in page


def test_times_have_seconds_and_utc_everywhere(fleet, viewer_client, storage):
    when = datetime(2026, 12, 1, 12, 38, 23, tzinfo=UTC)
    storage.requests.save(fleet.finished.replace(deadline=when))
    assert display_time(when) == "2026-12-01 12:38:23 UTC"
    assert display_time(when.astimezone(UTC).replace(tzinfo=None)) == "2026-12-01 12:38:23 UTC"
    assert [display_duration(timedelta(seconds=s)) for s in (45, 723, 11040, 190800, -30)] == [
        "45s",
        "12m 03s",
        "3h 04m",
        "2d 05h",
        "-30s",
    ]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    listing = viewer_client.get(admin_url("request")).content.decode()
    assert re.search(rf'<td class="field-created_at">{stamp}</td>', listing)
    assert '<td class="field-deadline">2026-12-01 12:38:23 UTC</td>' in listing
    detail = html.unescape(viewer_client.get(admin_url("machine", "change", fleet.running.machine_id)).content.decode())
    assert re.search(rf'<div class="readonly">{stamp}</div>', detail)
    assert "a.m." not in listing and "p.m." not in listing


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_the_panels_cost_grows_with_what_they_show_not_the_fleet(fleet, viewer_client, storage):
    from django.core.cache import cache

    def cost():
        cache.clear()
        with count_dynamodb_calls(*storage.tables()) as calls, count_dynamodb_calls(storage.history) as feed:
            viewer_client.get("/admin/")
        assert feed.items_read <= 11  # Recent actions: its 10 events (and whether there are more)
        calls.items_read -= feed.items_read
        return calls

    before = cost()
    # 30 more running machines: nothing more to show, nothing more read.
    storage.templates.save(aggregates.template("tpl-big", max_number=-1))
    busy = aggregates.store_request(storage, aggregates.acquire_request(template_id="tpl-big", machine_count=30))
    aggregates.bulk_save(
        storage.machines,
        [
            aggregates.machine(request_id=busy.request_id, template_id="tpl-big", status=MachineStatus.RUNNING)
            for _ in range(30)
        ],
    )
    quiet = cost()
    # Recent actions walks the history's months back until it has its 10 events (at most 4
    # for 90 days): with more events it stops sooner, never later.
    assert quiet.calls["Query"] <= before.calls["Query"] <= quiet.calls["Query"] + 3
    assert quiet.calls["Scan"] == before.calls["Scan"]
    assert quiet.items_read <= before.items_read + 4  # the new template, request (and its index key)
    # One lost machine more: one item more read for it, and it is shown.
    aggregates.store_machine(
        storage,
        aggregates.machine(
            request_id=fleet.finished.request_id,
            template_id="tpl-spot",
            status=MachineStatus.FAILED,
            status_reason="Spot capacity not available.",
        ),
    )
    lost = cost()
    assert lost.calls["Scan"] == before.calls["Scan"]
    assert lost.items_read <= quiet.items_read + 2
