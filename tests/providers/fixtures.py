"""Fixtures shared by tests/providers and tests/provision."""

from __future__ import annotations

from typing import Any

import pytest

from hostfactory.fleet.requests import request_create_acquire, request_create_return
from hostfactory.hostfactory_api.services import hf_get_request_status, hf_get_return_requests
from hostfactory.providers.aws import AwsProvider
from hostfactory.providers.aws.clients import AwsClients
from hostfactory.providers.services import ProvisionReport, provision_run
from machines_app.domain import Machine
from requests_app.domain import Request
from templates_app.domain import Template
from templates_app.services import template_create
from tests.providers.support import (
    REGION,
    CallLog,
    Network,
    accept_modify_fleet,
    create_network,
    shared_session,
    watched_provider,
)


@pytest.fixture(scope="module")
def aws():
    """EC2, Auto Scaling, SSM and STS on moto, in this process, one per test module: moto
    builds its EC2 world in about a second, so tests share it and keep apart by request id
    (every launch is tagged with its own). A storage fixture on moto nests inside it."""
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    yield
    mock.stop()


@pytest.fixture(scope="module")
def network(aws) -> Network:
    return create_network(AwsClients(region=REGION, session=shared_session()))


@pytest.fixture
def calls() -> CallLog:
    return CallLog()


@pytest.fixture
def provider(aws, calls, settings) -> AwsProvider:
    settings.HOSTFACTORY_PROVIDER = "aws"
    provider = watched_provider(calls)
    accept_modify_fleet(provider)
    return provider


class Cloud:
    """Drives what Host Factory and the provisioner do, through the same services the
    endpoints and ``manage.py provision`` call."""

    def __init__(self, repos: Any, provider: AwsProvider, network: Network) -> None:
        self.repos = repos
        self.provider = provider
        self.network = network

    def add(self, template: Template) -> Template:
        return template_create(repos=self.repos, template=template)

    def acquire(self, template_id: str, count: int) -> Request:
        return request_create_acquire(repos=self.repos, template_id=template_id, machine_count=count)

    def give_back(self, machines: list[Machine]) -> Request:
        request, _marked = request_create_return(repos=self.repos, machines=machines)
        return request

    def provision(self, **kwargs: Any) -> ProvisionReport:
        return provision_run(repos=self.repos, provider=self.provider, **kwargs)

    def machines(self, request: Request) -> list[Machine]:
        return sorted(self.repos.machines.get_by_request_id(request.request_id), key=lambda m: m.machine_id)

    def status(self, request: Request) -> dict[str, Any]:
        """What Host Factory's getRequestStatus answers for the request."""
        return hf_get_request_status(repos=self.repos, request_ids=[request.request_id])["requests"][0]

    def return_requests(self, machines: list[Machine]) -> dict[str, Any]:
        hosts = [{"name": machine.name, "machineId": machine.machine_id} for machine in machines]
        return hf_get_return_requests(repos=self.repos, hosts=hosts)


@pytest.fixture
def cloud(storage, provider, network) -> Cloud:
    return Cloud(storage, provider, network)
