"""``manage.py setup_local``: the one-time local setup ``make run`` does before serving."""

from __future__ import annotations

import secrets
from io import StringIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from hostfactory.api.tokens import plugin_token_issue
from hostfactory.management.base import HostFactoryCommand
from hostfactory.storage import current_config
from templates_app.services import templates_load, templates_read_file

SAMPLE_TEMPLATES = Path(settings.BASE_DIR) / "samples" / "templates.json"


class Command(HostFactoryCommand):
    help = (
        "Set up a local instance: a local admin user with a random password and a plugin user with an "
        "API token (each printed once, when created; an existing one is left as it is), the sample "
        "templates (loaded now with STORAGE_TYPE=dynamodb, after creating the tables; with memory the "
        "server loads them from HOSTFACTORY_TEMPLATES_FILE at start), then the URLs to open and a curl "
        "example. Run after migrate; safe to run again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--admin", default="admin", help="admin user name (default: admin)")
        parser.add_argument("--plugin-user", default="hf-plugin", help="plugin user name (default: hf-plugin)")
        parser.add_argument(
            "--templates", default=str(SAMPLE_TEMPLATES), help="templates file (default: samples/templates.json)"
        )
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the server will listen")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"].rstrip("/")
        templates_lines = self._templates(options["templates"])
        with transaction.atomic():
            admin_lines = self._admin(options["admin"])
            token_lines, token = self._plugin_token(options["plugin_user"])
        self.stdout.write("")
        for line in [*admin_lines, *token_lines, *templates_lines]:
            self.stdout.write(f"  {line}")
        self.stdout.write("")
        self.stdout.write(f"  Admin        {url}/admin/")
        self.stdout.write(f"  API root     {url}/api/v1/")
        self.stdout.write(f"  API docs     {url}/api/docs/")
        self.stdout.write(f"  Health       {url}/api/v1/health/")
        self.stdout.write(f'  Try:         curl -H "Authorization: Token {token or "<token>"}" {url}/api/v1/templates/')
        self.stdout.write("")
        self.summary(f"Local setup done ({current_config().type} storage)")

    def _templates(self, path: str) -> list[str]:
        """Validate the file always; load it now only where the server will see it."""
        templates = templates_read_file(path)
        if current_config().type == "memory":
            return [f"Templates    {len(templates)} from {path} (the server loads them at start)"]
        tables = StringIO()
        call_command("create_dynamodb_tables", wait=True, stdout=tables)
        report = templates_load(repos=self.repositories(), templates=templates)
        return [f"Tables       {tables.getvalue().strip()}", f"Templates    {path}: {report.summary()}"]

    def _admin(self, username: str) -> list[str]:
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            return [
                f"Admin user   {username!r} already exists; its password is unchanged "
                f"(change it with: manage.py changepassword {username})"
            ]
        password = secrets.token_urlsafe(16)
        users.objects.create_superuser(username=username, email="", password=password)
        return [f"Admin user   {username}", f"Password     {password}   (shown this once; keep it)"]

    def _plugin_token(self, username: str) -> tuple[list[str], str | None]:
        """The plugin user and its token; the token is printed only when it was just created."""
        issued = plugin_token_issue(username=username)
        if not issued.token_created:
            return [
                f"Plugin user  {username!r} already has a token (shown when it was created; "
                f"manage.py create_plugin_token {username} prints it)"
            ], None
        lines = [f"Plugin user  {username} (group {issued.group})", f"Token        {issued.key}   (shown this once)"]
        return lines, issued.key
