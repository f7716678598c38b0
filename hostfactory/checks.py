"""System checks: a bad storage setting stops ``manage.py check`` and ``runserver``."""

from django.core import checks

from hostfactory.storage import current_config


@checks.register(checks.Tags.compatibility)
def check_storage_settings(app_configs, **kwargs):
    problem = current_config().problem()
    return [checks.Error(problem, id="hostfactory.E001")] if problem else []
