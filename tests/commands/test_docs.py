"""The README's quick start and the reference in docs/ cannot rot: their commands are real
Makefile targets and management commands, every setting read in settings.py is documented,
every link between them leads somewhere, and ``make run`` on a fresh copy of the project
serves what the quick start promises."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.core.management import get_commands

from hostfactory import __version__
from tests.commands.support import ROOT, SAMPLE_TEMPLATES
from tests.support.dynalite import free_port

SECURITY = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
SETTINGS_SOURCE = (ROOT / "hostfactory" / "settings.py").read_text(encoding="utf-8")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Where each section the tests read lives.
SECTIONS = {
    "Quick start": "README.md",
    "Management commands": "docs/operations.md",
    "Production": "docs/operations.md",
    "Settings": "docs/configuration.md",
}


def section(title: str, text: str | None = None) -> str:
    text = (ROOT / SECTIONS[title]).read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r} (in {SECTIONS.get(title)} or the text given)"
    return match.group(1)


def shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def makefile_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*):", makefile, re.MULTILINE))


@pytest.mark.parametrize("title", ["Quick start", "Management commands", "Production"])
def test_every_documented_command_exists(title):
    commands = get_commands()
    lines = shell_lines(section(title))
    assert lines
    for line in lines:
        if line.startswith("make "):
            assert line.split()[1] in makefile_targets(), line
        for name in re.findall(r"(?:manage\.py|hostfactory-manage) (\w+)", line):
            assert name in commands, line


def test_every_setting_read_from_the_environment_is_documented():
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', SETTINGS_SOURCE))
    assert {"SECRET_KEY", "STORAGE_TYPE", "AWS_REGION"} <= names
    documented = section("Settings") + section("Settings", SECURITY)  # the hardening ones live in docs/security.md
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in sorted(names):
        assert f"`{name}`" in documented, f"{name} is not in docs/configuration.md or docs/security.md"
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{name} is missing from .env.example"


def anchors(document: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (fenced code is not headings)."""
    text = re.sub(r"^```.*?^```", "", document.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_between_the_documents_leads_somewhere(document):
    links = re.findall(r"\]\(([^)\s]+)\)", document.read_text(encoding="utf-8"))
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert local or document.name != "README.md"
    for link in local:
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        assert target.is_file(), f"{link}: no such file"
        assert target.is_relative_to(ROOT), f"{link}: outside the repository"
        if anchor:
            assert anchor in anchors(target), f"{link}: no such heading in {target.name}"


# -- make run on a fresh copy -------------------------------------------------------------

COPY_IGNORES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "*.sqlite3", ".env", "__pycache__", ".pytest_cache", ".ruff_cache",
    "staticfiles", "test-artifacts", ".hypothesis", ".schemathesis", ".run",
)  # fmt: skip


def fresh_copy(target: Path) -> Path:
    """The project as a newcomer gets it, with the installed virtualenv borrowed (same Python,
    same site-packages) and marked installed, so ``make`` skips the pip install."""
    shutil.copytree(ROOT, target, ignore=COPY_IGNORES)
    venv = target / ".venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy2(ROOT / ".venv" / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "bin" / "python").symlink_to((ROOT / ".venv" / "bin" / "python").resolve())
    (venv / "lib").symlink_to(ROOT / ".venv" / "lib")
    (venv / ".runtime-installed").touch()
    return target


class Server:
    """``make run`` in its own process group, its output collected as it comes."""

    def __init__(self, folder: Path, port: int) -> None:
        keep = {key: value for key, value in os.environ.items() if not key.startswith(_PROJECT_VARIABLES)}
        self.process = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=folder,
            env=keep,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_until_serving(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make run exited:\n{self.text}"
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/health/", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # serving, whatever the answer
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"make run did not serve within {timeout} s:\n{self.text}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


_PROJECT_VARIABLES = (
    "DJANGO_",
    "SECRET_KEY",
    "DEBUG",
    "DATABASE_URL",
    "STORAGE_TYPE",
    "DYNAMODB_",
    "HOSTFACTORY_",
    "ALLOWED_HOSTS",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
)


def printed(label: str, text: str) -> str:
    match = re.search(rf"^\s+{label}\s+(\S+)", text, re.MULTILINE)
    assert match, f"{label} not printed in:\n{text}"
    return match.group(1)


def get_json(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def admin_login(base: str, username: str, password: str) -> str:
    """Log in through the admin's login form, as a browser does; the page it lands on."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(f"{base}/admin/login/?next=/admin/", timeout=10).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": username, "password": password, "next": "/admin/"}
    ).encode()
    request = urllib.request.Request(f"{base}/admin/login/?next=/admin/", data=body, headers={"Referer": base})
    with opener.open(request, timeout=10) as answer:
        return answer.geturl()


@pytest.mark.slow
def test_make_run_on_a_fresh_copy_serves_what_the_quick_start_promises(tmp_path):
    assert "make run" in shell_lines(section("Quick start"))
    folder = fresh_copy(tmp_path / "hostfactory")
    port = free_port()
    server = Server(folder, port)
    try:
        server.wait_until_serving()
        password, token = printed("Password", server.text), printed("Token", server.text)
        for url in ("/admin/", "/api/v1/", "/api/docs/", "/api/v1/health/"):
            assert f"http://127.0.0.1:{port}{url}" in server.text

        assert get_json(f"{server.url}/api/v1/health/") == (
            200,
            {
                "status": "ok",
                "storage": "memory",
                "version": __version__,
                "checks": {"storage": "ok", "database": "ok"},
            },
        )
        status, page = get_json(f"{server.url}/api/v1/templates/", token)
        assert status == 200
        samples = {t["templateId"] for t in json.loads(SAMPLE_TEMPLATES.read_text())["templates"]}
        assert {t["template_id"] for t in page["results"]} == samples
        assert get_json(f"{server.url}/api/v1/templates/")[0] == 401
        assert admin_login(server.url, "admin", password) == f"{server.url}/admin/"
        assert admin_login(server.url, "admin", "wrong-password").startswith(f"{server.url}/admin/login/")
    finally:
        server.stop()

    again = subprocess.run(
        [str(folder / ".venv" / "bin" / "python"), "manage.py", "setup_local"],
        cwd=folder,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(_PROJECT_VARIABLES)}, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "'admin' already exists; its password is unchanged" in again.stdout
    assert password not in again.stdout and token not in again.stdout
