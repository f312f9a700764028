"""The AIGC metadata record of GB 45438-2025 Annex E, and the TC260 provider code.

What lives here:

* :class:`AigcRecord` — the seven-field record, serialised as compact ASCII JSON in Annex E order;
* :class:`LegacyRecord` — the 2023 schema of TC260-PG-20233A (``ServiceProvider``/``Time``/``ContentID``),
  still found in old files;
* :func:`parse_label` — reads any record text found in a file (bare, wrapped, double-encoded, blob-prefixed,
  legacy) into a :class:`ParsedLabel` with findings; it never raises, because a bad label is a finding,
  not an error;
* :func:`validate_fields` — the Annex E checks on one record object;
* :func:`parse_provider_code` / :func:`check_provider_code` — the 27-character provider code of TC260-PG-20252A,
  including the GB 32100-2015 check character of the embedded Unified Social Credit Code.

Writing goes through ``check_writable()``, which raises :class:`~aigclabel.errors.LabelError`: we refuse to
*write* a record that a reader would flag, while reading only ever produces findings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from aigclabel.errors import LabelError
from aigclabel.report import Finding, Level

from ._text import as_text as _as_text
from ._text import describe_char as _describe_char
from ._text import json_type_name as _json_type_name
from ._text import snippet as _snippet

__all__ = [
    "FIELDS",
    "LEGACY_FIELDS",
    "ANNEX_E",
    "LEGACY_CLAUSE",
    "PROVIDER_CODE_CLAUSE",
    "SCHEMA_GB",
    "SCHEMA_TC260_2023",
    "LABEL_MEANINGS",
    "RECORD_FORMS",
    "CHARSET_CLAUSE",
    "FORM_CLAUSE",
    "is_allowed_value",
    "AigcRecord",
    "LegacyRecord",
    "new_produce_id",
    "ParsedLabel",
    "parse_label",
    "validate_fields",
    "ProviderCode",
    "parse_provider_code",
    "uscc_check_char",
    "is_valid_uscc",
    "check_provider_code",
]

#: the seven Annex E keys, in the order the standard lists them (and we write them)
FIELDS: tuple[str, ...] = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
#: the keys of the superseded 2023 schema (TC260-PG-20233A)
LEGACY_FIELDS: tuple[str, ...] = ("ServiceProvider", "Time", "ContentID")

ANNEX_E = "GB 45438-2025 Annex E"
LEGACY_CLAUSE = "TC260-PG-20233A"
SCHEMA_GB = "gb45438-2025"
SCHEMA_TC260_2023 = "tc260-2023"

#: what each Label value asserts; used in messages so a reader need not look the codes up
LABEL_MEANINGS: dict[str, str] = {
    "1": "AI-generated",
    "2": "possibly AI-generated",
    "3": "suspected AI-generated",
}

# Annex E j): values "应主要由 … 0x21、0x23~0x5B、0x5D~0x7E 的字符以及\"构成" — *mainly* printable ASCII without
# space, '"' and '\', plus the escaped quote.  Once the JSON is decoded an escaped quote is a plain '"', so '"' is
# allowed (SecurityData JSON in ReservedCode1/2 needs it); any other character makes the value not "mainly" of the
# set, which a reader reports as a warning.  An empty value is allowed because the optional fields (ReservedCode1/2,
# and the propagator pair on first write) are written as "".
_ALLOWED_RE = re.compile(r"[\x21-\x5b\x5d-\x7e]*")
_DISALLOWED_CHAR_RE = re.compile(r"[^\x21-\x5b\x5d-\x7e]")
_ALLOWED_DESCRIPTION = "printable ASCII without space and '\\' (0x21-0x5B, 0x5D-0x7E), '\"' only as the escaped quote"
#: the clause of the character rule, cited in its findings
CHARSET_CLAUSE = "GB 45438-2025 Annex E j)"
#: the clause of the value's literal form (the wrapped {"AIGC": {...}} string)
FORM_CLAUSE = "GB 45438-2025 Annex E b)"
#: how a writer serialises the record: "bare" (the seven-field object, what the TC260 carrier guides and real
#: generators write under a key named AIGC) or "wrapped" (Annex E b)'s literal ``{"AIGC": {...}}`` string)
RECORD_FORMS: tuple[str, ...] = ("bare", "wrapped")

_LEGACY_MAX_LEN = 32
_LEGACY_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}")
_LEGACY_TIME_FORMAT = "yyyy-MM-dd HH:mm:ss.SSS"

# How many wrapper layers ({"AIGC": ...}, double encoding) we peel before giving up; real files use at most
# two (a blob prefix around a wrapped object, or a wrapped double-encoded string), the limit only guards
# against pathological input.
_MAX_UNWRAP = 4

# Characters stripped around a carrier's text: whitespace, a BOM left by a UTF-8 writer, and the NUL padding
# that fixed-size carriers (EXIF UserComment, RIFF chunks) leave behind.
_STRIP_CHARS = " \t\r\n\x0b\x0c\x00\ufeff"

# A raw blob prefix as some writers put it in front of the JSON: "AIGC{...}", "AIGC:{...}", "AIGC={...}".
_BLOB_PREFIX_RE = re.compile(r"AIGC\s*[:=]?\s*(?=[{\"])", re.IGNORECASE)


# --------------------------------------------------------------------------------------------- helpers


def _first_disallowed(value: str) -> str | None:
    match = _DISALLOWED_CHAR_RE.search(value)
    return match.group(0) if match else None


def _list_keys(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(k) if not k or _first_disallowed(k) else k for k in keys[:limit])
    if len(keys) > limit:
        shown += f" and {len(keys) - limit} more"
    return shown


def _likely_field(key: str, candidates: list[str]) -> str | None:
    """The Annex E field an unknown key most likely misspells (``ReserveCode1`` -> ``ReservedCode1``), if any."""
    folded = {c.lower(): c for c in candidates}
    if key.lower() in folded:
        return folded[key.lower()]
    import difflib  # only for a misspelt key: not every verify's start-up

    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.8)
    return close[0] if close else None


def is_allowed_value(value: str) -> bool:
    """True when every character is one Annex E j) allows: printable ASCII without space and '\\' (a '"' is the
    decoded form of the escaped quote the clause allows)."""
    return _ALLOWED_RE.fullmatch(value) is not None


def new_produce_id() -> str:
    """A fresh ProduceID: 32 lowercase hex characters, unique without coordination and inside the charset."""
    import uuid  # here, not at module level: uuid pulls in platform, ~2 ms of every start-up

    return uuid.uuid4().hex


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class AigcRecord:
    """One GB 45438-2025 Annex E record; attribute names are the snake_case of the JSON keys."""

    label: str = "1"
    content_producer: str = ""
    produce_id: str = ""
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def _values(self) -> tuple[str, ...]:
        return (
            self.label,
            self.content_producer,
            self.produce_id,
            self.reserved_code1,
            self.content_propagator,
            self.propagate_id,
            self.reserved_code2,
        )

    def to_dict(self) -> dict[str, str]:
        return dict(zip(FIELDS, self._values(), strict=True))

    def to_json(self, form: str = "bare") -> str:
        """The record's text: compact ASCII JSON in Annex E order; *form* "wrapped" writes Annex E b)'s
        literal ``{"AIGC": {...}}`` (see :data:`RECORD_FORMS`)."""
        if form not in RECORD_FORMS:
            raise ValueError(f"record form must be one of {', '.join(RECORD_FORMS)}, not {form!r}")
        # Compact and ASCII-only: Annex E values are ASCII anyway, and ensure_ascii keeps a bad value from
        # smuggling raw non-ASCII bytes into carriers that are not UTF-8 clean.
        fields = self.to_dict()
        body: Mapping[str, object] = {"AIGC": fields} if form == "wrapped" else fields
        return json.dumps(body, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> AigcRecord:
        """Build from a JSON-key mapping; missing keys become "" and unknown keys are ignored."""
        values = [_as_text(fields[key]) if key in fields else "" for key in FIELDS]
        return cls(*values)

    def check_writable(self) -> None:
        """Raise :class:`LabelError` if writing this record would produce a non-compliant label."""
        for key, value in zip(FIELDS, self._values(), strict=True):
            if not isinstance(value, str):
                raise LabelError(f"{key} must be a string, got {_json_type_name(value)} {value!r}")
        if self.label not in LABEL_MEANINGS:
            raise LabelError(
                f"Label is {self.label!r} but GB 45438-2025 Annex E allows only "
                "'1' (AI-generated), '2' (possibly AI-generated) or '3' (suspected AI-generated)"
            )
        if not self.content_producer:
            raise LabelError("ContentProducer is empty; GB 45438-2025 Annex E requires the producer's name or code")
        if not self.produce_id:
            raise LabelError("ProduceID is empty; GB 45438-2025 Annex E requires the producer's id for the content")
        for key, value in zip(FIELDS, self._values(), strict=True):
            bad = _first_disallowed(value)
            if bad is None:
                continue
            if key in ("ContentProducer", "ContentPropagator"):
                # Chinese and spaced company names are the usual cause; the fix is the provider code.
                hint = "use the provider code, not a name"
            else:
                hint = f"values must be {_ALLOWED_DESCRIPTION}"
            # Stricter than the reader (which warns): a writer has no reason to leave the set.
            raise LabelError(f"{key} contains {_describe_char(bad)}, not allowed by {CHARSET_CLAUSE}; {hint}")

    def with_propagation(
        self, propagator: str, propagate_id: str, reserved_code2: str | None = None
    ) -> AigcRecord:
        """The record a platform writes when spreading content: the producer's fields are kept unchanged
        (altering them is forbidden by Measures Art. 10); ``reserved_code2=None`` keeps the existing value."""
        return replace(
            self,
            content_propagator=propagator,
            propagate_id=propagate_id,
            reserved_code2=self.reserved_code2 if reserved_code2 is None else reserved_code2,
        )


def _legacy_time_ok(value: str) -> bool:
    # The regex pins exactly three fraction digits (strptime's %f would take 1-6); strptime then rejects
    # impossible dates such as month 13.
    if _LEGACY_TIME_RE.fullmatch(value) is None:
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class LegacyRecord:
    """The TC260-PG-20233A (2023) record; only for reproducing old pipelines, new files use :class:`AigcRecord`."""

    service_provider: str
    time: str
    content_id: str

    def to_dict(self) -> dict[str, str]:
        return {"ServiceProvider": self.service_provider, "Time": self.time, "ContentID": self.content_id}

    def to_json(self) -> str:
        # The 2023 guide allowed provider names, Chinese ones included, so non-ASCII is kept readable.
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def now(cls, service_provider: str, content_id: str) -> LegacyRecord:
        stamp = datetime.now()
        time = stamp.strftime("%Y-%m-%d %H:%M:%S") + f".{stamp.microsecond // 1000:03d}"
        return cls(service_provider=service_provider, time=time, content_id=content_id)

    def check_writable(self) -> None:
        for key, value in self.to_dict().items():
            if not isinstance(value, str):
                raise LabelError(f"{key} must be a string, got {_json_type_name(value)} {value!r}")
            if len(value) > _LEGACY_MAX_LEN:
                raise LabelError(
                    f"{key} is {len(value)} characters long; {LEGACY_CLAUSE} allows at most {_LEGACY_MAX_LEN}"
                )
        if not _legacy_time_ok(self.time):
            raise LabelError(f"Time {self.time!r} is not a valid {_LEGACY_TIME_FORMAT} time as {LEGACY_CLAUSE} asks")


# --------------------------------------------------------------------------------------------- validation


def _finding(rule: str, level: Level, message: str, *, clause: str = ANNEX_E,
             expected: str | None = None, actual: str | None = None) -> Finding:
    return Finding(rule=rule, level=level, message=message, clause=clause, expected=expected, actual=actual)


def validate_fields(fields: Mapping[str, object]) -> list[Finding]:
    """Check one record object against Annex E; an empty list means the record is valid.

    Values that are not strings get a ``record.value-type`` error and are then checked in their text form
    only for Label and the required fields, so one wrong type does not fan out into several findings.
    """
    out: list[Finding] = []
    keys = [str(k) for k in fields.keys()]
    present = [k for k in FIELDS if k in fields]

    missing = [k for k in FIELDS if k not in fields]
    if missing:
        out.append(_finding(
            "record.fields", Level.ERROR,
            f"The AIGC record is missing {_list_keys(missing)}; {ANNEX_E} requires all seven fields, "
            "with empty strings for unused ones.",
            expected=", ".join(FIELDS), actual=", ".join(keys),
        ))
    unknown = [k for k in keys if k not in FIELDS]
    if unknown:
        misspelt = [f"{k!r} (did you mean {_likely_field(k, missing)}?)" for k in unknown if _likely_field(k, missing)]
        hint = f"; misspelt: {', '.join(misspelt)}" if misspelt else ""
        out.append(_finding(
            "record.fields", Level.ERROR,
            f"The AIGC record has unknown field(s) {_list_keys(unknown)}; {ANNEX_E} defines exactly seven{hint}.",
            expected=", ".join(FIELDS), actual=", ".join(keys),
        ))

    for key in present:
        value = fields[key]
        if not isinstance(value, str):
            out.append(_finding(
                "record.value-type", Level.ERROR,
                f"{key} is a JSON {_json_type_name(value)}, not a string as {ANNEX_E} requires.",
                expected="string", actual=_json_type_name(value),
            ))

    if "Label" in fields:
        label = _as_text(fields["Label"])
        if label not in LABEL_MEANINGS:
            out.append(_finding(
                "record.label", Level.ERROR,
                f"Label is {label!r} but must be '1' (AI-generated), '2' (possibly AI-generated) "
                "or '3' (suspected AI-generated).",
                expected="1, 2 or 3", actual=label,
            ))

    required_what = {
        "ContentProducer": "the generation service's name or code",
        "ProduceID": "the producer's id for the content",
    }
    for key, what in required_what.items():
        if key in fields and _as_text(fields[key]) == "":
            out.append(_finding(
                "record.required", Level.ERROR,
                f"{key} is empty; {ANNEX_E} requires {what}.",
                expected="a non-empty value", actual="",
            ))

    for key in present:
        value = fields[key]
        # Label has its own stricter check, and non-strings already have a type finding.
        if key == "Label" or not isinstance(value, str):
            continue
        bad = _first_disallowed(value)
        if bad is not None:
            hint = "; use the provider code, not a name" if key in ("ContentProducer", "ContentPropagator") else ""
            # "mainly" in Annex E j) makes this a warning: the value is readable, but not of the set the
            # standard expects (usually a name where a code belongs, or a non-ASCII character).
            out.append(_finding(
                "record.charset", Level.WARNING,
                f"{key} contains {_describe_char(bad)}; {CHARSET_CLAUSE} says values should be mainly of "
                f"{_ALLOWED_DESCRIPTION}, so this is a warning, not a failure{hint}.",
                clause=CHARSET_CLAUSE, expected=_ALLOWED_DESCRIPTION, actual=f"U+{ord(bad):04X}",
            ))

    empty_propagation = [k for k in ("ContentPropagator", "PropagateID") if k in fields and _as_text(fields[k]) == ""]
    if empty_propagation:
        # Real generator output (e.g. Doubao) leaves these empty on first write, so this is a warning:
        # only a platform that spreads the content is obliged to fill them (Measures Art. 6).
        names = " and ".join(empty_propagation)
        verb = "are" if len(empty_propagation) > 1 else "is"
        out.append(_finding(
            "record.propagator", Level.WARNING,
            f"{names} {verb} empty, which is allowed on the producer's first write, but platforms must fill "
            "them when spreading the content.",
            expected="the propagating platform's code and id", actual="",
        ))

    if not missing:
        order = [k for k in keys if k in FIELDS]
        if tuple(order) != FIELDS:
            out.append(_finding(
                "record.key-order", Level.WARNING,
                f"The AIGC record has all seven fields but not in {ANNEX_E} order.",
                expected=", ".join(FIELDS), actual=", ".join(order),
            ))
    return out


def _validate_legacy(fields: Mapping[str, object]) -> list[Finding]:
    """Check a 2023-schema object against TC260-PG-20233A.  Being legacy is not itself a finding here:
    whether the 2023 schema is acceptable is the profile's decision, made in the rules layer."""
    out: list[Finding] = []
    keys = [str(k) for k in fields.keys()]
    missing = [k for k in LEGACY_FIELDS if k not in fields]
    if missing:
        out.append(_finding(
            "legacy.fields", Level.ERROR,
            f"The 2023 AIGC record is missing {_list_keys(missing)}.",
            clause=LEGACY_CLAUSE, expected=", ".join(LEGACY_FIELDS), actual=", ".join(keys),
        ))
    unknown = [k for k in keys if k not in LEGACY_FIELDS]
    if unknown:
        out.append(_finding(
            "legacy.fields", Level.ERROR,
            f"The 2023 AIGC record has unknown field(s) {_list_keys(unknown)}.",
            clause=LEGACY_CLAUSE, expected=", ".join(LEGACY_FIELDS), actual=", ".join(keys),
        ))
    for key in LEGACY_FIELDS:
        if key not in fields:
            continue
        value = fields[key]
        if not isinstance(value, str):
            out.append(_finding(
                "legacy.value-type", Level.ERROR,
                f"{key} is a JSON {_json_type_name(value)}, not a string.",
                clause=LEGACY_CLAUSE, expected="string", actual=_json_type_name(value),
            ))
        text = _as_text(value)
        if len(text) > _LEGACY_MAX_LEN:
            out.append(_finding(
                "legacy.length", Level.ERROR,
                f"{key} is {len(text)} characters long; {LEGACY_CLAUSE} allows at most {_LEGACY_MAX_LEN}.",
                clause=LEGACY_CLAUSE, expected=f"<= {_LEGACY_MAX_LEN} characters", actual=str(len(text)),
            ))
        if key == "Time" and not _legacy_time_ok(text):
            out.append(_finding(
                "legacy.time", Level.ERROR,
                f"Time {_snippet(text)} is not a valid {_LEGACY_TIME_FORMAT} time.",
                clause=LEGACY_CLAUSE, expected=_LEGACY_TIME_FORMAT, actual=text,
            ))
    return out


