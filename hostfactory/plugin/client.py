#!/usr/bin/env python3
"""Host Factory provider plugin client: the five scripts call this with their operation.

    client.py OPERATION [-f FILE]      (FILE "-" is stdin; no -f sends {})

POSTs the input JSON to ``<service>/api/v1/hostfactory/OPERATION`` and prints the answer on
stdout (exit 0). On any failure prints ``{"message": "..."}`` on stdout, the details on
stderr, and exits 1: that is all Host Factory reads.

Python standard library only, and nothing from the service's code, so it runs with a plain
``python3`` on a Symphony host. Settings (environment first, then the provider's config file
``$HF_PROVIDER_CONFDIR/<HF_PROVIDER_NAME>prov_config.json``):

    HF_SERVICE_URL          SERVICE_URL          base URL of the service, e.g. https://hf.example.com
    HF_SERVICE_TOKEN        SERVICE_TOKEN        API token (manage.py create_plugin_token NAME)
    HF_SERVICE_TOKEN_FILE   SERVICE_TOKEN_FILE   a file holding the token (instead of the token)
    HF_SERVICE_TIMEOUT      SERVICE_TIMEOUT      seconds per attempt (default 30)
    HF_SERVICE_RETRIES      SERVICE_RETRIES      retries on connection errors and 5xx (default 3)
    HF_SERVICE_CA_FILE      SERVICE_CA_FILE      CA bundle for a private certificate authority

getAvailableTemplates also sends the provider instance's templates file
``$HF_PROVIDER_CONFDIR/<HF_PROVIDER_NAME>prov_templates.json`` when it exists: its sha256,
then its content when the service answers that it has not loaded that version (used when the
service's HOSTFACTORY_TEMPLATES_SOURCE is hostfactory, ignored otherwise).
"""

import argparse
import difflib
import hashlib
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.client import HTTPException
from pathlib import Path
from typing import Any, NamedTuple

OPERATIONS = (
    "getAvailableTemplates",
    "requestMachines",
    "requestReturnMachines",
    "getRequestStatus",
    "getReturnRequests",
)
# Safe to send again after a timeout: they create nothing. requestMachines and
# requestReturnMachines are retried only when the service surely did not act on them.
READ_ONLY = frozenset({"getAvailableTemplates", "getRequestStatus", "getReturnRequests"})
ENDPOINT = "/api/v1/hostfactory/"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
BACKOFF_SECONDS = 0.5  # doubled after each attempt: 0.5, 1, 2, ...
MAX_BACKOFF_SECONDS = 8.0
USER_AGENT = "hostfactory-plugin-client/1"
KNOWN_MESSAGE_KEYS = ("message", "detail")
SEND_TEMPLATES_FILE = "templates_file_unknown"
# Settings a provider config file may hold; any other key is reported as a likely typo.
CONFIG_KEYS = (
    "SERVICE_URL",
    "SERVICE_TOKEN",
    "SERVICE_TOKEN_FILE",
    "SERVICE_TIMEOUT",
    "SERVICE_RETRIES",
    "SERVICE_CA_FILE",
    "LOG_LEVEL",
)


