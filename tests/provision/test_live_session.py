"""A whole Host Factory session with HOSTFACTORY_PROVIDER=aws, as in production: the plugin
scripts call a live server, ``manage.py provision --once`` runs as its own process between
polls, and EC2, SSM, STS and DynamoDB are one moto server that both processes talk to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from hostfactory.api.tokens import plugin_token_issue
from hostfactory.providers.aws.clients import AwsClients
from hostfactory.storage import build_repositories, reset_repositories
from hostfactory.storage.config import TABLE_KEYS, StorageConfig
from templates_app.services import templates_load, templates_parse
from tests.providers.support import REGION, create_network, sample_document
from tests.support.dynalite import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "hostfactory" / "plugin" / "scripts"
POLLS = 4  # provisioner passes before we give up on a request finishing


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def session(moto_server, live_server, transactional_db, settings, tmp_path, monkeypatch):
    """The live server on DynamoDB (the moto server), the sample templates loaded, a plugin token."""
    suffix = uuid.uuid4().hex[:10]
    tables = {name: f"live-{name}-{suffix}" for name in TABLE_KEYS}
    storage = {"type": "dynamodb", "region": REGION, "host": moto_server, "tables": tables}
    settings.HOSTFACTORY_STORAGE = storage
    settings.HOSTFACTORY_PROVIDER = "aws"
    reset_repositories()
    repos = build_repositories(StorageConfig.from_settings(storage))
    for repo in repos.tables():
        repo.create_table()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    clients = AwsClients(region=REGION, session=boto3.Session(region_name=REGION))
    network = create_network(clients)
    templates_load(repos=repos, templates=templates_parse(sample_document(network)))
    token = plugin_token_issue(username="symphony").key
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STORAGE_", "DYNAMODB_", "HOSTFACTORY_", "HF_"))},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "STORAGE_TYPE": "dynamodb",
        "DYNAMODB_REGION": REGION,
        "DYNAMODB_HOST": moto_server,
        "DYNAMODB_TEMPLATES_TABLE": tables["templates"],
        "DYNAMODB_REQUESTS_TABLE": tables["requests"],
        "DYNAMODB_MACHINES_TABLE": tables["machines"],
        "DYNAMODB_HISTORY_TABLE": tables["history"],
        "HOSTFACTORY_PROVIDER": "aws",
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_REGION": REGION,
        "HF_SERVICE_URL": live_server.url,
        "HF_SERVICE_TOKEN": token,
    }
    yield Session(environment, tmp_path, clients)
    reset_repositories()


class Session:
    def __init__(self, environment: dict[str, str], folder: Path, clients: AwsClients) -> None:
        self.environment = environment
        self.folder = folder
        self.clients = clients

    def script(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Run a plugin script as Host Factory does: ``<script> -f <input file>``, JSON on stdout."""
        given = self.folder / f"{name}-{uuid.uuid4().hex[:6]}.json"
        given.write_text(json.dumps(payload))
        done = subprocess.run(
            [str(SCRIPTS / f"{name}.sh"), "-f", str(given)],
            env={**self.environment, "HF_PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{name}: {done.stdout} {done.stderr}"
        return json.loads(done.stdout)

    def provision(self) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", "provision", "--once"],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def poll(self, request_id: str) -> dict[str, Any]:
        """Provision, then ask getRequestStatus, until the request is no longer running."""
        for _ in range(POLLS):
            self.provision()
            answer = self.script("getRequestStatus", {"requests": [{"requestId": request_id}]})
            (entry,) = answer["requests"]
            if entry["status"] != "running":
                return entry
        raise AssertionError(f"{request_id} still running after {POLLS} provisioner passes: {entry}")

    def instance(self, instance_id: str) -> dict[str, Any]:
        reservations = self.clients.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        return reservations[0]["Instances"][0]


@pytest.mark.slow
def test_a_host_factory_session_launches_and_returns_real_instances(session):
    offered = session.script("getAvailableTemplates", {})
    (template,) = [t for t in offered["templates"] if t["templateId"] == "RunInstances"]
    assert template["availableNumber"] == 10

    asked = session.script("requestMachines", {"template": {"templateId": "RunInstances", "machineCount": 3}})
    assert asked["message"] == "Request VM success."
    acquired = session.poll(asked["requestId"])

    assert acquired["status"] == "complete", acquired
    hosts = acquired["machines"]
    assert len(hosts) == 3
    for host in hosts:
        ec2 = session.instance(host["machineId"])
        assert host["result"] == "succeed" and host["status"] == "running"
        assert host["privateIpAddress"] == ec2["PrivateIpAddress"]
        assert host["name"] == ec2["PrivateDnsName"]
        assert {"Key": "hostfactory:request-id", "Value": asked["requestId"]} in ec2["Tags"]

    returned = hosts[0]
    give_back = session.script(
        "requestReturnMachines", {"machines": [{"name": returned["name"], "machineId": returned["machineId"]}]}
    )
    assert give_back["message"] == "Delete VM success."
    finished = session.poll(give_back["requestId"])

    assert finished["status"] == "complete", finished
    assert [(m["machineId"], m["result"]) for m in finished["machines"]] == [(returned["machineId"], "succeed")]
    assert session.instance(returned["machineId"])["State"]["Name"] == "terminated"
    for kept in hosts[1:]:
        assert session.instance(kept["machineId"])["State"]["Name"] == "running"
    wanted_back = session.script(
        "getReturnRequests", {"machines": [{"name": h["name"], "machineId": h["machineId"]} for h in hosts[1:]]}
    )
    assert wanted_back["requests"] == []
