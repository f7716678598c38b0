"""System checks: a bad storage setting stops ``manage.py check``, ``runserver`` and every
management command with one line naming the setting."""

import boto3
from botocore.exceptions import BotoCoreError
from django.core import checks

from hostfactory.storage import current_config

NO_CREDENTIALS = (
    "no AWS credentials for DynamoDB (STORAGE_TYPE=dynamodb): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(any values for a local DYNAMODB_HOST such as dynalite), or AWS_PROFILE or DYNAMODB_PROFILE, "
    "or run with an instance or task role"
)


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
    try:
        credentials = boto3.Session(profile_name=config.profile).get_credentials()
    except BotoCoreError as error:  # an unknown profile, a broken config file
        where = f"DYNAMODB_PROFILE {config.profile!r}" if config.profile else "AWS configuration"
        return [checks.Error(f"{where}: {error}", id="hostfactory.E002")]
    return [] if credentials else [checks.Error(NO_CREDENTIALS, id="hostfactory.E002")]