# --------------------------------------------------------------------------------------------- parsing


class _JsonObject(dict[str, object]):
    """A JSON object that remembers keys the text repeated; json.loads would silently keep the last one,
    and a record whose fields say two different things is exactly what a checker must not hide."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, object]]) -> _JsonObject:
    obj = _JsonObject()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj and key not in obj.duplicates:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def _loads(text: str) -> tuple[object, str | None]:
    """json.loads that reports instead of raising; RecursionError covers absurdly nested input."""
    try:
        return json.loads(text, object_pairs_hook=_object_pairs), None
    except ValueError as exc:  # JSONDecodeError, and the int-digits limit
        return None, str(exc)
    except RecursionError:
        return None, "nested too deeply"


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # NUL padding can leave an odd length; dropping one trailing NUL keeps the UTF-16 units aligned.
        body = data[:-1] if len(data) % 2 and data.endswith(b"\x00") else data
        try:
            return body.decode("utf-16")
        except UnicodeDecodeError:
            pass
    # latin-1 maps every byte, so this cannot fail and the parser still sees the ASCII JSON structure.
    return data.decode("latin-1")


@dataclass
class ParsedLabel:
    """What :func:`parse_label` made of one record text."""

    raw: str
    form: str  # "bare" | "wrapped" | "legacy-2023" | "invalid"
    schema: str | None  # SCHEMA_GB, SCHEMA_TC260_2023, or None when not recognisable
    fields: dict[str, str] | None  # the object as found (key order kept), values as text
    problems: list[Finding] = field(default_factory=list)  # validation findings; empty means valid

    @property
    def record(self) -> AigcRecord | None:
        if self.schema != SCHEMA_GB or self.fields is None:
            return None
        return AigcRecord.from_fields(self.fields)

    @property
    def is_legacy(self) -> bool:
        return self.schema == SCHEMA_TC260_2023


def _invalid(raw: str, message: str, actual: str | None) -> ParsedLabel:
    problem = _finding("record.json", Level.ERROR, message, expected="a JSON object", actual=actual)
    return ParsedLabel(raw=raw, form="invalid", schema=None, fields=None, problems=[problem])


def _wrapper_value(obj: Mapping[str, object]) -> tuple[bool, object]:
    """If obj is a one-key wrapper such as {"AIGC": ...} (or {"TC260:AIGC": ...}), return its value."""
    if len(obj) != 1:
        return False, None
    key, value = next(iter(obj.items()))
    if "AIGC" in key.upper() and key not in FIELDS and key not in LEGACY_FIELDS:
        return True, value
    return False, None


def parse_label(text: str | bytes) -> ParsedLabel:
    """Parse one AIGC record as found in a carrier; never raises (problems are findings).

    Accepted: the bare object; ``{"AIGC": {...}}``; ``{"AIGC": "<the object as a JSON string>"}``;
    a blob prefix ``AIGC{...}`` / ``AIGC:{...}`` / ``AIGC={...}``; surrounding whitespace, a BOM and NUL
    padding; bytes in UTF-8, BOM-marked UTF-16, or else latin-1.  The 2023 schema is recognised as
    form ``legacy-2023``.
    """
    # No catch-all here on purpose: every failure path returns a finding explicitly, and the hypothesis
    # fuzz tests would not notice a bug that a blanket ``except Exception`` swallowed.
    raw = _decode(bytes(text)) if isinstance(text, (bytes, bytearray, memoryview)) else str(text)
    body = raw.strip(_STRIP_CHARS)
    if not body:
        return _invalid(raw, "The AIGC record is empty.", "")

    wrapped = False
    prefix = _BLOB_PREFIX_RE.match(body)
    if prefix:
        body = body[prefix.end():]
        wrapped = True

    obj, error = _loads(body)
    if error is not None:
        return _invalid(raw, f"The AIGC record is not valid JSON: {error}.", _snippet(body))

    for _ in range(_MAX_UNWRAP):
        if isinstance(obj, str):
            # Double encoding: the object was serialised once more into a JSON string.
            inner = obj.strip(_STRIP_CHARS)
            obj, error = _loads(inner)
            if error is not None:
                return _invalid(raw, f"The AIGC value is a string that is not valid JSON: {error}.", _snippet(inner))
            continue
        if isinstance(obj, dict):
            is_wrapper, value = _wrapper_value(obj)
            if is_wrapper:
                obj = value
                wrapped = True
                continue
        break

    if not isinstance(obj, dict):
        return _invalid(raw, f"The AIGC record is a JSON {_json_type_name(obj)}, not an object.",
                        _json_type_name(obj))

    fields = {str(k): _as_text(v) for k, v in obj.items()}
    duplicates = list(getattr(obj, "duplicates", []))
    keys = set(fields)
    if keys & set(FIELDS):
        schema: str | None = SCHEMA_GB
    elif keys & set(LEGACY_FIELDS):
        schema = SCHEMA_TC260_2023
    else:
        # No known key: still checked against Annex E (the default), but the schema is not claimed.
        schema = None

    if schema == SCHEMA_TC260_2023:
        form = "legacy-2023"
        problems = _validate_legacy(obj)
        clause, rule = LEGACY_CLAUSE, "legacy.fields"
    else:
        form = "wrapped" if wrapped else "bare"
        problems = validate_fields(obj)
        clause, rule = ANNEX_E, "record.fields"
    if duplicates:
        problems.insert(0, _finding(
            rule, Level.ERROR,
            f"The AIGC record repeats {_list_keys(duplicates)}; only the last value is kept, "
            "so the copies may disagree.",
            clause=clause, expected="each key once", actual=", ".join(duplicates),
        ))
    return ParsedLabel(raw=raw, form=form, schema=schema, fields=fields, problems=problems)


# The provider code (TC260-PG-20252A) has its own module; its names stay importable from here.
from .provider_code import (PROVIDER_CODE_CLAUSE, ProviderCode, check_provider_code,  # noqa: E402
                            is_valid_uscc, parse_provider_code, uscc_check_char)
