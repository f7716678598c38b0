"""/api/v1/templates/: every path, status code and error shape, on memory and on DynamoDB (moto)."""

from __future__ import annotations

import pytest

from tests.api.fixtures import OPERATORS, add_acquire, add_template, launch, token_client

URL = "/api/v1/templates/"
ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", 2], "nram": ["Numeric", "4096"]}


@pytest.fixture
def operator(db):
    return token_client("operator", OPERATORS)


def body(template_id: str = "OnDemand", **fields) -> dict:
    return {"template_id": template_id, "max_number": 10, "attributes": ATTRIBUTES, **fields}


def invalid(response, field: str, *words: str) -> None:
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "invalid" and field in data, data
    for word in words:
        assert word in " ".join(data[field]), data


def test_create_read_and_list(storage, operator):
    created = operator.post(URL, body(provider_config={"imageId": "ami-1"}, description="small hosts"), format="json")

    assert created.status_code == 201
    data = created.json()
    assert data["attributes"]["ncpus"] == ["Numeric", "2"]  # normalised to a string, as Host Factory wants
    assert (data["version"], data["enabled"], data["price_type"], data["provider_type"]) == (1, True, "ondemand", "aws")
    assert data["created_at"].endswith("Z") and data["provider_config"] == {"imageId": "ami-1"}
    assert operator.get(URL + "OnDemand/").json() == data
    assert operator.get(URL).json() == {"next": None, "results": [data]}
    assert storage.templates.get_by_id("OnDemand").description == "small hosts"


CREATE_REFUSED = [
    ({"max_number": 10, "attributes": ATTRIBUTES}, "template_id", ["required"]),
    (body("bad id!"), "template_id", ["A-Z a-z 0-9 _ -"]),
    (body(max_number=-5), "max_number", ["-1 (unlimited) or 0..10000"]),
    (body(max_number=10**9), "max_number", ["10000"]),
    (body(max_number="many"), "max_number", ["integer"]),
    (body(attributes={"type": ["String", "X86_64"]}), "attributes", ["missing ncpus, nram"]),
    (body(attributes={**ATTRIBUTES, "ncpus": ["Numeric", "two"]}), "attributes.ncpus", ["decimal number"]),
    (body(attributes=["type"]), "attributes", ["dictionary"]),
    (body(price_type="cheap"), "price_type", ["not a valid choice"]),
    (body(provider_config={"vmTypes": {"t3.micro": "heavy"}}), "provider_config.vmTypes.t3.micro", ["integer"]),
    (body(enabled="perhaps"), "enabled", ["valid boolean"]),
    ([body()], "non_field_errors", ["dictionary"]),
]


