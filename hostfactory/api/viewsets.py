"""The base of the resource viewsets: explicit actions over the repository facade.

Aggregates are read and written through ``get_repositories()`` and the apps' services; the
table-less models serve only as permission anchors (and tell the schema generator the type of
the path parameter).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from hostfactory.api.events import EventSerializer
from hostfactory.api.pagination import ListQuery, PageQuerySerializer, RepositoryCursorPagination, page_query
from hostfactory.api.permissions import AggregatePermission
from hostfactory.domain import Aggregate
from hostfactory.errors import NotFound, VersionConflict
from hostfactory.storage import Repositories, get_repositories
from hostfactory.storage.base import Repository


class RepositoryViewSet(GenericViewSet):
    """Shared actions (list, retrieve) and helpers; subclasses add their writes via services."""

    permission_classes = [AggregatePermission]
    pagination_class = RepositoryCursorPagination
    lookup_value_regex = "[^/]+"

    repository_name: ClassVar[str]  # "templates", "requests" or "machines"
    permission_model: ClassVar[type[models.Model]]
    filter_serializer_class: ClassVar[type[PageQuerySerializer]]
    id_pattern: ClassVar[re.Pattern]  # ids that could exist; anything else is a 404 without a read
    # Fields a PUT/PATCH may repeat but never change.
    immutable_fields: ClassVar[tuple[str, ...]] = ()
    # Viewset action -> permission action, for POSTs that read or change rather than add.
    permission_actions: ClassVar[dict[str, str]] = {}

    @property
    def repos(self) -> Repositories:
        return get_repositories()

    @property
    def repository(self) -> Repository:
        return getattr(self.repos, self.repository_name)

    def get_queryset(self) -> models.QuerySet:
        """Never read: drf-spectacular asks it for the model behind the path parameter."""
        return self.permission_model.objects.none()

    def get_object(self) -> Aggregate:
        entity_id = self.kwargs[self.lookup_field]
        entity = self.repository.get_by_id(entity_id) if self.id_pattern.match(entity_id) else None
        if entity is None:
            raise NotFound(f"{self.repository.aggregate} {entity_id!r} does not exist")
        return entity

    def output(self, entity: Aggregate, status: int = 200) -> Response:
        return Response(self.get_serializer(entity).data, status=status)

    def output_list(self, entities: list[Aggregate]) -> Response:
        """A list that fits in one answer, in the same shape as a page."""
        return Response({"next": None, "results": self.get_serializer(entities, many=True).data})

    def validated(self, serializer_class: type[serializers.Serializer], *, partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, partial=partial, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def validated_update(self, serializer_class: type[serializers.Serializer], current: Aggregate, *, partial: bool):
        """A PUT/PATCH body: only writable fields, ``version`` required, the id fields unchanged if repeated."""
        self.refuse_fields_not_writable(serializer_class)
        data = self.validated(serializer_class, partial=partial)
        if "version" not in data:
            raise ValidationError({"version": ["This field is required: send the version you read."]})
        for field in self.immutable_fields:
            if field in data and data[field] != getattr(current, field):
                raise ValidationError({field: [f"cannot be changed (it is {getattr(current, field)!r})."]})
        if data["version"] != current.version:
            # The repository's conditional write catches a race; this names the usual case.
            raise VersionConflict(
                f"{self.repository.aggregate} {current.id}: version {data['version']} is stale, the stored "
                f"version is {current.version}; reload it and apply your change again"
            )
        return data

    def refuse_fields_not_writable(self, serializer_class: type[serializers.Serializer]) -> None:
        """DRF drops read-only and unknown fields silently; a client that sends ``status`` in a
        PATCH believes it changed the status, so such a body is a 400 naming those fields."""
        if not isinstance(self.request.data, dict):
            return  # the serializer answers "expected an object"
        writable = {name for name, field in serializer_class().fields.items() if not field.read_only}
        refused = sorted(set(self.request.data) - writable)
        if refused:
            rule = f"cannot be set here (read-only or unknown); writable fields: {', '.join(sorted(writable))}."
            raise ValidationError({name: [rule] for name in refused})

    def list_query(self, request: Request) -> ListQuery:
        return page_query(request, self.filter_serializer_class)

    def list(self, request: Request) -> Response:
        query = self.list_query(request)
        page = self.paginator.page(self.repository, query.filters, query.limit, query.cursor)
        return self.paginator.response(request, page, self.get_serializer(page.items, many=True).data)

    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        return self.output(self.get_object())

    @extend_schema(
        description="Every change of it, newest first, through any channel (admin, api, hostfactory, command, "
        "provisioner, sync, system): when, who, why and each field's old and new value. A deleted one's "
        "history still answers; 404 when it neither exists nor has events.",
        parameters=[PageQuerySerializer],
        responses=EventSerializer(many=True),
    )
    @action(detail=True, methods=["get"], serializer_class=EventSerializer)
    def history(self, request: Request, **kwargs: Any) -> Response:
        entity_id = self.kwargs[self.lookup_field]
        query = page_query(request, PageQuerySerializer)
        missing = NotFound(f"{self.repository.aggregate} {entity_id!r} does not exist and has no history")
        if not self.id_pattern.match(entity_id):
            raise missing
        page = self.repository.history(entity_id, limit=query.limit, cursor=query.cursor)
        # No event (one stored before the history began, or a mistyped id): does it exist?
        if not page.items and query.cursor is None and not self.repository.exists(entity_id):
            raise missing
        return self.paginator.response(request, page, self.get_serializer(page.items, many=True).data)
