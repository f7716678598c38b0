"""What every command shares: the progress counter, errors as CommandError, the memory note."""

from __future__ import annotations

import io

import pytest

from hostfactory.management.base import Progress
from tests.commands.support import SAMPLE_TEMPLATES, manage, run_command
from tests.support import aggregates


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_the_counter_prints_a_line_every_hundred_items():
    stream = io.StringIO()
    progress = Progress(stream, "updating machines")
    for done in range(1, 251):
        progress(done, 250)
    progress.finish()
    assert stream.getvalue() == "updating machines 100/250\nupdating machines 200/250\n"


def test_on_a_terminal_the_counter_is_redrawn_in_place_and_ends_its_line():
    stream = Terminal()
    progress = Progress(stream, "writing templates")
    for done in range(1, 4):
        progress(done, 3)
    progress.finish()
    assert stream.getvalue() == "\rwriting templates 1/3\rwriting templates 2/3\rwriting templates 3/3\n"


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)
def test_long_work_shows_the_counter_on_stderr(storage, tmp_path):
    machines = [storage.machines.save(aggregates.machine()) for _ in range(150)]
    path = tmp_path / "many.csv"
    path.write_text("machine_id,status\n" + "".join(f"{m.machine_id},running\n" for m in machines), encoding="utf-8")
    result = run_command("update_machine_status", "--file", str(path))
    assert result.err == "updating machines 100/150\n"
    assert result.out == "Updated 150 machines\n"


def test_a_command_line_run_with_the_memory_backend_says_its_store_is_its_own(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "hostfactory.settings",
        "DEBUG": "true",
        "STORAGE_TYPE": "memory",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = manage("load_templates", str(SAMPLE_TEMPLATES), env=env)
    assert done.returncode == 0, done.stderr
    assert "note: STORAGE_TYPE=memory: this command works on its own in-process store" in done.stderr
    assert "4 created" in done.stdout
