"""The five Host Factory endpoints: Host Factory's input JSON in, its output JSON out.

Errors are ``{"message": ...}`` (``error_style``, read by the exception handler): 400 for bad
input, 401/403 for authentication, 503 when storage is unavailable.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hostfactory.api import examples
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
from hostfactory.metrics import timed_operation
from hostfactory.storage import Repositories, get_repositories
from templates_app.services import TemplatesFileUnknown

ERRORS = {
    400: OpenApiResponse(hf.HFErrorSerializer, description="Bad input; the message names the problem."),
    401: OpenApiResponse(hf.HFErrorSerializer, description="No or bad token."),
    403: OpenApiResponse(hf.HFErrorSerializer, description="The user may not call the Host Factory endpoints."),
    503: OpenApiResponse(hf.HFErrorSerializer, description="Storage unavailable; try again."),
}


def documented(
    operation: str,
    request: Any,
    response: type[serializers.Serializer],
    examples: list[OpenApiExample],
    more: dict | None = None,
):
    """The schema of one Host Factory operation: what Host Factory sends and gets, from the
    view's docstring, with examples from the protocol's samples (hostfactory/api/examples.py)."""

    def decorate(method):
        return extend_schema(
            operation_id=operation,
            summary=operation,
            description=inspect.getdoc(method),
            tags=["hostfactory"],
            request=request,
            responses={200: response, **ERRORS, **(more or {})},
            examples=examples,
        )(method)

    return decorate


class HostFactoryView(APIView):
    permission_classes = [CallHostFactory]
    error_style = "hostfactory"
    input_serializer_class: ClassVar[type[serializers.Serializer]]

    @timed_operation
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    @property
    def repos(self) -> Repositories:
        return get_repositories()

    def validated(self, request: Request) -> dict[str, Any]:
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class GetAvailableTemplatesView(HostFactoryView):
    input_serializer_class = hf.GetAvailableTemplatesInputSerializer

    @documented(
        "getAvailableTemplates",
        hf.GetAvailableTemplatesInputSerializer,
        hf.GetAvailableTemplatesOutputSerializer,
        examples.HF_GET_AVAILABLE_TEMPLATES,
        {409: OpenApiResponse(hf.HFCodedErrorSerializer, description="Send the templates file's content.")},
    )
    def post(self, request: Request) -> Response:
        """The templates Host Factory may ask hosts of: every enabled template, with
        `availableNumber` (how many more hosts it can get now) unless `maxNumber` is -1, its
        typed `attributes`, and its provider settings (`imageId`, `vmType`...) at top level.

        Host Factory sends `{}`. With `HOSTFACTORY_TEMPLATES_SOURCE=hostfactory` the plugin adds
        `templatesFile` (name and sha256 of its conf-dir templates file); the service loads that
        file first, and answers 409 `templates_file_unknown` when it needs the `content` too.
        Host Factory calls this at start-up and every few minutes; it costs one read of the
        templates table, however large the fleet."""
        sent = self.validated(request).get("templatesFile")
        try:
            hf_sync_templates_file(repos=self.repos, sent=sent)
        except TemplatesFileUnknown as error:
            return Response({"message": str(error), "code": error.code}, status=409)
        return Response(hf_get_available_templates(repos=self.repos))

    @documented(
        "getAvailableTemplatesGet", None, hf.GetAvailableTemplatesOutputSerializer, examples.HF_GET_AVAILABLE_TEMPLATES
    )
    def get(self, request: Request) -> Response:
        """The same answer as the POST, for a person or a monitor with a token (no body to
        send). Host Factory itself always POSTs; a templates file the plugin would send is not
        loaded here."""
        hf_sync_templates_file(repos=self.repos, sent=None)
        return Response(hf_get_available_templates(repos=self.repos))


class RequestMachinesView(HostFactoryView):
    input_serializer_class = hf.RequestMachinesInputSerializer

    @documented(
        "requestMachines",
        hf.RequestMachinesInputSerializer,
        hf.RequestCreatedOutputSerializer,
        examples.HF_REQUEST_MACHINES,
    )
    def post(self, request: Request) -> Response:
        """Host Factory asks for `machineCount` more hosts of template `templateId` (its
        `rc_account`, `userData` and other keys are accepted and ignored). The answer is at
        once: a `requestId` (`req-<uuid4>`) to poll with getRequestStatus; the hosts are
        launched afterwards, by the provisioner.

        400 (with `message` naming the field) for an unknown or disabled template, or a
        `machineCount` below 1 or above the template's `availableNumber`; nothing is reserved
        then."""
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

    @documented(
        "requestReturnMachines",
        hf.RequestReturnMachinesInputSerializer,
        hf.RequestCreatedOutputSerializer,
        examples.HF_REQUEST_RETURN_MACHINES,
    )
    def post(self, request: Request) -> Response:
        """Host Factory gives hosts back: each by `machineId`, or by `name` when it has no id
        (a list, or one object). The answer is a return request id (`ret-<uuid4>`) to poll with
        getRequestStatus until each host is `succeed`/`terminated`.

        Hosts that are unknown, gone already or held by another return are accounted for in
        that poll; when none of the hosts is live the message is "No Active VM."."""
        hosts = self.validated(request)["machines"]
        answer = hf_request_return_machines(repos=self.repos, hosts=hosts, requested_by=request.user.get_username())
        return Response(answer)


class GetRequestStatusView(HostFactoryView):
    input_serializer_class = hf.GetRequestStatusInputSerializer

    @documented(
        "getRequestStatus",
        hf.GetRequestStatusInputSerializer,
        hf.GetRequestStatusOutputSerializer,
        examples.HF_GET_REQUEST_STATUS,
    )
    def post(self, request: Request) -> Response:
        """Host Factory polls its requests, acquire and return ids mixed (a list, or one
        object), at most 1000. One entry per id, in the order asked: `status` `running`,
        `complete` or `complete_with_error` (an unknown id is `complete_with_error`, "Unknown
        request."), and each host with its `result`: for an acquire `executing` until it runs
        with an address, then `succeed`, or `fail` with a `message`; for a return `succeed`
        once the host is gone. A request past its deadline ends here."""
        request_ids = [ref["requestId"] for ref in self.validated(request)["requests"]]
        return Response(hf_get_request_status(repos=self.repos, request_ids=request_ids))


class GetReturnRequestsView(HostFactoryView):
    input_serializer_class = hf.GetReturnRequestsInputSerializer

    @documented(
        "getReturnRequests",
        hf.GetReturnRequestsInputSerializer,
        hf.GetReturnRequestsOutputSerializer,
        examples.HF_GET_RETURN_REQUESTS,
    )
    def post(self, request: Request) -> Response:
        """Host Factory sends the hosts it holds and asks which the cloud wants back. The
        answer lists those reclaimed (a spot interruption: `gracePeriod` is the seconds left)
        and those gone outside Host Factory (`gracePeriod` 0); Host Factory then drains them
        and returns them with requestReturnMachines. Hosts already being returned, and hosts
        the service has no record of, are not listed."""
        hosts = self.validated(request)["machines"]
        return Response(hf_get_return_requests(repos=self.repos, hosts=hosts))
