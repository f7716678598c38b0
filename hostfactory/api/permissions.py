"""Django's own permissions on the table-less aggregate models, checked per action.

DRF's ``DjangoModelPermissions`` needs a queryset, and ours are always empty, so this class
asks ``user.has_perm("<app>.<action>_<model>")`` directly. The same groups then govern the
API and the admin.
"""

from __future__ import annotations

from django.db import models
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

ACTION_BY_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def permission_name(model: type[models.Model], action: str) -> str:
    """``"templates_app.view_template"`` for ``(Template, "view")``."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class AggregatePermission(BasePermission):
    """The view's ``permission_model`` permission for the HTTP method, or for the viewset
    action when the view names it in ``permission_actions`` (a POST that only reads, such as
    a search, needs ``view``; a status change needs ``change``)."""

    message = "You do not have permission to do this; ask an operator for the right group."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.user.has_perm(self.required(request, view))

    @staticmethod
    def required(request: Request, view: APIView) -> str:
        action = getattr(view, "permission_actions", {}).get(getattr(view, "action", None))
        action = action or ACTION_BY_METHOD.get(request.method, "change")
        return permission_name(view.permission_model, action)


class CallHostFactory(BasePermission):
    """The Host Factory endpoints: ``requests_app.call_hostfactory`` (group hostfactory-plugins)."""

    permission = "requests_app.call_hostfactory"
    message = "You do not have permission to call the Host Factory endpoints (requests_app.call_hostfactory)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(self.permission))
