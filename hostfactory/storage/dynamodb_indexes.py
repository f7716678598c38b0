"""Building blocks for the apps' PynamoDB table declarations."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex


def hash_index(field: str, range_field: str | None = None) -> GlobalSecondaryIndex:
    """A GSI named ``<field>-index`` projecting whole items (so queries need no GetItem)."""
    attrs = {
        "Meta": type("Meta", (), {"index_name": f"{field}-index", "projection": AllProjection()}),
        field: UnicodeAttribute(hash_key=True),
    }
    if range_field:
        attrs[range_field] = UTCDateTimeAttribute(range_key=True)
    return type(f"{field.title().replace('_', '')}Index", (GlobalSecondaryIndex,), attrs)()
