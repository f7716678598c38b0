"""Fixtures of the history tests: API clients by group (tests/api/fixtures.py), a staff
operator in the admin, and one small fleet made through the services (the ``storage``
fixture runs each test on every stack backend)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from hostfactory.groups import OPERATORS
from machines_app.domain import Machine
from requests_app.domain import Request
from templates_app.domain import Template
from tests.api.fixtures import add_acquire, add_template, anonymous, launch, operator, plugin, viewer  # noqa: F401
from tests.providers.fixtures import aws, calls, cloud, network, provider  # noqa: F401


@dataclass
class Fleet:
    template: Template
    request: Request  # in progress: 2 hosts asked, 1 launched
    machine: Machine  # running, of ``request``


@pytest.fixture
def fleet(storage) -> Fleet:
    template = add_template(storage, "tpl-hist", max_number=10)
    request = add_acquire(storage, "tpl-hist", count=2)
    [machine] = launch(storage, request, count=1)  # the request stays in progress
    return Fleet(template, storage.requests.get_by_id(request.request_id), machine)


@pytest.fixture
def staff(db, django_user_model):
    user = django_user_model.objects.create_user("olga", password="pw-olga", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client
