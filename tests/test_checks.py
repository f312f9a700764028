"""The check catalogue: every rule has an entry, every entry a rule, and docs/checks.md is current."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aigclabel.checks import catalogue, to_markdown
from aigclabel.cli.main import cli
from aigclabel.profiles import list_profiles
from aigclabel.rules import _BUILTIN, all_rules

DOC = Path(__file__).parent.parent / "docs" / "checks.md"


def test_every_rule_module_has_an_entry_and_every_entry_a_rule() -> None:
    ids = [e.id for e in catalogue()]
    assert sorted(ids) == sorted(all_rules()) and len(ids) == len(_BUILTIN) == len(set(ids))
    for entry in catalogue():
        assert entry.summary and entry.scope in ("implicit", "explicit")


def test_every_profile_rule_is_in_the_catalogue() -> None:
    ids = {e.id for e in catalogue()}
    for prof in list_profiles():
        assert set(prof.rules) <= ids, prof.id


def test_docs_checks_md_is_generated_from_the_rules() -> None:
    assert DOC.read_text(encoding="utf-8") == to_markdown(), (
        "docs/checks.md is out of date: run `python3 -m aigclabel.checks > docs/checks.md`")


def test_checks_command() -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["checks", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert {d["id"] for d in data} == set(all_rules())
    gb = [d for d in data if "cn-gb45438-2025" in d["profiles"]]
    assert gb and all(d["profiles"]["cn-gb45438-2025"]["clause"] for d in gb)
    only = json.loads(runner.invoke(cli, ["checks", "--json", "--profile", "iptc"]).output)
    assert 0 < len(only) < len(data)
    assert runner.invoke(cli, ["checks", "--profile", "no-such-profile"]).exit_code == 2
    text = runner.invoke(cli, ["checks"]).output
    assert "implicit.record-fields" in text
