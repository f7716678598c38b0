"""``manage.py export_plugin``: the exported tree installed into a scratch $HF_TOP works as
Host Factory runs it: check.sh reports (and warns about a readable token file and a misspelt
key), the five installed scripts talk to a live server with the configured URL and token
only, and with HOSTFACTORY_TEMPLATES_SOURCE=hostfactory an edit of the conf-dir templates
file is what getAvailableTemplates serves next."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from tests.api.fixtures import add_template
from tests.plugin.test_scripts import LIVE_DB, OPERATIONS, answer
from tests.templates_app.test_domain import ATTRIBUTES

NAME = "hfsvc"


@pytest.fixture
def installed(tmp_path, storage, live_server, plugin, settings):
    """The tree exported for the live server, copied into a scratch $HF_TOP, with the token."""
    settings.HOSTFACTORY_TEMPLATES_SOURCE = "hostfactory"
    add_template(storage, "OnDemand", max_number=5, provider_config={"imageId": "ami-1", "vmType": "t3.micro"})
    exported, hf_top = tmp_path / "export", tmp_path / "hf_top"
    call_command("export_plugin", str(exported), "--name", NAME, "--url", live_server.url, stdout=StringIO())
    shutil.copytree(exported, hf_top, symlinks=True)
    conf = hf_top / "conf" / "providers" / NAME
    token = conf / "token"
    token.write_text(Token.objects.get(user=plugin.user).key)
    token.chmod(0o600)
    return hf_top, conf


def environment(hf_top, conf, stdlib_python) -> dict[str, str]:
    """What Host Factory sets for a provider's scripts; no HF_SERVICE_* at all."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HF_TOP": str(hf_top),
        "HF_PYTHON": stdlib_python,
        "HF_PROVIDER_CONFDIR": str(conf),
        "HF_PROVIDER_NAME": NAME,
    }


def scripts_dir(hf_top):
    return hf_top / "1.2" / "providerplugins" / NAME / "scripts"


