"""``RepositoryModelAdmin``: the real Django admin over the repositories (operations.md "Admin UI").

The aggregates never live in ORM tables. Each app registers its table-less anchor model with
a subclass of ``RepositoryModelAdmin``, which sends list, search, filters, paging, get, save
and delete through ``get_repositories()`` by overriding the admin's documented hooks
(``get_queryset``, ``get_changelist``, ``get_object``, ``get_form``, ``save_model``,
``delete_model``, ``delete_queryset``, ``get_deleted_objects``, ``get_search_results``).
Everything else (login, permissions, messages, history, look) is Django's own.

The admin handles unsaved instances of the anchor model that carry their aggregate
(``obj.aggregate``); list columns and read-only rows are admin display methods over it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin import actions as django_actions
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import display_for_value, model_ngettext, quote
from django.contrib.admin.views.main import ChangeList
from django.db import NotSupportedError, models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from hostfactory.admin_forms import AggregateForm, anchor_instance, pretty_json
from hostfactory.domain import Aggregate
from hostfactory.errors import (
    DomainValidationError,
    HostFactoryError,
    InUse,
    InvalidFilter,
    InvalidTransition,
    NotFound,
    StorageUnavailable,
    VersionConflict,
)
from hostfactory.models import NoDatabaseQuerySet
from hostfactory.storage import get_repositories
from hostfactory.storage.base import Page, Repository
from hostfactory.storage.filters import matches

CURSOR_VAR = "cursor"
REFUSED_ATTR = "_hostfactory_refused_write"


# -- display helpers ------------------------------------------------------------------------


def display_value(value: Any, empty: str) -> Any:
    """One aggregate value as the admin shows it, in a list cell or a read-only row."""
    if value is None:
        return empty
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return display_for_value(value, empty)
    if isinstance(value, dict):
        return format_html("<pre>{}</pre>", pretty_json(value))
    return value


def aggregate_field(name: str, description: str | None = None, *, boolean: bool = False) -> Callable:
    """An admin display method showing one field of ``obj.aggregate``. Named like the field,
    so it serves as a list column and as the read-only row of a view-only page."""

    @admin.display(description=description or name.replace("_", " "), boolean=boolean)
    def show(model_admin: admin.ModelAdmin, obj: models.Model) -> Any:
        return display_value(getattr(obj.aggregate, name), model_admin.get_empty_value_display())

    show.__name__ = name
    return show


def change_url(model: type[models.Model], object_id: str) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(object_id)])


def admin_link(model: type[models.Model], object_id: str | None, text: str | None = None) -> str:
    if not object_id:
        return "-"
    return format_html('<a href="{}">{}</a>', change_url(model, object_id), text or object_id)


def enum_options(enum: type[StrEnum]) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(member.value, member.value) for member in enum]


FILTER_SAMPLE = 100  # templates read to offer filter choices: one short page, never the table


def template_options() -> list[tuple[str, str]]:
    """Template ids for a sidebar filter, from one page of templates (any other valid id
    still works in the URL)."""
    templates = get_repositories().templates.list_page(limit=FILTER_SAMPLE).items
    return sorted((template.template_id, template.template_id) for template in templates)


# -- the QuerySet stand-in ------------------------------------------------------------------


class AggregateQuerySet(NoDatabaseQuerySet):
    """What the admin passes around where it expects a QuerySet: a fixed list of anchor
    instances, never a database query.

    Admin actions receive ``queryset.filter(pk__in=selected)``; that filter loads the selected
    aggregates through the repository, and remembers ids that no longer exist in ``missing``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loader: Callable[[list[str]], list[models.Model]] | None = None
        self.missing: list[str] = []

    def _clone(self) -> AggregateQuerySet:
        clone = super()._clone()
        clone.loader = self.loader
        return clone

    def holding(self, instances: Iterable[models.Model], missing: Iterable[str] = ()) -> AggregateQuerySet:
        clone = self._chain()
        clone._result_cache = list(instances)
        clone._prefetch_done = True
        clone.missing = list(missing)
        return clone

    def filter(self, *args: Any, **kwargs: Any) -> AggregateQuerySet:
        if args or set(kwargs) != {"pk__in"} or self.loader is None:
            raise NotSupportedError("aggregates are selected through the repository: only filter(pk__in=ids) works")
        ids = list(dict.fromkeys(str(value) for value in kwargs["pk__in"]))
        instances = self.loader(ids)
        found = {instance.pk for instance in instances}
        return self.holding(instances, [i for i in ids if i not in found])

    def count(self) -> int:
        return len(self)

    def exists(self) -> bool:
        return bool(self)


