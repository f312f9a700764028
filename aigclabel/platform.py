"""Upload review for platforms that spread content (Measures Art. 6; labelling-rules.md §5).

A platform, on upload, reads the implicit label, decides which notice to show, and adds its own
propagation fields::

    from aigclabel.platform import PlatformConfig, review
    cfg = PlatformConfig(code="00119144030008867405X220001")
    r = review("upload.png", platform=cfg, declared_ai=False, output="spread.png")
    r.tier, r.notice, r.evidence, r.record

The decision, in order:

1. a valid GB 45438 record (no error findings) -> its ``Label`` ("1", "2", "3") is the tier; a valid
   2023-schema record counts as tier 1 (that schema was only ever written on AI output);
2. otherwise the uploader declared AI -> tier 2;
3. otherwise a trace of generation -> tier 3: a C2PA manifest naming AI generation -- in the C2PA
   Asset Rubrics 1.0 signals ``inception:signal_fullyGenAIMedia``, ``inception:signal_partlyGenAICreation``
   or ``transformation:signal_perceptibleGenAI`` of the active manifest *or of an ingredient's*
   manifest, or a C2PA 2.4 ``c2pa.ai-disclosure`` assertion -- an IPTC DigitalSourceType naming AI
   generation, generator metadata (Stable Diffusion ``parameters`` in PNG text or EXIF UserComment,
   Fooocus, ComfyUI ``prompt``/``workflow``, a known generator in EXIF ``Software``), a malformed AIGC
   record (someone meant to label it), or
   an explicit label found by the profile's explicit checks (OCR for images, the Morse/voice detector
   for audio, the text of documents and text files); the explicit checks run only when the metadata
   left no tier (``detect_explicit="auto"``), because they decode the content;
4. otherwise no tier (``None``): nothing to show, nothing written.  The rubric's "may contain" signals
   (``compositionMayContainGenAI``, ``screenCaptureMayContainGenAI``, ``perceptiblePossiblyGenAI``) are
   evidence, not traces: a composite or a screen capture is not suspected AI by that alone.

Everything found is reported as evidence (``{"kind", "detail"}``), and ``relied_on`` says which
piece decided. Malformed or conflicting records never raise: they are evidence.

Propagation (what is written with ``write=True`` or ``output=...``): the relied-on record with
``ContentPropagator`` = the platform code, ``PropagateID`` = the given id, else the id this platform
already wrote, else a fresh one, and ``ReservedCode2`` = the given value, else the existing one when
this platform wrote it, else "" (another platform's security data cannot vouch for our fields). The
producer's fields (``Label``, ``ContentProducer``, ``ProduceID``, ``ReservedCode1``) are copied from the
record as read, so their values are byte-identical (a valid record is ASCII, which the compact JSON
keeps unescaped). For tiers 2 and 3 without a usable record, a record is created with ``Label`` "2"/"3"
and — since no producer is known — ``ContentProducer`` = :attr:`PlatformConfig.unknown_producer`
("unknown" by default: Annex E requires a non-empty value and a provider code would misattribute the
content) and ``ProduceID`` = the ``PropagateID`` (unique and traceable to the platform); the evidence
states this assumption.

What is never written (evidence ``not-written``, :attr:`Review.write_refused` set): records that
disagree (which one is right is for a person to decide), a malformed record (replacing it would
remove a label, Measures Art. 10; ``replace_malformed=True`` allows it), a C2PA-signed file in place
(the write would break the manifest's hard binding: give an output path to write a copy, the
original stays intact), and formats this version cannot write. Files that cannot be read at all raise
:class:`~aigclabel.errors.InputError`, as :func:`~aigclabel.verify` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._io import SourceLike, atomic_output, describe_source
from .c2pa import GENAI_SIGNALS, POSSIBLY_GENAI_SIGNALS  # plain names: the SDK is imported only on use
from .errors import LabelError, OptionError, ProfileError, UnsupportedOperation
from .limits import Limits
from .label import (FIELDS, SCHEMA_GB, SCHEMA_TC260_2023, AigcRecord, check_provider_code, is_allowed_value,
                    new_produce_id)
from .profiles import DEFAULT_PROFILE
from .report import Finding, FoundLabel, Level, Trace

if TYPE_CHECKING:  # pragma: no cover
    from ._io import CountingReader
    from .formats import FormatHandler
    from .security import PrivateKey, TrustedKeys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PlatformConfig", "Review", "EvidenceItem", "review", "load_platform", "DEFAULT_NOTICES",
           "AI_SOURCE_TYPES", "AI_SIGNALS", "DETECT_EXPLICIT"]

#: notice strings per language and tier (labelling-rules.md §5; tier 1 and 3 as Douyin shows them)
DEFAULT_NOTICES: dict[str, dict[int, str]] = {
    "zh": {1: "作品含AI生成内容", 2: "可能为AI生成内容", 3: "疑似使用了AI生成技术，请谨慎甄别"},
    "en": {1: "AI-generated", 2: "may be AI-generated", 3: "suspected AI-generated"},
}
#: IPTC DigitalSourceType values (also used in C2PA actions) that name AI generation
AI_SOURCE_TYPES: tuple[str, ...] = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
)
#: when the explicit-label checks run: only if metadata left no tier, always, or never
DETECT_EXPLICIT = ("auto", "always", "never")

_MEASURES_ART6 = "Measures Art. 6"
_TOML_KEYS = {"code", "name", "language", "notices", "profile", "detect_explicit", "unknown_producer",
              "replace_malformed", "ai_source_types", "trusted_keys", "sign_key"}


# --------------------------------------------------------------------------------------------- config


@dataclass
class PlatformConfig:
    """Who the platform is and how it reviews; load one from TOML with :func:`load_platform`.

    ``notices`` maps a language to the notice of each tier; ``language`` picks the one shown in
    :attr:`Review.notice` (every language is in :attr:`Review.notices`).  ``profile`` supplies the
    wording rules of the explicit checks.  ``trusted_keys`` (a trusted-keys file: provider code -> SM2
    public keys) pins the producers' SecurityData keys; ``sign_key`` (an SM2 PEM key) signs this platform's
    fields into ``ReservedCode2`` when writing.  Both are paths, so a config crosses process boundaries.
    """

    code: str
    name: str = ""
    language: str = "en"
    notices: dict[str, dict[int, str]] = field(default_factory=lambda: {k: dict(v) for k, v in
                                                                        DEFAULT_NOTICES.items()})
    profile: str = DEFAULT_PROFILE
    detect_explicit: str = "auto"
    unknown_producer: str = "unknown"
    replace_malformed: bool = False
    ai_source_types: tuple[str, ...] = AI_SOURCE_TYPES
    trusted_keys: str = ""
    sign_key: str = ""

    def __post_init__(self) -> None:
        for what, value in (("platform code", self.code), ("unknown_producer", self.unknown_producer)):
            if not isinstance(value, str) or not value:
                raise LabelError(f"{what} is empty; ContentPropagator/ContentProducer must not be empty")
            if not is_allowed_value(value):
                raise LabelError(f"{what} {value!r} has characters GB 45438-2025 Annex E does not allow "
                                 "(printable ASCII without space, '\"' and '\\'); use the provider code")
        if self.detect_explicit not in DETECT_EXPLICIT:
            raise ProfileError(f"detect_explicit must be one of {', '.join(DETECT_EXPLICIT)}, "
                               f"not {self.detect_explicit!r}")
        # every default language stays available; a profile overrides or adds tiers and languages
        notices: dict[str, dict[int, str]] = {lang: dict(table) for lang, table in DEFAULT_NOTICES.items()}
        for lang, table in self.notices.items():
            if not isinstance(table, Mapping):
                raise ProfileError(f"notices.{lang} must be a table of tier -> text")
            fixed = {}
            for tier, text in table.items():
                key = _tier_key(tier)
                if key is None or not isinstance(text, str) or not text.strip():
                    raise ProfileError(f"notices.{lang}: {tier!r} = {text!r} is not tier1/tier2/tier3 = text")
                fixed[key] = text
            base = DEFAULT_NOTICES.get(lang, {})
            missing = [t for t in (1, 2, 3) if t not in fixed and t not in base]
            if missing:
                raise ProfileError(f"notices.{lang} lacks tier {missing[0]} (no default for language {lang!r})")
            notices[lang] = {**base, **fixed}
        self.notices = notices
        if self.language not in self.notices:
            raise ProfileError(f"language {self.language!r} has no notices (have: {', '.join(self.notices)})")
        self.ai_source_types = tuple(self.ai_source_types)

    def notice(self, tier: int | None, language: str | None = None) -> str | None:
        if tier is None:
            return None
        return self.notices[language or self.language][tier]

    def code_warnings(self) -> list[str]:
        """Layout warnings about the platform code (TC260-PG-20252A; service type 2 = dissemination)."""
        return [f.message for f in check_provider_code(self.code, "ContentPropagator",
                                                       expected_service_type="dissemination")]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "language": self.language,
                "notices": {lang: {f"tier{t}": s for t, s in table.items()} for lang, table in self.notices.items()},
                "profile": self.profile, "detect_explicit": self.detect_explicit,
                "unknown_producer": self.unknown_producer, "replace_malformed": self.replace_malformed,
                "ai_source_types": list(self.ai_source_types), "trusted_keys": self.trusted_keys,
                "sign_key": self.sign_key}


def _tier_key(key: Any) -> int | None:
    text = str(key).lower().removeprefix("tier")
    return int(text) if text in ("1", "2", "3") else None


def load_platform(path: str | os.PathLike, **overrides: Any) -> PlatformConfig:
    """A :class:`PlatformConfig` from a TOML file (keys as the dataclass; notices as ``[notices.zh]``
    with ``tier1``/``tier2``/``tier3``); *overrides* (e.g. ``code=...``) win over the file."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"{path}: platform profile not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from None
    data = dict(data.get("platform", data))
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        raise ProfileError(f"{path}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_TOML_KEYS))})")
    for key in ("trusted_keys", "sign_key"):  # paths in the file are relative to the file
        if isinstance(data.get(key), str) and data[key]:
            data[key] = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(data[key]))
    data.update({k: v for k, v in overrides.items() if v is not None})
    if "code" not in data:
        raise ProfileError(f"{path}: no platform code (key 'code')")
    try:
        return PlatformConfig(**data)
    except (ProfileError, LabelError) as exc:
        raise type(exc)(f"{path}: {exc}") from None
    except TypeError as exc:
        raise ProfileError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------------------------- result


