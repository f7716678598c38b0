"""The token cache (hostfactory/api/token_cache.py): a Host Factory call with a known token
makes no SQL query, and a revoked token, a deactivated user or a lost permission stops
working at once in the process that made the change, and within
HOSTFACTORY_AUTH_CACHE_SECONDS in any other (simulated here by changes that send no signal)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache.backends import locmem
from django.db import connection
from rest_framework.authentication import TokenAuthentication as DRFTokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hostfactory.api import token_cache
from hostfactory.api.tokens import plugin_token_issue
from hostfactory.groups import PLUGINS
from tests.api.fixtures import add_acquire, add_template

pytestmark = pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)


@pytest.fixture
def poll(storage, settings):
    """A getRequestStatus of one acquire request, as Host Factory sends it every 30 s."""
    settings.HOSTFACTORY_AUTH_CACHE_SECONDS = 30
    add_template(storage, "tpl", max_number=-1)
    request_id = add_acquire(storage, "tpl", count=1).request_id

    def call(client: APIClient):
        body = {"requests": [{"requestId": request_id}]}
        return client.post("/api/v1/hostfactory/getRequestStatus", body, format="json")

    return call


@pytest.fixture
def later(monkeypatch):
    """Moves the clock of the local-memory caches forward by the given seconds."""
    offset = {"seconds": 0.0}
    monkeypatch.setattr(locmem, "time", SimpleNamespace(time=lambda: time.time() + offset["seconds"]))
    return lambda seconds: offset.update(seconds=offset["seconds"] + seconds)


def test_a_known_token_calls_host_factory_without_any_sql_query(poll, plugin, django_assert_num_queries):
    with django_assert_num_queries(3):  # the token and its user, the user's and the groups' permissions
        first = poll(plugin)
    with django_assert_num_queries(0):
        warm = poll(plugin)
    assert first.status_code == warm.status_code == 200
    assert warm.json() == first.json() and warm.json()["requests"][0]["status"] == "running"


def test_each_token_is_resolved_on_its_own(poll, plugin, viewer, django_assert_num_queries):
    poll(plugin)
    with django_assert_num_queries(3):
        assert poll(viewer).status_code == 403  # not the plugin's resolution
    with django_assert_num_queries(0):
        assert poll(viewer).status_code == 403
        assert poll(plugin).status_code == 200


# -- the process that makes the change: at once, through Django's signals -----------------------


def test_a_revoked_token_stops_at_once(poll, plugin):
    assert poll(plugin).status_code == 200
    Token.objects.filter(user=plugin.user).delete()
    assert poll(plugin).status_code == 401


def test_a_rotated_token_stops_at_once(poll, db):
    old = plugin_token_issue(username="symphony").key
    client = APIClient(HTTP_AUTHORIZATION=f"Token {old}")
    assert poll(client).status_code == 200
    new = plugin_token_issue(username="symphony", rotate=True).key
    assert poll(client).status_code == 401
    assert poll(APIClient(HTTP_AUTHORIZATION=f"Token {new}")).status_code == 200


def test_a_deactivated_user_stops_at_once(poll, plugin):
    assert poll(plugin).status_code == 200
    plugin.user.is_active = False
    plugin.user.save()
    assert poll(plugin).status_code == 401


def test_a_user_removed_from_the_group_stops_at_once(poll, plugin):
    assert poll(plugin).status_code == 200
    plugin.user.groups.remove(Group.objects.get(name=PLUGINS))
    assert poll(plugin).status_code == 403


def test_a_group_removed_from_the_user_side_stops_at_once(poll, plugin):
    assert poll(plugin).status_code == 200
    Group.objects.get(name=PLUGINS).user_set.clear()
    assert poll(plugin).status_code == 403


def test_a_permission_taken_from_the_group_stops_at_once(poll, plugin):
    assert poll(plugin).status_code == 200
    call = Permission.objects.get(codename="call_hostfactory")
    Group.objects.get(name=PLUGINS).permissions.remove(call)
    assert poll(plugin).status_code == 403


def test_a_permission_given_to_the_user_works_at_once(poll, viewer):
    assert poll(viewer).status_code == 403
    viewer.user.user_permissions.add(Permission.objects.get(codename="call_hostfactory"))
    assert poll(viewer).status_code == 200


def test_a_change_during_a_look_up_is_not_hidden_by_the_cache(poll, plugin, monkeypatch):
    """A look-up that read the token before a deactivation, and stores after it, must not
    leave the old answer in the cache."""
    original = DRFTokenAuthentication.authenticate_credentials

    def read_then_deactivate(self, key):
        found = original(self, key)
        monkeypatch.setattr(DRFTokenAuthentication, "authenticate_credentials", original)
        plugin.user.is_active = False
        plugin.user.save()  # another thread, between this look-up's read and its store
        return found

    monkeypatch.setattr(DRFTokenAuthentication, "authenticate_credentials", read_then_deactivate)
    assert poll(plugin).status_code == 200  # the call that was already past its check
    assert poll(plugin).status_code == 401


def test_an_answer_stored_before_the_change_commits_is_dropped_when_it_commits(
    poll, plugin, django_capture_on_commit_callbacks
):
    """Until the deactivation commits, another thread still reads the user as active and may
    store that; the commit empties the cache again."""
    key = Token.objects.get(user=plugin.user).key
    before = Token.objects.select_related("user").get(key=key)
    with django_capture_on_commit_callbacks(execute=True):
        plugin.user.is_active = False
        plugin.user.save()
        token_cache.resolve(key, lambda _key: (before.user, before))  # that thread's read, then its store
        assert poll(plugin).status_code == 200  # not committed yet: the old answer, as that thread saw it
    assert poll(plugin).status_code == 401


# -- another process's change (no signal here): within HOSTFACTORY_AUTH_CACHE_SECONDS ------------


def test_a_token_deleted_elsewhere_works_here_for_at_most_the_cache_seconds(poll, plugin, later):
    assert poll(plugin).status_code == 200
    with connection.cursor() as cursor:  # as another process would: no signal reaches this one
        cursor.execute("DELETE FROM authtoken_token WHERE user_id = %s", [plugin.user.pk])
    later(29)
    assert poll(plugin).status_code == 200  # the documented cost of a revocation elsewhere
    later(2)
    assert poll(plugin).status_code == 401


def test_a_user_deactivated_elsewhere_works_here_for_at_most_the_cache_seconds(poll, plugin, later, settings):
    settings.HOSTFACTORY_AUTH_CACHE_SECONDS = 5
    assert poll(plugin).status_code == 200
    type(plugin.user).objects.filter(pk=plugin.user.pk).update(is_active=False)  # no signal
    later(4)
    assert poll(plugin).status_code == 200
    later(2)
    assert poll(plugin).status_code == 401


def test_zero_seconds_turns_the_cache_off(poll, plugin, settings, django_assert_num_queries):
    settings.HOSTFACTORY_AUTH_CACHE_SECONDS = 0
    poll(plugin)
    with django_assert_num_queries(3):
        assert poll(plugin).status_code == 200
    type(plugin.user).objects.filter(pk=plugin.user.pk).update(is_active=False)
    assert poll(plugin).status_code == 401


# -- failures are never cached -------------------------------------------------------------------


def test_failures_are_looked_up_and_counted_every_time(poll, plugin, settings, django_assert_num_queries):
    settings.HOSTFACTORY_AUTH_FAILURES_PER_MINUTE = 3
    assert poll(plugin).status_code == 200
    key = Token.objects.get(user=plugin.user).key
    Token.objects.filter(user=plugin.user).delete()
    revoked = APIClient(REMOTE_ADDR="198.51.100.30", HTTP_AUTHORIZATION=f"Token {key}")
    answers = []
    for _ in range(4):
        with django_assert_num_queries(1):  # the token looked up again, never answered from the cache
            answers.append(poll(revoked).status_code)
    assert answers == [401, 401, 401, 429]
