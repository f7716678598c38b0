"""Two provisioners at once over the same pending requests: each request is launched once."""

from __future__ import annotations

import threading

import pytest

from hostfactory.providers.services import provision_run
from tests.providers.support import CallLog, accept_modify_fleet, sample_templates, tagged_instances, watched_provider

TEMPLATES = ("RunInstances", "EC2FleetInstant", "EC2FleetMaintain", "SpotFleet", "ASG")
LAUNCH_CALLS = ("RunInstances", "CreateFleet", "RequestSpotFleet", "CreateAutoScalingGroup")


class BothRead:
    """Hands both provisioners the pending requests only once both have read them, so both
    try to claim every one of them (the worst interleaving, made certain)."""

    def __init__(self, repos, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.read = repos.requests.get_by_status

    def get_by_status(self, status):
        found = self.read(status)
        if status == "pending":
            self.barrier.wait()
        return found


# Storage on memory and on dynalite, a DynamoDB-compatible server with atomic conditional
# writes; moto's in-process DynamoDB checks a condition and writes without a lock, so two
# threads can both pass the same version check there (a mock's race, not DynamoDB's).
@pytest.mark.parametrize("backend_settings", ["memory", "dynalite"], indirect=True)
def test_two_provisioners_launch_each_request_once(cloud, monkeypatch):
    templates = sample_templates(cloud.network)
    requests = []
    for template_id in TEMPLATES:
        cloud.add(templates[template_id])
        requests.append(cloud.acquire(template_id, 2))
    reader = BothRead(cloud.repos, parties=2)
    monkeypatch.setattr(cloud.repos.requests, "get_by_status", reader.get_by_status)
    logs = [CallLog(), CallLog()]
    providers = [watched_provider(log) for log in logs]
    for provider in providers:
        accept_modify_fleet(provider)
    reports, failures = [None, None], []

    def run(number: int) -> None:
        try:
            reports[number] = provision_run(
                repos=cloud.repos, provider=providers[number], worker=f"worker-{number}", sync=False
            )
        except BaseException as error:  # a thread's error must fail the test, not vanish
            failures.append(error)

    threads = [threading.Thread(target=run, args=(number,)) for number in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    launches = [call for log in logs for call in log.calls if call.operation in LAUNCH_CALLS]
    assert len(launches) == len(requests)
    launched = [item.split(":")[0] for report in reports for item in report.launched]
    assert sorted(launched) == sorted(r.request_id for r in requests)
    lost = [item for report in reports for item in report.skipped if "claimed by another provisioner" in item]
    assert len(lost) == len(requests)  # every request was contended, and lost by exactly one side
    for request in requests:
        instances = tagged_instances(cloud.provider.clients, request.request_id)
        assert len(instances) == request.machine_count
        assert [m.machine_id for m in cloud.machines(request)] == instances
        stored = cloud.repos.requests.get_by_id(request.request_id)
        assert stored.provider_data["claimed_by"] in ("worker-0", "worker-1")
