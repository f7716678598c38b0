"""A Content-Security-Policy on every HTML page: only the site's own scripts and styles."""

from __future__ import annotations

import pytest
from django.test import Client

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


@MEMORY
def test_every_html_page_carries_the_policy(storage, admin_client):
    pages = [
        (Client(), "/admin/login/"),
        (admin_client, "/admin/"),
        (admin_client, "/admin/templates_app/template/"),
        (admin_client, "/api/docs/"),
    ]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html"), path
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", path
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'", path
        html = response.content.decode()
        assert "<script>" not in html and "<style>" not in html and " style=" not in html, path
