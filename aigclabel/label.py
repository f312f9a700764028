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
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from aigclabel.errors import LabelError
from aigclabel.report import Finding, Level

__all__ = [
    "FIELDS",
    "LEGACY_FIELDS",
    "ANNEX_E",
    "LEGACY_CLAUSE",
    "PROVIDER_CODE_CLAUSE",
    "SCHEMA_GB",
    "SCHEMA_TC260_2023",
    "LABEL_MEANINGS",
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
PROVIDER_CODE_CLAUSE = "TC260-PG-20252A"
SCHEMA_GB = "gb45438-2025"
SCHEMA_TC260_2023 = "tc260-2023"

#: what each Label value asserts; used in messages so a reader need not look the codes up
LABEL_MEANINGS: dict[str, str] = {
    "1": "AI-generated",
    "2": "possibly AI-generated",
    "3": "suspected AI-generated",
}

# Annex E: printable ASCII without space (0x20), '"' (0x22) and '\' (0x5C).  An empty value is allowed
# because the optional fields (ReservedCode1/2, and the propagator pair on first write) are written as "".
_ALLOWED_RE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")
_DISALLOWED_CHAR_RE = re.compile(r"[^\x21\x23-\x5b\x5d-\x7e]")
_ALLOWED_DESCRIPTION = "printable ASCII without space, '\"' and '\\' (0x21, 0x23-0x5B, 0x5D-0x7E)"

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


def _describe_char(ch: str) -> str:
    """Show a character unambiguously: invisible ones (tab, NBSP) are why the code point is included."""
    return f"{ch!r} (U+{ord(ch):04X})"


def _first_disallowed(value: str) -> str | None:
    match = _DISALLOWED_CHAR_RE.search(value)
    return match.group(0) if match else None


def _json_type_name(value: object) -> str:
    # Name types in JSON terms: the people reading findings look at JSON, not at Python objects.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _as_text(value: object) -> str:
    """Turn a non-string JSON value into the text a reader would see, so ``fields`` stays ``dict[str, str]``.

    null becomes "" (it carries no value); other values keep their JSON spelling (1 -> "1", true -> "true"),
    which lets a numeric Label 1 still be recognised as "1" once the type finding has been reported.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return str(value)


def _list_keys(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(k) if not k or _first_disallowed(k) else k for k in keys[:limit])
    if len(keys) > limit:
        shown += f" and {len(keys) - limit} more"
    return shown


def _snippet(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def is_allowed_value(value: str) -> bool:
    """True when every character is one Annex E allows (printable ASCII without space, '"' and '\\')."""
    return _ALLOWED_RE.fullmatch(value) is not None


def new_produce_id() -> str:
    """A fresh ProduceID: 32 lowercase hex characters, unique without coordination and inside the charset."""
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

    def to_json(self) -> str:
        # Compact and ASCII-only: Annex E values are ASCII anyway, and ensure_ascii keeps a bad value from
        # smuggling raw non-ASCII bytes into carriers that are not UTF-8 clean.
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=True)

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
            raise LabelError(f"{key} contains {_describe_char(bad)}, not allowed by {ANNEX_E}; {hint}")

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
        out.append(_finding(
            "record.fields", Level.ERROR,
            f"The AIGC record has unknown field(s) {_list_keys(unknown)}; {ANNEX_E} defines exactly seven.",
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
            out.append(_finding(
                "record.charset", Level.ERROR,
                f"{key} contains {_describe_char(bad)}, which {ANNEX_E} does not allow{hint}.",
                expected=_ALLOWED_DESCRIPTION, actual=f"U+{ord(bad):04X}",
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


# --------------------------------------------------------------------------------------------- provider code

# GB 32100-2015: the USCC alphabet leaves out I, O, Z, S and V (easily confused with 1, 0, 2, 5 and U).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_PROVIDER_CODE_RE = re.compile(r"[0-9A-Z]{27}")
_PROVIDER_PREFIX = "0011"  # "00" + "1" organisation + "1" bound to a USCC
_SERVICE_TYPES = {"1": "generation", "2": "dissemination"}


@dataclass(frozen=True)
class ProviderCode:
    """A 27-character TC260-PG-20252A provider code split into its parts (layout not yet checked)."""

    code: str
    prefix: str  # "00"
    entity_type: str  # "1" = organisation
    binding: str  # "1" = bound to a Unified Social Credit Code
    uscc: str  # 18 characters
    extension: str  # "00000", or service type + 4-char model code
    service_type: str | None  # "generation" | "dissemination" | None for "00000" or an unknown digit
    model_code: str | None


def parse_provider_code(code: str) -> ProviderCode | None:
    """Split a code into its parts; None unless it is 27 characters of 0-9 and A-Z."""
    if not isinstance(code, str) or _PROVIDER_CODE_RE.fullmatch(code) is None:
        return None
    extension = code[22:27]
    service_type = _SERVICE_TYPES.get(extension[0])
    return ProviderCode(
        code=code,
        prefix=code[0:2],
        entity_type=code[2],
        binding=code[3],
        uscc=code[4:22],
        extension=extension,
        service_type=service_type,
        model_code=extension[1:] if service_type is not None else None,
    )


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a Unified Social Credit Code."""
    if len(first17) != 17:
        raise ValueError(f"a USCC check character needs exactly 17 characters, got {len(first17)}")
    total = 0
    for ch, weight in zip(first17, _USCC_WEIGHTS, strict=True):
        index = _USCC_ALPHABET.find(ch)
        if index < 0:
            raise ValueError(f"{_describe_char(ch)} is not in the GB 32100-2015 alphabet {_USCC_ALPHABET}")
        total += index * weight
    check = 31 - total % 31
    return _USCC_ALPHABET[0 if check == 31 else check]


def is_valid_uscc(uscc: str) -> bool:
    """True for an 18-character USCC whose characters and check character are right."""
    if not isinstance(uscc, str) or len(uscc) != 18 or any(ch not in _USCC_ALPHABET for ch in uscc):
        return False
    return uscc_check_char(uscc[:17]) == uscc[17]


def _normalise_service_type(value: str | None) -> str | None:
    if value is None:
        return None
    if value in _SERVICE_TYPES.values():
        return value
    if value in _SERVICE_TYPES:
        return _SERVICE_TYPES[value]
    # A wrong argument is a bug in the caller, not a property of the checked code, so it is not a finding.
    raise ValueError(f"expected_service_type must be 'generation' or 'dissemination', got {value!r}")


def check_provider_code(
    code: str, field: str = "ContentProducer", *, expected_service_type: str | None = None
) -> list[Finding]:
    """Warnings about a provider code's layout; an empty list means it looks like a valid TC260 code.

    Only warnings: names are still allowed in the record, and real codes sometimes break the layout.
    An empty value gets no finding here, since ``record.required`` / ``record.propagator`` already cover it.
    ``expected_service_type`` ("generation"/"dissemination", or "1"/"2") is the role the field plays;
    an extension of "00000" declares no service type and so cannot contradict it.
    """
    expected = _normalise_service_type(expected_service_type)
    out: list[Finding] = []

    def warn(message: str, exp: str | None = None, act: str | None = None) -> None:
        out.append(_finding("provider-code", Level.WARNING, message, clause=PROVIDER_CODE_CLAUSE,
                            expected=exp, actual=act))

    if not isinstance(code, str):
        warn(f"{field} is a {_json_type_name(code)}, not a TC260 provider code.", "a 27-character code",
             _json_type_name(code))
        return out
    if code == "":
        return out
    parsed = parse_provider_code(code)
    if parsed is None:
        hint = " (it has lower-case letters; codes use capitals)" if parse_provider_code(code.upper()) else ""
        warn(f"{field} {_snippet(code, 40)} is not a TC260 provider code of 27 digits and capital letters{hint}; "
             "names are allowed but a code is recommended.",
             "27 characters of 0-9 and A-Z", f"{len(code)} characters")
        return out

    head = code[:4]
    if head != _PROVIDER_PREFIX:
        warn(f"{field} starts with {head!r}, but a provider code starts with '0011' "
             "(organisation bound to a Unified Social Credit Code).", _PROVIDER_PREFIX, head)

    uscc = parsed.uscc
    outside = sorted({ch for ch in uscc if ch not in _USCC_ALPHABET})
    if outside:
        warn(f"{field}'s Unified Social Credit Code {uscc} contains {', '.join(outside)}, "
             "which the GB 32100-2015 alphabet leaves out (no I, O, S, V or Z).",
             _USCC_ALPHABET, "".join(outside))
    else:
        want = uscc_check_char(uscc[:17])
        if want != uscc[17]:
            warn(f"{field}'s Unified Social Credit Code {uscc} has check character {uscc[17]!r}, "
                 f"but GB 32100-2015 gives {want!r}.", want, uscc[17])

    ext = parsed.extension
    if ext[0] not in "012":
        warn(f"{field}'s extension {ext} has service type digit {ext[0]!r}; "
             "expected '1' (generation), '2' (dissemination) or '00000'.", "0, 1 or 2", ext[0])
    elif ext[0] == "0" and ext != "00000":
        warn(f"{field}'s extension {ext} starts with '0' (no service type) but is not '00000'.", "00000", ext)
    elif expected is not None and parsed.service_type is not None and parsed.service_type != expected:
        warn(f"{field}'s code declares service type {parsed.service_type}, but this field is for {expected}.",
             expected, parsed.service_type)
    return out
