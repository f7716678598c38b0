"""Template services: loading and exporting Host Factory templates files."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostfactory.errors import DomainValidationError, HostFactoryError, InUse
from hostfactory.services import get_or_404, update_with_retry
from templates_app.domain import Template

if TYPE_CHECKING:
    from hostfactory.storage import Repositories
    from hostfactory.storage.config import StorageConfig


class TemplateFileError(HostFactoryError):
    """A templates file that cannot be read or holds an invalid template."""

    code = "invalid_templates_file"


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} deleted"
        )


def templates_parse(data: Any, source: str = "templates file") -> list[Template]:
    """Every template of a ``{"templates": [...]}`` document, all validated, or an error
    naming the first bad template (by position and id) and field."""
    if not isinstance(data, dict) or not isinstance(data.get("templates"), list):
        raise TemplateFileError(f'{source}: must be an object with a "templates" list')
    templates, seen = [], set()
    for position, item in enumerate(data["templates"], start=1):
        label = f"{source}: template #{position}"
        if isinstance(item, dict) and "templateId" in item:
            label += f" ({item['templateId']!r})"
        try:
            template = Template.from_hostfactory(item)
        except DomainValidationError as error:
            raise TemplateFileError(f"{label}: {error}") from None
        if template.template_id in seen:
            raise TemplateFileError(f"{label}: templateId {template.template_id!r} appears twice")
        seen.add(template.template_id)
        templates.append(template)
    return templates


def templates_read_file(path: str | Path) -> list[Template]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateFileError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise TemplateFileError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    return templates_parse(data, source=str(path))


def templates_load(
    *,
    repos: Repositories,
    templates: list[Template],
    replace: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Create or update ``templates`` (already validated); with ``replace`` delete the rest.

    The whole plan is made before the first write, so a template that ``replace`` may not
    delete (active requests or live machines use it) stops the load with nothing written.
    ``progress(done, total)`` is called after each write.
    """
    report, writes = LoadReport(), []
    for template in templates:
        current = repos.templates.get_by_id(template.template_id)
        if current is None:
            report.created.append(template.template_id)
            writes.append(template)
        elif _content(current) == _content(template):
            report.unchanged.append(template.template_id)
        else:
            report.updated.append(template.template_id)
            writes.append(template.replace(version=current.version, created_at=current.created_at))
    if replace:
        wanted = {template.template_id for template in templates}
        report.deleted = sorted(t.template_id for t in repos.templates.get_all() if t.template_id not in wanted)
        _refuse_in_use(repos=repos, template_ids=report.deleted, advice="keep it in the file or disable it")
    if dry_run:
        return report
    total = len(writes) + len(report.deleted)
    for done, template in enumerate(writes, start=1):
        repos.templates.save(template)
        if progress:
            progress(done, total)
    for done, template_id in enumerate(report.deleted, start=len(writes) + 1):
        repos.templates.delete(template_id)
        if progress:
            progress(done, total)
    return report


def templates_load_file(
    *, repos: Repositories, path: str | Path, replace: bool = False, dry_run: bool = False
) -> LoadReport:
    return templates_load(repos=repos, templates=templates_read_file(path), replace=replace, dry_run=dry_run)


def templates_export(*, repos: Repositories) -> dict[str, Any]:
    templates = sorted(repos.templates.get_all(), key=lambda t: t.template_id)
    return {"templates": [template.to_hostfactory() for template in templates]}


def _content(template: Template) -> dict[str, Any]:
    return template.to_hostfactory()


def template_create(*, repos: Repositories, template: Template) -> Template:
    """Store a new template; VersionConflict when the id is taken."""
    return repos.templates.save(template.replace(version=0, created_at=None, updated_at=None))


def template_update(*, repos: Repositories, template: Template) -> Template:
    """Store ``template`` over the stored one of the same ``version`` (stale: VersionConflict)."""
    get_or_404(repos.templates, template.template_id)
    return repos.templates.save(template)


def template_set_enabled(*, repos: Repositories, template_id: str, enabled: bool) -> Template:
    return update_with_retry(repos.templates, template_id, lambda t: t.replace(enabled=enabled))


def template_delete(*, repos: Repositories, template_id: str) -> None:
    """Delete a template nothing uses; InUse names the active requests or live machines."""
    get_or_404(repos.templates, template_id)
    _refuse_in_use(repos=repos, template_ids=[template_id], advice="disable it instead")
    repos.templates.delete(template_id)


def _refuse_in_use(*, repos: Repositories, template_ids: list[str], advice: str) -> None:
    """InUse for the first of ``template_ids`` whose ledger holds hosts (used or reserved).
    Reads the ledgers only; the delete itself is refused atomically too (its condition)."""
    wanted = set(template_ids)
    for template, usage in repos.templates.get_all_with_usage():
        if template.template_id in wanted and usage.used > 0:
            raise InUse(usage.in_use(template.template_id, advice))


def templates_preload(repos: Repositories, config: StorageConfig) -> None:
    """A fresh memory store starts with HOSTFACTORY_TEMPLATES_FILE (a storage build hook)."""
    if config.type == "memory" and config.templates_file:
        templates_load_file(repos=repos, path=config.templates_file)
