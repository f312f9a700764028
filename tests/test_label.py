"""Tests for aigclabel.label: the Annex E record, the 2023 schema, parse_label and the provider code."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigclabel import label as label_module
from aigclabel.errors import AigcLabelError, LabelError
from aigclabel.label import (
    ANNEX_E,
    FIELDS,
    LEGACY_CLAUSE,
    LEGACY_FIELDS,
    PROVIDER_CODE_CLAUSE,
    SCHEMA_GB,
    SCHEMA_TC260_2023,
    AigcRecord,
    LegacyRecord,
    ParsedLabel,
    check_provider_code,
    is_allowed_value,
    is_valid_uscc,
    new_produce_id,
    parse_label,
    parse_provider_code,
    uscc_check_char,
    validate_fields,
)
from aigclabel.report import Finding, Level

DOUBAO = "001191110102MACQD9K64010000"
JIMENG_PRODUCER = "00119144030008867405X210001"
JIMENG_PROPAGATOR = "00119144030008867405X220001"

KNOWN_RECORD = AigcRecord(label="1", content_producer=DOUBAO, produce_id="abc")
KNOWN_JSON = (
    '{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"abc","ReservedCode1":"",'
    '"ContentPropagator":"","PropagateID":"","ReservedCode2":""}'
)
# a record with nothing to warn about: the propagation fields are filled
FULL = {
    "Label": "1",
    "ContentProducer": JIMENG_PRODUCER,
    "ProduceID": "p-1",
    "ReservedCode1": "",
    "ContentPropagator": JIMENG_PROPAGATOR,
    "PropagateID": "q-2",
    "ReservedCode2": "",
}
FULL_JSON = json.dumps(FULL, separators=(",", ":"))


def rules(findings: list[Finding]) -> list[tuple[str, Level]]:
    return [(f.rule, f.level) for f in findings]


def only(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, rules(findings)
    return matching[0]


# ------------------------------------------------------------------------------------------ public API


def test_all_is_complete_and_resolvable() -> None:
    public = {name for name in vars(label_module) if not name.startswith("_")}
    imported = {"annotations", "difflib", "json", "re", "uuid", "Mapping", "dataclass", "field", "replace", "datetime",
                "LabelError", "Finding", "Level"}
    assert set(label_module.__all__) == public - imported
    for name in label_module.__all__:
        assert hasattr(label_module, name)


def test_constants() -> None:
    assert FIELDS == ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator",
                      "PropagateID", "ReservedCode2")
    assert LEGACY_FIELDS == ("ServiceProvider", "Time", "ContentID")
    assert ANNEX_E == "GB 45438-2025 Annex E"
    assert PROVIDER_CODE_CLAUSE == "TC260-PG-20252A"
    assert SCHEMA_GB == "gb45438-2025"
    assert SCHEMA_TC260_2023 == "tc260-2023"


# ------------------------------------------------------------------------------------------ charset


@pytest.mark.parametrize("value", ["", "!", "#", "[", "]", "~", "abcXYZ019", "a-b_c.d/e:f{g}|", DOUBAO,
                                   '"', 'a"b', '{"SecurityData":{"Type":"TC260PG"}}'])
def test_allowed_values(value: str) -> None:
    assert is_allowed_value(value) is True


@pytest.mark.parametrize("value", [
    " ", "a b", "\\", "a\\b", "\t", "a\tb", "\n", "\x7f", "\x00", "豆包", "é", "\u00a0", "ＡＢ",
])
def test_disallowed_values(value: str) -> None:
    assert is_allowed_value(value) is False


def test_allowed_set_is_exactly_the_annex_e_ranges_plus_the_escaped_quote() -> None:
    # Annex E j): 0x21, 0x23-0x5B, 0x5D-0x7E "以及\"" -- the escaped quote, a plain '"' once the JSON is decoded
    allowed = {chr(c) for c in range(0x300) if is_allowed_value(chr(c))}
    expected = {chr(0x21), '"'} | {chr(c) for c in range(0x23, 0x5C)} | {chr(c) for c in range(0x5D, 0x7F)}
    assert allowed == expected
    assert len(allowed) == 93


# ------------------------------------------------------------------------------------------ AigcRecord


def test_to_json_exact_string() -> None:
    assert KNOWN_RECORD.to_json() == KNOWN_JSON


def test_to_dict_in_fields_order() -> None:
    d = KNOWN_RECORD.to_dict()
    assert list(d) == list(FIELDS)
    assert d["ContentProducer"] == DOUBAO
    assert d["ProduceID"] == "abc"


def test_to_json_is_ascii_even_for_bad_values() -> None:
    # such a record fails check_writable, but serialising it must still not emit raw non-ASCII
    text = AigcRecord(content_producer="豆包", produce_id="x").to_json()
    assert "\\u8c46\\u5305" in text
    assert text.isascii()


def test_round_trip_through_parse_label() -> None:
    rec = AigcRecord(label="2", content_producer=JIMENG_PRODUCER, produce_id="id-9", reserved_code1="r1",
                     content_propagator=JIMENG_PROPAGATOR, propagate_id="pp", reserved_code2="r2")
    parsed = parse_label(rec.to_json())
    assert parsed.record == rec
    assert parsed.form == "bare"
    assert parsed.problems == []


def test_from_fields_missing_and_unknown_keys() -> None:
    rec = AigcRecord.from_fields({"ContentProducer": "X", "Other": "ignored"})
    assert rec == AigcRecord(label="", content_producer="X")
    assert AigcRecord.from_fields(FULL).to_dict() == FULL


def test_default_label_is_1() -> None:
    assert AigcRecord().label == "1"


def test_with_propagation_keeps_producer_fields() -> None:
    rec = AigcRecord(content_producer=JIMENG_PRODUCER, produce_id="p", reserved_code1="sig", reserved_code2="old")
    out = rec.with_propagation(JIMENG_PROPAGATOR, "q")
    assert out.content_propagator == JIMENG_PROPAGATOR
    assert out.propagate_id == "q"
    assert out.reserved_code2 == "old"
    assert (out.label, out.content_producer, out.produce_id, out.reserved_code1) == ("1", JIMENG_PRODUCER, "p", "sig")
    assert rec.content_propagator == ""  # frozen: the original is untouched
    assert rec.with_propagation("A", "B", "new").reserved_code2 == "new"
    assert rec.with_propagation("A", "B", "").reserved_code2 == ""


def test_record_is_frozen() -> None:
    with pytest.raises(AttributeError):
        KNOWN_RECORD.label = "2"  # type: ignore[misc]


def test_check_writable_accepts_valid_record() -> None:
    KNOWN_RECORD.check_writable()
    AigcRecord.from_fields(FULL).check_writable()


@pytest.mark.parametrize("label", ["", "0", "4", "01", "1 ", "yes"])
def test_check_writable_bad_label(label: str) -> None:
    with pytest.raises(LabelError, match=r"^Label is .*'1' \(AI-generated\), '2' \(possibly AI-generated\)"):
        AigcRecord(label=label, content_producer=DOUBAO, produce_id="x").check_writable()


@pytest.mark.parametrize("kwargs, field_name", [
    ({"content_producer": "", "produce_id": "x"}, "ContentProducer"),
    ({"content_producer": DOUBAO, "produce_id": ""}, "ProduceID"),
])
def test_check_writable_required(kwargs: dict[str, str], field_name: str) -> None:
    with pytest.raises(LabelError, match=rf"^{field_name} is empty"):
        AigcRecord(**kwargs).check_writable()


def test_check_writable_charset_message_for_producer() -> None:
    with pytest.raises(LabelError) as info:
        AigcRecord(content_producer="Byte Dance", produce_id="x").check_writable()
    assert str(info.value) == (
        "ContentProducer contains ' ' (U+0020), not allowed by GB 45438-2025 Annex E j); "
        "use the provider code, not a name"
    )
    assert isinstance(info.value, AigcLabelError)


@pytest.mark.parametrize("kwargs, field_name, code", [
    ({"produce_id": "a\\b"}, "ProduceID", "U+005C"),
    ({"produce_id": "a\tb"}, "ProduceID", "U+0009"),
    ({"reserved_code1": "é"}, "ReservedCode1", "U+00E9"),
    ({"content_propagator": "抖音"}, "ContentPropagator", "U+6296"),
    ({"propagate_id": "x y"}, "PropagateID", "U+0020"),
    ({"reserved_code2": "\x00"}, "ReservedCode2", "U+0000"),
])
def test_check_writable_charset_names_field_and_first_bad_char(kwargs: dict[str, str], field_name: str,
                                                              code: str) -> None:
    base = {"content_producer": DOUBAO, "produce_id": "x"} | kwargs
    with pytest.raises(LabelError) as info:
        AigcRecord(**base).check_writable()
    message = str(info.value)
    assert message.startswith(f"{field_name} contains ")
    assert f"({code})" in message


def test_check_writable_names_first_bad_character() -> None:
    with pytest.raises(LabelError, match=r"'\\t' \(U\+0009\)"):
        AigcRecord(content_producer=DOUBAO, produce_id="a\tb c").check_writable()


def test_new_produce_id() -> None:
    a, b = new_produce_id(), new_produce_id()
    assert re.fullmatch(r"[0-9a-f]{32}", a)
    assert a != b
    assert is_allowed_value(a)


# ------------------------------------------------------------------------------------------ LegacyRecord


def test_legacy_record_json() -> None:
    rec = LegacyRecord(service_provider="某公司", time="2023-08-01 12:00:00.123", content_id="c1")
    assert rec.to_json() == '{"ServiceProvider":"某公司","Time":"2023-08-01 12:00:00.123","ContentID":"c1"}'
    assert list(rec.to_dict()) == list(LEGACY_FIELDS)
    rec.check_writable()


def test_legacy_now_format() -> None:
    rec = LegacyRecord.now("sp", "cid")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}", rec.time)
    assert (rec.service_provider, rec.content_id) == ("sp", "cid")
    rec.check_writable()


@pytest.mark.parametrize("rec, pattern", [
    (LegacyRecord("x" * 33, "2023-08-01 12:00:00.123", "c"), r"^ServiceProvider is 33 characters long"),
    (LegacyRecord("x", "2023-08-01 12:00:00.123", "c" * 40), r"^ContentID is 40 characters long"),
    (LegacyRecord("x", "2023-08-01 12:00:00", "c"), r"^Time '2023-08-01 12:00:00' is not a valid"),
    (LegacyRecord("x", "2023-08-01T12:00:00.123", "c"), r"^Time .* is not a valid yyyy-MM-dd HH:mm:ss.SSS"),
    (LegacyRecord("x", "2023-13-01 12:00:00.123", "c"), r"^Time .* is not a valid"),
    (LegacyRecord("x", "2023-08-01 12:00:00.1234", "c"), r"^Time .* is not a valid"),
])
def test_legacy_check_writable_errors(rec: LegacyRecord, pattern: str) -> None:
    with pytest.raises(LabelError, match=pattern):
        rec.check_writable()


def test_legacy_32_chars_is_fine() -> None:
    LegacyRecord("x" * 32, "2023-08-01 12:00:00.123", "c" * 32).check_writable()


# ------------------------------------------------------------------------------------------ parse_label forms


@pytest.mark.parametrize("text, form", [
    (FULL_JSON, "bare"),
    ("  \n" + FULL_JSON + "\r\n\t", "bare"),
    ("\ufeff" + FULL_JSON, "bare"),
    (FULL_JSON + "\x00\x00\x00", "bare"),
    (json.dumps(FULL_JSON), "bare"),  # a double-encoded bare record
    ('{"AIGC":' + FULL_JSON + "}", "wrapped"),
    ('{"AIGC": ' + json.dumps(FULL_JSON) + "}", "wrapped"),  # double-encoded inside the wrapper
    ('{"TC260:AIGC":' + FULL_JSON + "}", "wrapped"),
    ("AIGC" + FULL_JSON, "wrapped"),
    ("AIGC:" + FULL_JSON, "wrapped"),
    ("AIGC=" + FULL_JSON, "wrapped"),
    ("AIGC: " + FULL_JSON, "wrapped"),
    ('AIGC:{"AIGC":' + FULL_JSON + "}", "wrapped"),
    ("  \ufeffAIGC:" + FULL_JSON + "\x00", "wrapped"),
])
def test_accepted_text_forms(text: str, form: str) -> None:
    parsed = parse_label(text)
    assert parsed.form == form
    assert parsed.schema == SCHEMA_GB
    assert parsed.fields == FULL
    assert parsed.problems == []
    assert parsed.record == AigcRecord.from_fields(FULL)
    assert parsed.is_legacy is False
    assert parsed.raw == text


@pytest.mark.parametrize("data", [
    FULL_JSON.encode("utf-8"),
    b"\xef\xbb\xbf" + FULL_JSON.encode("utf-8"),
    FULL_JSON.encode("utf-8") + b"\x00" * 7,
    FULL_JSON.encode("utf-16"),  # with a BOM
    b"\xfe\xff" + FULL_JSON.encode("utf-16-be"),
    b"\xff\xfe" + FULL_JSON.encode("utf-16-le") + b"\x00",  # odd NUL padding
    b"AIGC:" + FULL_JSON.encode("ascii"),
])
def test_accepted_byte_forms(data: bytes) -> None:
    parsed = parse_label(data)
    assert parsed.fields == FULL
    assert parsed.problems == []
    assert isinstance(parsed.raw, str)


def test_bytes_fall_back_to_latin1() -> None:
    # \xe9 is not valid UTF-8 on its own and there is no UTF-16 BOM: latin-1 keeps the JSON readable
    data = json.dumps(FULL | {"ProduceID": "caf\u00e9"}, ensure_ascii=False).encode("latin-1")
    parsed = parse_label(data)
    assert parsed.fields is not None
    assert parsed.fields["ProduceID"] == "café"
    charset = only(parsed.problems, "record.charset")
    assert "ProduceID" in charset.message
    assert charset.actual == "U+00E9"


def test_key_order_preserved_in_fields() -> None:
    reordered = {k: FULL[k] for k in reversed(FIELDS)}
    parsed = parse_label(json.dumps(reordered))
    assert parsed.fields is not None
    assert list(parsed.fields) == list(reversed(FIELDS))
    assert rules(parsed.problems) == [("record.key-order", Level.WARNING)]


def test_doubao_style_record_warns_only_about_propagation() -> None:
    parsed = parse_label(KNOWN_JSON)
    assert parsed.form == "bare"
    assert rules(parsed.problems) == [("record.propagator", Level.WARNING)]
    assert parsed.record == KNOWN_RECORD


# ------------------------------------------------------------------------------------------ legacy


LEGACY = {"ServiceProvider": "某科技公司", "Time": "2023-08-15 10:20:30.456", "ContentID": "abc123"}


@pytest.mark.parametrize("text", [
    json.dumps(LEGACY, ensure_ascii=False),
    "AIGC:" + json.dumps(LEGACY, ensure_ascii=False),
    json.dumps({"AIGC": LEGACY}),
])
def test_legacy_detected_without_problem(text: str) -> None:
    parsed = parse_label(text)
    assert parsed.form == "legacy-2023"
    assert parsed.schema == SCHEMA_TC260_2023
    assert parsed.is_legacy is True
    assert parsed.fields == LEGACY
    assert parsed.problems == []  # being legacy is the rules layer's call, not a problem here
    assert parsed.record is None


def test_legacy_round_trip() -> None:
    rec = LegacyRecord("sp", "2024-01-02 03:04:05.006", "id")
    parsed = parse_label(rec.to_json())
    assert parsed.form == "legacy-2023"
    assert parsed.fields == rec.to_dict()


def test_legacy_validation_findings() -> None:
    parsed = parse_label(json.dumps({"ServiceProvider": "x" * 33, "Time": "2023/08/15", "ContentID": 7}))
    assert parsed.form == "legacy-2023"
    assert rules(parsed.problems) == [
        ("legacy.length", Level.ERROR),
        ("legacy.time", Level.ERROR),
        ("legacy.value-type", Level.ERROR),
    ]
    assert all(f.clause == LEGACY_CLAUSE for f in parsed.problems)
    assert parsed.fields is not None and parsed.fields["ContentID"] == "7"


def test_legacy_missing_and_extra_fields() -> None:
    parsed = parse_label('{"ServiceProvider":"x","Extra":"y"}')
    assert parsed.form == "legacy-2023"
    missing, extra = parsed.problems
    assert (missing.rule, missing.level) == ("legacy.fields", Level.ERROR)
    assert "Time" in missing.message and "ContentID" in missing.message
    assert "Extra" in extra.message


def test_mixed_schema_is_gb_with_unknown_fields() -> None:
    parsed = parse_label(json.dumps(FULL | {"ServiceProvider": "x"}))
    assert parsed.schema == SCHEMA_GB
    assert parsed.form == "bare"
    finding = only(parsed.problems, "record.fields")
    assert "ServiceProvider" in finding.message


# ------------------------------------------------------------------------------------------ invalid


@pytest.mark.parametrize("text", [
    "", "   \x00", "not json", "{", '{"Label":"1",}', "[1, 2]", "42", "null", '"just a string"',
    '{"AIGC": 5}', '{"AIGC": "{broken"}', FULL_JSON + "garbage", b"\xff\xfe\x00", "[" * 100_000,
])
def test_invalid_inputs(text: str | bytes) -> None:
    parsed = parse_label(text)
    assert parsed.form == "invalid"
    assert parsed.schema is None
    assert parsed.fields is None
    assert parsed.record is None
    assert len(parsed.problems) == 1
    problem = parsed.problems[0]
    assert (problem.rule, problem.level, problem.clause) == ("record.json", Level.ERROR, ANNEX_E)


def test_unrecognised_object_is_checked_against_annex_e() -> None:
    parsed = parse_label('{"AIGC":{}}')
    assert parsed.form == "wrapped"
    assert parsed.schema is None
    assert parsed.fields == {}
    assert parsed.record is None
    assert rules(parsed.problems) == [("record.fields", Level.ERROR)]


def test_duplicate_keys_are_reported() -> None:
    text = FULL_JSON[:-1] + ',"Label":"3"}'
    parsed = parse_label(text)
    assert parsed.fields is not None and parsed.fields["Label"] == "3"
    finding = parsed.problems[0]
    assert (finding.rule, finding.level) == ("record.fields", Level.ERROR)
    assert "repeats Label" in finding.message


# ------------------------------------------------------------------------------------------ validate_fields


def test_validate_full_record_is_clean() -> None:
    assert validate_fields(FULL) == []


def test_missing_fields_listed() -> None:
    fields = dict(FULL)
    del fields["ReservedCode1"], fields["ReservedCode2"]
    finding = only(validate_fields(fields), "record.fields")
    assert finding.level is Level.ERROR
    assert finding.clause == ANNEX_E
    assert "ReservedCode1, ReservedCode2" in finding.message
    assert "Label" not in finding.message.split("missing")[1].split(";")[0]


def test_unknown_fields_listed() -> None:
    findings = validate_fields(FULL | {"Foo": "1", "Bar": "2"})
    assert rules(findings) == [("record.fields", Level.ERROR)]
    assert "Foo, Bar" in findings[0].message


def test_missing_and_unknown_are_two_findings() -> None:
    fields = {k: v for k, v in FULL.items() if k != "PropagateID"} | {"PropagateId": "x"}
    findings = validate_fields(fields)
    assert rules(findings) == [("record.fields", Level.ERROR), ("record.fields", Level.ERROR)]
    assert "missing PropagateID" in findings[0].message
    assert "PropagateId" in findings[1].message


@pytest.mark.parametrize("value, type_name", [(1, "number"), (1.5, "number"), (None, "null"), (True, "boolean"),
                                              ({"a": "b"}, "object"), (["x"], "array")])
def test_value_type(value: object, type_name: str) -> None:
    finding = only(validate_fields(FULL | {"ReservedCode1": value}), "record.value-type")
    assert finding.level is Level.ERROR
    assert finding.actual == type_name
    assert finding.message.startswith(f"ReservedCode1 is a JSON {type_name}")


def test_numeric_label_is_a_type_error_only() -> None:
    parsed = parse_label(FULL_JSON.replace('"Label":"1"', '"Label":1'))
    assert rules(parsed.problems) == [("record.value-type", Level.ERROR)]
    assert parsed.fields is not None and parsed.fields["Label"] == "1"


def test_null_producer_is_type_and_required() -> None:
    parsed = parse_label(FULL_JSON.replace(f'"ContentProducer":"{JIMENG_PRODUCER}"', '"ContentProducer":null'))
    assert rules(parsed.problems) == [("record.value-type", Level.ERROR), ("record.required", Level.ERROR)]
    assert parsed.fields is not None and parsed.fields["ContentProducer"] == ""


@pytest.mark.parametrize("label", ["0", "4", "", "AI", "1.0"])
def test_bad_label(label: str) -> None:
    finding = only(validate_fields(FULL | {"Label": label}), "record.label")
    assert finding.level is Level.ERROR
    assert finding.actual == label
    for meaning in ("'1' (AI-generated)", "'2' (possibly AI-generated)", "'3' (suspected AI-generated)"):
        assert meaning in finding.message


@pytest.mark.parametrize("label", ["1", "2", "3"])
def test_good_labels(label: str) -> None:
    assert validate_fields(FULL | {"Label": label}) == []


@pytest.mark.parametrize("key", ["ContentProducer", "ProduceID"])
def test_required(key: str) -> None:
    findings = validate_fields(FULL | {key: ""})
    assert rules(findings) == [("record.required", Level.ERROR)]
    assert findings[0].message.startswith(f"{key} is empty")


@pytest.mark.parametrize("value, char", [
    ("a b", "U+0020"), ("a\\b", "U+005C"), ("字节跳动", "U+5B57"), ("a\tb", "U+0009"),
    ("ab\x7f", "U+007F"),
])
@pytest.mark.parametrize("key", ["ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator",
                                 "PropagateID", "ReservedCode2"])
def test_charset_outside_the_set_is_a_warning(key: str, value: str, char: str) -> None:
    # Annex E j): values "mainly" of the set -- another character is a warning, not a failure
    findings = validate_fields(FULL | {key: value})
    assert rules(findings) == [("record.charset", Level.WARNING)]
    assert findings[0].message.startswith(f"{key} contains ")
    assert char in findings[0].message
    assert "Annex E j)" in findings[0].message and findings[0].clause == "GB 45438-2025 Annex E j)"
    assert findings[0].actual == char


def test_escaped_quotes_of_security_data_are_allowed() -> None:
    # every signed real file carries SecurityData JSON in ReservedCode1 (escaped in the record's JSON text)
    security = '{"SecurityData":{"Type":"TC260PG","Version":"1.0","PubSD":[{"Type":"PubKey","KeyValue":"04ab"}]}}'
    text = json.dumps(FULL | {"ReservedCode1": security}, separators=(",", ":"))
    assert '\\"SecurityData\\"' in text
    parsed = parse_label(text)
    assert parsed.problems == [] and parsed.fields is not None and parsed.fields["ReservedCode1"] == security
    AigcRecord(content_producer=DOUBAO, produce_id="x", reserved_code1=security).check_writable()


def test_misspelt_key_is_named() -> None:
    fields = {("ReserveCode1" if k == "ReservedCode1" else k): v for k, v in FULL.items()}
    unknown = [f for f in validate_fields(fields) if "unknown" in f.message]
    assert len(unknown) == 1 and unknown[0].level is Level.ERROR
    assert "'ReserveCode1' (did you mean ReservedCode1?)" in unknown[0].message


def test_wrapped_form_is_written_and_read_back() -> None:
    text = KNOWN_RECORD.to_json("wrapped")
    assert json.loads(text) == {"AIGC": json.loads(KNOWN_JSON)}
    parsed = parse_label(text)
    assert parsed.form == "wrapped" and parsed.record == KNOWN_RECORD
    assert [f for f in parsed.problems if f.level is Level.ERROR] == []
    with pytest.raises(ValueError):
        KNOWN_RECORD.to_json("nested")


def test_label_charset_is_reported_as_label_only() -> None:
    assert rules(validate_fields(FULL | {"Label": "1 "})) == [("record.label", Level.ERROR)]


@pytest.mark.parametrize("empty, names", [
    (("ContentPropagator",), "ContentPropagator is empty"),
    (("PropagateID",), "PropagateID is empty"),
    (("ContentPropagator", "PropagateID"), "ContentPropagator and PropagateID are empty"),
])
def test_propagator_warning(empty: tuple[str, ...], names: str) -> None:
    findings = validate_fields(FULL | {k: "" for k in empty})
    assert rules(findings) == [("record.propagator", Level.WARNING)]
    assert findings[0].message.startswith(names)
    assert "first write" in findings[0].message
    assert "platforms must fill" in findings[0].message


def test_key_order_only_when_all_present() -> None:
    swapped = dict(FULL)
    swapped = {"ProduceID": swapped.pop("ProduceID"), **swapped}
    findings = validate_fields(swapped)
    assert rules(findings) == [("record.key-order", Level.WARNING)]
    assert findings[0].expected == ", ".join(FIELDS)
    assert findings[0].actual is not None and findings[0].actual.startswith("ProduceID, Label")
    partial = {k: FULL[k] for k in reversed(FIELDS) if k != "Label"}
    assert ("record.key-order", Level.WARNING) not in rules(validate_fields(partial))


def test_key_order_ignores_interleaved_unknown_keys() -> None:
    fields = {"X": "1", **FULL}
    assert rules(validate_fields(fields)) == [("record.fields", Level.ERROR)]


def test_no_pass_findings_and_all_clauses_annex_e() -> None:
    bad = {"ProduceID": "", "Label": 9, "ContentProducer": "字", "Zed": "z"}
    findings = validate_fields(bad)
    assert findings
    assert all(f.level in (Level.ERROR, Level.WARNING) for f in findings)
    assert all(f.clause in (ANNEX_E, "GB 45438-2025 Annex E j)") for f in findings)


# ------------------------------------------------------------------------------------------ provider code


def test_uscc_check_char_known_codes() -> None:
    assert uscc_check_char("91110102MACQD9K64") == "0"
    assert uscc_check_char("9144030008867405X") == "2"
    assert is_valid_uscc("91110102MACQD9K640")
    assert is_valid_uscc("9144030008867405X2")


@pytest.mark.parametrize("first17, check", [
    # worked by hand: indices 1..17 weighted and summed give 3088; 3088 mod 31 = 19; 31 - 19 = 12 -> 'C'.
    # The known real codes have '0' in places, so this vector is what pins every weight.
    ("123456789ABCDEFGH", "C"),
    ("YXWUTRQPNMLKJHGFE", "K"),
])
def test_uscc_check_char_vectors(first17: str, check: str) -> None:
    assert uscc_check_char(first17) == check


def test_uscc_any_single_substitution_is_caught() -> None:
    # 31 is prime and no weight is a multiple of it, so changing one character always changes the check
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    uscc = "9144030008867405X2"
    for i in range(17):
        for ch in alphabet:
            if ch != uscc[i]:
                assert not is_valid_uscc(uscc[:i] + ch + uscc[i + 1:]), (i, ch)


def test_uscc_check_char_maps_31_to_zero() -> None:
    # all-zero digits sum to 0, so 31 - 0 = 31, which GB 32100 writes as '0'
    assert uscc_check_char("0" * 17) == "0"
    assert uscc_check_char("1" + "0" * 16) == "Y"  # 31 - 1 = 30 -> the last alphabet character


@pytest.mark.parametrize("bad", ["9111010 2MACQD9K6", "91110102MACQD9KIO", "short", "9" * 18])
def test_uscc_check_char_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_char(bad)


@pytest.mark.parametrize("uscc", ["91110102MACQD9K641", "91110102MACQD9K64", "91110102MACQD9K64O", "",
                                  "91110102macqd9k640"])
def test_is_valid_uscc_false(uscc: str) -> None:
    assert is_valid_uscc(uscc) is False


def test_parse_provider_code_parts() -> None:
    code = parse_provider_code(JIMENG_PROPAGATOR)
    assert code is not None
    assert (code.prefix, code.entity_type, code.binding) == ("00", "1", "1")
    assert code.uscc == "9144030008867405X2"
    assert code.extension == "20001"
    assert (code.service_type, code.model_code) == ("dissemination", "0001")
    doubao = parse_provider_code(DOUBAO)
    assert doubao is not None
    assert (doubao.uscc, doubao.extension, doubao.service_type, doubao.model_code) == (
        "91110102MACQD9K640", "10000", "generation", "0000")
    plain = parse_provider_code("0011" + "9144030008867405X2" + "00000")
    assert plain is not None and (plain.service_type, plain.model_code) == (None, None)


@pytest.mark.parametrize("code", ["", "ByteDance", DOUBAO[:-1], DOUBAO + "0", DOUBAO.lower(),
                                  "字" * 27, DOUBAO[:-1] + " "])
def test_parse_provider_code_none(code: str) -> None:
    assert parse_provider_code(code) is None


@pytest.mark.parametrize("code", [DOUBAO, JIMENG_PRODUCER, JIMENG_PROPAGATOR])
def test_known_codes_pass(code: str) -> None:
    assert check_provider_code(code) == []


def test_service_type_expectations() -> None:
    assert check_provider_code(JIMENG_PRODUCER, expected_service_type="generation") == []
    assert check_provider_code(JIMENG_PROPAGATOR, "ContentPropagator", expected_service_type="dissemination") == []
    assert check_provider_code(JIMENG_PROPAGATOR, "ContentPropagator", expected_service_type="2") == []
    # "00000" declares no service type, so it cannot contradict the field's role
    assert check_provider_code("0011" + "9144030008867405X2" + "00000", expected_service_type="dissemination") == []
    finding = only(check_provider_code(JIMENG_PRODUCER, "ContentPropagator",
                                       expected_service_type="dissemination"), "provider-code")
    assert finding.level is Level.WARNING
    assert (finding.expected, finding.actual) == ("dissemination", "generation")
    assert finding.message.startswith("ContentPropagator's code declares service type generation")


def test_bad_expected_service_type_argument() -> None:
    with pytest.raises(ValueError):
        check_provider_code(DOUBAO, expected_service_type="upload")


def test_wrong_check_char_warns() -> None:
    # change the 18th USCC character (index 21 of the code) from '2' to '3'
    code = JIMENG_PRODUCER[:21] + "3" + JIMENG_PRODUCER[22:]
    assert code != JIMENG_PRODUCER and len(code) == 27
    findings = check_provider_code(code)
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.rule, finding.level, finding.clause) == ("provider-code", Level.WARNING, PROVIDER_CODE_CLAUSE)
    assert (finding.expected, finding.actual) == ("2", "3")
    assert "check character" in finding.message
    assert finding.message.startswith("ContentProducer's")


@pytest.mark.parametrize("code", ["ByteDance", "豆包", "a b", DOUBAO[:-1], DOUBAO.lower()])
def test_not_a_code(code: str) -> None:
    findings = check_provider_code(code, "ContentPropagator")
    assert len(findings) == 1
    assert findings[0].level is Level.WARNING
    assert "not a TC260 provider code" in findings[0].message
    assert "names are allowed but a code is recommended" in findings[0].message
    assert findings[0].message.startswith("ContentPropagator ")


def test_empty_code_is_left_to_the_record_rules() -> None:
    assert check_provider_code("") == []


def test_non_string_code_warns_without_raising() -> None:
    findings = check_provider_code(None)  # type: ignore[arg-type]
    assert rules(findings) == [("provider-code", Level.WARNING)]


def test_wrong_prefix_warns() -> None:
    code = "0021" + DOUBAO[4:]
    finding = only(check_provider_code(code), "provider-code")
    assert (finding.expected, finding.actual) == ("0011", "0021")


def test_uscc_alphabet_violation_warns() -> None:
    code = DOUBAO[:4] + "91110102MACQD9KIO0" + DOUBAO[22:]
    finding = only(check_provider_code(code), "provider-code")
    assert finding.actual == "IO"
    assert "GB 32100-2015 alphabet" in finding.message


@pytest.mark.parametrize("ext, fragment", [("30001", "service type digit '3'"), ("A0001", "service type digit 'A'"),
                                           ("01234", "not '00000'")])
def test_bad_service_type_digit_warns(ext: str, fragment: str) -> None:
    code = JIMENG_PRODUCER[:22] + ext
    finding = only(check_provider_code(code, expected_service_type="generation"), "provider-code")
    assert fragment in finding.message
    parsed = parse_provider_code(code)
    assert parsed is not None and parsed.service_type is None and parsed.model_code is None


def test_several_layout_problems_reported_together() -> None:
    code = "1111" + "9144030008867405X3" + "90000"
    assert len(check_provider_code(code)) == 3


# ------------------------------------------------------------------------------------------ fuzzing

_allowed_text = st.text(alphabet=st.sampled_from(
    [chr(0x21)] + [chr(c) for c in range(0x23, 0x5C)] + [chr(c) for c in range(0x5D, 0x7F)]), max_size=40)

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _check_invariants(parsed: ParsedLabel) -> None:
    assert isinstance(parsed, ParsedLabel)
    assert parsed.form in ("bare", "wrapped", "legacy-2023", "invalid")
    assert parsed.schema in (SCHEMA_GB, SCHEMA_TC260_2023, None)
    assert isinstance(parsed.raw, str)
    assert all(isinstance(p, Finding) for p in parsed.problems)
    assert all(p.level in (Level.ERROR, Level.WARNING) for p in parsed.problems)
    if parsed.form == "invalid":
        assert parsed.fields is None and [p.rule for p in parsed.problems] == ["record.json"]
    else:
        assert parsed.fields is not None
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.fields.items())
    assert parsed.is_legacy == (parsed.form == "legacy-2023")
    if parsed.record is not None:
        assert isinstance(parsed.record, AigcRecord)


@settings(max_examples=300)
@given(st.text())
def test_fuzz_text_never_raises(text: str) -> None:
    _check_invariants(parse_label(text))


@settings(max_examples=300)
@given(st.binary())
def test_fuzz_bytes_never_raises(data: bytes) -> None:
    _check_invariants(parse_label(data))


@settings(max_examples=300)
@given(_json_values, st.sampled_from(["", "AIGC", "AIGC:", "AIGC=", "\ufeff", " "]), st.booleans(),
       st.booleans())
def test_fuzz_json_shapes_never_raise(value: object, prefix: str, wrap: bool, double: bool) -> None:
    if wrap:
        value = {"AIGC": json.dumps(value) if double else value}
    _check_invariants(parse_label(prefix + json.dumps(value) + "\x00"))


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(FIELDS + LEGACY_FIELDS + ("X",)), _json_values, max_size=10))
def test_fuzz_field_objects(obj: dict[str, object]) -> None:
    parsed = parse_label(json.dumps(obj))
    _check_invariants(parsed)
    assert parsed.form != "invalid"


@settings(max_examples=200)
@given(st.sampled_from(["1", "2", "3"]), _allowed_text.filter(bool), _allowed_text.filter(bool),
       _allowed_text, _allowed_text, _allowed_text, _allowed_text)
def test_fuzz_round_trip(label: str, producer: str, produce_id: str, rc1: str, propagator: str, pid: str,
                         rc2: str) -> None:
    rec = AigcRecord(label, producer, produce_id, rc1, propagator, pid, rc2)
    rec.check_writable()
    parsed = parse_label(rec.to_json().encode("ascii"))
    assert parsed.record == rec
    assert [p.rule for p in parsed.problems if p.level is Level.ERROR] == []


@given(st.text(max_size=30))
def test_fuzz_provider_code_never_raises(code: str) -> None:
    findings = check_provider_code(code)
    assert all(f.level is Level.WARNING and f.rule == "provider-code" for f in findings)
    assert (parse_provider_code(code) is None) == (re.fullmatch(r"[0-9A-Z]{27}", code) is None)
