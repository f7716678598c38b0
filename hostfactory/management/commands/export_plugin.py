"""``manage.py export_plugin DIR --name NAME --url URL``: the tree an HF administrator copies
into $HF_TOP (plugin scripts and client, provider conf dir, conf entries, README, check)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from hostfactory.management.base import HostFactoryCommand
from hostfactory.plugin import client
from templates_app.services import templates_export, templates_source

PLUGIN = Path(client.__file__).resolve().parent
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,30}$")
TOKEN_FILE = "token"  # beside <NAME>prov_config.json; the client reads a relative path there
CHECK_SCRIPT = """#!/bin/bash
# Checks this plugin's installation: the provider config and its keys, the token file's
# permissions, the templates file, and a real call to the service (getAvailableTemplates).
: "${{HF_PROVIDER_NAME:={name}}}"
: "${{HF_PROVIDER_CONFDIR:=${{HF_CONFDIR:-${{HF_TOP:?set HF_TOP (or HF_PROVIDER_CONFDIR)}}/conf}}/providers/{name}}}"
export HF_PROVIDER_NAME HF_PROVIDER_CONFDIR
exec "${{HF_PYTHON:-python3}}" "$(dirname "$(readlink -f "$0")")/../client.py" check "$@"
"""


class Command(HostFactoryCommand):
    help = (
        "Write the Host Factory provider plugin tree for this service into DIR, laid out as $HF_TOP: "
        "<hf-version>/providerplugins/NAME/ (client.py, scripts/ with the five scripts and check.sh), "
        "conf/providers/NAME/ (NAMEprov_config.json without the token, NAMEprov_templates.json from the "
        "current templates), the entries for hostProviderPlugins.json, hostProviders.json and "
        "hostRequestors.json, and README.md with the steps. DIR must be empty or absent."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("dir", metavar="DIR", help="where to write the tree (empty or absent)")
        parser.add_argument("--name", required=True, help="plugin and provider instance name, e.g. hfsvc")
        parser.add_argument("--url", required=True, help="the service's base URL, e.g. https://hf.example.com")
        parser.add_argument("--hf-version", default="1.2", help="Host Factory's $HF_VERSION (default 1.2)")

    def handle(self, *args: Any, **options: Any) -> None:
        name, url, version = options["name"], options["url"].rstrip("/"), options["hf_version"]
        if not NAME_RE.fullmatch(name):
            rule = "1-31 lower-case letters and digits, starting with a letter"
            raise CommandError(f"--name: must be {rule}, got {name!r}")
        if not url.startswith(("http://", "https://")):
            raise CommandError(f"--url: must start with http:// or https://, got {url!r}")
        if not re.fullmatch(r"[0-9][0-9.]*", version):
            raise CommandError(f"--hf-version: must be a version such as 1.2, got {version!r}")
        root = Path(options["dir"])
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise CommandError(f"{root}: must be an empty directory or absent (nothing was written)")
        templates = templates_export(repos=self.repositories())
        written = write_tree(root, name=name, url=url, version=version, templates=templates)
        self.summary(f"Wrote {len(written)} files to {root}; next: {root / 'README.md'}")


def write_tree(root: Path, *, name: str, url: str, version: str, templates: dict) -> list[Path]:
    plugin_dir = root / version / "providerplugins" / name
    conf = root / "conf"
    files: dict[Path, str] = {
        plugin_dir / "client.py": (PLUGIN / "client.py").read_text(encoding="utf-8"),
        plugin_dir / "scripts" / "check.sh": CHECK_SCRIPT.format(name=name),
        conf / "providers" / name / f"{name}prov_config.json": as_json(provider_config(url)),
        conf / "providers" / name / f"{name}prov_templates.json": as_json(templates),
        conf / "providerplugins" / "hostProviderPlugins.entry.json": as_json(plugin_entry(name)),
        conf / "providers" / "hostProviders.entry.json": as_json(provider_entry(name)),
        conf / "requestors" / "hostRequestors.entry.json": as_json(requestor_entry(name)),
        root / "README.md": readme(name=name, url=url, version=version),
    }
    for script in sorted((PLUGIN / "scripts").glob("*.sh")):
        files[plugin_dir / "scripts" / script.name] = script.read_text(encoding="utf-8")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if path.suffix in (".sh", ".py"):
            path.chmod(0o755)
    return list(files)


def provider_config(url: str) -> dict[str, str]:
    """No token: it goes in a file of its own, which only the Host Factory user can read."""
    return {"SERVICE_URL": url, "SERVICE_TOKEN_FILE": TOKEN_FILE}


def as_json(data: Any) -> str:
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def plugin_entry(name: str) -> dict[str, Any]:
    return {"name": name, "enabled": 1, "scriptPath": f"${{HF_TOP}}/${{HF_VERSION}}/providerplugins/{name}/scripts/"}


def provider_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": 1,
        "plugin": name,
        "confPath": f"${{HF_CONFDIR}}/providers/{name}/",
        "workPath": f"${{HF_WORKDIR}}/providers/{name}/",
        "logPath": "${HF_LOGDIR}/",
    }


def requestor_entry(name: str) -> dict[str, Any]:
    """Only ``providers`` matters: add NAME to the list of the requestor that should use it."""
    return {
        "name": "symAinst",
        "enabled": 1,
        "plugin": "symA",
        "confPath": "${HF_CONFDIR}/requestors/symAinst/",
        "workPath": "${HF_WORKDIR}/requestors/symAinst/",
        "logPath": "${HF_LOGDIR}/",
        "providers": [name],
        "requestMode": "POLL",
    }


def readme(*, name: str, url: str, version: str) -> str:
    source = templates_source()
    return f"""# Host Factory provider plugin `{name}` for {url}

