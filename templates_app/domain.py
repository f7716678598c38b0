"""The Template aggregate: a capacity class Host Factory may ask hosts of."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hostfactory.domain import (
    TEMPLATE_ID,
    Aggregate,
    FieldRule,
    check_int_range,
    check_template_id,
    check_type,
    fail,
)

ATTRIBUTE_TYPES = ("String", "Numeric", "Boolean")
REQUIRED_ATTRIBUTES = ("type", "ncpus", "nram")
# LSF's resource connector names the memory attribute ``mem`` where Symphony says ``nram``.
ATTRIBUTE_ALIASES = {"nram": ("nram", "mem")}
# The type an attribute sent without one gets (a bare value, or a one-element list): the
# numeric attributes Symphony and LSF document (docs/hostfactory.md), String for the rest.
NUMERIC_ATTRIBUTES = frozenset(
    {"ncpus", "ncores", "nram", "mem", "nstatic", "rank", "maxmem", "swp", "maxswp", "ndisks", "nthreads", "nprocs"}
)
PROVIDER_APIS = ("RunInstances", "EC2Fleet", "SpotFleet", "ASG")
PRICE_TYPES = ("ondemand", "spot", "heterogeneous")
FLEET_TYPES = ("instant", "request", "maintain")
# The fleet types each AWS launch API has; an API absent here takes no fleetType.
FLEET_TYPES_BY_API = {"EC2Fleet": ("instant", "request", "maintain"), "SpotFleet": ("request", "maintain")}
PRICE_TYPES_BY_API = {"RunInstances": ("ondemand", "spot")}
# How IBM's AWS provider launches a template that names no launch API (docs/hostfactory.md):
# a spot price or a spot price type asks for a Spot Fleet, anything else for RunInstances.
SPOT_PRICE_TYPES = ("spot", "heterogeneous")
PROVIDER_TYPE_RE = re.compile(r"^[a-z0-9]+$")
INSTANCE_TAGS_RE = re.compile(r"^[^=;]+=[^;]*(;[^=;]+=[^;]*)*;?$")
UNLIMITED = -1
MAX_NUMBER_RANGE = (UNLIMITED, 10000)  # -1 (unlimited) or 0..10000 hosts

# The Template's declared field rules (read by the serializers, the admin form and storage).
TEMPLATE_FIELDS = {
    "template_id": TEMPLATE_ID,
    "provider_type": FieldRule(max_length=64),
    "provider_api": FieldRule(choices=PROVIDER_APIS, nullable=True),
    "price_type": FieldRule(choices=PRICE_TYPES),
}

# Host Factory templates-file keys that map onto Template fields; every other key of a
# template in the file is a provider launch setting and lands in ``provider_config``.
FILE_FIELDS = {
    "templateId": "template_id",
    "maxNumber": "max_number",
    "attributes": "attributes",
    "providerType": "provider_type",
    "providerApi": "provider_api",
    "priceType": "price_type",
    "description": "description",
    "enabled": "enabled",
}


def _check_string(field: str, value: Any) -> None:
    check_type(field, value, str, "a string")


def _check_string_list(field: str, value: Any) -> None:
    check_type(field, value, list, "a list of strings")
    for item in value:
        _check_string(field, item)


def _check_subnets(field: str, value: Any) -> None:
    if isinstance(value, list):
        _check_string_list(field, value)
    else:
        check_type(field, value, str, "a subnet id or a list of subnet ids")


def _check_weights(field: str, value: Any) -> None:
    check_type(field, value, dict, "an object of instance type to integer weight")
    if not value:
        fail(field, "must name at least one instance type")
    for key, weight in value.items():
        check_int_range(f"{field}.{key}", weight, 1, 1000)


def _check_tags(field: str, value: Any) -> None:
    if not isinstance(value, str) or (value and not INSTANCE_TAGS_RE.fullmatch(value)):
        fail(field, f"must be a 'key=value;key2=value2' string, got {value!r}")


def _check_number(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        fail(field, f"must be a number, got {value!r}")
    _decimal(field, value)


def _check_volume_size(field: str, value: Any) -> None:
    check_int_range(field, value, 1, 65536)


def _check_percent(field: str, value: Any) -> None:
    check_int_range(field, value, 0, 100)


def _check_fleet_type(field: str, value: Any) -> None:
    if value not in FLEET_TYPES:
        fail(field, f"must be one of {', '.join(FLEET_TYPES)}, got {value!r}")


PROVIDER_CONFIG_CHECKS = {
    "imageId": _check_string,
    "vmType": _check_string,
    "vmTypes": _check_weights,
    "subnetId": _check_subnets,
    "securityGroupIds": _check_string_list,
    "keyName": _check_string,
    "instanceTags": _check_tags,
    "instanceProfile": _check_string,
    "fleetRole": _check_string,
    "fleetType": _check_fleet_type,
    "maxSpotPrice": _check_number,
    "allocationStrategy": _check_string,
    "percentOnDemand": _check_percent,
    "rootDeviceVolumeSize": _check_volume_size,
    "volumeType": _check_string,
    "userDataScript": _check_string,
    "launchTemplateId": _check_string,
    "spotPrice": _check_number,
}


def _decimal(field: str, value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        fail(field, f"must be a decimal number, got {value!r}")
    return number


def normalise_attribute(key: str, pair: Any) -> list[str]:
    """Check one attribute and return it as ``[type, "string value"]``. A value sent without
    its type (``"X86_64"``, ``4096`` or ``["4096"]``) gets the type the attribute's name has."""
    field = f"attributes.{key}"
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        fail("attributes", f"keys must be 1-64 characters, got {key!r}")
    if isinstance(pair, list | tuple) and len(pair) == 1:
        if pair[0] in ATTRIBUTE_TYPES:
            fail(field, f"must be a [type, value] pair; {pair!r} has a type and no value")
        pair = pair[0]
    if not isinstance(pair, list | tuple):
        pair = [attribute_type(key), pair]
    if len(pair) != 2:
        fail(field, f"must be a [type, value] pair or a bare value, got {pair!r}")
    kind, value = pair
    if kind not in ATTRIBUTE_TYPES:
        fail(field, f"type must be one of {', '.join(ATTRIBUTE_TYPES)}, got {kind!r}")
    if kind == "Numeric":
        _check_number(field, value)
        return [kind, str(value)]
    if kind == "Boolean" and isinstance(value, bool):
        return [kind, "1" if value else "0"]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        fail(field, f"value must be a string, got {value!r}")
    return [kind, str(value)]


