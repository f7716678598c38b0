"""Fixtures for the provider tests: AWS on moto, the watched provider, and a Host Factory
session driver (``cloud``) over the service layer."""

from tests.providers.fixtures import aws, calls, cloud, network, provider  # noqa: F401
