"""Machines by host name, many names at once (Host Factory hosts sent without a machineId):
consistent, a read by key per 100 names rather than an index query per name."""

from __future__ import annotations

import pytest

from tests.support import aggregates
from tests.support.dynamodb_calls import count_dynamodb_calls


def test_names_are_found_right_after_the_write_that_set_them(repos):
    first = repos.machines.save(aggregates.machine(name="ip-10-0-0-1"))
    second = repos.machines.save(aggregates.machine())
    repos.machines.update_status(second.machine_id, "running", changes={"name": "ip-10-0-0-2"})

    found = repos.machines.get_by_names(["ip-10-0-0-1", "ip-10-0-0-2", "ip-never-seen", ""])

    assert {name: [m.machine_id for m in ms] for name, ms in found.items()} == {
        "ip-10-0-0-1": [first.machine_id],
        "ip-10-0-0-2": [second.machine_id],
    }


def test_a_reused_name_finds_the_machines_that_carry_it_now(repos):
    old = repos.machines.save(aggregates.machine(name="ip-10-0-0-7"))
    new = repos.machines.save(aggregates.machine(name="ip-10-0-0-7"))
    repos.machines.save(repos.machines.get_by_id(old.machine_id).replace(name="ip-10-0-0-8"))

    found = repos.machines.get_by_names(["ip-10-0-0-7", "ip-10-0-0-8"])

    assert [m.machine_id for m in found["ip-10-0-0-7"]] == [new.machine_id]
    assert [m.machine_id for m in found["ip-10-0-0-8"]] == [old.machine_id]


def test_lists_hold_machines_only(repos):
    machines = [repos.machines.save(aggregates.machine(name=f"ip-10-0-1-{n}")) for n in range(3)]

    listed = repos.machines.get_all()

    assert sorted(m.machine_id for m in listed) == sorted(m.machine_id for m in machines)
    assert repos.machines.list_page(limit=10).items and len(repos.machines.list_page(limit=10).items) == 3


@pytest.mark.parametrize("backend_settings", ["moto", "dynalite"], indirect=True)
def test_names_cost_batch_reads_by_key_and_no_query(repos):
    machines = aggregates.bulk_save(repos.machines, [aggregates.machine() for _ in range(150)])
    for number, machine in enumerate(machines):
        repos.machines.update_status(machine.machine_id, "running", changes={"name": f"ip-10-0-2-{number}"})

    with count_dynamodb_calls(repos.machines) as counted:
        found = repos.machines.get_by_names([f"ip-10-0-2-{n}" for n in range(150)] + ["ip-unknown"])

    assert len(found) == 150
    # ceil(151/100) reads of the names' items, then ceil(150/100) of the machines.
    assert counted.calls == {"BatchGetItem": 4} and counted.items_read == 300
