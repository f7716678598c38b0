"""GET /api/v1/: where everything is, for a person exploring the API with a token."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hostfactory.api.examples import ROOT

LINKS = {
    "templates": "template-list",
    "requests": "request-list",
    "machines": "machine-list",
    "events": "event-list",
    "getAvailableTemplates": "hf-get-available-templates",
    "requestMachines": "hf-request-machines",
    "requestReturnMachines": "hf-request-return-machines",
    "getRequestStatus": "hf-get-request-status",
    "getReturnRequests": "hf-get-return-requests",
    "health": "health",
    "schema": "schema",
    "docs": "swagger-ui",
}


class ApiRootView(APIView):
    @extend_schema(
        summary="Links to the resources, Host Factory endpoints and docs",
        description="Where everything is, as absolute URLs, for a person exploring the API with a token.",
        responses=OpenApiTypes.OBJECT,
        examples=ROOT,
        tags=["root"],
    )
    def get(self, request: Request) -> Response:
        return Response({name: request.build_absolute_uri(reverse(url_name)) for name, url_name in LINKS.items()})


@extend_schema(exclude=True)
class NoEndpointView(APIView):
    """Any other path under /api/v1/: a JSON 404 that says where to look."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def dispatch_missing(self, request: Request, *args, **kwargs) -> Response:
        hint = "; resource paths end with a slash" if not request.path.endswith("/") else ""
        raise NotFound(f"No API endpoint at {request.path}{hint}. The list is at /api/v1/ and /api/docs/.")

    get = post = put = patch = delete = head = options = dispatch_missing
