"""Audit a transform: what happened to every label and trace between BEFORE and AFTER.

A platform's transcoder, a CMS's thumbnailer or a user's re-save may drop the implicit label, which
the Measures (Art. 10) forbid.  :func:`diff` reads both files with the same handlers the verifier
uses and reports, as :class:`~aigclabel.report.Finding` objects with stable rule ids:

===========================  =========  ============================================================
rule                         level      meaning
===========================  =========  ============================================================
``diff.record-removed``      error      BEFORE carried an AIGC record, AFTER carries none
``diff.record-damaged``      error      AFTER's record can no longer be read
``diff.producer-altered``    error      Label/ContentProducer/ProduceID/ReservedCode1 changed (a breach)
``diff.propagation-removed`` error      a propagator's fields were dropped
``diff.fields-rewritten``    warning    the propagator pair was replaced by another platform's
``diff.propagation-added``   info       a platform added its ContentPropagator/PropagateID
``diff.record-moved``        warning    the record survived only outside the format's normative carrier
``diff.record-added``        info       AFTER carries a record BEFORE did not
``diff.record-kept``         pass       the record is there, unchanged
``diff.c2pa-removed``        error      the C2PA manifest is gone
``diff.c2pa-invalidated``    error      a manifest is there but no longer validates (the SDK's reason)
``diff.c2pa-kept``           pass       the manifest is there and validates
``diff.iptc-lost``           error      the IPTC digital source type is gone
``diff.iptc-changed``        warning    it names another source type
``diff.iptc-kept``           pass
``diff.trace-lost``          warning    another trace of AI generation is gone (not a label: no loss)
``diff.explicit-lost``       error      (``explicit=True``) the visible/audible label no longer passes
``diff.explicit-kept``       pass
``diff.not-checked``         not-checked  a comparison could not be made (C2PA SDK missing, OCR missing)
===========================  =========  ============================================================

A loss is an *error*: :attr:`Diff.exit_code` is 1 when anything was lost, 0 when nothing was, 3
when a comparison could not be made.  :func:`run_pipeline` runs a user's transform command (argument
list, no shell, a timeout) on BEFORE, so a platform can test its transcoder profile in CI.

(The module is ``diffing``: ``aigclabel.diff`` is the function, which a submodule of that name would
replace on the package once imported.)
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Any

from ._io import SourceLike, describe_source
from .carrying import PRODUCER_FIELDS, PROPAGATION_FIELDS
from .errors import OptionError, SourceError, UnsupportedOperation
from .formats import Evidence
from .label import ParsedLabel, parse_label
from .limits import Limits
from .profiles import DEFAULT_PROFILE, Profile, load_profile
from .reading import C2PA_NOTE, read_evidence
from .report import EXIT_POLICY, Finding, FoundLabel, Level

__all__ = ["diff", "diff_pipeline", "Diff", "run_pipeline", "PIPELINE_TIMEOUT"]

_ART10 = "Measures Art. 10"
_ANNEX_E = "GB 45438-2025 Annex E"
_C2PA = "C2PA 2.x"
_IPTC_CLAUSE = "IPTC Photo Metadata 2023.1 (DigitalSourceType)"
_IPTC = "iptc-digital-source-type"
#: seconds a --pipeline command may run
PIPELINE_TIMEOUT = 300.0


@dataclass
class Diff:
    """What a transform did to the labels of one file."""

    before: str
    after: str
    before_format: str
    after_format: str
    profile: str
    findings: list[Finding] = field(default_factory=list)
    #: the command that made AFTER, when :func:`run_pipeline` ran it
    pipeline: list[str] | None = None

    @property
    def lost(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.ERROR]

    @property
    def verdict(self) -> str:
        """``lost`` (something was lost), ``not-fully-checked`` (a comparison could not run), ``kept``."""
        if self.lost:
            return "lost"
        if any(f.level is Level.NOT_CHECKED for f in self.findings):
            return "not-fully-checked"
        return "kept"

    @property
    def exit_code(self) -> int:
        return {"lost": EXIT_POLICY.NONCOMPLIANT, "not-fully-checked": EXIT_POLICY.ERROR}.get(self.verdict,
                                                                                          EXIT_POLICY.OK)

    def by_rule(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]

    @property
    def rules(self) -> list[str]:
        return [f.rule for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"before": self.before, "after": self.after, "before_format": self.before_format,
                               "after_format": self.after_format, "profile": self.profile, "verdict": self.verdict,
                               "findings": [f.to_dict() for f in self.findings]}
        if self.pipeline is not None:
            out["pipeline"] = self.pipeline
        return out


def diff(before: SourceLike, after: SourceLike, *, explicit: bool = False, profile: str | Profile = DEFAULT_PROFILE,
         c2pa: Any = None, password: str | None = None, limits: Limits | None = None) -> Diff:
    """Compare the labels and traces of *before* and *after* (paths, bytes or binary files).

    *explicit* also compares the visible/audible label with the *profile*'s explicit checks (OCR
    for images and video, the prompt detector for audio), which is slower.  *c2pa* is a
    :class:`~aigclabel.c2pa.ReadOptions` for validating manifests.  Raises
    :class:`~aigclabel.errors.InputError` when either file cannot be read (could not check).
    """
    prof = load_profile(profile)
    b_ev, b_fmt = _read(before, c2pa, password, limits)
    a_ev, a_fmt = _read(after, c2pa, password, limits)
    findings = _records(b_ev, a_ev) + _c2pa(b_ev, a_ev) + _iptc(b_ev, a_ev) + _traces(b_ev, a_ev)
    if explicit:
        findings += _explicit(before, after, prof, password, limits)
    return Diff(before=describe_source(before), after=describe_source(after), before_format=b_fmt,
                after_format=a_fmt, profile=prof.id, findings=findings)


def _read(source: SourceLike, c2pa: Any, password: str | None, limits: Limits | None) -> tuple[Evidence, str]:
    with read_evidence(source, password=password, c2pa=c2pa, c2pa_mode=C2PA_NOTE, limits=limits) as opened:
        return opened.evidence, opened.handler.name


# ------------------------------------------------------------------------------------------ records


def _parsed(lab: FoundLabel) -> ParsedLabel:
    return lab.parsed if isinstance(lab.parsed, ParsedLabel) else parse_label(lab.raw)


def _primary(labels: list[FoundLabel]) -> FoundLabel | None:
    """The record a reader relies on: the first readable one in a normative carrier, else the first readable."""
    readable = [lab for lab in labels if _parsed(lab).fields is not None]
    ordered = sorted(readable, key=lambda lab: not lab.normative)
    return ordered[0] if ordered else None


def _where(lab: FoundLabel) -> str:
    return f"{lab.carrier} ({lab.location})"


def _records(before: Evidence, after: Evidence) -> list[Finding]:
    b, a = _primary(before.labels), _primary(after.labels)
    if b is None:
        if a is not None:
            return [Finding("diff.record-added", Level.INFO, f"AFTER carries an AIGC record BEFORE did not: {a.raw}",
                            clause=_ANNEX_E, location=_where(a))]
        return []
    if a is None:
        if after.labels:
            lab = after.labels[0]
            return [Finding("diff.record-damaged", Level.ERROR, "the AIGC record can no longer be read after the "
                            f"transform ({_where(lab)})", clause=_ART10, location=_where(lab), expected=b.raw,
                            actual=lab.raw)]
        return [Finding("diff.record-removed", Level.ERROR,
                        f"the AIGC record was removed: BEFORE carried it in {b.carrier}, AFTER carries none",
                        clause=_ART10, location=_where(b), expected=b.raw, actual="no record")]
    bf, af = _parsed(b).fields or {}, _parsed(a).fields or {}
    out: list[Finding] = []
    altered = [k for k in (*PRODUCER_FIELDS, *_extra_keys(bf, af)) if (bf.get(k) or "") != (af.get(k) or "")]
    if altered:
        out.append(Finding("diff.producer-altered", Level.ERROR,
                           "the producer's fields were altered: " + _changes(altered, bf, af)
                           + " (only a propagator's ContentPropagator/PropagateID/ReservedCode2 may be added)",
                           clause=_ART10, location=_where(a), expected=b.raw, actual=a.raw))
    added = [k for k in PROPAGATION_FIELDS if not bf.get(k) and af.get(k)]
    removed = [k for k in PROPAGATION_FIELDS if bf.get(k) and not af.get(k)]
    rewritten = [k for k in PROPAGATION_FIELDS if bf.get(k) and af.get(k) and bf[k] != af[k]]
    if removed:
        out.append(Finding("diff.propagation-removed", Level.ERROR,
                           "a propagator's fields were removed: " + _changes(removed, bf, af),
                           clause=_ART10, location=_where(a), expected=b.raw, actual=a.raw))
    if rewritten:
        out.append(Finding("diff.fields-rewritten", Level.WARNING,
                           "the propagation fields were rewritten: " + _changes(rewritten, bf, af)
                           + " (Annex E has one propagator pair: a later platform replaces an earlier one's)",
                           clause=_ANNEX_E, location=_where(a), expected=b.raw, actual=a.raw))
    if added:
        out.append(Finding("diff.propagation-added", Level.INFO,
                           "propagation fields were added: " + ", ".join(f"{k} {af[k]!r}" for k in added)
                           + " (the producer's fields unchanged)" * (not altered),
                           clause=_ANNEX_E, location=_where(a)))
    if b.normative and not any(lab.normative and _parsed(lab).fields is not None for lab in after.labels):
        out.append(Finding("diff.record-moved", Level.WARNING,
                           f"the record survived only in {a.carrier}, not in the format's normative carrier",
                           clause=_ANNEX_E, location=_where(a)))
    if not out:
        same = "the same carrier" if a.carrier == b.carrier else f"{a.carrier} (was {b.carrier})"
        out.append(Finding("diff.record-kept", Level.PASS, f"the AIGC record is kept unchanged, in {same}",
                           clause=_ART10, location=_where(a)))
    return out


def _extra_keys(bf: dict[str, str], af: dict[str, str]) -> list[str]:
    """Keys outside the Annex E seven (the 2023 schema's): all of them are the producer's."""
    known = set(PRODUCER_FIELDS) | set(PROPAGATION_FIELDS)
    return [k for k in dict.fromkeys([*bf, *af]) if k not in known]


def _changes(keys: list[str], bf: dict[str, str], af: dict[str, str]) -> str:
    return ", ".join(f"{k} {bf.get(k, '')!r} -> {af.get(k, '')!r}" for k in keys)


# ------------------------------------------------------------------------------------------ C2PA


def _c2pa(before: Evidence, after: Evidence) -> list[Finding]:
    from .c2pa import c2pa_status

    b, a = c2pa_status(before), c2pa_status(after)
    if b["status"] == "absent" or b["status"] == "unsupported-format":
        return []
    if b["status"] != "present":
        if b["status"] == "not-installed":
            return [Finding("diff.not-checked", Level.NOT_CHECKED, f"C2PA not compared: {b['message']}",
                            clause=_C2PA)] if _store_present(before) else []
        return [Finding("diff.not-checked", Level.NOT_CHECKED, f"C2PA not compared: BEFORE's manifest: {b['message']}",
                        clause=_C2PA)]
    manifest = b["manifest"]
    if not manifest.intact:
        return [Finding("diff.c2pa-kept", Level.INFO, "BEFORE's C2PA manifest did not validate already "
                        f"({manifest.state_text()}); nothing to lose", clause=_C2PA)]
    if a["status"] in ("absent", "unsupported-format"):
        why = "" if a["status"] == "absent" else f" ({a['message']})"
        return [Finding("diff.c2pa-removed", Level.ERROR, f"the C2PA manifest was removed{why}", clause=_C2PA,
                        expected=manifest.describe(), actual="no manifest")]
    if a["status"] != "present":
        level = Level.NOT_CHECKED if a["status"] in ("not-installed", "remote") else Level.ERROR
        rule = "diff.not-checked" if level is Level.NOT_CHECKED else "diff.c2pa-invalidated"
        return [Finding(rule, level, f"AFTER's C2PA manifest: {a['message']}", clause=_C2PA)]
    after_manifest = a["manifest"]
    if not after_manifest.intact:
        return [Finding("diff.c2pa-invalidated", Level.ERROR,
                        f"the C2PA manifest no longer validates: {after_manifest.state_text()}", clause=_C2PA,
                        expected=manifest.state_text(), actual=after_manifest.state_text())]
    if after_manifest.label != manifest.label:
        parent = any(ing.get("manifest") == manifest.label for ing in after_manifest.ingredients)
        return [Finding("diff.c2pa-kept", Level.PASS, "a new C2PA manifest validates"
                        + (" and names BEFORE's as its parent ingredient" if parent else
                           " (it does not name BEFORE's manifest as an ingredient)"),
                        clause=_C2PA, actual=after_manifest.state_text())]
    return [Finding("diff.c2pa-kept", Level.PASS, f"the C2PA manifest is kept and validates "
                    f"({after_manifest.state_text()})", clause=_C2PA)]


def _store_present(evidence: Evidence) -> bool:
    return any(t.kind == "c2pa-manifest" for t in evidence.traces)


# ------------------------------------------------------------------------------------------ traces


def _iptc(before: Evidence, after: Evidence) -> list[Finding]:
    b = [t for t in before.traces if t.kind == _IPTC]
    if not b:
        return []
    a = [t for t in after.traces if t.kind == _IPTC]
    if not a:
        return [Finding("diff.iptc-lost", Level.ERROR, f"the IPTC digital source type was lost ({b[0].detail})",
                        clause=_IPTC_CLAUSE, location=b[0].location, expected=b[0].detail, actual="none")]
    if {t.detail for t in a} != {t.detail for t in b}:
        return [Finding("diff.iptc-changed", Level.WARNING, "the IPTC digital source type changed: "
                        f"{b[0].detail} -> {a[0].detail}", clause=_IPTC_CLAUSE, location=a[0].location,
                        expected=b[0].detail, actual=a[0].detail)]
    return [Finding("diff.iptc-kept", Level.PASS, f"the IPTC digital source type is kept ({a[0].detail})",
                    clause=_IPTC_CLAUSE, location=a[0].location)]


def _traces(before: Evidence, after: Evidence) -> list[Finding]:
    """Other traces (generator metadata, ...): compared by kind and text; C2PA and IPTC are compared above."""
    def others(ev: Evidence) -> list[tuple[str, str]]:
        return [(t.kind, t.detail) for t in ev.traces if t.kind != _IPTC and not t.kind.startswith("c2pa")]

    left = others(after)
    out = []
    for kind, detail in others(before):
        if (kind, detail) in left:
            left.remove((kind, detail))
            continue
        out.append(Finding("diff.trace-lost", Level.WARNING, f"a trace of AI generation was lost: {kind}: {detail}",
                           clause=_ART10, expected=detail, actual="none"))
    return out


# ------------------------------------------------------------------------------------------ explicit


def _explicit(before: SourceLike, after: SourceLike, prof: Profile, password: str | None,
              limits: Limits | None) -> list[Finding]:
    """The profile's explicit checks on both files: a label that passed before and not after was lost."""
    from .verifier import verify

    b = verify(_again(before), profile=prof, scope="explicit", password=password, limits=limits)
    a = verify(_again(after), profile=prof, scope="explicit", password=password, limits=limits)
    out: list[Finding] = []
    after_by_rule: dict[str, list[Finding]] = {}
    for f in a.findings:
        after_by_rule.setdefault(f.rule, []).append(f)
    for f in b.findings:
        if not f.rule.startswith("explicit."):
            continue
        what = "audible prompt" if f.rule == "explicit.audio" else "visible label"
        later = after_by_rule.get(f.rule) or []
        if f.level is not Level.PASS:
            if f.level is Level.NOT_CHECKED:
                out.append(Finding("diff.not-checked", Level.NOT_CHECKED, f"{f.rule} not compared: {f.message}",
                                   clause=f.clause))
            continue  # BEFORE shows no label that passes: nothing to lose
        if any(g.level is Level.PASS for g in later):
            out.append(Finding("diff.explicit-kept", Level.PASS, f"the {what} still passes {f.rule}: "
                               f"{next(g.message for g in later if g.level is Level.PASS)}", clause=f.clause))
        elif any(g.level is Level.NOT_CHECKED for g in later) or not later:
            why = next((g.message for g in later), f"AFTER is {a.format.upper()}, which {f.rule} does not check")
            out.append(Finding("diff.not-checked", Level.NOT_CHECKED, f"the {what} after the transform was not "
                               f"checked: {why}", clause=f.clause))
        else:
            verb = "cut" if f.rule == "explicit.audio" else "cropped out or shrunk under the profile's size"
            out.append(Finding("diff.explicit-lost", Level.ERROR, f"the {what} was {verb}: {later[0].message}",
                               clause=f.clause, location=later[0].location, expected=f.message,
                               actual=later[0].message))
    return out


def _again(source: SourceLike) -> SourceLike:
    """A source that can be read a second time (a file object is rewound)."""
    if hasattr(source, "seek") and not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        source.seek(0)
    return source


# ------------------------------------------------------------------------------------------ pipeline


def run_pipeline(command: str | list[str], before: str | os.PathLike, after: str | os.PathLike, *,
                 timeout: float = PIPELINE_TIMEOUT) -> list[str]:
    """Run a user's transform: ``{in}`` and ``{out}`` in *command* become the two paths.

    The command is split like a shell would (``shlex``) but runs without one, so the paths need no
    quoting and nothing in them is interpreted.  Returns the argument list that ran; raises
    :class:`~aigclabel.errors.OptionError` for a command without ``{in}``/``{out}``, and
    :class:`~aigclabel.errors.UnsupportedOperation` when it cannot start, fails, times out, or writes
    no output.
    """
    try:
        parts = shlex.split(command) if isinstance(command, str) else list(command)
    except ValueError as exc:
        raise OptionError(f"pipeline command cannot be split: {exc}") from None
    if not parts:
        raise OptionError("pipeline command is empty")
    joined = " ".join(parts)
    if "{in}" not in joined or "{out}" not in joined:
        raise OptionError("pipeline command must contain {in} and {out} (the input and output paths)")
    argv = [p.replace("{in}", os.fspath(before)).replace("{out}", os.fspath(after)) for p in parts]
    if not os.path.isfile(before):
        raise SourceError(f"{os.fspath(before)}: no such file")
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise UnsupportedOperation(f"pipeline command not found: {argv[0]}") from None
    except PermissionError:
        raise UnsupportedOperation(f"pipeline command cannot be run: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise UnsupportedOperation(f"pipeline command timed out after {timeout:g} s: {shlex.join(argv)}") from None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise UnsupportedOperation(f"pipeline command failed (exit {proc.returncode}): {shlex.join(argv)}"
                                   + (f": {' | '.join(tail)}" if tail else ""))
    if not os.path.isfile(after) or os.path.getsize(after) == 0:
        raise UnsupportedOperation(f"pipeline command wrote no output at {os.fspath(after)}: {shlex.join(argv)}")
    return argv


def diff_pipeline(before: str | os.PathLike, command: str | list[str], *, after: str | os.PathLike | None = None,
                  suffix: str | None = None, timeout: float = PIPELINE_TIMEOUT, **options: Any) -> Diff:
    """Run *command* (see :func:`run_pipeline`) on *before* and :func:`diff` the result.

    The output goes to *after* when given (and is kept), else to a scratch file named with *suffix*
    (default: *before*'s extension, which tools such as ffmpeg read to pick the output format),
    removed afterwards.  *options* are :func:`diff`'s.
    """
    from ._io import temp_directory

    if after is not None:
        argv = run_pipeline(command, before, after, timeout=timeout)
        result = diff(before, after, **options)
        result.pipeline = argv
        return result
    ext = suffix if suffix is not None else os.path.splitext(os.fspath(before))[1]
    if ext and not ext.startswith("."):
        ext = "." + ext
    with temp_directory("diff") as scratch:
        out = os.path.join(scratch, "after" + ext)
        argv = run_pipeline(command, before, out, timeout=timeout)
        result = diff(before, out, **options)
    result.pipeline = argv
    result.after = f"<output of the pipeline>{ext}"
    return result
