"""The first mistakes a newcomer makes end in one line naming the setting to fix and how,
never in a traceback (docs/troubleshooting in README.md lists them)."""

from __future__ import annotations

import pytest

from hostfactory.storage.config import StorageConfig
from tests.commands.support import SAMPLE_TEMPLATES, manage

SECRET_KEY = "subprocess-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def environment(tmp_path, **settings: str) -> dict[str, str]:
    """A process that knows only what it is given: no AWS variables, no AWS files, no
    instance metadata, so boto3 finds exactly the credentials a test passes."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "hostfactory.settings",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'django.sqlite3'}",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "STORAGE_TYPE": "dynamodb",
        **settings,
    }


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if "hostfactory.E" in line or line.startswith("CommandError")]


@pytest.mark.parametrize("host", ["127.0.0.1:4567", "localhost", "dynamodb.eu-west-1.amazonaws.com", "ftp://x:1"])
def test_a_dynamodb_host_without_a_scheme_is_refused_naming_the_setting(host):
    problem = StorageConfig(type="dynamodb", host=host).problem()

    assert problem == f"DYNAMODB_HOST must be an http:// or https:// URL, e.g. http://127.0.0.1:4567; got {host!r}"


@pytest.mark.parametrize("host", [None, "http://127.0.0.1:4567", "https://dynamodb.eu-west-1.amazonaws.com"])
def test_a_dynamodb_host_with_a_scheme_is_accepted(host):
    assert StorageConfig(type="dynamodb", host=host).problem() is None


@pytest.mark.slow
@pytest.mark.parametrize("command", [["check"], ["load_templates", str(SAMPLE_TEMPLATES)]])
def test_a_dynamodb_host_without_a_scheme_is_one_line_not_a_traceback(tmp_path, command):
    env = environment(tmp_path, DYNAMODB_HOST="127.0.0.1:4567", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")

    failed = manage(*command, env=env)

    assert failed.returncode == 1
    (line,) = error_lines(failed.stderr)
    assert "DYNAMODB_HOST must be an http:// or https:// URL" in line and "'127.0.0.1:4567'" in line


@pytest.mark.slow
@pytest.mark.parametrize("command", [["check"], ["update_request_status", "req-x", "cancelled"]])
def test_missing_aws_credentials_say_no_credentials_and_how_to_give_them(tmp_path, command):
    failed = manage(*command, env=environment(tmp_path, DYNAMODB_HOST="http://127.0.0.1:4567"))

    assert failed.returncode == 1
    (line,) = error_lines(failed.stderr)
    assert "no AWS credentials for DynamoDB" in line
    for way in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "DYNAMODB_PROFILE", "role"):
        assert way in line
    assert "unreachable" not in failed.stderr


@pytest.mark.slow
def test_an_unknown_dynamodb_profile_is_named(tmp_path):
    failed = manage("check", env=environment(tmp_path, DYNAMODB_PROFILE="nowhere"))

    assert failed.returncode == 1
    (line,) = error_lines(failed.stderr)
    assert "DYNAMODB_PROFILE 'nowhere'" in line and "could not be found" in line


@pytest.mark.slow
def test_credentials_from_the_environment_pass_the_check(tmp_path):
    env = environment(tmp_path, DYNAMODB_HOST="http://127.0.0.1:4567", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")

    done = manage("check", env=env)

    assert done.returncode == 0, done.stderr
