"""Destructive or cloud-affecting actions ask first (issue 15): the confirmation page says
what will happen to which objects (and, with the AWS provider on, what happens in EC2), and
nothing changes until it is confirmed. Also the list columns an operator triages with."""

from __future__ import annotations

import html
import re

import pytest

from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.admin.helpers import action, admin_url, messages_of


def offered(page: str) -> dict[str, list[str]]:
    """What the confirmation form would post."""
    form = page.split('<form method="post">')[1].split("</form>")[0]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        fields.setdefault(name, []).append(value)
    fields.pop("csrfmiddlewaretoken", None)
    return fields


def test_mark_terminated_asks_first_and_changes_nothing(fleet, operator_client):
    response = operator_client.post(admin_url("machine"), action("mark_terminated", fleet.pending.machine_id))
    page = html.unescape(response.content.decode())
    assert response.status_code == 200 and "<title>Set machines terminated? | Host Factory console</title>" in page
    assert "Each machine's status is set to terminated." in page
    assert "Each machine's acquire request is reconciled" in page
    assert "Only the record changes: this service does not stop or terminate the host." in page
    assert f'href="{admin_url("machine", "change", fleet.pending.machine_id)}"' in page
    assert fleet.running.machine_id not in page  # only the selected machine
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending
    assert fleet.repos.requests.get_by_id(fleet.active.request_id) == fleet.active
    assert messages_of(response) == []
    form = offered(page)
    assert form == {"_selected_action": [fleet.pending.machine_id], "action": ["mark_terminated"], "post": ["yes"]}

    confirmed = operator_client.post(admin_url("machine"), {key: values for key, values in form.items()})
    assert confirmed.status_code == 302
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id).status == MachineStatus.TERMINATED


def test_with_the_aws_provider_the_page_says_what_happens_in_ec2(fleet, operator_client, settings):
    settings.HOSTFACTORY_PROVIDER = "aws"
    terminate = html.unescape(
        operator_client.post(admin_url("machine"), action("mark_terminated", fleet.pending.machine_id)).content.decode()
    )
    assert "this does NOT terminate the EC2 instance" in terminate
    assert 'use "Ask Host Factory to return selected machines" instead' in terminate
    reclaim = html.unescape(
        operator_client.post(admin_url("machine"), action("reclaim", fleet.running.machine_id)).content.decode()
    )
    assert "the host will be terminated in the cloud" in reclaim
    assert fleet.repos.machines.get_by_id(fleet.running.machine_id).reclaim_at is None
    settings.HOSTFACTORY_PROVIDER = "none"
    plain = operator_client.post(admin_url("machine"), action("reclaim", fleet.running.machine_id)).content.decode()
    assert "terminated in the cloud" not in plain and "gives the host back with requestReturnMachines" in plain


def test_set_status_carries_the_chosen_status_through_the_confirmation(fleet, operator_client):
    response = operator_client.post(
        admin_url("machine"), action("set_status", fleet.running.machine_id, status="stopping")
    )
    page = html.unescape(response.content.decode())
    assert "Each machine's status is set to stopping." in page
    assert "Only the record changes" not in page  # a live status: nothing to warn about
    assert offered(page)["status"] == ["stopping"]
    assert fleet.repos.machines.get_by_id(fleet.running.machine_id) == fleet.running


def test_cancel_asks_first_and_leaves_out_what_has_ended(fleet, operator_client):
    response = operator_client.post(
        admin_url("request"), action("cancel", fleet.active.request_id, fleet.finished.request_id)
    )
    page = html.unescape(response.content.decode())
    assert "Each active request ends as cancelled" in page and "Machines already launched are not touched" in page
    assert "already complete" in page  # the finished one is named and left out
    assert offered(page)["_selected_action"] == [fleet.active.request_id]
    assert fleet.repos.requests.get_by_id(fleet.active.request_id).status == RequestStatus.IN_PROGRESS


def test_deleting_a_machine_says_only_the_record_goes(fleet, superuser_client, settings):
    url = admin_url("machine", "delete", fleet.pending.machine_id)
    page = html.unescape(superuser_client.get(url).content.decode())
    assert "What will happen" in page and "Only the record changes" in page and "Are you sure" in page
    settings.HOSTFACTORY_PROVIDER = "aws"
    page = html.unescape(superuser_client.get(url).content.decode())
    assert "this does NOT terminate the EC2 instance" in page
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending


