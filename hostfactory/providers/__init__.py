"""Cloud providers the service launches hosts with, chosen by ``HOSTFACTORY_PROVIDER``.

``none`` (default): outside plugins register machines; ``aws``: the service launches EC2
capacity itself (``manage.py provision``).
"""

from __future__ import annotations

from django.conf import settings

from hostfactory.providers.base import InstanceInfo, Launch, LaunchFailed, LaunchUnsettled, Provider

PROVIDER_NAMES = ("none", "aws")

__all__ = [
    "PROVIDER_NAMES",
    "InstanceInfo",
    "Launch",
    "LaunchFailed",
    "LaunchUnsettled",
    "Provider",
    "get_provider",
    "provider_problem",
]


def provider_problem(name: object) -> str | None:
    """Why ``name`` is not a provider we have, or None."""
    if name not in PROVIDER_NAMES:
        return f"Unsupported provider: {name!r} (HOSTFACTORY_PROVIDER must be one of {', '.join(PROVIDER_NAMES)})"
    return None


def get_provider(name: str | None = None) -> Provider:
    """The provider ``name`` (default: the HOSTFACTORY_PROVIDER setting)."""
    name = getattr(settings, "HOSTFACTORY_PROVIDER", "none") if name is None else name
    problem = provider_problem(name)
    if problem:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(problem)
    if name == "aws":
        from hostfactory.providers.aws import AwsProvider

        return AwsProvider.from_settings()
    from hostfactory.providers.none import NoneProvider

    return NoneProvider()
