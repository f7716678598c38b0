"""Templates in the admin: list, filters, search by id, add, change, delete, enable/disable."""

from __future__ import annotations

from django.contrib import admin
from django.db import models as db_models
from django.http import HttpRequest

from hostfactory.admin import (
    FILTER_SAMPLE,
    AggregateQuerySet,
    RepositoryModelAdmin,
    aggregate_field,
    id_column,
    sidebar_filters,
)
from hostfactory.storage import get_repositories
from templates_app import models
from templates_app.domain import Template, Usage
from templates_app.filters import TEMPLATE_FILTERS
from templates_app.forms import TemplateForm
from templates_app.services import template_delete, template_set_enabled, templates_source


def provider_type_options() -> list[tuple[str, str]]:
    templates = get_repositories().templates.list_page(limit=FILTER_SAMPLE).items
    return [(kind, kind) for kind in sorted({"aws", *(template.provider_type for template in templates)})]


SOURCE_NOTES = {
    "service": "Templates source: this service (HOSTFACTORY_TEMPLATES_SOURCE=service): edit them here.",
    "hostfactory": "Templates source: Host Factory's conf-dir <instance>prov_templates.json "
    "(HOSTFACTORY_TEMPLATES_SOURCE=hostfactory): the plugin's next getAvailableTemplates replaces edits made here.",
}


def templates_source_note() -> str:
    return SOURCE_NOTES.get(templates_source(), f"Templates source: {templates_source()!r} (unknown)")


@admin.register(models.Template)
class TemplateAdmin(RepositoryModelAdmin):
    repository_name = "templates"
    aggregate_form = TemplateForm
    list_display = (
        id_column("template_id", "template id"),
        "enabled",
        "in_use",
        "provider_type",
        "launch_api",
        "price_type",
        "description",
        "updated_at",
    )
    list_filter = sidebar_filters(TEMPLATE_FILTERS, provider_type=provider_type_options)
    search_fields = ("template_id",)
    search_help_text = "The start of template ids (e.g. Spot), separated by spaces."
    actions = ("enable", "disable")

    enabled = aggregate_field("enabled", boolean=True)

    @admin.display(description="in use / max")
    def in_use(self, obj: models.Template) -> str:
        """Hosts live or reserved by active requests (the ledger), of ``maxNumber``."""
        template, usage = obj.aggregate, getattr(obj, "usage", None) or Usage()
        limit = "unlimited" if template.is_unlimited else str(template.max_number)
        flag = " (over the limit)" if usage.over_limit(template) else ""
        return f"{usage.used} / {limit}{flag}"

    def load_page(self, query: AggregateQuerySet) -> tuple[list[db_models.Model], str | None]:
        """The page, each template with its ledger: one more read of the small templates table."""
        rows, cursor = super().load_page(query)
        if not rows:
            return rows, cursor
        usage = {template.template_id: used for template, used in get_repositories().templates.get_all_with_usage()}
        for row in rows:
            row.usage = usage.get(row.pk)
        return rows, cursor

    shown_fields = ("description", "provider_type", "provider_api", "price_type", "attributes", "provider_config")
    labels = {"provider_api": "provider API"}

    @admin.display(description="launch API")
    def launch_api(self, obj: models.Template) -> str:
        """The API the template launches with; "(rule)" when it follows from its price type."""
        template = obj.aggregate
        api = template.effective_provider_api
        if api is None:
            return "-"
        return api if template.provider_api else f"{api} (from priceType)"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        return super().changelist_view(request, {**(extra_context or {}), "subtitle": templates_source_note()})

    def get_fieldsets(self, request: HttpRequest, obj: models.Template | None = None) -> list:
        provider = ("provider_type", "provider_api", "price_type", "provider_config")
        if obj is not None:
            provider = ("provider_type", "provider_api", "launch_api", "price_type", "provider_config")
        fieldsets = [
            (None, {"fields": ("template_id", "enabled", "max_number", "description")}),
            ("Provider", {"fields": provider}),
            ("Host Factory attributes", {"fields": ("attributes",)}),
        ]
        if obj is not None:
            fieldsets.append(("Record", {"fields": ("version", "created_at", "updated_at")}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: models.Template | None = None) -> tuple:
        return ("template_id", "launch_api", "created_at", "updated_at") if obj is not None else ()

    def consequences(self, action: str) -> list[str]:
        if action != "delete_selected":
            return []
        return ["The template is deleted: Host Factory no longer gets it from getAvailableTemplates."]

    def delete_refusals(self, templates: list[Template]) -> dict[str, str]:
        """A template whose ledger holds hosts (live or reserved) cannot be deleted: one read
        of the small templates table for the whole selection."""
        wanted = {template.template_id for template in templates}
        return {
            template.template_id: usage.in_use(template.template_id, "disable it instead")
            for template, usage in get_repositories().templates.get_all_with_usage()
            if template.template_id in wanted and usage.used > 0
        }

    def delete_aggregate(self, request: HttpRequest, aggregate_id: str) -> None:
        template_delete(repos=get_repositories(), template_id=aggregate_id)

    @admin.action(permissions=["change"], description="Enable selected templates")
    def enable(self, request: HttpRequest, queryset: AggregateQuerySet) -> None:
        self.set_enabled(request, queryset, enabled=True)

    @admin.action(permissions=["change"], description="Disable selected templates")
    def disable(self, request: HttpRequest, queryset: AggregateQuerySet) -> None:
        self.set_enabled(request, queryset, enabled=False)

    def set_enabled(self, request: HttpRequest, queryset: AggregateQuerySet, *, enabled: bool) -> None:
        repos = get_repositories()
        self.run_action(
            request,
            queryset,
            lambda template_id: template_set_enabled(repos=repos, template_id=template_id, enabled=enabled),
            done_as="Enabled" if enabled else "Disabled",
            reason="Enabled." if enabled else "Disabled.",
        )
