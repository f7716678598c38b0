"""TemplateRepository: the original design's template finders over ``Repository``."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from hostfactory.errors import InvalidFilter
from hostfactory.storage.base import Repository, async_twin, logged
from templates_app.domain import Template, Usage, attribute_matches
from templates_app.filters import TEMPLATE_FILTERS


class TemplateRepository(Repository[Template]):
    aggregate = "template"
    entity_class = Template
    filter_spec = TEMPLATE_FILTERS
    # The templates table is small (tens of templates): no index; finders page through it.
    indexed_fields = ()
    search_fields = ("template_id",)

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
        return self.get_all({"provider_type": provider_type})

    # -- the capacity ledger (docs/storage-design.md, "Capacity") ---------------------

    @logged
    def usage(self, template_id: str) -> Usage | None:
        """The template's ledger, read consistently; None for an unknown template."""
        found = self._with_usage([template_id])
        return found[0][1] if found else None

    @logged
    def get_all_with_usage(self) -> list[tuple[Template, Usage]]:
        """Every template with its ledger, in one paged read of the (small) table."""
        return self._with_usage(None)

    @logged
    def reserve(self, template: Template, request_id: str, count: int) -> bool:
        """One conditional write: reserve ``count`` hosts for the acquire request ``request_id``
        if the template is still as read (enabled, same ``max_number``) and has room. False
        when it has not (or changed meanwhile: read it again and retry)."""
        return self._reserve(template, request_id, count)

    @logged
    def release_reservation(
        self, template_id: str, request_id: str, launched: int, reserved: int | None = None
    ) -> bool:
        """An acquire request ended: give back what it reserved but did not launch (its
        ``launched`` machines stay counted while they live). Exactly once: the reservation
        is removed in the same write, so a retry finds nothing to release (False). With
        ``reserved`` (the request's ``machine_count``, what it reserved) the write needs no read."""
        return self._release_reservation(template_id, request_id, max(0, launched), reserved)

    @logged
    def add_usage(self, template_id: str, delta: int) -> bool:
        """A machine stopped (-1) or started again (+1) living. The caller is the one writer
        that won the machine's status change, so each change moves the ledger once. Never
        below zero (False then: the ledger needs ``recount_capacity``)."""
        return self._add_usage(template_id, delta) if delta else True

    @logged
    def set_usage(self, template_id: str, usage: Usage, expected_seq: int) -> bool:
        """``recount_capacity``'s repair: write ``usage`` if the ledger is still at
        ``expected_seq`` (nothing moved since it was counted)."""
        return self._set_usage(template_id, usage, expected_seq)

    afind_by_attributes = async_twin()
    aget_by_provider_type = async_twin()
    ausage = async_twin()
    aget_all_with_usage = async_twin()
    areserve = async_twin()
    arelease_reservation = async_twin()
    aadd_usage = async_twin()
    aset_usage = async_twin()

    # -- ledger primitives (each one atomic write) -------------------------------------

    @abstractmethod
    def _with_usage(self, template_ids: list[str] | None) -> list[tuple[Template, Usage]]: ...

    @abstractmethod
    def _reserve(self, template: Template, request_id: str, count: int) -> bool: ...

    @abstractmethod
    def _release_reservation(self, template_id: str, request_id: str, launched: int, reserved: int | None) -> bool: ...

    @abstractmethod
    def _add_usage(self, template_id: str, delta: int) -> bool: ...

    @abstractmethod
    def _set_usage(self, template_id: str, usage: Usage, expected_seq: int) -> bool: ...
