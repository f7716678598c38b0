"""The commands as real ``manage.py`` processes against DynamoDB on dynalite (and EC2 on moto's
server), sharing state across processes as in production: what one process writes, the next
one (and this test) reads."""

from __future__ import annotations

import json

import pytest

from hostfactory.fleet.requests import request_create_acquire
from hostfactory.storage import build_repositories
from hostfactory.storage.config import StorageConfig
from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from templates_app.domain import Usage
from tests.commands.ec2 import GONE_ID, REGION, ec2_over_http
from tests.commands.support import SAMPLE_TEMPLATES, dynamodb_environment, manage
from tests.conftest import storage_settings
from tests.support import aggregates
from tests.support.dynalite import free_port

pytestmark = [pytest.mark.dynalite, pytest.mark.slow]


@pytest.fixture
def shared(dynalite_server, tmp_path):
    """Fresh tables on dynalite: the repositories this test reads, and the environment of a
    ``manage.py`` process that uses the same tables."""
    data = storage_settings("dynalite", dynalite_server.endpoint)
    repos = build_repositories(StorageConfig.from_settings(data))
    for repo in repos.tables():
        repo.create_table()
    yield repos, dynamodb_environment(data, tmp_path)
    for repo in repos.tables():
        repo.delete_table()


@pytest.fixture
def ec2_server():
    """moto's EC2 in server mode on a free port: what a separate process reaches over HTTP."""
    with ec2_over_http() as server:
        yield server


def test_load_templates_then_export_in_other_processes(shared, tmp_path):
    repos, env = shared
    loaded = manage("load_templates", str(SAMPLE_TEMPLATES), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "4 created" in loaded.stdout
    assert len(repos.templates.get_all()) == 4

    exported = manage("export_templates", env=env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == {
        "templates": sorted((t.to_hostfactory() for t in repos.templates.get_all()), key=lambda t: t["templateId"])
    }

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"templates": [{"templateId": "ok-1"}]}), encoding="utf-8")
    refused = manage("load_templates", str(bad), "--replace", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(f"CommandError: {bad}: 1 of 1 templates refused:\n  template #1 ('ok-1')")
    assert "Traceback" not in refused.stderr
    assert len(repos.templates.get_all()) == 4


def test_update_machine_status_in_another_process(shared):
    repos, env = shared
    request = repos.requests.save(aggregates.acquire_request(machine_count=1))
    machine = aggregates.store_machine(repos, aggregates.machine(request_id=request.request_id))

    done = manage(
        "update_machine_status", machine.machine_id, "running", "--private-ip", "10.1.2.3", "--name", "h1", env=env
    )
    assert done.returncode == 0, done.stderr
    assert repos.machines.get_by_id(machine.machine_id).private_ip_address == "10.1.2.3"
    assert repos.requests.get_by_id(request.request_id).status == RequestStatus.COMPLETE

    refused = manage("update_machine_status", machine.machine_id, "asleep", env=env)
    assert refused.returncode == 1
    assert "status: must be one of pending, running, stopping" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_update_machine_status_from_stdin_csv(shared):
    repos, env = shared
    machines = [aggregates.store_machine(repos, aggregates.machine()) for _ in range(3)]
    csv_text = "machine_id,status,reason\n" + "".join(f"{m.machine_id},failed,no capacity\n" for m in machines)
    done = manage("update_machine_status", "--file", "-", env=env, stdin=csv_text)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Updated 3 machines"
    assert {repos.machines.get_by_id(m.machine_id).status for m in machines} == {MachineStatus.FAILED}


def test_sync_machines_in_another_process_against_ec2_over_http(shared, ec2_server):
    repos, env = shared
    endpoint, ec2 = ec2_server
    running, stopped = (
        i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2)["Instances"]
    )
    ec2.stop_instances(InstanceIds=[stopped])
    request = repos.requests.save(aggregates.acquire_request(machine_count=3))
    for machine_id, status in ((running, "pending"), (stopped, "running"), (GONE_ID, "running")):
        aggregates.store_machine(repos, aggregates.machine(machine_id, request_id=request.request_id, status=status))
    env = {**env, "AWS_ENDPOINT_URL_EC2": endpoint, "AWS_REGION": REGION}

    planned = manage("sync_machines", "--dry-run", env=env)
    assert planned.returncode == 0, planned.stderr
    assert f"would change machine {GONE_ID}: running -> terminated [no longer in EC2]" in planned.stdout
    assert repos.machines.get_by_id(running).status == MachineStatus.PENDING

    done = manage("sync_machines", env=env)
    assert done.returncode == 0, done.stderr
    statuses = {m.machine_id: m.status for m in repos.machines.get_by_request_id(request.request_id)}
    assert statuses == {
        running: MachineStatus.RUNNING,
        stopped: MachineStatus.STOPPED,
        GONE_ID: MachineStatus.TERMINATED,
    }
    assert repos.requests.get_by_id(request.request_id).status == RequestStatus.PARTIAL
    assert done.stdout.splitlines()[-1].startswith("3 machines checked")


