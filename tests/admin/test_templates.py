"""The Templates admin page: list, filters, search, add, change, delete, actions; on the
memory backend and on DynamoDB (moto)."""

from __future__ import annotations

import html
import json
import re

from django.contrib import admin

from templates_app.models import Template as TemplateAnchor
from tests.admin.helpers import (
    action,
    admin_url,
    events_of,
    form_errors,
    is_deletion,
    messages_of,
    newest_event,
    submitted,
)

ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "4"], "nram": ["Numeric", "8192"]}


def listed_ids(response) -> list[str]:
    return [obj.pk for obj in response.context["cl"].result_list]


def add_form(**changes) -> dict:
    data = {
        "template_id": "tpl-new",
        "enabled": "on",
        "max_number": "5",
        "description": "added in the admin",
        "provider_type": "aws",
        "provider_api": "RunInstances",
        "price_type": "ondemand",
        "attributes": json.dumps(ATTRIBUTES),
        "provider_config": json.dumps({"imageId": "ami-1", "vmType": "t3.small"}),
    }
    data.update(changes)
    return data


def test_list_shows_every_template_with_its_columns(fleet, operator_client):
    response = operator_client.get(admin_url("template"))
    assert response.status_code == 200
    assert sorted(listed_ids(response)) == ["tpl-a", "tpl-off", "tpl-spot"]
    page = response.content.decode()
    assert "general purpose" in page and "SpotFleet" in page
    assert "Next page" not in page


def test_filters_narrow_the_list(fleet, operator_client):
    assert listed_ids(operator_client.get(admin_url("template"), {"price_type": "spot"})) == ["tpl-spot"]
    assert listed_ids(operator_client.get(admin_url("template"), {"enabled": "false"})) == ["tpl-off"]
    both = operator_client.get(admin_url("template"), {"enabled": "true", "price_type": "ondemand"})
    assert listed_ids(both) == ["tpl-a"]
    assert listed_ids(operator_client.get(admin_url("template"), {"provider_type": "gcp"})) == []
    page = both.content.decode()
    assert "Clear all filters" in page and "By price type" in page


