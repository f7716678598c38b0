"""The API clients of tests/api/fixtures.py, and a standard-library-only python3, for every test here."""

import stat
import sys

import pytest

from tests.api.fixtures import anonymous, operator, plugin, provisioner, viewer  # noqa: F401


@pytest.fixture
def stdlib_python(tmp_path) -> str:
    """A python3 for the scripts that sees the standard library only (isolated, no site)."""
    wrapper = tmp_path / "python3-stdlib-only"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)