@dataclass
class EvidenceItem:
    """One piece of evidence behind a review's tier (its kind and a line of detail)."""
    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


@dataclass
class Review:
    """The platform's decision for one file."""

    path: str
    format: str
    tier: int | None
    notice: str | None
    #: the notice in every configured language
    notices: dict[str, str] = field(default_factory=dict)
    evidence: list[EvidenceItem] = field(default_factory=list)
    #: the record written (or, when no output was asked for, the record that would be written);
    #: None when there is nothing to write or writing is refused
    record: AigcRecord | None = None
    relied_on: str = ""
    #: where the record was written; None when nothing was written
    output: str | None = None
    #: why a requested write was not done (policy, not error); None otherwise
    write_refused: str | None = None
    #: the explicit-label findings, when the explicit checks ran (structured, for the review page; not in to_dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 reviewed (and written when asked), 1 a requested write was refused."""
        return 1 if self.write_refused else 0

    @property
    def verdict(self) -> str:
        """A short name for batch summaries: ``tier-1`` ... ``tier-3``, ``none``."""
        return f"tier-{self.tier}" if self.tier else "none"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "tier": self.tier, "notice": self.notice,
                "notices": self.notices, "evidence": [e.to_dict() for e in self.evidence],
                "record": self.record.to_dict() if self.record is not None else None,
                "relied_on": self.relied_on, "output": self.output, "write_refused": self.write_refused}