# -- filters and the change list ------------------------------------------------------------


class RepositoryListFilter(admin.SimpleListFilter):
    """A sidebar filter whose value becomes one repository filter (storage.md "Filters");
    the repository validates the value, ``RepositoryChangeList`` applies it."""

    options: ClassVar[Callable[[], Iterable[tuple[str, str]]]]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        choices = list(type(self).options())
        value = self.value()
        if value is not None and value not in {choice for choice, _ in choices}:
            choices.append((value, value))  # a value that is not offered still shows as chosen
        return choices

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset  # applied by RepositoryChangeList.get_results through list_page


def repository_filter(
    parameter: str, title: str, options: Callable[[], Iterable[tuple[str, str]]]
) -> type[RepositoryListFilter]:
    """A sidebar filter for the repository filter key ``parameter``."""
    name = "".join(part.title() for part in parameter.split("_")) + "Filter"
    return type(name, (RepositoryListFilter,), {"parameter_name": parameter, "title": title, "options": options})


class RepositoryChangeList(ChangeList):
    """The change list over a repository: one ``list_page`` per view, paged by cursor
    (``?cursor=...``, "Next page" / "First page" links), never counted, never scanned whole."""

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.cursor = request.GET.get(CURSOR_VAR) or None
        self.next_cursor: str | None = None
        super().__init__(request, *args, **kwargs)
        # Links built from here on (filters, search, clear) start again from the first page.
        self.params.pop(CURSOR_VAR, None)
        self.filter_params.pop(CURSOR_VAR, None)

    def get_filters_params(self, params: dict | None = None) -> dict:
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(CURSOR_VAR, None)
        return lookup_params

    def get_filters(self, request: HttpRequest) -> tuple:
        lookup_params = self.get_filters_params()
        specs = [
            list_filter(request, lookup_params, self.model, self.model_admin) for list_filter in self.list_filter
        ]  # each filter takes its own parameter out of lookup_params
        if lookup_params:
            allowed = ", ".join(spec.parameter_name for spec in specs)
            messages.error(request, f"Unknown filter {', '.join(sorted(lookup_params))}; allowed: {allowed}.")
            raise IncorrectLookupParameters(sorted(lookup_params))
        self.repository_filters = {spec.parameter_name: spec.value() for spec in specs if spec.value() is not None}
        shown = [spec for spec in specs if spec.has_output()]
        return shown, bool(shown), {}, False, bool(self.repository_filters)

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> models.QuerySet:
        (self.filter_specs, self.has_filters, _, _, self.has_active_filters) = self.get_filters(request)
        self.clear_all_filters_qs = self.get_query_string(remove=list(self.repository_filters))
        return self.root_queryset

    def get_query_string(self, new_params: dict | None = None, remove: list | None = None) -> str:
        new_params = dict(new_params or {})
        new_params.setdefault(CURSOR_VAR, None)  # a cursor belongs to one page of one listing
        return super().get_query_string(new_params, remove)

    def get_results(self, request: HttpRequest) -> None:
        try:
            if self.query:
                found, _ = self.model_admin.get_search_results(request, self.root_queryset, self.query)
                results = self.model_admin.keep_matching(list(found), self.repository_filters)
            else:
                page = self.model_admin.list_aggregates(self.repository_filters, self.list_per_page, self.cursor)
                results = [anchor_instance(self.model, aggregate) for aggregate in page.items]
                self.next_cursor = page.next_cursor
        except InvalidFilter as error:
            messages.error(request, str(error))
            raise IncorrectLookupParameters(str(error)) from error
        self.result_list = results
        self.result_count = len(results)
        # No totals: on DynamoDB a count would read the whole table.
        self.full_result_count = None if self.query else self.result_count
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.can_show_all = False
        self.multi_page = bool(self.cursor or self.next_cursor)
        self.paginator = None

    @property
    def next_page_url(self) -> str | None:
        return self.get_query_string({CURSOR_VAR: self.next_cursor}) if self.next_cursor else None

    @property
    def first_page_url(self) -> str:
        return self.get_query_string()


# -- actions --------------------------------------------------------------------------------


@admin.action(permissions=["delete"], description=django_actions.delete_selected.short_description)
def delete_selected(model_admin: RepositoryModelAdmin, request: HttpRequest, queryset: AggregateQuerySet):
    """Django's "delete selected" with its confirmation page; each deletion is made by the
    aggregate's service, so a refused one is reported and the others still go."""
    if not request.POST.get("post"):
        return django_actions.delete_selected(model_admin, request, queryset)
    model_admin.delete_queryset(request, queryset)
    return None


