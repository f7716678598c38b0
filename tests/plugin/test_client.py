"""The plugin client: configuration, input, retries, and the failure contract (exit 1 with
{"message": ...} on stdout, nothing else there), in process against a stub service."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hostfactory.plugin import client
from tests.plugin.stub_server import StubService

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stub():
    service = StubService()
    service.url = service.start()
    yield service
    service.stop()


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "input.json"
    path.write_text('{"requests": [{"requestId": "req-1"}]}')
    return str(path)


@pytest.fixture
def sleeps(monkeypatch):
    """Back-off delays the client asked for, without waiting them."""
    asked: list[float] = []
    monkeypatch.setattr(client.time, "sleep", asked.append)
    return asked


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(capsys, operation: str, env: dict, *args: str) -> tuple[int, dict, str]:
    code = client.main([operation, *args], env=env)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON line, got {out!r}"
    return code, json.loads(lines[0]), err


def failure(capsys, operation: str, env: dict, *args: str) -> tuple[str, str]:
    code, answer, err = run(capsys, operation, env, *args)
    assert code == 1 and list(answer) == ["message"] and answer["message"], answer
    return answer["message"], err


# -- configuration -------------------------------------------------------------------------


def test_environment_wins_over_the_provider_config_file(tmp_path):
    (tmp_path / "awsprov_config.json").write_text(
        json.dumps({"SERVICE_URL": "https://file.example/", "SERVICE_TOKEN": "file-token", "SERVICE_TIMEOUT": 12})
    )
    base = {"HF_PROVIDER_CONFDIR": str(tmp_path), "HF_PROVIDER_NAME": "aws"}

    from_file = client.load_config(base)
    assert (from_file.url, from_file.token, from_file.timeout) == ("https://file.example", "file-token", 12.0)

    token_file = tmp_path / "token"
    token_file.write_text("token-from-file\n")
    env = {**base, "HF_SERVICE_URL": "http://env.example", "HF_SERVICE_TOKEN_FILE": str(token_file)}
    from_env = client.load_config(env)
    assert (from_env.url, from_env.token, from_env.timeout) == ("http://env.example", "token-from-file", 12.0)
    assert client.load_config({**env, "HF_SERVICE_TOKEN": "direct"}).token == "direct"


def test_defaults_bound_the_time_a_call_may_take():
    config = client.load_config({"HF_SERVICE_URL": "http://x", "HF_SERVICE_TOKEN": "t"})
    assert (config.timeout, config.retries) == (30.0, 3)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, "HF_SERVICE_URL"),
        ({"HF_SERVICE_URL": "hf.example.com", "HF_SERVICE_TOKEN": "t"}, "http:// or https://"),
        ({"HF_SERVICE_URL": "http://x"}, "HF_SERVICE_TOKEN"),
        ({"HF_SERVICE_URL": "http://x", "HF_SERVICE_TOKEN_FILE": "/nonexistent/token"}, "/nonexistent/token"),
        ({"HF_SERVICE_URL": "http://x", "HF_SERVICE_TOKEN": "t", "HF_SERVICE_TIMEOUT": "soon"}, "HF_SERVICE_TIMEOUT"),
        ({"HF_SERVICE_URL": "http://x", "HF_SERVICE_TOKEN": "t", "HF_SERVICE_RETRIES": "-1"}, "HF_SERVICE_RETRIES"),
    ],
)
def test_bad_configuration_is_named(capsys, env, words):
    message, _ = failure(capsys, "getAvailableTemplates", env)
    assert words in message


def test_a_broken_provider_config_file_is_named(capsys, tmp_path):
    (tmp_path / "awsprov_config.json").write_text("{not json")
    env = {"HF_PROVIDER_CONFDIR": str(tmp_path), "HF_PROVIDER_NAME": "aws"}
    message, _ = failure(capsys, "getAvailableTemplates", env)
    assert "awsprov_config.json" in message


# -- input ---------------------------------------------------------------------------------


def test_posts_the_input_file_with_the_token_and_prints_the_answer(capsys, stub, input_file):
    stub.answer(200, {"requests": [{"requestId": "req-1", "status": "running", "machines": []}]})
    env = {"HF_SERVICE_URL": stub.url + "/", "HF_SERVICE_TOKEN": "secret-token"}

    code, answer, err = run(capsys, "getRequestStatus", env, "-f", input_file)

    assert code == 0 and answer["requests"][0]["status"] == "running" and err == ""
    (received,) = stub.received
    assert received.path == "/api/v1/hostfactory/getRequestStatus"
    assert received.headers["Authorization"] == "Token secret-token"
    assert received.headers["Content-Type"] == "application/json"
    assert json.loads(received.body) == {"requests": [{"requestId": "req-1"}]}


def test_reads_stdin_and_sends_an_empty_object_without_a_file(capsys, stub, monkeypatch):
    env = {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t"}
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO('{"machines": []}'))
    assert run(capsys, "getReturnRequests", env, "-f", "-")[0] == 0
    assert run(capsys, "getAvailableTemplates", env)[0] == 0
    assert [json.loads(r.body) for r in stub.received] == [{"machines": []}, {}]


@pytest.mark.parametrize(("content", "words"), [("{oops", "not valid JSON"), (None, "cannot read")])
def test_a_bad_input_file_is_named_and_nothing_is_sent(capsys, stub, tmp_path, content, words):
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    message, _ = failure(
        capsys, "requestMachines", {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t"}, "-f", str(path)
    )
    assert words in message and str(path) in message
    assert stub.received == []


def test_unknown_arguments_fail_the_protocol_way(capsys):
    message, _ = failure(capsys, "getAvailableTemplates", {}, "--bogus")
    assert "bad arguments" in message
    message, _ = failure(capsys, "deleteEverything", {})
    assert "operation" in message


# -- answers and retries -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (400, {"message": "machineCount: must be 1..10000, got 0"}, "machineCount: must be 1..10000, got 0"),
        (401, {"message": "Invalid token."}, "authentication failed (Invalid token.)"),
        (403, {"message": "no permission"}, "hostfactory-plugins"),
        (404, b"<html>not found</html>", "check HF_SERVICE_URL"),
        (409, {"detail": "version conflict"}, "version conflict"),
    ],
)
def test_a_4xx_is_reported_at_once(capsys, stub, sleeps, input_file, status, body, words):
    stub.answer(status, body)
    env = {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "secret-token"}
    message, err = failure(capsys, "getRequestStatus", env, "-f", input_file)
    assert words in message and len(stub.received) == 1 and sleeps == []
    assert str(status) in err and "secret-token" not in message + err


def test_a_5xx_is_retried_with_growing_back_off_then_reported(capsys, stub, sleeps, input_file):
    stub.answer(503, {"message": "storage unavailable"})
    env = {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t", "HF_SERVICE_RETRIES": "3"}
    message, err = failure(capsys, "requestMachines", env, "-f", input_file)
    assert "HTTP 503" in message and "storage unavailable" in message
    assert len(stub.received) == 4 and sleeps == [0.5, 1.0, 2.0]
    assert err.count("retrying") == 3


def test_a_5xx_then_success_answers(capsys, stub, monkeypatch, input_file):
    def recover(delay: float) -> None:
        stub.answer(200, {"requests": []})

    monkeypatch.setattr(client.time, "sleep", recover)
    stub.answer(500, b"Internal Server Error")
    code, answer, _ = run(capsys, "getRequestStatus", {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t"})
    assert code == 0 and answer == {"requests": []} and len(stub.received) == 2


def test_a_service_that_is_down_is_retried_then_reported(capsys, sleeps):
    env = {"HF_SERVICE_URL": f"http://127.0.0.1:{free_port()}", "HF_SERVICE_TOKEN": "t", "HF_SERVICE_RETRIES": "2"}
    message, _ = failure(capsys, "getAvailableTemplates", env)
    assert "cannot reach the Host Factory service" in message and len(sleeps) == 2


def test_a_timeout_is_retried_only_for_calls_that_change_nothing(capsys, stub, input_file):
    stub.answer(200, {"requests": []}, delay=1.0)
    env = {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t", "HF_SERVICE_TIMEOUT": "0.2", "HF_SERVICE_RETRIES": "1"}

    message, _ = failure(capsys, "getRequestStatus", env, "-f", input_file)
    assert "did not answer within 0.2s" in message and len(stub.received) == 2

    message, _ = failure(capsys, "requestMachines", env, "-f", input_file)
    assert "did not answer within 0.2s" in message and len(stub.received) == 3  # one more, no retry


@pytest.mark.parametrize(
    ("status", "body", "headers", "words"),
    [
        (200, b"<html>proxy login</html>", {}, "not a JSON object"),
        (200, b"[1, 2]", {}, "not a JSON object"),
        (302, b"", {"Location": "https://hf.example/api"}, "redirected to https://hf.example/api"),
    ],
)
def test_an_answer_that_is_not_host_factory_json_fails(capsys, stub, sleeps, status, body, headers, words):
    stub.answer(status, body, headers=headers)
    message, _ = failure(capsys, "getAvailableTemplates", {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t"})
    assert words in message


def test_the_client_needs_nothing_but_the_standard_library(tmp_path):
    """Run it isolated from site-packages: Django and every other dependency are out of reach."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import hostfactory.plugin.client as c; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'pynamodb')]; "
        "print(c.OPERATIONS[0])"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(REPO_ROOT)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stdout.strip() == "getAvailableTemplates", done.stderr


