"""System checks: a bad storage setting stops ``manage.py check``, ``runserver`` and every
management command with one line naming the setting."""

from django.conf import settings
from django.core import checks

from hostfactory.storage import current_config
from hostfactory.storage.credentials import credentials_problem
from templates_app.services import TEMPLATES_SOURCES


@checks.register(checks.Tags.compatibility)
def check_storage_settings(app_configs, **kwargs):
    problem = current_config().problem()
    return [checks.Error(problem, id="hostfactory.E001")] if problem else []


@checks.register(checks.Tags.compatibility)
def check_dynamodb_credentials(app_configs, **kwargs):
    """Without credentials every DynamoDB call fails as if DynamoDB were unreachable; say so
    before the first call instead. boto3's own credential chain, as the storage uses it."""
    config = current_config()
    if config.type != "dynamodb" or config.problem():
        return []
    problem = credentials_problem(config)
    return [checks.Error(problem, id="hostfactory.E002")] if problem else []


@checks.register(checks.Tags.compatibility)
def check_templates_source(app_configs, **kwargs):
    source = getattr(settings, "HOSTFACTORY_TEMPLATES_SOURCE", "service")
    if source in TEMPLATES_SOURCES:
        return []
    allowed = " or ".join(TEMPLATES_SOURCES)
    return [checks.Error(f"HOSTFACTORY_TEMPLATES_SOURCE must be {allowed}, got {source!r}", id="hostfactory.E003")]


@checks.register(checks.Tags.compatibility)
def check_return_claims_per_call(app_configs, **kwargs):
    value = getattr(settings, "HOSTFACTORY_RETURN_CLAIMS_PER_CALL", 100)
    if isinstance(value, int) and 1 <= value <= 10000:
        return []
    problem = f"HOSTFACTORY_RETURN_CLAIMS_PER_CALL must be a whole number 1..10000, got {value!r}"
    return [checks.Error(problem, id="hostfactory.E004")]


@checks.register(checks.Tags.compatibility)
def check_sync_interval(app_configs, **kwargs):
    """The console flags a sync pass stale after 3 of these: 0 or less would flag every one."""
    value = getattr(settings, "HOSTFACTORY_SYNC_INTERVAL", 300)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return []
    problem = f"HOSTFACTORY_SYNC_INTERVAL must be a whole number of seconds, 1 or more, got {value!r}"
    return [checks.Error(problem, id="hostfactory.E005")]
