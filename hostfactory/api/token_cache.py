"""What a valid API token resolves to (its token row, its user and the user's permissions),
kept per process for HOSTFACTORY_AUTH_CACHE_SECONDS, so a Host Factory call with a known
token makes no SQL query (docs/security.md "Token cache").

Correctness before speed:

- Only successes are kept. A bad, revoked or disabled token is looked up every time and fed
  to the failed-authentication throttle, as without the cache.
- A change to tokens, users, groups or permissions made in this process (through the ORM,
  the admin, ``create_plugin_token --rotate``) empties the cache at once, and again when its
  transaction commits. Every entry is stored under the generation that was current when its
  look-up began, and an invalidation moves to the next one, so a look-up that read the
  database before a change can never make its old answer visible after it.
- A change made in another process sends no signal here: it takes effect here when the
  entry expires, within HOSTFACTORY_AUTH_CACHE_SECONDS.
- The cache key is a SHA-256 of the token, never the token, and nothing of it is logged.

The entries live in Django's local-memory cache ``CACHES["auth-tokens"]`` (bounded, expiring,
thread-safe); each hit is a private unpickled copy, so no request sees another's objects.
The user's permissions travel with it because ``user.get_all_permissions()`` is called once
before it is stored, and Django's ModelBackend keeps them on the user object ("Permission
caching" in Django's authentication docs).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import caches
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authtoken.models import Token

CACHE = "auth-tokens"


class _Generation:
    """A counter that only grows: entries of older generations are never read again."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def advance(self) -> None:
        with self._lock:
            self.value += 1


_generation = _Generation()


def resolve(key: str, look_up: Callable[[str], tuple]) -> tuple:
    """``look_up(key)``: DRF's ``(user, token)``, or its exception for a bad token. Answered
    from the cache when this process resolved the same token less than
    HOSTFACTORY_AUTH_CACHE_SECONDS ago."""
    seconds = settings.HOSTFACTORY_AUTH_CACHE_SECONDS
    if seconds <= 0:
        return look_up(key)
    cache, name, generation = caches[CACHE], _cache_key(key), _generation.value
    token = cache.get(name, version=generation)
    if token is not None:
        return token.user, token
    user, token = look_up(key)
    user.get_all_permissions()  # loaded once, kept on the user object that is stored
    cache.set(name, token, timeout=seconds, version=generation)
    return user, token


def invalidate(*, using: str | None = None, **_signal) -> None:
    """Forget every resolution: now, and again when the transaction making the change commits
    (until then another thread still reads the old rows, and could store them)."""
    _forget()
    transaction.on_commit(_forget, using=using)


def _forget() -> None:
    _generation.advance()
    caches[CACHE].clear()


def _cache_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _connect() -> None:
    user = get_user_model()
    for model in (Token, user, Group, Permission):
        post_save.connect(invalidate, sender=model, dispatch_uid=f"token-cache-save-{model._meta.label}")
        post_delete.connect(invalidate, sender=model, dispatch_uid=f"token-cache-delete-{model._meta.label}")
    # Either side of each relation sends with the through model as sender.
    for through in (user.groups.through, user.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(invalidate, sender=through, dispatch_uid=f"token-cache-m2m-{through._meta.label}")


# Connected when this module is first imported, by the authentication class: before any entry
# can exist, since entries are only made by resolve() above.
_connect()
