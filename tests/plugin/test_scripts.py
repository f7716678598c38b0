"""The five shell scripts as Symphony runs them (``bash script.sh -f input.json``), with a
Python that cannot see site-packages: a whole Host Factory session against a live server,
and the ways a call can fail."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from tests.api.fixtures import add_template
from tests.plugin.stub_server import StubService

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "hostfactory" / "plugin" / "scripts"
OPERATIONS = [
    "getAvailableTemplates",
    "requestMachines",
    "requestReturnMachines",
    "getRequestStatus",
    "getReturnRequests",
]
# The live server answers from another thread, so the test's data must be committed.
LIVE_DB = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run_script(tmp_path, stdlib_python):
    def run(operation: str, body: object, url: str, token: str, **env: str) -> subprocess.CompletedProcess:
        path = tmp_path / f"{operation}.input.json"
        path.write_text(json.dumps(body))
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HF_PYTHON": stdlib_python,
            "HF_SERVICE_URL": url,
            "HF_SERVICE_TOKEN": token,
            **env,
        }
        return subprocess.run(
            ["bash", str(SCRIPTS / f"{operation}.sh"), "-f", str(path)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def answer(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, (done.stdout, done.stderr)
    return json.loads(done.stdout)


def test_each_script_is_one_line_calling_the_client():
    for operation in OPERATIONS:
        script = SCRIPTS / f"{operation}.sh"
        lines = [line for line in script.read_text().splitlines() if line and not line.startswith("#")]
        assert len(lines) == 1 and "client.py" in lines[0] and operation in lines[0], lines
        assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"


# -- a whole session -----------------------------------------------------------------------


class Provisioner:
    """What launches hosts reports them over REST, as a provisioner would."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def launched(self, request_id: str, number: int) -> str:
        machine_id = f"i-0session{number:08d}"
        self.post("/api/v1/machines/", {"machine_id": machine_id, "request_id": request_id, "template_id": "OnDemand"})
        return machine_id

    def running(self, machine_id: str, number: int) -> None:
        report = {
            "status": "running",
            "name": f"ip-10-1-0-{number}.ec2.internal",
            "private_ip_address": f"10.1.0.{number}",
        }
        self.post(f"/api/v1/machines/{machine_id}/status/", report)

    def status(self, machine_id: str, status: str) -> None:
        self.post(f"/api/v1/machines/{machine_id}/status/", {"status": status})


@LIVE_DB
def test_a_host_factory_session_through_the_scripts(storage, live_server, plugin, provisioner, run_script):
    add_template(storage, "OnDemand", max_number=5, provider_config={"imageId": "ami-1", "vmType": "t3.micro"})
    token = Token.objects.get(user=plugin.user).key
    # Two roles, as deployed: the scripts' plugin token, and a provisioner's token for the launches.
    provisioner = Provisioner(live_server.url, Token.objects.get(user=provisioner.user).key)

    def script(operation: str, body: object) -> dict:
        return answer(run_script(operation, body, live_server.url, token))

    (template,) = script("getAvailableTemplates", {})["templates"]
    assert (template["templateId"], template["availableNumber"], template["vmType"]) == ("OnDemand", 5, "t3.micro")

    asked = script("requestMachines", {"template": {"templateId": "OnDemand", "machineCount": 3}})
    request_id = asked["requestId"]
    assert asked["message"] == "Request VM success."
    machines = [provisioner.launched(request_id, number) for number in (1, 2, 3)]
    for number, machine_id in enumerate(machines[:2], start=1):
        provisioner.running(machine_id, number)

    (polled,) = script("getRequestStatus", {"requests": [{"requestId": request_id}]})["requests"]
    assert polled["status"] == "running"
    assert sorted(m["result"] for m in polled["machines"]) == ["executing", "succeed", "succeed"]
    provisioner.running(machines[2], 3)
    for _poll in range(5):
        (polled,) = script("getRequestStatus", {"requests": [{"requestId": request_id}]})["requests"]
        if polled["status"] != "running":
            break
    assert polled["status"] == "complete" and {m["result"] for m in polled["machines"]} == {"succeed"}
    hosts = {m["machineId"]: m["name"] for m in polled["machines"]}

    returned = script("requestReturnMachines", {"machines": [{"name": hosts[machines[0]], "machineId": machines[0]}]})
    assert returned["message"] == "Delete VM success."
    provisioner.status(machines[0], "shutting-down")
    provisioner.status(machines[0], "terminated")
    mixed = script("getRequestStatus", {"requests": [{"requestId": returned["requestId"]}, {"requestId": request_id}]})
    back, acquired = mixed["requests"]
    assert (back["requestId"], back["status"]) == (returned["requestId"], "complete")
    assert [(m["machineId"], m["result"], m["status"]) for m in back["machines"]] == [
        (machines[0], "succeed", "terminated")
    ]
    assert (acquired["requestId"], acquired["status"]) == (request_id, "complete")

    provisioner.status(machines[1], "terminated")  # gone without Host Factory asking
    held = [{"name": hosts[m], "machineId": m} for m in machines[1:]]
    wanted = script("getReturnRequests", {"machines": held})
    assert wanted["message"] == "Machines to return."
    assert wanted["requests"] == [{"machine": hosts[machines[1]], "machineId": machines[1], "gracePeriod": 0}]
    (template,) = script("getAvailableTemplates", {})["templates"]
    assert template["availableNumber"] == 4  # one machine left alive


# -- failures ------------------------------------------------------------------------------


def assert_failed(done: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 1 and one JSON line on stdout holding only a message; the details on stderr."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    body = json.loads(lines[0])
    assert list(body) == ["message"] and body["message"]
    for word in words:
        assert word in body["message"], body["message"]
    assert "Traceback" not in done.stdout and done.stderr
    return body["message"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stub():
    service = StubService()
    service.url = service.start()
    yield service
    service.stop()


def test_service_down(run_script):
    done = run_script("getAvailableTemplates", {}, f"http://127.0.0.1:{free_port()}", "t", HF_SERVICE_RETRIES="1")
    assert_failed(done, "cannot reach the Host Factory service")


@LIVE_DB
@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_bad_token_and_bad_input_against_the_real_service(storage, live_server, plugin, run_script):
    done = run_script("getAvailableTemplates", {}, live_server.url, "wrong-token")
    assert_failed(done, "authentication failed", "Invalid token")
    token = Token.objects.get(user=plugin.user).key
    done = run_script(
        "requestMachines", {"template": {"templateId": "nope", "machineCount": 1}}, live_server.url, token
    )
    assert_failed(done, "templateId", "unknown template 'nope'")
    assert storage.requests.get_all() == []


def test_server_error_is_retried_then_reported(run_script, stub):
    stub.answer(500, {"message": "Internal server error; it has been logged."})
    done = run_script("getRequestStatus", {"requests": []}, stub.url, "t", HF_SERVICE_RETRIES="1")
    assert_failed(done, "HTTP 500")
    assert len(stub.received) == 2


def test_timeout(run_script, stub):
    stub.answer(200, {"requests": []}, delay=2.0)
    done = run_script("requestMachines", {"template": {}}, stub.url, "t", HF_SERVICE_TIMEOUT="0.3")
    assert_failed(done, "did not answer within 0.3s")
    assert len(stub.received) == 1  # a request that may have been acted on is not sent twice
