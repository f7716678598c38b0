"""REST API for machines: thin actions over the machine services. Every status change
reconciles the machine's requests (the services do it)."""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hostfactory.api.examples import MACHINES as EXAMPLES
from hostfactory.api.viewsets import RepositoryViewSet
from hostfactory.domain import utcnow
from hostfactory.errors import DomainValidationError
from hostfactory.fleet.machines import machine_delete, machine_register, machine_update, machine_update_status
from machines_app import models
from machines_app.domain import MACHINE_ID_RE, Machine
from machines_app.serializers import (
    MachineFilterSerializer,
    MachineLookupSerializer,
    MachineReclaimSerializer,
    MachineSerializer,
    MachineStatusSerializer,
    MachineUpdateSerializer,
)
from machines_app.services import machine_reclaim, machine_reclaim_clear


@extend_schema_view(
    list=extend_schema(summary="List machines", parameters=[MachineFilterSerializer], examples=EXAMPLES["list"]),
    retrieve=extend_schema(summary="Get a machine", examples=EXAMPLES["retrieve"]),
    create=extend_schema(
        summary="Register a launched machine",
        description="A provisioner registers each host it launched for an acquire request, then reports its status.",
        request=MachineSerializer,
        responses={201: MachineSerializer},
        examples=EXAMPLES["create"],
    ),
    update=extend_schema(summary="Replace a machine", request=MachineUpdateSerializer, examples=EXAMPLES["update"]),
    partial_update=extend_schema(
        summary="Change some fields of a machine", request=MachineUpdateSerializer, examples=EXAMPLES["partial_update"]
    ),
    destroy=extend_schema(summary="Delete a machine", responses={204: None}),
    history=extend_schema(summary="A machine's history: who changed what", examples=EXAMPLES["history"]),
)
class MachineViewSet(RepositoryViewSet):
    """Machines: the hosts launched for acquire requests."""

    repository_name = "machines"
    permission_model = models.Machine
    serializer_class = MachineSerializer
    filter_serializer_class = MachineFilterSerializer
    lookup_field = "machine_id"
    id_pattern = MACHINE_ID_RE
    immutable_fields = ("machine_id", "request_id", "template_id")
    permission_actions = {"lookup": "view", "status": "change", "reclaim": "reclaim"}

    def create(self, request: Request) -> Response:
        machine = Machine(**self.validated(MachineSerializer))
        return self.output(machine_register(repos=self.repos, machine=machine), status=201)

    def update(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated_update(MachineUpdateSerializer, current, partial=False)
        # What the return workflow and reclaim own stays as stored.
        kept = {
            field: getattr(current, field)
            for field in ("machine_id", "request_id", "template_id", "return_request_id", "reclaim_at", "created_at")
        }
        return self.output(machine_update(repos=self.repos, machine=Machine(**{**data, **kept})))

    def partial_update(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated_update(MachineUpdateSerializer, current, partial=True)
        return self.output(machine_update(repos=self.repos, machine=current.replace(**data)))

    def destroy(self, request: Request, **kwargs) -> Response:
        machine_delete(repos=self.repos, machine_id=self.get_object().machine_id)
        return Response(status=204)

    @extend_schema(
        summary="Machines by cloud instance id (unknown ids are skipped)",
        request=MachineLookupSerializer,
        responses=MachineSerializer(many=True),
        examples=EXAMPLES["lookup"],
    )
    @action(detail=False, methods=["post"])
    def lookup(self, request: Request) -> Response:
        instance_ids = self.validated(MachineLookupSerializer)["instance_ids"]
        return self.output_list(self.repository.get_by_instance_ids(instance_ids))

    @extend_schema(
        summary="Report a machine's status (and name, addresses, reason)",
        description="A provisioner's report, checked against the transition table; the machine's request "
        "is reconciled at once (in_progress, complete, partial or failed as its machines say).",
        request=MachineStatusSerializer,
        examples=EXAMPLES["status"],
    )
    @action(detail=True, methods=["post"])
    def status(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated(MachineStatusSerializer)
        status = data.pop("status")
        changed = machine_update_status(repos=self.repos, machine_id=current.machine_id, status=status, changes=data)
        return self.output(changed)

    @extend_schema(
        methods=["POST"],
        summary="Give notice that the cloud takes a machine back",
        description="getReturnRequests then lists the host with the seconds left as gracePeriod. "
        "Needs machines_app.reclaim_machine (operators, provisioners).",
        request=MachineReclaimSerializer,
        responses={200: MachineSerializer},
        examples=EXAMPLES["reclaim"],
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Withdraw the notice that the cloud takes a machine back",
        description="The host stays; getReturnRequests no longer lists it. Needs machines_app.reclaim_machine.",
        request=None,
        responses={200: MachineSerializer},
        examples=EXAMPLES["reclaim_withdrawn"],
    )
    @action(detail=True, methods=["post", "delete"])
    def reclaim(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        if request.method == "DELETE":
            return self.output(machine_reclaim_clear(repos=self.repos, machine_id=current.machine_id))
        data = self.validated(MachineReclaimSerializer)
        if not current.is_live:
            status = current.status.value
            raise DomainValidationError("machine_id", f"is {status}: only a live machine can be reclaimed")
        at = data.get("reclaim_at") or utcnow() + timedelta(seconds=data["grace_period"])
        return self.output(machine_reclaim(repos=self.repos, machine_id=current.machine_id, at=at))
