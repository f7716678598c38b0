"""The five Host Factory endpoints: Host Factory's input JSON in, its output JSON out.

Errors are ``{"message": ...}`` (``error_style``, read by the exception handler): 400 for bad
input, 401/403 for authentication, 503 when storage is unavailable.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hostfactory.api.permissions import CallHostFactory
from hostfactory.hostfactory_api import serializers as hf
from hostfactory.hostfactory_api.services import (
    hf_get_available_templates,
    hf_get_request_status,
    hf_get_return_requests,
    hf_request_machines,
    hf_request_return_machines,
    hf_sync_templates_file,
)
from hostfactory.storage import Repositories, get_repositories
from templates_app.services import TemplatesFileUnknown

ERRORS = {
    400: OpenApiResponse(hf.HFErrorSerializer, description="Bad input; the message names the problem."),
    401: OpenApiResponse(hf.HFErrorSerializer, description="No or bad token."),
    403: OpenApiResponse(hf.HFErrorSerializer, description="The user may not call the Host Factory endpoints."),
    503: OpenApiResponse(hf.HFErrorSerializer, description="Storage unavailable; try again."),
}


def documented(operation: str, request: Any, response: type[serializers.Serializer], more: dict | None = None):
    return extend_schema(
        operation_id=operation,
        summary=operation,
        tags=["hostfactory"],
        request=request,
        responses={200: response, **ERRORS, **(more or {})},
    )


class HostFactoryView(APIView):
    permission_classes = [CallHostFactory]
    error_style = "hostfactory"
    input_serializer_class: ClassVar[type[serializers.Serializer]]

    @property
    def repos(self) -> Repositories:
        return get_repositories()

    def validated(self, request: Request) -> dict[str, Any]:
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class GetAvailableTemplatesView(HostFactoryView):
    """Host Factory's input ({}) is ignored; the plugin's templatesFile is loaded first when
    HOSTFACTORY_TEMPLATES_SOURCE=hostfactory (409 templates_file_unknown: send its content)."""

    input_serializer_class = hf.GetAvailableTemplatesInputSerializer

    @documented(
        "getAvailableTemplates",
        hf.GetAvailableTemplatesInputSerializer,
        hf.GetAvailableTemplatesOutputSerializer,
        {409: OpenApiResponse(hf.HFCodedErrorSerializer, description="Send the templates file's content.")},
    )
    def post(self, request: Request) -> Response:
        sent = self.validated(request).get("templatesFile")
        try:
            hf_sync_templates_file(repos=self.repos, sent=sent)
        except TemplatesFileUnknown as error:
            return Response({"message": str(error), "code": error.code}, status=409)
        return Response(hf_get_available_templates(repos=self.repos))

    @documented("getAvailableTemplatesGet", None, hf.GetAvailableTemplatesOutputSerializer)
    def get(self, request: Request) -> Response:
        hf_sync_templates_file(repos=self.repos, sent=None)
        return Response(hf_get_available_templates(repos=self.repos))


class RequestMachinesView(HostFactoryView):
    input_serializer_class = hf.RequestMachinesInputSerializer

    @documented("requestMachines", hf.RequestMachinesInputSerializer, hf.RequestCreatedOutputSerializer)
    def post(self, request: Request) -> Response:
        ask = self.validated(request)["template"]
        answer = hf_request_machines(
            repos=self.repos,
            template_id=ask["templateId"],
            machine_count=ask["machineCount"],
            requested_by=request.user.get_username(),
        )
        return Response(answer)


class RequestReturnMachinesView(HostFactoryView):
    input_serializer_class = hf.RequestReturnMachinesInputSerializer

    @documented("requestReturnMachines", hf.RequestReturnMachinesInputSerializer, hf.RequestCreatedOutputSerializer)
    def post(self, request: Request) -> Response:
        hosts = self.validated(request)["machines"]
        answer = hf_request_return_machines(repos=self.repos, hosts=hosts, requested_by=request.user.get_username())
        return Response(answer)


class GetRequestStatusView(HostFactoryView):
    input_serializer_class = hf.GetRequestStatusInputSerializer

    @documented("getRequestStatus", hf.GetRequestStatusInputSerializer, hf.GetRequestStatusOutputSerializer)
    def post(self, request: Request) -> Response:
        request_ids = [ref["requestId"] for ref in self.validated(request)["requests"]]
        return Response(hf_get_request_status(repos=self.repos, request_ids=request_ids))


class GetReturnRequestsView(HostFactoryView):
    input_serializer_class = hf.GetReturnRequestsInputSerializer

    @documented("getReturnRequests", hf.GetReturnRequestsInputSerializer, hf.GetReturnRequestsOutputSerializer)
    def post(self, request: Request) -> Response:
        hosts = self.validated(request)["machines"]
        return Response(hf_get_return_requests(repos=self.repos, hosts=hosts))
