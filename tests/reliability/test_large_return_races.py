"""A return larger than one call claims, polled by eight Host Factory clients at once against
gunicorn on dynalite: every poll claims a share (return_adopt), concurrently. No host is ever
recorded on the return without its claim, every poll answers every host, and the polls that
follow leave each host claimed and recorded: none is lost between a claim and its record."""

from __future__ import annotations

import pytest

from tests.reliability.live import running_stack
from tests.reliability.test_races import HF, hf_call, last, launched, post, unique
from tests.support import aggregates

pytestmark = pytest.mark.slow

PER_CALL = 2
HOSTS = 24
TRIALS = 3


@pytest.fixture(scope="module")
def small_claims(dynalite_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("large-return")
    yield from running_stack(dynalite_server.endpoint, folder, HOSTFACTORY_RETURN_CLAIMS_PER_CALL=str(PER_CALL))


def test_racing_polls_of_a_large_return_record_every_host_once(small_claims):
    stack = small_claims
    template = stack.repos.templates.save(aggregates.template(unique("tpl-big"), max_number=-1))
    for _trial in range(TRIALS):
        hosts = {m.machine_id for m in launched(stack.repos, template.template_id, HOSTS)}
        return_id = hf_call(stack, "requestReturnMachines", {"machines": [{"machineId": h} for h in hosts]})[
            "requestId"
        ]
        poll = post(f"{HF}/getRequestStatus", {"requests": [{"requestId": return_id}]})

        answers = [last(attempt) for client in stack.clients.round([[poll] * 3] * 8) for attempt in client]

        assert {status for status, _ in answers} == {200}, answers
        for _status, body in answers:  # every host answered in every poll, none given up
            (entry,) = body["requests"]
            assert {m["machineId"] for m in entry["machines"]} == hosts
            assert {m["result"] for m in entry["machines"]} == {"executing"}
        request = stack.repos.requests.get_by_id(return_id)
        assert set(request.machine_ids) <= claimed_by(stack, hosts, return_id), "a host recorded but not claimed"
        for _poll in range(HOSTS // PER_CALL):  # the polls that follow finish it
            if not stack.repos.requests.get_by_id(return_id).other_hosts:
                break
            hf_call(stack, "getRequestStatus", {"requests": [{"requestId": return_id}]})
        request = stack.repos.requests.get_by_id(return_id)
        assert claimed_by(stack, hosts, return_id) == hosts, "a host not claimed by the return"
        assert (set(request.machine_ids), request.other_hosts) == (hosts, ()), "a host claimed but not recorded"


def claimed_by(stack, hosts: set[str], return_id: str) -> set[str]:
    return {m.machine_id for m in stack.repos.machines.get_many(sorted(hosts)) if m.return_request_id == return_id}