# --------------------------------------------------------------------------------------------- review


def _problems(lab: FoundLabel) -> list[str]:
    parsed = lab.parsed
    if parsed is None:
        return ["not parsed"]
    return [p.message for p in parsed.problems if p.level is Level.ERROR]


def _where(lab: FoundLabel) -> str:
    return f"{lab.carrier} ({lab.location})"


#: C2PA Asset Rubrics 1.0 signals that name generative AI (tier 3), and the ones that only say "may"
AI_SIGNALS = GENAI_SIGNALS
MAYBE_AI_SIGNALS = POSSIBLY_GENAI_SIGNALS


def _signal(trace: Trace) -> str:
    """The rubric signal a ``c2pa-signal`` trace names (its detail starts with it)."""
    return trace.detail.split(" ", 1)[0].rstrip(":")


def _is_ai_trace(trace: Trace, cfg: PlatformConfig) -> bool:
    if trace.kind == "iptc-digital-source-type":
        return trace.detail.strip() in cfg.ai_source_types
    if trace.kind == "generator-metadata":
        return True
    if trace.kind == "c2pa-signal":
        return _signal(trace) in AI_SIGNALS
    if trace.kind == "c2pa-ai-disclosure":
        return True  # the assertion exists to say an AI model made the content
    if trace.kind.startswith("c2pa"):
        # a manifest is a trace only when it names AI generation (its digitalSourceType)
        low = trace.detail.lower()
        return any(uri.rsplit("/", 1)[-1].lower() in low for uri in cfg.ai_source_types)
    return False


