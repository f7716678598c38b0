"""Cursor pagination over the repositories' ``list_page``.

The cursor is the repository's own signed, opaque string: a forged or edited one is an
``InvalidCursor`` (400). No total counts, because a DynamoDB table cannot give one cheaply.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from hostfactory.storage.base import Page, Repository

DEFAULT_PAGE_SIZE = 50


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
