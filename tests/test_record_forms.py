"""The record's value forms and character rule (issue 13): GB 45438-2025 Annex E b) and j).

* Annex E b) gives the value as the wrapped string ``{"AIGC": {...}}``; the TC260 carrier guides and real generators
  write the bare object.  Both verify compliant; ``[marking] record_form = "wrapped"`` writes the literal form.
* Annex E j) says values are *mainly* of 0x21, 0x23-0x5B, 0x5D-0x7E "and \\"": an escaped quote (SecurityData JSON in
  ReservedCode1) is allowed, another character (a Chinese name) is a warning, not a failure.

Files are PNGs made by Pillow; exiftool reads every record back independently.
"""

from __future__ import annotations

import json
from pathlib import Path

import aigclabel
from aigclabel.label import AigcRecord
from aigclabel.report import Level, Verdict
from conftest import PRODUCER, make_png, tool_get, xmp_packet

SECURITY_DATA = json.dumps({"SecurityData": {
    "Type": "TC260PG", "Version": "1.0",
    "PubSD": [{"Type": "PubKey", "AlgID": "1.2.156.10197.1.501", "KeyID": "k1", "KeyValue": "04" + "ab" * 64},
              {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "KeyID": "k1", "Signature": "30" + "cd" * 70,
               "TBSData": {"Type": "Md"}}]}}, separators=(",", ":"))


def _png_with_record(record_text: str) -> bytes:
    return make_png(xmp=xmp_packet(record=record_text))


def _levels(report: aigclabel.Report, rule: str) -> list[Level]:
    return [f.level for f in report.findings if f.rule == rule]


def test_wrapped_profile_writes_the_literal_form(tmp_path: Path, exiftool) -> None:
    profile = tmp_path / "wrapped.toml"
    profile.write_text('id = "cn-wrapped"\nextends = "cn-gb45438-2025"\n\n[marking]\nrecord_form = "wrapped"\n',
                       encoding="utf-8")
    out = aigclabel.mark(make_png(), producer=PRODUCER, produce_id="wrapped-1", profile=str(profile), explicit=False)
    seen = tool_get(exiftool(out), "XMP-TC260:AIGC")
    assert json.loads(seen) == {"AIGC": AigcRecord(content_producer=PRODUCER, produce_id="wrapped-1").to_dict()}
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    passed = [f.message for f in report.findings if f.rule == "implicit.record-fields" and f.level is Level.PASS]
    assert passed and "wrapped" in passed[0] and "Annex E b)" in passed[0]


def test_default_profile_writes_the_bare_form(exiftool) -> None:
    out = aigclabel.mark(make_png(), producer=PRODUCER, produce_id="bare-1", explicit=False)
    seen = json.loads(tool_get(exiftool(out), "XMP-TC260:AIGC"))
    assert list(seen) == list(AigcRecord().to_dict())  # the seven fields, no wrapper


def test_both_forms_written_by_hand_verify_compliant(exiftool) -> None:
    record = AigcRecord(content_producer=PRODUCER, produce_id="hand-1")
    for form in ("bare", "wrapped"):
        data = _png_with_record(record.to_json(form))
        assert json.loads(tool_get(exiftool(data), "XMP-TC260:AIGC")) == json.loads(record.to_json(form))
        report = aigclabel.verify(data, scope="implicit")
        assert report.verdict is Verdict.COMPLIANT, (form, [f.to_dict() for f in report.findings])


def test_security_data_with_escaped_quotes_verifies_compliant(exiftool) -> None:
    record = AigcRecord(content_producer=PRODUCER, produce_id="signed-1", reserved_code1=SECURITY_DATA)
    text = record.to_json()
    assert '\\"SecurityData\\"' in text  # escaped inside the record, as Annex E j) allows
    data = _png_with_record(text)
    seen = json.loads(tool_get(exiftool(data), "XMP-TC260:AIGC"))
    assert seen["ReservedCode1"] == SECURITY_DATA
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    assert Level.ERROR not in _levels(report, "implicit.record-fields")
    assert not [f for f in report.findings if "contains" in f.message]  # no character finding


def test_non_ascii_value_is_compliant_with_a_warning(exiftool) -> None:
    fields = AigcRecord(content_producer="豆包", produce_id="cn-1").to_dict()
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    data = _png_with_record(text)
    assert json.loads(tool_get(exiftool(data), "XMP-TC260:AIGC"))["ContentProducer"] == "豆包"
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    warnings = [f for f in report.findings if f.rule == "implicit.record-fields" and f.level is Level.WARNING]
    assert any("ContentProducer contains" in f.message and "Annex E j)" in f.message for f in warnings)


def test_writer_still_refuses_a_name_for_a_code() -> None:
    import pytest

    from aigclabel.errors import LabelError

    with pytest.raises(LabelError, match="use the provider code"):
        aigclabel.mark(make_png(), producer="豆包", produce_id="x", explicit=False)