@dataclass
class _Plan:
    """What reading decided, before anything is written."""

    tier: int | None = None
    relied: str = ""
    base: dict[str, str] | None = None  # the producer's fields to keep (Annex E keys)
    base_label: FoundLabel | None = None
    refuse: str | None = None  # why the record must not be written
    created: bool = False  # a new tier-2/3 record (no producer known)


def _decide(labels: list[FoundLabel], traces: list[Trace], cfg: PlatformConfig, declared_ai: bool,
            ev: list[EvidenceItem]) -> tuple[_Plan, list[Trace]]:
    plan = _Plan()
    gb_valid: list[FoundLabel] = []
    legacy_valid: list[FoundLabel] = []
    malformed: list[FoundLabel] = []
    for lab in labels:
        parsed = lab.parsed
        problems = _problems(lab)
        schema = parsed.schema if parsed is not None else None
        if not problems and schema == SCHEMA_GB:
            gb_valid.append(lab)
            ev.append(EvidenceItem("aigc-record", f"valid GB 45438 record in {_where(lab)}: {lab.raw}"))
        elif not problems and schema == SCHEMA_TC260_2023:
            legacy_valid.append(lab)
            ev.append(EvidenceItem("legacy-record", f"2023-schema (TC260-PG-20233A) record in {_where(lab)}: "
                                   f"{lab.raw}"))
        else:
            malformed.append(lab)
            ev.append(EvidenceItem("malformed-record", f"AIGC record in {_where(lab)} is not valid: "
                                   f"{'; '.join(problems) or 'unrecognised schema'} (raw: {lab.raw[:200]!r})"))

    # Copies that disagree: every record whose fields could be read, valid or not.
    readable = [lab for lab in labels if lab.fields and lab.parsed is not None and lab.parsed.schema == SCHEMA_GB]
    distinct: dict[tuple[tuple[str, str], ...], list[FoundLabel]] = {}
    for lab in readable:
        key = tuple((k, str(lab.fields.get(k, ""))) for k in FIELDS)  # type: ignore[union-attr]
        distinct.setdefault(key, []).append(lab)
    if len(distinct) > 1:
        diffs = sorted({k for k in FIELDS if len({dict(key)[k] for key in distinct}) > 1}, key=FIELDS.index)
        ev.append(EvidenceItem("conflicting-records",
                               f"{len(readable)} AIGC records disagree on {', '.join(diffs)}: "
                               + "; ".join(f"{_where(group[0])}: {group[0].raw}" for group in distinct.values())
                               + " (GB 45438-2025 Annex E: one record per file)"))
        plan.refuse = ("the file's AIGC records disagree; which one is right is for a person to decide "
                       "(writing one would remove the others)")
    elif len(readable) > 1:
        ev.append(EvidenceItem("duplicate-record", f"the same record in {len(readable)} carriers "
                               f"({', '.join(lab.carrier for lab in readable)}); propagation writes it once, in the "
                               "normative carrier (Annex E: one record per file)"))

    ai_traces = []
    for t in traces:
        is_ai = _is_ai_trace(t, cfg)
        where = f" ({t.location})" if t.location else ""
        if t.kind == "iptc-digital-source-type" and not is_ai:
            ev.append(EvidenceItem(t.kind, f"{t.detail}{where}: not an AI-generation value, not a trace"))
        elif t.kind == "c2pa-signal" and not is_ai and _signal(t) in MAYBE_AI_SIGNALS:
            ev.append(EvidenceItem(t.kind, f"{t.detail}{where} (may contain generative AI: not a trace by itself)"))
        elif t.kind.startswith("c2pa") and not is_ai:
            ev.append(EvidenceItem(t.kind, f"{t.detail}{where} (names no AI generation, not a trace)"))
        else:
            ev.append(EvidenceItem(t.kind, f"{t.detail}{where}"))
        if is_ai:
            ai_traces.append(t)

    if gb_valid:
        chosen = next((lab for lab in gb_valid if lab.normative), gb_valid[0])
        label = chosen.fields["Label"]  # type: ignore[index]
        plan.tier = int(label)
        plan.base = {k: str(chosen.fields.get(k, "")) for k in FIELDS}  # type: ignore[union-attr]
        plan.base_label = chosen
        plan.relied = f"AIGC record (Label \"{label}\") in {_where(chosen)}"
        if len(distinct) > 1:
            plan.relied += " (the normative carrier's copy)" if chosen.normative else " (the first valid copy)"
        if declared_ai and plan.tier != 1:
            ev.append(EvidenceItem("declared-ai", f"the uploader declared AI generation; the record's Label "
                                   f"\"{label}\" decides the tier"))
        elif declared_ai:
            ev.append(EvidenceItem("declared-ai", "the uploader declared AI generation (the record already says so)"))
    elif legacy_valid:
        chosen = legacy_valid[0]
        f = chosen.fields or {}
        plan.tier = 1
        plan.base_label = chosen
        plan.relied = f"2023-schema AIGC record in {_where(chosen)} (that schema marks AI-generated content)"
        producer, content_id = str(f.get("ServiceProvider", "")), str(f.get("ContentID", ""))
        if producer and content_id and is_allowed_value(producer) and is_allowed_value(content_id):
            plan.base = {"Label": "1", "ContentProducer": producer, "ProduceID": content_id, "ReservedCode1": ""}
            ev.append(EvidenceItem("assumption", "the 2023 record is carried into the Annex E record: "
                                   "ServiceProvider -> ContentProducer, ContentID -> ProduceID, Label \"1\"; "
                                   f"its Time ({f.get('Time', '')}) has no Annex E field and is not carried"))
        else:
            plan.refuse = ("the 2023 record's ServiceProvider/ContentID cannot be carried into an Annex E record "
                           "(empty, or characters Annex E does not allow); converting it would alter the label")
        if declared_ai:
            ev.append(EvidenceItem("declared-ai", "the uploader declared AI generation (the record already says so)"))
    else:
        if malformed:
            ai_traces.append(Trace("malformed-record", "an AIGC record is present but not valid"))
            if not cfg.replace_malformed:
                plan.refuse = ("the file carries a malformed AIGC record; writing a new record would remove it "
                               "(Measures Art. 10 forbids removing labels; fix it by hand, or set "
                               "replace_malformed)")
        if declared_ai:
            plan.tier = 2
            plan.relied = "the uploader's declaration of AI generation (no valid AIGC record)"
            ev.append(EvidenceItem("declared-ai", "the uploader declared AI generation"))
        elif ai_traces:
            plan.tier = 3
            plan.relied = "traces of AI generation: " + ", ".join(dict.fromkeys(t.kind for t in ai_traces))
        if plan.tier is not None:
            plan.created = True
    return plan, ai_traces