class ClientError(Exception):
    """A failure to report: ``message`` goes to Host Factory (stdout), ``details`` to stderr."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SendTemplatesFile(ClientError):
    """The service has not loaded the templates file whose hash we sent: send its content."""


class Config(NamedTuple):
    url: str
    token: str
    timeout: float
    retries: int
    ca_file: "str | None"


# -- configuration -------------------------------------------------------------------------


def load_config(env: "Mapping[str, str]") -> Config:
    file_settings, file_path = provider_config(env)

    def setting(name: str) -> "str | None":
        return env.get(f"HF_{name}") or _text(file_settings.get(name))

    url = setting("SERVICE_URL")
    if not url:
        where = f"the provider config ({file_path})"
        raise ClientError(f"the service URL is not set: set HF_SERVICE_URL, or SERVICE_URL in {where}")
    if not url.startswith(("http://", "https://")):
        raise ClientError(f"HF_SERVICE_URL must start with http:// or https://, got {url!r}")
    token = env.get("HF_SERVICE_TOKEN") or _token_from_file(env.get("HF_SERVICE_TOKEN_FILE"))
    token = (
        token
        or _text(file_settings.get("SERVICE_TOKEN"))
        or _token_from_file(config_token_file(file_settings, file_path))
    )
    if not token:
        raise ClientError(
            "the API token is not set: set HF_SERVICE_TOKEN or HF_SERVICE_TOKEN_FILE, or SERVICE_TOKEN_FILE in the "
            f"provider config ({file_path})"
        )
    return Config(
        url=url.rstrip("/"),
        token=token,
        timeout=_number("SERVICE_TIMEOUT", setting("SERVICE_TIMEOUT"), DEFAULT_TIMEOUT, float, 0.1, 600),
        retries=_number("SERVICE_RETRIES", setting("SERVICE_RETRIES"), DEFAULT_RETRIES, int, 0, 10),
        ca_file=setting("SERVICE_CA_FILE"),
    )


def provider_config(env: "Mapping[str, str]") -> "tuple[dict[str, Any], str | None]":
    """The provider instance's config file, when Host Factory names one and it exists; else
    ``{}`` and a note of where we looked (for the error messages)."""
    path, note = conf_path(env, "config")
    if path is None or not path.is_file():
        return {}, note or f"not found: {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ClientError(f"cannot read the provider config {path}: {error}") from None
    if not isinstance(data, dict):
        raise ClientError(f"the provider config {path} must hold a JSON object")
    return data, str(path)


def conf_path(env: "Mapping[str, str]", kind: str) -> "tuple[Path | None, str | None]":
    """``$HF_PROVIDER_CONFDIR/<HF_PROVIDER_NAME>prov_<kind>.json``, or None and why not."""
    confdir, provider = env.get("HF_PROVIDER_CONFDIR"), env.get("HF_PROVIDER_NAME")
    if not confdir and not provider:
        return None, "HF_PROVIDER_CONFDIR and HF_PROVIDER_NAME are not set"
    if not confdir or not provider:
        missing = "HF_PROVIDER_CONFDIR" if not confdir else "HF_PROVIDER_NAME"
        return None, f"{missing} is not set"
    return Path(confdir) / f"{provider}prov_{kind}.json", None


def config_token_file(file_settings: "dict[str, Any]", file_path: "str | None") -> "str | None":
    """SERVICE_TOKEN_FILE of the provider config; a relative path is read beside that file."""
    value = _text(file_settings.get("SERVICE_TOKEN_FILE"))
    if value and file_path and Path(file_path).is_file() and not Path(value).is_absolute():
        return str(Path(file_path).parent / value)
    return value


def _text(value: Any) -> "str | None":
    return str(value) if value not in (None, "") else None


def _token_from_file(path: Any) -> "str | None":
    if not path:
        return None
    try:
        return Path(str(path)).read_text(encoding="utf-8").strip() or None
    except OSError as error:
        raise ClientError(f"cannot read the token file {path}: {error.strerror or error}") from None


def _number(name: str, value: "str | None", default: float, kind: type, low: float, high: float) -> Any:
    if value is None:
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ClientError(f"HF_{name} must be a number {low}..{high}, got {value!r}")
    return number


# -- input ---------------------------------------------------------------------------------


def read_input(path: "str | None") -> bytes:
    """The input document, checked to be JSON here so a bad file is named as such."""
    if path is None:
        return b"{}"
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ClientError(f"cannot read the input file {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as error:
        raise ClientError(f"the input file {path} is not valid JSON: {error}") from None
    return json.dumps(data).encode("utf-8")


def templates_file(env: "Mapping[str, str]") -> "dict[str, str] | None":
    """The conf-dir templates file as getAvailableTemplates sends it (name, sha256, text)."""
    path, _note = conf_path(env, "templates")
    if path is None or not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise ClientError(f"cannot read the templates file {path}: {reason}") from None
    return {"name": path.name, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "content": text}


def get_available_templates(config: Config, env: "Mapping[str, str]", body: bytes) -> "dict[str, Any]":
    """Send the templates file's hash; its content only when the service asks for it."""
    sent = templates_file(env)
    if sent is None:
        return call(config, "getAvailableTemplates", body)
    data = json.loads(body.decode("utf-8"))
    data["templatesFile"] = {"name": sent["name"], "sha256": sent["sha256"]}
    try:
        return call(config, "getAvailableTemplates", json.dumps(data).encode("utf-8"))
    except SendTemplatesFile:
        log(f"the service asked for {sent['name']}: sending it")
    data["templatesFile"] = sent
    return call(config, "getAvailableTemplates", json.dumps(data).encode("utf-8"))


