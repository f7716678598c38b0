"""Machines in the admin: list, filters, search by id or name, status/IP/name changes, and
the actions "set status" and "ask Host Factory to return"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.template.response import TemplateResponse

from hostfactory.admin import (
    AggregateQuerySet,
    RepositoryModelAdmin,
    aggregate_age,
    aws_provider_on,
    id_column,
    sidebar_filters,
    template_options,
)
from hostfactory.fleet.machines import machine_delete, machine_update_status
from hostfactory.storage import get_repositories
from machines_app import models
from machines_app.domain import (
    LIVE_STATUSES,
    Machine,
    MachineStatus,
    hf_acquire_result,
    hf_machine_message,
    hf_machine_status,
)
from machines_app.filters import MACHINE_FILTERS
from machines_app.forms import MachineActionForm, MachineForm
from machines_app.services import machine_reclaim
from requests_app.models import Request as RequestAnchor
from templates_app.models import Template as TemplateAnchor

RECORD_ONLY = (
    "Only the record changes: this service does not stop or terminate the host. A host that still "
    "runs must be stopped by whoever launched it."
)
NOT_IN_EC2 = (
    "The AWS provider is on (HOSTFACTORY_PROVIDER=aws), yet this does NOT terminate the EC2 instance: "
    "if it still runs, it keeps running, and costing, untracked. To have a host terminated in the cloud, "
    'use "Ask Host Factory to return selected machines" instead.'
)
RECONCILED = "Each machine's acquire request is reconciled: it may end (complete, partial or failed) as a result."
RECLAIM = (
    "getReturnRequests lists each machine (gracePeriod 0), so Host Factory drains its jobs and gives the host "
    "back with requestReturnMachines."
)
DELETED = (
    "The machine record is deleted; a live one gives its host back to its template's capacity, and Host "
    "Factory no longer sees it in any request."
)
RECLAIM_IN_EC2 = (
    "The AWS provider is on (HOSTFACTORY_PROVIDER=aws): once Host Factory returns a host, the provisioner "
    "terminates its EC2 instance; the host will be terminated in the cloud."
)


def record_only() -> str:
    """What changing the record alone means for the host, with the provider in use."""
    return NOT_IN_EC2 if aws_provider_on() else RECORD_ONLY


# What the cloud or the launch fixed about a machine: shown first, never edited in the admin.
IDENTITY_FIELDS = (
    "machine_id",
    "template",
    "request",
    "return_request",
    "instance_type",
    "price_type",
    "launch_time",
    "tags",
)


@admin.register(models.Machine)
class MachineAdmin(RepositoryModelAdmin):
    repository_name = "machines"
    aggregate_form = MachineForm
    action_form = MachineActionForm
    list_display = (
        id_column("machine_id", "machine id"),
        "name",
        "status",
        "hf_result",
        "private_ip_address",
        "instance_type",
        "launch_time",
        "age",
        "request",
        "return_request",
        "template",
        "reclaim_at",
    )
    # request_id and return_request_id show once a request's page links here.
    list_filter = sidebar_filters(MACHINE_FILTERS, template_id=template_options)
    search_fields = ("machine_id", "name")
    search_help_text = (
        "The start of instance ids, host names or private IP addresses (e.g. i-0abc, ip-10-0-3, 10.0.3), "
        "separated by spaces."
    )
    actions = ("set_status", "mark_terminated", "reclaim")

    shown_fields = (
        "name",
        "status",
        "status_reason",
        "private_ip_address",
        "public_ip_address",
        "instance_type",
        "price_type",
        "launch_time",
        "tags",
        "reclaim_at",
    )
    links = {
        "request": (RequestAnchor, "request_id"),
        "return_request": (RequestAnchor, "return_request_id"),
        "template": (TemplateAnchor, "template_id"),
    }
    labels = {
        "private_ip_address": "private IP",
        "public_ip_address": "public IP",
        "launch_time": "launched",
        "reclaim_at": "return asked",
    }
    age = aggregate_age("launch_time", "created_at")

    @admin.display(description="Host Factory result")
    def hf_result(self, obj: models.Machine) -> str:
        return hf_acquire_result(obj.aggregate).value

    @admin.display(description="Host Factory status")
    def hf_status(self, obj: models.Machine) -> str:
        return hf_machine_status(obj.aggregate.status)

    @admin.display(description="Host Factory message")
    def hf_message(self, obj: models.Machine) -> str:
        return hf_machine_message(obj.aggregate, hf_acquire_result(obj.aggregate)) or "-"

    def get_fieldsets(self, request: HttpRequest, obj: models.Machine | None = None) -> list:
        return [
            (
                None,
                {"fields": IDENTITY_FIELDS},
            ),
            ("Status", {"fields": ("status", "status_reason", "name", "private_ip_address", "public_ip_address")}),
            ("Host Factory view", {"fields": ("hf_status", "hf_result", "hf_message", "reclaim_at")}),
            ("Record", {"fields": ("version", "created_at", "updated_at")}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: models.Machine | None = None) -> tuple:
        return (
            *IDENTITY_FIELDS,
            "hf_status",
            "hf_result",
            "hf_message",
            "reclaim_at",
            "created_at",
            "updated_at",
        )

    def get_aggregates(self, ids: list[str]) -> list[Machine]:
        return self.repository().get_by_instance_ids(ids)

    def summary(self, machine: Machine) -> str:
        return ", ".join(filter(None, (machine.name, machine.status.value, machine.template_id)))

    def consequences(self, action: str) -> list[str]:
        if action == "reclaim":
            return [RECLAIM, *([RECLAIM_IN_EC2] if aws_provider_on() else [])]
        return [DELETED, record_only()] if action == "delete_selected" else []

    def status_consequences(self, status: MachineStatus) -> list[str]:
        lines = [f"Each machine's status is set to {status.value}.", RECONCILED]
        if status not in LIVE_STATUSES:
            lines.append(record_only())
        return lines

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # machines are registered by whoever launched them (the API)

    def has_reclaim_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("machines_app.reclaim_machine")

    def delete_aggregate(self, request: HttpRequest, aggregate_id: str) -> None:
        machine_delete(repos=get_repositories(), machine_id=aggregate_id)

    @admin.action(permissions=["change"], description="Set status of selected machines (choose the new status)")
    def set_status(self, request: HttpRequest, queryset: AggregateQuerySet) -> TemplateResponse | None:
        chosen = request.POST.get("status", "")
        allowed = [status.value for status in MachineStatus]
        if chosen not in allowed:
            self.message_user(
                request,
                f"Choose the new status next to the action (one of {', '.join(allowed)}); nothing changed.",
                messages.ERROR,
            )
            return None
        return self.change_status(request, queryset, MachineStatus(chosen), "set_status")

    @admin.action(permissions=["change"], description="Mark selected machines terminated")
    def mark_terminated(self, request: HttpRequest, queryset: AggregateQuerySet) -> TemplateResponse | None:
        return self.change_status(request, queryset, MachineStatus.TERMINATED, "mark_terminated")

    def change_status(
        self, request: HttpRequest, queryset: AggregateQuerySet, status: MachineStatus, action: str
    ) -> TemplateResponse | None:
        """Once confirmed, through machine_update_status, so each machine's request is reconciled."""
        page = self.confirm_first(
            request,
            queryset,
            action=action,
            title=f"Set machines {status.value}?",
            consequences=self.status_consequences(status),
        )
        if page is not None:
            return page
        repos = get_repositories()
        reason = f"Set to {status.value} by {request.user.get_username()} in the admin."
        self.run_action(
            request,
            queryset,
            lambda machine_id: machine_update_status(
                repos=repos, machine_id=machine_id, status=status, changes={"status_reason": reason}
            ),
            done_as=f"Set status {status.value} on",
            reason=f"Changed status to {status.value}.",
        )
        return None

    @admin.action(permissions=["reclaim"], description="Ask Host Factory to return selected machines")
    def reclaim(self, request: HttpRequest, queryset: AggregateQuerySet) -> TemplateResponse | None:
        page = self.confirm_first(request, queryset, action="reclaim", title="Ask Host Factory to return machines?")
        if page is not None:
            return page
        repos = get_repositories()
        self.run_action(
            request,
            queryset,
            lambda machine_id: machine_reclaim(repos=repos, machine_id=machine_id),
            done_as="Asked Host Factory to return",
            reason="Asked Host Factory to return it.",
        )
        return None
