"""Hostile bodies: larger than the documented limit, nested deeper than the parser allows,
sent without a length. Each is a clean 4xx in each endpoint's JSON shape, in process and
through gunicorn, and a body of the largest legitimate size still works."""

from __future__ import annotations

import http.client
import io
import json

import pytest
from django.conf import settings as django_settings
from rest_framework.exceptions import ParseError

from hostfactory.api.parsers import JSONParser, json_depth
from tests.api.fixtures import operator, plugin  # noqa: F401
from tests.reliability.live import Gunicorn, prepare_database, server_environment

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
HF = "/api/v1/hostfactory"
MiB = 1024 * 1024


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def padded(document: dict, size: int) -> bytes:
    """``document`` as JSON, with trailing whitespace (still valid JSON) up to ``size`` bytes."""
    text = json.dumps(document).encode()
    return text + b" " * (size - len(text))


def hosts(count: int) -> dict:
    """The largest legitimate list: hosts with full EC2 DNS names (about 94 bytes each)."""
    return {
        "machines": [
            {"name": f"ip-10-{n // 65536 % 256}-{n // 256 % 256}-{n % 256}.eu-west-1.compute.internal",
             "machineId": f"i-{n:017x}"}
            for n in range(count)
        ]
    }  # fmt: skip


def test_depth_counts_arrays_and_objects_but_not_brackets_in_strings():
    assert json_depth(b'"just a string"') == 0
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'["\\"[[[", ["x"]]') == 2
    assert json_depth(nested(100_000).encode()) == 100_000


def test_the_parser_takes_the_limit_and_refuses_one_more(settings):
    limit = settings.HOSTFACTORY_JSON_MAX_DEPTH
    assert limit == 64
    parser = JSONParser()
    assert parser.parse(io.BytesIO(nested(limit).encode())) == json.loads(nested(limit))
    with pytest.raises(ParseError, match="nested more than 64 levels"):
        parser.parse(io.BytesIO(nested(limit + 1).encode()))


@MEMORY
def test_json_nested_too_deep_is_a_400_not_a_recursion_error(storage, operator, plugin):  # noqa: F811
    body = nested(100_000)  # json.loads alone raises RecursionError on this
    response = operator.post("/api/v1/templates/search/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error" and "64 levels" in response.json()["detail"]
    response = plugin.post(f"{HF}/getRequestStatus", body, content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["message"]
    assert "64 levels" in response.json()["message"]
    # Brackets inside strings are text, not nesting.
    ask = {"requests": [{"requestId": "[" * 200}]}
    response = plugin.post(f"{HF}/getRequestStatus", ask, format="json")
    assert response.status_code == 200 and response.json()["requests"][0]["message"] == "Unknown request."


@MEMORY
def test_bodies_up_to_the_limit_are_read_and_larger_ones_are_413(storage, plugin):  # noqa: F811
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert limit == 2 * MiB
    legit = json.dumps(hosts(10_000))
    assert 0.85 * MiB < len(legit) < limit
    response = plugin.post(f"{HF}/getReturnRequests", legit, content_type="application/json")
    assert response.status_code == 200, response.content[:300]

    at_limit = padded({"machines": []}, limit)
    response = plugin.post(f"{HF}/getReturnRequests", at_limit, content_type="application/json")
    assert response.status_code == 200, response.content[:300]

    over = padded({"machines": []}, limit + 1)
    response = plugin.post(f"{HF}/getReturnRequests", over, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "message": "The request body is larger than the service accepts (DATA_UPLOAD_MAX_MEMORY_SIZE)."
    }


@MEMORY
def test_the_body_limit_is_the_documented_setting(storage, operator, settings):  # noqa: F811
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    lookup = "/api/v1/machines/lookup/"
    response = operator.post(lookup, padded({"instance_ids": []}, 1001), content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    response = operator.post(lookup, padded({"instance_ids": []}, 1000), content_type="application/json")
    assert response.status_code == 200


# -- through gunicorn: what a real client can send ------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """gunicorn on the memory backend with a plugin token."""
    folder = tmp_path_factory.mktemp("hostile")
    env = server_environment(folder)
    tokens = prepare_database(env)
    with Gunicorn(env, folder, workers=1) as server:
        yield server, tokens["plugin"]


def raw_post(server: Gunicorn, path: str, token: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict]:
    """A POST written by hand, so the length header and the body can disagree."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest("POST", path)
        for name, value in {"Authorization": f"Token {token}", "Content-Type": "application/json", **headers}.items():
            connection.putheader(name, value)
        connection.endheaders()
        for chunk in chunks:
            try:
                connection.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered before reading it all: that is the point
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_a_real_server_refuses_oversized_and_unbounded_bodies(live):
    server, token = live
    path = f"{HF}/getReturnRequests"
    over = padded({"machines": []}, 3 * MiB)
    status, body = raw_post(server, path, token, {"Content-Length": str(len(over))}, [over])
    assert status == 413 and "DATA_UPLOAD_MAX_MEMORY_SIZE" in body["message"]

    # A length of 10 GB announced, a few bytes sent: refused on the header, nothing waited for.
    status, body = raw_post(server, path, token, {"Content-Length": str(10 * 1024**3)}, [b'{"machines": ['])
    assert status == 413 and "DATA_UPLOAD_MAX_MEMORY_SIZE" in body["message"]

    # No length at all (chunked, 3 MB of it): not read, so the request has no body.
    chunk = b'{"template": {"templateId": "tpl", "machineCount": 1}}' + b" " * 65536
    framed = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * 48 + [b"0\r\n\r\n"]
    status, body = raw_post(server, f"{HF}/requestMachines", token, {"Transfer-Encoding": "chunked"}, framed)
    assert status == 400 and body == {"message": "template: This field is required."}, body

    deep = nested(100_000).encode()
    status, body = raw_post(server, path, token, {"Content-Length": str(len(deep))}, [deep])
    assert status == 400 and "64 levels" in body["message"]
