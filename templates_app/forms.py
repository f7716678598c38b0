"""The admin's template form: the Template aggregate's fields, JSON as text."""

from __future__ import annotations

from typing import Any

from django import forms

from hostfactory.admin.forms import AggregateForm, JsonObjectField, optional_text, rule_form_field
from hostfactory.domain import TEMPLATE_ID_RULE
from hostfactory.storage import get_repositories
from templates_app import models
from templates_app.domain import REQUIRED_ATTRIBUTES, TEMPLATE_FIELDS, Template
from templates_app.services import template_create, template_update

EXAMPLE_ATTRIBUTES = {"type": ["String", "X86_64"], "ncpus": ["Numeric", "1"], "nram": ["Numeric", "1024"]}


class TemplateForm(AggregateForm):
    model = models.Template

    template_id = rule_form_field(
        TEMPLATE_FIELDS["template_id"], label="Template id", help_text=f"Never changes; {TEMPLATE_ID_RULE}."
    )
    enabled = forms.BooleanField(
        label="Enabled", required=False, initial=True, help_text="A disabled template is not offered to Host Factory."
    )
    max_number = forms.IntegerField(
        label="Max number",
        initial=10,
        help_text="Most hosts of this template at once: -1 for unlimited, else 0..10000.",
    )
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 80})
    )
    provider_type = rule_form_field(
        TEMPLATE_FIELDS["provider_type"],
        label="Provider type",
        initial="aws",
        help_text="Lower-case letters and digits.",
    )
    provider_api = rule_form_field(TEMPLATE_FIELDS["provider_api"], required=False, label="Provider API")
    price_type = rule_form_field(TEMPLATE_FIELDS["price_type"], label="Price type", initial="ondemand")
    attributes = JsonObjectField(
        label="Attributes",
        initial=EXAMPLE_ATTRIBUTES,
        help_text=(
            'Host Factory typed attributes as a JSON object of [type, value] pairs, type "String", "Numeric" or '
            f'"Boolean"; {", ".join(REQUIRED_ATTRIBUTES)} are required.'
        ),
    )
    provider_config = JsonObjectField(
        label="Provider config",
        help_text="Launch settings under their Host Factory names (imageId, vmType, subnetId, ...) as a JSON object.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.current is not None:
            del self.fields["template_id"]  # shown read-only: an id never changes

    def initial_from(self, template: Template) -> dict[str, Any]:
        return {
            "enabled": template.enabled,
            "max_number": template.max_number,
            "description": template.description,
            "provider_type": template.provider_type,
            "provider_api": template.provider_api or "",
            "price_type": template.price_type,
            "attributes": template.attributes,
            "provider_config": template.provider_config,
        }

    def build(self, data: dict[str, Any]) -> Template:
        fields = {
            "enabled": data["enabled"],
            "max_number": data["max_number"],
            "description": data["description"],
            "provider_type": data["provider_type"],
            "provider_api": optional_text(data["provider_api"]),
            "price_type": data["price_type"],
            "attributes": data["attributes"],
            "provider_config": data["provider_config"],
        }
        if self.current is None:
            return Template(template_id=data["template_id"], **fields)
        return self.current.replace(**fields, version=data["version"])

    def store(self, template: Template) -> Template:
        if self.current is None:
            return template_create(repos=get_repositories(), template=template)
        return template_update(repos=get_repositories(), template=template)
