"""What the three aggregates share: the base value class and small validators.

Plain Python only (no Django, DRF or PynamoDB), like the apps' ``domain.py`` modules.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from hostfactory.errors import DomainValidationError, FinalStatusChange, InvalidTransition


@dataclasses.dataclass(frozen=True)
class FieldRule:
    """One field's limit and allowed values, declared once beside its aggregate (the
    aggregate's ``field_rules``). The aggregate's validation checks it; the REST serializers,
    the admin forms and the storage models read it, so no layer can drift from the domain."""

    max_length: int | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False

    def check(self, field: str, value: Any) -> None:
        if value is None and self.nullable:
            return
        if self.choices and value not in self.choices:
            fail(field, f"must be one of {', '.join(self.choices)}{' or null' if self.nullable else ''}, got {value!r}")
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            fail(field, f"must be at most {self.max_length} characters, got {len(value)}")

    def clip(self, text: str) -> str:
        """``text`` cut to the limit: for a message the service composes itself (a list of
        cloud errors), which must not make the aggregate invalid."""
        if self.max_length is None or len(text) <= self.max_length:
            return text
        return text[: self.max_length - 3] + "..."


def choices_of(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


TEMPLATE_ID = FieldRule(max_length=64)
TEMPLATE_ID_RULE = f"must be 1-{TEMPLATE_ID.max_length} characters of A-Z a-z 0-9 _ -"
TEMPLATE_ID_RE = re.compile(rf"^[A-Za-z0-9_-]{{1,{TEMPLATE_ID.max_length}}}$")
REQUEST_ID = FieldRule(max_length=64)  # req-<uuid4> / ret-<uuid4>, with room to spare
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def fail(field: str, rule: str) -> None:
    raise DomainValidationError(field, rule)


def check_type(field: str, value: Any, kind: type | tuple, name: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        fail(field, f"must be {name}, got {type(value).__name__} {value!r}")


def _as_tuple(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def check_int_range(field: str, value: Any, low: int, high: int, extra: str = "") -> None:
    check_type(field, value, int, "an integer")
    if not low <= value <= high:
        fail(field, f"must be {extra}{low}..{high}, got {value}")


def check_template_id(field: str, value: Any) -> None:
    if not isinstance(value, str) or not TEMPLATE_ID_RE.fullmatch(value):
        fail(field, f"{TEMPLATE_ID_RULE}, got {value!r}")


def check_datetime(field: str, value: Any, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        fail(field, f"must be an aware datetime (UTC), got {value!r}")


def check_ip(field: str, value: Any) -> None:
    if value is None:
        return
    try:
        if not isinstance(value, str):
            raise ValueError(value)  # ip_address() also takes an int; the field holds text
        ipaddress.ip_address(value)
    except ValueError:
        fail(field, f"must be a valid IPv4 or IPv6 address, got {value!r}")


def check_str_dict(field: str, value: Any) -> None:
    check_type(field, value, dict, "an object of string to string")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            fail(field, f"must map strings to strings, got {key!r}: {item!r}")


def parse_enum(enum: type[StrEnum], field: str, value: Any) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        fail(field, f"must be one of {allowed}, got {value!r}")


class StatusMachine:
    """A transition table. A status to itself is an allowed no-op; in a final status (one with
    no move out) it stays a no-op only if nothing else changes either."""

    def __init__(self, kind: str, table: dict[StrEnum, set[StrEnum]]):
        self.kind = kind
        self.table = table

    def allowed(self, current: StrEnum) -> set[StrEnum]:
        return {current, *self.table[current]}

    def is_final(self, status: StrEnum) -> bool:
        return not self.table[status]

    def sources(self, target: StrEnum, changing: bool = False) -> set[StrEnum]:
        """Every status from which ``target`` may be reached (used for atomic updates);
        ``changing``: the move also changes other fields, so a final ``target`` is not its own source."""
        sources = {status for status in self.table if target in self.allowed(status)}
        return sources - {target} if changing and self.is_final(target) else sources

    def check(self, entity_id: str, current: StrEnum, target: StrEnum, changed: Iterable[str] = ()) -> None:
        """Raise InvalidTransition for a move the table forbids, or for ``changed`` fields of an
        aggregate that stays in a final status."""
        if target not in self.allowed(current):
            moves = {status.value for status in self.table[current]}
            raise InvalidTransition(self.kind, entity_id, current.value, target.value, moves)
        changed = list(changed)
        if target == current and changed and self.is_final(current):
            raise FinalStatusChange(self.kind, entity_id, current.value, changed)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Aggregate:
    """An immutable, self-validating value. Change it with ``replace`` (a new copy)."""

    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    id_field: ClassVar[str]
    field_rules: ClassVar[Mapping[str, FieldRule]] = {}

    def __post_init__(self) -> None:
        check_int_range("version", self.version, 0, 2**62)
        check_datetime("created_at", self.created_at)
        check_datetime("updated_at", self.updated_at)
        self.validate()
        for name, rule in self.field_rules.items():
            rule.check(name, getattr(self, name))

    def check_rule(self, name: str) -> None:
        """Check one declared rule now, where ``validate`` wants it in its order."""
        self.field_rules[name].check(name, getattr(self, name))

    def validate(self) -> None:
        """Check and normalise the aggregate's own fields (subclasses)."""

    def normalise(self, field: str, value: Any) -> None:
        object.__setattr__(self, field, value)

    @property
    def id(self) -> str:
        return getattr(self, self.id_field)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    def stamped(self, now: datetime) -> Self:
        """The copy a repository stores: timestamps set, version still the caller's."""
        return self.replace(created_at=self.created_at or now, updated_at=now)
