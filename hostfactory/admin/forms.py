"""Plain Django forms for the admin's change pages, one per aggregate.

The admin builds them as it builds a ModelForm (``Form(data, files, instance=obj)``), but there
is no model to save: ``clean()`` builds the domain aggregate, so the domain's own validation
(and its transition tables) decides what is valid, and its messages become form errors; then
it stores the aggregate through the services. Like a ModelForm's unique check, only the store
can tell whether an id is free or a version still current, and its conditional write is that
check: a refused write is a form error, shown with the user's input, and nothing is stored.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput

from hostfactory.domain import Aggregate, FieldRule, StatusMachine
from hostfactory.errors import DomainValidationError, HostFactoryError, InvalidTransition, NotFound, VersionConflict


def anchor_instance(model: type[models.Model], aggregate: Aggregate) -> models.Model:
    """An unsaved instance of the table-less anchor model carrying ``aggregate``: what the
    admin's views, links, history and messages handle in place of a database row."""
    instance = model(pk=aggregate.id)
    instance.aggregate = aggregate
    return instance


def pretty_json(value: Any) -> str:
    """A JSON object one key per line, each value on its own line in compact form, which
    suits Host Factory's ``[type, value]`` pairs and short launch settings."""
    if not isinstance(value, dict) or not value:
        return json.dumps(value, ensure_ascii=False)
    lines = [
        f"  {json.dumps(key, ensure_ascii=False)}: {json.dumps(item, ensure_ascii=False)}"
        for key, item in value.items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}"


class JsonObjectField(forms.JSONField):
    """A JSON object in a textarea, with errors that say where the JSON is broken."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField"}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return {}
        if isinstance(value, dict):
            return value
        try:
            converted = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValidationError(
                "Invalid JSON at line %(line)s column %(column)s: %(problem)s.",
                code="invalid",
                params={"line": error.lineno, "column": error.colno, "problem": error.msg},
            ) from None
        if not isinstance(converted, dict):
            raise ValidationError(
                "Must be a JSON object ({...}), got a JSON %(kind)s.",
                code="invalid",
                params={"kind": type(converted).__name__},
            )
        return converted

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, InvalidJSONInput):
            return value
        return pretty_json(value)


class AggregateForm(forms.Form):
    """Base of the admin's forms: ``build()`` turns cleaned data into the aggregate.

    ``version`` travels in a hidden field: a form opened before someone else saved the
    aggregate is refused instead of overwriting their change.
    """

    model: ClassVar[type[models.Model]]

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # What the admin's helpers read from a ModelForm's options.
        cls._meta = SimpleNamespace(model=getattr(cls, "model", None), labels=None, help_texts=None, fields=None)

    def __init__(self, data=None, files=None, *, instance: models.Model | None = None, initial=None, **kwargs):
        self.current: Aggregate | None = getattr(instance, "aggregate", None)
        self.instance = instance if instance is not None else self.model()
        if self.current is not None:
            initial = {**self.initial_from(self.current), "version": self.current.version, **(initial or {})}
        super().__init__(data, files, initial=initial, **kwargs)
        self.aggregate: Aggregate | None = None
        self.stored: Aggregate | None = None
        self.stale = False
        self.refused: HostFactoryError | None = None  # the write the services refused

    # -- per aggregate ----------------------------------------------------------------

    def explain_moves(self, transitions: StatusMachine, none_left: str) -> None:
        """The status field's help: the moves the transition table allows from the stored status."""
        if self.current is not None:
            moves = sorted(status.value for status in transitions.table[self.current.status])
            allowed = ", ".join(moves) if moves else none_left
            self.fields["status"].help_text = f"Moves allowed from {self.current.status.value}: {allowed}."

    def initial_from(self, aggregate: Aggregate) -> dict[str, Any]:
        """The form's values for a stored aggregate."""
        raise NotImplementedError

    def build(self, data: dict[str, Any]) -> Aggregate:
        """The aggregate the cleaned ``data`` describes; raises the domain's errors."""
        raise NotImplementedError

    def store(self, aggregate: Aggregate) -> Aggregate:
        """Create or update ``aggregate`` through its services; returns what was stored."""
        raise NotImplementedError

    # -- validation -------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.current is not None and data.get("version") != self.current.version:
            # Also a missing or forged version: its hidden field's own error would not show.
            self.stale = data.get("version") is not None
            self.add_error(None, self.stale_message(data.get("version")))
        elif not self.errors:
            try:
                self.aggregate = self.build(data)
            except (DomainValidationError, InvalidTransition) as error:
                self.add_error(self.field_for(error), str(error))
                return data
            try:
                self.stored = self.store(self.aggregate)
            except (DomainValidationError, InvalidTransition, VersionConflict, NotFound) as error:
                self.refused = error
                self.add_error(self.field_for(error), str(error))
        return data

    def stale_message(self, version: int | None) -> str:
        name = self.model._meta.verbose_name
        if version is None:
            return f"This form carries no version of the {name}; reload the page and make your change again."
        return (
            f"Not saved: this {name} was changed by someone else after you opened it (you edited version "
            f"{version}, it is now version {self.current.version}). Reload the page to see the current values, "
            "then make your change again."
        )

    def field_for(self, error: HostFactoryError) -> str | None:
        """The form field an error belongs to (None: the form as a whole)."""
        if isinstance(error, DomainValidationError):
            name = error.field.split(".")[0]
        elif isinstance(error, InvalidTransition):
            name = "status"
        elif isinstance(error, VersionConflict) and self.current is None:
            name = self.model._meta.pk.name  # creating an id that exists
        else:
            name = None  # stale or deleted meanwhile: the form as a whole
        return name if name in self.fields else None

    def save(self, commit: bool = False) -> models.Model:
        """The admin's ``save_form`` calls this: an instance carrying the stored aggregate."""
        return anchor_instance(self.model, self.stored)


def rule_choices(rule: FieldRule) -> list[tuple[str, str]]:
    return [(choice, choice) for choice in rule.choices]


def rule_form_field(rule: FieldRule, **kwargs: Any) -> forms.Field:
    """The form field for a declared domain rule: a ChoiceField over its choices (with a
    "(none)" choice when the field may be empty), else a CharField with its max length."""
    if rule.choices:
        none = [("", "(none)")] if rule.nullable else []
        return forms.ChoiceField(choices=[*none, *rule_choices(rule)], **kwargs)
    return forms.CharField(max_length=rule.max_length, **kwargs)


def optional_text(value: str) -> str | None:
    """An empty text input means "not set"."""
    return value or None
