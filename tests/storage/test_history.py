"""The event history at the repository: every write records who changed what (old and new),
through which channel, in the same write as the change; on every backend alike."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hostfactory.domain import utcnow
from hostfactory.errors import InvalidCursor, InvalidFilter, InvalidTransition, VersionConflict
from hostfactory.storage import history
from hostfactory.storage.history import acting, parse_feed_filter
from machines_app.domain import MachineStatus
from requests_app.domain import RequestType, new_request_id
from tests.support import aggregates

RETURN_ID = new_request_id(RequestType.RETURN)
on_dynamodb = pytest.mark.parametrize("backend_settings", ["moto", "dynalite"], indirect=True)


def events_of(repo, entity_id: str) -> list:
    return repo.history(entity_id, limit=100).items


def changes_of(repo, entity_id: str) -> list[dict]:
    return [event.changes for event in events_of(repo, entity_id)]


def test_a_machine_s_life_is_its_history_newest_first_with_old_and_new_values(repos):
    machine = repos.machines.save(aggregates.machine(template_id="tpl-a"))
    with acting("hostfactory", actor="hfplugin", reason="getRequestStatus"):
        repos.machines.update_status(machine.machine_id, "running", changes={"private_ip_address": "10.0.3.7"})
    with acting("api", actor="alice"):
        repos.machines.claim_for_return(machine.machine_id, RETURN_ID)
    with acting("sync", actor="root", reason="EC2 says terminated"):
        repos.machines.update_status(machine.machine_id, "terminated", status_reason="gone")

    events = events_of(repos.machines, machine.machine_id)

    assert [event.version for event in events] == [4, 3, 2, 1]
    assert [(e.channel, e.actor, e.reason) for e in events[:3]] == [
        ("sync", "root", "EC2 says terminated"),
        ("api", "alice", ""),
        ("hostfactory", "hfplugin", "getRequestStatus"),
    ]
    assert events[0].changes == {"status": ["running", "terminated"], "status_reason": ["", "gone"]}
    assert events[1].changes == {"return_request_id": [None, RETURN_ID]}
    assert events[2].changes == {"status": ["pending", "running"], "private_ip_address": [None, "10.0.3.7"]}
    created = events[3].changes
    assert created["machine_id"] == [None, machine.machine_id]
    assert created["status"] == [None, "pending"]
    assert events[3].channel == "system"  # no one declared who acted


def test_a_save_records_only_the_fields_it_changed(repos):
    template = repos.templates.save(aggregates.template("tpl-h", max_number=5))
    with acting("admin", actor="operator"):
        repos.templates.save(template.replace(max_number=8, description="bigger"))

    latest = events_of(repos.templates, "tpl-h")[0]

    assert latest.changes == {"max_number": [5, 8], "description": ["", "bigger"]}
    assert (latest.channel, latest.actor, latest.version) == ("admin", "operator", 2)


def test_set_fields_record_members_removed_and_added(repos):
    request = repos.requests.save(aggregates.acquire_request(machine_count=3))
    repos.requests.add_machine(request.request_id, "i-1")
    repos.requests.add_machine(request.request_id, "i-2")

    events = events_of(repos.requests, request.request_id)

    assert [event.changes for event in events[:2]] == [{"machine_ids": [[], ["i-2"]]}, {"machine_ids": [[], ["i-1"]]}]


def test_a_deleted_aggregate_keeps_its_history_and_its_id_can_be_used_again(repos):
    repos.templates.save(aggregates.template("tpl-gone", max_number=3))
    with acting("admin", actor="operator"):
        assert repos.templates.delete("tpl-gone") is True
        assert repos.templates.get_by_id("tpl-gone") is None  # at once, inside the same unit of work
        assert [t.template_id for t in repos.templates.get_all()] == []
        repos.templates.save(aggregates.template("tpl-gone", max_number=4))

    events = events_of(repos.templates, "tpl-gone")

    assert events[0].changes["max_number"] == [None, 4]
    assert events[1].changes["max_number"] == [3, None]
    assert events[1].channel == "admin"
    assert repos.templates.get_by_id("tpl-gone").max_number == 4


def test_a_refused_change_leaves_no_event(repos):
    machine = repos.machines.save(aggregates.machine())
    repos.machines.update_status(machine.machine_id, "terminated")
    before = events_of(repos.machines, machine.machine_id)

    with pytest.raises(InvalidTransition):
        repos.machines.update_status(machine.machine_id, "running")
    with pytest.raises(VersionConflict):
        repos.machines.save(machine.replace(status_reason="stale copy"))
    assert repos.machines.claim_for_return(machine.machine_id, RETURN_ID) is None

    assert events_of(repos.machines, machine.machine_id) == before


def test_history_pages_newest_first_with_a_cursor_that_belongs_to_it(repos):
    machine = repos.machines.save(aggregates.machine())
    for number in range(4):
        repos.machines.save(repos.machines.get_by_id(machine.machine_id).replace(status_reason=f"note {number}"))

    first = repos.machines.history(machine.machine_id, limit=2)
    second = repos.machines.history(machine.machine_id, limit=2, cursor=first.next_cursor)
    third = repos.machines.history(machine.machine_id, limit=2, cursor=second.next_cursor)

    versions = [e.version for page in (first, second, third) for e in page.items]
    assert versions == [5, 4, 3, 2, 1]
    assert third.next_cursor is None
    other = repos.machines.save(aggregates.machine())
    with pytest.raises(InvalidCursor):
        repos.machines.history(other.machine_id, limit=2, cursor=first.next_cursor)
    with pytest.raises(InvalidCursor):
        repos.machines.history(machine.machine_id, limit=2, cursor="forged")
    with pytest.raises(InvalidFilter, match="limit"):
        repos.machines.history(machine.machine_id, limit=0)


def test_the_feed_reads_every_aggregate_by_time_with_filters(repos):
    started = utcnow() - timedelta(seconds=1)
    with acting("admin", actor="operator"):
        repos.templates.save(aggregates.template("tpl-feed"))
    with acting("hostfactory", actor="hfplugin", reason="requestMachines"):
        request = repos.requests.save(aggregates.acquire_request(template_id="tpl-feed"))
    with acting("provisioner", actor="root"):
        machine = repos.machines.save(aggregates.machine(request_id=request.request_id))

    everything = repos.history.feed(parse_feed_filter({"since": started.isoformat()}), limit=10).items
    by_channel = repos.history.feed(parse_feed_filter({"channel": "hostfactory"})).items
    machines = repos.history.feed(parse_feed_filter({"aggregate": "machine", "actor": "root"})).items
    none_yet = repos.history.feed(parse_feed_filter({"until": started.isoformat()})).items

    assert [(e.aggregate, e.aggregate_id) for e in everything] == [
        ("machine", machine.machine_id),
        ("request", request.request_id),
        ("template", "tpl-feed"),
    ]
    assert [e.aggregate_id for e in by_channel] == [request.request_id]
    assert [e.aggregate_id for e in machines] == [machine.machine_id]
    assert none_yet == []
    first = repos.history.feed(parse_feed_filter({}), limit=2)
    rest = repos.history.feed(parse_feed_filter({}), limit=2, cursor=first.next_cursor)
    assert [e.aggregate for e in first.items + rest.items] == ["machine", "request", "template"]
    with pytest.raises(InvalidCursor):
        repos.history.feed(parse_feed_filter({"channel": "admin"}), limit=2, cursor=first.next_cursor)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"channel": "email"}, "channel: must be one of admin, api, hostfactory"),
        ({"aggregate": "host"}, "aggregate: must be one of template, request, machine"),
        ({"since": "yesterday"}, "since: must be an ISO 8601 time"),
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "since: must not be after until"),
        ({"colour": "red"}, "colour: not a filter of the event feed"),
    ],
)
def test_bad_feed_filters_name_what_is_wrong(params, message):
    with pytest.raises(InvalidFilter, match=message):
        parse_feed_filter(params)


def test_events_past_the_kept_days_are_not_shown(repos, settings):
    machine = repos.machines.save(aggregates.machine())
    settings.HOSTFACTORY_HISTORY_DAYS = 0  # everything is older than "now minus 0 days"

    assert repos.machines.history(machine.machine_id).items == []
    assert repos.history.feed().items == []


# -- DynamoDB: the change and its event are one write; the move is idempotent -------------


def raw_item(repo, entity_id: str) -> dict:
    return repo.table.get_item(entity_id, consistent_read=True)["Item"]


def pending_names(raw: dict) -> list[str]:
    return sorted(name for name in raw if name.startswith(("hfe.", "hfo.", "hf_pending")))


def history_items(repos) -> list:
    return list(repos.history.model.scan())


@on_dynamodb
def test_a_crash_before_the_move_leaves_the_event_on_the_item_where_history_finds_it(repos, monkeypatch):
    machine = repos.machines.save(aggregates.machine())
    with acting("api", actor="alice"):
        repos.machines.update_status(machine.machine_id, "running")
        monkeypatch.setattr(history, "run", lambda moves: None)  # the process dies before its move
    monkeypatch.undo()

    raw = raw_item(repos.machines, machine.machine_id)
    assert raw["status"]["S"] == "running"  # the change ...
    assert any(name.startswith("hfe.") for name in raw)  # ... and its event, in the same item
    assert "hf_pending" in raw

    assert repos.history.sweep() == 1  # what a provision or sync pass runs
    assert pending_names(raw_item(repos.machines, machine.machine_id)) == []
    latest = events_of(repos.machines, machine.machine_id)[0]
    assert (latest.channel, latest.actor, latest.changes) == ("api", "alice", {"status": ["pending", "running"]})
    assert repos.history.sweep() == 0


@on_dynamodb
def test_history_of_one_aggregate_includes_events_not_moved_yet(repos, monkeypatch):
    machine = repos.machines.save(aggregates.machine())
    monkeypatch.setattr(history, "run", lambda moves: None)
    with acting("api", actor="alice"):
        repos.machines.update_status(machine.machine_id, "running")
        repos.machines.update_status(machine.machine_id, "terminated", status_reason="done")
    monkeypatch.undo()

    events = events_of(repos.machines, machine.machine_id)

    assert [e.changes.get("status") for e in events[:2]] == [["running", "terminated"], ["pending", "running"]]


@on_dynamodb
def test_a_crash_after_the_history_write_and_before_the_clean_up_records_each_event_once(repos, monkeypatch):
    machine = repos.machines.save(aggregates.machine())
    monkeypatch.setattr(type(repos.machines), "_clear", lambda *args: None)
    with acting("api", actor="alice"):
        repos.machines.update_status(machine.machine_id, "running")
    monkeypatch.undo()
    assert pending_names(raw_item(repos.machines, machine.machine_id)) != []

    repos.history.sweep()
    repos.history.sweep()

    keys = [item.event_key for item in history_items(repos) if item.aggregate_key == f"machine#{machine.machine_id}"]
    assert len(keys) == len(set(keys)) == 2  # creation and the status change, once each
    assert pending_names(raw_item(repos.machines, machine.machine_id)) == []


@on_dynamodb
def test_a_failed_change_writes_neither_the_change_nor_its_event(repos, monkeypatch):
    """The event travels in the change's own write: if that write fails, both are absent."""
    from hostfactory.errors import StorageUnavailable

    machine = repos.machines.save(aggregates.machine())
    before_items = len(history_items(repos))
    original = repos.machines.table.update_item

    def fails(*args, **kwargs):
        raise StorageUnavailable("DynamoDB is unreachable (UpdateItem on 'machines'): test")

    monkeypatch.setattr(repos.machines.table, "update_item", fails)
    with acting("api", actor="alice"), pytest.raises(StorageUnavailable):
        repos.machines.update_status(machine.machine_id, "running")
    monkeypatch.setattr(repos.machines.table, "update_item", original)

    raw = raw_item(repos.machines, machine.machine_id)
    assert raw["status"]["S"] == "pending"
    assert pending_names(raw) == []
    assert len(history_items(repos)) == before_items
    assert events_of(repos.machines, machine.machine_id)[0].version == 1


