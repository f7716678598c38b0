"""The repository facade: ``get_repositories()`` routes, per settings, to a backend.

from hostfactory.storage import get_repositories
repos = get_repositories()
repos.templates, repos.requests, repos.machines
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from hostfactory.storage.config import StorageConfig
from machines_app.repository import MachineRepository
from requests_app.repository import RequestRepository
from templates_app.repository import TemplateRepository


@dataclass(frozen=True)
class Repositories:
    templates: TemplateRepository
    requests: RequestRepository
    machines: MachineRepository

    def all(self) -> tuple:
        return (self.templates, self.requests, self.machines)


_built: dict[tuple, Repositories] = {}
_lock = threading.Lock()


def current_config() -> StorageConfig:
    from django.conf import settings

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
    if config.type == "dynamodb":
        return _dynamodb_repositories(config)
    return _memory_repositories(config)


def _memory_repositories(config: StorageConfig) -> Repositories:
    from machines_app.storage.memory import MemoryMachineRepository
    from requests_app.storage.memory import MemoryRequestRepository
    from templates_app.storage.memory import MemoryTemplateRepository

    repos = Repositories(MemoryTemplateRepository(), MemoryRequestRepository(), MemoryMachineRepository())
    if config.templates_file:
        from templates_app.services import templates_load_file

        templates_load_file(repos=repos, path=config.templates_file)
    return repos


def _dynamodb_repositories(config: StorageConfig) -> Repositories:
    from machines_app.storage.dynamodb import DynamoMachineRepository
    from requests_app.storage.dynamodb import DynamoRequestRepository
    from templates_app.storage.dynamodb import DynamoTemplateRepository

    return Repositories(
        DynamoTemplateRepository(config), DynamoRequestRepository(config), DynamoMachineRepository(config)
    )


def reset_repositories() -> None:
    """Forget every built backend (tests; memory data is dropped)."""
    with _lock:
        _built.clear()


@receiver(setting_changed)
def _on_setting_changed(setting: str, **kwargs) -> None:
    if setting == "HOSTFACTORY_STORAGE":
        reset_repositories()
