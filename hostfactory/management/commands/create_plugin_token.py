"""``manage.py create_plugin_token NAME``: a Host Factory plugin's API user and token."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hostfactory.api.tokens import PLUGINS_GROUP, plugin_token_issue
from hostfactory.errors import HostFactoryError


class Command(BaseCommand):
    help = (
        f"Create (or reuse) the user NAME in the group {PLUGINS_GROUP} and print its API token on stdout "
        "(nothing else goes to stdout, so TOKEN=$(manage.py create_plugin_token NAME) works). The plugin "
        "scripts send it as 'Authorization: Token <key>' (HF_SERVICE_TOKEN). Safe to run again: an existing "
        "user and token are reused unless --rotate is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="user name for the plugin, e.g. symphony-aws")
        parser.add_argument(
            "--rotate", action="store_true", help="replace the user's token (the old one stops working at once)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = plugin_token_issue(username=options["name"], rotate=options["rotate"])
        except HostFactoryError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(issued.key)
        user = "created user" if issued.user_created else "reused user"
        token = "new token" if issued.token_created else "existing token"
        self.stderr.write(f"{user} {issued.username!r} in {PLUGINS_GROUP}; {token} printed on stdout")
