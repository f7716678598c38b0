"""``manage.py recount_capacity [--dry-run]``"""

from __future__ import annotations

from typing import Any

from hostfactory.fleet.capacity import capacity_recount, capacity_sweep
from hostfactory.management.base import HostFactoryCommand


class Command(HostFactoryCommand):
    help = (
        "Repair the capacity ledgers (each template's used hosts and reservations): first release the "
        "reservations of requests that ended or were never written (the sweep every provision and "
        "sync_machines pass runs), then recount every ledger from the stored machines and requests "
        "(consistent scans of both tables: a repair, its cost grows with the fleet) and write each one that "
        "differs, printing the difference. A ledger that moves while it is counted is counted again, so it "
        "is safe beside a running service. With --dry-run nothing is written (the sweep is skipped: the "
        "recount shows the same stale reservations as differences)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print the differences; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        repos = self.repositories()
        dry_run = options["dry_run"]
        swept = None
        if not dry_run:
            swept = capacity_sweep(repos=repos)
            for line in swept.released:
                self.stdout.write(f"released reservation {line}")
        differences = capacity_recount(repos=repos, dry_run=dry_run)
        verb = "would fix" if dry_run else "fixed"
        for difference in differences:
            self.stdout.write(f"{verb} {difference.describe()}")
        ledgers = f"{len(differences)} ledger{'' if len(differences) == 1 else 's'}"
        if swept is None:
            self.summary(f"{ledgers} would be fixed (dry run: nothing written, sweep skipped)")
        else:
            self.summary(f"{ledgers} fixed, {swept.summary()}")
