"""Fixtures shared by every test: the storage backends, each fresh per test.

``repos`` runs a test once per backend: the memory store, DynamoDB on moto (``mock_aws``)
and DynamoDB on a real DynamoDB-compatible server (dynalite, started once per session on a
free port). ``storage`` does the same for the whole Django stack (settings routed to the
backend), over memory and moto.
"""

from __future__ import annotations

import os
import uuid

import pytest

from hostfactory.storage.config import TABLE_KEYS
from tests.support.dynalite import DynaliteServer, find_dynalite

# Never reach real AWS from a test: fake credentials, and no instance-metadata look-ups.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)

BACKENDS = ["memory", "moto", "dynalite", "stale"]
# "stale": the memory store with every index read answering as before the test's writes.
STACK_BACKENDS = ["memory", "moto"]


@pytest.fixture(scope="session")
def dynalite_server():
    """A dynalite server for the whole session; in CI a missing dynalite fails the test."""
    binary = find_dynalite()
    if binary is None:
        message = "dynalite is not installed (run 'make test', which runs 'npm ci')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = DynaliteServer(binary)
    server.start()
    yield server
    server.stop()


def storage_settings(kind: str, endpoint: str | None = None) -> dict:
    """A ``HOSTFACTORY_STORAGE`` value with table names no other test uses."""
    if kind == "memory":
        return {"type": "memory"}
    suffix = uuid.uuid4().hex[:10]
    return {
        "type": "dynamodb",
        "region": "us-east-1",
        "host": endpoint,
        "tables": {name: f"test-{name}-{suffix}" for name in TABLE_KEYS},
    }


@pytest.fixture
def backend_settings(request):
    """Storage settings for the backend named by the test's parameter, tables created."""
    from hostfactory.storage import build_repositories
    from hostfactory.storage.config import StorageConfig

    kind = request.param
    if kind == "stale":
        from tests.support.stale import stale_repositories

        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr("hostfactory.storage._memory_repositories", stale_repositories)
        return kind, storage_settings("memory")
    if kind == "moto":
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
        request.addfinalizer(mock.stop)
        data = storage_settings(kind)
    elif kind == "dynalite":
        data = storage_settings(kind, request.getfixturevalue("dynalite_server").endpoint)
    else:
        data = storage_settings(kind)
    if kind != "memory":
        repos = build_repositories(StorageConfig.from_settings(data))
        for repo in repos.tables():
            repo.create_table()
        if kind == "dynalite":
            request.addfinalizer(lambda: [repo.delete_table() for repo in repos.tables()])
    return kind, data


@pytest.fixture
def repos(backend_settings):
    """Fresh repositories on each backend (memory, moto, dynalite)."""
    from hostfactory.storage import build_repositories
    from hostfactory.storage.config import StorageConfig

    return build_repositories(StorageConfig.from_settings(backend_settings[1]))


def pytest_generate_tests(metafunc):
    # ``backend_settings`` takes its parameter from ``repos`` or ``storage``.
    if "backend_settings" not in metafunc.fixturenames:
        return
    if any(
        mark.name == "parametrize" and "backend_settings" in mark.args[0] for mark in metafunc.definition.iter_markers()
    ):
        return  # the test chose its backends itself
    # A test of what an index finds (eventually consistent on DynamoDB by nature) does not run
    # on the stale-index store; every other test must pass on it (tests/support/stale.py).
    lagging = metafunc.definition.get_closest_marker("reads_index") is None
    if "repos" in metafunc.fixturenames:
        kinds = BACKENDS
    elif "storage" in metafunc.fixturenames:
        decides = metafunc.definition.get_closest_marker("decides") is not None
        kinds = [*STACK_BACKENDS, "stale"] if decides else STACK_BACKENDS
    else:
        return
    metafunc.parametrize("backend_settings", [k for k in kinds if lagging or k != "stale"], indirect=True)


@pytest.fixture
def storage(backend_settings, settings):
    """The whole Django stack routed to a fresh backend (memory or moto): returns the
    repositories ``get_repositories()`` now gives. The cache goes too: what it remembers
    (the templates file loaded) was about the store that is gone."""
    from django.core.cache import cache

    from hostfactory.storage import get_repositories, reset_repositories

    settings.HOSTFACTORY_STORAGE = backend_settings[1]
    reset_repositories()
    cache.clear()
    yield get_repositories()
    reset_repositories()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Django's cache holds the failed-authentication counts per client address: each test
    starts with none, so one test's bad tokens never throttle the next."""
    from django.core.cache import cache

    cache.clear()
    yield
