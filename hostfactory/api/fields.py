"""Serializer fields built from the domain's declared field rules (``FieldRule``) and the
resources' filter declarations (``FilterSpec``), so the API's limits are the domain's own."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from hostfactory.api.pagination import PageQuerySerializer
from hostfactory.domain import FieldRule
from hostfactory.storage.filters import Filter, FilterSpec, parse_bool, parse_datetime, parse_int


def rule_field(rule: FieldRule, **kwargs: Any) -> serializers.Field:
    """A ChoiceField over the rule's choices, else a CharField with its max length."""
    if rule.choices:
        return serializers.ChoiceField(choices=rule.choices, **kwargs)
    return serializers.CharField(max_length=rule.max_length, **kwargs)


class FilterQuerySerializer(PageQuerySerializer):
    """A resource's query string: paging plus the filters its FilterSpec declares."""

    def validate(self, attrs: dict) -> dict:
        # A BooleanField needs a default (None) to tell "absent" from "false" in a query string.
        return {key: value for key, value in attrs.items() if value is not None}


def filter_field(spec: Filter) -> serializers.Field:
    """The query-string field of one declared filter key."""
    if spec.parse is parse_bool:
        return serializers.BooleanField(required=False, allow_null=True, default=None)
    if spec.parse is parse_int:
        low, high = spec.bounds or (None, None)
        return serializers.IntegerField(required=False, min_value=low, max_value=high)
    if spec.parse is parse_datetime:
        return serializers.DateTimeField(required=False, help_text=spec.help_text or None)
    return rule_field(spec.rule or FieldRule(), required=False)


def filter_serializer(name: str, filters: FilterSpec) -> type[FilterQuerySerializer]:
    """The REST filter serializer of a resource, built from its one filter declaration."""
    fields = {key: filter_field(spec) for key, spec in filters.filters.items()}
    return type(name, (FilterQuerySerializer,), fields)
