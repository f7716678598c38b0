"""Where the Host Factory samples are: ``shared/`` beside the repository (as in CI)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "hostfactory-samples"
OHFP_TEMPLATES = SAMPLES / "templates-files" / "awsprov_templates.ohfp.json"
