"""Cursor pagination over the repositories' ``list_page``.

The cursor is the repository's own signed, opaque string: a forged or edited one is an
``InvalidCursor`` (400). No total counts, because a DynamoDB table cannot give one cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from hostfactory.errors import InvalidFilter
from hostfactory.storage.base import MAX_PAGE_SIZE, Page, Repository

DEFAULT_PAGE_SIZE = 50


class PageQuerySerializer(serializers.Serializer):
    """``cursor`` and ``limit``; each resource's filter serializer adds its filters."""

    cursor = serializers.CharField(
        required=False, max_length=4096, help_text="Opaque cursor from a previous page's `next` link."
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=DEFAULT_PAGE_SIZE,
        help_text=f"Items per page, 1..{MAX_PAGE_SIZE}.",
    )


@dataclass(frozen=True)
class ListQuery:
    filters: dict[str, Any]
    limit: int
    cursor: str | None


def page_query(
    request: Request, serializer_class: type[PageQuerySerializer], passed: tuple[str, ...] = ()
) -> ListQuery:
    """The validated query string; an unknown parameter is an error, not silently ignored.
    ``passed``: parameters kept as sent, for a caller that checks them itself."""
    params = request.query_params.copy()  # a QueryDict: a repeated parameter keeps its values
    kept = {name: params.pop(name)[-1] for name in passed if name in params}
    serializer = serializer_class(data=params)
    allowed = sorted({*serializer.fields, *passed})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidFilter(f"unknown query parameter {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    serializer.is_valid(raise_exception=True)
    filters = dict(serializer.validated_data)
    limit = filters.pop("limit", DEFAULT_PAGE_SIZE)
    cursor = filters.pop("cursor", None)
    filters.update(kept)
    return ListQuery(filters=filters, limit=limit, cursor=cursor)


class RepositoryCursorPagination(BasePagination):
    cursor_query_param = "cursor"
    limit_query_param = "limit"

    def page(self, repository: Repository, filters: dict[str, Any], limit: int, cursor: str | None) -> Page:
        return repository.list_page(filters=filters, limit=limit, cursor=cursor)

    def response(self, request: Request, page: Page, results: list[dict[str, Any]]) -> Response:
        return Response({"next": self.next_link(request, page.next_cursor), "results": results})

    def next_link(self, request: Request, next_cursor: str | None) -> str | None:
        if next_cursor is None:
            return None
        return replace_query_param(request.build_absolute_uri(), self.cursor_query_param, next_cursor)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page (same filters, the next cursor); null on the last page.",
                    "example": None,  # drf-spectacular wraps each list example in a page: a last one
                },
                "results": schema,
            },
        }
