"""load_templates and export_templates through call_command, on memory and DynamoDB (moto)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError

from templates_app.domain import Template
from tests.commands.support import OHFP_TEMPLATES, SAMPLE_TEMPLATES, run_command
from tests.support import aggregates


def write_templates(path, templates: list[dict]) -> str:
    path.write_text(json.dumps({"templates": templates}), encoding="utf-8")
    return str(path)


def stored(repos) -> dict[str, Template]:
    return {t.template_id: t for t in repos.templates.get_all()}


def sample(template_id: str, **changes) -> dict:
    return {**aggregates.template(template_id).to_hostfactory(), **changes}


def test_loads_the_sample_templates_and_reports_them(storage):
    result = run_command("load_templates", str(SAMPLE_TEMPLATES))
    expected = json.loads(SAMPLE_TEMPLATES.read_text())["templates"]
    assert set(stored(storage)) == {t["templateId"] for t in expected}
    assert result.out.splitlines()[-1] == (
        f"{len(expected)} templates in {SAMPLE_TEMPLATES}: {len(expected)} created, 0 updated, 0 unchanged, 0 deleted"
    )
    assert f"created: {expected[0]['templateId']}" in result.out


def test_loading_again_changes_nothing(storage):
    run_command("load_templates", str(SAMPLE_TEMPLATES))
    versions = {i: t.version for i, t in stored(storage).items()}
    result = run_command("load_templates", str(SAMPLE_TEMPLATES))
    assert "0 created, 0 updated, 4 unchanged" in result.out
    assert {i: t.version for i, t in stored(storage).items()} == versions


def test_changed_templates_are_updated_and_others_kept(storage, tmp_path):
    storage.templates.save(aggregates.template("tpl-a", max_number=5))
    storage.templates.save(aggregates.template("tpl-b", max_number=5))
    path = write_templates(tmp_path / "t.json", [sample("tpl-a", maxNumber=7), sample("tpl-c")])
    result = run_command("load_templates", path)
    assert "1 created, 1 updated, 0 unchanged, 0 deleted" in result.out
    assert stored(storage)["tpl-a"].max_number == 7
    assert set(stored(storage)) == {"tpl-a", "tpl-b", "tpl-c"}


def test_replace_deletes_templates_missing_from_the_file(storage, tmp_path):
    storage.templates.save(aggregates.template("tpl-old"))
    path = write_templates(tmp_path / "t.json", [sample("tpl-new")])
    result = run_command("load_templates", path, "--replace")
    assert "1 created, 0 updated, 0 unchanged, 1 deleted" in result.out
    assert "deleted: tpl-old" in result.out
    assert set(stored(storage)) == {"tpl-new"}


def test_replace_refuses_to_delete_a_template_in_use_and_writes_nothing(storage, tmp_path):
    storage.templates.save(aggregates.template("tpl-busy"))
    aggregates.store_machine(storage, aggregates.machine(template_id="tpl-busy", status="running"))
    path = write_templates(tmp_path / "t.json", [sample("tpl-new")])
    with pytest.raises(CommandError, match=r"template .tpl-busy. is in use: 1 hosts used or reserved; keep it in"):
        run_command("load_templates", path, "--replace")
    assert set(stored(storage)) == {"tpl-busy"}


def test_dry_run_reports_and_writes_nothing(storage, tmp_path):
    storage.templates.save(aggregates.template("tpl-old"))
    path = write_templates(tmp_path / "t.json", [sample("tpl-new")])
    result = run_command("load_templates", path, "--replace", "--dry-run")
    assert "would be created: tpl-new" in result.out
    assert "would be deleted: tpl-old" in result.out
    assert result.out.splitlines()[-1].startswith("Dry run, nothing written: 1 templates")
    assert set(stored(storage)) == {"tpl-old"}


def test_bad_templates_load_nothing_and_every_problem_is_named(storage, tmp_path):
    templates = [sample("tpl-1"), sample("tpl-2", maxNumber=20000), sample("tpl-3"), sample("tpl-4", priceType="x")]
    path = write_templates(tmp_path / "t.json", templates)
    with pytest.raises(CommandError) as failure:
        run_command("load_templates", path)
    assert str(failure.value) == (
        f"{path}: 2 of 4 templates refused:\n"
        "  template #2 ('tpl-2'): maxNumber: must be -1 (unlimited) or 0..10000, got 20000\n"
        "  template #4 ('tpl-4'): priceType: must be one of ondemand, spot, heterogeneous, got 'x'\n"
        "nothing loaded (--skip-invalid loads the valid ones)"
    )
    assert stored(storage) == {}


def test_skip_invalid_loads_the_valid_templates_and_lists_the_rest(storage, tmp_path):
    templates = [sample("tpl-1"), sample("tpl-2", maxNumber=20000), sample("tpl-3")]
    path = write_templates(tmp_path / "t.json", templates)

    output = run_command("load_templates", path, "--skip-invalid")

    assert sorted(stored(storage)) == ["tpl-1", "tpl-3"]
    assert "template #2 ('tpl-2'): maxNumber: must be -1 (unlimited) or 0..10000" in output.err
    assert "2 templates in" in output.out and "1 refused" in output.out


@pytest.mark.parametrize("backend_settings", ["memory"], indirect=True)  # input checks, before storage
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"templates": [\n  {"templateId": "x",\n  }\n]}', r"invalid JSON at line 3 column 3"),
        ('["not", "an", "object"]', r'must be an object with a "templates" list'),
        ('{"templates": [{"templateId": "x"}]}', r"template #1 \('x'\): template: must have templateId, maxNumber"),
    ],
    ids=["syntax", "shape", "missing-fields"],
)
def test_a_malformed_file_is_named_with_its_line_or_template(storage, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        run_command("load_templates", str(path))
    assert stored(storage) == {}


def test_an_unreadable_file_is_an_error(storage, tmp_path):
    with pytest.raises(CommandError, match=r"missing\.json: cannot read \(No such file or directory\)"):
        run_command("load_templates", str(tmp_path / "missing.json"))


def test_export_writes_every_template_in_the_file_format(storage, tmp_path):
    storage.templates.save(aggregates.template("tpl-b"))
    storage.templates.save(aggregates.template("tpl-a", enabled=False, description="off"))
    target = tmp_path / "out.json"
    result = run_command("export_templates", str(target))
    assert result.out.strip() == f"Exported 2 templates to {target}"
    document = json.loads(target.read_text())
    assert [t["templateId"] for t in document["templates"]] == ["tpl-a", "tpl-b"]
    assert document["templates"][0]["enabled"] is False


def test_export_to_stdout_keeps_stdout_pure_json(storage):
    storage.templates.save(aggregates.template("tpl-a"))
    result = run_command("export_templates")
    assert [t["templateId"] for t in json.loads(result.out)["templates"]] == ["tpl-a"]
    assert result.err.strip() == "Exported 1 templates"


def test_export_to_an_unwritable_place_is_an_error(storage, tmp_path):
    with pytest.raises(CommandError, match=r"cannot write"):
        run_command("export_templates", str(tmp_path / "no-such-dir" / "out.json"))


def test_a_real_templates_file_round_trips(storage, tmp_path):
    """awsprov_templates.json of the Open Host Factory plugin: load, export, load the export into
    an empty store, export again: the same templates, byte for byte."""
    original = json.loads(OHFP_TEMPLATES.read_text())["templates"]
    run_command("load_templates", str(OHFP_TEMPLATES))
    first = tmp_path / "first.json"
    run_command("export_templates", str(first))
    exported = {t["templateId"]: t for t in json.loads(first.read_text())["templates"]}
    assert set(exported) == {t["templateId"] for t in original}
    for template in original:
        assert Template.from_hostfactory(exported[template["templateId"]]).to_hostfactory() == (
            Template.from_hostfactory(template).to_hostfactory()
        )

    assert f"0 created, 0 updated, {len(original)} unchanged" in run_command("load_templates", str(first)).out
    for template_id in list(exported):
        storage.templates.delete(template_id)
    assert f"{len(original)} created" in run_command("load_templates", str(first)).out
    second = tmp_path / "second.json"
    run_command("export_templates", str(second))
    assert second.read_text() == first.read_text()
