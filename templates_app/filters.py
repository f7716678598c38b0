"""The template filter keys, declared once: the repositories validate and apply them, the
REST filter serializer and the admin's sidebar are built from them."""

from __future__ import annotations

from hostfactory.storage.filters import Filter, FilterSpec, parse_bool, parse_int, parse_text
from templates_app.domain import MAX_NUMBER_RANGE, TEMPLATE_FIELDS

TEMPLATE_FILTERS = FilterSpec(
    {
        "provider_type": Filter(
            "provider_type", "eq", parse_text, label="provider type", rule=TEMPLATE_FIELDS["provider_type"]
        ),
        "provider_api": Filter("provider_api", "eq", parse_text, rule=TEMPLATE_FIELDS["provider_api"]),
        "price_type": Filter("price_type", "eq", parse_text, label="price type", rule=TEMPLATE_FIELDS["price_type"]),
        "enabled": Filter("enabled", "eq", parse_bool, label="enabled"),
        "max_number_gte": Filter("max_number", "gte", parse_int, bounds=MAX_NUMBER_RANGE),
        "max_number_lte": Filter("max_number", "lte", parse_int, bounds=MAX_NUMBER_RANGE),
    }
)
