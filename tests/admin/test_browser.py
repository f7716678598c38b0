"""The operator console in a real browser: headless Chromium (Debian's /usr/bin/chromium)
driven by Playwright against pytest-django's live server, on the memory backend (the live
server runs in a thread of this process, so it shares the test's data).

Screenshots of the index (its passes panel and 24-hour chart too), the lists, a History page
and the confirmation page go to
test-artifacts/admin-screenshots/ (gitignored).
Outside CI a missing browser skips the test with the reason; in CI (CI=true) it fails.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

import hostfactory.fleet.passes as fleet_passes
from hostfactory.domain import utcnow
from hostfactory.fleet.requests import request_create_return
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.admin.helpers import admin_url
from tests.support import aggregates

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin-screenshots"
PASSWORD = "browser-test-password"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("backend_settings", ["memory"], indirect=True),
]


def browser_missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"headless Chromium is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def chromium_page():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        browser_missing(f"Playwright for Python is not installed ({error})")
    if not CHROMIUM.exists():
        browser_missing(f"{CHROMIUM} not found (Debian package 'chromium')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.set_default_timeout(15_000)
        # What the Content-Security-Policy refused (Chromium reports each refusal on the console).
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and page.csp_violations.append(f"{page.url}: {message.text} at {message.location}")
            ),
        )
        yield page
        browser.close()


def log_in(page, url: str, username: str = "operator", password: str = PASSWORD) -> None:
    page.goto(url + "/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


@pytest.fixture
def browser_user(transactional_db, django_user_model):
    # Made before the browser starts: Playwright's sync API runs an event loop in this
    # thread, where Django refuses database calls.
    return django_user_model.objects.create_superuser("operator", "ops@example.com", PASSWORD)


def test_operator_edits_a_template_and_terminates_a_machine(fleet, live_server, browser_user, chromium_page):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = chromium_page

    # Log in through the admin's own login page.
    log_in(page, live_server.url)
    expect(page.locator("#fleet-dashboard")).to_contain_text("Active requests")
    expect(page.locator("#fleet-dashboard")).to_contain_text("Capacity by template")
    expect(page.locator("#fleet-dashboard .fleet-requests tr.status-in_progress td")).to_have_text("1")
    page.screenshot(path=SCREENSHOTS / "index.png", full_page=True)

    # Templates: edit tpl-a's max_number and see it saved in the list.
    page.goto(live_server.url + admin_url("template"))
    expect(page.locator("#result_list")).to_contain_text("tpl-spot")
    page.screenshot(path=SCREENSHOTS / "templates.png", full_page=True)
    page.click("#result_list th [data-copy='tpl-a']")
    page.screenshot(path=SCREENSHOTS / "template-change.png", full_page=True)
    page.fill("#id_max_number", "7")
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was changed successfully")
    row = page.locator("#result_list tr", has=page.locator("th [data-copy='tpl-a']"))
    expect(row.locator("td.field-in_use")).to_have_text("2 / 7")
    assert fleet.repos.templates.get_by_id("tpl-a").max_number == 7

    # Requests list, before anything changes: the active request is "running" for Host Factory.
    page.goto(live_server.url + admin_url("request"))
    active = page.locator("#result_list tr", has=page.locator(f"th [data-copy='{fleet.active.request_id}']"))
    expect(active.locator("td.field-hf_status")).to_have_text("running")
    page.screenshot(path=SCREENSHOTS / "requests.png", full_page=True)

    # Machines: mark the pending machine terminated with the action.
    page.goto(live_server.url + admin_url("machine"))
    page.screenshot(path=SCREENSHOTS / "machines.png", full_page=True)
    page.check(f"input[name=_selected_action][value='{fleet.pending.machine_id}']")
    page.select_option("select[name=action]", "mark_terminated")
    page.click("button[name=index]")
    page.click("input.hf-confirm")  # the confirmation page (see the test below)
    expect(page.locator("ul.messagelist li.success")).to_contain_text(
        f"Set status terminated on 1 machine: {fleet.pending.machine_id}"
    )

    # Its request is now finished with an error: one machine started, the other failed.
    page.click(f"#result_list tr:has(input[value='{fleet.pending.machine_id}']) td.field-request a")
    expect(page.locator(".field-hf_status .readonly")).to_have_text("complete_with_error")
    expect(page.locator(".field-hf_message .readonly")).to_contain_text("1 of 2 machines started")
    expect(page.locator("table.hostfactory-machines")).to_contain_text(fleet.pending.machine_id)
    expect(page.locator("#id_status")).to_have_value("partial")
    page.screenshot(path=SCREENSHOTS / "request-change.png", full_page=True)
    assert fleet.repos.requests.get_by_id(fleet.active.request_id).status == RequestStatus.PARTIAL
    assert re.search(r"/admin/requests_app/request/req-[0-9a-f-]+/change/", page.url)
    assert page.csp_violations == [], page.csp_violations  # the whole session ran under the Content-Security-Policy


def test_a_history_page_shows_who_changed_what(fleet, live_server, browser_user, chromium_page):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = chromium_page
    log_in(page, live_server.url)
    page.goto(live_server.url + admin_url("template", "change", "tpl-a"))
    page.fill("#id_max_number", "7")
    page.fill("#id_description", "general purpose, smaller")
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was changed successfully")

    # From the object's page to its History: the edit first, each field's old and new value.
    page.goto(live_server.url + admin_url("template", "change", "tpl-a"))
    page.click("a.historylink")
    newest = page.locator("table.event-history tbody tr").first
    expect(newest.locator("li[data-field=max_number] .old")).to_have_text("10")
    expect(newest.locator("li[data-field=max_number] .new")).to_have_text("7")
    expect(newest.locator("li[data-field=description] .new")).to_have_text("general purpose, smaller")
    expect(newest.locator("th.at")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(page.locator("table.event-history tbody tr").last.locator("li[data-field=template_id] .new")).to_have_text(
        "tpl-a"
    )
    page.screenshot(path=SCREENSHOTS / "history.png", full_page=True)

    # The index's Recent actions: the same event, linking back to the template's page.
    page.goto(live_server.url + "/admin/")
    recent = page.locator("#recent-actions-module li").first
    expect(recent).to_contain_text("max_number")
    recent.locator("a").click()
    expect(page.locator("#id_max_number")).to_have_value("7")
    assert page.csp_violations == [], page.csp_violations


def one_line_ids(page) -> list[dict]:
    """Each id element on the page: its text, how tall it is against one line of its font,
    and whether the stylesheet cut it short."""
    return page.eval_on_selector_all(
        ".hf-id",
        """els => els.map(el => ({
            text: el.textContent,
            title: el.title,
            height: el.getBoundingClientRect().height,
            line: parseFloat(getComputedStyle(el).fontSize) * 1.6,
            cut: el.scrollWidth > el.clientWidth,
        }))""",
    )


def test_the_console_triages_at_1400_px_and_asks_before_terminating(fleet, live_server, browser_user, chromium_page):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    repos, page = fleet.repos, chromium_page
    page.set_viewport_size({"width": 1400, "height": 900})
    # Something in every panel: a late request, a machine being returned, one lost in EC2.
    created = utcnow() - timedelta(minutes=50)
    late = repos.requests.save(
        aggregates.acquire_request(
            template_id="tpl-off", machine_count=1, created_at=created, deadline=created + timedelta(hours=1)
        )
    )
    returned, _ = request_create_return(repos=repos, machines=[fleet.running])
    lost = fleet.lost("i-0ccccccccccccccc3", "Terminated outside Host Factory.")

    log_in(page, live_server.url)
    assert page.title() == "Fleet triage | Host Factory console"
    expect(page.locator("#site-name")).to_have_text("Host Factory console")
    board = page.locator("#fleet-dashboard")
    expect(board.locator(".fleet-capacity tr.template-tpl-a svg.capacity-bar rect.live")).to_have_attribute(
        "width", "20.00"
    )
    expect(board.locator(".fleet-waiting tr.late")).to_contain_text(late.request_id[:12])
    expect(board.locator(".fleet-returning")).to_contain_text(fleet.running.machine_id)
    expect(board.locator(f".fleet-returning [data-copy='{returned.request_id}']")).to_be_visible()
    expect(board.locator(".fleet-lost")).to_contain_text(lost.machine_id)
    page.screenshot(path=SCREENSHOTS / "triage-1400.png", full_page=True)
    assert all(cell["height"] <= cell["line"] for cell in one_line_ids(page)), one_line_ids(page)

    # The lists at 1400 px: no id over two lines; long ids cut, their text and title whole.
    for kind in ("request", "machine", "template"):
        page.goto(live_server.url + admin_url(kind))
        page.screenshot(path=SCREENSHOTS / f"{kind}s-1400.png", full_page=True)
        cells = one_line_ids(page)
        assert cells and all(cell["height"] <= cell["line"] for cell in cells), (kind, cells)
        assert all(cell["text"] == cell["title"] for cell in cells), (kind, cells)
        # Request ids (uuids) are cut short; instance ids and template ids show whole.
        assert all(cell["cut"] == cell["text"].startswith(("req-", "ret-")) for cell in cells), (kind, cells)

    # "Mark terminated" asks first, saying what will happen; nothing changes until confirmed.
    page.goto(live_server.url + admin_url("machine"))
    page.check(f"input[name=_selected_action][value='{fleet.pending.machine_id}']")
    page.select_option("select[name=action]", "mark_terminated")
    page.click("button[name=index]")
    expect(page.locator("#content-main .hf-consequences")).to_contain_text("status is set to terminated")
    expect(page.locator("#content-main .hf-objects")).to_contain_text(fleet.pending.machine_id)
    page.screenshot(path=SCREENSHOTS / "confirm-mark-terminated.png", full_page=True)
    assert repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending
    page.click("a.cancel-link")  # "No, take me back": still nothing changed
    expect(page.locator("#result_list")).to_be_visible()
    assert repos.machines.get_by_id(fleet.pending.machine_id) == fleet.pending
    page.check(f"input[name=_selected_action][value='{fleet.pending.machine_id}']")
    page.select_option("select[name=action]", "mark_terminated")
    page.click("button[name=index]")
    page.click("input.hf-confirm")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Set status terminated on 1 machine")
    assert repos.machines.get_by_id(fleet.pending.machine_id).status == MachineStatus.TERMINATED
    assert page.csp_violations == [], page.csp_violations


def test_the_index_shows_the_passes_and_a_day_of_live_machines(
    fleet, live_server, browser_user, chromium_page, settings
):
    from playwright.sync_api import expect

    settings.HOSTFACTORY_PROVIDER = "aws"  # this service launches: a provision pass is due every 30 s
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    # A provision pass every 10 minutes for the last 6 hours, the fleet growing from 12 to 30;
    # the last one 5 minutes ago (stale: over 3 x 30 s); sync_machines never ran.
    with pytest.MonkeyPatch.context() as patch:
        for n in range(37):
            patch.setattr(fleet_passes, "utcnow", lambda n=n: now - timedelta(minutes=5 + 10 * (36 - n)))
            live = 12 + n // 2
            fleet_passes.record_pass(
                fleet.repos, "provision", errors=0, machines={"running": {"tpl-a": live}}, requests={}
            )
    page = chromium_page
    log_in(page, live_server.url)
    board = page.locator("#fleet-dashboard")
    provision = board.locator(".fleet-passes tr.pass-provision")
    expect(provision).to_have_class(re.compile(r"\bstale\b"))
    expect(provision.locator("td.at")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(provision.locator("td.age")).to_have_text(re.compile(r"^5m 0\ds ago$"))
    expect(board.locator(".fleet-passes tr.pass-sync td.at")).to_have_text("never")
    chart = board.locator("figure.fleet-chart svg.live-chart")
    expect(chart).to_have_attribute("aria-label", "live machines, last 24 h: 12 -> 30 (highest 30)")
    expect(chart.locator("text.highest")).to_have_text("30")
    # Drawn as laid out: the line spans the last quarter of the day, rising 60% of the plot.
    box, line = chart.bounding_box(), chart.locator("polyline.live").bounding_box()
    assert box["width"] > 300 and line["height"] > 0.4 * box["height"]  # 12 to 30 of 0 to 30
    assert line["x"] > box["x"] + 0.7 * box["width"]
    page.screenshot(path=SCREENSHOTS / "index-passes-chart.png", full_page=True)
    board.locator(".fleet-passes").screenshot(path=SCREENSHOTS / "passes-panel.png")
    board.locator("figure.fleet-chart").screenshot(path=SCREENSHOTS / "live-chart.png")
    assert page.csp_violations == [], page.csp_violations


def test_the_api_docs_render_under_the_content_security_policy(storage, live_server, browser_user, chromium_page):
    from playwright.sync_api import expect

    page = chromium_page
    log_in(page, live_server.url)
    expect(page.locator("#fleet-dashboard")).to_be_visible()
    response = page.goto(live_server.url + "/api/docs/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    # Swagger UI ran its scripts (served as files), fetched the schema and drew the operations.
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/hostfactory/getRequestStatus")).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert page.csp_violations == [], page.csp_violations


def test_ten_wrong_passwords_lock_the_login_in_the_browser(storage, live_server, browser_user, chromium_page):
    from playwright.sync_api import expect

    page = chromium_page
    for _ in range(10):
        log_in(page, live_server.url, password="wrong")
    expect(page.locator("#content-main")).to_contain_text("Too many failed logins")
    log_in(page, live_server.url)  # the right password, too late
    expect(page.locator("#content-main")).to_contain_text("Too many failed logins")
    assert page.csp_violations == [], page.csp_violations
