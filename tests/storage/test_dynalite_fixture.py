"""The dynalite fixture: a real DynamoDB-compatible server for the session. Without dynalite a
developer's run skips the dynalite cases with the reason printed, but CI (CI=true) fails them,
so a CI image without dynalite cannot pass unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]


def test_the_session_server_answers(dynalite_server):
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=dynalite_server.endpoint)

    assert "TableNames" in client.list_tables()


def pytest_without_node(ci: str | None) -> subprocess.Popen:
    """Run the test above in a pytest process whose PATH has no node, so dynalite cannot start."""
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    env["PATH"] = str(Path(sys.executable).parent)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # start faster: only the plugin the test needs
    if ci is not None:
        env["CI"] = ci
    test = f"{Path(__file__).relative_to(ROOT)}::test_the_session_server_answers"
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "django", test, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_missing_dynalite_fails_in_ci_and_skips_with_a_reason_elsewhere():
    in_ci, locally = pytest_without_node("true"), pytest_without_node(None)  # both at once
    in_ci_output, _ = in_ci.communicate(timeout=120)
    local_output, _ = locally.communicate(timeout=120)

    assert in_ci.returncode != 0, in_ci_output
    assert "dynalite is not installed" in in_ci_output
    assert "1 error" in in_ci_output

    assert locally.returncode == 0, local_output
    assert "1 skipped" in local_output
    assert "dynalite is not installed" in local_output
