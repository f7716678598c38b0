"""What the admin passes around where it expects a QuerySet: a lazy repository query.

The change list narrows it the way it narrows any QuerySet (its list filters' ``queryset``,
``filter()`` with the query string's other parameters, ``get_search_results``), and it reads
one repository page, never a database table, when the list is first counted or iterated.

The one Django internal used is QuerySet's result cache (``_fetch_all``, ``_clone``,
``_result_cache``): Django has no public way to say where a QuerySet's rows come from, and the
admin's views, actions and paginator need a real QuerySet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from django.db import NotSupportedError, models
from django.db.models import Q

from hostfactory.errors import InvalidFilter
from hostfactory.models import NoDatabaseQuerySet

CURSOR_VAR = "cursor"


class AggregateSource(Protocol):
    """Where the rows come from: the model admin."""

    def load_page(self, query: AggregateQuerySet) -> tuple[list[models.Model], str | None]: ...

    def load_instances(self, ids: list[str]) -> list[models.Model]: ...

    def filter_keys(self) -> list[str]: ...


def query_parameters(conditions: Iterable[Q]) -> Iterator[tuple[str, Any]]:
    """The (key, value) pairs of the Q objects the change list builds from the query string."""
    for condition in conditions:
        for child in condition.children:
            if isinstance(child, Q):
                yield from query_parameters([child])
            else:
                yield child


class AggregateQuerySet(NoDatabaseQuerySet):
    """A repository query: ``filters`` and ``cursor`` for ``list_page``, or ``found`` (search
    results, narrowed by the filters). ``missing`` holds selected ids that no longer exist."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source: AggregateSource | None = None
        self.filters: dict[str, Any] = {}
        self.cursor: str | None = None
        self.found: list[models.Model] | None = None
        self.next_cursor: str | None = None
        self.missing: list[str] = []

    def _clone(self) -> AggregateQuerySet:
        clone = super()._clone()
        clone.source, clone.filters, clone.cursor, clone.found = (
            self.source,
            dict(self.filters),
            self.cursor,
            self.found,
        )
        # The change list shows a clone of the query it counted: the page read once.
        clone._result_cache, clone.next_cursor, clone.missing = self._result_cache, self.next_cursor, self.missing
        return clone

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._result_cache, self.next_cursor = self.source.load_page(self) if self.source else ([], None)
        self._prefetch_done = True

    def _narrowed(self) -> AggregateQuerySet:
        clone = self._chain()
        clone._result_cache = None
        return clone

    @property
    def ordered(self) -> bool:
        return True  # the repository's order (ids, or the index's)

    def order_by(self, *field_names: Any) -> AggregateQuerySet:
        return self._chain()  # the admin's sorting is off (sortable_by = ()): the repository's order stands

    def filtered(self, key: str, value: Any) -> AggregateQuerySet:
        """One repository filter more (a sidebar filter's choice)."""
        clone = self._narrowed()
        clone.filters[key] = value
        return clone

    def searched(self, found: Iterable[models.Model]) -> AggregateQuerySet:
        clone = self._narrowed()
        clone.found = list(found)
        return clone

    def holding(self, instances: Iterable[models.Model], missing: Iterable[str] = ()) -> AggregateQuerySet:
        clone = self._chain()
        clone._result_cache = list(instances)
        clone._prefetch_done = True
        clone.missing = list(missing)
        return clone

    def filter(self, *args: Any, **kwargs: Any) -> AggregateQuerySet:
        """``filter(pk__in=ids)``: the selected rows of an action, loaded by id. ``filter(Q)``:
        the query string's parameters no sidebar filter took, which are repository filters
        too (the repository refuses an unknown one), and the page cursor."""
        if not args and set(kwargs) == {"pk__in"} and self.source is not None:
            ids = list(dict.fromkeys(str(value) for value in kwargs["pk__in"]))
            instances = self.source.load_instances(ids)
            found = {instance.pk for instance in instances}
            return self.holding(instances, [i for i in ids if i not in found])
        if kwargs or not all(isinstance(arg, Q) for arg in args):
            raise NotSupportedError("aggregates are selected through the repository: filter(pk__in=ids) or filter(Q)")
        clone = self._narrowed()
        for key, value in query_parameters(args):
            if key == CURSOR_VAR:
                clone.cursor = value or None
            else:
                clone.filters[key] = value
        allowed = self.source.filter_keys() if self.source else []
        unknown = sorted(set(clone.filters) - set(allowed))
        if unknown:
            raise InvalidFilter(f"Unknown filter {', '.join(unknown)}; allowed: {', '.join(allowed)}.")
        return clone

    def count(self) -> int:
        return len(self)

    def exists(self) -> bool:
        return bool(self)
