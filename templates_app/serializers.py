"""Template JSON of the REST API: the aggregate's fields, snake_case.

The serializers check JSON types only; the rules (id format, limits, attribute types, known
provider settings) are the domain's, so the API, the admin and the templates file agree.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from hostfactory.api.viewsets import PageQuerySerializer
from templates_app.domain import PRICE_TYPES, PROVIDER_APIS, Template

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

    template_id = serializers.CharField(max_length=64, trim_whitespace=False, help_text="1-64 of A-Z a-z 0-9 _ -")
    max_number = serializers.IntegerField(help_text="-1 for unlimited, else 0..10000")
    attributes = TypedAttributesField()
    provider_type = serializers.CharField(required=False, default="aws", max_length=64)
    provider_api = serializers.ChoiceField(choices=PROVIDER_APIS, required=False, allow_null=True, default=None)
    price_type = serializers.ChoiceField(
        choices=PRICE_TYPES,
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

    template_id = serializers.CharField(
        required=False, max_length=64, trim_whitespace=False, help_text="May be repeated, never changed."
    )
    version = serializers.IntegerField(help_text="The version you read; a stale one is a 409.")


class TemplateFilterSerializer(PageQuerySerializer):
    provider_type = serializers.CharField(required=False, max_length=64)
    provider_api = serializers.ChoiceField(choices=PROVIDER_APIS, required=False)
    price_type = serializers.ChoiceField(choices=PRICE_TYPES, required=False)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    max_number_gte = serializers.IntegerField(required=False, min_value=-1, max_value=10000)
    max_number_lte = serializers.IntegerField(required=False, min_value=-1, max_value=10000)

    def validate(self, attrs: dict) -> dict:
        # BooleanField needs a default to tell "absent" from "false" in a query string.
        if attrs.get("enabled") is None:
            attrs.pop("enabled", None)
        return attrs


class TemplateSearchSerializer(serializers.Serializer):
    attributes = serializers.DictField(
        help_text='Attribute name to wanted value: a whole pair ["Numeric", "2"] or just the value '
        "(Numeric values compare as numbers)."
    )


def template_from(data: dict, **fields) -> Template:
    """A Template from validated input plus ``fields`` (id, version, timestamps)."""
    return Template(**{**data, **fields})
