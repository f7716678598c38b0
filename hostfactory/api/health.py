"""GET /api/v1/health/: do the storage and Django's database answer? The one endpoint without
authentication, for load balancers and monitors, so it says nothing a stranger could use.

Each check runs in a worker thread and is waited for at most HOSTFACTORY_HEALTH_CHECK_TIMEOUT
seconds, so a backend that accepts connections and never answers makes health a 503 in time
instead of holding the worker until the web server kills it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hostfactory import __version__
from hostfactory.api.examples import HEALTH as EXAMPLES
from hostfactory.storage import current_config, get_repositories

logger = logging.getLogger("hostfactory.api")
PROBE_ID = "health-check"
OK, FAILED, TIMEOUT = "ok", "unavailable", "timeout"
CHECK_STATES = [OK, FAILED, TIMEOUT]

HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "storage": serializers.CharField(help_text="memory or dynamodb"),
        "version": serializers.CharField(help_text="the service's version (hostfactory.__version__)"),
        "checks": inline_serializer(
            "HealthChecks",
            {
                "storage": serializers.ChoiceField(choices=CHECK_STATES),
                "database": serializers.ChoiceField(choices=CHECK_STATES, help_text="Django's own tables"),
            },
        ),
    },
)

# A few threads are enough: checks are short, and a hung one keeps its thread only until the
# backend's own timeout gives up. A check still queued when its wait ends is cancelled, so hung
# backends cannot pile up work here.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


def check_storage() -> None:
    """One key read per table: the cheapest call that proves each answers (the history's too:
    without it every change's event would stay on its item)."""
    repos = get_repositories()
    for repository in repos.all():
        repository.get_by_id(PROBE_ID)
    repos.history.last_pass(PROBE_ID)


def check_database() -> None:
    """``SELECT 1`` on the default connection (users, groups, tokens and sessions live there)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this thread's own connection; the next check opens a fresh one


CHECKS: dict[str, Callable[[], None]] = {"storage": check_storage, "database": check_database}


def run_checks(timeout: float) -> dict[str, str]:
    """Every check at once, each given ``timeout`` seconds: ``{"storage": "ok", ...}``."""
    futures = {name: _pool.submit(check) for name, check in CHECKS.items()}
    return {name: _outcome(name, future, timeout) for name, future in futures.items()}


def _outcome(name: str, future: Future, timeout: float) -> str:
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        future.cancel()
        logger.warning("health check: %s did not answer within %s s", name, timeout)
        return TIMEOUT
    except Exception as error:  # any failure of a backend is "unavailable", never a 500
        logger.warning("health check: %s unavailable: %s: %s", name, type(error).__name__, error)
        return FAILED
    return OK


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        summary="Do the service's storage and database answer?",
        description="No authentication, for load balancers and monitors: 200 when every check answers "
        "within HOSTFACTORY_HEALTH_CHECK_TIMEOUT seconds, else 503 naming the check that did not.",
        auth=[],
        responses={200: HEALTH, 503: HEALTH},
        examples=EXAMPLES,
    )
    def get(self, request: Request) -> Response:
        checks = run_checks(settings.HOSTFACTORY_HEALTH_CHECK_TIMEOUT)
        healthy = all(state == OK for state in checks.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "storage": current_config().type,
            "version": __version__,
            "checks": checks,
        }
        return Response(body, status=200 if healthy else 503)
