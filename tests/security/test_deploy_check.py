"""``manage.py check --deploy`` with production settings, as the README's Production section
runs it: clean at WARNING level, and it does catch a weak secret or DEBUG left on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.reliability.live import ROOT

pytestmark = pytest.mark.slow


def deploy_check(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECRET_", "DEBUG"))}
    env.update(
        DJANGO_SETTINGS_MODULE="hostfactory.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="hf.example.com",
        CSRF_TRUSTED_ORIGINS="https://hf.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STORAGE_TYPE="memory",
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    done = deploy_check(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_deploy_check_catches_a_weak_secret_and_debug(tmp_path):
    weak = deploy_check(tmp_path, SECRET_KEY="short")
    assert weak.returncode == 1 and "security.W009" in weak.stderr, weak.stdout + weak.stderr
    debug = deploy_check(tmp_path, DEBUG="true")
    assert debug.returncode == 1 and "security.W018" in debug.stderr, debug.stdout + debug.stderr


def test_without_a_secret_key_production_settings_refuse_to_start(tmp_path):
    env_without_key = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={
            **env_without_key,
            "DJANGO_SETTINGS_MODULE": "hostfactory.settings",
            "DEBUG": "false",
            "ENV_FILE": os.devnull,  # not the checkout's local .env
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Set the SECRET_KEY environment variable" in done.stderr, done.stderr[-500:]