class WriteRefused(Exception):
    """The repository refused a validated form's write; the form is shown again with it."""

    def __init__(self, error: HostFactoryError):
        super().__init__(str(error))
        self.error = error


# -- the admin ------------------------------------------------------------------------------


class RepositoryModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose objects come from, and go to, a repository."""

    repository_name: ClassVar[str]  # "templates", "requests" or "machines"
    aggregate_form: ClassVar[type[AggregateForm]]

    change_list_template = "admin/hostfactory/change_list.html"
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    sortable_by = ()
    list_per_page = 50
    view_on_site = False
    # ORM-only features stay off: they would query tables that do not exist.
    list_editable = ()
    date_hierarchy = None
    inlines = ()

    created_at = aggregate_field("created_at", "created")
    updated_at = aggregate_field("updated_at", "last changed")
    version = aggregate_field("version")

    # -- per aggregate (subclasses) -------------------------------------------------------

    def search_aggregates(self, term: str) -> list[Aggregate]:
        """What the search box finds: by default the aggregate whose id is ``term``."""
        found = self.repository().get_by_id(term)
        return [found] if found else []

    def create_aggregate(self, request: HttpRequest, aggregate: Aggregate) -> Aggregate:
        raise NotImplementedError

    def update_aggregate(self, request: HttpRequest, aggregate: Aggregate, current: Aggregate) -> Aggregate:
        raise NotImplementedError

    def delete_aggregate(self, request: HttpRequest, aggregate_id: str) -> None:
        raise NotImplementedError

    # -- reading --------------------------------------------------------------------------

    def repository(self) -> Repository:
        return getattr(get_repositories(), self.repository_name)

    def get_queryset(self, request: HttpRequest) -> AggregateQuerySet:
        queryset = AggregateQuerySet(model=self.model)
        queryset.loader = self.load_instances
        return queryset

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RepositoryChangeList

    def list_aggregates(self, filters: dict[str, str], limit: int, cursor: str | None) -> Page:
        return self.repository().list_page(filters=filters, limit=limit, cursor=cursor)

    def get_search_results(
        self, request: HttpRequest, queryset: AggregateQuerySet, search_term: str
    ) -> tuple[AggregateQuerySet, bool]:
        found = self.search_aggregates(search_term.strip()) if search_term.strip() else []
        return queryset.holding(anchor_instance(self.model, aggregate) for aggregate in found), False

    def keep_matching(self, instances: list[models.Model], filters: dict[str, str]) -> list[models.Model]:
        """Search results narrowed by the sidebar filters, judged as the repository would."""
        conditions = self.repository().filter_spec.parse(filters)
        return [instance for instance in instances if matches(instance.aggregate, conditions)]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> models.Model | None:
        if from_field not in (None, self.opts.pk.name):
            return None
        aggregate = self.repository().get_by_id(object_id)
        return anchor_instance(self.model, aggregate) if aggregate is not None else None

    def load_instances(self, ids: list[str]) -> list[models.Model]:
        return [anchor_instance(self.model, aggregate) for aggregate in self.get_aggregates(ids)]

    def get_aggregates(self, ids: list[str]) -> list[Aggregate]:
        """The stored aggregates among ``ids`` (a page of selected rows at most)."""
        found = (self.repository().get_by_id(entity_id) for entity_id in ids)
        return [aggregate for aggregate in found if aggregate is not None]

    # -- writing --------------------------------------------------------------------------

    def get_form(self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs: Any):
        """The aggregate's plain form, told about a write the repository refused earlier in
        this request (see ``changeform_view``)."""
        refused = getattr(request, REFUSED_ATTR, None)
        return type(self.aggregate_form.__name__, (self.aggregate_form,), {"refused": refused})

    def save_model(self, request: HttpRequest, obj: models.Model, form: AggregateForm, change: bool) -> None:
        try:
            if change:
                stored = self.update_aggregate(request, obj.aggregate, form.current)
            else:
                stored = self.create_aggregate(request, obj.aggregate)
        except (DomainValidationError, InvalidTransition, VersionConflict, NotFound) as error:
            raise WriteRefused(error) from error
        obj.aggregate = stored

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(context["adminform"].form, "stale", False):
            messages.error(request, f"Not saved: this {self.opts.verbose_name} was changed by someone else.")
        return super().render_change_form(request, context, *args, **kwargs)

    def save_related(self, request: HttpRequest, form: AggregateForm, formsets: list, change: bool) -> None:
        """Nothing: an aggregate is saved whole, it has no related rows."""

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            return self.rendered(request, super().changeform_view, object_id, form_url, extra_context)
        except WriteRefused as refused:
            # Nothing was stored, and the admin's transaction dropped its log entry: show the
            # form again, with the user's input and the reason.
            setattr(request, REFUSED_ATTR, refused.error)
            if isinstance(refused.error, VersionConflict | NotFound):
                messages.error(request, f"Not saved: {refused.error}")
            return self.rendered(request, super().changeform_view, object_id, form_url, extra_context)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.delete_aggregate(request, obj.pk)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        try:
            return self.rendered(request, super().delete_view, object_id, extra_context)
        except (InUse, NotFound) as error:
            # Raised inside the admin's transaction, so its deletion log entry is gone too.
            messages.error(request, f"Not deleted: {error}")
            if isinstance(error, NotFound):
                return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
            return HttpResponseRedirect(change_url(self.model, object_id))

    def get_deleted_objects(self, objs: Iterable[models.Model], request: HttpRequest) -> tuple:
        """Only the aggregates themselves: nothing cascades, and the services refuse a delete
        that something still depends on (reported as an error message)."""
        objs = list(objs)
        name = capfirst(self.opts.verbose_name)
        listed = [format_html('{}: <a href="{}">{}</a>', name, change_url(self.model, obj.pk), obj) for obj in objs]
        return listed, {self.opts.verbose_name_plural: len(objs)}, set(), []

    def delete_queryset(self, request: HttpRequest, queryset: AggregateQuerySet) -> None:
        deleted = self.change_each(
            request,
            queryset,
            lambda aggregate_id: self.delete_aggregate(request, aggregate_id),
            refused_as="Not deleted",
        )
        if deleted:
            self.log_deletions(request, deleted)
            self.report_done(request, "Deleted", deleted)

    # -- actions --------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict:
        found = super().get_actions(request)
        if "delete_selected" in found:
            found["delete_selected"] = (delete_selected, "delete_selected", found["delete_selected"][2])
        return found

    def change_each(
        self,
        request: HttpRequest,
        queryset: AggregateQuerySet,
        change: Callable[[str], Aggregate | None],
        *,
        refused_as: str = "Not changed",
    ) -> list[models.Model]:
        """Apply ``change`` to each selected aggregate; a refusal (invalid move, deleted
        meanwhile, in use) is an error message naming it, and the others still go."""
        done = []
        for obj in queryset:
            try:
                stored = change(obj.pk)
            except HostFactoryError as error:
                self.message_user(request, f"{refused_as}: {error}", messages.ERROR)
                continue
            done.append(anchor_instance(self.model, stored) if isinstance(stored, Aggregate) else obj)
        for missing in getattr(queryset, "missing", []):
            self.message_user(
                request, f"{refused_as}: {self.opts.verbose_name} {missing} no longer exists.", messages.WARNING
            )
        return done

    def run_action(
        self,
        request: HttpRequest,
        queryset: AggregateQuerySet,
        change: Callable[[str], Aggregate],
        *,
        done_as: str,
        log_as: str,
    ) -> None:
        """An action changing each selected aggregate: logged in each one's history."""
        changed = self.change_each(request, queryset, change)
        for obj in changed:
            self.log_change(request, obj, log_as)
        if changed:
            self.report_done(request, done_as, changed)

    def report_done(self, request: HttpRequest, verb: str, objs: list[models.Model]) -> None:
        names = ", ".join(str(obj) for obj in objs[:10]) + (", ..." if len(objs) > 10 else "")
        self.message_user(
            request, f"{verb} {len(objs)} {model_ngettext(self.opts, len(objs))}: {names}.", messages.SUCCESS
        )

    # -- errors ---------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return self.rendered(request, super().changelist_view, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        return self.rendered(request, super().history_view, object_id, extra_context)

    def rendered(self, request: HttpRequest, view: Callable[..., HttpResponse], *args: Any) -> HttpResponse:
        """Run and render a view, so a storage outage (even one met while rendering) is a
        503 page in the admin's look rather than a server error."""
        try:
            response = view(request, *args)
            if isinstance(response, SimpleTemplateResponse):
                response.render()
            return response
        except StorageUnavailable as error:
            context = {
                **self.admin_site.each_context(request),
                "title": "Storage unavailable",
                "error": str(error),
                "opts": self.opts,
            }
            return TemplateResponse(request, "admin/hostfactory/storage_unavailable.html", context, status=503)
