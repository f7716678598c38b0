"""The repository stands on its own: a bare clone in an empty folder finds everything its tests
need, ``make run`` installs only what serves, the project builds as a wheel that runs, and the
version and the README say what they promise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import hostfactory
from tests.support.samples import SAMPLES

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Spelled in pieces, so that this file does not match itself.
OUTSIDE = ["..", "/shared"], ["parent / ", '"shared"'], ["/work", "/"]


def run(*command: str, cwd: Path, timeout: float = 120, env: dict | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The committed project as a newcomer gets it: a git clone alone in an empty folder."""
    folder = tmp_path_factory.mktemp("empty") / "hostfactory"
    run("git", "clone", "--quiet", str(ROOT), str(folder), cwd=ROOT)
    assert sorted(path.name for path in folder.parent.iterdir()) == ["hostfactory"]
    return folder


def tracked_files() -> list[Path]:
    names = run("git", "ls-files", cwd=ROOT).splitlines()
    return [ROOT / name for name in names if re.search(r"(\.(py|sh|toml|md|txt|json|cfg)|Makefile|^\.ci/.*)$", name)]


def test_no_tracked_file_refers_to_a_path_outside_the_repository():
    needles = ["".join(parts) for parts in OUTSIDE]
    files = tracked_files()
    assert ROOT / "tests" / "support" / "samples.py" in files and ROOT / "Makefile" in files
    offending = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in files
        if path.is_file()
        for needle in needles
        if needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offending == []


def test_every_sample_is_inside_the_repository_and_named_in_sources():
    assert SAMPLES.is_relative_to(ROOT)
    samples = sorted(path.relative_to(SAMPLES).as_posix() for path in SAMPLES.rglob("*.json"))
    assert len(samples) >= 26
    sources = (SAMPLES / "SOURCES.md").read_text(encoding="utf-8")
    for name in samples:
        row = next((line for line in sources.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row, f"{name} is not in SOURCES.md"
        assert re.search(r"https://github\.com/\S+ .*\| Apache-2\.0 \|$", row), row


@pytest.mark.slow
def test_a_bare_clone_finds_every_sample(clone):
    (clone / ".venv").symlink_to(ROOT / ".venv")
    found = run(
        str(clone / ".venv" / "bin" / "python"),
        "-c",
        "from tests.support.samples import OHFP_TEMPLATES, SAMPLES;"
        "print(SAMPLES); print(OHFP_TEMPLATES.is_file()); print(len(list(SAMPLES.rglob('*.json'))))",
        cwd=clone,
    ).split()
    assert found == [str(clone / "tests" / "fixtures" / "hostfactory"), "True", str(len(list(SAMPLES.rglob("*.json"))))]
    passed = run(
        str(clone / ".venv" / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/hostfactory_api/test_conformance.py",
        cwd=clone,
        timeout=300,
    )
    assert re.search(r"\d+ passed", passed) and "failed" not in passed and "skipped" not in passed


def dry_run(target: str, folder: Path) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
    return run("make", "-n", target, cwd=folder, env=env)


def test_make_run_on_a_clone_without_a_venv_installs_the_runtime_requirements_alone(clone):
    without_venv = clone.parent / "without-venv"
    run("git", "clone", "--quiet", str(clone), str(without_venv), cwd=clone.parent)

    commands = dry_run("run", without_venv)

    assert "-m venv .venv" in commands
    assert re.search(r"pip install .*-r requirements\.txt$", commands, re.MULTILINE)
    assert "requirements-dev.txt" not in commands
    assert "manage.py runserver" in commands


def test_make_test_adds_the_dev_requirements_to_the_venv_make_run_made(tmp_path, clone):
    folder = tmp_path / "hostfactory"
    run("git", "clone", "--quiet", str(clone), str(folder), cwd=tmp_path)
    venv = folder / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".runtime-installed").touch()  # as `make run` leaves it

    commands = dry_run("test", folder)

    assert "-m venv" not in commands
    assert re.search(r"pip install .*-r requirements-dev\.txt$", commands, re.MULTILINE)
    assert "-r requirements.txt" not in commands


def test_the_version_is_the_project_version_and_the_changelog_has_it():
    assert re.fullmatch(r"\d+\.\d+\.\d+", PROJECT["version"])
    assert hostfactory.__version__ == PROJECT["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(PROJECT['version'])}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.MULTILINE)


def test_the_licence_is_the_apache_2_text():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) > 170


def test_the_readme_is_short_and_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 250
    commands = [
        line.split("#")[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
        for line in block.splitlines()
    ]
    assert "make run" in commands and "make test" in commands


# -- the wheel ---------------------------------------------------------------------------


@pytest.mark.slow
def test_the_wheel_installs_into_a_clean_venv_and_runs_manage_py_check(tmp_path, clone):
    """Built from the clone, installed with its dependencies from the package index into a
    venv of its own, run from a folder without the project: only what the wheel holds counts."""
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        str(clone),
        "--no-deps",
        "-w",
        str(tmp_path / "dist"),
        "-q",
        cwd=tmp_path,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name == f"hostfactory_service-{PROJECT['version']}-py3-none-any.whl"
    run(sys.executable, "-m", "venv", str(tmp_path / "venv"), cwd=tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    run(str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), cwd=tmp_path, timeout=600)

    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SECRET_KEY": "wheel-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "ENV_FILE": str(tmp_path / "no.env"),
    }
    manage = str(tmp_path / "venv" / "bin" / "hostfactory-manage")
    assert "System check identified no issues" in run(manage, "check", cwd=tmp_path, env=env)
    run(manage, "migrate", "--no-input", "--verbosity", "0", cwd=tmp_path, env=env)
    run(manage, "collectstatic", "--no-input", "--verbosity", "0", cwd=tmp_path, env=env)
    assert (tmp_path / "static" / "admin" / "css" / "base.css").is_file()
    installed = run(
        str(python),
        "-c",
        "import django, hostfactory, importlib.metadata as m; django.setup();"
        "from django.template.loader import get_template;"
        "get_template('admin/hostfactory/change_list.html');"
        "print(hostfactory.__file__); print(m.version('hostfactory-service'));"
        "print('\\n'.join(m.requires('hostfactory-service')))",
        cwd=tmp_path,
        env={**env, "DJANGO_SETTINGS_MODULE": "hostfactory.settings"},
    ).splitlines()
    assert installed[0].startswith(str(tmp_path / "venv"))
    assert installed[1] == hostfactory.__version__
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert sorted(installed[2:]) == sorted(pins)
    scripts = Path(installed[0]).parent / "plugin" / "scripts"
    assert sorted(path.name for path in scripts.glob("*.sh")) == sorted(
        path.name for path in (ROOT / "hostfactory" / "plugin" / "scripts").glob("*.sh")
    )
