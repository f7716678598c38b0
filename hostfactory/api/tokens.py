"""API tokens for Host Factory plugins and provisioners (``manage.py create_plugin_token``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from hostfactory.errors import DomainValidationError, NotFound
from hostfactory.groups import TOKEN_ROLES


@dataclass(frozen=True)
class PluginToken:
    username: str
    key: str
    user_created: bool
    token_created: bool
    group: str


def plugin_token_issue(*, username: str, rotate: bool = False, role: str = "plugin") -> PluginToken:
    """The token of user ``username`` in the group of ``role`` (plugin: the Host Factory
    scripts; provisioner: an outside provisioner): user and token are created when missing and
    reused otherwise (so re-running a setup script does not break a deployed plugin), or
    replaced with ``rotate``. A user is in one role at a time: issuing another role moves it.
    A plugin user has no password: it logs in by token only."""
    users = get_user_model()
    try:
        users.username_validator(username)
    except ValidationError as error:
        raise DomainValidationError("NAME", " ".join(error.messages)) from None
    if role not in TOKEN_ROLES:
        raise DomainValidationError("--role", f"must be one of {', '.join(TOKEN_ROLES)}, got {role!r}")
    group = Group.objects.filter(name=TOKEN_ROLES[role]).first()
    if group is None:
        raise NotFound(f"group {TOKEN_ROLES[role]!r} does not exist; run 'manage.py migrate' first")
    with transaction.atomic():
        user, user_created = users.objects.get_or_create(username=username)
        if user_created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.remove(*Group.objects.filter(name__in=TOKEN_ROLES.values()).exclude(pk=group.pk))
        user.groups.add(group)
        if rotate:
            Token.objects.filter(user=user).delete()
        token, token_created = Token.objects.get_or_create(user=user)
    return PluginToken(
        username=username, key=token.key, user_created=user_created, token_created=token_created, group=group.name
    )
