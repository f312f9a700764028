"""The golden corpus's expected reports: check them, or regenerate them after a deliberate change.

    python3 scripts/corpus.py --check             # compare every file with expected/*.json (default)
    python3 scripts/corpus.py --update            # rewrite expected/*.json from today's behaviour
    python3 scripts/corpus.py --update --only jpeg-bare.jpg
    python3 scripts/corpus.py --compare           # today's verdict beside the README's `expect` line

The inputs live in ``tests/corpus/files/`` (made once by ``tests/corpus/make.py``, then checked in);
``tests/test_corpus.py`` runs the same comparison through :func:`report_for`.  An expected report keeps
only what is stable: the verdict, the outcome, rule ids with levels (sorted), the records found and the
trace kinds from ``verify`` (default profile, scope ``implicit``; also scope ``all`` for the few cases
``index.json`` marks ``full``), and the tier and evidence kinds of the platform review.  No paths,
offsets, messages, timings or timestamps, so a reworded finding does not churn the corpus, but a
changed rule id, level, verdict, record field or tier does.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
FILES = CORPUS / "files"
EXPECTED = CORPUS / "expected"
INDEX = CORPUS / "index.json"

#: the platform that reviews the corpus (Jimeng's propagator code), with the default configuration as
#: ``aigclabel review --json --platform-code`` uses it (explicit detectors only when metadata left no tier)
PLATFORM_CODE = "00119144030008867405X220001"


def load_index() -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = json.loads(INDEX.read_text(encoding="utf-8"))
    return index


def _verify(path: Path, scope: str) -> dict[str, Any]:
    import aigclabel
    from aigclabel.errors import AigcLabelError

    try:
        report = aigclabel.verify(path, scope=scope)
    except AigcLabelError as exc:
        return {"error": {"kind": exc.kind, "type": type(exc).__name__}}
    # one "rule: level" string per finding, so a changed level is a one-line diff
    findings = sorted(f"{f.rule}: {f.level.value}" for f in report.findings)
    labels = sorted(({"carrier": lab.carrier, "form": lab.form, "normative": lab.normative, "fields": lab.fields}
                     for lab in report.labels), key=lambda lab: json.dumps(lab, sort_keys=True, ensure_ascii=False))
    return {"format": report.format, "profile": report.profile, "scope": report.scope,
            "verdict": report.verdict.value, "outcome": report.outcome, "findings": findings, "labels": labels,
            "traces": sorted(t.kind for t in report.traces)}


def _review(path: Path) -> dict[str, Any]:
    from aigclabel.errors import AigcLabelError
    from aigclabel.platform import PlatformConfig, review

    try:
        r = review(path, platform=PlatformConfig(code=PLATFORM_CODE))
    except AigcLabelError as exc:
        return {"error": {"kind": exc.kind, "type": type(exc).__name__}}
    return {"tier": r.tier, "evidence": sorted(e.kind for e in r.evidence)}


def report_for(name: str, full: bool = False) -> dict[str, Any]:
    """The stable part of what aigclabel says about ``files/<name>`` today."""
    path = FILES / name
    out: dict[str, Any] = {"file": name, "verify": _verify(path, "implicit")}
    if full:
        out["verify_all"] = _verify(path, "all")
    out["review"] = _review(path)
    return out


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def expected_path(name: str) -> Path:
    return EXPECTED / f"{name}.json"


def diff(name: str, full: bool) -> str:
    """A unified diff of expected vs. actual for one file ('' when they agree)."""
    path = expected_path(name)
    want = path.read_text(encoding="utf-8") if path.exists() else ""
    got = dumps(report_for(name, full))
    if want == got:
        return ""
    return "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                        f"expected/{name}.json", f"actual/{name}.json"))


def _selected(index: dict[str, dict[str, Any]], only: list[str]) -> list[str]:
    unknown = [n for n in only if n not in index]
    if unknown:
        raise SystemExit(f"not in tests/corpus/index.json: {', '.join(unknown)}")
    return only or sorted(index)


def summary(report: dict[str, Any]) -> str:
    v = report["verify"]
    if "error" in v:
        text = f"error {v['error']['type']}"
    else:
        notable = sorted({f for f in v["findings"] if f.endswith((": error", ": warning"))})
        text = f"{v['outcome']}" + (f" ({'; '.join(notable)})" if notable else "")
    tier = report["review"].get("tier", "error")
    return f"{text}, tier {tier if tier is not None else 'none'}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="check or regenerate the golden corpus's expected reports")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with expected/*.json (default)")
    mode.add_argument("--update", action="store_true", help="rewrite expected/*.json from today's behaviour")
    mode.add_argument("--compare", action="store_true", help="print today's verdict beside the README's expect")
    ap.add_argument("--only", action="append", default=[], metavar="FILE", help="just this corpus file (repeatable)")
    args = ap.parse_args(argv)
    index = load_index()
    names = _selected(index, args.only)
    if args.update:
        EXPECTED.mkdir(exist_ok=True)
        if not args.only:
            for stale in EXPECTED.glob("*.json"):
                if stale.name[:-5] not in index:
                    stale.unlink()
                    print(f"removed {stale.name}")
        changed = 0
        for name in names:
            text = dumps(report_for(name, index[name]["full"]))
            path = expected_path(name)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                changed += 1
                print(f"updated {path.name}")
        print(f"{changed} of {len(names)} expected reports changed; review them with git diff {EXPECTED}")
        return 0
    if args.compare:
        for name in names:
            print(f"{name}\n  today:  {summary(report_for(name, index[name]['full']))}\n"
                  f"  expect: {index[name]['expect']}")
        return 0
    failed = 0
    for name in names:
        text = diff(name, index[name]["full"])
        if text:
            failed += 1
            sys.stdout.write(text)
    print(f"{failed} of {len(names)} corpus files differ from their expected report"
          + ("; after a deliberate change run scripts/corpus.py --update and review the diff" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `corpus.py --check | head`: the reader left, nothing more to say
        sys.exit(1)
