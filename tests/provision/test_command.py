"""``manage.py provision``: --once for cron, a loop that SIGTERM ends cleanly, clear refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.providers.support import Refuse, sample_templates

ROOT = Path(__file__).resolve().parents[2]


def test_with_the_none_provider_there_is_nothing_to_provision(settings):
    settings.HOSTFACTORY_PROVIDER = "none"

    with pytest.raises(CommandError, match="HOSTFACTORY_PROVIDER is 'none': nothing to provision"):
        call_command("provision", "--once")


def test_the_interval_must_be_positive(settings):
    settings.HOSTFACTORY_PROVIDER = "aws"

    with pytest.raises(CommandError, match="--interval: must be a positive number of seconds, got 0"):
        call_command("provision", "--interval", "0")


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_once_launches_records_and_reports(cloud):
    cloud.add(sample_templates(cloud.network)["RunInstances"])
    request = cloud.acquire("RunInstances", 2)
    out = StringIO()

    call_command("provision", "--once", stdout=out, stderr=StringIO())

    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"launched {request.request_id}: RunInstances, 2 instances")
    assert sum(line.startswith("registered i-") for line in lines) == 2
    assert lines[-1].startswith("1 requests launched, 0 failed, 2 machines registered")
    assert cloud.status(request)["status"] == "complete"


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_once_exits_non_zero_when_a_step_failed(cloud, monkeypatch):
    cloud.add(sample_templates(cloud.network)["EC2FleetRequest"])
    request = cloud.acquire("EC2FleetRequest", 1)
    Refuse(cloud.provider, "DescribeFleetInstances", status=503, code="Unavailable", message="try later")
    monkeypatch.setattr("hostfactory.management.commands.provision.get_provider", lambda: cloud.provider)
    out = StringIO()

    with pytest.raises(CommandError, match="1 steps failed and are retried on the next run"):
        call_command("provision", "--once", stdout=out, stderr=StringIO())

    assert f"error {request.request_id}: DescribeFleetInstances: Unavailable: try later" in out.getvalue()
    assert cloud.status(request)["status"] == "running"  # the fleet was launched and is followed next run


def test_the_loop_runs_passes_until_sigterm(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STORAGE_", "DYNAMODB_", "HOSTFACTORY_"))},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "HOSTFACTORY_PROVIDER": "aws",
        "STORAGE_TYPE": "memory",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing to launch: no call may leave
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "provision", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        summaries = []
        deadline = time.monotonic() + 60
        while len(summaries) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("0 requests launched"):
                summaries.append(line)
        assert len(summaries) == 2, process.stderr.read() if process.poll() is not None else "no passes"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert "provisioning every 0.2 s" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