def _explicit_traces(handler: Any, evidence: Any, src: Any, cfg: PlatformConfig,
                     ev: list[EvidenceItem], checked: list[Finding]) -> list[Trace]:
    """Run the profile's explicit-label checks; a PASS means a perceivable label was found."""
    from .profiles import load_profile
    from .verifier import check_evidence

    prof = load_profile(cfg.profile)
    found: list[Trace] = []
    for f in check_evidence(evidence, prof, "explicit", src, handler=handler):
        checked.append(f)
        if f.level is Level.PASS:
            trace = Trace("explicit-label", f"{f.rule}: {f.message}", f.location or "")
            found.append(trace)
            ev.append(EvidenceItem("explicit-label", f"{f.rule}: {f.message}"))
        elif f.level is Level.NOT_CHECKED:
            ev.append(EvidenceItem("explicit-not-checked", f"{f.rule}: {f.message}"))
        else:
            ev.append(EvidenceItem("explicit-checked", f"{f.rule}: {f.message}"))
    return found


def _c2pa_notes(evidence: Any, ev: list[EvidenceItem]) -> None:
    """What of the C2PA manifest could not be read is evidence too."""
    if "c2pa_error" in evidence.info:
        ev.append(EvidenceItem("c2pa-not-read", evidence.info["c2pa_error"]))
        return
    status = (evidence.info.get("c2pa") or {}).get("status")
    if status == "not-installed":
        ev.append(EvidenceItem("c2pa-not-read", evidence.info["c2pa"].get("message", "C2PA SDK not installed")))


def _has_manifest_store(src: Any) -> bool:
    """A cheap byte scan for a C2PA manifest store (reads the whole file: only done before writing)."""
    try:
        from .c2pa import find_manifest_store
    except ImportError:  # pragma: no cover
        return False
    try:
        return find_manifest_store(src) is not None
    finally:
        src.seek(0)


