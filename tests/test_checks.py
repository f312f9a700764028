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


def test_every_reader_and_diff_finding_id_is_catalogued() -> None:
    # ids written as literals in Finding(...) / _finding(...) calls of the readers, the record checks and diff
    import re

    from aigclabel.checks import READER_FINDINGS

    root = Path(__file__).parent.parent / "aigclabel"
    used: set[str] = set()
    pattern = re.compile(r"""["']((?:format|record|legacy|diff)\.[a-z0-9][a-z0-9.-]*)["']""")
    for path in root.rglob("*.py"):
        if path.name == "checks.py":
            continue
        used.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "the scan found no ids: the pattern is wrong"
    assert sorted(used - set(READER_FINDINGS)) == [], "new ids need an entry in aigclabel.checks.READER_FINDINGS"
    assert sorted(set(READER_FINDINGS) - used) == [], "catalogued ids that nothing emits any more"
    for where, levels, meaning in READER_FINDINGS.values():
        assert where and meaning and set(levels.split(", ")) <= {"pass", "info", "warning", "error", "not-checked"}


def test_checks_findings_lists_the_reader_ids() -> None:
    from aigclabel.checks import READER_FINDINGS

    runner = CliRunner()
    data = json.loads(runner.invoke(cli, ["checks", "--findings", "--json"]).output)
    assert {d["id"] for d in data} == set(READER_FINDINGS) and "format.xmp.namespace" in READER_FINDINGS
    assert "format.png.xmp-chunk" in runner.invoke(cli, ["checks", "--findings"]).output
