"""What every management command of this project shares.

Errors the services raise on purpose (``hostfactory.errors``) and configuration problems
become a ``CommandError``: one clear line on stderr, exit code 1, no traceback. Long work
shows a counter on stderr, so stdout stays clean for what the command prints.
"""

from __future__ import annotations

import getpass
from typing import Any, TextIO

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from hostfactory.errors import HostFactoryError
from hostfactory.storage import Repositories, current_config, get_repositories
from hostfactory.storage.history import acting

MEMORY_NOTE = (
    "note: STORAGE_TYPE=memory: this command works on its own in-process store, which ends with it; "
    "a running server does not see its changes (use STORAGE_TYPE=dynamodb to share state)"
)
# Without a terminal (cron, CI logs) a counter line every this many items.
PROGRESS_EVERY = 100


class HostFactoryCommand(BaseCommand):
    """A command whose expected failures end as a one-line error and a non-zero exit."""

    from_command_line = False
    # How the event history names the changes this command makes.
    channel = "command"
    command_line = ""

    def run_from_argv(self, argv: list[str]) -> None:
        self.from_command_line = True
        self.command_line = " ".join(["manage.py", *argv[1:]])[:200]
        super().run_from_argv(argv)

    def execute(self, *args: Any, **options: Any) -> Any:
        reason = self.command_line or f"manage.py {type(self).__module__.rsplit('.', 1)[-1]}"
        try:
            with acting(self.channel, actor=_os_user(), reason=reason):
                return super().execute(*args, **options)
        except HostFactoryError as error:
            raise CommandError(str(error)) from error
        except ImproperlyConfigured as error:
            raise CommandError(f"configuration: {error}") from error

    def repositories(self) -> Repositories:
        repos = get_repositories()
        if self.from_command_line and current_config().type == "memory":
            self.stderr.write(MEMORY_NOTE, style_func=self.style.WARNING)
        return repos

    def progress(self, label: str) -> Progress:
        return Progress(self.stderr, label)

    def summary(self, text: str, *, stream: OutputWrapper | None = None) -> None:
        """The one line every command ends with."""
        out = stream or self.stdout
        out.write(text, style_func=self.style.SUCCESS if out is self.stdout else str)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return "unknown"


class Progress:
    """A ``done/total`` counter: redrawn in place on a terminal, a line every
    ``PROGRESS_EVERY`` items otherwise, so cron mails stay short."""

    def __init__(self, stream: OutputWrapper | TextIO, label: str, every: int = PROGRESS_EVERY) -> None:
        self.stream = stream
        self.label = label
        self.every = every
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if self.interactive:
            self._write(f"\r{self.label} {done}/{total}", ending="")
            self.drawn = True
        elif done % self.every == 0 and done != total:
            self._write(f"{self.label} {done}/{total}")

    def finish(self) -> None:
        """End the redrawn line, so the next output starts on its own line."""
        if self.drawn:
            self._write("")
            self.drawn = False

    def _write(self, text: str, ending: str = "\n") -> None:
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, style_func=str, ending=ending)
        else:
            self.stream.write(text + ending)
        self.stream.flush()


def parse_positive(name: str, value: int, high: int) -> int:
    """An option that must be 1..high, or a CommandError naming it."""
    if not 1 <= value <= high:
        raise CommandError(f"{name}: must be 1..{high}, got {value}")
    return value
