"""The repository facade: ``get_repositories()`` routes, per settings, to a backend.

from hostfactory.storage import get_repositories
repos = get_repositories()
repos.templates, repos.requests, repos.machines
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from hostfactory.storage.config import StorageConfig
from hostfactory.storage.credentials import use_profile
from hostfactory.storage.dynamodb_history import DynamoHistoryStore
from hostfactory.storage.history import HistoryStore, MemoryHistoryStore
from machines_app.repository import MachineRepository
from machines_app.storage.dynamodb import DynamoMachineRepository
from machines_app.storage.memory import MemoryMachineRepository
from requests_app.repository import RequestRepository
from requests_app.storage.dynamodb import DynamoRequestRepository
from requests_app.storage.memory import MemoryRequestRepository
from templates_app.repository import TemplateRepository
from templates_app.storage.dynamodb import DynamoTemplateRepository
from templates_app.storage.memory import MemoryTemplateRepository


@dataclass(frozen=True)
class Repositories:
    templates: TemplateRepository
    requests: RequestRepository
    machines: MachineRepository
    history: HistoryStore

    def all(self) -> tuple:
        """The three aggregates' repositories."""
        return (self.templates, self.requests, self.machines)

    def tables(self) -> tuple:
        """Everything with a table of its own: the repositories and the event history."""
        return (*self.all(), self.history)


_built: dict[tuple, Repositories] = {}
_lock = threading.Lock()
# Called with each newly built set of repositories and its configuration; an app registers
# here what a fresh store needs (the templates app pre-loads HOSTFACTORY_TEMPLATES_FILE into
# a memory store), so this facade imports no service.
build_hooks: list[Callable[[Repositories, StorageConfig], None]] = []


def current_config() -> StorageConfig:
    return StorageConfig.from_settings(getattr(settings, "HOSTFACTORY_STORAGE", {}))


def get_repositories() -> Repositories:
    """The repositories for the current settings; built once per distinct configuration."""
    config = current_config()
    repos = _built.get(config.key)
    if repos is None:
        with _lock:
            repos = _built.get(config.key)
            if repos is None:
                repos = _built[config.key] = build_repositories(config)
    return repos


def build_repositories(config: StorageConfig) -> Repositories:
    problem = config.problem()
    if problem:
        raise ImproperlyConfigured(problem)
    repos = _dynamodb_repositories(config) if config.type == "dynamodb" else _memory_repositories()
    for hook in build_hooks:
        hook(repos, config)
    return repos


def _memory_repositories() -> Repositories:
    # One lock for the whole store: a write that keeps an invariant across aggregates holds it.
    lock = threading.RLock()
    history = MemoryHistoryStore(lock)
    return Repositories(
        MemoryTemplateRepository(lock, history),
        MemoryRequestRepository(lock, history),
        MemoryMachineRepository(lock, history),
        history,
    )


def _dynamodb_repositories(config: StorageConfig) -> Repositories:
    use_profile(config)
    history = DynamoHistoryStore(config)
    repos = Repositories(
        DynamoTemplateRepository(config, history),
        DynamoRequestRepository(config, history),
        DynamoMachineRepository(config, history),
        history,
    )
    history.sources = {repo.aggregate: repo for repo in repos.all()}
    return repos


def reset_repositories() -> None:
    """Forget every built backend (tests; memory data is dropped)."""
    with _lock:
        _built.clear()


@receiver(setting_changed)
def _on_setting_changed(setting: str, **kwargs) -> None:
    if setting == "HOSTFACTORY_STORAGE":
        reset_repositories()
