"""Test settings: the real settings, with a test secret and plain HTTP."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")

from hostfactory.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Tests serve static files through the live server's handler; WhiteNoise's collected folder
# (from `collectstatic`) does not exist in a fresh clone.
STATIC_ROOT = None