def test_create_refuses_bad_input_and_stores_nothing(storage, operator, subtests):
    for data, field, words in CREATE_REFUSED:
        with subtests.test(field=field, data=str(data)[:80]):
            invalid(operator.post(URL, data, format="json"), field, *words)
    response = operator.post(URL, '{"template_id": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert storage.templates.get_all() == []


def test_create_of_an_existing_id_is_a_conflict(storage, operator):
    add_template(storage, "OnDemand", max_number=3)
    response = operator.post(URL, body(), format="json")
    assert response.status_code == 409 and response.json()["code"] == "version_conflict"
    assert "already exists" in response.json()["detail"]
    assert storage.templates.get_by_id("OnDemand").max_number == 3


def test_put_replaces_and_patch_changes_only_what_it_sends(storage, operator):
    stored = add_template(storage, "OnDemand", description="kept by PATCH", price_type="spot")

    patched = operator.patch(URL + "OnDemand/", {"max_number": 4, "version": stored.version}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["max_number"], patched.json()["description"], patched.json()["version"]) == (
        4,
        "kept by PATCH",
        stored.version + 1,
    )

    put = operator.put(URL + "OnDemand/", {**body(max_number=7), "version": stored.version + 1}, format="json")
    assert put.status_code == 200
    data = put.json()
    assert (data["max_number"], data["description"], data["price_type"], data["provider_api"]) == (
        7,
        "",
        "ondemand",
        None,
    )
    assert data["created_at"] == patched.json()["created_at"] and data["version"] == stored.version + 2
    assert storage.templates.get_by_id("OnDemand").max_number == 7


def test_updates_carry_the_version_they_read(storage, operator):
    stored = add_template(storage, "OnDemand", max_number=3)
    url = URL + "OnDemand/"

    invalid(operator.patch(url, {"max_number": 4}, format="json"), "version", "required")
    stale = operator.patch(url, {"max_number": 4, "version": stored.version - 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert f"stored version is {stored.version}" in stale.json()["detail"]
    renamed = operator.put(url, {**body("Renamed"), "version": stored.version}, format="json")
    invalid(renamed, "template_id", "cannot be changed")
    invalid(operator.patch(url, {"max_number": -7, "version": stored.version}, format="json"), "max_number")
    assert storage.templates.get_by_id("OnDemand") == stored
    for missing in ("Nothing/", "bad%20id/"):
        response = operator.patch(URL + missing, {"version": 1}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_delete_refuses_a_template_in_use(storage, operator):
    add_template(storage, "Free")
    add_template(storage, "Busy")
    request = add_acquire(storage, "Busy", count=1)

    in_use = operator.delete(URL + "Busy/")
    assert in_use.status_code == 409 and in_use.json()["code"] == "in_use"
    assert request.request_id in in_use.json()["detail"] and "disable it instead" in in_use.json()["detail"]
    assert operator.delete(URL + "Free/").status_code == 204
    assert operator.get(URL + "Free/").status_code == 404
    assert operator.delete(URL + "Free/").json() == {"detail": "template 'Free' does not exist", "code": "not_found"}
    assert storage.templates.exists("Busy")


def test_list_filters(storage, operator):
    add_template(storage, "spot", price_type="spot", max_number=50)
    add_template(storage, "off", enabled=False, max_number=5)
    add_template(storage, "asg", provider_api="ASG", max_number=-1)

    def ids(query: str) -> set[str]:
        response = operator.get(URL + query)
        assert response.status_code == 200, response.json()
        return {t["template_id"] for t in response.json()["results"]}

    assert ids("?enabled=false") == {"off"}
    assert ids("?enabled=true&price_type=spot") == {"spot"}
    assert ids("?provider_api=ASG") == {"asg"}
    assert ids("?max_number_gte=5&max_number_lte=10") == {"off"}
    assert ids("?provider_type=aws") == {"spot", "off", "asg"}
    assert ids("?provider_type=&price_type=") == {"spot", "off", "asg"}  # empty, as a form sends it: no filter


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("?colour=blue", "unknown query parameter colour", "invalid_filter"),
        ("?enabled=perhaps", "enabled", "invalid"),
        ("?max_number_gte=lots", "max_number_gte", "invalid"),
        ("?price_type=cheap", "price_type", "invalid"),
        ("?limit=0", "limit", "invalid"),
    ],
)
@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_bad_filters_are_named(storage, operator, query, field, code):
    response = operator.get(URL + query)
    assert response.status_code == 400 and response.json()["code"] == code
    assert field in str(response.json())


def test_search_by_attributes(storage, operator):
    add_template(storage, "two", attributes={**ATTRIBUTES, "ncpus": ["Numeric", "2"]})
    add_template(storage, "four", attributes={**ATTRIBUTES, "ncpus": ["Numeric", "4"]})

    def found(criteria) -> set[str]:
        response = operator.post(URL + "search/", {"attributes": criteria}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["next"] is None
        return {t["template_id"] for t in response.json()["results"]}

    assert found({"ncpus": "2.0"}) == {"two"}
    assert found({"ncpus": ["Numeric", "4"], "type": "X86_64"}) == {"four"}
    assert found({"gpu": "1"}) == set()
    assert found({}) == {"two", "four"}
    invalid(operator.post(URL + "search/", {"attributes": ["ncpus"]}, format="json"), "attributes")
    invalid(operator.post(URL + "search/", {}, format="json"), "attributes", "required")


def test_templates_in_use_still_change(storage, operator):
    """Disabling a busy template is the way out of a 409 on delete."""
    stored = add_template(storage, "Busy", max_number=2)
    launch(storage, add_acquire(storage, "Busy", count=1))
    response = operator.patch(URL + "Busy/", {"enabled": False, "version": stored.version}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