@on_dynamodb
def test_a_write_racing_the_move_keeps_its_own_event(repos, monkeypatch):
    """The clean-up is conditional on the version it moved: a write in between keeps its
    event (and the index flag) for its own move."""
    machine = repos.machines.save(aggregates.machine())
    monkeypatch.setattr(history, "run", lambda moves: None)
    with acting("api", actor="alice"):
        repos.machines.update_status(machine.machine_id, "running")
    raw = raw_item(repos.machines, machine.machine_id)
    with acting("api", actor="bob"):
        repos.machines.update_status(machine.machine_id, "terminated")
    monkeypatch.undo()

    repos.machines.move_now(raw)  # the first unit's move, late

    after = raw_item(repos.machines, machine.machine_id)
    assert "hf_pending" in after and len([n for n in after if n.startswith("hfe.")]) == 1
    repos.history.sweep()
    assert [e.actor for e in events_of(repos.machines, machine.machine_id)[:2]] == ["bob", "alice"]


@on_dynamodb
def test_a_unit_of_work_moves_its_events_in_batches(repos):
    from tests.support.dynamodb_calls import count_dynamodb_calls

    machines = [repos.machines.save(aggregates.machine()) for _ in range(30)]
    with count_dynamodb_calls(*repos.tables()) as counted, acting("sync", actor="root"):
        for machine in machines:
            repos.machines.update_status(machine.machine_id, MachineStatus.RUNNING)

    # 30 changes, then their 30 events in ceil(30/25) batch writes and 30 clean-ups.
    assert dict(counted.calls) == {"UpdateItem": 60, "BatchWriteItem": 2}
    assert all(len(events_of(repos.machines, m.machine_id)) == 2 for m in machines)


# -- prefix search (it lives beside the history: both are new in this version) -------------


@pytest.mark.reads_index
def test_search_finds_by_prefix_of_id_host_name_and_ip_address(repos):
    [
        repos.machines.save(
            aggregates.machine("i-0abc1", name="ip-10-0-3-7.ec2.internal", private_ip_address="10.0.3.7")
        ),
        repos.machines.save(aggregates.machine("i-0abc2", name="gpu-node-1", private_ip_address="10.0.4.1")),
        repos.machines.save(aggregates.machine("i-0def3", name="gpu-node-2", private_ip_address="10.0.3.9")),
    ]

    def found(prefix, limit=50):
        return [m.machine_id for m in repos.machines.search(prefix, limit=limit)]

    assert found("i-0abc") == ["i-0abc1", "i-0abc2"]
    assert found("gpu-") == ["i-0abc2", "i-0def3"]
    assert found("10.0.3") == ["i-0abc1", "i-0def3"]
    assert found("i-0abc", limit=1) == ["i-0abc1"]
    assert found("nothing") == []
    request = repos.requests.save(aggregates.acquire_request())
    assert [r.request_id for r in repos.requests.search(request.request_id[:12])] == [request.request_id]
    repos.templates.save(aggregates.template("Spot-large"))
    assert [t.template_id for t in repos.templates.search("Spot")] == ["Spot-large"]


def test_search_refuses_a_bad_prefix(repos):
    with pytest.raises(InvalidFilter, match="search: must be 1-100 characters"):
        repos.machines.search("")
    with pytest.raises(InvalidFilter, match="limit"):
        repos.machines.search("i-", limit=0)


@on_dynamodb
def test_search_is_index_queries_whatever_the_fleet(repos):
    from tests.support.dynamodb_calls import count_dynamodb_calls

    aggregates.bulk_save(repos.machines, [aggregates.machine() for _ in range(40)])
    repos.machines.save(aggregates.machine("i-0feed", name="feed-1"))
    with count_dynamodb_calls(repos.machines) as counted:
        assert [m.machine_id for m in repos.machines.search("i-0fee")] == ["i-0feed"]

    # Three searched fields x four shards, then the one match read consistently; no Scan.
    assert dict(counted.calls) == {"Query": 12, "BatchGetItem": 1}
