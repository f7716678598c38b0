"""The provider fixtures (AWS on moto, the watched provider, the session driver)."""

from tests.providers.fixtures import aws, calls, cloud, network, provider  # noqa: F401
