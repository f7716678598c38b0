"""The races of issue 11, across processes: eight client processes call gunicorn (four worker
processes) on the same dynalite tables at the same moment, as Host Factory installations,
provisioners and cron jobs do. Each race is repeated; afterwards the stored data, read by
this process, must be what one caller at a time would have left."""

from __future__ import annotations

import random
import uuid

import pytest

from hostfactory.fleet.machines import machine_register, machine_update_status
from hostfactory.fleet.requests import request_cancel, request_create_acquire
from machines_app.domain import Machine, MachineStatus
from tests.support import aggregates

pytestmark = [pytest.mark.dynalite, pytest.mark.slow]

HF = "/api/v1/hostfactory"
CAPACITY_TRIALS = 10
MAX_NUMBER = 5
REGISTER_TRIALS = 5
REPORT_TRIALS = 40


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def instance_id() -> str:
    return f"i-{uuid.uuid4().hex[:17]}"


def post(path: str, body: dict, **options) -> dict:
    """One call of a client's script (see ``tests.reliability.clients.attempts``)."""
    return {"method": "POST", "path": path, "body": body, **options}


def last(attempts: list[dict]) -> tuple[int, dict]:
    return attempts[-1]["http"], attempts[-1]["body"]


def launched(repos, template_id: str, count: int, status: MachineStatus = MachineStatus.RUNNING) -> list[Machine]:
    """An acquire request of ``count`` hosts, all registered and reported ``status``: what a
    provisioner leaves, made through the same services the API runs."""
    request = request_create_acquire(repos=repos, template_id=template_id, machine_count=count)
    machines = []
    for _ in range(count):
        machine = aggregates.machine(instance_id(), request_id=request.request_id, template_id=template_id)
        machine_register(repos=repos, machine=machine)
        machines.append(machine_update_status(repos=repos, machine_id=machine.machine_id, status=status))
    return machines


# -- 1. capacity ---------------------------------------------------------------------------


def test_racing_request_machines_never_pass_max_number(stack):
    """maxNumber=5, eight plugins ask 1 or 2 hosts each at once, ten times over: the accepted
    requests never add up to more than 5, the ledger holds exactly their sum, and nobody is
    refused while there was room for them."""
    rng = random.Random(11)
    faults = []
    for trial in range(CAPACITY_TRIALS):
        template = stack.repos.templates.save(aggregates.template(unique(f"tpl-cap{trial}"), max_number=MAX_NUMBER))
        asks = [rng.choice((1, 2)) for _ in range(stack.clients.size)]
        body = [{"template": {"templateId": template.template_id, "machineCount": n}} for n in asks]
        answers = stack.clients.round([[post(f"{HF}/requestMachines", b)] for b in body])

        accepted, refused = {}, []
        for ask, (status, answer) in zip(asks, (last(client[0]) for client in answers), strict=True):
            if status == 200:
                accepted[answer["requestId"]] = ask
            else:
                assert status == 400 and "machineCount: must be at most" in answer["message"], (status, answer)
                refused.append(ask)
        # What is stored is what was acknowledged: no refused request written, none accepted lost.
        stored = stack.repos.requests.get_all({"template_id": template.template_id})
        assert {r.request_id: r.machine_count for r in stored if r.is_active} == accepted, (stored, accepted)
        usage = stack.repos.templates.usage(template.template_id)
        total = sum(accepted.values())
        if total > MAX_NUMBER:
            faults.append(f"trial {trial}: {total} hosts accepted of {MAX_NUMBER} ({asks})")
        if usage.used != total or set(usage.reservations) != set(accepted):
            faults.append(f"trial {trial}: ledger used={usage.used}, accepted {total}")
        if any(ask <= MAX_NUMBER - total for ask in refused):
            faults.append(f"trial {trial}: refused {refused} with {MAX_NUMBER - total} free")
    assert not faults, "\n".join(faults)


# -- 2. registration beyond the count --------------------------------------------------------


def register(request, machine_id: str) -> dict:
    body = {"machine_id": machine_id, "request_id": request.request_id, "template_id": request.template_id}
    return post("/api/v1/machines/", body)


