"""``manage.py sync_machines [--region R] [--dry-run]``"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from hostfactory.fleet.passes import machine_counts, record_pass
from hostfactory.management.base import HostFactoryCommand, parse_positive
from hostfactory.providers.aws.clients import ec2_client
from hostfactory.providers.aws.sync import EC2_BATCH_LIMIT, machines_sync


class Command(HostFactoryCommand):
    channel = "sync"
    help = (
        "Reconcile every live machine with EC2: DescribeInstances on the machines' instance ids (in "
        "batches, every page followed) updates status, IPs, name (private DNS name), instance type and "
        "launch time; instances EC2 no longer knows become terminated (a pending machine gets 5 minutes "
        "to appear first). Then the requests of those machines are reconciled and requests past their "
        "deadline time out. All of EC2 is read before anything is written, so an unreachable EC2 changes "
        "nothing. Safe to run from cron beside the API: concurrent changes are re-read, never overwritten. "
        "Region: --region, else AWS_REGION, else DYNAMODB_REGION. Endpoint: AWS_ENDPOINT_URL_EC2 or "
        "AWS_ENDPOINT_URL when set."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--region", help="AWS region of the instances (default: AWS_REGION, then DYNAMODB_REGION)")
        parser.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=EC2_BATCH_LIMIT,
            help=f"instance ids per DescribeInstances call, 1-{EC2_BATCH_LIMIT} (default {EC2_BATCH_LIMIT})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        region = options["region"] or settings.HOSTFACTORY_AWS_REGION
        if not region:
            raise CommandError("no AWS region: pass --region, or set AWS_REGION (or DYNAMODB_REGION)")
        batch_size = parse_positive("--batch-size", options["batch_size"], EC2_BATCH_LIMIT)
        ec2 = ec2_client(region=region, max_attempts=settings.HOSTFACTORY_AWS_MAX_ATTEMPTS)
        progress = self.progress("syncing machines")
        repos = self.repositories()
        report = machines_sync(
            repos=repos,
            ec2=ec2,
            dry_run=options["dry_run"],
            batch_size=batch_size,
            progress=progress,
        )
        progress.finish()
        if not options["dry_run"]:  # a pass that ran to its end: its record, and the history's sweep
            repos.history.sweep()
            record_pass(repos, "sync", errors=0, machines=machine_counts(report.live, report.changes), requests={})
        would = "would change " if options["dry_run"] else ""
        for change in report.changes:
            self.stdout.write(f"{would}machine {change.describe()}")
        for change in report.requests:
            self.stdout.write(f"{would}request {change.describe()}")
        for line in report.skipped:
            self.stdout.write(f"skipped {line}")
        self.summary(report.summary())
