"""update_machine_status through call_command: one machine, or many from a JSON or CSV file,
all checked before anything is written."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError

from machines_app.domain import MachineStatus
from requests_app.domain import RequestStatus
from tests.commands.support import run_command
from tests.support import aggregates


@pytest.fixture
def request_with_machines(storage):
    """An acquire request for two hosts and its two pending machines."""
    request = storage.requests.save(aggregates.acquire_request(machine_count=2))
    machines = [
        aggregates.store_machine(storage, aggregates.machine(f"i-00000000000000a0{n}", request_id=request.request_id))
        for n in (1, 2)
    ]
    return request, [m.machine_id for m in machines]


def versions(repos) -> dict[str, int]:
    return {m.machine_id: m.version for m in repos.machines.get_all()}


def test_one_machine_with_its_details(storage, request_with_machines):
    _request, (first, _second) = request_with_machines
    result = run_command(
        "update_machine_status",
        first,
        "running",
        "--private-ip",
        "10.0.0.5",
        "--public-ip",
        "54.1.2.3",
        "--name",
        "ip-10-0-0-5.ec2.internal",
    )
    machine = storage.machines.get_by_id(first)
    assert (machine.status, machine.private_ip_address, machine.public_ip_address, machine.name) == (
        MachineStatus.RUNNING,
        "10.0.0.5",
        "54.1.2.3",
        "ip-10-0-0-5.ec2.internal",
    )
    assert result.out.strip() == f"Machine {first}: running"


def test_the_request_follows_its_machines(storage, request_with_machines):
    request, (first, second) = request_with_machines
    for machine_id, ip in ((first, "10.0.0.1"), (second, "10.0.0.2")):
        run_command("update_machine_status", machine_id, "running", "--private-ip", ip, "--name", f"host-{ip}")
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.COMPLETE


def test_failed_needs_a_reason_and_keeps_it(storage, request_with_machines):
    _request, (first, _second) = request_with_machines
    run_command("update_machine_status", first, "failed", "--reason", "InsufficientInstanceCapacity")
    assert storage.machines.get_by_id(first).status_reason == "InsufficientInstanceCapacity"


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)  # input checks, before storage
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["i-unknown", "running"], r"machine 'i-unknown' does not exist"),
        (["{first}", "sleeping"], r"status: must be one of pending, running, stopping, stopped, shutting-down"),
        (["{first}", "stopped"], r"cannot move from 'pending' to 'stopped'; allowed from 'pending': failed, running"),
        (["{first}", "running", "--private-ip", "10.0.0.300"], r"private_ip_address: must be a valid IPv4 or IPv6"),
        (["{first}"], r"give MACHINE_ID and STATUS, or --file F"),
    ],
    ids=["unknown-id", "unknown-status", "refused-move", "bad-ip", "missing-status"],
)
def test_bad_input_is_named_and_nothing_is_written(storage, request_with_machines, args, message):
    _request, (first, _second) = request_with_machines
    before = versions(storage)
    with pytest.raises(CommandError, match=message):
        run_command("update_machine_status", *[arg.format(first=first) for arg in args])
    assert versions(storage) == before


def test_many_from_a_csv_file(storage, request_with_machines, tmp_path):
    request, (first, second) = request_with_machines
    path = tmp_path / "updates.csv"
    path.write_text(
        "machine_id,status,reason,private_ip,public_ip,name\n"
        f"{first},running,,10.0.0.1,,host-1\n"
        f"{second},failed,Spot capacity not available,,,\n",
        encoding="utf-8",
    )
    result = run_command("update_machine_status", "--file", str(path))
    assert storage.machines.get_by_id(first).private_ip_address == "10.0.0.1"
    assert storage.machines.get_by_id(second).status == MachineStatus.FAILED
    assert storage.requests.get_by_id(request.request_id).status == RequestStatus.PARTIAL
    assert result.out.strip() == "Updated 2 machines"


def test_many_from_a_json_file(storage, request_with_machines, tmp_path):
    _request, (first, second) = request_with_machines
    path = tmp_path / "updates.json"
    updates = [
        {"machine_id": first, "status": "running", "private_ip": "10.0.0.1", "name": "host-1"},
        {"machine_id": second, "status": "shutting-down", "reason": "Host Factory returned it"},
    ]
    path.write_text(json.dumps(updates), encoding="utf-8")
    run_command("update_machine_status", "--file", str(path))
    assert storage.machines.get_by_id(first).name == "host-1"
    assert storage.machines.get_by_id(second).status == MachineStatus.SHUTTING_DOWN


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)  # input checks, before storage
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "u.csv",
            "machine_id,status,colour\n{first},running,red\n",
            r"u\.csv line 1: unknown column 'colour'; allowed",
        ),
        ("u.csv", "machine_id,reason\n{first},x\n", r"u\.csv line 1: missing column 'status'"),
        ("u.csv", "machine_id,status\n{first},running\n{second},stopped\n", r"u\.csv line 3: .*'pending' to 'stopped'"),
        ("u.csv", "machine_id,status\n{first},running\n{first},running\n", r"line 3: machine_id: .* already given at"),
        ("u.csv", "machine_id,status\n{first},running\ni-nope,running\n", r"u\.csv line 3: machine 'i-nope' does not"),
        ("u.csv", "machine_id,status\n{first},\n", r"u\.csv line 2: status: is required"),
        ("u.json", '[{{"machine_id": "{first}", "status": "running"}}, 7]', r"u\.json item #2: must be an object"),
        ("u.json", '[{{"machine_id": "{first}", "status": 1}}]', r"u\.json item #1: status: must be a string"),
        ("u.json", '{{"machine_id": "{first}"}}', r"u\.json: must be a JSON list of objects, got dict"),
        ("u.json", '[\n{{"machine_id": ]', r"u\.json: invalid JSON at line 2 column 16"),
        ("u.json", '[{{"machine_id": "{first}", "status": "running", "private_ip": "nope"}}]', r"item #1: private_ip_"),
        ("u.csv", "", r"u\.csv: the file is empty"),
    ],
    ids=[
        "unknown-column",
        "missing-column",
        "refused-move",
        "twice",
        "unknown-id",
        "empty-status",
        "not-object",
        "not-string",
        "not-list",
        "bad-json",
        "bad-ip",
        "empty",
    ],
)
def test_a_bad_file_names_the_line_and_writes_nothing(storage, request_with_machines, tmp_path, name, content, message):
    _request, (first, second) = request_with_machines
    path = tmp_path / name
    path.write_text(content.format(first=first, second=second), encoding="utf-8")
    before = versions(storage)
    with pytest.raises(CommandError, match=message):
        run_command("update_machine_status", "--file", str(path))
    assert versions(storage) == before


def test_a_missing_file_is_an_error(storage):
    with pytest.raises(CommandError, match=r"nowhere\.csv: cannot read"):
        run_command("update_machine_status", "--file", "nowhere.csv")


def test_file_and_arguments_do_not_mix(storage, request_with_machines, tmp_path):
    _request, (first, _second) = request_with_machines
    with pytest.raises(CommandError, match="--file takes every value from the file"):
        run_command("update_machine_status", first, "running", "--file", str(tmp_path / "x.csv"))


def test_dry_run_checks_and_writes_nothing(storage, request_with_machines):
    _request, (first, _second) = request_with_machines
    before = versions(storage)
    result = run_command("update_machine_status", first, "running", "--dry-run")
    assert f"would set {first} to running" in result.out
    assert versions(storage) == before