def test_the_client_stays_runnable_on_the_python3_of_older_symphony_hosts():
    """RHEL 8's platform python3 is 3.6: no ``from __future__ import annotations`` (3.7+), and
    every annotation Python evaluates at definition time is a plain name or a string, never
    ``dict[...]`` or ``X | None`` (3.9+, 3.10+)."""
    import ast

    source = (REPO_ROOT / "hostfactory" / "plugin" / "client.py").read_text()
    tree = ast.parse(source, feature_version=(3, 6))
    futures = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names]
    assert "annotations" not in futures
    evaluated = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args.args + node.args.kwonlyargs + [node.args.vararg, node.args.kwarg]
            evaluated += [arg.annotation for arg in arguments if arg is not None] + [node.returns]
        elif isinstance(node, ast.ClassDef | ast.Module):
            evaluated += [item.annotation for item in node.body if isinstance(item, ast.AnnAssign)]
    late = [
        ast.unparse(a)
        for a in evaluated
        if a is not None and not isinstance(a, ast.Name | ast.Attribute | ast.Constant)
    ]
    assert late == [], f"quote these annotations: {late}"


# -- where the client looked, and what it shows --------------------------------------------


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"HF_PROVIDER_CONFDIR": "/opt/hf/conf/providers/hfsvcinst"}, "HF_PROVIDER_NAME is not set"),
        ({"HF_PROVIDER_NAME": "hfsvcinst"}, "HF_PROVIDER_CONFDIR is not set"),
        (
            {"HF_PROVIDER_CONFDIR": "/opt/hf/conf/providers/hfsvcinst", "HF_PROVIDER_NAME": "hfsvcinst"},
            "not found: /opt/hf/conf/providers/hfsvcinst/hfsvcinstprov_config.json",
        ),
    ],
)
def test_a_conf_dir_that_leads_nowhere_is_named_with_the_path_looked_for(capsys, env, words):
    message, _ = failure(capsys, "getAvailableTemplates", env)
    assert "HF_SERVICE_URL" in message and words in message