This tree is laid out like `$HF_TOP`. Copy it there, then merge the three `*.entry.json` files
into Host Factory's own lists. The layout is the one IBM's providers and Google's Symphony GCP
provider use (`google/symphony-gcp`, `hf-provider/resources/gke_cli/` and
`hf-provider/SYMPHONY_GKE_INSTALL.md`): `<HF_VERSION>/providerplugins/<plugin>/scripts/`,
`conf/providers/<instance>/<instance>prov_config.json` and `..._templates.json`, and the
entries of `hostProviderPlugins.json`, `hostProviders.json` and `hostRequestors.json`.

## Steps

1. Copy the files: `cp -r {version} conf "$HF_TOP"/` (as the Host Factory administrator; keep
   the modes: the scripts and `client.py` are executable). The plugin needs only `python3`
   (the standard library).
2. Give the plugin its token. On the service: `manage.py create_plugin_token {name}`. Then, on
   this host:
   `umask 077; printf '%s' "$TOKEN" > "$HF_TOP/conf/providers/{name}/{TOKEN_FILE}"`.
   `{name}prov_config.json` names that file (`SERVICE_TOKEN_FILE`, read beside the config);
   the token itself is never written into the config.
3. In `$HF_TOP/conf/providerplugins/hostProviderPlugins.json`, add the object in
   `conf/providerplugins/hostProviderPlugins.entry.json` to `providerplugins`.
4. In `$HF_TOP/conf/providers/hostProviders.json`, add the object in
   `conf/providers/hostProviders.entry.json` to `providers`.
5. In `$HF_TOP/conf/requestors/hostRequestors.json`, add `"{name}"` to the `providers` list of
   the requestor that should use it (`conf/requestors/hostRequestors.entry.json` shows a
   `symAinst` entry that does).
6. Check the installation: `HF_TOP=$HF_TOP {version}/providerplugins/{name}/scripts/check.sh`.
   It reads the config, warns about unknown keys and about a token file others can read, and
   calls the service with the configured URL and token. Every line should start with `ok:`.
7. Restart Host Factory (`egosh service stop HostFactory; egosh service start HostFactory`).

## Templates

`conf/providers/{name}/{name}prov_templates.json` holds the service's templates as they were
when this tree was written. The service reads its templates from
`HOSTFACTORY_TEMPLATES_SOURCE` (now `{source}`):

- `service`: the service's own template store (REST API, admin, `manage.py load_templates`).
  Host Factory's copy of the file is for display only.
- `hostfactory`: this file. The plugin sends it with every `getAvailableTemplates` (its
  sha256, then its content when it has changed), and the service checks it as
  `load_templates` does. So an edit made in Host Factory (its GUI, its REST API, or the file)
  reaches the service on the next call. A file the service refuses makes `getAvailableTemplates`
  fail with a message that names every template, field and allowed value.

## Settings of `{name}prov_config.json`

`SERVICE_URL`, `SERVICE_TOKEN_FILE` (or `SERVICE_TOKEN`), `SERVICE_TIMEOUT` (seconds, default
30), `SERVICE_RETRIES` (default 3), `SERVICE_CA_FILE` (a CA bundle for a private CA). The
environment variables `HF_SERVICE_*` override them.
"""