def test_sync_machines_with_ec2_unreachable_fails_and_writes_nothing(shared):
    repos, env = shared
    machine = aggregates.store_machine(repos, aggregates.machine(GONE_ID, status="running"))
    env = {**env, "AWS_ENDPOINT_URL_EC2": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"}
    failed = manage("sync_machines", "--region", REGION, env=env)
    assert failed.returncode == 1
    assert failed.stderr.startswith("CommandError: EC2 is unreachable (region us-east-1, endpoint http://127.0.0.1:")
    assert "Traceback" not in failed.stderr
    assert repos.machines.get_by_id(GONE_ID) == machine


def test_sync_machines_without_a_region_fails(shared):
    _repos, env = shared
    env = {key: value for key, value in env.items() if key not in ("AWS_REGION", "DYNAMODB_REGION")}
    failed = manage("sync_machines", env=env)
    assert failed.returncode == 1
    assert failed.stderr.strip() == "CommandError: no AWS region: pass --region, or set AWS_REGION (or DYNAMODB_REGION)"


def test_setup_local_with_dynamodb_creates_the_tables_and_loads_the_samples(dynalite_server, tmp_path):
    """``make run STORAGE_TYPE=dynamodb DYNAMODB_HOST=...`` on tables that do not exist yet."""
    data = storage_settings("dynalite", dynalite_server.endpoint)
    env = dynamodb_environment(data, tmp_path, DEBUG="true")
    repos = build_repositories(StorageConfig.from_settings(data))
    try:
        assert manage("migrate", "--no-input", "-v0", env=env).returncode == 0
        done = manage("setup_local", env=env)
        assert done.returncode == 0, done.stderr
        assert "4 created" in done.stdout
        assert len(repos.templates.get_all()) == 4
    finally:
        for repo in repos.tables():
            repo.delete_table()


def test_unreachable_storage_is_a_one_line_error(shared):
    _repos, env = shared
    env = {**env, "DYNAMODB_HOST": f"http://127.0.0.1:{free_port()}"}
    failed = manage("update_request_status", "req-x", "cancelled", env=env)
    assert failed.returncode == 1
    table = env["DYNAMODB_REQUESTS_TABLE"]
    assert (
        failed.stderr.strip()
        == f"CommandError: DynamoDB is unreachable (GetItem on {table!r}): EndpointConnectionError"
    )


def test_recount_capacity_in_another_process_fixes_a_corrupted_ledger(shared):
    repos, env = shared
    repos.templates.save(aggregates.template("tpl-a", max_number=4))
    request = request_create_acquire(repos=repos, template_id="tpl-a", machine_count=2)
    assert repos.templates.set_usage("tpl-a", Usage(used=4), repos.templates.usage("tpl-a").seq)

    planned = manage("recount_capacity", "--dry-run", env=env)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[0] == f"would fix tpl-a: used 4 -> 2; reservations added: {request.request_id}"
    assert repos.templates.usage("tpl-a").used == 4

    done = manage("recount_capacity", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "1 ledger fixed, 0 stale reservations released"
    assert repos.templates.usage("tpl-a").used == 2

    dead = manage("recount_capacity", env={**env, "DYNAMODB_HOST": f"http://127.0.0.1:{free_port()}"})
    assert dead.returncode == 1
    assert dead.stderr.strip().startswith("CommandError: DynamoDB is unreachable (Scan on ")
    assert "Traceback" not in dead.stderr
