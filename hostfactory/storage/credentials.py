"""AWS credentials for the DynamoDB backend: botocore's own chain (environment, AWS_PROFILE,
instance or task role), so temporary credentials refresh as botocore refreshes them."""

from __future__ import annotations

import os

import boto3
from botocore.exceptions import BotoCoreError

from hostfactory.storage.config import StorageConfig

NO_CREDENTIALS = (
    "no AWS credentials for DynamoDB (STORAGE_TYPE=dynamodb): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(any values for a local DYNAMODB_HOST such as dynalite), or AWS_PROFILE or DYNAMODB_PROFILE, "
    "or run with an instance or task role"
)


def use_profile(config: StorageConfig) -> None:
    """DYNAMODB_PROFILE names the profile of botocore's chain: it becomes this process's
    AWS_PROFILE unless that is set already (credentials_problem reports a mismatch)."""
    if config.profile:
        os.environ.setdefault("AWS_PROFILE", config.profile)


def credentials_problem(config: StorageConfig) -> str | None:
    """Why the DynamoDB backend would find no credentials, or None."""
    if config.profile and os.environ.get("AWS_PROFILE", config.profile) != config.profile:
        return f"DYNAMODB_PROFILE {config.profile!r} and AWS_PROFILE {os.environ['AWS_PROFILE']!r} differ; set one"
    try:
        credentials = boto3.Session(profile_name=config.profile).get_credentials()
    except BotoCoreError as error:  # an unknown profile, a broken config file
        where = f"DYNAMODB_PROFILE {config.profile!r}" if config.profile else "AWS configuration"
        return f"{where}: {error}"
    return None if credentials else NO_CREDENTIALS
