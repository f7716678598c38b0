"""The filter language of ``get_all`` and ``list_page``, validated once for both backends."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hostfactory.domain import FieldRule
from hostfactory.errors import InvalidFilter

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda stored, wanted: stored == wanted,
    "gte": lambda stored, wanted: stored is not None and stored >= wanted,
    "lte": lambda stored, wanted: stored is not None and stored <= wanted,
    "gt": lambda stored, wanted: stored is not None and stored > wanted,
    "lt": lambda stored, wanted: stored is not None and stored < wanted,
}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    def holds(self, entity: Any) -> bool:
        return OPERATORS[self.op](getattr(entity, self.field), self.value)


@dataclass(frozen=True)
class Filter:
    """One filter key: the condition it makes, and what the edges build from it (the REST
    filter serializer's field, the admin's sidebar filter).

    ``rule`` is the domain field rule its values follow (max length, choices); ``label`` is
    its sidebar title in the admin (a filter without one is not in the sidebar); ``bounds``
    limit an integer filter; ``help_text`` documents it in the API schema."""

    field: str
    op: str
    parse: Callable[[str, Any], Any]
    label: str = ""
    rule: FieldRule | None = None
    bounds: tuple[int, int] | None = None
    help_text: str = ""


def parse_text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidFilter(f"filter {key}: must be a non-empty string, got {value!r}")
    return value


def parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InvalidFilter(f"filter {key}: must be true or false, got {value!r}")


def parse_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidFilter(f"filter {key}: must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidFilter(f"filter {key}: must be an integer, got {value!r}") from None


def parse_datetime(key: str, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidFilter(f"filter {key}: must be an ISO 8601 date-time with a time zone, got {value!r}")
    return value


def parse_choice(enum: type[StrEnum]) -> Callable[[str, Any], StrEnum]:
    def parse(key: str, value: Any) -> StrEnum:
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise InvalidFilter(f"filter {key}: must be one of {allowed}, got {value!r}") from None

    return parse


class FilterSpec:
    """The filter keys one aggregate accepts."""

    def __init__(self, filters: Mapping[str, Filter]):
        self.filters = dict(filters)

    def parse(self, filters: Mapping[str, Any] | None) -> tuple[Condition, ...]:
        if filters is None:
            return ()
        if not isinstance(filters, Mapping):
            raise InvalidFilter(f"filters must be an object of key to value, got {type(filters).__name__}")
        unknown = sorted(set(filters) - set(self.filters))
        if unknown:
            allowed = ", ".join(sorted(self.filters))
            raise InvalidFilter(f"unknown filter {', '.join(map(str, unknown))}; allowed: {allowed}")
        conditions = []
        for key, value in sorted(filters.items()):
            spec = self.filters[key]
            conditions.append(Condition(spec.field, spec.op, spec.parse(key, value)))
        return tuple(conditions)


def matches(entity: Any, conditions: tuple[Condition, ...]) -> bool:
    return all(condition.holds(entity) for condition in conditions)


def equality_values(conditions: tuple[Condition, ...], indexed_fields: tuple[str, ...]) -> list[Condition]:
    """The equality conditions an index can answer, in the order the fields are declared."""
    equal = {c.field: c for c in conditions if c.op == "eq"}
    return [equal[field] for field in indexed_fields if field in equal]
