"""REST API for requests: thin actions over the request services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from hostfactory.api.examples import REQUESTS as EXAMPLES
from hostfactory.api.viewsets import RepositoryViewSet
from hostfactory.fleet.progress import request_machines
from hostfactory.fleet.requests import request_create_acquire, request_set_status
from machines_app.serializers import MachineSerializer
from requests_app import models
from requests_app.domain import REQUEST_ID_RE, TERMINAL_STATUSES
from requests_app.serializers import (
    RequestCreateSerializer,
    RequestFilterSerializer,
    RequestMessageSerializer,
    RequestSerializer,
    RequestStatusSerializer,
)
from requests_app.services import request_delete, request_update_message

# Ending a request by hand (cancelled, or any other final status) is an operator's decision:
# a plugin or provisioner that could set "failed" could cancel by another name.
END_PERMISSION = "requests_app.cancel_request"


@extend_schema_view(
    list=extend_schema(summary="List requests", parameters=[RequestFilterSerializer], examples=EXAMPLES["list"]),
    retrieve=extend_schema(summary="Get a request", examples=EXAMPLES["retrieve"]),
    create=extend_schema(
        summary="Create an acquire request",
        description="As requestMachines does: the template's hosts are reserved, `requested_by` is your user name.",
        request=RequestCreateSerializer,
        responses={201: RequestSerializer},
        examples=EXAMPLES["create"],
    ),
    partial_update=extend_schema(
        summary="Change a request's message",
        description="The message Host Factory shows for the request in getRequestStatus.",
        request=RequestMessageSerializer,
        examples=EXAMPLES["partial_update"],
    ),
    destroy=extend_schema(
        summary="Delete a finished request", description="409 `in_use` while it is active.", responses={204: None}
    ),
    history=extend_schema(summary="A request's history: who changed what", examples=EXAMPLES["history"]),
)
class RequestViewSet(RepositoryViewSet):
    """Requests: Host Factory's calls for hosts (acquire) and to give hosts back (return)."""

    repository_name = "requests"
    permission_model = models.Request
    serializer_class = RequestSerializer
    filter_serializer_class = RequestFilterSerializer
    lookup_field = "request_id"
    id_pattern = REQUEST_ID_RE
    immutable_fields = ("request_id",)
    permission_actions = {"active": "view", "machines": "view", "status": "change"}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request: Request) -> Response:
        data = self.validated(RequestCreateSerializer)
        created = request_create_acquire(repos=self.repos, requested_by=request.user.get_username(), **data)
        return self.output(created, status=201)

    def partial_update(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated_update(RequestMessageSerializer, current, partial=True)
        if "message" not in data:
            return self.output(current)
        changed = request_update_message(
            repos=self.repos, request_id=current.request_id, message=data["message"], version=data["version"]
        )
        return self.output(changed)

    def destroy(self, request: Request, **kwargs) -> Response:
        request_delete(repos=self.repos, request_id=self.get_object().request_id)
        return Response(status=204)

    @extend_schema(
        summary="Active requests (pending or in progress)",
        responses=RequestSerializer(many=True),
        examples=EXAMPLES["active"],
    )
    @action(detail=False, methods=["get"])
    def active(self, request: Request) -> Response:
        return self.output_list(self.repository.get_active_requests())

    @extend_schema(
        summary="Move a request to another status",
        description="One move of the transition table (409 `invalid_transition` names the moves allowed). "
        f"Ending a request by hand needs {END_PERMISSION} (operators).",
        request=RequestStatusSerializer,
        examples=EXAMPLES["status"],
    )
    @action(detail=True, methods=["post"])
    def status(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated(RequestStatusSerializer)
        if data["status"] in TERMINAL_STATUSES and not request.user.has_perm(END_PERMISSION):
            raise PermissionDenied(
                f"ending a request by hand (status {data['status']}) needs the permission {END_PERMISSION} "
                "(operators); a request ends by itself when its machines do."
            )
        changed = request_set_status(
            repos=self.repos, request_id=current.request_id, status=data["status"], message=data.get("message")
        )
        return self.output(changed)

    @extend_schema(
        summary="The request's machines (launched for an acquire, given back by a return)",
        responses=MachineSerializer(many=True),
        examples=EXAMPLES["machines"],
    )
    @action(detail=True, methods=["get"], serializer_class=MachineSerializer)
    def machines(self, request: Request, **kwargs) -> Response:
        return self.output_list(request_machines(repos=self.repos, request=self.get_object()))
