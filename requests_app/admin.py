"""Requests in the admin: list, filters, the request page with its machines and the Host
Factory view, status changes under the transition rules, and the cancel action."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from hostfactory.admin import (
    AggregateQuerySet,
    RepositoryModelAdmin,
    admin_link,
    aggregate_age,
    aggregate_field,
    aws_provider_on,
    id_column,
    sidebar_filters,
    template_options,
)
from hostfactory.fleet.progress import request_machines
from hostfactory.fleet.requests import request_cancel
from hostfactory.storage import get_repositories
from machines_app.domain import Machine, hf_acquire_result, hf_machine_message, hf_return_result
from machines_app.models import Machine as MachineAnchor
from requests_app import models
from requests_app.domain import Request, RequestType, hf_request_status
from requests_app.filters import REQUEST_FILTERS
from requests_app.forms import RequestForm
from requests_app.services import request_delete
from templates_app.models import Template as TemplateAnchor

MACHINE_ROW = "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
MACHINE_TABLE = (
    '<p><a href="{}">These machines in the machine list</a></p>'
    '<table class="hostfactory-machines"><thead><tr><th>Machine</th><th>Name</th><th>Status</th>'
    "<th>Host Factory result</th><th>Private IP</th><th>Message</th></tr></thead><tbody>{}</tbody></table>"
)


CANCEL = (
    "Each active request ends as cancelled: Host Factory sees it finished, and the hosts an acquire request "
    "has not launched yet go back to its template's capacity.",
    "Machines already launched are not touched: they stay, and Host Factory returns them as usual.",
)
CANCEL_IN_EC2 = (
    "The AWS provider is on (HOSTFACTORY_PROVIDER=aws): no EC2 instance is terminated by this; instances "
    "already launched keep running until Host Factory returns them."
)
DELETE = ("The finished request's record is deleted; its machines stay, and no longer link to it.",)


@admin.register(models.Request)
class RequestAdmin(RepositoryModelAdmin):
    repository_name = "requests"
    aggregate_form = RequestForm
    list_display = (
        id_column("request_id", "request id"),
        "request_type",
        "template",
        "machine_count",
        "status",
        "hf_status",
        "message",
        "created_at",
        "age",
        "deadline",
    )
    list_filter = sidebar_filters(REQUEST_FILTERS, template_id=template_options)
    search_fields = ("request_id",)
    search_help_text = "The start of request ids (e.g. req-3f2a or ret-), separated by spaces."
    actions = ("cancel",)

    shown_fields = ("request_type", "machine_count", "status", "message", "requested_by", "deadline", "completed_at")
    links = {"template": (TemplateAnchor, "template_id")}
    labels = {"request_type": "type", "machine_count": "machines asked", "completed_at": "completed"}
    hf_message = aggregate_field("message", "message")
    age = aggregate_age("created_at")

    @admin.display(description="Host Factory status")
    def hf_status(self, obj: models.Request) -> str:
        return hf_request_status(obj.aggregate.status)

    @admin.display(description="machines")
    def machines_table(self, obj: models.Request) -> str:
        request = obj.aggregate
        machines = request_machines(repos=get_repositories(), request=request)
        if not machines:
            return "No machines yet."
        rows = format_html_join("", MACHINE_ROW, (self.machine_row(request, machine) for machine in machines))
        field = "return_request_id" if request.request_type == RequestType.RETURN else "request_id"
        listed = reverse("admin:machines_app_machine_changelist") + "?" + urlencode({field: request.request_id})
        return format_html(MACHINE_TABLE, listed, rows)

    @staticmethod
    def machine_row(request: Request, machine: Machine) -> tuple:
        if request.request_type == RequestType.RETURN:
            result = hf_return_result(machine, request.is_terminal)
        else:
            result = hf_acquire_result(machine)
        return (
            admin_link(MachineAnchor, machine.machine_id),
            machine.name or "-",
            machine.status.value,
            result.value,
            machine.private_ip_address or "-",
            hf_machine_message(machine, result) or "",
        )

    def get_fieldsets(self, request: HttpRequest, obj: models.Request | None = None) -> list:
        return [
            (None, {"fields": ("request_id", "request_type", "template", "machine_count", "requested_by")}),
            ("Status", {"fields": ("status", "message", "version")}),
            ("Host Factory view", {"fields": ("hf_status", "hf_message")}),
            ("Machines", {"fields": ("machines_table",)}),
            ("Times", {"fields": ("created_at", "updated_at", "deadline", "completed_at")}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: models.Request | None = None) -> tuple:
        return (
            "request_id",
            "request_type",
            "template",
            "machine_count",
            "requested_by",
            "hf_status",
            "hf_message",
            "machines_table",
            "created_at",
            "updated_at",
            "deadline",
            "completed_at",
        )

    def summary(self, request: Request) -> str:
        return ", ".join(filter(None, (request.request_type.value, request.status.value, request.template_id)))

    def consequences(self, action: str) -> list[str]:
        if action == "cancel":
            return [*CANCEL, *([CANCEL_IN_EC2] if aws_provider_on() else [])]
        return list(DELETE) if action == "delete_selected" else []

    def delete_refusals(self, requests: list[Request]) -> dict[str, str]:
        """An active request cannot be deleted (the services refuse it): cancel it first."""
        return {r.request_id: f"still {r.status.value}; cancel it first" for r in requests if r.is_active}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests come from Host Factory (the API), not from operators

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("requests_app.cancel_request")

    def delete_aggregate(self, request: HttpRequest, aggregate_id: str) -> None:
        request_delete(repos=get_repositories(), request_id=aggregate_id)

    @admin.action(permissions=["cancel"], description="Cancel selected requests")
    def cancel(self, request: HttpRequest, queryset: AggregateQuerySet) -> TemplateResponse | None:
        selected = [obj.aggregate for obj in queryset]
        ended = {r.request_id: f"already {r.status.value}" for r in selected if r.is_terminal}
        page = self.confirm_first(request, queryset, action="cancel", title="Cancel requests?", refused=ended)
        if page is not None:
            return page
        repos = get_repositories()
        message = f"Cancelled by {request.user.get_username()} in the admin."
        self.run_action(
            request,
            queryset,
            lambda request_id: request_cancel(repos=repos, request_id=request_id, message=message),
            done_as="Cancelled",
            reason="Cancelled.",
        )
        return None
