"""``manage.py load_templates PATH [--replace] [--dry-run]``"""

from __future__ import annotations

from typing import Any

from hostfactory.management.base import HostFactoryCommand
from templates_app.services import templates_load, templates_read_file


class Command(HostFactoryCommand):
    help = (
        'Load a Host Factory templates file ({"templates": [...]}, as awsprov_templates.json) into the '
        "template store. Every template is validated before anything is written: one bad template "
        "stops the load with nothing changed. Templates already stored with the same content are left "
        "alone. Reports created / updated / unchanged (and deleted with --replace)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", metavar="PATH", help="the templates file (JSON)")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="also delete stored templates that are not in the file (refused, with nothing written, "
            "when active requests or live machines use one of them)",
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        templates = templates_read_file(options["path"])
        progress = self.progress("writing templates")
        report = templates_load(
            repos=self.repositories(),
            templates=templates,
            replace=options["replace"],
            dry_run=options["dry_run"],
            progress=progress,
        )
        progress.finish()
        if options["verbosity"] >= 1:
            for label, ids in (("created", report.created), ("updated", report.updated), ("deleted", report.deleted)):
                for template_id in ids:
                    self.stdout.write(f"{'would be ' if options['dry_run'] else ''}{label}: {template_id}")
        prefix = "Dry run, nothing written: " if options["dry_run"] else ""
        self.summary(f"{prefix}{len(templates)} templates in {options['path']}: {report.summary()}")