def attribute_type(key: str) -> str:
    return "Numeric" if key in NUMERIC_ATTRIBUTES else "String"


def attribute_matches(pair: list[str], criterion: Any) -> bool:
    """Does one criterion of ``find_by_attributes`` match a stored typed attribute?"""
    kind, value = pair
    if isinstance(criterion, list | tuple):
        if len(criterion) != 2 or criterion[0] != kind:
            return False
        criterion = criterion[1]
    if kind == "Numeric":
        try:
            return Decimal(str(criterion)) == Decimal(value)
        except InvalidOperation:
            return False
    return str(criterion) == value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Template(Aggregate):
    template_id: str
    max_number: int
    attributes: dict[str, list[str]]
    provider_type: str = "aws"
    provider_api: str | None = None
    # None: follows from spotPrice (spot when one is set, else ondemand), as IBM's provider reads it.
    price_type: str | None = None
    provider_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    enabled: bool = True

    id_field = "template_id"
    field_rules = TEMPLATE_FIELDS

    def validate(self) -> None:
        check_template_id("template_id", self.template_id)
        self._validate_max_number()
        self._validate_attributes()
        self._validate_provider_config()
        if self.price_type is None:
            self.normalise("price_type", "spot" if self._spot_price() else "ondemand")
        self._validate_choices()
        if self.provider_type == "aws" and self.provider_api:
            self.check_launch_settings()
        _check_string("description", self.description)
        check_type("enabled", self.enabled, bool, "true or false")

    def _validate_max_number(self) -> None:
        check_type("max_number", self.max_number, int, "an integer")
        if self.max_number != UNLIMITED:
            check_int_range("max_number", self.max_number, 0, MAX_NUMBER_RANGE[1], "-1 (unlimited) or ")

    def _validate_attributes(self) -> None:
        check_type("attributes", self.attributes, dict, "an object of typed attributes")
        missing = [
            name
            for name in REQUIRED_ATTRIBUTES
            if not any(alias in self.attributes for alias in ATTRIBUTE_ALIASES.get(name, (name,)))
        ]
        if missing:
            fail(
                "attributes",
                f"must include {', '.join(REQUIRED_ATTRIBUTES)} (mem may stand for nram); missing {', '.join(missing)}",
            )
        normal = {key: normalise_attribute(key, pair) for key, pair in self.attributes.items()}
        self.normalise("attributes", normal)

    def _validate_choices(self) -> None:
        if not isinstance(self.provider_type, str) or not PROVIDER_TYPE_RE.fullmatch(self.provider_type):
            fail("provider_type", f"must be lower-case letters and digits, got {self.provider_type!r}")
        self.check_rule("provider_api")
        self.check_rule("price_type")

    def _validate_provider_config(self) -> None:
        check_type("provider_config", self.provider_config, dict, "an object")
        for key, value in self.provider_config.items():
            if key in FILE_FIELDS:
                fail(f"provider_config.{key}", f"is a template field; set {FILE_FIELDS[key]} instead")
            check = PROVIDER_CONFIG_CHECKS.get(key)
            if check:
                check(f"provider_config.{key}", value)
        try:
            json.dumps(self.provider_config)
        except (TypeError, ValueError) as error:
            fail("provider_config", f"must be JSON-serialisable ({error})")

    def _spot_price(self) -> Decimal:
        price = self.provider_config.get("spotPrice")
        return Decimal(str(price)) if price not in (None, "") else Decimal(0)

    @property
    def effective_provider_api(self) -> str | None:
        """The AWS launch API this template launches with: ``provider_api`` when set; else the
        rule of IBM's AWS provider (docs/hostfactory.md): a spot template (a spotPrice, or
        price type spot / heterogeneous) through a Spot Fleet, any other through RunInstances.
        None for templates of other providers."""
        if self.provider_api or self.provider_type != "aws":
            return self.provider_api
        return "SpotFleet" if self.price_type in SPOT_PRICE_TYPES or self._spot_price() else "RunInstances"

    def check_launch_settings(self) -> None:
        """An AWS template must carry what its launch API needs, so a request for it is never
        attempted with settings that cannot launch."""
        config, api = self.provider_config, self.effective_provider_api
        named = f"provider_api {api}" if self.provider_api else f"launch API {api} (no providerApi; see priceType)"
        if not config.get("imageId") and not config.get("launchTemplateId"):
            fail("provider_config.imageId", f"is required for {named} (unless launchTemplateId is set)")
        if not config.get("vmType") and not config.get("vmTypes"):
            fail("provider_config.vmType", f"vmType or vmTypes is required for {named}")
        allowed = FLEET_TYPES_BY_API.get(api, ())
        if "fleetType" in config and config["fleetType"] not in allowed:
            got, field = config["fleetType"], "provider_config.fleetType"
            if allowed:
                fail(field, f"must be one of {', '.join(allowed)} for {named}, got {got!r}")
            fail(field, f"{named} takes no fleetType; remove it (got {got!r})")
        prices = PRICE_TYPES_BY_API.get(api, PRICE_TYPES)
        if self.price_type not in prices:
            fail("price_type", f"must be one of {', '.join(prices)} for {named}, got {self.price_type!r}")

    @property
    def is_unlimited(self) -> bool:
        return self.max_number == UNLIMITED

    @classmethod
    def from_hostfactory(cls, data: dict[str, Any]) -> Template:
        """Build from one template of a Host Factory templates file (camelCase keys)."""
        check_type("template", data, dict, "an object")
        if "templateId" not in data or "maxNumber" not in data or "attributes" not in data:
            fail("template", "must have templateId, maxNumber and attributes")
        fields = {FILE_FIELDS[key]: value for key, value in data.items() if key in FILE_FIELDS}
        config = {key: value for key, value in data.items() if key not in FILE_FIELDS}
        return cls(**fields, provider_config=config)

    def to_hostfactory(self) -> dict[str, Any]:
        """The templates-file form; ``from_hostfactory`` reads it back to an equal template."""
        data: dict[str, Any] = {
            "templateId": self.template_id,
            "maxNumber": self.max_number,
            "attributes": self.attributes,
        }
        if self.provider_api:
            data["providerApi"] = self.provider_api
        data["priceType"] = self.price_type
        data.update(self.provider_config)
        if self.provider_type != "aws":
            data["providerType"] = self.provider_type
        if self.description:
            data["description"] = self.description
        if not self.enabled:
            data["enabled"] = False
        return data


