"""Service helpers every app shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hostfactory.domain import Aggregate
from hostfactory.errors import NotFound, VersionConflict
from hostfactory.storage.base import Repository

T = TypeVar("T", bound=Aggregate)
RETRIES = 8


def update_with_retry(repo: Repository[T], entity_id: str, change: Callable[[T], T | None]) -> T:
    """Read, change, save; on a version conflict read again and re-apply ``change``.

    ``change`` returns the new copy, or None when nothing needs saving. Concurrent writers
    are never overwritten: each attempt starts from the stored version.
    """
    for _attempt in range(RETRIES):
        current = repo.get_by_id(entity_id)
        if current is None:
            raise NotFound(f"{repo.aggregate} {entity_id!r} does not exist")
        changed = change(current)
        if changed is None or changed == current:
            return current
        try:
            return repo.save(changed)
        except VersionConflict:
            continue
    raise VersionConflict(f"{repo.aggregate} {entity_id}: changed by others {RETRIES} times in a row; try again")


def get_or_404(repo: Repository[T], entity_id: str) -> T:
    entity = repo.get_by_id(entity_id)
    if entity is None:
        raise NotFound(f"{repo.aggregate} {entity_id!r} does not exist")
    return entity
