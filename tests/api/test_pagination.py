"""Cursor pagination over ``list_page``: every item exactly once, filters kept in the next
link, forged cursors refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.fixtures import add_acquire, add_template

URL = "/api/v1/templates/"


def pages(client, url: str) -> list[list[str]]:
    collected = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        collected.append([t["template_id"] for t in response.json()["results"]])
        url = response.json()["next"]
    return collected


def test_paging_returns_every_match_exactly_once(storage, viewer):
    for number in range(7):
        add_template(storage, f"t{number}", price_type="spot" if number % 2 else "ondemand")

    all_pages = pages(viewer, URL + "?limit=3")
    assert [len(page) for page in all_pages] == [3, 3, 1]
    assert sorted(i for page in all_pages for i in page) == [f"t{n}" for n in range(7)]

    first = viewer.get(URL + "?limit=2&price_type=spot").json()
    query = parse_qs(urlsplit(first["next"]).query)
    assert query["price_type"] == ["spot"] and query["limit"] == ["2"] and query["cursor"][0]
    spot = pages(viewer, URL + "?limit=2&price_type=spot")
    assert sorted(i for page in spot for i in page) == ["t1", "t3", "t5"]


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_forged_or_foreign_cursors_are_refused(storage, viewer):
    for number in range(3):
        add_template(storage, f"t{number}")
    cursor = parse_qs(urlsplit(viewer.get(URL + "?limit=1").json()["next"]).query)["cursor"][0]

    cases = [
        (f"?cursor={cursor[:-2]}xx", "not a cursor this service issued"),
        ("?cursor=eyJwIjogMX0", "not a cursor this service issued"),
        (f"?cursor={cursor}&price_type=spot", "issued for other filters"),
    ]
    for query, words in cases:
        response = viewer.get(URL + query)
        assert response.status_code == 400, query
        assert response.json()["code"] == "invalid_cursor" and words in response.json()["detail"]
    for limit in ("0", "1001", "ten"):
        response = viewer.get(URL + f"?limit={limit}")
        assert response.status_code == 400 and "limit" in response.json()
    # The same cursor with another page size is fine: it marks a position, not a page.
    assert viewer.get(URL + f"?cursor={cursor}&limit=5").status_code == 200


def test_a_cursor_works_only_on_the_list_it_came_from(storage, operator):
    add_template(storage, "tpl", max_number=-1)
    for _ in range(2):
        add_acquire(storage, "tpl", count=1)
    cursor = parse_qs(urlsplit(operator.get("/api/v1/requests/?limit=1").json()["next"]).query)["cursor"][0]
    assert operator.get(f"/api/v1/requests/?limit=1&cursor={cursor}").status_code == 200

    for elsewhere in ("/api/v1/machines/", "/api/v1/templates/"):
        response = operator.get(f"{elsewhere}?limit=1&cursor={cursor}")
        assert response.status_code == 400, (elsewhere, response.content)
        body = response.json()
        assert body["code"] == "invalid_cursor" and "this same list" in body["detail"]