# -- the call ------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would arrive as a GET without its body; report it instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def call(
    config: Config, operation: str, body: bytes, sleep: "Callable[[float], None] | None" = None
) -> "dict[str, Any]":
    """POST ``body``; retry connection errors and 5xx with back-off; the answer as a dict."""
    sleep = sleep or time.sleep
    url = config.url + ENDPOINT + operation
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Token {config.token}",
            "User-Agent": USER_AGENT,
        },
    )
    context = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
    opener = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))
    attempts = config.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with opener.open(request, timeout=config.timeout) as response:
                return _answer(response.status, response.read(), url)
        except urllib.error.HTTPError as error:
            failure = _http_failure(error, url, attempt)
            retry = error.code >= 500
        except (urllib.error.URLError, HTTPException, OSError) as error:
            failure, timed_out = _connection_failure(error, url, config.timeout, attempt)
            # After a timeout the service may have acted: only read-only calls go again.
            retry = not timed_out or operation in READ_ONLY
        if not retry or attempt == attempts:
            raise failure
        delay = min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        log(f"{failure.details}; retrying in {delay:g}s (attempt {attempt + 1} of {attempts})")
        sleep(delay)
    raise AssertionError("unreachable")


def _answer(status: int, raw: bytes, url: str) -> "dict[str, Any]":
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise ClientError(
            f"the service at {url} answered HTTP {status} with something that is not a JSON object",
            f"first bytes of the answer: {_text_of(raw, 200)}",
        )
    return data


def _server_json(raw: bytes) -> "dict[str, Any]":
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _server_message(raw: bytes) -> str:
    data = _server_json(raw)
    for key in KNOWN_MESSAGE_KEYS:
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return ""


def _text_of(raw: bytes, limit: int) -> str:
    """An answer's first bytes as text for stderr (never a b'...' repr)."""
    return raw[:limit].decode("utf-8", errors="replace")


def _http_failure(error: urllib.error.HTTPError, url: str, attempt: int) -> ClientError:
    code = error.code
    try:
        raw = error.read()
    except (OSError, HTTPException):
        raw = b""
    said = _server_message(raw)
    details = f"POST {url}: HTTP {code} (attempt {attempt}); answer: {_text_of(raw, 500)}"
    if code == 409 and _server_json(raw).get("code") == SEND_TEMPLATES_FILE:
        return SendTemplatesFile(said, details)
    if 300 <= code < 400:
        where = error.headers.get("Location", "?")
        message = f"the service redirected to {where}; set HF_SERVICE_URL to the final address (https?)"
    elif code == 401:
        message = f"authentication failed ({said or 'HTTP 401'}): check HF_SERVICE_TOKEN"
    elif code == 403:
        message = f"permission denied ({said or 'HTTP 403'}): the token's user needs the hostfactory-plugins group"
    elif code == 404:
        message = f"no Host Factory endpoint at {url} (HTTP 404): check HF_SERVICE_URL"
    elif code >= 500:
        message = f"the Host Factory service failed (HTTP {code}){': ' + said if said else ''}; try again later"
    else:
        message = said or f"the Host Factory service refused the call (HTTP {code})"
    return ClientError(message, details)