def run(hf_top, env, script: str, *args: str) -> subprocess.CompletedProcess:
    command = ["bash", str(scripts_dir(hf_top) / script), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def script(hf_top, env, tmp_path, operation: str, body: object) -> dict:
    path = tmp_path / f"{operation}.json"
    path.write_text(json.dumps(body))
    return answer(run(hf_top, env, f"{operation}.sh", "-f", str(path)))


def test_the_tree_has_host_factorys_shape_and_no_token(installed):
    hf_top, conf = installed
    assert sorted(p.name for p in scripts_dir(hf_top).iterdir()) == sorted(
        [*(f"{o}.sh" for o in OPERATIONS), "check.sh"]
    )
    config = json.loads((conf / f"{NAME}prov_config.json").read_text())
    assert set(config) == {"SERVICE_URL", "SERVICE_TOKEN_FILE"}
    (templates,) = json.loads((conf / f"{NAME}prov_templates.json").read_text())["templates"]
    assert templates["templateId"] == "OnDemand"
    plugin = json.loads((hf_top / "conf" / "providerplugins" / "hostProviderPlugins.entry.json").read_text())
    assert plugin["scriptPath"] == f"${{HF_TOP}}/${{HF_VERSION}}/providerplugins/{NAME}/scripts/"
    provider = json.loads((hf_top / "conf" / "providers" / "hostProviders.entry.json").read_text())
    assert (provider["plugin"], provider["confPath"]) == (NAME, f"${{HF_CONFDIR}}/providers/{NAME}/")
    assert NAME in json.loads((hf_top / "conf" / "requestors" / "hostRequestors.entry.json").read_text())["providers"]
    assert "create_plugin_token" in (hf_top / "README.md").read_text()


@LIVE_DB
def test_check_reports_what_works_and_warns_about_a_readable_token_and_a_misspelt_key(installed, stdlib_python):
    hf_top, conf = installed
    env = {key: value for key, value in environment(hf_top, conf, stdlib_python).items() if "PROVIDER" not in key}

    good = run(hf_top, env, "check.sh")  # check.sh finds the conf dir from $HF_TOP

    assert good.returncode == 0, good.stdout + good.stderr
    assert all(line.startswith("ok: ") for line in good.stdout.splitlines()), good.stdout
    assert "getAvailableTemplates answered: 1 templates offered" in good.stdout

    (conf / "token").chmod(0o644)
    config = conf / f"{NAME}prov_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "SERVICE_TIMOUT": 5}))
    warned = run(hf_top, env, "check.sh")
    assert warned.returncode == 0
    assert "readable by others (0o644): chmod 600" in warned.stdout
    assert "unknown key 'SERVICE_TIMOUT'; did you mean SERVICE_TIMEOUT?" in warned.stdout


@LIVE_DB
def test_check_fails_naming_the_problem_when_the_token_is_wrong(installed, stdlib_python):
    hf_top, conf = installed
    (conf / "token").write_text("not-a-token")

    done = run(hf_top, environment(hf_top, conf, stdlib_python), "check.sh")

    assert done.returncode == 1 and "error: authentication failed" in done.stdout


@LIVE_DB
def test_the_five_installed_scripts_and_an_edited_templates_file(installed, stdlib_python, tmp_path):
    hf_top, conf = installed
    env = environment(hf_top, conf, stdlib_python)

    offered = script(hf_top, env, tmp_path, "getAvailableTemplates", {})
    assert [t["templateId"] for t in offered["templates"]] == ["OnDemand"]
    asked = script(
        hf_top, env, tmp_path, "requestMachines", {"template": {"templateId": "OnDemand", "machineCount": 2}}
    )
    (status,) = script(hf_top, env, tmp_path, "getRequestStatus", {"requests": [{"requestId": asked["requestId"]}]})[
        "requests"
    ]
    assert status["status"] == "running"
    back = script(
        hf_top, env, tmp_path, "requestReturnMachines", {"machines": [{"name": "ip-10-0-0-9", "machineId": "i-9"}]}
    )
    assert back["requestId"].startswith("ret-")
    assert script(hf_top, env, tmp_path, "getReturnRequests", {"machines": []})["requests"] == []

    # Host Factory's administrator edits the instance's templates file.
    path = conf / f"{NAME}prov_templates.json"
    document = json.loads(path.read_text())
    document["templates"].append({"templateId": "Edited-In-HF", "maxNumber": 3, "attributes": ATTRIBUTES})
    path.write_text(json.dumps(document, indent=2))
    offered = script(hf_top, env, tmp_path, "getAvailableTemplates", {})
    assert sorted(t["templateId"] for t in offered["templates"]) == ["Edited-In-HF", "OnDemand"]

    # A bad edit is refused with a message naming it; what was loaded stays.
    document["templates"].append({"templateId": "Bad", "maxNumber": -7, "attributes": ATTRIBUTES})
    path.write_text(json.dumps(document))
    refused = run(hf_top, env, "getAvailableTemplates.sh")
    assert refused.returncode == 1
    assert "template #3 ('Bad'): maxNumber: must be -1 (unlimited) or 0..10000, got -7" in refused.stdout


@pytest.mark.django_db
def test_export_refuses_a_non_empty_dir_and_bad_names(tmp_path, storage):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(CommandError, match="must be an empty directory or absent"):
        call_command("export_plugin", str(tmp_path / "busy"), "--name", NAME, "--url", "https://hf.example")
    with pytest.raises(CommandError, match="--name: must be 1-31 lower-case letters"):
        call_command("export_plugin", str(tmp_path / "new"), "--name", "Bad Name", "--url", "https://hf.example")
    with pytest.raises(CommandError, match="--url: must start with http"):
        call_command("export_plugin", str(tmp_path / "new"), "--name", NAME, "--url", "hf.example")
    assert not (tmp_path / "new").exists()
