"""Storage settings: read from the environment by settings.py, checked at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

STORAGE_TYPES = ("memory", "dynamodb")
# Each has a DynamoDB table: the three aggregates and the event history.
TABLE_KEYS = ("templates", "requests", "machines", "history")


@dataclass(frozen=True)
class StorageConfig:
    type: str = "memory"
    region: str = "us-east-1"
    profile: str | None = None
    host: str | None = None
    tables: dict[str, str] = field(default_factory=lambda: {key: key for key in TABLE_KEYS})
    templates_file: str | None = None

    @classmethod
    def from_settings(cls, data: dict) -> StorageConfig:
        tables = {**cls().tables, **(data.get("tables") or {})}
        return cls(
            type=data.get("type", "memory"),
            region=data.get("region") or "us-east-1",
            profile=data.get("profile") or None,
            host=data.get("host") or None,
            tables=tables,
            templates_file=data.get("templates_file") or None,
        )

    def problem(self) -> str | None:
        """Why this configuration cannot work, or None."""
        if self.type not in STORAGE_TYPES:
            return f"Unsupported storage type: {self.type} (STORAGE_TYPE must be one of {', '.join(STORAGE_TYPES)})"
        empty = [name for name, table in self.tables.items() if not table]
        if self.type == "dynamodb" and empty:
            return f"DynamoDB table names must not be empty: {', '.join(empty)}"
        if self.type == "dynamodb" and self.host and not _is_http_url(self.host):
            # botocore would only fail at the first call, with a traceback about an "endpoint".
            return f"DYNAMODB_HOST must be an http:// or https:// URL, e.g. http://127.0.0.1:4567; got {self.host!r}"
        return None

    @property
    def key(self) -> tuple:
        return (
            self.type,
            self.region,
            self.profile,
            self.host,
            tuple(sorted(self.tables.items())),
            self.templates_file,
        )


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
