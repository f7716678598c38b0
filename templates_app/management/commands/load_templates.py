"""``manage.py load_templates PATH [--replace] [--dry-run] [--skip-invalid]``"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from hostfactory.management.base import HostFactoryCommand
from templates_app.services import templates_check, templates_load, templates_read_json


class Command(HostFactoryCommand):
    help = (
        'Load a Host Factory templates file ({"templates": [...]}, as awsprov_templates.json) into the '
        "template store. Every template is checked before anything is written (the template rules, and "
        "that HOSTFACTORY_PROVIDER can launch it) and every problem is printed: by default one bad "
        "template stops the load with nothing changed; --skip-invalid loads the valid ones and lists "
        "the rest. Templates already stored with the same content are left alone. Reports created / "
        "updated / unchanged (and deleted with --replace)."
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
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="load the valid templates and list the refused ones (default: refuse the whole file)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        checked = templates_check(templates_read_json(path), source=path)
        if checked.problems:
            if not options["skip_invalid"]:
                raise CommandError(f"{checked.report()}\nnothing loaded (--skip-invalid loads the valid ones)")
            if options["replace"]:
                raise CommandError(f"{checked.report()}\n--replace with --skip-invalid would delete refused templates")
            self.stderr.write(f"{checked.report()}\nskipped: {len(checked.problems)}", style_func=self.style.WARNING)
        progress = self.progress("writing templates")
        report = templates_load(
            repos=self.repositories(),
            templates=checked.valid,
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
        skipped = f", {len(checked.problems)} refused" if checked.problems else ""
        self.summary(f"{prefix}{len(checked.valid)} templates in {path}{skipped}: {report.summary()}")
