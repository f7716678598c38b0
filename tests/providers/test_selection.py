"""HOSTFACTORY_PROVIDER picks the provider; an unknown value stops ``manage.py check``."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from hostfactory.providers import get_provider
from hostfactory.providers.aws import AwsProvider
from hostfactory.providers.none import NoneProvider


def test_none_is_the_default_and_launches_nothing(settings):
    del settings.HOSTFACTORY_PROVIDER

    provider = get_provider()

    assert isinstance(provider, NoneProvider) and provider.launches is False


def test_aws_launches(settings):
    settings.HOSTFACTORY_PROVIDER = "aws"

    assert isinstance(get_provider(), AwsProvider)


def test_an_unknown_provider_fails_the_system_check_naming_the_choices(settings):
    settings.HOSTFACTORY_PROVIDER = "gcp"

    with pytest.raises(
        SystemCheckError, match=r"Unsupported provider: 'gcp' \(HOSTFACTORY_PROVIDER must be one of none, aws\)"
    ):
        call_command("check")
    with pytest.raises(ImproperlyConfigured, match="Unsupported provider: 'gcp'"):
        get_provider()


def test_the_configured_providers_pass_the_system_check(settings):
    for name in ("none", "aws"):
        settings.HOSTFACTORY_PROVIDER = name
        call_command("check")