def test_an_active_request_cannot_be_deleted_and_says_why_first(fleet, superuser_client):
    page = html.unescape(superuser_client.get(admin_url("request", "delete", fleet.active.request_id)).content.decode())
    assert "This request cannot be deleted, and nothing was changed" in page
    assert "still in_progress; cancel it first" in page and 'name="post"' not in page


def test_nothing_to_do_offers_no_confirmation(fleet, operator_client):
    response = operator_client.post(admin_url("request"), action("cancel", fleet.finished.request_id))
    page = html.unescape(response.content.decode())
    assert "Nothing to do: none of the selected requests can be changed this way." in page
    assert '<form method="post">' not in page.split('id="content-main"')[1]


@pytest.mark.parametrize("kind", ["template", "request", "machine"])
def test_viewers_get_no_confirmation_page(fleet, viewer_client, kind):
    ids = {"template": "tpl-a", "request": fleet.active.request_id, "machine": fleet.pending.machine_id}
    name = {"template": "delete_selected", "request": "cancel", "machine": "mark_terminated"}[kind]
    response = viewer_client.post(admin_url(kind), action(name, ids[kind]))
    assert "What will happen" not in response.content.decode()


def id_cells(page: str, column: str) -> list[tuple[str, str, str]]:
    cell = rf'class="field-{column}">(?:<a href="[^"]*">)?'
    return re.findall(cell + r'<span class="hf-id(?: long)?" title="([^"]+)" data-copy="([^"]+)">([^<]+)</span>', page)


def test_lists_show_ids_on_one_line_with_the_full_id_to_copy(fleet, viewer_client):
    requests = viewer_client.get(admin_url("request")).content.decode()
    cells = id_cells(requests, "request_id")
    assert (fleet.active.request_id,) * 3 in cells  # title, data-copy and the text: the whole id
    machines = viewer_client.get(admin_url("machine")).content.decode()
    assert (fleet.active.request_id,) * 3 in id_cells(machines, "request")
    assert (fleet.running.machine_id,) * 3 in id_cells(machines, "machine_id")
    # A request id (a uuid) is cut short on screen; an instance id (19 characters) is not.
    assert f'<span class="hf-id long" title="{fleet.active.request_id}"' in requests
    assert f'<span class="hf-id" title="{fleet.running.machine_id}"' in machines


def test_machine_list_has_launch_time_age_instance_type_and_return(fleet, viewer_client, storage):
    from datetime import timedelta

    from hostfactory.domain import utcnow
    from hostfactory.fleet.requests import request_create_return

    launched = utcnow() - timedelta(hours=3, minutes=4)
    storage.machines.save(
        storage.machines.get_by_id(fleet.running.machine_id).replace(instance_type="c5.xlarge", launch_time=launched)
    )
    returned, _ = request_create_return(repos=storage, machines=[storage.machines.get_by_id(fleet.running.machine_id)])
    page = viewer_client.get(admin_url("machine")).content.decode()
    row = re.search(rf"<tr>.*?{fleet.running.machine_id}.*?</tr>", page, re.S).group(0)
    assert '<td class="field-instance_type">c5.xlarge</td>' in row
    assert f'<td class="field-launch_time">{launched:%Y-%m-%d %H:%M:%S} UTC</td>' in row
    assert '<td class="field-age">3h 04m</td>' in row
    assert f'data-copy="{returned.request_id}"' in row.split('class="field-return_request"')[1]


def test_request_list_has_age_and_deadline_and_template_list_in_use_of_max(fleet, viewer_client, storage):
    requests = viewer_client.get(admin_url("request")).content.decode()
    assert re.search(r'<td class="field-age">\d+s</td>', requests)
    templates = viewer_client.get(admin_url("template")).content.decode()
    assert '<td class="field-in_use">2 / 10</td>' in templates  # tpl-a: 2 hosts of its request
    assert '<td class="field-in_use">0 / unlimited</td>' in templates  # tpl-off
    storage.templates.save(fleet.template.replace(max_number=1))
    lowered = viewer_client.get(admin_url("template")).content.decode()
    assert '<td class="field-in_use">2 / 1 (over the limit)</td>' in lowered