def test_racing_registrations_take_only_the_requests_count(stack):
    """Eight provisioners register eight different machines for a one-machine request at
    once: one is stored, seven are refused naming the request and its count."""
    for _trial in range(REGISTER_TRIALS):
        template = stack.repos.templates.save(aggregates.template(unique("tpl-reg"), max_number=1))
        request = request_create_acquire(repos=stack.repos, template_id=template.template_id, machine_count=1)
        ids = [instance_id() for _ in range(stack.clients.size)]
        answers = [last(client[0]) for client in stack.clients.round([[register(request, i)] for i in ids])]

        statuses = sorted(status for status, _ in answers)
        assert statuses == [201] + [409] * (len(ids) - 1), answers
        winner = next(answer["machine_id"] for status, answer in answers if status == 201)
        for status, answer in answers:
            if status == 409:
                assert answer["code"] == "request_closed", answer
                assert request.request_id in answer["detail"] and "all 1 of its machines" in answer["detail"], answer
        assert stack.repos.requests.get_by_id(request.request_id).machine_ids == (winner,)
        assert [m.machine_id for m in stack.repos.machines.get_many(ids)] == [winner]
        assert stack.repos.templates.usage(template.template_id).used == 1


def test_machines_on_a_cancelled_request_are_refused(stack):
    template = stack.repos.templates.save(aggregates.template(unique("tpl-cancel"), max_number=2))
    request = request_create_acquire(repos=stack.repos, template_id=template.template_id, machine_count=2)
    request_cancel(repos=stack.repos, request_id=request.request_id)
    ids = [instance_id() for _ in range(stack.clients.size)]
    answers = [last(client[0]) for client in stack.clients.round([[register(request, i)] for i in ids])]

    for status, answer in answers:
        assert status == 409 and answer["code"] == "request_closed", (status, answer)
        assert f"request {request.request_id} is cancelled" in answer["detail"], answer
        assert "0 of 2 registered" in answer["detail"], answer
    assert stack.repos.machines.get_many(ids) == []
    assert stack.repos.requests.get_by_id(request.request_id).machine_ids == ()
    assert stack.repos.templates.usage(template.template_id).used == 0


# -- 3. two status reports -------------------------------------------------------------------


def report(machine_id: str, status: str, who: str, trial: int) -> dict:
    body = {
        "status": status,
        "status_reason": f"{who} report {trial}",
        "name": f"{who}-{trial}.example",
        "private_ip_address": f"10.{1 if who == 'stopping' else 2}.0.{trial}",
        "public_ip_address": f"54.{1 if who == 'stopping' else 2}.0.{trial}",
    }
    return post(f"/api/v1/machines/{machine_id}/status/", body)


def test_racing_status_reports_never_mix(stack):
    """A 'stopping' and a 'terminated' report of the same running machine, from two processes
    at once, forty times: the machine ends terminated with everything the terminated report
    carried, whichever came first (a report is one conditional write)."""
    template = stack.repos.templates.save(aggregates.template(unique("tpl-report"), max_number=-1))
    machines = launched(stack.repos, template.template_id, REPORT_TRIALS)
    bystander = launched(stack.repos, template.template_id, 1)  # a double release would show on it
    pairs = stack.clients.size // 2
    mixed, orders = [], {"stopping first": 0, "terminated first": 0}
    for start in range(0, REPORT_TRIALS, pairs):
        trials = range(start, min(start + pairs, REPORT_TRIALS))
        scripts = []
        for trial in trials:
            scripts += [[report(machines[trial].machine_id, "stopping", "stopping", trial)]]
            scripts += [[report(machines[trial].machine_id, "terminated", "terminated", trial)]]
        answers = stack.clients.round(scripts)
        for number, trial in enumerate(trials):
            (stop_status, stop_answer), (end_status, end_answer) = (
                last(a[0]) for a in answers[2 * number : 2 * number + 2]
            )
            assert end_status == 200 and end_answer["status"] == "terminated", end_answer
            assert stop_status == 200 or stop_answer["code"] == "invalid_transition", stop_answer
            orders["stopping first" if stop_status == 200 else "terminated first"] += 1
            stored = stack.repos.machines.get_by_id(machines[trial].machine_id)
            wanted = report(stored.machine_id, "terminated", "terminated", trial)["body"]
            got = {key: getattr(stored, key) for key in wanted}
            if got != wanted:
                mixed.append(f"trial {trial}: {got}")
            assert stored.version == machines[trial].version + (2 if stop_status == 200 else 1)
    assert not mixed, f"{len(mixed)} of {REPORT_TRIALS} machines mix two reports:\n" + "\n".join(mixed)
    assert stack.repos.templates.usage(template.template_id).used == len(bystander)
    print(orders)
