"""The one exception handler of the API: every error becomes JSON with a stable code.

Resource endpoints answer ``{"detail": ..., "code": ...}`` or ``{field: [messages], "code":
"invalid"}``; the Host Factory endpoints (views with ``error_style = "hostfactory"``) answer
``{"message": ...}`` because that is all Host Factory and its scripts read. An unexpected
exception is logged with its traceback and answered as a JSON 500 that carries none of it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hostfactory import errors

logger = logging.getLogger("hostfactory.api")

# Most specific first: InvalidCursor is an InvalidFilter, both are StorageErrors.
STATUS_BY_ERROR: tuple[tuple[type[errors.HostFactoryError], int], ...] = (
    (errors.DomainValidationError, status.HTTP_400_BAD_REQUEST),
    (errors.InvalidFilter, status.HTTP_400_BAD_REQUEST),
    (errors.NotFound, status.HTTP_404_NOT_FOUND),
    (errors.InvalidTransition, status.HTTP_409_CONFLICT),
    (errors.VersionConflict, status.HTTP_409_CONFLICT),
    (errors.InUse, status.HTTP_409_CONFLICT),
    (errors.RequestClosed, status.HTTP_409_CONFLICT),
    (errors.StorageUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
    (errors.ReturnInFlight, status.HTTP_503_SERVICE_UNAVAILABLE),
)
SERVER_ERROR = "Internal server error; it has been logged. Try again, or tell the service's operators."


class RequestTooLarge(drf_exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is larger than the service accepts (DATA_UPLOAD_MAX_MEMORY_SIZE)."


class BadRequest(drf_exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request was refused as malformed."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's ``EXCEPTION_HANDLER``: maps every exception to a JSON response."""
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # Django answers these 400 too
        exc = BadRequest()
    if isinstance(exc, errors.HostFactoryError):
        response = _domain_error_response(exc)
    else:
        response = drf_exception_handler(exc, context)
        if response is None:
            view = context.get("view")
            logger.exception("unexpected error in %s", type(view).__name__ if view else "an API view")
            response = Response({"detail": SERVER_ERROR, "code": "server_error"}, status=500)
        else:
            response.data = _with_code(exc, response.data)
    if getattr(context.get("view"), "error_style", None) == "hostfactory":
        response.data = {"message": hostfactory_message(response.data)}
    return response


def _domain_error_response(exc: errors.HostFactoryError) -> Response:
    code = next((status_code for kind, status_code in STATUS_BY_ERROR if isinstance(exc, kind)), 400)
    if isinstance(exc, errors.StorageUnavailable):
        logger.warning("storage unavailable: %s", exc)
    if isinstance(exc, errors.DomainValidationError):
        return Response({exc.field: [exc.rule], "code": exc.code}, status=code)
    body: dict[str, Any] = {"detail": str(exc), "code": exc.code}
    if isinstance(exc, errors.InvalidTransition):
        body["allowed"] = exc.allowed
    return Response(body, status=code)


def _with_code(exc: Exception, data: Any) -> dict[str, Any]:
    """DRF's body plus the stable ``code``; a list body (non-field errors) becomes a dict."""
    if isinstance(exc, drf_exceptions.ValidationError):
        body = data if isinstance(data, dict) else {"non_field_errors": data}
        return {**body, "code": "invalid"}
    codes = exc.get_codes() if isinstance(exc, drf_exceptions.APIException) else None
    code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
    body = data if isinstance(data, dict) else {"detail": data}
    return {**body, "code": code}


def hostfactory_message(data: Any) -> str:
    """One line naming every problem: what Host Factory shows its administrator."""
    if isinstance(data, dict):
        if set(data) <= {"detail", "code", "allowed"} and "detail" in data:
            return str(data["detail"])
        parts = [
            f"{key}: {hostfactory_message(value)}" if key != "non_field_errors" else hostfactory_message(value)
            for key, value in data.items()
            if key != "code"
        ]
        return "; ".join(parts)
    if isinstance(data, list):
        return " ".join(hostfactory_message(item) for item in data)
    return str(data)