def _propagate(plan: _Plan, cfg: PlatformConfig, propagate_id: str | None, reserved_code2: str | None,
               ev: list[EvidenceItem]) -> AigcRecord:
    for what, value in (("PropagateID", propagate_id), ("ReservedCode2", reserved_code2)):
        if value is not None and not is_allowed_value(value):
            raise LabelError(f"{what} {value!r} has characters GB 45438-2025 Annex E does not allow")
    if propagate_id == "":
        raise LabelError("PropagateID is empty; give an id or let one be generated")
    base = dict(plan.base or {})
    old_propagator, old_id = base.get("ContentPropagator", ""), base.get("PropagateID", "")
    old_rc2 = base.get("ReservedCode2", "")
    ours = old_propagator == cfg.code
    pid = propagate_id or (old_id if ours and old_id else new_produce_id())
    if reserved_code2 is not None:
        rc2 = reserved_code2
    elif ours:
        rc2 = old_rc2
    else:
        rc2 = ""
    if old_propagator and not ours:
        cleared = f"; its ReservedCode2 ({old_rc2[:80]}) was cleared" if old_rc2 and reserved_code2 is None else ""
        ev.append(EvidenceItem("propagator-replaced",
                               f"the record named propagator {old_propagator} (PropagateID {old_id}); Annex E has one "
                               f"propagator pair, so this platform's fields replace it{cleared}"))
    elif ours and old_id:
        ev.append(EvidenceItem("already-propagated", f"this platform ({cfg.code}) already propagated the file as "
                               f"PropagateID {old_id}" + ("; that id is kept" if pid == old_id else "")))
    if plan.created:
        label = str(plan.tier)
        ev.append(EvidenceItem("assumption",
                               f"no producer is known, so the new record's ContentProducer is {cfg.unknown_producer!r} "
                               "(Annex E requires a non-empty value; a provider code would misattribute the content) "
                               f"and its ProduceID is the PropagateID {pid}; Label \"{label}\" per {_MEASURES_ART6}"))
        return AigcRecord(label=label, content_producer=cfg.unknown_producer, produce_id=pid,
                          content_propagator=cfg.code, propagate_id=pid, reserved_code2=rc2)
    record = AigcRecord.from_fields({**base, "ContentPropagator": cfg.code, "PropagateID": pid, "ReservedCode2": rc2})
    return record


def _platform_key(signer: str | os.PathLike[str] | PrivateKey | None,
                  reserved_code2: str | None) -> PrivateKey | None:
    if signer is None:
        return None
    if reserved_code2 is not None:
        raise OptionError("give either reserved_code2 (a value of your own) or a signing key, not both")
    from .security import PrivateKey as Key
    from .security import crypto, load_signing_key

    crypto.require()
    return signer if isinstance(signer, Key) else load_signing_key(signer)


def _trusted(given: str | os.PathLike[str] | TrustedKeys | None) -> TrustedKeys | None:
    if given is None:
        return None
    from .security import trusted_keys_from

    return trusted_keys_from(given)


def _check_security(plan: _Plan, handler: FormatHandler, src: CountingReader, trusted: TrustedKeys | None,
                    declared_ai: bool, ev: list[EvidenceItem]) -> None:
    """Verify the relied-on record's SecurityData; a forged or tampered one is not relied on.

    Why demote rather than ignore: an unsigned record is still tier 1 (signing is optional), but a record
    whose own signature says it is not what its producer signed - a field changed, the content changed, or
    a key that is not the named producer's - cannot vouch for "AI-generated by this producer"; it remains a
    trace of AI generation, and is not propagated (replacing or extending it is for a person to decide).
    """
    lab = plan.base_label
    if lab is None or not lab.fields or lab.parsed is None or lab.parsed.schema != SCHEMA_GB:
        return
    if not any(lab.fields.get(f) for f in ("ReservedCode1", "ReservedCode2")):
        return
    from .security import Status, check_record

    try:
        results = check_record(lab.fields, handler, src, trusted)
    finally:
        src.seek(0)
    producer = results[0]
    for res in results:
        if res.status is Status.ABSENT:
            continue
        detail = f"{res.field}: {res.status.value}: {res.reason}"
        if res.status is Status.VALID:
            detail += f"; binding {res.binding}" + (f" ({res.binding_reason})" if res.binding_reason else "")
            detail += f"; key {res.trust}: {res.trust_reason}"
        ev.append(EvidenceItem("security-data", detail))
    bad = None
    if producer.status is Status.INVALID:
        bad = f"its ReservedCode1 SecurityData is invalid ({producer.reason})"
    elif producer.status is Status.VALID and producer.trust == "mismatch":
        bad = f"its ReservedCode1 signature is valid but {producer.trust_reason}"
    if bad is None:
        if producer.status is Status.VALID and producer.trust == "trusted":
            plan.relied += " (signed by a key trusted for its ContentProducer)"
        elif producer.status is Status.VALID:
            plan.relied += " (signature valid; the key is not pinned to the producer)"
        return
    relied = plan.relied
    plan.tier = 2 if declared_ai else 3
    plan.relied = (f"not tier 1: the {relied} is not relied on because {bad}; "
                   + ("the uploader's declaration of AI generation" if declared_ai else
                      "the record remains a trace of AI generation"))
    plan.refuse = f"the relied-on AIGC record is not propagated: {bad} (a person should decide)"
    ev.append(EvidenceItem("security-demoted", plan.relied))


