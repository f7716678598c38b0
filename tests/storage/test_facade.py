"""The facade: ``get_repositories()`` serves the backend the settings name, built once per
configuration; a bad configuration stops start-up with a clear message."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from hostfactory.storage import build_repositories, get_repositories, reset_repositories
from hostfactory.storage.config import StorageConfig
from machines_app.storage.dynamodb import DynamoMachineRepository
from machines_app.storage.memory import MemoryMachineRepository
from requests_app.storage.dynamodb import DynamoRequestRepository
from templates_app.storage.dynamodb import DynamoTemplateRepository
from templates_app.storage.memory import MemoryTemplateRepository
from tests.commands.support import manage
from tests.support import aggregates


@pytest.fixture(autouse=True)
def fresh_facade():
    reset_repositories()
    yield
    reset_repositories()


def test_memory_is_the_default(settings):
    del settings.HOSTFACTORY_STORAGE

    repos = get_repositories()

    assert isinstance(repos.templates, MemoryTemplateRepository)
    assert isinstance(repos.machines, MemoryMachineRepository)


def test_repositories_are_built_once_per_configuration(settings):
    settings.HOSTFACTORY_STORAGE = {"type": "memory"}
    repos = get_repositories()
    repos.templates.save(aggregates.template("kept"))

    assert get_repositories() is repos
    assert get_repositories().templates.exists("kept")

    settings.HOSTFACTORY_STORAGE = {"type": "memory", "region": "eu-west-1"}
    rebuilt = get_repositories()
    assert rebuilt is not repos
    assert not rebuilt.templates.exists("kept")


def test_dynamodb_configuration_reaches_the_tables(settings):
    settings.HOSTFACTORY_STORAGE = {
        "type": "dynamodb",
        "region": "eu-central-1",
        "host": "http://localhost:8000",
        "tables": {"templates": "hf-templates", "requests": "hf-requests", "machines": "hf-machines"},
    }

    repos = get_repositories()

    assert isinstance(repos.templates, DynamoTemplateRepository)
    assert isinstance(repos.requests, DynamoRequestRepository)
    assert isinstance(repos.machines, DynamoMachineRepository)
    assert [repo.table_name for repo in repos.all()] == ["hf-templates", "hf-requests", "hf-machines"]
    meta = repos.machines.model.Meta
    assert (meta.region, meta.host, meta.billing_mode) == ("eu-central-1", "http://localhost:8000", "PAY_PER_REQUEST")


def test_unset_values_fall_back_to_the_documented_defaults():
    config = StorageConfig.from_settings({"type": "dynamodb", "region": "", "host": "", "tables": {"machines": "m"}})

    assert config.region == "us-east-1"
    assert config.host is None
    assert config.tables == {"templates": "templates", "requests": "requests", "machines": "m", "history": "history"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (StorageConfig(type="bogus"), "Unsupported storage type: bogus"),
        (StorageConfig(type=""), "Unsupported storage type: "),
        (
            StorageConfig(type="dynamodb", tables={"templates": "t", "requests": "", "machines": "m"}),
            "DynamoDB table names must not be empty: requests",
        ),
    ],
)
def test_a_bad_configuration_is_refused_with_its_reason(config, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        build_repositories(config)


def test_the_system_check_reports_an_unsupported_storage_type(settings):
    settings.HOSTFACTORY_STORAGE = {"type": "bogus"}

    errors = [message for message in checks.run_checks() if message.id == "hostfactory.E001"]

    assert len(errors) == 1
    assert errors[0].level == checks.ERROR
    assert "Unsupported storage type: bogus" in errors[0].msg
    with pytest.raises(ImproperlyConfigured, match="Unsupported storage type: bogus"):
        get_repositories()


def test_manage_py_check_fails_on_an_unsupported_storage_type(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "hostfactory.settings",
        "SECRET_KEY": "subprocess-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'django.sqlite3'}",
        "STORAGE_TYPE": "bogus",
    }

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "Unsupported storage type: bogus" in result.stderr
    assert "Traceback" not in result.stderr
