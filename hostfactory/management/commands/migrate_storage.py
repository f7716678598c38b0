"""``manage.py migrate_storage [--dry-run]``"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from hostfactory.management.base import HostFactoryCommand, Progress
from hostfactory.storage import current_config
from hostfactory.storage.migration import Migration, StepReport


class Command(HostFactoryCommand):
    counter: Progress | None = None
    help = (
        "Move a deployment on the first (v1) DynamoDB tables to the current layout, in place (same table "
        "names): create a missing table; add the new indexes (one at a time, each waited for until ACTIVE); "
        "give every machine its sharded status key and every request the ids of its machines; recount every "
        "template's capacity ledger; then delete the v1 indexes. Each step does only what is still missing, "
        "so a run that was interrupted is completed by running it again, and a run on migrated tables "
        "changes nothing. Until the last step the v1 service still works on the tables. Stop the service "
        "(API, provision, sync_machines) while it runs. Prints what each step changed. Needs "
        "STORAGE_TYPE=dynamodb."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print what each step would change; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if current_config().type != "dynamodb":
            raise CommandError(
                f"STORAGE_TYPE is {current_config().type!r}: only DynamoDB tables have a layout to migrate"
            )
        dry_run = options["dry_run"]
        migration = Migration(
            self.repositories(),
            dry_run=dry_run,
            progress=self.step_progress,
            after_step=lambda step: self.print_step(step, dry_run),
        )
        report = migration.run()
        if report.changed == 0:
            self.summary("nothing to migrate: the tables are on the current layout")
        else:
            verb = "would change" if dry_run else "changed"
            self.summary(f"migrate_storage {verb} {report.changed} things in {len(report.steps)} steps")

    def step_progress(self, label: str) -> Progress:
        self.counter = self.progress(label)
        return self.counter

    def print_step(self, step: StepReport, dry_run: bool) -> None:
        if self.counter is not None:
            self.counter.finish()  # a counter redrawn in place ends before the step's lines
            self.counter = None
        for line in step.lines:
            self.stdout.write(f"  {line}")
        self.stdout.write(step.describe(dry_run))
