"""``manage.py create_dynamodb_tables [--wait]``"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from hostfactory.management.base import HostFactoryCommand
from hostfactory.storage import current_config


def _tables(count: int) -> str:
    return f"{count} table{'' if count == 1 else 's'}"


class Command(HostFactoryCommand):
    help = (
        "Create the four DynamoDB tables of the Host Factory store (templates, requests, machines and the "
        "event history, with TTL on) with their global secondary indexes, billed PAY_PER_REQUEST. Table "
        "names come from DYNAMODB_TEMPLATES_TABLE, DYNAMODB_REQUESTS_TABLE, DYNAMODB_MACHINES_TABLE and "
        "DYNAMODB_HISTORY_TABLE; the endpoint from "
        "DYNAMODB_HOST (a local DynamoDB-compatible server) or AWS in DYNAMODB_REGION. Tables that already "
        "exist are left as they are, so running it again is safe. Needs STORAGE_TYPE=dynamodb."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--wait",
            action="store_true",
            help="return only once every table and index is ACTIVE and usable (on AWS a new table takes "
            "from seconds to a minute; a local server is ready at once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = current_config()
        if config.type != "dynamodb":
            raise CommandError(
                f"STORAGE_TYPE is {config.type!r}: there are no tables to create; "
                "set STORAGE_TYPE=dynamodb (and DYNAMODB_HOST for a local server) to use DynamoDB"
            )
        created, existing = [], []
        for repo in self.repositories().tables():
            if repo.create_table(wait=options["wait"]):
                created.append(repo.table_name)
                label = "created"
            else:
                existing.append(repo.table_name)
                label = "already existed"
            if options["verbosity"] >= 2:
                self.stdout.write(f"{label}: {repo.table_name} ({repo.aggregate}s)")
        where = config.host or f"AWS {config.region}"
        self.summary(f"created {_tables(len(created))}, {len(existing)} already existed ({where})")
