"""Findings and reports: the one result model shared by library, command line and service.

A :class:`Finding` is one clause-level outcome ("the record's Label is '1' — pass",
"no explicit label could be checked — not checked").  A :class:`Report` gathers the
findings for one file and derives the verdict and the exit code from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable

from .errors import AigcLabelError

__all__ = ["Level", "Verdict", "Finding", "FoundLabel", "Trace", "Report", "ExitPolicy", "EXIT_POLICY", "EXIT_CODES",
           "worst_exit_code", "error_dict"]


class Level(str, enum.Enum):
    """How a finding bears on the verdict."""

    PASS = "pass"  # the requirement was checked and is met
    INFO = "info"  # worth knowing, no bearing on compliance
    WARNING = "warning"  # questionable but not a breach (e.g. a provider code with a bad check character)
    ERROR = "error"  # the requirement is not met
    NOT_CHECKED = "not-checked"  # the requirement could not be checked; never counted as a pass

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


class Verdict(str, enum.Enum):
    COMPLIANT = "compliant"
    NONCOMPLIANT = "noncompliant"
    INCONCLUSIVE = "inconclusive"  # a required check could not run

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


class ExitPolicy:
    """The exit codes of every front end (CLI, batch workers, the demo), decided in this one place.

    ``0`` compliant, ``1`` non-compliant, ``2`` usage or profile error, ``3`` could not check (an
    input error, a required check that could not run, or an internal error).

    With several files the most serious wins, in the order a CI job needs: **1 > 3 > 2 > 0**.  A
    non-compliant file is never masked by one that could not be checked (a gate that only tests
    for 1 still fails), and "could not check" outranks a usage error met on one file.
    """

    OK = 0
    NONCOMPLIANT = 1
    USAGE = 2
    ERROR = 3
    #: error kinds (``AigcLabelError.kind``) that mean the command was used wrongly
    USAGE_KINDS = frozenset({"profile-error", "label-error", "option-error"})
    #: how serious each code is when several files are combined (higher wins)
    SEVERITY = {OK: 0, USAGE: 1, ERROR: 2, NONCOMPLIANT: 3}

    def for_verdict(self, verdict: Verdict | str) -> int:
        value = verdict.value if isinstance(verdict, Verdict) else verdict
        return {Verdict.COMPLIANT.value: self.OK, Verdict.NONCOMPLIANT.value: self.NONCOMPLIANT,
                Verdict.INCONCLUSIVE.value: self.ERROR}[value]

    def for_error_kind(self, kind: str | None) -> int:
        return self.USAGE if kind in self.USAGE_KINDS else self.ERROR

    def for_error(self, exc: BaseException) -> int:
        """Usage-type errors (bad profile, bad label value) are 2; everything else that stops a file is 3."""
        return self.for_error_kind(exc.kind if isinstance(exc, AigcLabelError) else None)

    def worst(self, codes: Iterable[int]) -> int:
        """With several files the most serious outcome wins: 1 (non-compliant) > 3 > 2 > 0."""
        return max(codes, key=lambda c: self.SEVERITY.get(c, 2), default=self.OK)


EXIT_POLICY = ExitPolicy()

#: verdict/usage/error -> exit code (kept for callers of 0.1; derived from :data:`EXIT_POLICY`)
EXIT_CODES: dict[str, int] = {
    Verdict.COMPLIANT.value: EXIT_POLICY.OK,
    Verdict.NONCOMPLIANT.value: EXIT_POLICY.NONCOMPLIANT,
    "usage": EXIT_POLICY.USAGE,
    Verdict.INCONCLUSIVE.value: EXIT_POLICY.ERROR,
    "error": EXIT_POLICY.ERROR,
}


def worst_exit_code(codes: Iterable[int]) -> int:
    return EXIT_POLICY.worst(codes)


def error_dict(exc: BaseException) -> dict[str, str]:
    """``{"kind", "type", "message"}`` for an exception; anything not ours is ``internal-error``."""
    kind = exc.kind if isinstance(exc, AigcLabelError) else "internal-error"
    return {"kind": kind, "type": type(exc).__name__, "message": str(exc) or type(exc).__name__}


@dataclass
class Finding:
    """One outcome of one requirement for one file."""

    rule: str  # rule id, e.g. "implicit.record-fields"
    level: Level
    message: str
    clause: str = ""  # the clause the requirement comes from, e.g. "GB 45438-2025 Annex E"
    location: str | None = None  # where in the file, e.g. "APP1 XMP segment at offset 20"
    expected: str | None = None
    actual: str | None = None
    #: True when the requirement is mandatory in the profile: a NOT_CHECKED required finding
    #: makes the verdict inconclusive
    required: bool = True
    #: structured evidence for viewers (e.g. OCR boxes in pixels, prompt segments in seconds); not in
    #: :meth:`to_dict`, whose shape reports and SARIF keep -- :mod:`aigclabel.reviewpage` shows it
    data: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "level": self.level.value,
            "clause": self.clause,
            "message": self.message,
        }
        for key in ("location", "expected", "actual"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass
class FoundLabel:
    """One AIGC record found in a file: which carrier, where, and what it says."""

    carrier: str  # e.g. "xmp:TC260:AIGC", "exif:UserComment", "png:tEXt:AIGC"
    location: str  # human-readable place in the file
    raw: str  # the text as stored (after XML unescaping / decoding)
    normative: bool  # True when this is the carrier the rules name for the format
    #: filled by the label parser: the parsed fields (None when the JSON is invalid)
    fields: dict[str, str] | None = None
    form: str = "bare"  # "bare" | "wrapped" | "legacy-2023" | "invalid"
    #: byte offset of the carrier in the file, when known (for "before the payload" checks)
    offset: int | None = None
    before_payload: bool | None = None
    #: the :class:`aigclabel.label.ParsedLabel` behind ``fields``/``form`` (not serialised)
    parsed: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "location": self.location,
            "form": self.form,
            "normative": self.normative,
            "fields": self.fields,
        }


@dataclass
class Trace:
    """Evidence of AI generation that is not an AIGC record (IPTC source type, generator chunks)."""

    kind: str  # e.g. "iptc-digital-source-type", "generator-metadata"
    detail: str
    location: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "location": self.location}


@dataclass
class Report:
    """The result of checking one file against one profile."""

    path: str
    format: str
    profile: str
    scope: str = "all"
    findings: list[Finding] = field(default_factory=list)
    labels: list[FoundLabel] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    #: bytes of the file actually read while checking (seeks are free)
    bytes_read: int | None = None

    @property
    def verdict(self) -> Verdict:
        if any(f.level is Level.ERROR for f in self.findings):
            return Verdict.NONCOMPLIANT
        if any(f.level is Level.NOT_CHECKED and f.required for f in self.findings):
            return Verdict.INCONCLUSIVE
        return Verdict.COMPLIANT

    @property
    def outcome(self) -> str:
        """What kind of yes or no, for a platform: ``compliant``, ``not-labelled`` (no label of any kind
        was found), ``non-compliant`` (a label is there but breaks the rules, or one is missing) or
        ``not-fully-checked`` (a required check could not run).  The verdict and exit code stay as they are."""
        verdict = self.verdict
        if verdict is Verdict.COMPLIANT:
            return "compliant"
        if verdict is Verdict.INCONCLUSIVE:
            return "not-fully-checked"
        found_explicit = any(f.level is Level.PASS and f.rule.startswith("explicit.") for f in self.findings)
        if not self.labels and not found_explicit:
            return "not-labelled"
        return "non-compliant"

    @property
    def exit_code(self) -> int:
        return EXIT_POLICY.for_verdict(self.verdict)

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.COMPLIANT

    def by_level(self, level: Level) -> list[Finding]:
        return [f for f in self.findings if f.level is level]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "profile": self.profile,
            "scope": self.scope,
            "verdict": self.verdict.value,
            "outcome": self.outcome,
            "findings": [f.to_dict() for f in self.findings],
            "labels": [{"carrier": lab.carrier, "fields": lab.fields, "form": lab.form,
                        "location": lab.location} for lab in self.labels],
            "traces": [t.to_dict() for t in self.traces],
        }
