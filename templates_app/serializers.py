"""Template JSON of the REST API: the aggregate's fields, snake_case.

The serializers check JSON types only; the rules (id format, limits, attribute types, known
provider settings) are the domain's, so the API, the admin and the templates file agree.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from hostfactory.api.fields import filter_serializer, rule_field
from templates_app.domain import TEMPLATE_FIELDS, Template
from templates_app.filters import TEMPLATE_FILTERS

TYPED_ATTRIBUTES_SCHEMA = {
    "type": "object",
    "description": 'Host Factory typed attributes: each a [type, value] pair, type one of "String", '
    '"Numeric", "Boolean"; type, ncpus and nram required.',
    "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
    "example": {"type": ["String", "X86_64"], "ncpus": ["Numeric", "2"], "nram": ["Numeric", "4096"]},
}


@extend_schema_field(TYPED_ATTRIBUTES_SCHEMA)
class TypedAttributesField(serializers.DictField):
    """A dict of ``[type, value]`` pairs; the domain checks and normalises each pair."""


class TemplateSerializer(serializers.Serializer):
    """Output, and the body of a create (POST)."""

    template_id = rule_field(TEMPLATE_FIELDS["template_id"], trim_whitespace=False, help_text="1-64 of A-Z a-z 0-9 _ -")
    max_number = serializers.IntegerField(help_text="-1 for unlimited, else 0..10000")
    attributes = TypedAttributesField()
    provider_type = rule_field(TEMPLATE_FIELDS["provider_type"], required=False, default="aws")
    provider_api = rule_field(TEMPLATE_FIELDS["provider_api"], required=False, allow_null=True, default=None)
    price_type = rule_field(
        TEMPLATE_FIELDS["price_type"],
        required=False,
        default=None,
        help_text="Default: spot when provider_config has a spotPrice, else ondemand.",
    )
    provider_config = serializers.DictField(
        required=False, default=dict, help_text="Provider launch settings under their Host Factory names."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    enabled = serializers.BooleanField(required=False, default=True)
    effective_provider_api = serializers.CharField(
        read_only=True, allow_null=True, help_text="The API it launches with: provider_api, or IBM's rule."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True)


class TemplateUpdateSerializer(TemplateSerializer):
    """PUT (every field; omitted ones take their defaults) and PATCH (only those sent)."""

    template_id = rule_field(
        TEMPLATE_FIELDS["template_id"],
        required=False,
        trim_whitespace=False,
        help_text="May be repeated, never changed.",
    )
    version = serializers.IntegerField(help_text="The version you read; a stale one is a 409.")


TemplateFilterSerializer = filter_serializer("TemplateFilterSerializer", TEMPLATE_FILTERS)


class TemplateSearchSerializer(serializers.Serializer):
    attributes = serializers.DictField(
        help_text='Attribute name to wanted value: a whole pair ["Numeric", "2"] or just the value '
        "(Numeric values compare as numbers)."
    )


def template_from(data: dict, **fields) -> Template:
    """A Template from validated input plus ``fields`` (id, version, timestamps)."""
    return Template(**{**data, **fields})