@dataclasses.dataclass(frozen=True)
class Reservation:
    """Hosts one active acquire request reserved on its template, and when (a reservation
    whose request was never written is swept once it is old enough)."""

    count: int
    at: datetime


@dataclasses.dataclass(frozen=True)
class Usage:
    """A template's capacity ledger, stored with the template and changed only together with
    the write that changes it (docs/storage-design.md): ``used`` counts its live machines
    plus the not-yet-launched part of its active acquire requests; ``reservations`` holds the
    machine count each active acquire request reserved, keyed by request id, so each is
    released exactly once; ``seq`` grows with every ledger write (``recount_capacity``
    writes only if nothing moved meanwhile)."""

    used: int = 0
    reservations: dict[str, Reservation] = dataclasses.field(default_factory=dict)
    seq: int = 0

    @property
    def reserved(self) -> int:
        return sum(reservation.count for reservation in self.reservations.values())

    def available(self, template: Template) -> int | None:
        """How many more hosts the template may give; None when it is unlimited."""
        if template.is_unlimited:
            return None
        return max(0, template.max_number - self.used)

    def in_use(self, template_id: str, advice: str = "disable it instead") -> str:
        held = f"{self.used} hosts used or reserved"
        if self.reservations:
            held += " (active requests: " + ", ".join(sorted(self.reservations)[:5]) + ")"
        return f"template {template_id!r} is in use: {held}; {advice}"

    def over_limit(self, template: Template) -> bool:
        """``maxNumber`` was lowered below current use: new requests wait until use drops."""
        return not template.is_unlimited and self.used > template.max_number
