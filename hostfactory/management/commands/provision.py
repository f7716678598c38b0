"""``manage.py provision [--once] [--interval SECONDS]``"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from hostfactory.errors import HostFactoryError
from hostfactory.management.base import HostFactoryCommand
from hostfactory.providers import get_provider
from hostfactory.providers.services import new_worker_id, provision_run
from hostfactory.storage import history


class Command(HostFactoryCommand):
    channel = "provisioner"
    help = (
        "Do the cloud work of HOSTFACTORY_PROVIDER=aws outside Host Factory's calls: launch pending acquire "
        "requests with their template's providerApi (RunInstances, EC2Fleet, SpotFleet, ASG) and record the "
        "instances as machines, follow fleets and groups still filling, terminate the hosts of return "
        "requests (lowering a maintained fleet's or group's capacity first), reconcile every live machine "
        "with EC2 (as sync_machines), and set reclaim_at on spot hosts with an interruption notice. "
        "Safe to run several at once and to kill at any point: a request is claimed before it is launched "
        "and never launched twice. --once runs one pass (cron); without it, a pass every --interval seconds "
        "until stopped (SIGTERM or Ctrl-C end it after the current pass)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run one pass and exit (for cron)")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between passes without --once (default HOSTFACTORY_PROVISION_INTERVAL, 30)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = settings.HOSTFACTORY_PROVISION_INTERVAL if options["interval"] is None else options["interval"]
        if interval <= 0:
            raise CommandError(f"--interval: must be a positive number of seconds, got {interval}")
        provider = get_provider()
        if not provider.launches:
            raise CommandError(
                f"HOSTFACTORY_PROVIDER is {provider.name!r}: nothing to provision (machines are registered by an "
                "outside plugin); set HOSTFACTORY_PROVIDER=aws to have this service launch hosts"
            )
        repos = self.repositories()
        worker = new_worker_id()
        if options["once"]:
            self._pass(repos, provider, worker, fail_hard=True)
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stderr.write(f"provisioning every {interval:g} s as {worker}; SIGTERM or Ctrl-C stops")
        while not stop.is_set():
            self._pass(repos, provider, worker, fail_hard=False)
            stop.wait(interval)

    def _pass(self, repos: Any, provider: Any, worker: str, *, fail_hard: bool) -> None:
        try:
            report = provision_run(repos=repos, provider=provider, worker=worker)
        except HostFactoryError as error:  # storage unavailable: the whole pass could not run
            if fail_hard:
                raise
            self.stderr.write(f"pass failed, retried next interval: {error}", style_func=self.style.ERROR)
            return
        finally:
            history.flush()  # a pass is a unit of work: its events reach the history now
        for line in report.lines():
            self.stdout.write(line)
        self.summary(report.summary())
        if fail_hard and report.errors:
            raise CommandError(f"{len(report.errors)} steps failed and are retried on the next run")
