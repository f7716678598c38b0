"""System check: an unknown HOSTFACTORY_PROVIDER stops ``manage.py check`` and the server,
instead of failing at the first launch."""

from django.conf import settings
from django.core import checks

from hostfactory.providers import provider_problem


@checks.register(checks.Tags.compatibility)
def check_provider_setting(app_configs, **kwargs):
    problem = provider_problem(getattr(settings, "HOSTFACTORY_PROVIDER", "none"))
    if not problem:
        return []
    return [checks.Error(problem, hint="Set HOSTFACTORY_PROVIDER to none or aws.", id="hostfactory.E010")]
