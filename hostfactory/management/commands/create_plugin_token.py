"""``manage.py create_plugin_token NAME [--role plugin|provisioner]``: a plugin's or a
provisioner's API user and token."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hostfactory.api.tokens import plugin_token_issue
from hostfactory.errors import HostFactoryError
from hostfactory.groups import PLUGINS, PROVISIONERS, TOKEN_ROLES


class Command(BaseCommand):
    help = (
        f"Create (or reuse) the user NAME in the group of its role ({PLUGINS} for the Host Factory plugin "
        f"scripts, {PROVISIONERS} for an outside provisioner) and print its API token on stdout "
        "(nothing else goes to stdout, so TOKEN=$(manage.py create_plugin_token NAME) works). The plugin "
        "scripts send it as 'Authorization: Token <key>' (HF_SERVICE_TOKEN). Safe to run again: an existing "
        "user and token are reused unless --rotate is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="user name for the plugin, e.g. symphony-aws")
        parser.add_argument(
            "--rotate", action="store_true", help="replace the user's token (the old one stops working at once)"
        )
        parser.add_argument(
            "--role",
            choices=list(TOKEN_ROLES),
            default="plugin",
            help=f"plugin ({PLUGINS}: the five Host Factory operations and reads; the default) or provisioner "
            f"({PROVISIONERS}: register machines, report their status, move requests; reads)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = plugin_token_issue(username=options["name"], rotate=options["rotate"], role=options["role"])
        except HostFactoryError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(issued.key)
        user = "created user" if issued.user_created else "reused user"
        token = "new token" if issued.token_created else "existing token"
        self.stderr.write(f"{user} {issued.username!r} in {issued.group}; {token} printed on stdout")
