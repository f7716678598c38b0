"""Where the Host Factory samples are: ``tests/fixtures/hostfactory/``, inside the repository,
so a bare clone finds them (``SOURCES.md`` there names each file's public origin)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "hostfactory"
OHFP_TEMPLATES = SAMPLES / "templates-files" / "awsprov_templates.ohfp.json"
