"""Repositories log every operation at DEBUG and a slow one at WARNING (storage.md "Logging"),
so an operator can spot a slow table or a missing index."""

from __future__ import annotations

import logging

from hostfactory.storage import build_repositories
from hostfactory.storage.config import StorageConfig
from tests.support import aggregates


def test_each_operation_is_logged_at_debug(caplog, settings):
    settings.HOSTFACTORY_SLOW_STORAGE_MS = 60_000
    repos = build_repositories(StorageConfig(type="memory"))

    with caplog.at_level(logging.DEBUG, logger="hostfactory.storage"):
        repos.templates.save(aggregates.template("t-logged"))
        repos.machines.get_by_status("running")

    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert any(level == logging.DEBUG and "template.save('t-logged')" in text for level, text in messages)
    assert any(level == logging.DEBUG and "machine.get_by_status('running')" in text for level, text in messages)
    assert all(level == logging.DEBUG for level, _ in messages)


def test_a_slow_operation_is_a_warning(caplog, settings):
    settings.HOSTFACTORY_SLOW_STORAGE_MS = -1  # every call counts as slow
    repos = build_repositories(StorageConfig(type="memory"))

    with caplog.at_level(logging.WARNING, logger="hostfactory.storage"):
        repos.requests.get_active_requests()

    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "slow storage call: request.get_active_requests() took" in caplog.records[0].getMessage()