def test_a_bad_filter_value_is_an_error_message_not_a_crash(fleet, operator_client):
    response = operator_client.get(admin_url("template"), {"enabled": "maybe"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert any("enabled: must be true or false" in text for text in messages_of(response))
    unknown = operator_client.get(admin_url("template"), {"colour": "red"})
    assert unknown.status_code == 302
    assert any("Unknown filter colour" in text for text in messages_of(unknown))
    assert operator_client.get(unknown["Location"]).status_code == 200


def test_search_finds_templates_by_the_start_of_their_id(fleet, operator_client):
    assert listed_ids(operator_client.get(admin_url("template"), {"q": "tpl-spot"})) == ["tpl-spot"]
    every = sorted(t.template_id for t in fleet.repos.templates.get_all())
    assert listed_ids(operator_client.get(admin_url("template"), {"q": "tpl"})) == every
    assert listed_ids(operator_client.get(admin_url("template"), {"q": "Spot"})) == []  # ids are case-sensitive
    # Search and filters together.
    assert listed_ids(operator_client.get(admin_url("template"), {"q": "tpl-spot", "enabled": "false"})) == []


def test_add_stores_the_template_and_records_history(fleet, operator_client, operator):
    response = operator_client.post(admin_url("template", "add"), add_form())
    assert response.status_code == 302, form_errors(response)
    stored = fleet.repos.templates.get_by_id("tpl-new")
    assert stored.max_number == 5 and stored.provider_config == {"imageId": "ami-1", "vmType": "t3.small"}
    assert stored.attributes == ATTRIBUTES and stored.version == 1
    assert any("was added successfully" in text for text in messages_of(response))
    [event] = events_of("template", "tpl-new")
    assert event.changes["max_number"] == [None, 5] and event.changes["template_id"] == [None, "tpl-new"]
    assert (event.channel, event.actor, event.version) == ("admin", operator.username, 1)


def test_add_with_broken_json_names_the_place(fleet, operator_client):
    response = operator_client.post(
        admin_url("template", "add"), add_form(attributes='{"type": ["String", "X86_64"],}')
    )
    assert response.status_code == 200
    [error] = form_errors(response)["attributes"]
    assert error.startswith("Invalid JSON at line 1 column")
    assert html.escape('{"type": ["String", "X86_64"],}') in response.content.decode()  # the input is kept
    assert fleet.repos.templates.get_by_id("tpl-new") is None


def test_add_with_values_the_domain_refuses(fleet, operator_client):
    too_many = operator_client.post(admin_url("template", "add"), add_form(max_number="20000"))
    assert form_errors(too_many) == {"max_number": ["max_number: must be -1 (unlimited) or 0..10000, got 20000"]}
    not_object = operator_client.post(admin_url("template", "add"), add_form(provider_config="[1, 2]"))
    assert form_errors(not_object) == {"provider_config": ["Must be a JSON object ({...}), got a JSON list."]}
    missing = operator_client.post(admin_url("template", "add"), add_form(attributes='{"type": ["String", "x"]}'))
    assert "missing ncpus, nram" in form_errors(missing)["attributes"][0]
    bad_id = operator_client.post(admin_url("template", "add"), add_form(template_id="no spaces"))
    assert "template_id" in form_errors(bad_id)
    assert fleet.repos.templates.get_all(filters={"enabled": True}, limit=10) == [fleet.template, fleet.spot]


def test_add_of_an_existing_id_is_refused_on_the_id(fleet, operator_client):
    response = operator_client.post(admin_url("template", "add"), add_form(template_id="tpl-spot"))
    assert response.status_code == 200
    assert "already exists" in form_errors(response)["template_id"][0]
    assert fleet.repos.templates.get_by_id("tpl-spot") == fleet.spot  # untouched
    assert newest_event("template", "tpl-spot").version == fleet.spot.version  # and no event


def test_change_stores_the_edit_and_records_what_changed(fleet, operator_client, operator):
    url = admin_url("template", "change", "tpl-a")
    page = operator_client.get(url)
    assert page.status_code == 200
    response = operator_client.post(
        url, submitted(page, max_number="7", provider_config='{"imageId": "ami-2", "vmType": "m5.large"}')
    )
    assert response.status_code == 302, form_errors(response)
    stored = fleet.repos.templates.get_by_id("tpl-a")
    assert (stored.max_number, stored.provider_config, stored.version) == (
        7,
        {"imageId": "ami-2", "vmType": "m5.large"},
        2,
    )
    assert stored.attributes == fleet.template.attributes  # untouched fields stay
    event = newest_event("template", "tpl-a")
    assert event.changes == {
        "max_number": [10, 7],
        "provider_config": [fleet.template.provider_config, {"imageId": "ami-2", "vmType": "m5.large"}],
    }
    assert (event.channel, event.actor, event.version) == ("admin", operator.username, 2)
    history = operator_client.get(admin_url("template", "history", "tpl-a")).content.decode()
    assert '<span class="old">10</span> &rarr; <span class="new">7</span>' in history


def test_a_stale_edit_is_refused_and_nothing_is_saved(fleet, operator_client):
    url = admin_url("template", "change", "tpl-a")
    page = operator_client.get(url)
    fleet.repos.templates.save(fleet.template.replace(description="changed by someone else"))  # now version 2
    response = operator_client.post(url, submitted(page, max_number="3"))
    assert response.status_code == 200
    [error] = form_errors(response)["__all__"]
    assert "changed by someone else" in error and "version 1, it is now version 2" in error
    assert any("Not saved" in text for text in messages_of(response))
    stored = fleet.repos.templates.get_by_id("tpl-a")
    assert (stored.max_number, stored.description, stored.version) == (10, "changed by someone else", 2)
    assert newest_event("template", "tpl-a").changes == {"description": ["general purpose", "changed by someone else"]}


def test_a_conflict_met_while_saving_shows_the_form_again(fleet, operator_client, monkeypatch):
    """A write that loses a race after the form validated: refused, form shown with the reason."""
    from hostfactory.errors import VersionConflict

    def lose_the_race(**kwargs):
        raise VersionConflict("template tpl-a was changed by someone else: you have version 1, the stored one is 2")

    monkeypatch.setattr("templates_app.forms.template_update", lose_the_race)
    url = admin_url("template", "change", "tpl-a")
    response = operator_client.post(url, submitted(operator_client.get(url), max_number="3"))
    assert response.status_code == 200
    assert "the stored one is 2" in form_errors(response)["__all__"][0]
    assert response.context["adminform"].form["max_number"].value() == "3"  # the user's input is kept
    assert fleet.repos.templates.get_by_id("tpl-a") == fleet.template
    assert newest_event("template", "tpl-a").version == fleet.template.version  # no event


def test_an_edit_of_a_template_deleted_meanwhile_says_so(fleet, operator_client):
    url = admin_url("template", "change", "tpl-spot")
    page = operator_client.get(url)
    fleet.repos.templates.delete("tpl-spot")
    response = operator_client.post(url, submitted(page, max_number="3"))
    assert response.status_code == 302
    assert any("Perhaps it was deleted?" in text for text in messages_of(response))
    assert fleet.repos.templates.get_by_id("tpl-spot") is None
    assert operator_client.get(url).status_code == 302  # and its page is gone


def test_delete_of_an_unused_template(fleet, operator_client, operator):
    url = admin_url("template", "delete", "tpl-spot")
    confirm = operator_client.get(url)
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    response = operator_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert fleet.repos.templates.get_by_id("tpl-spot") is None
    event = newest_event("template", "tpl-spot")
    assert is_deletion(event) and (event.channel, event.actor) == ("admin", operator.username)


def test_a_template_in_use_says_so_before_any_confirmation(fleet, operator_client):
    url = admin_url("template", "delete", "tpl-a")
    page = html.unescape(operator_client.get(url).content.decode())
    assert "This template cannot be deleted, and nothing was changed" in page
    assert "template 'tpl-a' is in use: 2 hosts used or reserved" in page and "disable it instead" in page
    assert "will be deleted" not in page and "Are you sure" not in page and 'name="post"' not in page
    forged = operator_client.post(url, {"post": "yes"})  # a confirmation the page never offered
    assert forged.status_code == 200
    assert fleet.repos.templates.get_by_id("tpl-a") == fleet.template
    assert newest_event("template", "tpl-a").version == fleet.template.version  # no event


def test_a_template_taken_into_use_after_the_page_is_refused_with_a_message(fleet, operator_client, monkeypatch):
    # The page was shown while the template was free; a request took it before the confirmation.
    monkeypatch.setattr(type(admin.site._registry[TemplateAnchor]), "delete_refusals", lambda self, templates: {})
    response = operator_client.post(admin_url("template", "delete", "tpl-a"), {"post": "yes"})
    assert response.status_code == 302 and response["Location"] == admin_url("template", "change", "tpl-a")
    [message] = messages_of(response)
    assert message.startswith("Not deleted: template 'tpl-a' is in use: 2 hosts used or reserved (active requests: ")
    assert "disable it instead" in message
    assert fleet.repos.templates.get_by_id("tpl-a") == fleet.template
    assert newest_event("template", "tpl-a").version == fleet.template.version  # no deletion event


def test_enable_and_disable_actions(fleet, operator_client):
    response = operator_client.post(admin_url("template"), action("disable", "tpl-a", "tpl-spot"))
    assert response.status_code == 302
    assert fleet.repos.templates.get_by_id("tpl-a").enabled is False
    assert fleet.repos.templates.get_by_id("tpl-spot").enabled is False
    assert "Disabled 2 templates: tpl-a, tpl-spot." in messages_of(response)
    operator_client.post(admin_url("template"), action("enable", "tpl-off"))
    assert fleet.repos.templates.get_by_id("tpl-off").enabled is True
    event = newest_event("template", "tpl-a")
    assert (event.changes, event.channel, event.reason) == ({"enabled": [True, False]}, "admin", "Disabled.")


def test_an_action_on_a_template_deleted_meanwhile_reports_it(fleet, operator_client):
    fleet.repos.templates.delete("tpl-spot")
    response = operator_client.post(admin_url("template"), action("disable", "tpl-spot", "tpl-off"))
    assert "Not changed: template tpl-spot no longer exists." in messages_of(response)
    assert "Disabled 1 template: tpl-off." in messages_of(response)


def test_delete_selected_deletes_what_is_free_and_reports_the_rest(fleet, operator_client):
    confirm = operator_client.post(admin_url("template"), action("delete_selected", "tpl-a", "tpl-spot"))
    page = html.unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "1 of the selected templates cannot be changed this way" in page
    assert "template 'tpl-a' is in use" in page and "Host Factory no longer gets it" in page
    assert re.findall(r'name="_selected_action" value="([^"]+)"', page) == ["tpl-spot"]  # what it offers to delete
    assert fleet.repos.templates.get_by_id("tpl-spot") is not None  # nothing deleted before the confirmation
    # A confirmation naming both (as a stale page would): the free one goes, the other is reported.
    response = operator_client.post(
        admin_url("template"), {**action("delete_selected", "tpl-a", "tpl-spot"), "post": "yes"}
    )
    assert response.status_code == 302
    found = messages_of(response)
    assert any(text.startswith("Not deleted: template 'tpl-a' is in use") for text in found)
    assert "Deleted 1 template: tpl-spot." in found
    assert fleet.repos.templates.get_by_id("tpl-spot") is None
    assert fleet.repos.templates.get_by_id("tpl-a") is not None
    assert is_deletion(newest_event("template", "tpl-spot"))
    assert newest_event("template", "tpl-a").version == fleet.template.version


def test_a_form_without_a_valid_version_is_refused(fleet, operator_client):
    url = admin_url("template", "change", "tpl-a")
    response = operator_client.post(url, submitted(operator_client.get(url), max_number="3", version="abc"))
    assert response.status_code == 200
    assert "This form carries no version of the template" in form_errors(response)["__all__"][0]
    assert fleet.repos.templates.get_by_id("tpl-a") == fleet.template


def test_the_provider_type_limit_is_the_domains(fleet, operator_client):
    """The form once stopped at 32 characters while the API took 64: both now take the
    domain's 64, and refuse more with the domain's message."""
    accepted = operator_client.post(admin_url("template", "add"), add_form(provider_type="a" * 64))
    assert accepted.status_code == 302, form_errors(accepted)
    assert fleet.repos.templates.get_by_id("tpl-new").provider_type == "a" * 64
    refused = operator_client.post(admin_url("template", "add"), add_form(template_id="tpl-2", provider_type="a" * 65))
    assert "at most 64 characters" in form_errors(refused)["provider_type"][0]
    assert fleet.repos.templates.get_by_id("tpl-2") is None


def test_list_and_detail_show_the_launch_api_a_template_without_provider_api_gets(fleet, operator_client, storage):
    from tests.support import aggregates

    storage.templates.save(aggregates.template("tpl-ibm", provider_api=None, provider_config={"spotPrice": "0.1"}))

    page = operator_client.get(admin_url("template")).content.decode()
    detail = operator_client.get(admin_url("template", "change", "tpl-ibm")).content.decode()

    assert "SpotFleet (from priceType)" in page
    assert "SpotFleet (from priceType)" in detail


def test_the_changelist_says_where_templates_come_from(fleet, operator_client, settings):
    assert "HOSTFACTORY_TEMPLATES_SOURCE=service" in operator_client.get(admin_url("template")).content.decode()

    settings.HOSTFACTORY_TEMPLATES_SOURCE = "hostfactory"
    page = html.unescape(operator_client.get(admin_url("template")).content.decode())

    assert "Host Factory's conf-dir <instance>prov_templates.json (HOSTFACTORY_TEMPLATES_SOURCE=hostfactory)" in page
