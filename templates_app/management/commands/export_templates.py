"""``manage.py export_templates [PATH]``"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from hostfactory.management.base import HostFactoryCommand
from templates_app.services import templates_export


class Command(HostFactoryCommand):
    help = (
        'Write every stored template as a Host Factory templates file ({"templates": [...]}, sorted by '
        "templateId) to PATH, or to stdout when PATH is omitted or '-'. The output loads back unchanged "
        "with load_templates."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", metavar="PATH", nargs="?", default="-", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        document = templates_export(repos=self.repositories())
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        count = len(document["templates"])
        if options["path"] == "-":
            self.stdout.write(text, ending="")
            self.summary(f"Exported {count} templates", stream=self.stderr)
            return
        write_atomically(Path(options["path"]), text)
        self.summary(f"Exported {count} templates to {options['path']}")


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder, so a failure never leaves half a file."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise CommandError(f"{path}: cannot write ({error.strerror or error})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        # mkstemp makes the file private; keep the mode of the file we replace, or the usual one.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(f"{path}: cannot write ({error.strerror or error})") from None
