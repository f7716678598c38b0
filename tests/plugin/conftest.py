"""The API clients of tests/api/fixtures.py, for every test here."""

from tests.api.fixtures import anonymous, operator, plugin, provisioner, viewer  # noqa: F401
