"""The Requests admin page: list and filters, the request page (machines, Host Factory view),
status changes under the transition rules, cancel; on memory and DynamoDB (moto)."""

from __future__ import annotations

from requests_app.domain import RequestStatus
from tests.admin.helpers import action, admin_url, form_errors, is_deletion, messages_of, newest_event, submitted
from tests.support import aggregates


def listed_ids(response) -> list[str]:
    return [obj.pk for obj in response.context["cl"].result_list]


def test_list_and_its_filters(fleet, operator_client):
    returned = fleet.repos.requests.save(aggregates.return_request(status=RequestStatus.PENDING))
    everything = operator_client.get(admin_url("request"))
    assert everything.status_code == 200
    assert set(listed_ids(everything)) == {fleet.active.request_id, fleet.finished.request_id, returned.request_id}
    page = everything.content.decode()
    assert "complete_with_error" not in page and "running" in page  # the Host Factory status column
    assert listed_ids(operator_client.get(admin_url("request"), {"status": "in_progress"})) == [fleet.active.request_id]
    assert listed_ids(operator_client.get(admin_url("request"), {"request_type": "return"})) == [returned.request_id]
    assert listed_ids(operator_client.get(admin_url("request"), {"template_id": "tpl-spot"})) == [
        fleet.finished.request_id
    ]
    assert listed_ids(operator_client.get(admin_url("request"), {"status": "pending", "request_type": "acquire"})) == []
    bad = operator_client.get(admin_url("request"), {"status": "done"})
    assert bad.status_code == 302
    assert any("filter status: must be one of pending, in_progress" in text for text in messages_of(bad))


def test_search_by_request_id(fleet, operator_client):
    found = operator_client.get(admin_url("request"), {"q": f"  {fleet.finished.request_id} "})
    assert listed_ids(found) == [fleet.finished.request_id]
    assert listed_ids(operator_client.get(admin_url("request"), {"q": "req-nothing"})) == []


def test_request_page_shows_its_machines_and_the_host_factory_view(fleet, operator_client):
    response = operator_client.get(admin_url("request", "change", fleet.active.request_id))
    assert response.status_code == 200
    page = response.content.decode()
    for machine in (fleet.running, fleet.pending):
        assert f'href="{admin_url("machine", "change", machine.machine_id)}"' in page
    assert "ip-10-0-0-1.ec2.internal" in page and "succeed" in page and "executing" in page
    assert '<div class="readonly">running</div>' in page  # Host Factory status of in_progress
    assert f'href="{admin_url("template", "change", "tpl-a")}"' in page
    assert "Moves allowed from in_progress: cancelled, complete, failed, partial, timeout." in page


def test_status_change_within_the_rules(fleet, operator_client, operator):
    url = admin_url("request", "change", fleet.active.request_id)
    response = operator_client.post(url, submitted(operator_client.get(url), status="failed", message="Gave up."))
    assert response.status_code == 302, form_errors(response)
    stored = fleet.repos.requests.get_by_id(fleet.active.request_id)
    assert (stored.status, stored.message) == (RequestStatus.FAILED, "Gave up.")
    assert stored.completed_at is not None
    event = newest_event("request", fleet.active.request_id)
    assert event.changes["status"] == ["in_progress", "failed"] and event.changes["message"][1] == "Gave up."
    assert (event.channel, event.actor) == ("admin", operator.username)
    page = operator_client.get(url).content.decode()
    assert '<div class="readonly">complete_with_error</div>' in page


def test_a_status_move_the_rules_forbid_is_a_form_error(fleet, operator_client):
    url = admin_url("request", "change", fleet.finished.request_id)
    response = operator_client.post(url, submitted(operator_client.get(url), status="pending"))
    assert response.status_code == 200
    [error] = form_errors(response)["status"]
    assert "cannot move from 'complete' to 'pending'" in error and "none (terminal status)" in error
    assert fleet.repos.requests.get_by_id(fleet.finished.request_id) == fleet.finished
    assert newest_event("request", fleet.finished.request_id).version == fleet.finished.version  # no event


def test_message_only_change_and_a_stale_one(fleet, operator_client):
    url = admin_url("request", "change", fleet.active.request_id)
    page = operator_client.get(url)
    assert operator_client.post(url, submitted(page, message="All good.")).status_code == 302
    assert fleet.repos.requests.get_by_id(fleet.active.request_id).message == "All good."
    stale = operator_client.post(url, submitted(page, message="From an old page."))  # still the old version
    assert stale.status_code == 200 and "changed by someone else" in form_errors(stale)["__all__"][0]
    assert fleet.repos.requests.get_by_id(fleet.active.request_id).message == "All good."


def test_a_finished_request_keeps_its_message(fleet, operator_client):
    url = admin_url("request", "change", fleet.finished.request_id)
    refused = operator_client.post(url, submitted(operator_client.get(url), message="Rewritten."))
    assert refused.status_code == 200
    assert "'complete', a final status" in str(form_errors(refused))
    assert fleet.repos.requests.get_by_id(fleet.finished.request_id) == fleet.finished
    assert newest_event("request", fleet.finished.request_id).version == fleet.finished.version  # no event


def test_cancel_action(fleet, operator_client, operator):
    response = operator_client.post(
        admin_url("request"), action("cancel", fleet.active.request_id, fleet.finished.request_id, post="yes")
    )
    assert response.status_code == 302
    cancelled = fleet.repos.requests.get_by_id(fleet.active.request_id)
    assert cancelled.status == RequestStatus.CANCELLED and cancelled.message == "Cancelled by olga in the admin."
    assert fleet.repos.requests.get_by_id(fleet.finished.request_id).status == RequestStatus.COMPLETE
    found = messages_of(response)
    assert f"Cancelled 1 request: {fleet.active.request_id}." in found
    assert any(text.startswith(f"Not changed: request {fleet.finished.request_id}: cannot move") for text in found)
    event = newest_event("request", fleet.active.request_id)
    assert event.changes["status"] == ["in_progress", "cancelled"]
    assert (event.channel, event.actor, event.reason) == ("admin", operator.username, "Cancelled.")


def test_requests_are_not_added_here_and_only_finished_ones_deleted(fleet, superuser_client):
    assert superuser_client.get(admin_url("request", "add")).status_code == 403
    refused = superuser_client.post(admin_url("request", "delete", fleet.active.request_id), {"post": "yes"})
    assert refused.status_code == 200 and "still in_progress; cancel it first" in refused.content.decode()
    assert fleet.repos.requests.get_by_id(fleet.active.request_id) is not None
    deleted = superuser_client.post(admin_url("request", "delete", fleet.finished.request_id), {"post": "yes"})
    assert deleted.status_code == 302
    assert fleet.repos.requests.get_by_id(fleet.finished.request_id) is None
    assert is_deletion(newest_event("request", fleet.finished.request_id))


def test_the_request_page_links_to_its_machines_in_the_list(fleet, operator_client):
    page = operator_client.get(admin_url("request", "change", fleet.active.request_id)).content.decode()
    listed = f"{admin_url('machine')}?request_id={fleet.active.request_id}"
    assert f'href="{listed}"' in page
    response = operator_client.get(listed)
    assert sorted(obj.pk for obj in response.context["cl"].result_list) == sorted(
        [fleet.running.machine_id, fleet.pending.machine_id]
    )
