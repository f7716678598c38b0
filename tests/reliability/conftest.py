"""Servers the reliability tests share: a dynalite that keeps its tables on disk, and a
production-like stack (dynalite tables, gunicorn with four workers, eight client processes)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hostfactory.storage import Repositories, build_repositories
from hostfactory.storage.config import StorageConfig
from tests.conftest import storage_settings
from tests.reliability.live import ClientPool, DiskDynalite, Gunicorn, prepare_database, server_environment
from tests.support.dynalite import find_dynalite

WORKERS = 4
CLIENTS = 8


@pytest.fixture
def disk_dynalite(dynalite_server, tmp_path):
    """A dynalite of its own, keeping its tables on disk (``dynalite_server`` only makes CI
    fail, not skip, when dynalite is missing)."""
    server = DiskDynalite(find_dynalite(), tmp_path / "dynalite")
    server.start()
    yield server
    server.kill()


@dataclass
class Stack:
    """Fresh tables, the repositories this test process reads them with, the server's
    environment (for ``manage.py`` processes too), gunicorn and the client processes."""

    repos: Repositories
    env: dict[str, str]
    server: Gunicorn
    clients: ClientPool  # they call as the plugin user
    tokens: dict[str, str]  # by user name (tests.reliability.live.USERS_SCRIPT)


def running_stack(endpoint: str, folder, **extra: str):
    """Build a ``Stack`` on the DynamoDB at ``endpoint``; a generator (yield it from a fixture)."""
    storage = storage_settings("dynalite", endpoint)
    repos = build_repositories(StorageConfig.from_settings(storage))
    for repo in repos.all():
        repo.create_table()
    env = server_environment(folder, storage, **extra)
    tokens = prepare_database(env)
    with Gunicorn(env, folder, workers=WORKERS) as server, ClientPool(server.url, tokens["plugin"], CLIENTS) as pool:
        yield Stack(repos, env, server, pool, tokens)
    for repo in repos.all():
        repo.delete_table()


@pytest.fixture(scope="module")
def stack(dynalite_server, tmp_path_factory):
    """One stack for a module's tests (each test makes its own templates)."""
    yield from running_stack(dynalite_server.endpoint, tmp_path_factory.mktemp("stack"))
