"""Running the management commands in tests: in-process (``call_command``, sharing the
test's store) or as real ``manage.py`` processes against DynamoDB on dynalite, as in
production, where every process sees the same tables."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from tests.support.samples import OHFP_TEMPLATES, ROOT, SAMPLES  # noqa: F401  (re-exported)

SHARED_SAMPLES = SAMPLES
SAMPLE_TEMPLATES = ROOT / "samples" / "templates.json"


@dataclass
class Output:
    out: str
    err: str


def run_command(name: str, *args: str, **options) -> Output:
    """``call_command`` with stdout and stderr captured."""
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return Output(out.getvalue(), err.getvalue())


def dynamodb_environment(storage: dict, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``manage.py`` process using the storage settings ``storage``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DYNAMODB_", "STORAGE_", "HOSTFACTORY_", "AWS_ENDPOINT_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="hostfactory.settings",
        SECRET_KEY="subprocess-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DEBUG="false",
        DATABASE_URL=f"sqlite:///{tmp_path / 'django.sqlite3'}",
        STORAGE_TYPE="dynamodb",
        DYNAMODB_REGION=storage["region"],
        DYNAMODB_HOST=storage["host"],
        DYNAMODB_TEMPLATES_TABLE=storage["tables"]["templates"],
        DYNAMODB_HISTORY_TABLE=storage["tables"]["history"],
        DYNAMODB_REQUESTS_TABLE=storage["tables"]["requests"],
        DYNAMODB_MACHINES_TABLE=storage["tables"]["machines"],
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        # A loaded test machine must not add slow-call warnings to the stderr the tests read.
        HOSTFACTORY_SLOW_STORAGE_MS="60000",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python manage.py ARGS`` in its own process; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
