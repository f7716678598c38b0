"""``manage.py create_plugin_token NAME``: a plugin user and its token, printed alone on stdout."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

MEMORY = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


def create_plugin_token(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_plugin_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@MEMORY
def test_creates_a_plugin_user_whose_token_calls_host_factory(storage, db):
    out, err = create_plugin_token("symphony-aws")

    token = out.strip()
    assert out == token + "\n" and len(token) == 40
    assert "created user 'symphony-aws' in hostfactory-plugins; new token" in err
    user = get_user_model().objects.get(username="symphony-aws")
    assert [g.name for g in user.groups.all()] == ["hostfactory-plugins"] and not user.has_usable_password()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json").status_code == 200
    assert client.delete("/api/v1/templates/any/").status_code == 403


@MEMORY
def test_reuses_the_user_and_token_or_rotates_it(storage, db):
    first, _ = create_plugin_token("symphony-aws")
    again, err = create_plugin_token("symphony-aws")
    assert again == first and "reused user" in err and "existing token" in err

    rotated, _ = create_plugin_token("symphony-aws", "--rotate")
    assert rotated != first
    old = APIClient()
    old.credentials(HTTP_AUTHORIZATION=f"Token {first.strip()}")
    assert old.get("/api/v1/templates/").status_code == 401


def test_a_bad_name_is_refused(db):
    with pytest.raises(CommandError, match="NAME: Enter a valid username"):
        create_plugin_token("no spaces please")
    assert not get_user_model().objects.exists()


@MEMORY
def test_a_provisioner_token_registers_machines_but_cannot_call_host_factory(storage, db):
    out, err = create_plugin_token("aws-launcher", "--role", "provisioner")

    assert "created user 'aws-launcher' in hostfactory-provisioners" in err
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.strip()}")
    assert client.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json").status_code == 403
    assert client.get("/api/v1/machines/").status_code == 200
    assert client.delete("/api/v1/machines/i-any/").status_code == 403
    # Another role moves the user: one role at a time.
    create_plugin_token("aws-launcher", "--role", "plugin")
    user = get_user_model().objects.get(username="aws-launcher")
    assert [g.name for g in user.groups.all()] == ["hostfactory-plugins"]
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        create_plugin_token("aws-launcher", "--role", "admin")


@MEMORY
def test_the_groups_are_reset_to_their_documented_permissions(storage, db):
    """What the roles migration does to an installation made before the split: the plugins
    group loses its REST writes, and existing plugin users keep the Host Factory operations."""
    from django.contrib.auth.models import Group, Permission

    from hostfactory.groups import ensure_groups

    out, _ = create_plugin_token("symphony-aws")
    plugins = Group.objects.get(name="hostfactory-plugins")
    old_writes = Permission.objects.filter(codename__in=["add_request", "change_request", "change_machine"])
    plugins.permissions.add(*old_writes)  # as the group was before
    Group.objects.filter(name="hostfactory-provisioners").delete()

    ensure_groups()

    assert not plugins.permissions.filter(pk__in=old_writes).exists()
    assert Group.objects.get(name="hostfactory-provisioners").permissions.filter(codename="add_machine").exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.strip()}")
    assert client.post("/api/v1/hostfactory/getAvailableTemplates", {}, format="json").status_code == 200
