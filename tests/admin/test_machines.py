"""The Machines admin page: list, filters, search by id or name, the machine page, status /
IP / name changes, and the actions; on memory and DynamoDB (moto)."""

from __future__ import annotations

from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.admin.helpers import action, admin_url, form_errors, messages_of, newest_event, submitted
from tests.support import aggregates


def listed_ids(response) -> list[str]:
    return sorted(obj.pk for obj in response.context["cl"].result_list)


def test_list_filters_and_the_link_to_the_request(fleet, operator_client):
    other = aggregates.store_machine(
        fleet.repos, aggregates.machine(request_id=fleet.finished.request_id, template_id="tpl-spot", status="running")
    )
    everything = operator_client.get(admin_url("machine"))
    assert listed_ids(everything) == sorted([fleet.running.machine_id, fleet.pending.machine_id, other.machine_id])
    assert f'href="{admin_url("request", "change", fleet.active.request_id)}"' in everything.content.decode()
    assert listed_ids(operator_client.get(admin_url("machine"), {"status": "pending"})) == [fleet.pending.machine_id]
    assert listed_ids(operator_client.get(admin_url("machine"), {"template_id": "tpl-spot"})) == [other.machine_id]
    by_request = operator_client.get(admin_url("machine"), {"request_id": fleet.active.request_id, "status": "running"})
    assert listed_ids(by_request) == [fleet.running.machine_id]


def test_search_by_the_start_of_machine_id_name_or_ip_address(fleet, operator_client):
    assert listed_ids(operator_client.get(admin_url("machine"), {"q": fleet.pending.machine_id})) == [
        fleet.pending.machine_id
    ]
    assert listed_ids(operator_client.get(admin_url("machine"), {"q": "ip-10-0-0-1.ec2.internal"})) == [
        fleet.running.machine_id
    ]
    both = operator_client.get(admin_url("machine"), {"q": f"ip-10-0-0-1.ec2.internal {fleet.pending.machine_id}"})
    assert listed_ids(both) == sorted([fleet.running.machine_id, fleet.pending.machine_id])
    narrowed = operator_client.get(admin_url("machine"), {"q": fleet.pending.machine_id, "status": "running"})
    assert listed_ids(narrowed) == []
    # The start of an id, a host name or an IP address finds every machine it begins.
    every = sorted(m.machine_id for m in fleet.repos.machines.get_all() if m.machine_id.startswith("i-0aaaa"))
    assert every and listed_ids(operator_client.get(admin_url("machine"), {"q": "i-0aaaa"})) == every
    assert listed_ids(operator_client.get(admin_url("machine"), {"q": "ip-10-0-0-1"})) == [fleet.running.machine_id]
    assert listed_ids(operator_client.get(admin_url("machine"), {"q": "10.0.0.1"})) == [fleet.running.machine_id]
    assert listed_ids(operator_client.get(admin_url("machine"), {"q": "i-0zzz"})) == []


def test_change_status_ips_and_name_reconciles_the_request(fleet, operator_client):
    url = admin_url("machine", "change", fleet.pending.machine_id)
    page = operator_client.get(url)
    assert page.status_code == 200 and "Moves allowed from pending:" in page.content.decode()
    edit = {"status": "running", "name": "ip-10-0-0-2.ec2.internal", "private_ip_address": "10.0.0.2"}
    response = operator_client.post(url, submitted(page, **edit, public_ip_address="54.0.0.2"))
    assert response.status_code == 302, form_errors(response)
    stored = fleet.repos.machines.get_by_id(fleet.pending.machine_id)
    assert (stored.status, stored.name, stored.private_ip_address, stored.public_ip_address) == (
        MachineStatus.RUNNING,
        "ip-10-0-0-2.ec2.internal",
        "10.0.0.2",
        "54.0.0.2",
    )
    assert fleet.repos.requests.get_by_id(fleet.active.request_id).status == RequestStatus.COMPLETE
    event = newest_event("machine", fleet.pending.machine_id)
    assert event.changes == {
        "status": ["pending", "running"],
        "name": ["", "ip-10-0-0-2.ec2.internal"],
        "private_ip_address": [None, "10.0.0.2"],
        "public_ip_address": [None, "54.0.0.2"],
    }
    assert event.channel == "admin"


