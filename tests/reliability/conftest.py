"""Servers the reliability tests share: a dynalite that keeps its tables on disk, and a
production-like stack (dynalite tables, gunicorn with four workers, eight client processes)."""

from __future__ import annotations

import pytest

from tests.reliability.live import DiskDynalite, running_stack
from tests.support.dynalite import find_dynalite


@pytest.fixture
def disk_dynalite(dynalite_server, tmp_path):
    """A dynalite of its own, keeping its tables on disk (``dynalite_server`` only makes CI
    fail, not skip, when dynalite is missing)."""
    server = DiskDynalite(find_dynalite(), tmp_path / "dynalite")
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def stack(dynalite_server, tmp_path_factory):
    """One stack for a module's tests (each test makes its own templates)."""
    yield from running_stack(dynalite_server.endpoint, tmp_path_factory.mktemp("stack"))
