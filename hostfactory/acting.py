"""Names who acts for each HTTP request, for the event history (hostfactory/storage/history.py):
the channel from the URL, the user as authenticated (read when an event is made, because DRF
authenticates a token only inside the view)."""

from __future__ import annotations

from django.http import HttpRequest

from hostfactory.storage.history import acting

HOSTFACTORY_PREFIX = "/api/v1/hostfactory/"


def channel_of(path: str) -> tuple[str, str]:
    """``(channel, reason)`` of a request path."""
    if path.startswith("/admin/"):
        return "admin", ""
    if path.startswith(HOSTFACTORY_PREFIX):
        return "hostfactory", path[len(HOSTFACTORY_PREFIX) :].strip("/")  # the operation's name
    return "api", ""


class ActingMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        channel, reason = channel_of(request.path)
        if channel == "api":
            reason = f"{request.method} {request.path}"[:200]
        with acting(channel, actor=lambda: _user_name(request), reason=reason):
            return self.get_response(request)


def _user_name(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    return user.get_username() if user is not None and user.is_authenticated else ""
