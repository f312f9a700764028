"""The check catalogue: every rule id, what it checks, its options, and the clause and level each profile gives it.

Rule ids are a public contract (profiles, SARIF rule ids, JSON findings and dashboards key on them):
an id never changes meaning, and the catalogue only grows.  ``aigclabel checks`` prints it, and
``docs/checks.md`` is this module's Markdown output, kept in step by a test::

    python3 -m aigclabel.checks > docs/checks.md
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from .profiles import list_profiles
from .rules import all_rules

__all__ = ["CheckEntry", "catalogue", "to_markdown", "READER_FINDINGS"]

#: finding ids that do not come from a rule module: structural findings of the format readers (``format.*``, in a
#: report beside the rules' findings), the record checks reported under ``implicit.record-fields`` (``record.*``,
#: ``legacy.*``, shown as such by ``inspect``) and ``aigclabel diff``'s (``diff.*``).  id -> (where, levels, meaning).
#: Like rule ids they never change meaning; a test scans the source so that none is used without an entry here.
READER_FINDINGS: dict[str, tuple[str, str, str]] = {
    "format.exif": ("JPEG, PNG, WebP, HEIF readers", "warning", "an EXIF block could not be parsed and was ignored"),
    "format.gif": ("GIF reader", "warning", "an XMP application extension could not be read and was ignored"),
    "format.heif": ("HEIF reader", "info, warning", "no top-level meta box (an image sequence), or a metadata item "
                    "could not be read"),
    "format.markdown": ("Markdown reader", "info, warning", "the front-matter record is in a non-normative style "
                        "(flow mapping, other key order, JSON string) or the front matter could not be read"),
    "format.mp4": ("MP4/MOV/M4A reader", "warning", "a compressed movie header, or a record box too large to read"),
    "format.ooxml": ("DOCX/XLSX/PPTX reader", "warning", "the custom properties part could not be read (bad XML, "
                     "a DTD, a bad CRC) and was ignored"),
    "format.pdf": ("PDF reader", "warning", "a damaged cross-reference or an XMP metadata stream that could not be "
                   "read"),
    "format.png": ("PNG reader", "warning", "a text chunk could not be decoded and was ignored"),
    "format.png.xmp-chunk": ("PNG reader", "warning", "XMP in a tEXt/zTXt chunk (Exiv2, Midjourney): read, but the "
                             "normative place is an uncompressed iTXt chunk"),
    "format.text.records": ("TXT, Markdown and HTML readers", "warning", "more than 256 AIGC records in one text: "
                            "only the first 256 were read (one is the rule; thousands only cost time)"),
    "format.tiff": ("TIFF reader", "warning", "an XMP tag could not be read and was ignored"),
    "format.wav": ("WAV reader", "info, error", "the record in LIST/INFO only, or a LIST/INFO copy beside the "
                   "normative chunk (agreeing: info; disagreeing: error)"),
    "format.webp": ("WebP reader", "warning", "an XMP or EXIF chunk could not be read, or the VP8X flags disagree "
                    "with the chunks"),
    "format.xmp": ("every XMP reader", "warning", "an XMP packet that is not well-formed XML was ignored"),
    "format.xmp.encoding": ("every XMP reader", "error", "invalid UTF-8 inside an XMP packet (the first bad byte's "
                            "offset is named); the record is still read"),
    "format.xmp.namespace": ("every XMP reader", "error", "the TC260 prefix is bound to a URI other than "
                             "http://www.tc260.org.cn/ns/AIGC/1.0/ (both are named)"),
    "format.xmp.per-field": ("every XMP reader", "warning, error", "one TC260: property per field instead of the "
                             "single TC260:AIGC property (beside a TC260:AIGC record: error when they disagree)"),
    "format.xmp.prefix": ("every XMP reader", "warning", "the TC260 namespace under another prefix: still the "
                          "normative property, but readers matching the prefix as text miss it"),
    "format.xmp.undeclared-prefix": ("every XMP reader", "error", "a prefix used without a namespace declaration "
                                     "(strict XMP readers reject the packet)"),
    "record.json": ("implicit.record-fields", "error", "the record is not a JSON object"),
    "record.fields": ("implicit.record-fields", "error", "missing, unknown (misspelt keys are named) or repeated keys"),
    "record.value-type": ("implicit.record-fields", "error", "a value that is not a JSON string"),
    "record.label": ("implicit.record-fields", "error", "Label is not 1, 2 or 3"),
    "record.required": ("implicit.record-fields", "error", "ContentProducer or ProduceID is empty"),
    "record.charset": ("implicit.record-fields", "warning", "a value not mainly of the characters of GB 45438 "
                       "Annex E j) (the escaped quote is allowed)"),
    "record.propagator": ("implicit.record-fields", "warning", "ContentPropagator/PropagateID empty (allowed on the "
                          "producer's first write)"),
    "record.key-order": ("implicit.record-fields", "warning", "all seven fields, not in Annex E order"),
    "legacy.fields": ("implicit.record-fields", "error", "a 2023-schema record with missing or unknown keys"),
    "legacy.value-type": ("implicit.record-fields", "error", "a 2023-schema value that is not a string"),
    "legacy.time": ("implicit.record-fields", "error", "a 2023-schema Time not in yyyy-MM-dd HH:mm:ss.SSS"),
    "legacy.length": ("implicit.record-fields", "error", "a 2023-schema value over 32 characters"),
    "diff.record-removed": ("aigclabel diff", "error", "the AIGC record is gone after the transform"),
    "diff.record-damaged": ("aigclabel diff", "error", "the record is still there but no longer valid"),
    "diff.producer-altered": ("aigclabel diff", "error", "the producer's fields changed (Measures Art. 10 forbids it)"),
    "diff.propagation-removed": ("aigclabel diff", "error", "the propagator's fields were removed"),
    "diff.c2pa-removed": ("aigclabel diff", "error", "the C2PA manifest is gone"),
    "diff.c2pa-invalidated": ("aigclabel diff", "error", "the C2PA manifest no longer validates (the SDK's code is "
                              "named)"),
    "diff.iptc-lost": ("aigclabel diff", "error", "the IPTC digital source type is gone"),
    "diff.explicit-lost": ("aigclabel diff --explicit", "error", "the visible label was cropped out or shrunk under "
                           "the profile's size, or the audible prompt was cut"),
    "diff.fields-rewritten": ("aigclabel diff", "warning", "record fields other than the producer's changed"),
    "diff.record-moved": ("aigclabel diff", "warning", "the record moved to another carrier"),
    "diff.iptc-changed": ("aigclabel diff", "warning", "the IPTC digital source type changed"),
    "diff.trace-lost": ("aigclabel diff", "warning", "an AI-generation trace (generator metadata) is gone"),
    "diff.propagation-added": ("aigclabel diff", "info", "a propagator added its fields"),
    "diff.record-added": ("aigclabel diff", "info", "a record appeared that the input did not have"),
    "diff.record-kept": ("aigclabel diff", "pass", "the record survived unchanged"),
    "diff.c2pa-kept": ("aigclabel diff", "pass", "the C2PA manifest survived and validates"),
    "diff.iptc-kept": ("aigclabel diff", "pass", "the IPTC digital source type survived"),
    "diff.explicit-kept": ("aigclabel diff --explicit", "pass", "the explicit label survived"),
    "diff.not-checked": ("aigclabel diff", "not-checked", "a comparison could not be made (say which and why)"),
}


@dataclass
class CheckEntry:
    """One check of the catalogue: its rule id, scope, content kinds, what passes and how it is judged."""
    id: str
    scope: str  # "implicit" | "explicit"
    kinds: list[str] | None  # content kinds it applies to (None: all)
    summary: str  # one line: what passes
    details: str  # how it is checked and what each outcome means (the rule module's documentation)
    options: dict[str, Any] = field(default_factory=dict)
    #: profile id -> {"clause", "level", "enabled"}
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def catalogue() -> list[CheckEntry]:
    """Every rule the verifier knows, sorted by id, with each shipped profile's use of it."""
    profiles = list_profiles()
    entries = []
    for rule_id, module in sorted(all_rules().items()):
        doc = inspect.cleandoc(module.__doc__ or "")
        summary, _, details = doc.partition("\n\n")  # the first paragraph says what passes
        summary = " ".join(summary.split())
        entry = CheckEntry(id=rule_id, scope=module.SCOPE,
                           kinds=sorted(module.KINDS) if module.KINDS is not None else None,
                           summary=summary.strip() or module.DESCRIPTION, details=details.strip(),
                           options=dict(module.OPTIONS))
        for prof in profiles:
            cfg = prof.rules.get(rule_id)
            if cfg is not None:
                entry.profiles[prof.id] = {"clause": cfg.clause, "level": cfg.level, "enabled": cfg.enabled}
        entries.append(entry)
    return entries


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(entries: list[CheckEntry] | None = None) -> str:
    """The catalogue as the Markdown document ``docs/checks.md``."""
    entries = entries if entries is not None else catalogue()
    profile_ids = sorted({p for e in entries for p in e.profiles})
    out = ["# Checks", "",
           "Generated by `python3 -m aigclabel.checks` from the rule modules in `aigclabel/rules/` and the profiles "
           "in `profiles/`; do not edit by hand. Rule ids are stable: an id never changes meaning.", "",
           "Every check yields findings at one of five levels: **pass** (checked and met), **info**, **warning** "
           "(questionable, not a breach), **error** (not met; the profile may lower it to a warning or info) and "
           "**not-checked** (could not be checked — never counted as a pass; a required one makes the verdict "
           "inconclusive).", "",
           "| check | scope | content | what passes |", "|---|---|---|---|"]
    for e in entries:
        kinds = ", ".join(e.kinds) if e.kinds else "all"
        out.append(f"| [`{e.id}`](#{e.id.replace('.', '')}) | {e.scope} | {kinds} | {_cell(e.summary)} |")
    for e in entries:
        out += ["", f"## {e.id}", "", e.summary, ""]
        if e.details:
            out += [e.details, ""]
        if e.options:
            out += ["Options (profile `[rules.\"" + e.id + "\"]` keys) and defaults:", ""]
            out += [f"- `{k}` = `{json.dumps(v, ensure_ascii=False)}`" for k, v in e.options.items()]
            out.append("")
        if e.profiles:
            out += ["| profile | clause | level |", "|---|---|---|"]
            for pid in profile_ids:
                use = e.profiles.get(pid)
                if use is not None:
                    level = use["level"] if use["enabled"] else f"disabled ({use['level']})"
                    out.append(f"| {pid} | {_cell(use['clause'])} | {level} |")
        else:
            out.append("No shipped profile uses this check.")
    out += ["", "## Findings of the readers, the record checks and diff", "",
            "These ids come from the format readers (beside the rules' findings in a report), from the record checks "
            "that `implicit.record-fields` reports (and `inspect` shows by id) and from `aigclabel diff`. They are "
            "stable like rule ids.", "",
            "| id | from | levels | meaning |", "|---|---|---|---|"]
    for fid, (where, levels, meaning) in sorted(READER_FINDINGS.items()):
        out.append(f"| `{fid}` | {_cell(where)} | {levels} | {_cell(meaning)} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python3 -m aigclabel.checks > docs/checks.md`
    sys.stdout.write(to_markdown())
