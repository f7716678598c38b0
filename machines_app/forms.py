"""The admin's machine form: status (with its reason), name and IP addresses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin import helpers

from hostfactory.admin.forms import AggregateForm, optional_text, rule_choices, rule_form_field
from hostfactory.fleet.machines import machine_update
from hostfactory.storage import get_repositories
from machines_app import models
from machines_app.domain import MACHINE_FIELDS, MACHINE_TRANSITIONS, Machine


class MachineForm(AggregateForm):
    model = models.Machine

    status = rule_form_field(MACHINE_FIELDS["status"], label="Status")
    status_reason = rule_form_field(
        MACHINE_FIELDS["status_reason"],
        label="Status reason",
        required=False,
        help_text="Why it is in this status; required when failed.",
    )
    name = rule_form_field(
        MACHINE_FIELDS["name"], label="Name", required=False, help_text="Host name Host Factory sees (private DNS)."
    )
    private_ip_address = rule_form_field(
        MACHINE_FIELDS["private_ip_address"], required=False, label="Private IP address"
    )
    public_ip_address = rule_form_field(MACHINE_FIELDS["public_ip_address"], required=False, label="Public IP address")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.explain_moves(MACHINE_TRANSITIONS, "none (a returned machine keeps its status)")

    def initial_from(self, machine: Machine) -> dict[str, Any]:
        return {
            "status": machine.status.value,
            "status_reason": machine.status_reason,
            "name": machine.name,
            "private_ip_address": machine.private_ip_address or "",
            "public_ip_address": machine.public_ip_address or "",
        }

    def build(self, data: dict[str, Any]) -> Machine:
        """The machine as edited; the transition table decides a status move (InvalidTransition)."""
        moved = self.current.with_status(data["status"], data["status_reason"])
        return moved.replace(
            name=data["name"],
            private_ip_address=optional_text(data["private_ip_address"]),
            public_ip_address=optional_text(data["public_ip_address"]),
            version=data["version"],
        )

    def store(self, machine: Machine) -> Machine:
        return machine_update(repos=get_repositories(), machine=machine)


class MachineActionForm(helpers.ActionForm):
    """The action bar, with the status the "set status" action moves the machines to."""

    status = forms.ChoiceField(
        required=False, label="New status", choices=[("", "---------"), *rule_choices(MACHINE_FIELDS["status"])]
    )
