"""The direction of the arrows (docs/architecture.md), read from the code's imports (ast).

templates_app <- requests_app <- machines_app <- hostfactory.fleet <- the edges (REST API,
Host Factory API, admin, commands, providers). The domain imports no framework and no
service; the storage facade imports no service; cloud SDKs stay in the providers (and the
DynamoDB backend); providers use the services, never the reverse.

A rule marked xfail(strict=True) does not hold yet: it holds once the storage and services
redesign lands, and then its strict xfail fails, which is the signal to drop the mark.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hostfactory", "templates_app", "requests_app", "machines_app")
AFTER_REDESIGN = "holds once the storage and services redesign (hostfactory/fleet) lands"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    in_function: bool  # inside a def: deferred to call time
    type_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        where = " (in a function)" if self.in_function else ""
        return f"{self.module}:{self.line} imports {self.target}{where}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


class ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: str, package: str) -> None:
        self.module, self.package = module, package
        self.found: list[Import] = []
        self.functions = 0
        self.type_checking = 0

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        guarded = isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)

    def add(self, target: str, line: int) -> None:
        self.found.append(Import(self.module, target, line, self.functions > 0, self.type_checking > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolve against the importing package
            base = self.package.rsplit(".", node.level - 1)[0] if node.level > 1 else self.package
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        self.add(target, node.lineno)
        for alias in node.names:  # "from pkg import module" imports pkg.module
            if (ROOT / Path(*target.split("."), f"{alias.name}.py")).exists():
                self.add(f"{target}.{alias.name}", node.lineno)


def all_imports() -> list[Import]:
    found = []
    for path in source_files():
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        visitor = ImportVisitor(module, package)
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        found.extend(visitor.found)
    return found


IMPORTS = all_imports()


def under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def runtime_imports(*, of: tuple[str, ...], to: tuple[str, ...]) -> list[str]:
    """What modules under ``of`` import at run time (TYPE_CHECKING-only imports aside) from
    modules under ``to``."""
    return [str(i) for i in IMPORTS if under(i.module, *of) and under(i.target, *to) and not i.type_only]


def is_domain(module: str) -> bool:
    return module == "hostfactory.domain" or (module.endswith(".domain") and module.count(".") == 1)


def test_the_rules_see_the_imports():
    """The reader finds what it must (so no rule below passes on an empty list)."""
    assert len(source_files()) > 50
    pairs = {(i.module, i.target) for i in IMPORTS}
    assert ("hostfactory.providers.aws.sync", "hostfactory.fleet.machines") in pairs
    assert ("hostfactory.admin", "hostfactory.admin.model_admin") in pairs


def test_templates_app_imports_neither_requests_app_nor_machines_app_outside_its_services():
    found = runtime_imports(of=("templates_app",), to=("requests_app", "machines_app"))
    assert [line for line in found if not line.startswith("templates_app.services:")] == []


def test_templates_app_imports_neither_requests_app_nor_machines_app():
    assert runtime_imports(of=("templates_app",), to=("requests_app", "machines_app")) == []


# A request's edges show its machines, as Host Factory sees them: its admin page and
# GET /requests/<id>/machines/ (docs/architecture.md). Nothing else of requests_app may.
REQUEST_EDGES = ("requests_app.admin", "requests_app.views")


def test_requests_app_imports_machines_app_only_in_the_edges_that_show_a_requests_machines():
    found = runtime_imports(of=("requests_app",), to=("machines_app",))
    assert [line for line in found if not line.startswith(tuple(f"{edge}:" for edge in REQUEST_EDGES))] == []


def test_domain_modules_import_no_framework_no_storage_and_no_service():
    framework = ("django", "rest_framework", "drf_spectacular", "pynamodb", "boto3", "botocore")
    domains = [i for i in IMPORTS if is_domain(i.module) and not i.type_only]
    assert domains, "no domain module found"
    wrong = [
        str(i)
        for i in domains
        if under(i.target, *framework) or i.target.endswith(".services") or under(i.target, "hostfactory.storage")
    ]
    assert wrong == []


def test_cloud_sdks_stay_in_the_providers_and_the_dynamodb_backend():
    sdk = [str(i) for i in IMPORTS if under(i.target, "boto3", "botocore")]
    assert sdk, "no SDK import found at all"
    assert [line for line in sdk if not under(line.split(":")[0], "hostfactory.providers", "hostfactory.storage")] == []


def test_providers_use_the_services_never_the_reverse():
    inner = ("templates_app", "requests_app", "machines_app", "hostfactory.storage", "hostfactory.fleet")
    inner_modules = {i.module for i in IMPORTS if under(i.module, *inner)}
    assert [str(i) for i in IMPORTS if i.module in inner_modules and under(i.target, "hostfactory.providers")] == []
    assert (
        runtime_imports(of=("hostfactory.services", "hostfactory.hostfactory_api"), to=("hostfactory.providers",)) == []
    )


def test_the_storage_facade_imports_no_service():
    found = [str(i) for i in IMPORTS if under(i.module, "hostfactory.storage") and i.target.endswith(".services")]
    assert found == []


# Modules whose function-level imports were checked to be no cycle dodge: the admin, the
# forms and serializers, the field and filter declarations, the cloud sync.
CHECKED_FOR_DEFERRED_IMPORTS = (
    "hostfactory.admin",
    "hostfactory.api.fields",
    "hostfactory.domain",
    "hostfactory.providers.aws",
    "hostfactory.hostfactory_api.serializers",
    "hostfactory.management.commands.sync_machines",
    "templates_app.domain",
    "requests_app.domain",
    "machines_app.domain",
    "templates_app.filters",
    "requests_app.filters",
    "machines_app.filters",
    "templates_app.forms",
    "requests_app.forms",
    "machines_app.forms",
    "templates_app.serializers",
    "requests_app.serializers",
    "machines_app.serializers",
    "templates_app.admin",
    "requests_app.admin",
    "machines_app.admin",
)


def test_no_function_level_import_dodges_a_cycle_in_the_modules_checked():
    deferred = [str(i) for i in IMPORTS if i.in_function and under(i.module, *CHECKED_FOR_DEFERRED_IMPORTS)]
    assert deferred == []


def test_no_function_level_import_dodges_a_cycle_anywhere():
    project = [i for i in IMPORTS if i.in_function and under(i.target, *PACKAGES)]
    allowed = {
        # The backend is chosen by setting: an installation on memory never loads PynamoDB.
        *(
            ("hostfactory.storage", f"{app}.storage.{backend}")
            for app in PACKAGES[1:]
            for backend in ("memory", "dynamodb")
        ),
        # Chosen by setting, so an installation without AWS never imports boto3.
        ("hostfactory.providers", "hostfactory.providers.aws"),
        ("hostfactory.providers", "hostfactory.providers.none"),
        # AppConfig.ready: Django's documented place to register checks and signals.
        ("hostfactory.apps", "hostfactory"),
        ("hostfactory.apps", "hostfactory.checks"),
        ("hostfactory.apps", "hostfactory.groups"),
        ("hostfactory.apps", "hostfactory.providers"),
        ("hostfactory.apps", "hostfactory.providers.checks"),
        ("hostfactory.apps", "templates_app.services"),
        ("templates_app.apps", "hostfactory.storage"),
        ("templates_app.apps", "templates_app.services"),
    }
    assert [str(i) for i in project if (i.module, i.target) not in allowed] == []
