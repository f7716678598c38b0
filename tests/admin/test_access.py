"""Who may do what in the admin: Django's own permissions through the groups of api.md.

Anonymous users are sent to the login page; viewers (hostfactory-viewers) see read-only
pages without actions; operators (hostfactory-operators) and superusers may do everything.
"""

from __future__ import annotations

import pytest

from tests.admin.helpers import action, admin_url


def pages(fleet) -> list[str]:
    return [
        "/admin/",
        admin_url("template"),
        admin_url("request"),
        admin_url("machine"),
        admin_url("template", "change", "tpl-a"),
        admin_url("request", "change", fleet.active.request_id),
        admin_url("machine", "change", fleet.running.machine_id),
        admin_url("template", "history", "tpl-a"),
    ]


def test_anonymous_users_are_sent_to_the_login_page(fleet, client, db):
    for url in [*pages(fleet), admin_url("template", "add")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next="), url
    client.post(admin_url("template"), action("disable", "tpl-a"))
    assert fleet.repos.templates.get_by_id("tpl-a").enabled is True


def test_viewers_see_read_only_pages_without_actions(fleet, viewer_client):
    for url in pages(fleet):
        assert viewer_client.get(url).status_code == 200, url
    listing = viewer_client.get(admin_url("template")).content.decode()
    assert 'name="action"' not in listing and "_selected_action" not in listing
    assert admin_url("template", "add") not in listing
    template_page = viewer_client.get(admin_url("template", "change", "tpl-a")).content.decode()
    assert "View template" in template_page and 'name="max_number"' not in template_page
    assert "general purpose" in template_page and "ami-0123456789" in template_page
    assert 'name="_save"' not in template_page
    request_page = viewer_client.get(admin_url("request", "change", fleet.active.request_id)).content.decode()
    assert 'name="status"' not in request_page and fleet.running.machine_id in request_page


def test_viewers_cannot_change_anything(fleet, viewer_client):
    assert viewer_client.get(admin_url("template", "add")).status_code == 403
    assert viewer_client.post(admin_url("template", "add"), {"template_id": "tpl-x"}).status_code == 403
    change = viewer_client.post(admin_url("template", "change", "tpl-a"), {"max_number": "1", "version": "1"})
    assert change.status_code == 403
    assert viewer_client.get(admin_url("template", "delete", "tpl-a")).status_code == 403
    assert viewer_client.post(admin_url("template", "delete", "tpl-a"), {"post": "yes"}).status_code == 403
    # A forged action post: there is no action a viewer may run.
    viewer_client.post(admin_url("template"), action("disable", "tpl-a"))
    viewer_client.post(admin_url("request"), action("cancel", fleet.active.request_id, post="yes"))
    viewer_client.post(admin_url("machine"), action("mark_terminated", fleet.pending.machine_id, post="yes"))
    assert fleet.repos.templates.get_by_id("tpl-a") == fleet.template
    assert fleet.repos.requests.get_by_id(fleet.active.request_id) == fleet.active
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending


@pytest.mark.parametrize("who", ["operator_client", "superuser_client"])
def test_operators_and_superusers_get_every_page_and_action(fleet, who, request, db):
    client = request.getfixturevalue(who)
    for url in [*pages(fleet), admin_url("template", "add")]:
        assert client.get(url).status_code == 200, url
    expected_actions = {
        "template": ["enable", "disable", "delete_selected"],
        "request": ["cancel", "delete_selected"],
        "machine": ["set_status", "mark_terminated", "reclaim", "delete_selected"],
    }
    for kind, names in expected_actions.items():
        listing = client.get(admin_url(kind)).content.decode()
        for name in names:
            assert f'<option value="{name}">' in listing, (kind, name)
    assert 'name="max_number"' in client.get(admin_url("template", "change", "tpl-a")).content.decode()


def test_staff_without_permissions_get_403_and_no_dashboard(fleet, db, django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user("nobody", password="pw-nobody", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(admin_url("template")).status_code == 403
    assert client.get(admin_url("machine", "change", fleet.running.machine_id)).status_code == 403
    index = client.get("/admin/")
    assert index.status_code == 200 and "fleet-dashboard" not in index.content.decode()
