"""The OpenAPI schema and Swagger UI: complete, behind authentication, served without a CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
API_MD_PATHS = {
    "/api/v1/templates/": {"get", "post"},
    "/api/v1/templates/{template_id}/": {"get", "put", "patch", "delete"},
    "/api/v1/templates/search/": {"post"},
    "/api/v1/requests/": {"get", "post"},
    "/api/v1/requests/active/": {"get"},
    "/api/v1/requests/{request_id}/": {"get", "patch", "delete"},
    "/api/v1/requests/{request_id}/status/": {"post"},
    "/api/v1/requests/{request_id}/machines/": {"get"},
    "/api/v1/machines/": {"get", "post"},
    "/api/v1/machines/lookup/": {"post"},
    "/api/v1/machines/{machine_id}/": {"get", "put", "patch", "delete"},
    "/api/v1/machines/{machine_id}/status/": {"post"},
    "/api/v1/health/": {"get"},
    "/api/v1/hostfactory/getAvailableTemplates": {"get", "post"},
    "/api/v1/hostfactory/requestMachines": {"post"},
    "/api/v1/hostfactory/requestReturnMachines": {"post"},
    "/api/v1/hostfactory/getRequestStatus": {"post"},
    "/api/v1/hostfactory/getReturnRequests": {"post"},
}


@MEMORY
def test_the_schema_documents_every_endpoint(storage, viewer):
    response = viewer.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path, methods in API_MD_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), (path, set(schema["paths"][path]))
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    paged = schema["components"]["schemas"]["PaginatedTemplateList"]
    assert set(paged["properties"]) == {"next", "results"}


@MEMORY
def test_swagger_ui_is_served_from_local_static_files(storage, viewer):
    response = viewer.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r'"(/static/[^"]+)"', page)
    assert any("swagger-ui-bundle.js" in asset for asset in assets), assets
    assert all(asset.startswith("/") for asset in assets), [a for a in assets if not a.startswith("/")]
    assert not re.search(r"cdn|jsdelivr|unpkg|cloudflare", page, re.IGNORECASE)
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a local static file"


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@MEMORY
@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
def test_a_browser_that_is_not_logged_in_is_sent_to_the_login_page_and_back(storage, client, path):
    response = client.get(path, HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


@MEMORY
@pytest.mark.parametrize("accept", ["application/json", "application/vnd.oai.openapi+json", "*/*", None])
def test_a_program_without_credentials_still_gets_401_from_the_schema(storage, client, accept):
    response = client.get("/api/schema/", **({"HTTP_ACCEPT": accept} if accept else {}))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}


@MEMORY
def test_a_bad_token_is_401_even_from_a_browser(storage, client, db):
    response = client.get("/api/docs/", HTTP_ACCEPT=BROWSER_ACCEPT, HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


@MEMORY
def test_logged_in_the_docs_render(storage, admin_client):
    response = admin_client.get("/api/docs/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 200
    assert b"swagger-ui-bundle.js" in response.content
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/v1/hostfactory/requestMachines" in schema.json()["paths"]


@pytest.mark.django_db
def test_the_site_root_leads_to_the_console_and_view_site_points_there(client, admin_client):
    from django.contrib import admin

    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin.site.site_url == "/"
    followed = admin_client.get(admin.site.site_url, follow=True)
    assert followed.status_code == 200 and followed.redirect_chain == [("/admin/", 302)]
