"""Fixtures of the admin tests: the four kinds of user, and a small fleet in the storage
backend under test (the ``storage`` fixture runs each test on memory and on moto)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from machines_app.domain import Machine, MachineStatus
from requests_app.domain import Request, RequestStatus
from templates_app.domain import Template
from tests.support import aggregates


@pytest.fixture(autouse=True)
def fresh_cache():
    """The dashboard caches its counts; no test sees another's."""
    cache.clear()
    yield
    cache.clear()


def member_of(django_user_model, username: str, group: str):
    # The admin lets in staff only; what they may do there comes from the group.
    user = django_user_model.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operator(db, django_user_model):
    return member_of(django_user_model, "olga", "hostfactory-operators")


@pytest.fixture
def viewer(db, django_user_model):
    return member_of(django_user_model, "victor", "hostfactory-viewers")


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("sam", "sam@example.com", "pw-sam")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator_client(operator) -> Client:
    return logged_in(operator)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return logged_in(viewer)


@pytest.fixture
def superuser_client(superuser) -> Client:
    return logged_in(superuser)


@dataclass
class Fleet:
    """Three templates, an acquire request in progress with a running and a pending machine,
    a finished request, and nothing else."""

    repos: object
    template: Template  # tpl-a: aws, ondemand, enabled, used by the active request
    spot: Template  # tpl-spot: spot, enabled, unused
    disabled: Template  # tpl-off: ondemand, disabled, unused
    active: Request  # in_progress, 2 machines asked
    finished: Request  # complete, on tpl-spot
    running: Machine  # of ``active``: running with name and IP (Host Factory: succeed)
    pending: Machine  # of ``active``: pending (Host Factory: executing)

    def lost(self, machine_id: str, reason: str) -> Machine:
        """A machine of ``finished`` terminated outside Host Factory (no return holds it)."""
        machine = aggregates.machine(
            machine_id,
            request_id=self.finished.request_id,
            template_id="tpl-spot",
            status=MachineStatus.TERMINATED,
            status_reason=reason,
        )
        return aggregates.store_machine(self.repos, machine)


@pytest.fixture
def fleet(storage) -> Fleet:
    repos = storage
    template = repos.templates.save(aggregates.template("tpl-a", description="general purpose"))
    spot = repos.templates.save(aggregates.template("tpl-spot", price_type="spot", provider_api="SpotFleet"))
    disabled = repos.templates.save(aggregates.template("tpl-off", enabled=False, max_number=-1))
    active = aggregates.store_request(
        repos, aggregates.acquire_request(template_id="tpl-a", machine_count=2, status=RequestStatus.IN_PROGRESS)
    )
    finished = repos.requests.save(
        aggregates.acquire_request(template_id="tpl-spot", machine_count=1, status=RequestStatus.COMPLETE)
    )
    running = aggregates.store_machine(
        repos,
        aggregates.machine(
            "i-0aaaaaaaaaaaaaaa1",
            request_id=active.request_id,
            template_id="tpl-a",
            status=MachineStatus.RUNNING,
            name="ip-10-0-0-1.ec2.internal",
            private_ip_address="10.0.0.1",
        ),
    )
    pending = aggregates.store_machine(
        repos, aggregates.machine("i-0aaaaaaaaaaaaaaa2", request_id=active.request_id, template_id="tpl-a")
    )
    active = repos.requests.get_by_id(active.request_id)  # as it is now, naming its machines
    return Fleet(repos, template, spot, disabled, active, finished, running, pending)
