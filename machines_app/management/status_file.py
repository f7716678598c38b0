"""Reading many machine status reports from a file: a JSON list of objects, or CSV with a
header line. Both use the option names of ``update_machine_status`` as keys or columns."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from hostfactory.fleet.machines import MachineStatusUpdate

# Column (or key) -> the machine field it sets; the long field names are accepted too.
COLUMNS = {
    "reason": "status_reason",
    "private_ip": "private_ip_address",
    "public_ip": "public_ip_address",
    "name": "name",
}
ALIASES = {field: field for field in COLUMNS.values()}
REQUIRED = ("machine_id", "status")
ALLOWED = (*REQUIRED, *COLUMNS)


def read_status_file(path: str) -> list[MachineStatusUpdate]:
    """Every update in the file, or a CommandError naming the line (CSV) or item (JSON) and
    the column that is wrong. ``-`` reads stdin."""
    name = "stdin" if path == "-" else path
    text = _read_text(path)
    if not text.strip():
        raise CommandError(f"{name}: the file is empty; expected a JSON list or CSV with a header line")
    looks_json = path.lower().endswith(".json") or text.lstrip().startswith(("[", "{"))
    updates = _parse_json(name, text) if looks_json else _parse_csv(name, text)
    if not updates:
        raise CommandError(f"{name}: no updates in the file")
    return updates


def _read_text(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"{path}: cannot read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise CommandError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _parse_json(name: str, text: str) -> list[MachineStatusUpdate]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"{name}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    if not isinstance(data, list):
        raise CommandError(f"{name}: must be a JSON list of objects, got {type(data).__name__}")
    updates = []
    for position, item in enumerate(data, start=1):
        source = f"{name} item #{position}"
        if not isinstance(item, dict):
            raise CommandError(f"{source}: must be an object with {', '.join(REQUIRED)}, got {item!r}")
        updates.append(_update(source, item))
    return updates


def _parse_csv(name: str, text: str) -> list[MachineStatusUpdate]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        _check_columns(f"{name} line 1", reader.fieldnames or [])
        updates = []
        for row in reader:
            source = f"{name} line {reader.line_num}"
            if None in row:
                raise CommandError(f"{source}: more values than the {len(reader.fieldnames)} columns of the header")
            updates.append(_update(source, row))
        return updates
    except csv.Error as error:
        raise CommandError(f"{name} line {reader.line_num}: not valid CSV ({error})") from None


def _check_columns(source: str, columns: list[str]) -> None:
    unknown = [column for column in columns if _field(column) is None]
    if unknown:
        raise CommandError(f"{source}: unknown column {unknown[0]!r}; allowed: {', '.join(ALLOWED)}")
    missing = [column for column in REQUIRED if column not in columns]
    if missing:
        raise CommandError(f"{source}: missing column {missing[0]!r}; the header needs {', '.join(REQUIRED)}")


def _field(key: str) -> str | None:
    if key in REQUIRED:
        return key
    return COLUMNS.get(key) or ALIASES.get(key)


def _update(source: str, item: dict[str, Any]) -> MachineStatusUpdate:
    _check_columns(source, list(item))
    values = {}
    for key, value in item.items():
        if value is not None and not isinstance(value, str):
            raise CommandError(f"{source}: {key}: must be a string, got {value!r}")
        values[_field(key)] = value.strip() if value else None
    for key in REQUIRED:
        if not values.get(key):
            raise CommandError(f"{source}: {key}: is required")
    changes = {key: value for key, value in values.items() if key not in REQUIRED and value}
    return MachineStatusUpdate(machine_id=values["machine_id"], status=values["status"], changes=changes, source=source)
