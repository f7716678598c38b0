"""API test fixtures: clients authenticated by token as a member of each group, and valid
bodies. Import the fixtures a test module needs from here."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hostfactory.fleet.machines import REPORTED_FIELDS, machine_register, machine_update_status
from hostfactory.fleet.requests import request_create_acquire
from hostfactory.groups import OPERATORS, PLUGINS, PROVISIONERS, VIEWERS
from machines_app.domain import Machine
from requests_app.domain import Request
from templates_app.domain import Template
from templates_app.services import template_create
from tests.support import aggregates as build


def token_client(username: str, *groups: str) -> APIClient:
    user = get_user_model().objects.create_user(username=username)
    user.groups.add(*Group.objects.filter(name__in=groups))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client


@pytest.fixture
def operator(db) -> APIClient:
    return token_client("operator", OPERATORS)


@pytest.fixture
def plugin(db) -> APIClient:
    return token_client("plugin", PLUGINS)


@pytest.fixture
def provisioner(db) -> APIClient:
    return token_client("provisioner", PROVISIONERS)


@pytest.fixture
def viewer(db) -> APIClient:
    return token_client("viewer", VIEWERS)


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()


# -- state, made through the services as the service itself would ---------------------------


def add_template(repos, template_id: str = "tpl", **fields) -> Template:
    return template_create(repos=repos, template=build.template(template_id, **fields))


def add_acquire(repos, template_id: str = "tpl", count: int = 2, **fields) -> Request:
    request = request_create_acquire(repos=repos, template_id=template_id, machine_count=count)
    return repos.requests.save(request.replace(**fields)) if fields else request


def launch(repos, request: Request, count: int | None = None, status: str = "running", **fields) -> list[Machine]:
    """Register ``count`` machines of ``request`` (all it asked for by default) and report
    them in ``status``; running ones get a host name and a private IP (so they succeed)."""
    machines = []
    for _ in range(request.machine_count if count is None else count):
        number = next(_hosts)
        machine = machine_register(
            repos=repos,
            machine=Machine(
                machine_id=f"i-{number:017x}",
                request_id=request.request_id,
                template_id=request.template_id,
                **{key: value for key, value in fields.items() if key not in REPORTED_FIELDS},
            ),
        )
        changes = {"name": f"ip-10-0-{number // 250}-{number % 250 + 1}.ec2.internal"}
        changes["private_ip_address"] = f"10.0.{number // 250}.{number % 250 + 1}"
        changes.update({key: value for key, value in fields.items() if key in REPORTED_FIELDS})
        if status == "failed":  # never ran
            changes = {"status_reason": "InsufficientInstanceCapacity"}
            machine = machine_update_status(repos=repos, machine_id=machine.machine_id, status=status, changes=changes)
        elif status != "pending":
            machine = machine_update_status(
                repos=repos, machine_id=machine.machine_id, status="running", changes=changes
            )
            if status != "running":
                machine = machine_update_status(repos=repos, machine_id=machine.machine_id, status=status)
        machines.append(machine)
    return machines


_hosts = itertools.count(1)