def _connection_failure(error: Exception, url: str, timeout: float, attempt: int) -> "tuple[ClientError, bool]":
    reason = getattr(error, "reason", error)
    timed_out = isinstance(reason, (TimeoutError, socket.timeout))
    details = f"POST {url}: {type(reason).__name__}: {reason} (attempt {attempt})"
    if timed_out:
        return ClientError(f"the Host Factory service at {url} did not answer within {timeout:g}s", details), True
    return ClientError(f"cannot reach the Host Factory service at {url}: {reason}", details), False


# -- check (scripts/check.sh): what works, and what to fix --------------------------------


def check(env: "Mapping[str, str]") -> int:
    """Report, for the administrator, each part of the installation; exit 1 if one fails."""
    failed = False

    def report(level: str, text: str) -> None:
        nonlocal failed
        failed = failed or level == "error"
        print(f"{level}: {text}", flush=True)

    try:
        file_settings, file_path = provider_config(env)
    except ClientError as error:
        report("error", error.message)
        return 1
    report("ok" if Path(str(file_path)).is_file() else "warning", f"provider config: {file_path}")
    for key in sorted(set(file_settings) - set(CONFIG_KEYS)):
        close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(CONFIG_KEYS)}"
        report("warning", f"{file_path}: unknown key {key!r}{hint}")
    token_file = env.get("HF_SERVICE_TOKEN_FILE") or config_token_file(file_settings, file_path)
    if token_file and Path(token_file).is_file() and Path(token_file).stat().st_mode & 0o077:
        mode = oct(Path(token_file).stat().st_mode & 0o777)
        report("warning", f"the token file {token_file} is readable by others ({mode}): chmod 600 {token_file}")
    templates, _note = conf_path(env, "templates")
    if templates is not None:
        found = templates.is_file()
        report("ok" if found else "warning", f"templates file: {templates}{'' if found else ' (not found)'}")
    try:
        config = load_config(env)
        report("ok", f"service URL {config.url}, token set")
        answer = get_available_templates(config, env, b"{}")
    except ClientError as error:
        report("error", error.message)
        return 1
    offered = answer.get("templates") if isinstance(answer.get("templates"), list) else []
    report("ok", f"getAvailableTemplates answered: {len(offered)} templates offered")
    return 1 if failed else 0


# -- main ----------------------------------------------------------------------------------


def log(text: str) -> None:
    """Diagnostics go to stderr; stdout belongs to Host Factory."""
    print(f"hostfactory-plugin: {text}", file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2 with text on stderr
        raise ClientError(f"bad arguments: {message}; usage: {self.format_usage().strip()}")


def parse_args(argv: "list[str]") -> argparse.Namespace:
    parser = _Parser(prog="client.py", description="Host Factory provider plugin client.")
    parser.add_argument("operation", choices=(*OPERATIONS, "check"))
    parser.add_argument("-f", "--file", help="input JSON file from Host Factory ('-' for stdin)")
    return parser.parse_args(argv)


def main(argv: "list[str] | None" = None, env: "Mapping[str, str] | None" = None) -> int:
    env = os.environ if env is None else env
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        if args.operation == "check":
            return check(env)
        config, body = load_config(env), read_input(args.file)
        if args.operation == "getAvailableTemplates":
            answer = get_available_templates(config, env, body)
        else:
            answer = call(config, args.operation, body)
    except ClientError as error:
        return fail(error.message, error.details)
    except Exception as error:  # never a traceback on stdout, never exit 0 on an error
        return fail(f"unexpected client error: {type(error).__name__}: {error}", "")
    print(json.dumps(answer), flush=True)
    return 0


def fail(message: str, details: str) -> int:
    log(f"{message}{' | ' + details if details else ''}")
    print(json.dumps({"message": message}), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
