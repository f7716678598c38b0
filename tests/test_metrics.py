"""GET /metrics (docs/operations.md "Metrics"), scraped with Django's test client and read with
prometheus_client's own parser, on memory and on DynamoDB (moto)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

import hostfactory.fleet.passes as fleet_passes
from hostfactory.domain import utcnow
from hostfactory.errors import StorageUnavailable, VersionConflict
from hostfactory.fleet.machines import machine_update_status
from hostfactory.fleet.passes import machine_counts, record_pass, request_counts
from hostfactory.fleet.requests import request_create_return
from tests.api.fixtures import add_acquire, add_template, anonymous, launch, plugin  # noqa: F401
from tests.support import aggregates
from tests.support.dynamodb_calls import count_dynamodb_calls

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
TOKEN = "metrics-test-token-0123456789"


@pytest.fixture(autouse=True)
def _no_token(settings):
    settings.HOSTFACTORY_METRICS_TOKEN = ""


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape that answered 200 in the exposition format, keyed by (sample
    name, sorted labels)."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def capacity(samples: dict) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["template_id"], dict(labels)["kind"]): value
        for (name, labels), value in samples.items()
        if name == "hostfactory_template_capacity"
    }


def storage_calls(samples: dict, operation: str, outcome: str = "ok") -> float:
    labels = tuple(sorted({"operation": operation, "outcome": outcome}.items()))
    return samples.get(("hostfactory_storage_calls_total", labels), 0.0)


def gauge(samples: dict, name: str, outer: str, inner: str) -> dict[tuple[str, str], float]:
    """The samples of ``name`` by its two labels."""
    return {
        (dict(labels)[outer], dict(labels)[inner]): value
        for (sample, labels), value in samples.items()
        if sample == name
    }


def machines_gauge(samples: dict) -> dict[tuple[str, str], float]:
    return gauge(samples, "hostfactory_machines", "status", "template_id")


def requests_gauge(samples: dict) -> dict[tuple[str, str], float]:
    return gauge(samples, "hostfactory_requests", "status", "request_type")


def pass_ages(samples: dict) -> dict[str, float]:
    return {
        dict(labels)["pass"]: value for (name, labels), value in samples.items() if name.endswith("pass_age_seconds")
    }


def flat(counts: dict[str, dict[str, int]]) -> dict[tuple[str, str], int]:
    return {(outer, inner): n for outer, by_inner in counts.items() for inner, n in by_inner.items()}


def a_pass(repos, name: str, *, at=None, errors: int = 0, requests: bool = True):
    """A pass of kind ``name`` that counted the fleet as it is now (and ended at ``at``)."""
    live = [m for m in repos.machines.get_all() if m.is_live]
    counted = request_counts(repos.requests.get_active_requests()) if requests else {}
    if at is None:
        return record_pass(repos, name, errors=errors, machines=machine_counts(live), requests=counted)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fleet_passes, "utcnow", lambda: at)
        return record_pass(repos, name, errors=errors, machines=machine_counts(live), requests=counted)


def operation_count(samples: dict, operation: str) -> float:
    return samples.get(("hostfactory_operation_seconds_count", (("operation", operation),)), 0.0)


def test_capacity_gauges_are_the_stored_ledger(storage, plugin, client):  # noqa: F811
    add_template(storage, "tpl", max_number=10)
    add_template(storage, "tpl-open", max_number=-1)
    asked = plugin.post(
        "/api/v1/hostfactory/requestMachines", {"template": {"templateId": "tpl", "machineCount": 3}}, format="json"
    )
    assert asked.status_code == 200, asked.content
    launch(storage, storage.requests.get_by_id(asked.json()["requestId"]), count=1)

    gauges = capacity(scrape(client))

    ledger = {}
    for template, usage in storage.templates.get_all_with_usage():
        ledger[(template.template_id, "used")] = usage.used
        ledger[(template.template_id, "reserved")] = usage.reserved
        if not template.is_unlimited:
            ledger[(template.template_id, "max")] = template.max_number
    assert gauges == ledger
    # The request's three hosts are held (one launched, two to come); an unlimited template has no max.
    assert gauges == {
        ("tpl", "used"): 3,
        ("tpl", "reserved"): 3,
        ("tpl", "max"): 10,
        ("tpl-open", "used"): 0,
        ("tpl-open", "reserved"): 0,
    }


def test_capacity_follows_a_machine_that_stops_living(storage, client):
    add_template(storage, "tpl", max_number=4)
    (machine,) = launch(storage, add_acquire(storage, "tpl", count=1))
    assert capacity(scrape(client))[("tpl", "used")] == 1
    machine_update_status(repos=storage, machine_id=machine.machine_id, status="terminated")
    assert capacity(scrape(client))[("tpl", "used")] == 0


def a_fleet(storage) -> None:
    """Two templates: tpl with 3 running and 1 pending of an acquire request; tpl-b with 2
    running and a return request for one of them."""
    add_template(storage, "tpl", max_number=10)
    add_template(storage, "tpl-b", max_number=-1)
    asked = add_acquire(storage, "tpl", count=5)
    launch(storage, asked, count=3)
    launch(storage, asked, count=1, status="pending")
    done = launch(storage, add_acquire(storage, "tpl-b", count=2))
    request_create_return(repos=storage, machines=done[:1])


def test_machine_and_request_gauges_are_the_last_pass_record(storage, client):
    a_fleet(storage)
    record = a_pass(storage, "provision")
    assert storage.history.last_pass("provision") == record  # what the gauges must show

    samples = scrape(client)

    assert machines_gauge(samples) == flat(record.machines)
    assert requests_gauge(samples) == flat(record.requests)
    # What an operator would see: the fleet above, as the pass counted it.
    assert machines_gauge(samples) == {("running", "tpl"): 3, ("pending", "tpl"): 1, ("running", "tpl-b"): 2}
    # tpl's acquire waits for one more host; tpl-b's is complete; the return is under way.
    assert requests_gauge(samples) == {("in_progress", "acquire"): 1, ("in_progress", "return"): 1}
    assert 0 <= pass_ages(samples)["provision"] < 5
    assert "sync" not in pass_ages(samples)  # never ran


def test_the_gauges_stay_as_of_the_last_pass_not_the_store(storage, client):
    a_fleet(storage)
    a_pass(storage, "provision")
    before = scrape(client)
    launch(storage, add_acquire(storage, "tpl", count=2))  # after the pass: not counted yet
    after = scrape(client)
    assert machines_gauge(after) == machines_gauge(before)
    assert requests_gauge(after) == requests_gauge(before)
    a_pass(storage, "provision")
    assert machines_gauge(scrape(client))[("running", "tpl")] == 5


def test_a_newer_sync_pass_gives_the_machines_and_the_provision_pass_the_requests(storage, client):
    a_fleet(storage)
    provision = a_pass(storage, "provision", at=utcnow() - timedelta(minutes=2))
    machine_update_status(
        repos=storage, machine_id=storage.machines.get_by_status("pending")[0].machine_id, status="running"
    )
    sync = a_pass(storage, "sync", requests=False)  # sync_machines counts no request

    samples = scrape(client)

    assert machines_gauge(samples) == flat(sync.machines) != flat(provision.machines)
    assert machines_gauge(samples)[("running", "tpl")] == 4
    assert requests_gauge(samples) == flat(provision.requests) != {}
    ages = pass_ages(samples)
    assert 115 <= ages["provision"] < 125 and 0 <= ages["sync"] < 5


def test_a_failed_pass_changes_no_gauge(storage, client):
    a_fleet(storage)
    good = a_pass(storage, "provision", at=utcnow() - timedelta(seconds=30))
    launch(storage, add_acquire(storage, "tpl", count=2))
    a_pass(storage, "provision", errors=2)
    samples = scrape(client)
    assert machines_gauge(samples) == flat(good.machines)
    assert 25 <= pass_ages(samples)["provision"] < 35


def test_before_any_pass_the_pass_gauges_are_absent_and_say_what_they_are(storage, client):
    add_template(storage, "tpl")
    response = client.get("/metrics")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    for name in ("hostfactory_machines", "hostfactory_requests", "hostfactory_last_pass_age_seconds"):
        assert families[name].type == "gauge"
        assert families[name].samples == []
        assert "as of the last pass" in families[name].documentation


def test_the_histogram_counts_a_get_request_status_call(storage, plugin, client):  # noqa: F811
    before = scrape(client)
    answer = plugin.post("/api/v1/hostfactory/getRequestStatus", {"requests": [{"requestId": "req-x"}]}, format="json")
    assert answer.status_code == 200, answer.content
    after = scrape(client)
    assert operation_count(after, "getRequestStatus") == operation_count(before, "getRequestStatus") + 1
    assert operation_count(after, "requestMachines") == operation_count(before, "requestMachines")
    infinite = ("hostfactory_operation_seconds_bucket", (("le", "+Inf"), ("operation", "getRequestStatus")))
    assert after[infinite] == operation_count(after, "getRequestStatus")


def test_a_refused_call_is_timed_too(storage, anonymous, client):  # noqa: F811
    before = operation_count(scrape(client), "requestMachines")
    assert anonymous.post("/api/v1/hostfactory/requestMachines", {}, format="json").status_code == 401
    assert operation_count(scrape(client), "requestMachines") == before + 1


def test_storage_calls_are_counted_by_outcome(storage, client):
    first = scrape(client)
    second = scrape(client)  # the scrape itself reads the templates' ledgers once
    read = "template.get_all_with_usage"
    assert storage_calls(second, read) == storage_calls(first, read) + 1

    template = add_template(storage, "tpl")
    storage.templates.save(template.replace(description="first"))
    with pytest.raises(VersionConflict):
        storage.templates.save(template.replace(description="stale copy"))
    third = scrape(client)
    assert (
        storage_calls(third, "template.save", "version_conflict")
        == storage_calls(second, "template.save", "version_conflict") + 1
    )
    assert storage_calls(third, "template.save") >= storage_calls(second, "template.save") + 1


def test_storage_down_is_a_json_503_and_is_counted(storage, client, monkeypatch):
    def unavailable(*_args):
        raise StorageUnavailable("templates table: connection refused")

    monkeypatch.setattr(storage.templates, "_with_usage", unavailable)
    response = client.get("/metrics")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Storage unavailable; the capacity ledgers or pass records could not be read. Try again.",
        "code": "storage_unavailable",
    }
    monkeypatch.undo()
    assert storage_calls(scrape(client), "template.get_all_with_usage", "storage_unavailable") >= 1


def test_an_unexpected_storage_error_is_counted_as_unexpected(storage, client, monkeypatch):
    def broken(*_args):
        raise RuntimeError("a bug in a backend")

    before = storage_calls(scrape(client), "template.get_by_id", "unexpected")
    monkeypatch.setattr(storage.templates, "_get", broken)
    with pytest.raises(RuntimeError):
        storage.templates.get_by_id("tpl")
    assert storage_calls(scrape(client), "template.get_by_id", "unexpected") == before + 1


# -- the guard ------------------------------------------------------------------------------


def test_with_a_token_only_the_right_bearer_gets_in(storage, client, settings):
    settings.HOSTFACTORY_METRICS_TOKEN = TOKEN
    refused = [
        client.get("/metrics"),
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token"),
        client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}"),
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x"),
    ]
    for response in refused:
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "HOSTFACTORY_METRICS_TOKEN" in response.json()["detail"]
        assert TOKEN not in response.content.decode()
    scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")  # a 200 in the exposition format
    # The token is what counts, not where the client is.
    scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="10.0.0.5")


def test_without_a_token_only_loopback_clients_get_in(storage, client):
    refused = client.get("/metrics", REMOTE_ADDR="10.0.0.5")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "HOSTFACTORY_METRICS_TOKEN" in refused.json()["detail"]
    scrape(client, REMOTE_ADDR="127.0.0.1")  # a 200 in the exposition format
    scrape(client, REMOTE_ADDR="::1")


@pytest.mark.parametrize(
    "header", ["HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED", "HTTP_X_REAL_IP"]
)
def test_without_a_token_what_a_local_proxy_forwards_is_refused(storage, client, header):
    """nginx on the same host connects from 127.0.0.1 for every client on the internet."""
    refused = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: "203.0.113.7"})
    assert refused.status_code == 403
    assert "proxy" in refused.json()["detail"]


def test_only_get_is_allowed(storage, client):
    response = Client(enforce_csrf_checks=True).post("/metrics")
    assert response.status_code == 405
    assert "GET" in response.json()["detail"]


def test_the_token_is_never_logged(storage, client, settings, caplog):
    settings.HOSTFACTORY_METRICS_TOKEN = TOKEN
    with caplog.at_level("DEBUG"):
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token")
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert caplog.records
    assert TOKEN not in caplog.text and "wrong-token" not in caplog.text


# -- cost -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_a_scrape_reads_the_templates_table_once_whatever_the_fleet(storage, client):
    add_template(storage, "tpl-a", max_number=-1)
    add_template(storage, "tpl-b", max_number=500)
    aggregates.bulk_save(storage.machines, [aggregates.machine(template_id="tpl-a") for _ in range(200)])
    with count_dynamodb_calls(*storage.all()) as every, count_dynamodb_calls(storage.templates) as templates:
        assert set(capacity(scrape(client))) >= {("tpl-a", "used"), ("tpl-b", "max")}
    assert dict(every.calls) == {"Scan": 1}
    assert dict(templates.calls) == {"Scan": 1}
    assert every.items_read == 2


@pytest.mark.parametrize("backend_settings", ["moto"], indirect=True)
def test_the_pass_gauges_are_two_key_reads_of_the_history(storage, client):
    a_fleet(storage)
    record = a_pass(storage, "provision")
    a_pass(storage, "sync", requests=False)
    aggregates.bulk_save(storage.machines, [aggregates.machine(template_id="tpl") for _ in range(100)])
    with (
        count_dynamodb_calls(storage.machines, storage.requests) as fleet,
        count_dynamodb_calls(storage.history) as history,
    ):
        samples = scrape(client)
    assert requests_gauge(samples) == flat(record.requests)
    assert fleet.total == 0  # neither machines nor requests are read
    assert dict(history.calls) == {"GetItem": 2}
    assert history.items_read == 2


# -- the dashboard --------------------------------------------------------------------------


def test_the_grafana_dashboard_queries_only_metrics_the_service_exposes(storage, plugin, client):  # noqa: F811
    plugin.post("/api/v1/hostfactory/getRequestStatus", {"requests": [{"requestId": "req-x"}]}, format="json")
    a_fleet(storage)
    a_pass(storage, "provision")
    a_pass(storage, "sync", requests=False)
    exposed = {name for name, _labels in scrape(client)}

    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    queried = {name for query in queries for name in re.findall(r"\bhostfactory_[a-z_]+", query)}

    assert queried <= exposed, queried - exposed
    families = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in queried}
    assert families == {
        "hostfactory_template_capacity",
        "hostfactory_operation_seconds",
        "hostfactory_storage_calls",
        "hostfactory_machines",
        "hostfactory_requests",
        "hostfactory_last_pass_age_seconds",
    }
    assert any("histogram_quantile(0.99" in query for query in queries)
    assert any("histogram_quantile(0.5" in query for query in queries)


# -- several worker processes ---------------------------------------------------------------

WORKER = """
import django
django.setup()
import hostfactory.metrics  # registers the storage-call counter, as the URLs do
from hostfactory.storage import get_repositories
for _ in range({calls}):
    get_repositories().templates.get_by_id("tpl-nowhere")
"""
SCRAPER = """
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
response = Client().get("/metrics")
assert response.status_code == 200, response.content
print(response.content.decode())
"""


def run_python(code: str, multiproc_dir: Path) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "STORAGE_TYPE": "memory",
        "HOSTFACTORY_METRICS_TOKEN": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_with_a_multiprocess_dir_any_worker_answers_for_all_of_them(tmp_path):
    """Under gunicorn's several workers a scrape reaches one of them: it must count them all."""
    run_python(WORKER.format(calls=3), tmp_path)
    run_python(WORKER.format(calls=4), tmp_path)
    scraped = run_python(SCRAPER, tmp_path)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    assert storage_calls(samples, "template.get_by_id") == 7  # 3 + 4, from two processes