def test_stderr_shows_the_answer_as_text_not_bytes(capsys, stub, sleeps, input_file):
    stub.answer(400, "machineCount: trop grand — 0".encode())
    _message, err = failure(capsys, "getRequestStatus", {"HF_SERVICE_URL": stub.url, "HF_SERVICE_TOKEN": "t"})
    assert "answer: machineCount: trop grand — 0" in err and "b'" not in err


def test_get_available_templates_sends_the_templates_file_hash_then_its_content_when_asked(capsys, stub, tmp_path):
    text = '{"templates": []}\n'
    (tmp_path / "hfsvcprov_templates.json").write_text(text)
    env = {
        "HF_SERVICE_URL": stub.url,
        "HF_SERVICE_TOKEN": "t",
        "HF_PROVIDER_CONFDIR": str(tmp_path),
        "HF_PROVIDER_NAME": "hfsvc",
    }
    stub.answer(409, {"message": "send it", "code": "templates_file_unknown"})

    message, _ = failure(capsys, "getAvailableTemplates", env)  # the stub keeps asking

    first, second = (json.loads(received.body)["templatesFile"] for received in stub.received)
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert first == {"name": "hfsvcprov_templates.json", "sha256": sha}
    assert second == {"name": "hfsvcprov_templates.json", "sha256": sha, "content": text}
    assert message == "send it"
