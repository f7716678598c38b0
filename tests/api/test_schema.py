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
