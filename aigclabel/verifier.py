"""The verifier: bytes -> handler -> Evidence -> rules (driven by a Profile) -> Report."""

from __future__ import annotations

import copy
import os
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
    from .security import TrustedKeys

__all__ = ["verify", "inspect", "Inspection", "SCOPES", "check_evidence", "with_trusted_keys"]

SECURITY_RULE = "implicit.security-data"
_SECURITY_CLAUSE = "TC260-PG-202511A (metadata security data)"


def with_trusted_keys(profile: str | os.PathLike[str] | Profile,
                      trusted_keys: str | os.PathLike[str] | None) -> Profile:
    """A copy of *profile* whose SecurityData rule judges signing keys against the *trusted_keys* file.

    The rule is added (at its own levels) when the profile lacks or disables it: whoever passes trusted keys
    wants signatures checked (*trusted_keys* None: only that).  This is how a batch run hands the keys to
    worker processes (the profile travels with each task; the file is read once per worker).
    """
    prof = copy.deepcopy(load_profile(profile))
    cfg = prof.rules.get(SECURITY_RULE)
    if cfg is None:
        from .profiles import RuleConfig

        module = get_rule(SECURITY_RULE)
        assert module is not None
        cfg = RuleConfig(id=SECURITY_RULE, clause=_SECURITY_CLAUSE, options=dict(module.OPTIONS))
        prof.rules[SECURITY_RULE] = cfg
    cfg.enabled = True
    if trusted_keys is not None:
        cfg.options["trusted_keys"] = os.path.abspath(os.fspath(trusted_keys))
    return prof

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
           limits: Limits | None = None,
           trusted_keys: str | os.PathLike[str] | TrustedKeys | None = None) -> Report:
    """Check *source* (path, bytes or binary file) against *profile*.

    *c2pa* sets how C2PA manifests are validated (trust anchors, network access); they are read
    only when the profile has a rule that needs them.  *limits* bounds the resources the check may
    use (default: the limits in force, see :mod:`aigclabel.limits`).  *trusted_keys* (a trusted-keys file or a
    loaded :class:`~aigclabel.security.TrustedKeys`) pins SecurityData signing keys to provider codes: a valid
    signature by a key not listed for the ContentProducer it claims is an error (see
    :mod:`aigclabel.rules.implicit_security_data`); the rule runs whatever the profile says.

    A non-compliant file is a :class:`Report` with findings; exceptions mean the file could not be
    checked (:class:`~aigclabel.errors.InputError` and subclasses) or the profile is bad
    (:class:`~aigclabel.errors.ProfileError`).
    """
    prof = load_profile(profile)
    if scope not in SCOPES:
        raise OptionError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    extra: dict[str, Any] = {}
    if trusted_keys is not None:
        from .security import trusted_keys_from

        extra["trusted_keys"] = trusted_keys_from(trusted_keys)  # a bad file: OptionError before any reading
        if isinstance(trusted_keys, (str, os.PathLike)):
            prof = with_trusted_keys(prof, trusted_keys)
        elif SECURITY_RULE not in {r.id for r in prof.enabled_rules()}:
            prof = with_trusted_keys(prof, None)
    with read_evidence(source, password=password, profile=prof, c2pa=c2pa, scope=scope, limits=limits) as opened:
        evidence, src = opened.evidence, opened.src
        findings = [f for f in evidence.findings] + check_evidence(evidence, prof, scope, src, extra=extra,
                                                                   handler=opened.handler)
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
    #: per label (same order as ``labels``): the SecurityData state of ReservedCode1 and ReservedCode2
    #: (:meth:`aigclabel.security.SecurityResult.to_dict`); empty for records without those fields
    security: list[list[dict[str, Any]]] = field(default_factory=list)
    #: the watermark reading when asked for (:func:`aigclabel.watermark.inspection`), else None
    watermark: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        labels = []
        for i, lab in enumerate(self.labels):
            item = lab.to_dict()
            item["security"] = self.security[i] if i < len(self.security) else []
            item["raw"] = lab.raw
            item["schema"] = lab.parsed.schema if lab.parsed is not None else None
            item["problems"] = [p.to_dict() for p in (lab.parsed.problems if lab.parsed is not None else [])]
            labels.append(item)
        out = {"path": self.path, "format": self.format, "kind": self.kind, "info": self.info,
               "labels": labels, "traces": [t.to_dict() for t in self.traces],
               "findings": [f.to_dict() for f in self.findings]}
        if self.watermark is not None:
            out["watermark"] = self.watermark
        return out


def inspect(source: SourceLike, *, c2pa: C2paReadOptions | None = None, password: str | None = None,
            limits: Limits | None = None,
            trusted_keys: str | os.PathLike[str] | TrustedKeys | None = None,
            watermark: bool | str | bytes = False) -> Inspection:
    """Read every label and trace *source* carries, without judging it (a C2PA manifest too).

    Each GB 45438 record's ReservedCode1/2 is shown as its SecurityData state (absent, opaque, valid,
    invalid, unverifiable; binding; trust against *trusted_keys* when given) in :attr:`Inspection.security`.
    *watermark* (True, or the key the ids were made with) also looks for the invisible watermark - a picture or
    audio decode, so off by default - into :attr:`Inspection.watermark`.
    """
    trusted = None
    if trusted_keys is not None:
        from .security import trusted_keys_from

        trusted = trusted_keys_from(trusted_keys)
    with read_evidence(source, password=password, c2pa=c2pa, limits=limits) as opened:
        ev, name = opened.evidence, opened.src.name
        security = [_security_of(lab, opened.handler, opened.src, trusted) for lab in ev.labels]
        mark = None
        if watermark is not False:
            from .watermark import inspection

            key = watermark if isinstance(watermark, (str, bytes)) else None
            mark = inspection(opened.handler, opened.src, ev, key)
    return Inspection(path=name, format=ev.format, kind=ev.kind, labels=ev.labels, traces=ev.traces,
                      findings=ev.findings, info=ev.info, security=security, watermark=mark)


def _security_of(lab: FoundLabel, handler: FormatHandler, src: CountingReader,
                 trusted: TrustedKeys | None) -> list[dict[str, Any]]:
    from .label import SCHEMA_GB

    if lab.parsed is None or lab.parsed.schema != SCHEMA_GB or not lab.fields:
        return []
    if not any(lab.fields.get(f) for f in ("ReservedCode1", "ReservedCode2")):
        # nothing signed: say so without loading any crypto
        return [{"field": f, "status": "absent", "reason": f"{f} is empty"} for f in ("ReservedCode1", "ReservedCode2")]
    from .security import check_record

    return [res.to_dict() for res in check_record(lab.fields, handler, src, trusted)]
