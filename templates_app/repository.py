"""TemplateRepository: the original design's template finders over ``Repository``."""

from __future__ import annotations

from typing import Any

from hostfactory.errors import InvalidFilter
from hostfactory.storage.base import Repository, async_twin, logged
from templates_app.domain import Template, attribute_matches
from templates_app.filters import TEMPLATE_FILTERS


class TemplateRepository(Repository[Template]):
    aggregate = "template"
    entity_class = Template
    filter_spec = TEMPLATE_FILTERS
    indexed_fields = ("provider_type",)

    @logged
    def find_by_attributes(self, attributes: dict[str, Any]) -> list[Template]:
        """Templates having every attribute of ``attributes`` with an equal value.

        A criterion is a whole typed pair or its value; Numeric values compare as numbers.
        No index can answer this, so it pages through every template.
        """
        if not isinstance(attributes, dict):
            raise InvalidFilter(f"attributes: must be an object of attribute name to value, got {attributes!r}")
        return [
            template
            for template, _ in self._iter((), None)
            if all(
                key in template.attributes and attribute_matches(template.attributes[key], wanted)
                for key, wanted in attributes.items()
            )
        ]

    @logged
    def get_by_provider_type(self, provider_type: str) -> list[Template]:
        return self._find("provider_type", [provider_type])

    afind_by_attributes = async_twin()
    aget_by_provider_type = async_twin()
