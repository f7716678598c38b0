"""The change list over a repository: sidebar filters built from the aggregate's filter
declaration, and paging by cursor ("Next page" / "First page"), never counted."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest

from hostfactory.admin.queryset import CURSOR_VAR, AggregateQuerySet
from hostfactory.storage.filters import FilterSpec, parse_bool

Options = Callable[[], Iterable[tuple[str, str]]]
YES_NO = (("true", "Yes"), ("false", "No"))


class RepositoryListFilter(admin.SimpleListFilter):
    """A sidebar filter whose value becomes one repository filter (storage.md "Filters");
    the repository validates the value."""

    options: ClassVar[Options]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        choices = list(type(self).options())
        value = self.value()
        if value is not None and value not in {choice for choice, _ in choices}:
            choices.append((value, value))  # a value that is not offered still shows as chosen
        return choices

    def queryset(self, request: HttpRequest, queryset: AggregateQuerySet) -> AggregateQuerySet:
        value = self.value()
        return queryset if value is None else queryset.filtered(self.parameter_name, value)


def sidebar_filters(filters: FilterSpec, **options: Options) -> tuple[type[RepositoryListFilter], ...]:
    """The admin's ``list_filter``: one sidebar filter per declared key with a label, in the
    declaration's order. Its choices are ``options[key]`` if given, else the rule's choices
    (Yes/No for a true-or-false key; none for free text, shown once a link sets it)."""
    built = []
    for key, spec in filters.filters.items():
        if not spec.label:
            continue
        offered = options.get(key) or _declared_options(spec)
        name = "".join(part.title() for part in key.split("_")) + "Filter"
        attrs = {"parameter_name": key, "title": spec.label, "options": staticmethod(offered)}
        built.append(type(name, (RepositoryListFilter,), attrs))
    return tuple(built)


def _declared_options(spec: Any) -> Options:
    if spec.parse is parse_bool:
        return lambda: YES_NO
    choices = tuple((choice, choice) for choice in (spec.rule.choices if spec.rule else ()))
    return lambda: choices


class RepositoryChangeList(ChangeList):
    """Django's change list; the page comes from the repository through the lazy queryset.

    ``get_query_string`` is the one ChangeList method overridden (Django documents
    subclassing ChangeList through ``ModelAdmin.get_changelist``, not its methods): every
    link it builds (filters, search, clear) drops the cursor, which belongs to one page of
    one listing, so a changed listing starts again from its first page."""

    def get_query_string(self, new_params: dict | None = None, remove: list | None = None) -> str:
        new_params = {CURSOR_VAR: None, **(new_params or {})}
        return super().get_query_string(new_params, remove)

    @property
    def cursor(self) -> str | None:
        return self.queryset.cursor

    @property
    def next_cursor(self) -> str | None:
        return self.queryset.next_cursor

    @property
    def paged(self) -> bool:
        """More than one page: no count is shown, only the page links."""
        return bool(self.cursor or self.next_cursor)

    @property
    def next_page_url(self) -> str | None:
        return self.get_query_string({CURSOR_VAR: self.next_cursor}) if self.next_cursor else None

    @property
    def first_page_url(self) -> str:
        return self.get_query_string()
