"""Cloud providers the service launches hosts with, chosen by ``HOSTFACTORY_PROVIDER``.

``none`` (default): outside plugins register machines; ``aws``: the service launches EC2
capacity itself (``manage.py provision``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from hostfactory.providers.base import InstanceInfo, Launch, LaunchFailed, LaunchUnsettled, Provider

if TYPE_CHECKING:
    from templates_app.domain import Template

PROVIDER_NAMES = ("none", "aws")

__all__ = [
    "PROVIDER_NAMES",
    "InstanceInfo",
    "Launch",
    "LaunchFailed",
    "LaunchUnsettled",
    "Provider",
    "check_template_launchable",
    "get_provider",
    "provider_class",
    "provider_problem",
]


def provider_problem(name: object) -> str | None:
    """Why ``name`` is not a provider we have, or None."""
    if name not in PROVIDER_NAMES:
        return f"Unsupported provider: {name!r} (HOSTFACTORY_PROVIDER must be one of {', '.join(PROVIDER_NAMES)})"
    return None


def provider_class(name: str | None = None) -> type[Provider]:
    """The class of provider ``name`` (default: the HOSTFACTORY_PROVIDER setting)."""
    name = getattr(settings, "HOSTFACTORY_PROVIDER", "none") if name is None else name
    problem = provider_problem(name)
    if problem:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(problem)
    if name == "aws":
        from hostfactory.providers.aws import AwsProvider

        return AwsProvider
    from hostfactory.providers.none import NoneProvider

    return NoneProvider


def get_provider(name: str | None = None) -> Provider:
    """The provider ``name`` (default: the HOSTFACTORY_PROVIDER setting)."""
    return provider_class(name).from_settings()


def check_template_launchable(template: Template) -> None:
    """DomainValidationError when the configured provider could not launch ``template``."""
    provider_class().check_template(template)
