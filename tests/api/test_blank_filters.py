"""An empty filter value is refused (400 naming it), never read as "no filter": a script whose
variable was empty must not get the whole fleet back."""

from __future__ import annotations

import pytest

from tests.api.fixtures import add_template
from tests.support import aggregates


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/machines/?return_request_id=", "return_request_id"),
        ("/api/v1/machines/?request_id=&status=running", "request_id"),
        ("/api/v1/requests/?template_id=", "template_id"),
        ("/api/v1/templates/?enabled=", "enabled"),
    ],
)
def test_a_blank_filter_is_refused(storage, operator, path, key):
    add_template(storage, "tpl")
    storage.machines.save(aggregates.machine())

    answer = operator.get(path)

    assert answer.status_code == 400
    assert answer.json()[key] == ["must not be blank; leave the filter out to match everything"]
