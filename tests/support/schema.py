"""Helpers for fuzzing our OpenAPI schema."""

from __future__ import annotations

from typing import Any


def without_huge_lists(node: Any) -> Any:
    """The schema minus ``maxItems`` above 1000: invalid-mode cases would otherwise be lists of
    10001 hosts, megabytes each, which schemathesis' coverage phase fails to build; those limits
    have their own tests (tests/hostfactory_api, tests/security/test_hostile_input.py)."""
    if isinstance(node, dict):
        return {
            key: without_huge_lists(value)
            for key, value in node.items()
            if not (key == "maxItems" and isinstance(value, int) and value > 1000)
        }
    if isinstance(node, list):
        return [without_huge_lists(item) for item in node]
    return node
