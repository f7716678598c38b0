"""The API docs in a real browser (headless Chromium, as tests/admin/test_browser.py drives it):
logged out, /api/docs/ leads through the admin's login page and back, and Swagger UI then draws
the operations with their descriptions and examples under the Content-Security-Policy."""

from __future__ import annotations

import pytest

from tests.admin.test_browser import PASSWORD, SCREENSHOTS, browser_user, chromium_page  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("backend_settings", ["memory"], indirect=True),
]


def test_logged_out_the_docs_send_you_to_log_in_and_back(storage, live_server, browser_user, chromium_page):  # noqa: F811
    from playwright.sync_api import expect

    page = chromium_page
    page.goto(live_server.url + "/api/docs/")
    assert page.url == live_server.url + "/admin/login/?next=/api/docs/"
    page.fill("#id_username", browser_user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    expect(page).to_have_url(live_server.url + "/api/docs/")
    operation = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/requestMachines"))
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    expect(operation).to_contain_text("Host Factory asks for")  # the operation's description
    expect(operation).to_contain_text("Spot-Template-VM")  # the example from IBM's sample
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "api-docs-request-machines.png", full_page=True)
    assert page.csp_violations == [], page.csp_violations
