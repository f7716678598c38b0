"""``RepositoryModelAdmin``: the real Django admin over the repositories (operations.md "Admin UI").

The aggregates never live in ORM tables. Each app registers its table-less anchor model with
a subclass of ``RepositoryModelAdmin``, which sends list, search, filters, paging, get, save
and delete through ``get_repositories()`` by overriding the admin's documented hooks
(``get_queryset``, ``get_changelist``, ``get_changelist_instance``, ``get_paginator``,
``get_object``, ``get_form``, ``save_model``, ``delete_model``, ``delete_queryset``,
``get_deleted_objects``, ``get_search_results``, ``get_actions``, ``render_change_form``).
Everything else (login, permissions, messages, history, look) is Django's own.

The admin handles unsaved instances of the anchor model that carry their aggregate
(``obj.aggregate``); list columns and read-only rows are admin display methods over it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import actions as django_actions
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import model_ngettext, quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import capfirst

from hostfactory.admin.changelist import RepositoryChangeList
from hostfactory.admin.display import admin_link, aggregate_field, aggregate_link, change_url
from hostfactory.admin.forms import AggregateForm, anchor_instance
from hostfactory.admin.history import history_rows
from hostfactory.admin.queryset import AggregateQuerySet
from hostfactory.domain import Aggregate
from hostfactory.errors import HostFactoryError, InUse, InvalidFilter, NotFound, StorageUnavailable, VersionConflict
from hostfactory.storage import get_repositories
from hostfactory.storage.base import Page, Repository
from hostfactory.storage.filters import matches
from hostfactory.storage.history import note_reason

FILTER_SAMPLE = 100  # templates read to offer filter choices: one short page, never the table


def template_options() -> list[tuple[str, str]]:
    """Template ids for a sidebar filter, from one page of templates (any other valid id
    still works in the URL)."""
    templates = get_repositories().templates.list_page(limit=FILTER_SAMPLE).items
    return sorted((template.template_id, template.template_id) for template in templates)


@admin.action(permissions=["delete"], description=django_actions.delete_selected.short_description)
def delete_selected(model_admin: RepositoryModelAdmin, request: HttpRequest, queryset: AggregateQuerySet):
    """Django's "delete selected", confirmed first on the console's confirmation page, which
    names the objects that cannot be deleted and why (they are not offered); each deletion is
    made by the aggregate's service, so one refused meanwhile is reported and the others go."""
    if not confirmed(request):
        refused = model_admin.delete_refusals([obj.aggregate for obj in queryset])
        title = f"Delete {model_admin.opts.verbose_name_plural}?"
        return model_admin.confirm_first(request, queryset, action="delete_selected", title=title, refused=refused)
    model_admin.delete_queryset(request, queryset)
    return None


def confirmed(request: HttpRequest) -> bool:
    """The operator said "yes" on a confirmation page (an action posted again with post=yes)."""
    return request.POST.get("post") == "yes"


def aws_provider_on() -> bool:
    """Whether this service launches and terminates hosts in EC2 itself."""
    return getattr(settings, "HOSTFACTORY_PROVIDER", "none") == "aws"


class RepositoryModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose objects come from, and go to, a repository."""

    repository_name: ClassVar[str]  # "templates", "requests" or "machines"
    aggregate_form: ClassVar[type[AggregateForm]]

    change_list_template = "admin/hostfactory/change_list.html"
    delete_confirmation_template = "admin/hostfactory/delete_confirmation.html"
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    sortable_by = ()
    list_per_page = 50
    view_on_site = False
    # ORM-only features stay off: they would query tables that do not exist.
    list_editable = ()
    date_hierarchy = None
    inlines = ()

    # Aggregate fields shown as list columns or read-only rows (display methods named like
    # the field); each is labelled with its name, underscores as spaces, unless ``labels``
    # says otherwise. ``links``: a column or row linking to another aggregate's page, by
    # name: (that aggregate's anchor model, the field holding its id).
    shown_fields: ClassVar[tuple[str, ...]] = ()
    links: ClassVar[dict[str, tuple[type[models.Model], str]]] = {}
    labels: ClassVar[dict[str, str]] = {}

    created_at = aggregate_field("created_at", "created")
    updated_at = aggregate_field("updated_at", "last changed")
    version = aggregate_field("version")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.shown_fields:
            setattr(cls, name, aggregate_field(name, cls.labels.get(name)))
        for name, (model, id_field) in cls.links.items():
            setattr(cls, name, aggregate_link(name, model, id_field, cls.labels.get(name)))

    # -- per aggregate (subclasses) -------------------------------------------------------

    def search_aggregates(self, term: str) -> list[Aggregate]:
        """What the search box finds: for each word, the aggregates whose searched fields
        (the repository's ``search_fields``) start with it, through an index."""
        found: dict[str, Aggregate] = {}
        for word in dict.fromkeys(term.split()[:10]):
            found.update((aggregate.id, aggregate) for aggregate in self.repository().search(word[:100], limit=100))
        return list(found.values())

    def get_aggregates(self, ids: list[str]) -> list[Aggregate]:
        """The stored aggregates among ``ids`` (a page of selected rows at most)."""
        found = (self.repository().get_by_id(entity_id) for entity_id in ids)
        return [aggregate for aggregate in found if aggregate is not None]

    def delete_aggregate(self, request: HttpRequest, aggregate_id: str) -> None:
        raise NotImplementedError

    def delete_refusals(self, aggregates: list[Aggregate]) -> dict[str, str]:
        """Why each of ``aggregates`` that cannot be deleted cannot, by id: said before any
        confirmation (the services refuse such a delete anyway)."""
        return {}

    def consequences(self, action: str) -> list[str]:
        """What ``action`` (an action's name, or "delete_selected") does, as its confirmation
        page says it; with the AWS provider on, what it does in the cloud too."""
        return []

    def summary(self, aggregate: Aggregate) -> str:
        """A few words on an object listed on a confirmation page (its status...)."""
        return ""

    # -- reading --------------------------------------------------------------------------

    def repository(self) -> Repository:
        return getattr(get_repositories(), self.repository_name)

    def get_queryset(self, request: HttpRequest) -> AggregateQuerySet:
        queryset = AggregateQuerySet(model=self.model)
        queryset.source = self
        return queryset

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RepositoryChangeList

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """A filter key, filter value or cursor the repository refuses is an error message
        and the admin's usual "?e=1" page, never a server error. (The change list wraps what
        ``filter()`` raises in IncorrectLookupParameters; what reading the page raises comes
        through as it is.)"""
        try:
            return super().get_changelist_instance(request)
        except (InvalidFilter, IncorrectLookupParameters) as error:
            refused = error.args[0] if isinstance(error, IncorrectLookupParameters) and error.args else error
            if isinstance(refused, InvalidFilter):
                messages.error(request, str(refused))
            raise IncorrectLookupParameters(str(refused)) from error

    def filter_keys(self) -> list[str]:
        return sorted(self.repository().filter_spec.filters)

    def get_paginator(self, request: HttpRequest, queryset: AggregateQuerySet, per_page: int, **kwargs: Any):
        """One page: what the repository answered (search results are never cut)."""
        return Paginator(queryset, max(per_page, len(queryset)), **kwargs)

    def load_page(self, query: AggregateQuerySet) -> tuple[list[models.Model], str | None]:
        """The rows of a change list: one ``list_page`` (never counted, never scanned whole),
        or the search results narrowed by the sidebar filters."""
        if query.found is not None:
            conditions = self.repository().filter_spec.parse(query.filters)
            return [instance for instance in query.found if matches(instance.aggregate, conditions)], None
        page = self.list_aggregates(query.filters, self.list_per_page, query.cursor)
        return [anchor_instance(self.model, aggregate) for aggregate in page.items], page.next_cursor

    def list_aggregates(self, filters: dict[str, str], limit: int, cursor: str | None) -> Page:
        return self.repository().list_page(filters=filters, limit=limit, cursor=cursor)

    def get_search_results(
        self, request: HttpRequest, queryset: AggregateQuerySet, search_term: str
    ) -> tuple[AggregateQuerySet, bool]:
        if not search_term.strip():
            return queryset, False
        found = self.search_aggregates(search_term.strip())
        return queryset.searched(anchor_instance(self.model, aggregate) for aggregate in found), False

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> models.Model | None:
        if from_field not in (None, self.opts.pk.name):
            return None
        aggregate = self.repository().get_by_id(object_id)
        return anchor_instance(self.model, aggregate) if aggregate is not None else None

    def load_instances(self, ids: list[str]) -> list[models.Model]:
        return [anchor_instance(self.model, aggregate) for aggregate in self.get_aggregates(ids)]

    # -- writing --------------------------------------------------------------------------

    def get_form(self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs: Any):
        return self.aggregate_form

    def save_model(self, request: HttpRequest, obj: models.Model, form: AggregateForm, change: bool) -> None:
        """Nothing left to do: the form stored the aggregate while validating (see
        ``AggregateForm.clean``), so a refused write was a form error."""

    def save_related(self, request: HttpRequest, form: AggregateForm, formsets: list, change: bool) -> None:
        """Nothing: an aggregate is saved whole, it has no related rows."""

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any) -> HttpResponse:
        form = context["adminform"].form
        if getattr(form, "stale", False):
            messages.error(request, f"Not saved: this {self.opts.verbose_name} was changed by someone else.")
        elif isinstance(getattr(form, "refused", None), VersionConflict | NotFound):
            messages.error(request, f"Not saved: {form.refused}")
        return super().render_change_form(request, context, *args, **kwargs)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return self.rendered(request, super().changeform_view, object_id, form_url, extra_context)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        self.delete_aggregate(request, obj.pk)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        extra_context = {"consequences": self.consequences("delete_selected"), **(extra_context or {})}
        try:
            return self.rendered(request, super().delete_view, object_id, extra_context)
        except (InUse, NotFound) as error:
            # Refused by the service: nothing was deleted, so no event was recorded.
            messages.error(request, f"Not deleted: {error}")
            if isinstance(error, NotFound):
                return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
            return HttpResponseRedirect(change_url(self.model, object_id))

    def get_deleted_objects(self, objs: Iterable[models.Model], request: HttpRequest) -> tuple:
        """Only the aggregates themselves: nothing cascades. One the services would refuse to
        delete (in use, still active) is "protected", with the reason: its page says so and
        offers no confirmation (Django's own rule for protected objects)."""
        objs = list(objs)
        refused = self.delete_refusals([obj.aggregate for obj in objs])
        name = capfirst(self.opts.verbose_name)
        listed = [
            format_html('{}: <a href="{}">{}</a>', name, change_url(self.model, obj.pk), obj)
            for obj in objs
            if obj.pk not in refused
        ]
        protected = [f"{name} {object_id}: {reason}" for object_id, reason in refused.items()]
        return listed, {self.opts.verbose_name_plural: len(listed)}, set(), protected

    def delete_queryset(self, request: HttpRequest, queryset: AggregateQuerySet) -> None:
        deleted = self.change_each(
            request,
            queryset,
            lambda aggregate_id: self.delete_aggregate(request, aggregate_id),
            refused_as="Not deleted",
        )
        if deleted:
            self.report_done(request, "Deleted", deleted)

    # -- actions --------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict:
        found = super().get_actions(request)
        if "delete_selected" in found:
            found["delete_selected"] = (delete_selected, "delete_selected", found["delete_selected"][2])
        return found

    def confirm_first(
        self,
        request: HttpRequest,
        queryset: AggregateQuerySet,
        *,
        action: str,
        title: str,
        refused: dict[str, str] | None = None,
        consequences: list[str] | None = None,
    ) -> TemplateResponse | None:
        """None once the operator has confirmed (``post=yes``); before that, the page saying
        what ``action`` will do to which objects (and which of them it cannot touch, and why),
        and nothing changes. Confirming posts the action again with the objects it can touch
        and the same choices (the action form's fields)."""
        if confirmed(request):
            return None
        refused = refused or {}
        objects = [
            (obj.pk, admin_link(self.model, obj.pk), self.summary(obj.aggregate))
            for obj in queryset
            if obj.pk not in refused
        ]
        carried = [
            (name, request.POST[name])
            for name in self.action_form.base_fields
            if name not in ("action", "select_across") and name in request.POST
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "objects": objects,
            "refused": [(admin_link(self.model, object_id), reason) for object_id, reason in refused.items()],
            "missing": queryset.missing,
            "consequences": self.consequences(action) if consequences is None else consequences,
            "action": action,
            "carried": carried,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/hostfactory/action_confirmation.html", context)

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
        reason: str,
    ) -> None:
        """An action changing each selected aggregate; ``reason`` is what each one's event says."""
        note_reason(reason)
        changed = self.change_each(request, queryset, change)
        if changed:
            self.report_done(request, done_as, changed)

    def report_done(self, request: HttpRequest, verb: str, objs: list[models.Model]) -> None:
        names = ", ".join(str(obj) for obj in objs[:10]) + (", ..." if len(objs) > 10 else "")
        self.message_user(
            request, f"{verb} {len(objs)} {model_ngettext(self.opts, len(objs))}: {names}.", messages.SUCCESS
        )

    # -- history --------------------------------------------------------------------------
    # Every write of an aggregate records its event in the repositories (who, through what,
    # each field's old and new value), whatever the channel; Django's LogEntry, in another
    # store and for admin edits only, would be a second, partial history.

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> None:
        """No LogEntry: the repository recorded the event."""

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> None:
        """No LogEntry: the repository recorded the event."""

    def log_deletions(self, request: HttpRequest, queryset: Iterable[models.Model]) -> None:
        """No LogEntry: the repository recorded the event."""

    # -- errors ---------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return self.rendered(request, super().changelist_view, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        return self.rendered(request, self.event_history_view, unquote(object_id), extra_context)

    def event_history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None) -> HttpResponse:
        """The object's events, newest first, a page at a time (``?cursor=``), from the same
        storage as the object; a deleted object's history still shows."""
        obj = self.get_object(request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        cursor = request.GET.get("cursor") or None
        here = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_history", args=[quote(object_id)])
        try:
            page = self.repository().history(object_id, limit=self.list_per_page, cursor=cursor)
        except InvalidFilter as error:  # a cursor edited by hand, or of another object
            messages.error(request, str(error))
            return HttpResponseRedirect(here)
        if obj is None and not page.items:
            name = capfirst(self.opts.verbose_name)
            messages.warning(request, f"{name} {object_id} does not exist and has no history.")
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        object_url = change_url(self.model, object_id) if obj is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {object_id}",
            "subtitle": None,
            "rows": history_rows(page.items, object_url),
            "next_url": f"{here}?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else None,
            "first_url": here if cursor else None,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "object": obj,
            "object_id": object_id,
            "object_url": object_url,
            "opts": self.opts,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/hostfactory/object_history.html", context)

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
