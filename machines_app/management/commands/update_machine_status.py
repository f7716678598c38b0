"""``manage.py update_machine_status MACHINE_ID STATUS [...]`` or ``--file F``"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from hostfactory.fleet.machines import MachineStatusUpdate, machines_check_status_updates, machines_update_status_many
from hostfactory.management.base import HostFactoryCommand
from machines_app.domain import MachineStatus
from machines_app.management.status_file import ALLOWED, read_status_file

STATUSES = ", ".join(status.value for status in MachineStatus)


class Command(HostFactoryCommand):
    help = (
        "Record the status of one machine (MACHINE_ID STATUS), or of many with --file: a JSON list of "
        f"objects or a CSV file with a header, keys/columns {', '.join(ALLOWED)}. The machine status "
        "rules apply (e.g. running -> stopping, shutting-down or terminated; returned never changes), and "
        "the requests the machines belong to are reconciled. Everything is checked before anything is "
        f"written. STATUS is one of: {STATUSES}."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("machine_id", metavar="MACHINE_ID", nargs="?", help="the instance id, e.g. i-0abc...")
        parser.add_argument("status", metavar="STATUS", nargs="?", help=f"one of {STATUSES}")
        parser.add_argument("--reason", help="why the machine is in this status (required for failed)")
        parser.add_argument("--private-ip", help="private IPv4/IPv6 address")
        parser.add_argument("--public-ip", help="public IPv4/IPv6 address")
        parser.add_argument("--name", help="host name Host Factory sees (e.g. the private DNS name)")
        parser.add_argument("--file", metavar="F", help="many updates from a JSON or CSV file ('-' reads stdin)")
        parser.add_argument("--dry-run", action="store_true", help="check everything and show it; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        updates = self._updates(options)
        repos = self.repositories()
        if options["dry_run"]:
            machines = machines_check_status_updates(repos=repos, updates=updates)
            for update, machine in zip(updates, machines, strict=True):
                self.stdout.write(f"would set {update.machine_id} to {machine.status.value}")
            self.summary(f"Dry run, nothing written: {len(updates)} machine updates checked")
            return
        progress = self.progress("updating machines")
        machines = machines_update_status_many(repos=repos, updates=updates, progress=progress)
        progress.finish()
        if len(machines) == 1:
            machine = machines[0]
            self.summary(f"Machine {machine.machine_id}: {machine.status.value}")
        else:
            self.summary(f"Updated {len(machines)} machines")

    def _updates(self, options: dict[str, Any]) -> list[MachineStatusUpdate]:
        single = {key: options[key] for key in ("reason", "private_ip", "public_ip", "name") if options[key]}
        if options["file"]:
            if options["machine_id"] or options["status"] or single:
                raise CommandError("--file takes every value from the file; give no MACHINE_ID, STATUS or options")
            return read_status_file(options["file"])
        if not options["machine_id"] or not options["status"]:
            raise CommandError("give MACHINE_ID and STATUS, or --file F")
        changes = {
            "status_reason": options["reason"],
            "private_ip_address": options["private_ip"],
            "public_ip_address": options["public_ip"],
            "name": options["name"],
        }
        return [MachineStatusUpdate(machine_id=options["machine_id"], status=options["status"], changes=changes)]
