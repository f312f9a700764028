"""The verifier: bytes -> handler -> Evidence -> rules (driven by a Profile) -> Report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._io import CountingReader, SourceLike
from .formats import Evidence, FormatHandler
from .errors import OptionError
from .limits import Limits
from .profiles import DEFAULT_PROFILE, Profile, load_profile
from .reading import read_evidence
from .report import Finding, FoundLabel, Level, Report, Trace
from .rules import CheckContext, get_rule

if TYPE_CHECKING:  # pragma: no cover
    from .c2pa import ReadOptions as C2paReadOptions

__all__ = ["verify", "inspect", "Inspection", "SCOPES", "check_evidence"]

SCOPES = ("implicit", "explicit", "all")


def check_evidence(evidence: Evidence, profile: Profile, scope: str = "all",
                   source: CountingReader | None = None, extra: dict[str, Any] | None = None,
                   handler: FormatHandler | None = None) -> list[Finding]:
    """Run the profile's rules over *evidence*; each finding gets the clause and level the profile gives.

    *source* is the open content and *handler* the handler that read it, for rules that must look
    at the content (pixels, PCM, frames, text blocks); without them such rules report *not checked*.
    """
    if scope not in SCOPES:
        raise OptionError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    ctx = CheckContext(evidence=evidence, profile=profile, scope=scope, source=source, extra=dict(extra or {}),
                       handler=handler)
    findings: list[Finding] = []
    for cfg in profile.enabled_rules():
        module = get_rule(cfg.id)
        assert module is not None  # validated when the profile was loaded
        if scope != "all" and module.SCOPE != scope:
            continue
        if module.KINDS is not None and evidence.kind not in module.KINDS:
            continue
        for finding in module.check(ctx, cfg.options):
            finding.clause = finding.clause or cfg.clause
            finding.required = cfg.required
            if finding.level is Level.ERROR and cfg.level != "error":
                finding.level = Level(cfg.level)
            elif finding.level is Level.WARNING and cfg.level == "info":
                finding.level = Level.INFO
            findings.append(finding)
    return findings


def verify(source: SourceLike, *, profile: str | Profile = DEFAULT_PROFILE, scope: str = "all",
           password: str | None = None, c2pa: C2paReadOptions | None = None,
           limits: Limits | None = None) -> Report:
    """Check *source* (path, bytes or binary file) against *profile*.

    *c2pa* sets how C2PA manifests are validated (trust anchors, network access); they are read
    only when the profile has a rule that needs them.  *limits* bounds the resources the check may
    use (default: the limits in force, see :mod:`aigclabel.limits`).

    A non-compliant file is a :class:`Report` with findings; exceptions mean the file could not be
    checked (:class:`~aigclabel.errors.InputError` and subclasses) or the profile is bad
    (:class:`~aigclabel.errors.ProfileError`).
    """
    prof = load_profile(profile)
    if scope not in SCOPES:
        raise OptionError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    with read_evidence(source, password=password, profile=prof, c2pa=c2pa, scope=scope, limits=limits) as opened:
        evidence, src = opened.evidence, opened.src
        findings = [f for f in evidence.findings] + check_evidence(evidence, prof, scope, src, handler=opened.handler)
        name, bytes_read, fmt = src.name, src.bytes_read, opened.handler.name
    return Report(path=name, format=fmt, profile=prof.id, scope=scope, findings=findings,
                  labels=evidence.labels, traces=evidence.traces, bytes_read=bytes_read)


@dataclass
class Inspection:
    """Every label and trace in a file, whatever the profile."""

    path: str
    format: str
    kind: str
    labels: list[FoundLabel] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        labels = []
        for lab in self.labels:
            item = lab.to_dict()
            item["raw"] = lab.raw
            item["schema"] = lab.parsed.schema if lab.parsed is not None else None
            item["problems"] = [p.to_dict() for p in (lab.parsed.problems if lab.parsed is not None else [])]
            labels.append(item)
        return {"path": self.path, "format": self.format, "kind": self.kind, "info": self.info,
                "labels": labels, "traces": [t.to_dict() for t in self.traces],
                "findings": [f.to_dict() for f in self.findings]}


def inspect(source: SourceLike, *, c2pa: C2paReadOptions | None = None, password: str | None = None,
            limits: Limits | None = None) -> Inspection:
    """Read every label and trace *source* carries, without judging it (a C2PA manifest too)."""
    with read_evidence(source, password=password, c2pa=c2pa, limits=limits) as opened:
        ev, name = opened.evidence, opened.src.name
    return Inspection(path=name, format=ev.format, kind=ev.kind, labels=ev.labels, traces=ev.traces,
                      findings=ev.findings, info=ev.info)
