"""The races of issue 11, across processes: eight client processes call gunicorn (four worker
processes) on the same dynalite tables at the same moment, as Host Factory installations,
provisioners and cron jobs do. Each race is repeated; afterwards the stored data, read by
this process, must be what one caller at a time would have left."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from datetime import timedelta

import pytest

from hostfactory.domain import utcnow
from hostfactory.errors import ReturnInFlight, StorageUnavailable
from hostfactory.fleet.machines import machine_register, machine_update_status
from hostfactory.fleet.requests import request_cancel, request_create_acquire
from hostfactory.hostfactory_api.services import hf_get_return_requests, hf_request_return_machines
from machines_app.domain import Machine, MachineStatus
from tests.commands.ec2 import REGION, ec2_over_http
from tests.conftest import storage_settings
from tests.reliability.live import CLAIM_SECONDS, call, fresh_tables, running_stack, start_manage
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


def hf_call(stack, operation: str, body: dict) -> dict:
    """A Host Factory call from this process, as the plugin; its answer, which must be a 200."""
    answer = call(stack.server.url, "POST", f"{HF}/{operation}", stack.clients.token, body)
    assert answer.status == 200, (operation, answer.status, answer.text)
    return answer.json


def launched(repos, template_id: str, count: int, ids: list[str] | None = None) -> list[Machine]:
    """An acquire request of ``count`` hosts (cloud ids ``ids``, else made up), all registered
    and running: what a provisioner leaves, made through the same services the API runs."""
    request = request_create_acquire(repos=repos, template_id=template_id, machine_count=count)
    machines = []
    for machine_id in ids or [instance_id() for _ in range(count)]:
        machine = aggregates.machine(machine_id, request_id=request.request_id, template_id=template_id)
        machine_register(repos=repos, machine=machine)
        machines.append(machine_update_status(repos=repos, machine_id=machine.machine_id, status=MachineStatus.RUNNING))
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


ENDER_TRIALS = 5


def test_racing_enders_release_a_request_once(stack, settings):
    """Four operators cancel an acquire request of 3 while four plugins poll it past its
    deadline, all at once: it ends once (cancelled or timed out) and gives its 3 hosts back
    once; another active request's reservation is untouched."""
    for _trial in range(ENDER_TRIALS):
        template = stack.repos.templates.save(aggregates.template(unique("tpl-end"), max_number=10))
        keeper = request_create_acquire(repos=stack.repos, template_id=template.template_id, machine_count=2)
        settings.HOSTFACTORY_REQUEST_TIMEOUT = 0  # past its deadline as soon as it is made
        target = request_create_acquire(repos=stack.repos, template_id=template.template_id, machine_count=3)
        settings.HOSTFACTORY_REQUEST_TIMEOUT = 3600
        cancel = post(
            f"/api/v1/requests/{target.request_id}/status/", {"status": "cancelled"}, token=stack.tokens["operator"]
        )
        poll = post(f"{HF}/getRequestStatus", {"requests": [{"requestId": target.request_id}]})
        answers = [last(client[0]) for client in stack.clients.round([[cancel]] * 4 + [[poll]] * 4)]

        # A cancel is accepted (again: it is idempotent) unless a poll timed the request out first.
        cancels = {status for status, _ in answers[:4]}
        assert cancels <= {200, 409} and {status for status, _ in answers[4:]} == {200}, answers
        stored = stack.repos.requests.get_by_id(target.request_id)
        assert stored.status.value == ("cancelled" if 200 in cancels else "timeout"), (stored, answers)
        usage = stack.repos.templates.usage(template.template_id)
        assert (usage.used, set(usage.reservations)) == (2, {keeper.request_id})


RETURN_TRIALS = 3
SHARED_HOSTS = 6


def test_racing_returns_of_the_same_hosts_claim_each_once(stack):
    """Eight plugins return the same six hosts at once (each in its own order): every host
    ends in exactly one stored return, the one its claim names; a call that finds all its hosts
    held by returns still being written is told to retry (503), never "No Active VM."."""
    rng = random.Random(7)
    template = stack.repos.templates.save(aggregates.template(unique("tpl-dup"), max_number=-1))
    for _trial in range(RETURN_TRIALS):
        hosts = [m.machine_id for m in launched(stack.repos, template.template_id, SHARED_HOSTS)]
        scripts = [
            [
                post(
                    f"{HF}/requestReturnMachines",
                    {"machines": [{"machineId": h} for h in rng.sample(hosts, len(hosts))]},
                )
            ]
            for _ in range(stack.clients.size)
        ]
        answers = [last(client[0]) for client in stack.clients.round(scripts)]
        # A call whose hosts are all held by returns still being written is told to retry.
        retry = [answer for status, answer in answers if status == 503 and "not written yet" in answer["message"]]
        assert len(retry) + sum(status == 200 for status, _ in answers) == len(answers), answers
        acknowledged = [answer["requestId"] for status, answer in answers if status == 200]
        returns = stack.repos.requests.get_many(acknowledged)
        assert len(returns) == len(acknowledged) >= 1, "an acknowledged return was lost"
        named = [i for r in returns for i in r.machine_ids]
        assert sorted(named) == sorted(hosts), f"hosts in no return, or in two: {named}"
        claims = {m.machine_id: m.return_request_id for m in stack.repos.machines.get_many(hosts)}
        assert claims == {i: r.request_id for r in returns for i in r.machine_ids}


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


