"""The event history over REST: one aggregate's history (the ``history`` action of each
resource, hostfactory/api/viewsets.py) and the fleet's feed, ``GET /api/v1/events/``.

Both are cursor-paged like every list, newest first. The feed shows only the kinds of
aggregate the user may view: asking for one they may not, or for every kind while they may
not view them all, is a 403 that says which ``aggregate`` they may ask for (a page is never
silently thinned).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from hostfactory.anchors import ANCHORS, view_permission
from hostfactory.api.examples import EVENTS as EXAMPLES
from hostfactory.api.pagination import PageQuerySerializer, RepositoryCursorPagination, page_query
from hostfactory.storage import get_repositories
from hostfactory.storage.history import AGGREGATES, CHANNELS, FEED_FILTERS, FeedFilter, parse_feed_filter

CHANGES_SCHEMA = {
    "type": "object",
    "description": "What changed, by field: `[old, new]`; for the id sets `machine_ids` and `other_hosts`, "
    "`[removed, added]`. A creation has `null` as every old value, a deletion as every new one.",
    "additionalProperties": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
}


@extend_schema_field(CHANGES_SCHEMA)
class ChangesField(serializers.DictField):
    """``{field: [old, new]}``, JSON values as stored."""


class EventSerializer(serializers.Serializer):
    """One change of a template, request or machine: when, who, through what, why, what."""

    event_id = serializers.CharField(help_text="Unique; events of the same instant are ordered by it.")
    at = serializers.DateTimeField(help_text="When the change was stored (UTC).")
    aggregate = serializers.ChoiceField(choices=AGGREGATES)
    aggregate_id = serializers.CharField(help_text="The template, request or machine id.")
    version = serializers.IntegerField(help_text="The aggregate's version after the change.")
    channel = serializers.ChoiceField(choices=CHANNELS, help_text="Through what the change came.")
    actor = serializers.CharField(help_text="The user (or token owner) who made it; empty for the service itself.")
    reason = serializers.CharField(help_text="Why, where known: the Host Factory operation, the command line...")
    changes = ChangesField()


FEED_PARAMETERS = [
    OpenApiParameter("aggregate", str, enum=AGGREGATES, description="Only events of this kind of aggregate."),
    OpenApiParameter("channel", str, enum=CHANNELS, description="Only changes that came through this channel."),
    OpenApiParameter("actor", str, description="Only changes made by this user (or token owner)."),
    OpenApiParameter("since", str, description="ISO 8601 time, e.g. 2026-12-01T15:00:00Z: not before it."),
    OpenApiParameter("until", str, description="ISO 8601 time: not after it."),
]


def check_may_view(user, filters: FeedFilter) -> None:
    """PermissionDenied unless ``user`` may view every kind of aggregate the feed would show."""
    viewable = [kind for kind in AGGREGATES if user.has_perm(view_permission(kind))]
    if filters.aggregate is not None and filters.aggregate not in viewable:
        raise PermissionDenied(
            f"the events of {filters.aggregate}s need the permission {view_permission(filters.aggregate)}"
        )
    if filters.aggregate is None and len(viewable) < len(AGGREGATES):
        if not viewable:
            raise PermissionDenied("the events need the view permission of templates, requests or machines")
        raise PermissionDenied(
            f"you may view the events of {', '.join(f'{kind}s' for kind in viewable)} only: "
            f"ask with aggregate={' or aggregate='.join(viewable)}"
        )


class EventFeedView(GenericAPIView):
    """The fleet's changes, newest first, read by time (never a scan)."""

    permission_classes = [IsAuthenticated]
    pagination_class = RepositoryCursorPagination
    serializer_class = EventSerializer

    @extend_schema(
        summary="Every change in the fleet, newest first",
        description="Each change of a template, request or machine through any channel (admin, api, "
        "hostfactory, command, provisioner, sync, system): when, who, why and each field's old and new "
        f"value. Filters combine; events older than HOSTFACTORY_HISTORY_DAYS are gone. Only the kinds "
        f"of aggregate you may view: one you may not is a 403 ({', '.join(ANCHORS)}: their view permission).",
        parameters=[PageQuerySerializer, *FEED_PARAMETERS],
        responses=EventSerializer(many=True),
        examples=EXAMPLES["feed"],
        tags=["events"],
    )
    def get(self, request: Request) -> Response:
        query = page_query(request, PageQuerySerializer, passed=FEED_FILTERS)
        filters = parse_feed_filter(query.filters)
        check_may_view(request.user, filters)
        page = get_repositories().history.feed(filters, limit=query.limit, cursor=query.cursor)
        return self.paginator.response(request, page, self.get_serializer(page.items, many=True).data)
