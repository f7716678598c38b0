"""GET /api/v1/health/: is the storage reachable? The one endpoint without authentication,
for load balancers and monitors, so it says nothing a stranger could use."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hostfactory import __version__
from hostfactory.errors import StorageUnavailable
from hostfactory.storage import current_config, get_repositories

logger = logging.getLogger("hostfactory.api")
PROBE_ID = "health-check"

HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "storage": serializers.CharField(help_text="memory or dynamodb"),
        "version": serializers.CharField(help_text="the service's version (hostfactory.__version__)"),
    },
)


def storage_reachable() -> bool:
    """One key read per repository: the cheapest call that proves each table answers."""
    try:
        for repository in get_repositories().all():
            repository.exists(PROBE_ID)
    except StorageUnavailable as error:
        logger.warning("health check: storage unavailable: %s", error)
        return False
    return True


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Is the service's storage reachable?", auth=[], responses={200: HEALTH, 503: HEALTH})
    def get(self, request: Request) -> Response:
        about = {"storage": current_config().type, "version": __version__}
        if storage_reachable():
            return Response({"status": "ok", **about})
        return Response({"status": "unavailable", **about}, status=503)