def test_bad_machine_edits_are_form_errors(fleet, operator_client):
    url = admin_url("machine", "change", fleet.running.machine_id)
    page = operator_client.get(url)
    bad_ip = operator_client.post(url, submitted(page, private_ip_address="10.0.0.300"))
    assert form_errors(bad_ip) == {
        "private_ip_address": ["private_ip_address: must be a valid IPv4 or IPv6 address, got '10.0.0.300'"]
    }
    bad_move = operator_client.post(url, submitted(page, status="pending"))
    assert "cannot move from 'running' to 'pending'" in form_errors(bad_move)["status"][0]
    no_reason = operator_client.post(url, submitted(page, status="unknown"))
    assert no_reason.status_code == 302  # running -> unknown is allowed without a reason
    failed = operator_client.post(
        admin_url("machine", "change", fleet.pending.machine_id),
        submitted(operator_client.get(admin_url("machine", "change", fleet.pending.machine_id)), status="failed"),
    )
    assert form_errors(failed) == {"status_reason": ["status_reason: is required when status is failed"]}
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending


def test_mark_terminated_reconciles_the_request(fleet, operator_client):
    response = operator_client.post(
        admin_url("machine"), action("mark_terminated", fleet.pending.machine_id, post="yes")
    )
    assert f"Set status terminated on 1 machine: {fleet.pending.machine_id}." in messages_of(response)
    stored = fleet.repos.machines.get_by_id(fleet.pending.machine_id)
    assert (
        stored.status == MachineStatus.TERMINATED and stored.status_reason == "Set to terminated by olga in the admin."
    )
    request = fleet.repos.requests.get_by_id(fleet.active.request_id)
    assert request.status == RequestStatus.PARTIAL and request.message == "1 of 2 machines started; the others failed."
    event = newest_event("machine", fleet.pending.machine_id)
    assert event.changes["status"] == ["pending", "terminated"]
    assert (event.channel, event.reason) == ("admin", "Changed status to terminated.")


def test_set_status_action_takes_the_chosen_status(fleet, operator_client):
    response = operator_client.post(
        admin_url("machine"),
        action("set_status", fleet.running.machine_id, fleet.pending.machine_id, status="stopping", post="yes"),
    )
    found = messages_of(response)
    assert f"Set status stopping on 1 machine: {fleet.running.machine_id}." in found
    assert any(f"machine {fleet.pending.machine_id}: cannot move from 'pending' to 'stopping'" in t for t in found)
    assert fleet.repos.machines.get_by_id(fleet.running.machine_id).status == MachineStatus.STOPPING
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending
    unchosen = operator_client.post(admin_url("machine"), action("set_status", fleet.pending.machine_id, status=""))
    assert any(text.startswith("Choose the new status next to the action") for text in messages_of(unchosen))
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending


def test_reclaim_asks_host_factory_to_return_the_machine(fleet, operator_client):
    response = operator_client.post(admin_url("machine"), action("reclaim", fleet.running.machine_id, post="yes"))
    assert f"Asked Host Factory to return 1 machine: {fleet.running.machine_id}." in messages_of(response)
    assert fleet.repos.machines.get_by_id(fleet.running.machine_id).reclaim_at is not None
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id).reclaim_at is None
    page = operator_client.get(admin_url("machine", "change", fleet.running.machine_id)).content.decode()
    assert "Return asked" in page


def test_machines_are_not_added_here_and_delete_reconciles(fleet, superuser_client):
    assert superuser_client.get(admin_url("machine", "add")).status_code == 403
    superuser_client.post(admin_url("machine", "delete", fleet.pending.machine_id), {"post": "yes"})
    assert fleet.repos.machines.get_by_id(fleet.pending.machine_id) is None
    # One machine left and it succeeded, but two were asked: still in progress.
    assert fleet.repos.requests.get_by_id(fleet.active.request_id).status == RequestStatus.IN_PROGRESS


def test_the_status_reason_limit_is_the_domains(fleet, operator_client):
    """The form once stopped at 1000 characters while the API took 4096: both now take the
    domain's 4096."""
    url = admin_url("machine", "change", fleet.running.machine_id)
    page = operator_client.get(url)
    accepted = operator_client.post(url, submitted(page, status_reason="r" * 4096))
    assert accepted.status_code == 302, form_errors(accepted)
    assert fleet.repos.machines.get_by_id(fleet.running.machine_id).status_reason == "r" * 4096
    page = operator_client.get(url)
    refused = operator_client.post(url, submitted(page, status_reason="r" * 4097))
    assert "at most 4096 characters" in form_errors(refused)["status_reason"][0]
