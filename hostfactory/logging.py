"""Logs: one line per request, and the request's id on every record made while serving it.

``LOG_FORMAT`` picks the formatter of the one stderr handler (settings.LOGGING): ``plain``, the
default, or ``json`` (python-json-logger, one object per line). ``RequestLogMiddleware`` gives
each request an id (the client's ``X-Request-ID`` when it is a sane token), echoes it in the
answer, keeps it in a context variable that ``RequestContextFilter`` copies onto every record,
and writes the request's one access line on the ``hostfactory.access`` logger. Django's own
response lines (``django.request``, ``django.server``) would say the same again, so
``ResponseAlreadyLogged`` drops them, keeping only an uncaught exception's traceback.

Nothing here reads a header but ``X-Request-ID``, a body, a cookie or a query string, so no
token, password or session reaches the logs through it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS

LOG_FORMATS = ("plain", "json")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# ISO-8601 UTC timestamp, level, logger, message, then the record's extra fields (the request's).
# Django puts the request object itself on its records: never serialised (its repr holds the query).
JSON_FORMATTER = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": ["levelname", "name", "message"],
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": True,
    "reserved_attrs": [*RESERVED_ATTRS, "request"],
}

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept when it is short and safe to print anywhere (no spaces, quotes, commas).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
HOST_FACTORY_URL_PREFIX = "hf-"  # hostfactory/hostfactory_api/urls.py: routes named by their operation

access_logger = logging.getLogger("hostfactory.access")
request_context: ContextVar[dict[str, Any] | None] = ContextVar("hostfactory_request", default=None)


class RequestContextFilter(logging.Filter):
    """On the handler: every record made while a request is served carries its id, method,
    path and operation (a field the record already has wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (request_context.get() or {}).items():
            record.__dict__.setdefault(key, value)
        return True


class ResponseAlreadyLogged(logging.Filter):
    """On ``django.request`` and ``django.server``: their line about a response repeats the
    access line; only a 5xx with a traceback (an exception no view handled) is news."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return status is None or (status >= 500 and record.exc_info is not None)


class RequestLogMiddleware:
    """First in MIDDLEWARE, so its line and duration cover every other middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = {"request_id": request_id(request), "method": request.method, "path": request.path}
        token = request_context.set(context)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = context["request_id"]
            log_request(request, response, context, duration_ms=(time.perf_counter() - started) * 1000)
            return response
        finally:
            request_context.reset(token)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        context = request_context.get()
        if context is not None:
            context["operation"] = operation(request)


def request_id(request: HttpRequest) -> str:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    return sent if SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def operation(request: HttpRequest) -> str | None:
    """The Host Factory operation (``requestMachines``) for its five endpoints, else the URL's
    name (``templates-list``, ``admin:index``)."""
    match = request.resolver_match
    if match is None:
        return None
    if (match.url_name or "").startswith(HOST_FACTORY_URL_PREFIX):
        return match.route.rsplit("/", 1)[-1]
    return match.view_name


def user_name(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    try:
        return user.get_username() if user is not None and user.is_authenticated else None
    except DatabaseError:  # the session could not be read: the line is still written
        return None


def log_request(request: HttpRequest, response: HttpResponse, context: dict[str, Any], duration_ms: float) -> None:
    status = response.status_code
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    fields = {
        **context,
        "operation": context.get("operation"),
        "user": user_name(request),
        "status": status,
        "duration_ms": round(duration_ms, 1),
    }
    access_logger.log(
        level,
        "%s %s %s %.1fms user=%s operation=%s request_id=%s",
        request.method,
        printable(request.path),
        status,
        duration_ms,
        fields["user"] or "-",
        fields["operation"] or "-",
        fields["request_id"],
        extra=fields,
    )


def printable(text: str) -> str:
    """A decoded path may hold a newline: escaped, a client cannot forge a plain log line."""
    return text.encode("unicode_escape").decode("ascii")


def gunicorn_logging(log_format: str) -> dict[str, Any]:
    """gunicorn.conf.py's ``logconfig_dict``: with json, gunicorn's own lines (workers booting,
    timing out) are JSON too; its access line stays off, the application writes its own."""
    if log_format != "json":
        return {}  # gunicorn's own format
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": JSON_FORMATTER},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }
