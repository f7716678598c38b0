"""Schemathesis against our own OpenAPI schema: valid and invalid input for every operation,
through the WSGI app with an operator's token, must never get a 5xx.

A bounded run (FUZZ_EXAMPLES per operation and mode) runs in ``make test``; set FUZZ_EXAMPLES
higher for a longer hunt (see the README).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.generation import GenerationMode

from tests.api.fixtures import add_acquire, add_template, launch
from tests.support.schema import without_huge_lists

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))


def seed(repos) -> None:
    """Something for the generated ids and filters to find."""
    add_template(repos, "tpl", max_number=-1)
    launch(repos, add_acquire(repos, "tpl", count=2), count=1)


@pytest.mark.slow
@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_input_makes_the_api_fail(storage, operator, mode, subtests):
    seed(storage)
    auth = {"Authorization": f"Token {Token.objects.get(user=operator.user).key}"}
    app = get_wsgi_application()
    document = operator.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schema = schemathesis.openapi.from_dict(without_huge_lists(document))

    operations = [result.ok() for result in schema.get_all_operations()]
    if mode == GenerationMode.NEGATIVE:
        # Invalid input needs something to get wrong: a body or a query string. (A path
        # parameter is any string, so no path can be invalid for the schema.)
        operations = [op for op in operations if len(op.body) or list(op.query)]
    # Every path of api.md and the protocol is in the schema, so is fuzzed (a guard against a schema gone empty).
    assert len(operations) >= (19 if mode == GenerationMode.NEGATIVE else 31), [op.label for op in operations]

    for operation in operations:
        with subtests.test(operation=operation.label):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize="FUZZ_EXAMPLES" not in os.environ,  # CI: the same cases every run
                suppress_health_check=list(HealthCheck),
            )
            def no_server_error(case) -> None:
                response = case.call(app=app, headers=auth)
                assert response.status_code < 500, f"{case.as_curl_command()}\n-> {response.status_code}"
                if response.status_code >= 400:
                    assert response.headers["content-type"][0].startswith("application/json"), response.text

            no_server_error()
