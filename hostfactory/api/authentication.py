"""Token authentication with a brake on guessing: a client address that fails more than
HOSTFACTORY_AUTH_FAILURES_PER_MINUTE times a minute is answered 429 with Retry-After.

Only failures are counted, and a valid token is checked before the count, so Host Factory
and its plugins are never throttled however often they call. What a valid token resolves to
is kept per process for a few seconds (token_cache.py), so a known token costs no SQL query;
a failure is never kept.
"""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from hostfactory.api import token_cache

logger = logging.getLogger("hostfactory.api")


class FailedAuthenticationThrottle(SimpleRateThrottle):
    """DRF's sliding-window counter, per client address, fed only with failed authentications."""

    scope = "auth_failures"

    def get_rate(self) -> str:
        return f"{settings.HOSTFACTORY_AUTH_FAILURES_PER_MINUTE}/min"

    def get_cache_key(self, request: Request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request: Request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle = FailedAuthenticationThrottle()
            if throttle.allow_request(request, None):
                raise
            wait = throttle.wait()
            logger.warning(
                "too many failed authentications from %s: refusing for %.0f s", throttle.get_ident(request), wait
            )
            raise Throttled(
                wait=wait,
                detail=f"Too many failed authentications from your address (more than "
                f"{settings.HOSTFACTORY_AUTH_FAILURES_PER_MINUTE} a minute); check the token and retry later.",
            ) from None

    def authenticate_credentials(self, key: str):
        return token_cache.resolve(key, super().authenticate_credentials)
