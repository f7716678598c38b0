"""The memory backend hands out private copies: a caller changing a dict or list of an
aggregate it read (or saved) cannot change what is stored, at any depth, through any
finder. (The copies are made by ``hostfactory.storage.memory.detached``, its hot path.)"""

from __future__ import annotations

from hostfactory.storage import build_repositories
from hostfactory.storage.config import StorageConfig
from hostfactory.storage.memory import detached
from tests.support import aggregates


def memory():
    return build_repositories(StorageConfig(type="memory"))


def test_what_a_caller_changes_in_place_is_not_stored():
    repos = memory()
    config = {"imageId": "ami-1", "vmTypes": {"m5.large": 1}, "subnetId": ["subnet-a", "subnet-b"]}
    template = repos.templates.save(aggregates.template("tpl-private", provider_config=config))
    request = repos.requests.save(aggregates.acquire_request(provider_data={"fleet": {"ids": ["f-1"]}}))
    machine = repos.machines.save(aggregates.machine(request_id=request.request_id, tags={"team": "cae"}))
    config["vmTypes"]["m5.large"] = 99  # the caller's own dict, after saving it
    template.attributes["ncpus"][1] = "64"  # the stored copy returned by save

    for read in (
        repos.templates.get_by_id("tpl-private"),
        repos.templates.get_all()[0],
        repos.templates.list_page().items[0],
    ):
        read.provider_config["subnetId"].append("subnet-evil")
        read.provider_config["vmTypes"]["m5.large"] = 7
        read.attributes["type"][1] = "ARM"
    for read in (repos.requests.get_by_id(request.request_id), *repos.requests.get_active_requests()):
        read.provider_data["fleet"]["ids"].clear()
    for read in (
        repos.machines.get_by_id(machine.machine_id),
        *repos.machines.get_by_request_id(request.request_id),
        *repos.machines.get_by_status("pending"),
        *repos.machines.get_by_instance_ids([machine.machine_id]),
    ):
        read.tags["team"] = "someone else"

    stored = repos.templates.get_by_id("tpl-private")
    assert stored.provider_config == {
        "imageId": "ami-1",
        "vmTypes": {"m5.large": 1},
        "subnetId": ["subnet-a", "subnet-b"],
    }
    assert stored.attributes == {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "4096"]}
    assert repos.requests.get_by_id(request.request_id).provider_data == {"fleet": {"ids": ["f-1"]}}
    assert repos.machines.get_by_id(machine.machine_id).tags == {"team": "cae"}


def test_a_detached_copy_is_equal_and_shares_no_container():
    config = {"imageId": "ami-1", "vmType": "t3.large", "a": [{"b": [1, 2.5, None]}]}
    template = aggregates.template("tpl-copy", provider_config=config)
    copy = detached(template)
    assert copy == template and type(copy) is type(template) and copy is not template
    assert copy.provider_config is not template.provider_config
    assert copy.provider_config["a"] is not template.provider_config["a"]
    assert copy.provider_config["a"][0]["b"] is not template.provider_config["a"][0]["b"]
    assert copy.attributes["ncpus"] is not template.attributes["ncpus"]
