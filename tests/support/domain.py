"""Asserting a domain rejection: the right error type, naming the right field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hostfactory.errors import DomainValidationError


def assert_rejected(build: Callable[..., Any], field: str, **fields: Any) -> DomainValidationError:
    """``build(**fields)`` raises DomainValidationError for ``field``, with a message that
    starts by naming it."""
    with pytest.raises(DomainValidationError) as caught:
        build(**fields)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    return caught.value