def _sign_propagation(record: AigcRecord, key: PrivateKey, handler: FormatHandler, src: CountingReader,
                      ev: list[EvidenceItem]) -> AigcRecord:
    """*record* with ReservedCode2 signed by the platform over its propagation fields and the content."""
    from .security import sign_record

    signed, what, digest = sign_record(record, key, handler, src, role="propagator")
    ev.append(EvidenceItem("signed", f"{what}; "
                           + (f"content binding {digest.selection}" if digest is not None else
                              f"no content binding ({handler.name.upper()} has no binding selection yet)")))
    return signed


def review(source: SourceLike, *, platform: PlatformConfig | str, declared_ai: bool = False, write: bool = False,
           output: str | os.PathLike | None = None, propagate_id: str | None = None,
           reserved_code2: str | None = None, overwrite: bool = False, password: str | None = None,
           limits: Limits | None = None, signer: str | os.PathLike[str] | PrivateKey | None = None,
           trusted_keys: str | os.PathLike[str] | TrustedKeys | None = None) -> Review:
    """Decide the tier of *source* for *platform* and, when asked, write the propagation record.

    *platform* is a :class:`PlatformConfig` or just the platform code.  *write* rewrites *source* in
    place (atomically); *output* writes a new file instead (never over an existing one unless
    *overwrite*).  Without either, nothing is written and :attr:`Review.record` is the record that
    would be.  Raises :class:`~aigclabel.errors.InputError` when the file cannot be read,
    :class:`~aigclabel.errors.LabelError` for an invalid *propagate_id*/*reserved_code2*, and
    :class:`~aigclabel.errors.OutputError` when *output* cannot be written.

    TC260 SecurityData: the relied-on record's ``ReservedCode1``/``ReservedCode2`` are verified (evidence
    ``security-data``).  *trusted_keys* (default :attr:`PlatformConfig.trusted_keys`) pins producers' keys: a
    record whose signature is valid but by a key not listed for its ContentProducer (a forged label), or
    whose signature is invalid (changed since signing), is not relied on - no tier 1 from it (tier 2 when
    declared, else 3: the record is still a trace) and it is not propagated.  *signer* (default
    :attr:`PlatformConfig.sign_key`; an SM2 key) signs the platform's fields into ``ReservedCode2`` when
    writing, over the same content binding as the producer's; the producer's fields stay as read.
    """
    from .formats import ImplicitLabel
    from .reading import C2PA_NOTE, read_evidence, write_implicit

    cfg = platform if isinstance(platform, PlatformConfig) else PlatformConfig(code=platform)
    if write and output is not None:
        raise UnsupportedOperation("give either write=True (in place) or an output path, not both")
    key = _platform_key(signer if signer is not None else (cfg.sign_key or None), reserved_code2)
    trusted = _trusted(trusted_keys if trusted_keys is not None else (cfg.trusted_keys or None))
    if write and not isinstance(source, (str, os.PathLike)):
        raise UnsupportedOperation("writing in place needs a file path")
    ev: list[EvidenceItem] = []
    explicit: list[Finding] = []
    with read_evidence(source, password=password, c2pa_mode=C2PA_NOTE, limits=limits) as opened:
        src, handler, evidence = opened.src, opened.handler, opened.evidence
        _c2pa_notes(evidence, ev)
        for f in evidence.findings:
            if f.level in (Level.WARNING, Level.ERROR):
                ev.append(EvidenceItem("file-note", f.message + (f" ({f.location})" if f.location else "")))
        plan, ai_traces = _decide(evidence.labels, evidence.traces, cfg, declared_ai, ev)
        _check_security(plan, handler, src, trusted, declared_ai, ev)
        from .watermark import review_traces  # a watermark: tier-1 evidence, or tier 3 without metadata

        review_traces(handler, evidence, src, plan, cfg, ev)
        if cfg.detect_explicit == "always" or (cfg.detect_explicit == "auto" and plan.tier is None):
            found = _explicit_traces(handler, evidence, src, cfg, ev, explicit)
            if found and plan.tier is None:
                plan.tier, plan.created = 3, True
                plan.relied = "an explicit (perceivable) label found in the content"
        if plan.tier is None:
            plan.relied = "nothing: no valid AIGC record, no declaration, no trace of AI generation"

        record = None
        refused = None
        out_path = None
        wants = write or output is not None
        if plan.tier is not None:
            if plan.refuse is not None:
                refused = plan.refuse
            else:
                record = _propagate(plan, cfg, propagate_id, reserved_code2, ev)
                try:
                    record.check_writable()
                except LabelError as exc:
                    # A producer value the reader accepts with a warning (a non-ASCII ContentProducer) but the
                    # writer will not write: rewriting it would alter the producer's label (Art. 10).
                    refused = (f"the record cannot be propagated as read: {exc}; the producer's fields are "
                               "copied unchanged, so fix the record at its source")
                    record = None
        c2pa = [t for t in evidence.traces if t.kind.startswith("c2pa")]
        if not c2pa and wants and plan.tier is not None and _has_manifest_store(src):
            # the SDK could not read it (not installed, unsupported), but a manifest store is there
            c2pa = [Trace("c2pa-manifest", "a C2PA manifest store is present (not read)")]
            ev.append(EvidenceItem("c2pa-manifest", "a C2PA manifest store is present (found by a byte scan; "
                                   "not read)"))
        if c2pa and plan.tier is not None:
            ev.append(EvidenceItem("c2pa-hard-binding",
                                   "the file carries a C2PA manifest: adding the propagation fields changes bytes its "
                                   "hard binding covers, so the manifest no longer validates on the changed file "
                                   "(an update manifest needs C2PA signing, not configured); "
                                   + ("not written in place, the original is kept: give an output path to write a copy"
                                      if write else "a changed copy goes only to a new file when asked; the original "
                                      "is unchanged")))
            if write and refused is None:
                refused = "the file carries a C2PA manifest; writing in place would break its hard binding"
        if wants and record is not None and refused is None and not handler.can_write:
            refused = f"writing labels into {handler.name.upper()} is not supported yet"
        if wants and record is not None and refused is None and key is not None:
            record = _sign_propagation(record, key, handler, src, ev)
        if wants and record is not None and refused is None:
            implicit = ImplicitLabel(record.to_json(), None)
            if write:
                dest = os.fspath(source)  # type: ignore[arg-type]
                unchanged = (len(evidence.labels) == 1 and evidence.labels[0].normative
                             and evidence.labels[0].raw == implicit.record_json)
                if unchanged:
                    ev.append(EvidenceItem("unchanged", "the file already carries exactly this record; not rewritten"))
                else:
                    with atomic_output(dest, overwrite=True, mode_from=dest) as out:
                        write_implicit(handler, src, out, implicit)
                out_path = dest
            else:
                with atomic_output(output, overwrite=overwrite) as out:  # type: ignore[arg-type]
                    write_implicit(handler, src, out, implicit)
                out_path = os.fspath(output)  # type: ignore[arg-type]
            ev.append(EvidenceItem("written", f"{record.to_json()} -> {out_path}"))
        elif refused is not None:
            ev.append(EvidenceItem("not-written", refused))
            record = None
        elif wants:
            ev.append(EvidenceItem("not-written", "no tier: there is nothing to propagate"))
        fmt = handler.name
    notices = {lang: cfg.notices[lang][plan.tier] for lang in cfg.notices} if plan.tier else {}
    return Review(path=describe_source(source), format=fmt, tier=plan.tier, notice=cfg.notice(plan.tier),
                  notices=notices, evidence=ev, record=record, relied_on=plan.relied, output=out_path,
                  write_refused=refused if wants else None, findings=explicit)