def test_racing_writers_of_one_machine_leave_each_change_with_exactly_one_event(stack):
    """Every client process reports the same running machine several times at once (a new IP
    address each time): each change carries its event in its own write, and each process's
    move races the others' writes. Afterwards (one sweep, as a pass runs) the machine's history
    has one event per version, each old value the previous one's new, and no item holds an
    event still."""
    template = stack.repos.templates.save(aggregates.template(unique("tpl-events"), max_number=-1))
    [machine] = launched(stack.repos, template.template_id, 1)
    repeats = 4
    scripts = [
        [
            post(f"/api/v1/machines/{machine.machine_id}/status/", {"status": "running", "private_ip_address": ip})
            for ip in (f"10.9.{client}.{n}" for n in range(repeats))
        ]
        for client in range(stack.clients.size)
    ]
    answers = stack.clients.round(scripts)
    assert all(last(attempts)[0] == 200 for script in answers for attempts in script), answers

    stack.repos.history.sweep()
    stored = stack.repos.machines.get_by_id(machine.machine_id)
    # Listed by the time each writer stamped; two processes' writes of the same moment may
    # list either way round, and their versions give the order of the writes.
    events = sorted(stack.repos.machines.history(machine.machine_id, limit=1000).items, key=lambda e: e.version)
    assert [event.version for event in events] == list(range(1, stored.version + 1))
    ips = [event.changes["private_ip_address"] for event in events if "private_ip_address" in event.changes]
    assert all(older[1] == newer[0] for older, newer in itertools.pairwise(ips)), ips
    assert ips[-1][1] == stored.private_ip_address
    raw = stack.repos.machines.table.get_item(machine.machine_id, consistent_read=True)["Item"]
    assert not [name for name in raw if name.startswith(("hfe.", "hfo.", "hf_pending"))]


# -- 4. a return against sync_machines -------------------------------------------------------

RETURNED_HOSTS = 24
BYSTANDERS = 4
SPREAD = 0.05


