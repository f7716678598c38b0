"""/api/schema/ and /api/docs/: drf-spectacular's views, behind authentication, with a login
page for people.

A browser that is not logged in (it asks for ``text/html``) is sent to the admin's login page
and back here after it, instead of a bare "401 Unauthorized" page; a program (it asks for JSON
or YAML, or for nothing in particular) still gets the 401 with ``WWW-Authenticate: Token``. Their
errors are JSON, as everywhere else in the API, not the YAML or HTML their pages are drawn in.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from hostfactory.api import schema  # noqa: F401  (registers the schema's field extension)


def asks_for_html(request) -> bool:
    """True when the client names ``text/html`` itself (a browser's navigation does; ``*/*`` is not enough)."""
    return any((media.main_type, media.sub_type) == ("text", "html") for media in request.accepted_types)


class LoginForPeople:
    """Mixed into an APIView: a person without credentials logs in, then comes back; a
    program gets its error as JSON."""

    def handle_exception(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, NotAuthenticated) and asks_for_html(self.request):
            return redirect_to_login(self.request.get_full_path(), login_url=reverse("admin:login"))
        return super().handle_exception(exc)

    def finalize_response(self, request, response: HttpResponse, *args, **kwargs) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            response.accepted_renderer, response.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return response


class SchemaView(LoginForPeople, SpectacularAPIView):
    pass


class DocsView(LoginForPeople, SpectacularSwaggerSplitView):
    pass
