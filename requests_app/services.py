"""Request services that touch the request alone. Creating requests, ending them and keeping
them in step with their machines span aggregates: they live in ``hostfactory.fleet``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostfactory.errors import InUse
from hostfactory.services import get_or_404
from requests_app.domain import Request

if TYPE_CHECKING:
    from hostfactory.storage import Repositories


def request_update_message(
    *, repos: Repositories, request_id: str, message: str, version: int | None = None
) -> Request:
    current = get_or_404(repos.requests, request_id)
    return repos.requests.save(
        current.with_message(message).replace(version=current.version if version is None else version)
    )


def request_delete(*, repos: Repositories, request_id: str) -> None:
    """Delete a finished request; an active one is InUse (cancel it first)."""
    request = get_or_404(repos.requests, request_id)
    if request.is_active:
        raise InUse(f"request {request_id} is still {request.status.value}; cancel it first")
    repos.requests.delete(request_id)
