"""The repository contract: every test runs on every backend (memory, DynamoDB on moto,
DynamoDB on dynalite) through the ``repos`` fixture, and must pass unchanged on each."""

from __future__ import annotations

import asyncio
import inspect
import threading
from datetime import UTC, datetime, timedelta

import pytest

from hostfactory.errors import (
    DomainValidationError,
    InvalidCursor,
    InvalidFilter,
    InvalidTransition,
    VersionConflict,
)
from hostfactory.storage.base import Page, Repository
from machines_app.domain import MachineStatus
from machines_app.repository import MachineRepository
from requests_app.domain import RequestStatus, RequestType, new_request_id
from requests_app.repository import RequestRepository
from templates_app.repository import TemplateRepository
from tests.support import aggregates

KINDS = ["templates", "requests", "machines"]
NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def build(kind: str, **fields):
    return aggregates.BUILDERS[kind](**fields)


def repo_of(repos, kind: str) -> Repository:
    return getattr(repos, kind)


def ids(entities) -> list[str]:
    return [entity.id for entity in entities]


def rich(kind: str):
    """An aggregate with every optional field set, to prove nothing is lost on the way."""
    if kind == "templates":
        return aggregates.template(
            provider_type="aws",
            provider_api="SpotFleet",
            price_type="spot",
            description="GPU nodes",
            enabled=False,
            max_number=-1,
            attributes={
                "type": ["String", "X86_64"],
                "ncpus": ["Numeric", 8],
                "nram": ["Numeric", "32768"],
                "gpu": ["Boolean", True],
            },
            provider_config={
                "imageId": "ami-1",
                "vmTypes": {"p3.2xlarge": 1, "p3.8xlarge": 4},
                "subnetId": ["subnet-1", "subnet-2"],
                "securityGroupIds": ["sg-1", "sg-2"],
                "instanceTags": "team=hpc;env=test",
                "maxSpotPrice": 0.75,
                "rootDeviceVolumeSize": 100,
                "nested": {"list": [1, "two", {"three": True}], "empty": []},
            },
        )
    if kind == "requests":
        return aggregates.acquire_request(
            machine_count=7,
            status=RequestStatus.COMPLETE,
            message="all hosts up",
            requested_by="hf-plugin",
            deadline=NOW + timedelta(hours=1),
            completed_at=NOW,
            provider_data={"api": "EC2Fleet", "fleet_id": "fleet-1", "instance_ids": ["i-1", "i-2"], "weight": 2},
        )
    return aggregates.machine(
        name="ip-10-0-0-1.ec2.internal",
        return_request_id=new_request_id(RequestType.RETURN),
        status=MachineStatus.FAILED,
        status_reason="capacity not available",
        private_ip_address="10.0.0.1",
        public_ip_address="2001:db8::1",
        instance_type="t3.large",
        price_type="spot",
        launch_time=NOW,
        tags={"Name": "hf", "team": "hpc"},
        reclaim_at=NOW + timedelta(minutes=2),
    )


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def atomic_server(backend_settings, monkeypatch):
    """Make moto handle one request at a time, as a real DynamoDB server applies each
    conditional write atomically.

    moto, running inside the test process, checks a write's condition and then applies it
    without a lock, so two threads can both pass the same check and real DynamoDB semantics
    are lost. Serialising whole requests keeps every interleaving our code can meet on a
    real server (between a read and the write that depends on it), so a repository that did
    not write conditionally would still fail these tests. dynalite is a real server already.
    """
    if backend_settings[0] != "moto":
        return
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    process_request = BotocoreStubber.process_request

    def one_at_a_time(self, request):
        with lock:
            return process_request(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_at_a_time)


# -- Repository[T]: the methods every aggregate has --------------------------------------
# Each test runs on the three repositories of one backend, as one subtest per aggregate
# (one table set-up per backend, not three).


