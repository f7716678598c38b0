"""Template services: loading and exporting Host Factory templates files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache

from hostfactory.errors import DomainValidationError, HostFactoryError, InUse
from hostfactory.services import get_or_404, update_with_retry
from templates_app.domain import FILE_FIELDS, Template

if TYPE_CHECKING:
    from hostfactory.storage import Repositories
    from hostfactory.storage.config import StorageConfig


# What the configured provider needs of a template to launch it, registered by the provider
# layer (hostfactory.apps): a template it cannot launch is refused when loaded or saved. The
# providers depend on this app, not the reverse.
launch_checks: list[Callable[[Template], None]] = []


def check_launchable(template: Template) -> None:
    """DomainValidationError naming the field when the configured provider cannot launch it."""
    for check in launch_checks:
        check(template)


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


@dataclass(frozen=True)
class TemplateProblem:
    """Why one template of a file is refused: where it is, the field, and what is allowed."""

    position: int
    template_id: str | None
    field: str
    rule: str

    def __str__(self) -> str:
        name = f" ({self.template_id!r})" if self.template_id is not None else ""
        return f"template #{self.position}{name}: {self.field}: {self.rule}"


@dataclass
class CheckedTemplates:
    """Every template of a file, checked: the ones that may be loaded, and the rest."""

    source: str
    valid: list[Template] = field(default_factory=list)
    problems: list[TemplateProblem] = field(default_factory=list)

    def report(self) -> str:
        total = len(self.valid) + len(self.problems)
        lines = [f"{self.source}: {len(self.problems)} of {total} templates refused:"]
        return "\n".join([*lines, *(f"  {problem}" for problem in self.problems)])


# Our field names as a templates file spells them, so a problem names what the file says.
FILE_NAMES = {name: key for key, name in FILE_FIELDS.items()}


def templates_check(data: Any, source: str = "templates file") -> CheckedTemplates:
    """Check every template of a ``{"templates": [...]}`` document (the domain's rules, and
    that the configured provider can launch it); one bad template never hides the next."""
    if not isinstance(data, dict) or not isinstance(data.get("templates"), list):
        raise TemplateFileError(f'{source}: must be an object with a "templates" list')
    checked, seen = CheckedTemplates(source=source), set()
    for position, item in enumerate(data["templates"], start=1):
        template_id = item.get("templateId") if isinstance(item, dict) else None
        try:
            template = Template.from_hostfactory(item)
            check_launchable(template)
        except DomainValidationError as error:
            checked.problems.append(TemplateProblem(position, template_id, _file_name(error.field), error.rule))
            continue
        if template.template_id in seen:
            checked.problems.append(TemplateProblem(position, template_id, "templateId", "appears twice in the file"))
            continue
        seen.add(template.template_id)
        checked.valid.append(template)
    return checked


def _file_name(field_name: str) -> str:
    head, _, rest = field_name.partition(".")
    if head == "provider_config" and rest:
        return rest
    return FILE_NAMES.get(head, head) + (f".{rest}" if rest else "")


def templates_parse(data: Any, source: str = "templates file") -> list[Template]:
    """Every template of the document, all valid, or a TemplateFileError listing every
    problem (template position and id, field, what is allowed)."""
    checked = templates_check(data, source)
    if checked.problems:
        raise TemplateFileError(checked.report())
    return checked.valid


def templates_read_file(path: str | Path) -> list[Template]:
    return templates_parse(templates_read_json(path), source=str(path))


def templates_read_json(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateFileError(f"{path}: cannot read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise TemplateFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    return templates_json(text, source=str(path))


def templates_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TemplateFileError(
            f"{source}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None


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


# -- templates from Host Factory's conf dir (HOSTFACTORY_TEMPLATES_SOURCE=hostfactory) ----------

TEMPLATES_SOURCES = ("service", "hostfactory")
# The sha256 of the last templates file loaded. A cache miss (another process, a restart)
# only costs one more round trip: the plugin sends the content and an unchanged file loads
# as "unchanged", so correctness never depends on the cache.
TEMPLATES_FILE_CACHE_KEY = "hostfactory:templates-file-sha256"


class TemplatesFileUnknown(HostFactoryError):
    """The plugin sent the hash of a templates file the service has not loaded: send it."""

    code = "templates_file_unknown"


def templates_source() -> str:
    return getattr(settings, "HOSTFACTORY_TEMPLATES_SOURCE", "service")


def templates_file_sync(*, repos: Repositories, name: str, sha256: str, content: str | None) -> LoadReport | None:
    """Make the template store hold the templates file Host Factory has. Known hash: nothing
    to do (None). Unknown hash without content: TemplatesFileUnknown. With content: the
    checks of load_templates, then a replace load (templates the file no longer has go,
    refused with nothing written while something uses them)."""
    if cache.get(TEMPLATES_FILE_CACHE_KEY) == sha256:
        return None
    if content is None:
        raise TemplatesFileUnknown(f"{name}: the service has not loaded this version ({sha256[:12]}); send it")
    if hashlib.sha256(content.encode("utf-8")).hexdigest() != sha256:
        raise TemplateFileError(f"{name}: content does not match its sha256 {sha256[:12]}...; send both again")
    templates = templates_parse(templates_json(content, source=name), source=name)
    report = templates_load(repos=repos, templates=templates, replace=True)
    cache.set(TEMPLATES_FILE_CACHE_KEY, sha256, timeout=None)
    return report


def template_create(*, repos: Repositories, template: Template) -> Template:
    """Store a new template; VersionConflict when the id is taken."""
    check_launchable(template)
    return repos.templates.save(template.replace(version=0, created_at=None, updated_at=None))


def template_update(*, repos: Repositories, template: Template) -> Template:
    """Store ``template`` over the stored one of the same ``version`` (stale: VersionConflict)."""
    get_or_404(repos.templates, template.template_id)
    check_launchable(template)
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
