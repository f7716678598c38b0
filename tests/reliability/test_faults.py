"""Faults in the storage under a live API: DynamoDB going away mid-run and coming back, and
DynamoDB throttling. The API must answer 503 with a JSON message while storage is away,
recover by itself, lose no write it acknowledged, and retry throttled calls within bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.awsrequest import AWSResponse

from hostfactory.storage import get_repositories, reset_repositories
from hostfactory.storage.dynamodb import MAX_RETRY_ATTEMPTS
from tests.api.fixtures import operator, plugin  # noqa: F401
from tests.conftest import storage_settings
from tests.reliability.live import Answer, Gunicorn, call, fresh_tables, prepare_database, server_environment
from tests.support import aggregates

pytestmark = pytest.mark.dynalite
HF = "/api/v1/hostfactory"


class Writer(threading.Thread):
    """A plugin asking for machines over and over, recording every answer."""

    def __init__(self, base: str, token: str, template_id: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.template_id = base, token, template_id
        self.answers: list[Answer] = []
        self.done = threading.Event()

    def run(self) -> None:
        body = {"template": {"templateId": self.template_id, "machineCount": 1}}
        while not self.done.is_set():
            self.answers.append(call(self.base, "POST", f"{HF}/requestMachines", self.token, body))
            time.sleep(0.02)

    def count(self, status: int) -> int:
        return sum(1 for answer in list(self.answers) if answer.status == status)

    def wait_for(self, status: int, more: int, timeout: float = 60) -> None:
        target = self.count(status) + more
        deadline = time.monotonic() + timeout
        while self.count(status) < target:
            assert time.monotonic() < deadline, f"no {more} more {status} answers in {timeout} s"
            time.sleep(0.05)


def assert_unavailable(answer: Answer, shape: str) -> None:
    assert answer.status == 503 and answer.is_json, (answer.status, answer.text)
    if shape == "hostfactory":
        assert list(answer.json) == ["message"] and "DynamoDB" in answer.json["message"], answer.json
    elif shape == "health":
        assert answer.json["status"] == "unavailable", answer.json
    else:
        assert answer.json["code"] == "storage_unavailable" and answer.json["detail"], answer.json


@pytest.mark.slow
def test_dynamodb_stopped_mid_run_is_a_503_then_recovers_with_every_acknowledged_write(disk_dynalite, tmp_path):
    storage = storage_settings("dynalite", disk_dynalite.endpoint)
    repos = fresh_tables(storage)
    template = repos.templates.save(aggregates.template("tpl-faults", max_number=-1))
    env = server_environment(tmp_path, storage)
    tokens = prepare_database(env)
    with Gunicorn(env, tmp_path, workers=2) as server:
        writer = Writer(server.url, tokens["plugin"], template.template_id)
        writer.start()
        try:
            writer.wait_for(200, 5)
            disk_dynalite.kill()
            writer.wait_for(503, 2)
            assert_unavailable(call(server.url, "GET", "/api/v1/health/"), "health")
            assert_unavailable(call(server.url, "GET", "/api/v1/requests/", tokens["operator"]), "resource")
            poll = {"requests": [{"requestId": "req-00000000-0000-4000-8000-000000000000"}]}
            answer = call(server.url, "POST", f"{HF}/getRequestStatus", tokens["plugin"], poll)
            assert_unavailable(answer, "hostfactory")

            disk_dynalite.start()  # same port, same files
            stopped_at = time.monotonic()
            while call(server.url, "GET", "/api/v1/health/").status != 200:
                assert time.monotonic() - stopped_at < 30, "the API did not recover within 30 s of DynamoDB's return"
                time.sleep(0.2)
            writer.wait_for(200, 5)
        finally:
            writer.done.set()
            writer.join(timeout=60)

    answers = writer.answers
    assert {a.status for a in answers} == {200, 503}, {a.status: a.text for a in answers if a.status not in (200, 503)}
    for answer in answers:
        keys = ["requestId", "message"] if answer.status == 200 else ["message"]
        assert answer.is_json and list(answer.json) == keys, answer.text
    acknowledged = [a.json["requestId"] for a in answers if a.status == 200]
    missing = [request_id for request_id in acknowledged if repos.requests.get_by_id(request_id) is None]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged requests were lost: {missing[:3]}"
    for repo in repos.tables():
        repo.delete_table()


# -- throttling -----------------------------------------------------------------------------


class Throttle:
    """A botocore ``before-send`` hook: answers the first ``times`` calls of ``operation`` as
    DynamoDB does when throttling, so botocore's own retry logic runs as in production."""

    def __init__(self, operation: str, times: int) -> None:
        self.operation, self.times, self.attempts = operation, times, 0

    def __call__(self, request, **kwargs):
        self.attempts += 1
        if self.attempts > self.times:
            return None  # send it for real
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
        body += b'"message":"The level of configured provisioned throughput for the table was exceeded."}'
        headers = {"x-amzn-RequestId": "throttled", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 400, headers, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs) -> Iterator[bytes]:
        yield self.body


@pytest.fixture
def on_dynalite(dynalite_server, settings):
    """The whole Django stack on fresh dynalite tables."""
    settings.HOSTFACTORY_STORAGE = storage_settings("dynalite", dynalite_server.endpoint)
    reset_repositories()
    repos = get_repositories()
    for repo in repos.tables():
        repo.create_table()
    yield repos
    for repo in repos.tables():
        repo.delete_table()
    reset_repositories()


@contextmanager
def throttled(repository, operation: str, times: int) -> Iterator[Throttle]:
    throttle = Throttle(operation, times)
    events = repository.model._get_connection().connection.client.meta.events
    events.register(f"before-send.dynamodb.{operation}", throttle, unique_id="throttle-test")
    try:
        yield throttle
    finally:
        events.unregister(f"before-send.dynamodb.{operation}", unique_id="throttle-test")


def test_throttling_is_retried_within_bounds(on_dynalite, operator, plugin):  # noqa: F811
    request = on_dynalite.requests.save(aggregates.acquire_request())
    path = f"/api/v1/requests/{request.request_id}/"

    with throttled(on_dynalite.requests, "GetItem", times=MAX_RETRY_ATTEMPTS - 1) as throttle:
        response = operator.get(path)
    assert response.status_code == 200, response.content
    assert response.json()["request_id"] == request.request_id
    assert throttle.attempts == MAX_RETRY_ATTEMPTS  # throttled, throttled, then through

    with throttled(on_dynalite.requests, "GetItem", times=MAX_RETRY_ATTEMPTS + 5) as throttle:
        response = operator.get(path)
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "storage_unavailable"
    assert "throttled" in response.json()["detail"]
    assert throttle.attempts == 1 + MAX_RETRY_ATTEMPTS  # bounded: the first call and its retries, no more

    status = {"requests": [{"requestId": request.request_id}]}  # read in one batch (storage v2)
    with throttled(on_dynalite.requests, "BatchGetItem", times=MAX_RETRY_ATTEMPTS + 5):
        response = plugin.post(f"{HF}/getRequestStatus", status, format="json")
    assert response.status_code == 503 and list(response.json()) == ["message"], response.content
    assert "throttled" in response.json()["message"]
