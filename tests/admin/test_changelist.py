"""Lists page through the repositories by cursor: "Next page" / "First page" links, no
counts, every item exactly once; bad cursors are messages; DynamoDB lists use the indexes."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib import admin

from hostfactory.errors import StorageUnavailable
from machines_app.models import Machine as MachineAnchor
from requests_app.domain import RequestStatus
from requests_app.models import Request as RequestAnchor
from templates_app.models import Template as TemplateAnchor
from tests.admin.helpers import admin_url, messages_of
from tests.support import aggregates
from tests.support.dynamodb_calls import count_dynamodb_calls

NEXT = re.compile(r'<a href="([^"]+)" class="next-page">')
FIRST = re.compile(r'<a href="([^"]+)" class="first-page">')


@pytest.fixture
def small_pages(monkeypatch):
    """Three rows a page, so a few aggregates make several pages."""
    for model in (TemplateAnchor, RequestAnchor, MachineAnchor):
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", 3)


def ids_on(response) -> list[str]:
    assert response.status_code == 200
    return [obj.pk for obj in response.context["cl"].result_list]


def link(response, pattern: re.Pattern) -> str | None:
    found = pattern.search(response.content.decode())
    return html.unescape(found.group(1)) if found else None


def follow_pages(client, url: str, params: dict | None = None) -> list[list[str]]:
    """The ids on each page, following "Next page" links until there are none."""
    response = client.get(url, params or {})
    pages = [ids_on(response)]
    while next_page := link(response, NEXT):
        response = client.get(url + next_page)
        pages.append(ids_on(response))
    return pages


def test_paging_shows_each_template_once_with_next_and_first_links(storage, operator_client, small_pages):
    ids = {storage.templates.save(aggregates.template(f"tpl-{n:02d}")).template_id for n in range(8)}
    pages = follow_pages(operator_client, admin_url("template"))
    assert [len(page) for page in pages] == [3, 3, 2]
    assert sorted(id_ for page in pages for id_ in page) == sorted(ids)
    first = operator_client.get(admin_url("template"))
    assert link(first, FIRST) is None
    second = operator_client.get(admin_url("template") + link(first, NEXT))
    assert ids_on(second) == pages[1] and link(second, NEXT) is not None
    assert ids_on(operator_client.get(admin_url("template") + link(second, FIRST))) == pages[0]
    paginator = second.content.decode().split('id="repository-paginator"')[1].split("</p>")[0]
    assert "template" not in paginator  # no counts while paging, only the links


def test_paging_keeps_the_filters(storage, operator_client, small_pages):
    for _ in range(5):
        storage.requests.save(aggregates.acquire_request(status=RequestStatus.PENDING))
    for _ in range(2):
        storage.requests.save(aggregates.acquire_request(status=RequestStatus.COMPLETE))
    pages = follow_pages(operator_client, admin_url("request"), {"status": "pending"})
    assert [len(page) for page in pages] == [3, 2]
    listed = [storage.requests.get_by_id(request_id) for page in pages for request_id in page]
    assert {request.status for request in listed} == {RequestStatus.PENDING}


def test_a_forged_cursor_is_a_message_not_a_crash(storage, operator_client):
    response = operator_client.get(admin_url("template"), {"cursor": "not-a-cursor"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert any("not a cursor this service issued" in text for text in messages_of(response))
    assert operator_client.get(response["Location"]).status_code == 200


def test_a_cursor_of_other_filters_is_refused(storage, operator_client, small_pages):
    for n in range(5):
        storage.templates.save(aggregates.template(f"tpl-{n}"))
    cursor = operator_client.get(admin_url("template")).context["cl"].next_cursor
    response = operator_client.get(admin_url("template"), {"cursor": cursor, "enabled": "true"})
    assert response.status_code == 302
    assert any("issued for other filters" in text for text in messages_of(response))


def test_filter_links_start_again_from_the_first_page(storage, operator_client, small_pages):
    for n in range(5):
        storage.templates.save(aggregates.template(f"tpl-{n}"))
    cursor = operator_client.get(admin_url("template")).context["cl"].next_cursor
    page = operator_client.get(admin_url("template"), {"cursor": cursor}).content.decode()
    filter_links = re.findall(r'href="(\?[^"]*price_type=spot[^"]*)"', page)
    assert filter_links and all("cursor" not in link for link in filter_links)


def test_storage_outage_is_a_503_page_in_the_admin_look(storage, operator_client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise StorageUnavailable("DynamoDB is unreachable (Scan on 'templates'): EndpointConnectionError")

    monkeypatch.setattr(type(storage.templates), "list_page", unreachable)
    response = operator_client.get(admin_url("template"))
    assert response.status_code == 503
    assert "DynamoDB is unreachable" in response.content.decode()
    assert "Host Factory console" in response.content.decode()


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_dynamodb_lists_use_the_indexes(storage, operator_client):
    for _ in range(4):
        storage.requests.save(aggregates.acquire_request(status=RequestStatus.PENDING))
    machine = storage.machines.save(aggregates.machine(name="host-1.internal"))
    with count_dynamodb_calls(storage.requests) as calls:
        response = operator_client.get(admin_url("request"), {"status": "pending"})
    assert len(response.context["cl"].result_list) == 4
    assert set(calls.calls) == {"Query", "BatchGetItem"}  # the status index, then the items; no Scan
    with count_dynamodb_calls(storage.machines) as calls:
        found = operator_client.get(admin_url("machine"), {"q": f"host-1.internal {machine.machine_id}"})
    assert [obj.pk for obj in found.context["cl"].result_list] == [machine.machine_id]
    assert "Scan" not in calls.calls and set(calls.calls) <= {"BatchGetItem", "Query"}
