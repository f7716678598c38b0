"""The index's "Passes" panel and its 24-hour chart of live machines (issue 15), from the
records the provision and sync passes leave: fresh, stale and never; the chart's points,
its labels, its empty state; and what it costs on DynamoDB."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

import hostfactory.fleet.passes as fleet_passes
from hostfactory.admin.display import display_time
from hostfactory.domain import utcnow
from hostfactory.fleet.passes import record_pass
from tests.support.dynamodb_calls import count_dynamodb_calls


@pytest.fixture(autouse=True)
def _launching(settings):
    """This service launches hosts itself: a provision pass is due every interval."""
    settings.HOSTFACTORY_PROVIDER = "aws"


def recorded(monkeypatch, repos, name: str, at: datetime, live: dict | None = None, errors: int = 0):
    """A pass of kind ``name`` that ended at ``at``, having counted ``live`` {template: n} running."""
    monkeypatch.setattr(fleet_passes, "utcnow", lambda: at)
    machines = {"running": live} if live else {}
    record = record_pass(repos, name, errors=errors, machines=machines, requests={})
    monkeypatch.undo()
    return record


def pass_row(page: str, name: str) -> str:
    section = page.split('class="fleet-passes"')[1].split("</table>")[0]
    return re.search(rf'<tr class="pass-{name}[^"]*">.*?</tr>', section, re.S).group(0)


def chart(page: str) -> str:
    return page.split('<figure class="fleet-chart">')[1].split("</figure>")[0]


def test_a_fresh_pass_shows_its_time_and_age_and_a_missing_one_says_never(storage, viewer_client, monkeypatch):
    ended = utcnow() - timedelta(seconds=20)
    recorded(monkeypatch, storage, "provision", ended, {"tpl-a": 2})
    page = viewer_client.get("/admin/").content.decode()
    provision = pass_row(page, "provision")
    assert '<tr class="pass-provision">' in provision  # not stale
    assert '<th scope="row">provision</th>' in provision
    assert f'<td class="at nowrap">{display_time(ended)}</td>' in provision
    assert re.search(r'<td class="age">2\ds ago</td>', provision)
    assert '<td class="flag">fresh</td>' in provision
    sync = pass_row(page, "sync")
    assert '<tr class="pass-sync stale">' in sync
    assert "sync_machines" in sync and '<td class="at">never</td>' in sync
    assert "<strong>stale</strong>: no successful pass recorded" in sync


def test_a_pass_older_than_three_intervals_is_stale(storage, viewer_client, monkeypatch, settings):
    settings.HOSTFACTORY_PROVISION_INTERVAL = 30
    settings.HOSTFACTORY_SYNC_INTERVAL = 300
    now = utcnow()
    recorded(monkeypatch, storage, "provision", now - timedelta(seconds=100), {"tpl-a": 2})  # 3 x 30 s = 90 s
    recorded(monkeypatch, storage, "sync", now - timedelta(minutes=10), {"tpl-a": 2})  # 3 x 5 min = 15 min
    page = viewer_client.get("/admin/").content.decode()
    provision = pass_row(page, "provision")
    assert '<tr class="pass-provision stale">' in provision
    assert "<strong>stale</strong>: older than 1m 30s" in provision
    assert re.search(r'<td class="age">1m 4\ds ago</td>', provision)
    assert '<td class="flag">fresh</td>' in pass_row(page, "sync")


def test_a_failed_pass_is_not_the_last_successful_one(storage, viewer_client, monkeypatch):
    now = utcnow()
    good = recorded(monkeypatch, storage, "provision", now - timedelta(minutes=5), {"tpl-a": 2})
    recorded(monkeypatch, storage, "provision", now - timedelta(seconds=5), {"tpl-a": 2}, errors=1)
    provision = pass_row(viewer_client.get("/admin/").content.decode(), "provision")
    assert display_time(good.at) in provision and "stale" in provision


def test_without_a_launching_provider_no_provision_pass_is_due(storage, viewer_client, settings):
    settings.HOSTFACTORY_PROVIDER = "none"  # `manage.py provision` refuses to run
    page = viewer_client.get("/admin/").content.decode()
    provision = pass_row(page, "provision")
    assert '<tr class="pass-provision">' in provision and "stale" not in provision
    assert '<td class="at">never</td>' in provision
    assert "not run here: HOSTFACTORY_PROVIDER launches nothing" in provision
    assert '<tr class="pass-sync stale">' in pass_row(page, "sync")  # sync_machines still is


def polylines(section: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, pair.split(","))) for pair in points.split()]
        for points in re.findall(r'<polyline class="live" points="([^"]+)"', section)
    ]


def test_the_chart_draws_live_machines_of_the_provision_passes(storage, viewer_client, monkeypatch):
    now = utcnow()
    counts = [12, 20, 34, 30]
    for n, live in enumerate(counts):  # one pass every 10 minutes, the last 25 minutes ago
        recorded(
            monkeypatch, storage, "provision", now - timedelta(minutes=55 - 10 * n), {"tpl-a": live - 2, "tpl-b": 2}
        )
    recorded(monkeypatch, storage, "sync", now - timedelta(minutes=1), {"tpl-a": 99})  # not drawn: provision is
    section = chart(viewer_client.get("/admin/").content.decode())
    assert "(from the provision passes)" in section
    label = "live machines, last 24 h: 12 -&gt; 30 (highest 34)"
    assert f'aria-label="{label}"' in section and f"<title>{label}</title>" in section
    (line,) = polylines(section)
    assert len(line) == 4
    xs, ys = [x for x, _y in line], [y for _x, y in line]
    assert xs == sorted(xs) and xs[-1] < 470  # time to the right, the last pass before now
    top, bottom = 8.0, 98.0  # the plot's frame (hostfactory/admin/passes.py)
    assert min(ys) == top and ys.index(top) == counts.index(max(counts))  # the highest touches the top
    assert ys[0] == pytest.approx(bottom - (bottom - top) * 12 / 34, abs=0.1)
    assert re.search(r'<text class="value highest"[^>]*>34</text>', section)
    assert re.search(r'<text class="value zero"[^>]*>0</text>', section)
    start, end = re.findall(r'<text class="time (?:start|end)"[^>]*>([^<]+)</text>', section)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", end)
    ended = datetime.strptime(end, "%Y-%m-%d %H:%M:%S UTC")
    assert ended - datetime.strptime(start, "%Y-%m-%d %H:%M:%S UTC") == timedelta(hours=24)


def test_the_chart_breaks_where_passes_stopped_and_skips_passes_that_did_not_count(storage, viewer_client, monkeypatch):
    now = utcnow()
    for minutes in (300, 290, 280):  # then nothing for three hours
        recorded(monkeypatch, storage, "provision", now - timedelta(minutes=minutes), {"tpl-a": 5})
    recorded(monkeypatch, storage, "provision", now - timedelta(minutes=50), None, errors=1)  # its sync failed
    for minutes in (40, 30):
        recorded(monkeypatch, storage, "provision", now - timedelta(minutes=minutes), {"tpl-a": 8})
    section = chart(viewer_client.get("/admin/").content.decode())
    assert [len(line) for line in polylines(section)] == [3, 2]
    assert "5 -&gt; 8 (highest 8)" in section


def test_without_provision_passes_the_chart_draws_the_sync_ones(storage, viewer_client, monkeypatch):
    now = utcnow()
    recorded(monkeypatch, storage, "provision", now - timedelta(hours=30), {"tpl-a": 50})  # older than 24 h
    recorded(monkeypatch, storage, "sync", now - timedelta(minutes=20), {"tpl-a": 3})
    recorded(monkeypatch, storage, "sync", now - timedelta(minutes=5), {"tpl-a": 4})
    section = chart(viewer_client.get("/admin/").content.decode())
    assert "(from the sync passes)" in section and "3 -&gt; 4 (highest 4)" in section
    assert [len(line) for line in polylines(section)] == [2]


def test_without_any_pass_the_chart_says_so(storage, viewer_client):
    page = viewer_client.get("/admin/").content.decode()
    assert '<p class="none">None: no pass recorded in the last 24 hours.</p>' in chart(page)
    assert "<polyline" not in chart(page)
    assert '<td class="at">never</td>' in pass_row(page, "provision")


def test_the_chart_is_only_for_who_may_view_machines(storage, django_user_model, client, monkeypatch):
    from django.contrib.auth.models import Permission

    recorded(monkeypatch, storage, "provision", utcnow(), {"tpl-a": 7})
    user = django_user_model.objects.create_user("tess", password="pw-tess", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_template"))
    client.force_login(user)
    page = client.get("/admin/").content.decode()
    assert 'class="fleet-passes"' in page and "fleet-chart" not in page


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_the_panel_and_chart_read_the_pass_records_only(storage, viewer_client, monkeypatch):
    from django.core.cache import cache

    now = utcnow()
    for n in range(150):  # more than a day of passes, one every 10 minutes
        recorded(monkeypatch, storage, "provision", now - timedelta(minutes=10 * n), {"tpl-a": n})
    recorded(monkeypatch, storage, "sync", now, {"tpl-a": 1})
    cache.clear()
    with count_dynamodb_calls(storage.history) as history:
        page = viewer_client.get("/admin/").content.decode()
    assert len(polylines(chart(page))[0]) == 144  # the day's records: 24 h of 10 minutes
    assert history.calls["GetItem"] == 2  # the last successful provision and sync
    assert history.reads_by_index["table"] == 1  # the chart's one query (Recent actions reads the month index)
    assert history.items_read <= 2 + 145 + 11  # the two, the day's records, Recent actions'


@pytest.mark.parametrize("value", [0, -300, "300s"])
def test_a_sync_interval_that_is_no_interval_stops_the_service(settings, value):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.HOSTFACTORY_SYNC_INTERVAL = value
    with pytest.raises(
        SystemCheckError, match=r"HOSTFACTORY_SYNC_INTERVAL must be a whole number of seconds, 1 or more"
    ):
        call_command("check")
