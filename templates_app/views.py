"""REST API for templates: thin actions over the template services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from hostfactory.api.examples import TEMPLATES as EXAMPLES
from hostfactory.api.viewsets import RepositoryViewSet
from hostfactory.domain import TEMPLATE_ID_RE
from templates_app import models
from templates_app.serializers import (
    TemplateFilterSerializer,
    TemplateSearchSerializer,
    TemplateSerializer,
    TemplateUpdateSerializer,
    template_from,
)
from templates_app.services import template_create, template_delete, template_update


@extend_schema_view(
    list=extend_schema(summary="List templates", parameters=[TemplateFilterSerializer], examples=EXAMPLES["list"]),
    retrieve=extend_schema(summary="Get a template", examples=EXAMPLES["retrieve"]),
    create=extend_schema(
        summary="Create a template",
        request=TemplateSerializer,
        responses={201: TemplateSerializer},
        examples=EXAMPLES["create"],
    ),
    update=extend_schema(summary="Replace a template", request=TemplateUpdateSerializer, examples=EXAMPLES["update"]),
    partial_update=extend_schema(
        summary="Change some fields of a template",
        request=TemplateUpdateSerializer,
        examples=EXAMPLES["partial_update"],
    ),
    destroy=extend_schema(
        summary="Delete a template nothing uses",
        description="409 `in_use` while an active request or a live machine uses it: disable it instead.",
        responses={204: None},
    ),
    history=extend_schema(summary="A template's history: who changed what", examples=EXAMPLES["history"]),
)
class TemplateViewSet(RepositoryViewSet):
    """Templates: the capacity classes Host Factory may ask hosts of."""

    repository_name = "templates"
    permission_model = models.Template
    serializer_class = TemplateSerializer
    filter_serializer_class = TemplateFilterSerializer
    lookup_field = "template_id"
    id_pattern = TEMPLATE_ID_RE
    immutable_fields = ("template_id",)
    permission_actions = {"search": "view"}

    def create(self, request: Request) -> Response:
        template = template_from(self.validated(TemplateSerializer))
        return self.output(template_create(repos=self.repos, template=template), status=201)

    def update(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated_update(TemplateUpdateSerializer, current, partial=False)
        template = template_from(data, template_id=current.template_id, created_at=current.created_at)
        return self.output(template_update(repos=self.repos, template=template))

    def partial_update(self, request: Request, **kwargs) -> Response:
        current = self.get_object()
        data = self.validated_update(TemplateUpdateSerializer, current, partial=True)
        return self.output(template_update(repos=self.repos, template=current.replace(**data)))

    def destroy(self, request: Request, **kwargs) -> Response:
        template_delete(repos=self.repos, template_id=self.get_object().template_id)
        return Response(status=204)

    @extend_schema(
        summary="Find templates by attributes",
        request=TemplateSearchSerializer,
        responses=TemplateSerializer(many=True),
        examples=EXAMPLES["search"],
    )
    @action(detail=False, methods=["post"])
    def search(self, request: Request) -> Response:
        criteria = self.validated(TemplateSearchSerializer)["attributes"]
        return self.output_list(self.repository.find_by_attributes(criteria))
