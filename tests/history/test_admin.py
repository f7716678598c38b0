"""The event history in the console: an object's History page and the index's Recent
actions, read from the same storage as the data, with every channel's changes."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission

from hostfactory.storage.history import acting
from templates_app.services import template_update
from tests.admin.helpers import admin_url, messages_of, submitted
from tests.support import aggregates


def history_page(client, kind: str, object_id: str, **params) -> str:
    response = client.get(admin_url(kind, "history", object_id), params)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def rows(page: str) -> list[str]:
    return re.findall(r'<tr class="event .*?</tr>', page, re.S)


def change(row: str, field: str) -> tuple[str, str]:
    found = re.search(
        rf'<li data-field="{field}">.*?<span class="old">(.*?)</span> → <span class="new">(.*?)</span>', row, re.S
    )
    assert found, row
    return found.group(1), found.group(2)


def test_a_machine_changed_in_the_admin_and_over_rest_shows_both_on_its_history_page(fleet, admin_client, operator):
    machine_id = fleet.machine.machine_id
    url = admin_url("machine", "change", machine_id)
    edit = submitted(admin_client.get(url), name="ip-10-9-9-9.ec2.internal", public_ip_address="54.1.2.3")
    assert admin_client.post(url, edit).status_code == 302
    version = operator.get(f"/api/v1/machines/{machine_id}/").json()["version"]  # as a client reads it
    tags = {"tags": {"team": "hpc"}, "version": version}
    assert operator.patch(f"/api/v1/machines/{machine_id}/", tags, format="json").status_code == 200

    page = history_page(admin_client, "machine", machine_id)
    tagged, edited, running, registered = rows(page)  # newest first
    assert change(edited, "name") == (fleet.machine.name, "ip-10-9-9-9.ec2.internal")
    assert change(edited, "public_ip_address") == ("-", "54.1.2.3")
    assert change(tagged, "tags") == ("-", '{"team": "hpc"}')
    assert change(running, "status") == ("pending", "running")
    assert change(registered, "machine_id") == ("-", machine_id)
    assert re.search(r'<th scope="row" class="at">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</th>', edited)
    assert LogEntry.objects.count() == 0  # the events replace Django's log


def test_the_history_page_names_channel_actor_and_reason(fleet, admin_client, storage):
    """Admin changes are "admin" by the logged-in user (set by the middleware); a command
    names itself and its reason."""
    url = admin_url("template", "change", "tpl-hist")
    assert admin_client.post(url, submitted(admin_client.get(url), max_number="4")).status_code == 302
    with acting("command", actor="ops", reason="manage.py load_templates"):
        template_update(repos=storage, template=storage.templates.get_by_id("tpl-hist").replace(description="loaded"))
    by_command, by_admin, *_ = rows(history_page(admin_client, "template", "tpl-hist"))
    assert '<td class="channel">command</td>' in by_command and '<td class="actor">ops</td>' in by_command
    assert '<td class="reason">manage.py load_templates</td>' in by_command
    assert change(by_command, "description") == ("-", "loaded")
    assert change(by_admin, "max_number") == ("10", "4")
    assert '<td class="channel">admin</td>' in by_admin and '<td class="actor">olga</td>' in by_admin


def test_an_admin_action_records_its_words_as_the_reason(fleet, admin_client):
    response = admin_client.post(
        admin_url("template"), {"action": "disable", "_selected_action": ["tpl-hist"], "index": "0", "post": "yes"}
    )
    assert response.status_code == 302
    [newest, *_] = rows(history_page(admin_client, "template", "tpl-hist"))
    assert change(newest, "enabled") == ("true", "false")
    assert '<td class="reason">Disabled.</td>' in newest


def test_the_history_page_pages_newest_first(fleet, admin_client, storage):
    template = fleet.template
    for number in range(55):
        template = template_update(repos=storage, template=template.replace(max_number=number))
    first = history_page(admin_client, "template", "tpl-hist")
    assert len(rows(first)) == 50
    assert change(rows(first)[0], "max_number") == ("53", "54")
    next_url = re.search(r'<a href="([^"]+)" class="next-page">', first).group(1)
    second = history_page(admin_client, "template", "tpl-hist", cursor=parse_qs(urlsplit(next_url).query)["cursor"][0])
    assert len(rows(second)) == 6 and 'class="next-page"' not in second  # 56 events in all
    assert change(rows(second)[-1], "template_id") == ("-", "tpl-hist")
    assert admin_client.get(next_url).status_code == 200


def test_a_forged_cursor_on_the_history_page_is_a_message_not_an_error(fleet, admin_client):
    response = admin_client.get(admin_url("template", "history", "tpl-hist"), {"cursor": "forged"})
    assert response.status_code == 302 and response["Location"] == admin_url("template", "history", "tpl-hist")
    assert any("cursor" in text for text in messages_of(response))


def test_a_deleted_objects_history_still_shows(fleet, admin_client, storage):
    storage.templates.save(aggregates.template("tpl-gone"))
    delete = admin_client.post(admin_url("template", "delete", "tpl-gone"), {"post": "yes"})
    assert delete.status_code == 302
    page = history_page(admin_client, "template", "tpl-gone")
    assert "tpl-gone (deleted)" in page and "was deleted; its history is kept" in page
    deletion, creation = rows(page)
    assert change(deletion, "template_id") == ("tpl-gone", "-")
    assert change(creation, "template_id") == ("-", "tpl-gone")


def test_history_of_what_never_existed_goes_back_to_the_list_with_a_message(storage, admin_client):
    response = admin_client.get(admin_url("machine", "history", "i-0123abcd"))
    assert response.status_code == 302 and response["Location"] == admin_url("machine")
    assert messages_of(response) == ["Machine i-0123abcd does not exist and has no history."]


def test_the_history_page_needs_the_view_permission(fleet, client, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(nobody)
    assert client.get(admin_url("template", "history", "tpl-hist")).status_code == 403


# -- the index's Recent actions -------------------------------------------------------------


def recent(client) -> str:
    page = html.unescape(client.get("/admin/").content.decode())
    return page.split('id="recent-actions-module"')[1].split("</ul>")[0]


def test_recent_actions_list_the_latest_events_linking_to_each_object(fleet, admin_client, storage):
    with acting("sync", reason="sync_machines"):
        storage.machines.save(storage.machines.get_by_id(fleet.machine.machine_id).replace(name="renamed"))
    found = recent(admin_client)
    items = re.findall(r"<li class=.*?</li>", found, re.S)
    assert 1 <= len(items) <= 10
    newest = items[0]
    assert f'href="{admin_url("machine", "change", fleet.machine.machine_id)}"' in newest
    assert "Machine · name" in newest
    assert re.search(r"\d\d:\d\d:\d\d UTC · sync", newest)


def test_recent_actions_mark_a_deleted_object_and_never_link_to_it(storage, admin_client):
    storage.templates.save(aggregates.template("tpl-gone"))
    storage.templates.delete("tpl-gone")
    found = recent(admin_client)
    assert 'tpl-gone <span class="deleted">(deleted)</span>' in found
    assert admin_url("template", "change", "tpl-gone") not in found
    assert 'class="deletelink"' in found


def test_recent_actions_show_only_what_the_user_may_view(fleet, client, django_user_model):
    user = django_user_model.objects.create_user("mona", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_machine"))
    client.force_login(user)
    found = recent(client)
    assert fleet.machine.machine_id in found
    assert "tpl-hist" not in found and fleet.request.request_id not in found


def test_a_requests_host_set_shows_what_was_removed_and_added(fleet, admin_client):
    page = history_page(admin_client, "request", fleet.request.request_id)
    [launched] = [row for row in rows(page) if 'data-field="machine_ids"' in row]  # the one launch
    assert (
        f'<span class="removed">\N{MINUS SIGN} -</span> <span class="added">+ {fleet.machine.machine_id}</span>'
        in launched
    )


def test_storage_down_is_a_503_page_in_the_admins_look(fleet, admin_client, storage, monkeypatch):
    from hostfactory.errors import StorageUnavailable

    def down(*args, **kwargs):
        raise StorageUnavailable("DynamoDB did not answer in time")

    monkeypatch.setattr(type(storage.history), "for_aggregate", down)
    response = admin_client.get(admin_url("template", "history", "tpl-hist"))
    assert response.status_code == 503 and "DynamoDB did not answer in time" in response.content.decode()
    monkeypatch.setattr(type(storage.history), "feed", down)
    index = admin_client.get("/admin/")
    assert index.status_code == 200  # the rest of the index still shows
    assert "History unavailable: DynamoDB did not answer in time" in index.content.decode()