def test_save_returns_the_stored_copy_with_version_and_timestamps(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            entity = build(kind)
            before = datetime.now(UTC)

            stored = repo.save(entity)

            assert stored.version == 1
            assert stored.created_at is not None and stored.created_at == stored.updated_at
            assert before <= stored.created_at <= datetime.now(UTC)
            assert stored.replace(created_at=None, updated_at=None, version=0) == entity
            assert repo.get_by_id(entity.id) == stored


def test_every_field_survives_the_round_trip(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            stored = repo.save(rich(kind))

            assert repo.get_by_id(stored.id) == stored
            assert repo.get_all() == [stored]


def test_get_by_id_exists_and_delete(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            kept = repo.save(build(kind))
            gone = repo.save(build(kind))

            assert repo.exists(gone.id) is True
            assert repo.delete(gone.id) is True
            assert repo.get_by_id(gone.id) is None
            assert repo.exists(gone.id) is False
            assert repo.delete(gone.id) is False
            assert repo.get_all() == [kept]
            for unknown in ("no-such-id", "", None):
                assert repo.get_by_id(unknown) is None
                assert repo.exists(unknown) is False
                assert repo.delete(unknown) is False


def test_saving_a_loaded_copy_bumps_the_version_and_keeps_created_at(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            first = repo.save(build(kind))

            second = repo.save(repo.get_by_id(first.id))
            third = repo.save(second)

            assert (second.version, third.version) == (2, 3)
            assert third.created_at == first.created_at
            assert third.updated_at >= second.updated_at >= first.updated_at
            assert repo.get_by_id(first.id) == third


def test_stale_save_raises_version_conflict_and_writes_nothing(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            original = repo.save(build(kind))
            winner = repo.save(original)

            with pytest.raises(VersionConflict, match=f"{original.id}.*reload and retry"):
                repo.save(original)

            assert repo.get_by_id(original.id) == winner


def test_creating_an_existing_id_raises_version_conflict(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            stored = repo.save(build(kind))
            newcomer = stored.replace(version=0, created_at=None, updated_at=None)

            with pytest.raises(VersionConflict, match=f"{stored.id} already exists"):
                repo.save(newcomer)

            assert repo.get_by_id(stored.id) == stored


def test_a_deleted_aggregate_cannot_be_saved_from_an_old_copy_but_can_be_created_again(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            stored = repo.save(build(kind))
            repo.delete(stored.id)

            with pytest.raises(VersionConflict, match=stored.id):
                repo.save(stored)
            assert repo.get_by_id(stored.id) is None

            again = repo.save(stored.replace(version=0, created_at=None))
            assert again.version == 1
            assert repo.get_by_id(stored.id) == again


def test_save_refuses_another_aggregate_type(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            other = "machines" if kind != "machines" else "templates"

            with pytest.raises(TypeError, match="stores"):
                repo.save(build(other))

            assert repo.get_all() == []


def test_get_all_limit_and_offset(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            saved = {repo.save(build(kind)).id for _ in range(5)}

            everything = repo.get_all()
            assert sorted(ids(everything)) == sorted(saved)
            assert repo.get_all(limit=2) == everything[:2]
            assert repo.get_all(offset=3) == everything[3:]
            assert repo.get_all(limit=2, offset=2) == everything[2:4]
            assert repo.get_all(limit=0) == []
            assert repo.get_all(offset=10) == []


def test_list_page_pages_through_every_item_exactly_once(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            saved = {repo.save(build(kind)).id for _ in range(11)}

            seen, cursor, pages = [], None, 0
            while True:
                page = repo.list_page(limit=4, cursor=cursor)
                assert isinstance(page, Page)
                assert len(page.items) <= 4
                seen += ids(page.items)
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break

            assert pages == 3
            assert sorted(seen) == sorted(saved)
            assert len(seen) == len(set(seen))


def test_list_page_with_exactly_limit_items_has_no_next_page(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)
            for _ in range(3):
                repo.save(build(kind))

            page = repo.list_page(limit=3)

            assert len(page.items) == 3
            assert page.next_cursor is None
            assert repo.list_page().items == repo.get_all()


@pytest.mark.reads_index
def test_list_page_rejects_a_cursor_issued_for_other_filters(repos):
    for _ in range(3):
        repos.machines.save(aggregates.machine(status=MachineStatus.RUNNING))
    cursor = repos.machines.list_page(filters={"status": "running"}, limit=1).next_cursor
    assert cursor is not None

    with pytest.raises(InvalidCursor, match="other filters"):
        repos.machines.list_page(filters={"status": "pending"}, limit=1, cursor=cursor)


def test_async_twins_of_the_common_methods(repos, subtests):
    for kind in KINDS:
        with subtests.test(kind=kind):
            repo = repo_of(repos, kind)

            stored = run(repo.asave(build(kind)))
            assert stored.version == 1
            assert run(repo.aget_by_id(stored.id)) == stored
            assert run(repo.aexists(stored.id)) is True
            assert run(repo.aget_all()) == [stored]
            assert run(repo.alist_page(limit=5)).items == [stored]
            assert run(repo.adelete(stored.id)) is True
            assert run(repo.aexists(stored.id)) is False


@pytest.mark.parametrize("interface", [TemplateRepository, RequestRepository, MachineRepository])
def test_every_public_method_has_an_async_twin(interface):
    public = {
        name
        for name, member in inspect.getmembers(interface, inspect.isfunction)
        if not name.startswith(("_", "a")) and name != "clear"
    }
    assert {"get_by_id", "get_all", "save", "delete", "exists", "list_page"} <= public
    for name in public:
        assert hasattr(interface, f"a{name}"), f"{interface.__name__}.{name} has no async twin a{name}"


def test_paging_over_more_than_one_dynamodb_page_returns_each_item_once(repos):
    # 25 templates of ~50 KB: more than the 1 MB a DynamoDB Scan returns per call.
    big = [aggregates.template(description="x" * 50_000) for _ in range(25)]
    saved = set(ids(aggregates.bulk_save(repos.templates, big)))

    everything = ids(repos.templates.get_all())
    assert sorted(everything) == sorted(saved)

    seen, cursor = [], None
    while True:
        page = repos.templates.list_page(limit=7, cursor=cursor)
        seen += ids(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(saved)


def test_concurrent_read_modify_write_with_retry_loses_no_update(repos, atomic_server):
    # machine_count as a counter: a request is the smallest item, so the 800+ calls stay quick.
    counter = repos.requests.save(aggregates.acquire_request(machine_count=1))

    def add_one_200_times():
        done = 0
        while done < 200:
            current = repos.requests.get_by_id(counter.id)
            try:
                repos.requests.save(current.replace(machine_count=current.machine_count + 1))
            except VersionConflict:
                continue
            done += 1

    threads = [threading.Thread(target=add_one_200_times) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = repos.requests.get_by_id(counter.id)
    assert final.machine_count == 1 + 400
    assert final.version == 1 + 400


# -- Bad input: an error that names it, on every backend, and nothing written ----------------

BAD_FILTER_VALUES = {
    "templates": [
        ({"enabled": "maybe"}, "filter enabled: must be true or false"),
        ({"max_number_gte": "many"}, "filter max_number_gte: must be an integer"),
        ({"max_number_lte": True}, "filter max_number_lte: must be an integer"),
        ({"provider_type": ""}, "filter provider_type: must be a non-empty string"),
        ({"provider_api": 5}, "filter provider_api"),
        ({"price_type": None}, "filter price_type"),
    ],
    "requests": [
        ({"status": "done"}, "filter status: must be one of pending, in_progress"),
        ({"request_type": "borrow"}, "filter request_type: must be one of acquire, return"),
        ({"template_id": ""}, "filter template_id"),
        ({"created_after": "yesterday"}, "filter created_after: must be an ISO 8601"),
        ({"created_before": "2025-01-01T00:00:00"}, "filter created_before: .*time zone"),
    ],
    "machines": [
        ({"status": "up"}, "filter status: must be one of pending, running"),
        ({"request_id": ""}, "filter request_id"),
        ({"return_request_id": 7}, "filter return_request_id"),
        ({"template_id": None}, "filter template_id"),
        ({"name": ["a"]}, "filter name"),
    ],
}
BAD_LISTING_ARGUMENTS = [
    ("get_all", {"limit": -1}, InvalidFilter, "limit: must be a non-negative integer"),
    ("get_all", {"limit": "2"}, InvalidFilter, "limit"),
    ("get_all", {"offset": -5}, InvalidFilter, "offset: must be a non-negative integer"),
    ("get_all", {"offset": True}, InvalidFilter, "offset"),
    ("get_all", {"filters": {"colour": "red"}}, InvalidFilter, "unknown filter colour; allowed: "),
    ("get_all", {"filters": [("status", "pending")]}, InvalidFilter, "filters must be an object"),
    ("list_page", {"filters": {"colour": "red"}}, InvalidFilter, "unknown filter colour"),
    ("list_page", {"limit": 0}, InvalidFilter, "limit: must be an integer 1..1000"),
    ("list_page", {"limit": 1001}, InvalidFilter, "limit"),
    ("list_page", {"limit": "10"}, InvalidFilter, "limit"),
    ("list_page", {"limit": None}, InvalidFilter, "limit"),
    ("list_page", {"limit": True}, InvalidFilter, "limit"),
    ("list_page", {"cursor": "not-a-cursor"}, InvalidCursor, "cursor: not a cursor this service issued"),
]
BAD_FINDER_CALLS = [
    (
        "find_by_attributes(list)",
        lambda r: r.templates.find_by_attributes(["ncpus", 2]),
        "attributes: must be an object",
    ),
    ("requests.get_by_status", lambda r: r.requests.get_by_status("done"), "status: must be one of pending"),
    ("machines.get_by_status", lambda r: r.machines.get_by_status("up"), "status: must be one of pending, running"),
    (
        "requests.update_status",
        lambda r: r.requests.update_status(new_request_id(RequestType.ACQUIRE), "finished"),
        "status: must be one of",
    ),
    ("machines.update_status", lambda r: r.machines.update_status("i-1", "exploded"), "status: must be one of"),
    ("get_by_instance_ids(str)", lambda r: r.machines.get_by_instance_ids("i-a1"), "instance_ids: must be a list"),
    ("get_by_instance_ids([7])", lambda r: r.machines.get_by_instance_ids(["i-a1", 7]), "instance_ids: must be a list"),
    ("get_by_instance_ids(None)", lambda r: r.machines.get_by_instance_ids(None), "instance_ids: must be a list"),
]


def test_bad_input_is_an_error_naming_it_not_an_empty_result(repos, subtests):
    stored = {kind: repo_of(repos, kind).save(build(kind)) for kind in KINDS}

    for kind in KINDS:
        repo = repo_of(repos, kind)
        for method, arguments, error, message in BAD_LISTING_ARGUMENTS:
            with subtests.test(kind=kind, call=method, **arguments), pytest.raises(error, match=message):
                getattr(repo, method)(**arguments)
        for filters, message in BAD_FILTER_VALUES[kind]:
            with subtests.test(kind=kind, filters=filters), pytest.raises(InvalidFilter, match=message):
                repo.get_all(filters=filters)
    for label, call, message in BAD_FINDER_CALLS:
        with subtests.test(call=label), pytest.raises(InvalidFilter, match=message):
            call(repos)
    invalid_changes = {"templates": {"max_number": -5}, "requests": {"machine_count": 0}, "machines": {"tags": [1]}}
    for kind, change in invalid_changes.items():
        field = next(iter(change))
        with subtests.test(kind=kind, change=change), pytest.raises(DomainValidationError, match=f"^{field}: "):
            repo_of(repos, kind).save(stored[kind].replace(**change))

    for kind in KINDS:
        assert repo_of(repos, kind).get_all() == [stored[kind]]


# -- TemplateRepository ------------------------------------------------------------------


@pytest.fixture
def catalogue(repos):
    """Four templates with distinct attributes, settings and providers."""
    t = repos.templates
    return {
        "small": t.save(
            aggregates.template(
                "small",
                max_number=5,
                attributes={"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "4096"]},
                provider_api="EC2Fleet",
                price_type="ondemand",
            )
        ),
        "big": t.save(
            aggregates.template(
                "big",
                max_number=500,
                attributes={
                    "type": ["String", "X86_64"],
                    "ncpus": ["Numeric", "16"],
                    "nram": ["Numeric", "65536"],
                    "zone": ["String", "2"],
                },
                provider_api="SpotFleet",
                price_type="spot",
            )
        ),
        "arm": t.save(
            aggregates.template(
                "arm",
                max_number=-1,
                attributes={"type": ["String", "ARM64"], "ncpus": ["Numeric", "2.0"], "nram": ["Numeric", "4096"]},
                provider_api="ASG",
                price_type="heterogeneous",
                enabled=False,
            )
        ),
        "other": t.save(aggregates.template("other", max_number=50, provider_type="gcp", provider_api=None)),
    }


FIND_BY_ATTRIBUTES_CASES = [
    ({"ncpus": ["Numeric", "2"]}, {"small", "arm", "other"}),
    ({"ncpus": 2}, {"small", "arm", "other"}),
    ({"ncpus": "2"}, {"small", "arm", "other"}),
    ({"ncpus": "2.0"}, {"small", "arm", "other"}),
    ({"ncpus": 16}, {"big"}),
    ({"ncpus": ["String", "2"]}, set()),
    ({"ncpus": "two"}, set()),
    ({"type": "ARM64"}, {"arm"}),
    ({"type": ["String", "X86_64"], "ncpus": "2"}, {"small", "other"}),
    ({"zone": 2}, {"big"}),
    ({"zone": "2.0"}, set()),
    ({"gpu": "1"}, set()),
    ({}, {"small", "big", "arm", "other"}),
]


def test_find_by_attributes(repos, catalogue, subtests):
    for criteria, expected in FIND_BY_ATTRIBUTES_CASES:
        with subtests.test(criteria=criteria):
            assert set(ids(repos.templates.find_by_attributes(criteria))) == expected


def test_get_by_provider_type(repos, catalogue):
    assert sorted(ids(repos.templates.get_by_provider_type("aws"))) == ["arm", "big", "small"]
    assert ids(repos.templates.get_by_provider_type("gcp")) == ["other"]
    assert repos.templates.get_by_provider_type("azure") == []


TEMPLATE_FILTER_CASES = [
    ({"provider_type": "aws"}, {"small", "big", "arm"}),
    ({"provider_type": "gcp"}, {"other"}),
    ({"provider_api": "SpotFleet"}, {"big"}),
    ({"price_type": "heterogeneous"}, {"arm"}),
    ({"enabled": True}, {"small", "big", "other"}),
    ({"enabled": "false"}, {"arm"}),
    ({"max_number_gte": 50}, {"big", "other"}),
    ({"max_number_lte": "50"}, {"small", "arm", "other"}),
    ({"max_number_gte": 5, "max_number_lte": 50}, {"small", "other"}),
    ({"provider_type": "aws", "enabled": True, "price_type": "spot"}, {"big"}),
]


def test_template_filters(repos, catalogue, subtests):
    for filters, expected in TEMPLATE_FILTER_CASES:
        with subtests.test(filters=filters):
            assert set(ids(repos.templates.get_all(filters=filters))) == expected
            assert set(ids(repos.templates.list_page(filters=filters).items)) == expected


def test_template_async_finders(repos, catalogue):
    assert ids(run(repos.templates.afind_by_attributes({"type": "ARM64"}))) == ["arm"]
    assert ids(run(repos.templates.aget_by_provider_type("gcp"))) == ["other"]


# -- RequestRepository -------------------------------------------------------------------


@pytest.fixture
def request_mix(repos):
    r = repos.requests
    return {
        "pending": r.save(aggregates.acquire_request(template_id="tpl-a")),
        "in_progress": r.save(aggregates.acquire_request(template_id="tpl-b", status=RequestStatus.IN_PROGRESS)),
        "complete": r.save(aggregates.acquire_request(template_id="tpl-a", status=RequestStatus.COMPLETE)),
        "return": r.save(aggregates.return_request(status=RequestStatus.IN_PROGRESS)),
        "failed": r.save(aggregates.return_request(status=RequestStatus.FAILED)),
    }


@pytest.mark.reads_index
def test_get_by_status_and_get_active_requests(repos, request_mix):
    assert set(ids(repos.requests.get_by_status(RequestStatus.IN_PROGRESS))) == {
        request_mix["in_progress"].id,
        request_mix["return"].id,
    }
    assert ids(repos.requests.get_by_status("complete")) == [request_mix["complete"].id]
    assert repos.requests.get_by_status("timeout") == []
    assert set(ids(repos.requests.get_active_requests())) == {
        request_mix["pending"].id,
        request_mix["in_progress"].id,
        request_mix["return"].id,
    }


REQUEST_FILTER_CASES = [
    ({"status": "pending"}, {"pending"}),
    ({"status": "in_progress"}, {"in_progress", "return"}),
    ({"request_type": "return"}, {"return", "failed"}),
    ({"template_id": "tpl-a"}, {"pending", "complete"}),
    ({"status": "in_progress", "request_type": "acquire"}, {"in_progress"}),
    ({"created_after": "2000-01-01T00:00:00+00:00"}, {"pending", "in_progress", "complete", "return", "failed"}),
    ({"created_before": "2000-01-01T00:00:00+00:00"}, set()),
]


@pytest.mark.reads_index
def test_request_filters(repos, request_mix, subtests):
    for filters, expected in REQUEST_FILTER_CASES:
        with subtests.test(filters=filters):
            wanted = {request_mix[name].id for name in expected}
            assert set(ids(repos.requests.get_all(filters=filters))) == wanted
            assert set(ids(repos.requests.list_page(filters=filters).items)) == wanted


def test_created_after_and_before_split_requests_by_creation_time(repos):
    first = repos.requests.save(aggregates.acquire_request())
    second = repos.requests.save(aggregates.acquire_request())
    assert second.created_at > first.created_at

    after = {"created_after": first.created_at.isoformat()}
    before = {"created_before": second.created_at}
    assert ids(repos.requests.get_all(filters=after)) == [second.id]
    assert ids(repos.requests.get_all(filters=before)) == [first.id]


def test_update_status_moves_stamps_and_bumps_the_version(repos):
    stored = repos.requests.save(aggregates.acquire_request())

    assert repos.requests.update_status(stored.id, RequestStatus.IN_PROGRESS) is not None
    moving = repos.requests.get_by_id(stored.id)
    assert (moving.status, moving.version, moving.completed_at) == (RequestStatus.IN_PROGRESS, 2, None)
    assert moving.updated_at > stored.updated_at
    assert moving.created_at == stored.created_at

    assert repos.requests.update_status(stored.id, "complete", message="2 of 2 hosts") is not None
    done = repos.requests.get_by_id(stored.id)
    assert (done.status, done.version, done.message) == (RequestStatus.COMPLETE, 3, "2 of 2 hosts")
    assert done.completed_at is not None and done.completed_at >= moving.updated_at


def test_update_status_to_the_same_terminal_status_keeps_completed_at(repos):
    stored = repos.requests.save(aggregates.acquire_request())
    repos.requests.update_status(stored.id, "failed")
    completed_at = repos.requests.get_by_id(stored.id).completed_at

    assert repos.requests.update_status(stored.id, "failed") is not None

    assert repos.requests.get_by_id(stored.id).completed_at == completed_at


def test_update_status_refuses_a_forbidden_move_or_an_unknown_id_and_writes_nothing(repos):
    stored = repos.requests.save(aggregates.acquire_request(status=RequestStatus.COMPLETE, completed_at=NOW))

    with pytest.raises(InvalidTransition, match=f"request {stored.id}: cannot move from 'complete' to 'in_progress'"):
        repos.requests.update_status(stored.id, "in_progress")
    assert repos.requests.update_status(new_request_id(RequestType.ACQUIRE), "complete") is None

    assert repos.requests.get_all() == [stored]


def test_racing_terminal_updates_have_exactly_one_winner(repos, atomic_server):
    rounds = 10
    for _ in range(rounds):
        stored = repos.requests.save(aggregates.acquire_request())
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def finish(target, request_id=stored.id, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                outcomes[target] = repos.requests.update_status(request_id, target)
            except InvalidTransition as error:
                outcomes[target] = error

        threads = [threading.Thread(target=finish, args=(target,)) for target in ("complete", "cancelled")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        winners = [
            target for target, outcome in outcomes.items() if outcome is not None and not isinstance(outcome, Exception)
        ]
        losers = [outcome for outcome in outcomes.values() if isinstance(outcome, InvalidTransition)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        final = repos.requests.get_by_id(stored.id)
        assert final.status == winners[0]
        assert final.version == 2


@pytest.mark.reads_index
def test_request_async_finders(repos, request_mix):
    assert ids(run(repos.requests.aget_by_status("complete"))) == [request_mix["complete"].id]
    assert len(run(repos.requests.aget_active_requests())) == 3
    assert run(repos.requests.aupdate_status(request_mix["pending"].id, "cancelled")) is not None
    assert repos.requests.get_by_id(request_mix["pending"].id).status == RequestStatus.CANCELLED


# -- MachineRepository -------------------------------------------------------------------


@pytest.fixture
def fleet(repos):
    """Two acquire requests' machines, one of them being returned."""
    m = repos.machines
    req_a, req_b = new_request_id(RequestType.ACQUIRE), new_request_id(RequestType.ACQUIRE)
    ret = new_request_id(RequestType.RETURN)
    machines = {
        "a1": m.save(aggregates.machine("i-a1", request_id=req_a, status=MachineStatus.RUNNING, name="host-a1")),
        "a2": m.save(
            aggregates.machine(
                "i-a2",
                request_id=req_a,
                status=MachineStatus.RUNNING,
                name="host-a2",
                template_id="tpl-b",
                return_request_id=ret,
            )
        ),
        "a3": m.save(aggregates.machine("i-a3", request_id=req_a)),
        "b1": m.save(aggregates.machine("i-b1", request_id=req_b, status=MachineStatus.TERMINATED, name="host-b1")),
    }
    return {"req_a": req_a, "req_b": req_b, "ret": ret, **machines}


@pytest.mark.reads_index
def test_machine_finders(repos, fleet):
    assert sorted(ids(repos.machines.get_by_request_id(fleet["req_a"]))) == ["i-a1", "i-a2", "i-a3"]
    assert ids(repos.machines.get_by_request_id(fleet["req_b"])) == ["i-b1"]
    assert repos.machines.get_by_request_id(new_request_id(RequestType.ACQUIRE)) == []

    assert ids(repos.machines.get_by_return_request_id(fleet["ret"])) == ["i-a2"]
    assert repos.machines.get_by_return_request_id(new_request_id(RequestType.RETURN)) == []

    assert ids(repos.machines.get_by_name("host-a1")) == ["i-a1"]
    assert repos.machines.get_by_name("") == []
    assert repos.machines.get_by_name("nobody") == []

    assert sorted(ids(repos.machines.get_by_status("running"))) == ["i-a1", "i-a2"]
    assert ids(repos.machines.get_by_status(MachineStatus.PENDING)) == ["i-a3"]
    assert repos.machines.get_by_status("stopped") == []


@pytest.mark.reads_index
def test_finders_follow_changes_and_deletes(repos, fleet):
    moved = repos.machines.save(
        fleet["a1"].replace(request_id=fleet["req_b"], status=MachineStatus.STOPPING, name="renamed")
    )
    repos.machines.save(fleet["a2"].replace(return_request_id=None, name=""))
    repos.machines.delete("i-b1")

    assert sorted(ids(repos.machines.get_by_request_id(fleet["req_a"]))) == ["i-a2", "i-a3"]
    assert ids(repos.machines.get_by_request_id(fleet["req_b"])) == [moved.id]
    assert ids(repos.machines.get_by_status("running")) == ["i-a2"]
    assert ids(repos.machines.get_by_status("stopping")) == ["i-a1"]
    assert repos.machines.get_by_status("terminated") == []
    assert repos.machines.get_by_name("host-a1") == []
    assert ids(repos.machines.get_by_name("renamed")) == ["i-a1"]
    assert repos.machines.get_by_name("host-a2") == []
    assert repos.machines.get_by_return_request_id(fleet["ret"]) == []


MACHINE_FILTER_CASES = [
    ({"status": "running"}, {"a1", "a2"}),
    ({"request_id": "req_a"}, {"a1", "a2", "a3"}),
    ({"return_request_id": "ret"}, {"a2"}),
    ({"template_id": "tpl-b"}, {"a2"}),
    ({"name": "host-b1"}, {"b1"}),
    ({"request_id": "req_a", "status": "pending"}, {"a3"}),
    ({"request_id": "req_b", "status": "running"}, set()),
]


@pytest.mark.reads_index
def test_machine_filters(repos, fleet, subtests):
    for filters, expected in MACHINE_FILTER_CASES:
        with subtests.test(filters=filters):
            # Request ids are generated: the cases name them by their key in ``fleet``.
            filters = {key: fleet[value] if key.endswith("request_id") else value for key, value in filters.items()}
            wanted = {fleet[name].id for name in expected}
            assert set(ids(repos.machines.get_all(filters=filters))) == wanted
            assert set(ids(repos.machines.list_page(filters=filters).items)) == wanted


def test_get_by_instance_ids_keeps_the_asked_order_and_skips_unknown_ids(repos, fleet):
    found = repos.machines.get_by_instance_ids(["i-b1", "i-missing", "i-a1", "i-b1", "", "i-a3"])

    assert ids(found) == ["i-b1", "i-a1", "i-a3"]
    assert found[1] == fleet["a1"]
    assert repos.machines.get_by_instance_ids([]) == []


def test_get_by_instance_ids_of_250_ids_returns_them_all(repos):
    wanted = [f"i-{n:017x}" for n in range(250)]
    aggregates.bulk_save(repos.machines, [aggregates.machine(machine_id) for machine_id in wanted])

    found = repos.machines.get_by_instance_ids([*reversed(wanted), "i-unknown"])

    assert ids(found) == list(reversed(wanted))


@pytest.mark.reads_index
def test_machine_update_status(repos, fleet):
    assert repos.machines.update_status("i-a1", "stopping", status_reason="spot interruption") is not None

    stopped = repos.machines.get_by_id("i-a1")
    assert (stopped.status, stopped.status_reason, stopped.version) == (
        MachineStatus.STOPPING,
        "spot interruption",
        2,
    )
    assert ids(repos.machines.get_by_status("stopping")) == ["i-a1"]
    assert "i-a1" not in ids(repos.machines.get_by_status("running"))


def test_machine_update_status_to_failed_always_has_a_reason(repos, fleet):
    assert repos.machines.update_status("i-a3", MachineStatus.FAILED) is not None

    assert repos.machines.get_by_id("i-a3").status_reason != ""


def test_machine_update_status_refuses_a_forbidden_move_or_an_unknown_id_and_writes_nothing(repos, fleet):
    with pytest.raises(InvalidTransition, match="machine i-b1: cannot move from 'terminated' to 'running'"):
        repos.machines.update_status("i-b1", "running")
    assert repos.machines.update_status("i-nobody", "running") is None

    assert repos.machines.get_by_id("i-b1") == fleet["b1"]
    assert repos.machines.get_by_id("i-nobody") is None


@pytest.mark.reads_index
def test_machine_async_finders(repos, fleet):
    assert sorted(ids(run(repos.machines.aget_by_request_id(fleet["req_a"])))) == ["i-a1", "i-a2", "i-a3"]
    assert ids(run(repos.machines.aget_by_return_request_id(fleet["ret"]))) == ["i-a2"]
    assert ids(run(repos.machines.aget_by_name("host-b1"))) == ["i-b1"]
    assert ids(run(repos.machines.aget_by_status("pending"))) == ["i-a3"]
    assert ids(run(repos.machines.aget_by_instance_ids(["i-a3", "i-a1"]))) == ["i-a3", "i-a1"]
    assert run(repos.machines.aupdate_status("i-a3", "running")) is not None
    assert repos.machines.get_by_id("i-a3").status == MachineStatus.RUNNING
