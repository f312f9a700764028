"""SARIF 2.1.0 output for `verify --format sarif`: code-scanning and CI dashboards can show findings.

Each requirement's clause is the SARIF rule id (e.g. "GB 45438-2025 Annex E"), our rule id is kept in
the result's properties, and the checked file is the location.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from aigclabel import __version__
from aigclabel.report import Level, Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# level and kind per finding level: passes are results of kind "pass"; a check that could not run
# needs a person's review - it is never reported as a pass.
_LEVEL = {Level.ERROR: ("error", "fail"), Level.WARNING: ("warning", "fail"), Level.INFO: ("note", "informational"),
          Level.PASS: ("none", "pass"), Level.NOT_CHECKED: ("note", "review")}


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def to_sarif(reports: Iterable[Report], errors: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for report in reports:
        for f in report.findings:
            rule_id = f.clause or f.rule
            rules.setdefault(rule_id, {"id": rule_id, "name": f.rule,
                                       "shortDescription": {"text": f"{f.rule} ({rule_id})"}})
            level, kind = _LEVEL[f.level]
            result: dict[str, Any] = {
                "ruleId": rule_id, "level": level, "kind": kind,
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(report.path)}},
                               **({"message": {"text": f.location}} if f.location else {})}],
                "properties": {"aigclabelRule": f.rule, "profile": report.profile, "verdict": report.verdict.value,
                               "outcome": report.outcome,
                               **({"expected": f.expected} if f.expected is not None else {}),
                               **({"actual": f.actual} if f.actual is not None else {})},
            }
            results.append(result)
    notifications = [{"level": "error", "message": {"text": f"{e['path']}: {e['error']['message']}"},
                      "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e["path"])}}}]}
                     for e in errors]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "aigclabel", "version": __version__,
                            "informationUri": "https://pypi.org/project/aigclabel/",
                            "rules": list(rules.values())}},
        "results": results,
    }
    if notifications:
        run["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": notifications}]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
