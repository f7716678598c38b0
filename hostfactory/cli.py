"""Django's command line for this project: ``manage.py`` in a checkout, ``hostfactory-manage``
once the wheel is installed (a console script of pyproject.toml)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostfactory.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