def wait_for_a_write(repos, machine_ids: list[str], process, timeout: float = 60) -> None:
    """Wait until ``process`` has ended one of the machines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(not m.is_live for m in repos.machines.get_many(machine_ids)):
            return
        assert process.poll() is None, f"exited first: {process.communicate()}"
        time.sleep(0.02)
    raise AssertionError(f"no machine ended within {timeout} s")


def test_return_racing_sync_machines_strands_no_host_and_releases_once(stack):
    """EC2 has terminated 24 hosts; ``manage.py sync_machines`` (a process, against moto's EC2
    server) records it while eight plugins ask to return those hosts, one call per host, spread
    over the sync's run. Afterwards every host is either returned by a return that completed,
    or terminated with no claim and listed by getReturnRequests; the ledger counts exactly the
    hosts still live (four bystanders), so no host was released twice."""
    with ec2_over_http() as (endpoint, ec2):
        ids = [
            i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=28, MaxCount=28)["Instances"]
        ]
        hosts, bystanders = ids[:RETURNED_HOSTS], ids[RETURNED_HOSTS:]
        template = stack.repos.templates.save(aggregates.template(unique("tpl-sync"), max_number=100))
        launched(stack.repos, template.template_id, len(ids), ids)
        ec2.terminate_instances(InstanceIds=hosts)

        env = {**stack.env, "AWS_ENDPOINT_URL_EC2": endpoint, "AWS_REGION": REGION}
        started = time.time()
        sync = start_manage("sync_machines", env=env)
        wait_for_a_write(stack.repos, hosts, sync)
        per_client = [hosts[i :: stack.clients.size] for i in range(stack.clients.size)]
        # The sync is writing: client i's j-th call leaves about (i + 8 j) * SPREAD s from now,
        # so the calls cover the rest of its run, each racing the sync's write of its host.
        scripts = [
            [
                post(f"{HF}/requestReturnMachines", {"machines": [{"machineId": h}]}, delay=SPREAD * (8 if j else i))
                for j, h in enumerate(mine)
            ]
            for i, mine in enumerate(per_client)
        ]
        answers = stack.clients.round(scripts)
        output, errors = sync.communicate(timeout=120)
        assert sync.returncode == 0, f"{output}\n{errors}"

    returns = {}
    for mine, client in zip(per_client, answers, strict=True):
        for host, attempts in zip(mine, client, strict=True):
            status, answer = last(attempts)
            assert status == 200, (status, answer)
            returns[host] = (answer["requestId"], answer["message"], attempts[-1]["at"])
    acknowledged = sorted({rid for rid, message, _ in returns.values() if message == "Delete VM success."})
    polled = hf_call(stack, "getRequestStatus", {"requests": [{"requestId": r} for r in acknowledged]})
    assert {entry["status"] for entry in polled["requests"]} <= {"complete"}, polled

    machines = {m.machine_id: m for m in stack.repos.machines.get_many(ids)}
    listed = hf_call(stack, "getReturnRequests", {"machines": [{"machineId": h} for h in hosts]})
    claimable = {entry["machineId"] for entry in listed["requests"] if entry["gracePeriod"] == 0}
    stranded, outcome = [], {"returned": 0, "terminated first": 0}
    for host in hosts:
        machine = machines[host]
        request_id, message, _at = returns[host]
        if message == "Delete VM success.":
            ok = machine.return_request_id == request_id and machine.status in (
                MachineStatus.RETURNED,
                MachineStatus.TERMINATED,
            )
            outcome["returned"] += 1
        else:
            ok = machine.status == MachineStatus.TERMINATED and machine.return_request_id is None and host in claimable
            outcome["terminated first"] += 1
        if not ok:
            stranded.append(
                f"{host}: {machine.status} return_request_id={machine.return_request_id}, answer {message} {request_id}"
            )
    assert not stranded, "\n".join(stranded)
    live = [m for m in machines.values() if m.is_live]
    assert sorted(m.machine_id for m in live) == sorted(bystanders)
    usage = stack.repos.templates.usage(template.template_id)
    assert (usage.used, usage.reservations) == (len(bystanders), {})
    ended = sorted(m.updated_at.timestamp() for m in machines.values() if not m.is_live)
    asked = sorted(at - started for *_, at in returns.values())
    print(
        outcome,
        f"sync wrote {ended[0] - started:.1f}-{ended[-1] - started:.1f} s, answers {asked[0]:.1f}-{asked[-1]:.1f} s",
    )


# -- 5. a storage kill in the middle of returns ----------------------------------------------

KILL_HOSTS = 48  # 8 clients x 3 calls x 2 hosts
KILL_AFTER_RETURNS = 6


@pytest.fixture
def disk_stack(disk_dynalite, tmp_path):
    yield from running_stack(disk_dynalite.endpoint, tmp_path)


def wait_for_returns(repos, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(repos.requests.get_all({"request_type": "return"})) < count:
        assert time.monotonic() < deadline, f"fewer than {count} return requests within {timeout} s"
        time.sleep(0.02)


def test_storage_killed_mid_returns_leaves_no_half_written_return(disk_stack, disk_dynalite):
    """Eight plugins return 48 hosts, two per call, retrying a failed call as Host Factory does,
    while dynalite is killed (SIGKILL) and started again on the same files. Afterwards every
    acknowledged return is stored with the claims it answered; every claim names a stored
    return or one that was never written (its call failed), and such a host is returned by
    the next call once the claim is void; no host is left that no return can take."""
    repos, clients = disk_stack.repos, disk_stack.clients
    template = repos.templates.save(aggregates.template(unique("tpl-kill"), max_number=-1))
    hosts = [m.machine_id for m in launched(repos, template.template_id, KILL_HOSTS)]
    pairs = [hosts[i : i + 2] for i in range(0, KILL_HOSTS, 2)]
    per_client = [pairs[i :: clients.size] for i in range(clients.size)]
    retry = {"until": [200], "retry_for": 40, "pause": 0.2}
    clients.send(
        [
            [
                post(
                    f"{HF}/requestReturnMachines",
                    {"machines": [{"machineId": h} for h in pair]},
                    delay=0.1 * j,
                    **retry,
                )
                for j, pair in enumerate(mine)
            ]
            for mine in per_client
        ]
    )
    wait_for_returns(repos, KILL_AFTER_RETURNS)
    disk_dynalite.kill()
    time.sleep(1.5)
    disk_dynalite.start()
    answers = clients.receive()

    calls = [
        (pair, attempts)
        for mine, client in zip(per_client, answers, strict=True)
        for pair, attempts in zip(mine, client, strict=True)
    ]
    statuses = [attempt["http"] for _pair, attempts in calls for attempt in attempts]
    unexpected = [
        a
        for _p, attempts in calls
        for a in attempts
        if a["http"] not in (200, 503)
        or list(a["body"]) != (["requestId", "message"] if a["http"] == 200 else ["message"])
    ]
    assert not unexpected, unexpected[:5]
    assert 503 in statuses, "the kill hit no call"
    by_id = {r.request_id: r for r in repos.requests.get_all({"request_type": "return"})}
    machines = {m.machine_id: m for m in repos.machines.get_many(hosts)}
    assert_acknowledged_returns_kept(calls, by_id)
    assert_no_half_written_return(by_id, machines)
    dead = sorted(h for h, m in machines.items() if m.return_request_id not in by_id)
    assert all(machines[h].return_request_id for h in dead), "a live host no return holds, though every call got a 200"

    # A dead claim (its return was never written) holds for the claim lease (the server's
    # HOSTFACTORY_RETURN_CLAIM_SECONDS); after it, the next call for those hosts takes them.
    if dead:
        void_at = max(machines[h].updated_at for h in dead) + timedelta(seconds=CLAIM_SECONDS + 1)
        time.sleep(max(0.0, (void_at - utcnow()).total_seconds()))
        answer = hf_call(disk_stack, "requestReturnMachines", {"machines": [{"machineId": h} for h in dead]})
        assert answer["message"] == "Delete VM success.", answer
        again = {m.machine_id: m.return_request_id for m in repos.machines.get_many(dead)}
        assert again == dict.fromkeys(dead, answer["requestId"])
    print(f"{statuses.count(503)} answers 503, {len(by_id)} returns stored, {len(dead)} hosts under dead claims")


def assert_acknowledged_returns_kept(calls, by_id) -> None:
    """Every call's final (200) answer names a stored return of hosts it asked for, and says
    "Delete VM success." exactly when that return holds some."""
    for pair, attempts in calls:
        _status, answer = last(attempts)
        assert answer["requestId"] in by_id, f"acknowledged {answer} was lost"
        stored = by_id[answer["requestId"]]
        assert set(stored.machine_ids) <= set(pair), (stored, pair)
        assert (answer["message"] == "Delete VM success.") == bool(stored.machine_ids), (answer, stored)


def assert_no_half_written_return(by_id, machines) -> None:
    """Each host a stored return names holds that return's claim."""
    half = [
        f"{r.request_id} names {i}, claimed by {machines[i].return_request_id}"
        for r in by_id.values()
        for i in r.machine_ids
        if machines[i].return_request_id != r.request_id
    ]
    assert not half, "\n".join(half)


def test_the_retry_of_a_return_that_died_mid_write_returns_its_host(disk_dynalite, monkeypatch, settings):
    """Deterministic: dynalite dies exactly as the return request is about to be written (its
    host claimed), then comes back; Host Factory retries the same call at once."""
    repos = fresh_tables(storage_settings("dynalite", disk_dynalite.endpoint))
    template = repos.templates.save(aggregates.template(unique("tpl-retry"), max_number=-1))
    [machine] = launched(repos, template.template_id, 1)
    hosts = [{"machineId": machine.machine_id}]

    save = repos.requests.save

    def save_as_storage_dies(request):  # the host is claimed; its return request is next
        disk_dynalite.kill()
        return save(request)

    monkeypatch.setattr(repos.requests, "save", save_as_storage_dies)
    with pytest.raises(StorageUnavailable):
        hf_request_return_machines(repos=repos, hosts=hosts)
    monkeypatch.undo()
    disk_dynalite.start()

    # Host Factory retries at once: the host is held by a claim whose call may still be
    # running, so the answer is a retryable 503, never "No Active VM." (it would drop the host).
    with pytest.raises(ReturnInFlight, match="retry within"):
        hf_request_return_machines(repos=repos, hosts=hosts)
    settings.HOSTFACTORY_RETURN_CLAIM_SECONDS = 0.5  # the lease a dead call's claim holds
    time.sleep(1)
    retried = hf_request_return_machines(repos=repos, hosts=hosts)  # Host Factory's next retry
    stored = repos.machines.get_by_id(machine.machine_id)
    assert (retried["message"], stored.return_request_id) == ("Delete VM success.", retried["requestId"]), (
        retried,
        stored,
        hf_get_return_requests(repos=repos, hosts=hosts),
    )
