"""Real-file tests of the JPEG handler: mark with aigclabel, read back with independent readers.

exiftool must see the record and the IPTC source type, Pillow must decode the very same pixels,
and a byte-level walk must find every other segment (EXIF, ICC, comments, other APPn) and the
entropy-coded data untouched.  Reading covers every carrier variant the TC260 image guide and
real generators use.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest
from PIL import Image

import aigclabel
from aigclabel.errors import CorruptFile, OutputError, UnsupportedOperation
from aigclabel.report import Level, Verdict

from conftest import (
    DST_TRAINED,
    EXIF_APP1_ID,
    LEGACY_JSON,
    PRODUCER,
    XMP_APP1_ID,
    assert_only_record_blanked,
    jpeg_segment,
    jpeg_segments,
    make_exif,
    make_jpeg,
    pixels,
    record_json,
    srgb_icc,
    tool_get,
    tool_values_containing,
    user_comment,
    wrapped_json,
    xmp_packet,
)


def mark(data, destination=None, *, produce_id: str = "jpeg-0001", explicit: bool = False, **kw):
    """The metadata step alone: with explicit=False no visible label is drawn, so every byte of the
    image data must come through unchanged (the default path is tested separately below)."""
    return aigclabel.mark(data, destination, producer=PRODUCER, produce_id=produce_id, explicit=explicit, **kw)


def findings(report, rule: str) -> list:
    return [f for f in report.findings if f.rule == rule]


def levels(report, rule: str) -> set:
    return {f.level for f in findings(report, rule)}


def xmp_segments(data: bytes) -> list:
    return [s for s in jpeg_segments(data)[0] if s.is_xmp]


def scan(data: bytes) -> bytes:
    """Everything from the first SOS marker on: entropy-coded data, later scans, EOI, any trailer."""
    return data[jpeg_segments(data)[1]:]


# --------------------------------------------------------------------------------------------- writing

VARIANTS = {
    "baseline-rgb": dict(mode="RGB"),
    "progressive-rgb": dict(mode="RGB", progressive=True),
    "grayscale": dict(mode="L"),
    "cmyk": dict(mode="CMYK"),
    "progressive-gray": dict(mode="L", progressive=True),
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_mark_is_seen_by_exiftool_and_pixels_are_unchanged(variant, exiftool):
    src = make_jpeg(**VARIANTS[variant])
    out = mark(src, produce_id=f"id-{variant}")
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json(f"id-{variant}")
    assert tool_get(tags, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert "ExifTool:Warning" not in tags and "ExifTool:Error" not in tags
    # Pillow decodes exactly the same image; the scan data is byte for byte the same.
    assert pixels(out) == pixels(src)
    assert scan(out) == scan(src)
    # One new segment, everything else as it was.
    before, _ = jpeg_segments(src)
    after, _ = jpeg_segments(out)
    assert [s.raw for s in after if not s.is_xmp] == [s.raw for s in before]
    assert len(xmp_segments(out)) == 1
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]


def test_xmp_segment_layout_is_standard():
    out = mark(make_jpeg())
    (seg,) = xmp_segments(out)
    # FF E1, length counting itself, the 29-byte namespace id, then the packet
    assert out[seg.offset:seg.offset + 2] == b"\xff\xe1"
    assert int.from_bytes(out[seg.offset + 2:seg.offset + 4], "big") == len(seg.payload) + 2
    packet = seg.payload[len(XMP_APP1_ID):]
    assert packet.startswith(b"<?xpacket begin=") and packet.rstrip().endswith(b"<?xpacket end=\"w\"?>")
    assert len(seg.payload) <= 65533


def test_keeps_exif_icc_comments_and_other_app_segments_byte_for_byte(exiftool):
    icc = srgb_icc()
    exif = make_exif(make="Canon", model="EOS R5", software="Digital Photo Professional")
    app13 = jpeg_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x00")
    # (not a JUMBF "JP" box: exiftool 12.57 spends ~20 s on a malformed one)
    app11 = jpeg_segment(0xEB, b"VendorX\x00opaque data, not a record")
    com2 = jpeg_segment(0xFE, b"second comment")
    src = make_jpeg(exif=exif, icc=icc, comment=b"shot on a tripod", extra_segments=[app13, app11, com2])
    out = mark(src)

    before, _ = jpeg_segments(src)
    after, _ = jpeg_segments(out)
    # Every original segment survives byte for byte and in order; only the XMP APP1 is new.
    assert [s.raw for s in after if not s.is_xmp] == [s.raw for s in before]
    exif_before = next(s for s in before if s.is_exif)
    exif_after = next(s for s in after if s.is_exif)
    assert exif_after.payload == exif_before.payload == EXIF_APP1_ID + exif
    icc_after = [s for s in after if s.marker == 0xE2]
    assert b"".join(s.payload[14:] for s in icc_after) == icc  # "ICC_PROFILE\0" + seq + count
    assert scan(out) == scan(src)
    assert pixels(out) == pixels(src)

    tags = exiftool(out)
    assert tags["IFD0:Make"] == "Canon"
    assert tags["IFD0:Model"] == "EOS R5"
    assert tags["IFD0:Software"] == "Digital Photo Professional"
    assert tags["File:Comment"] == "shot on a tripod"  # exiftool shows the first comment; both are kept above
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("jpeg-0001")
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    assert "ExifTool:Warning" not in tags


@pytest.mark.parametrize("kind, expected_index", [
    ("jfif", 1),  # SOI, APP0 JFIF, -> XMP
    ("jfif+exif", 2),  # SOI, APP0, APP1 Exif, -> XMP
    ("jfif+exif+icc", 2),  # XMP goes before the ICC APP2
    ("adobe-cmyk", 0),  # no APP0/Exif: right after SOI
])
def test_new_xmp_segment_lands_after_app0_and_exif(kind, expected_index):
    kw = {"jfif": {}, "jfif+exif": {"exif": make_exif()}, "jfif+exif+icc": {"exif": make_exif(), "icc": srgb_icc()},
          "adobe-cmyk": {"mode": "CMYK"}}[kind]
    out = mark(make_jpeg(**kw))
    after, _ = jpeg_segments(out)
    assert [i for i, s in enumerate(after) if s.is_xmp] == [expected_index]
    for seg in after[:expected_index]:
        assert seg.marker == 0xE0 or seg.is_exif


def test_merge_into_existing_xmp_keeps_other_properties(exiftool):
    src = make_jpeg(exif=make_exif(), xmp=xmp_packet())
    before_tags = exiftool(src)
    out = mark(src, produce_id="merged-1")
    tags = exiftool(out)
    assert tags["XMP-dc:Title"] == before_tags["XMP-dc:Title"] == "Harbour at dusk"
    assert tags["XMP-dc:Creator"] == before_tags["XMP-dc:Creator"] == ["Li Wei", "Sample Studio"]
    assert tags["XMP-xmp:CreatorTool"] == "Example Editor 2.1"
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("merged-1")
    assert tool_get(tags, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    # The XMP segment is rewritten where it was; nothing else moves.
    seg_before = [i for i, s in enumerate(jpeg_segments(src)[0]) if s.is_xmp]
    seg_after = [i for i, s in enumerate(jpeg_segments(out)[0]) if s.is_xmp]
    assert seg_before == seg_after and len(seg_after) == 1
    assert scan(out) == scan(src)


def test_remark_replaces_the_record(exiftool):
    first = mark(make_jpeg(exif=make_exif(), xmp=xmp_packet()), produce_id="first-id")
    second = mark(first, produce_id="second-id")
    labels = aigclabel.inspect(second).labels
    assert len(labels) == 1
    assert labels[0].fields["ProduceID"] == "second-id"
    assert labels[0].normative
    assert len(xmp_segments(second)) == 1
    tags = exiftool(second)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("second-id")
    assert not tool_values_containing(tags, "first-id")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert scan(second) == scan(first)


# --------------------------------------------------------------------------------------------- reading

def _uc(text, code="ASCII", endian="<", bom=False):
    return make_exif(user_comment=user_comment(text, code, endian, bom), endian=endian)


# name -> (jpeg factory kwargs, expected carrier, normative, expected form)
READ_VARIANTS = {
    "xmp-element": (lambda: dict(xmp=xmp_packet(record=record_json("rv"))), "xmp:TC260:AIGC", True, "bare"),
    "xmp-attribute": (lambda: dict(xmp=xmp_packet(record=record_json("rv"), form="attribute")),
                      "xmp:TC260:AIGC", True, "bare"),
    "exif-usercomment-ascii-le": (lambda: dict(exif=_uc(wrapped_json("rv"))), "exif:UserComment", False, "wrapped"),
    "exif-usercomment-ascii-be": (lambda: dict(exif=_uc(wrapped_json("rv"), endian=">")),
                                  "exif:UserComment", False, "wrapped"),
    "exif-usercomment-unicode-le": (lambda: dict(exif=_uc(wrapped_json("rv"), "UNICODE", "<")),
                                    "exif:UserComment", False, "wrapped"),
    "exif-usercomment-unicode-be": (lambda: dict(exif=_uc(wrapped_json("rv"), "UNICODE", ">")),
                                    "exif:UserComment", False, "wrapped"),
    "exif-usercomment-unicode-bom": (lambda: dict(exif=_uc(wrapped_json("rv"), "UNICODE", "<", bom=True)),
                                     "exif:UserComment", False, "wrapped"),
    "exif-imagedescription": (lambda: dict(exif=make_exif(description=record_json("rv"))),
                              "exif:ImageDescription", False, "bare"),
    "exif-xpcomment": (lambda: dict(exif=make_exif(xp_comment=wrapped_json("rv"))), "exif:XPComment", False,
                       "wrapped"),
    "app11-blob": (lambda: dict(extra_segments=[jpeg_segment(0xEB, b"AIGC" + record_json("rv").encode())]),
                   "jpeg:APP11", False, "wrapped"),
    "app1-blob": (lambda: dict(extra_segments=[jpeg_segment(0xE1, b"AIGC" + record_json("rv").encode())]),
                  "jpeg:APP1", False, "wrapped"),
    "com-json": (lambda: dict(comment=wrapped_json("rv").encode()), "jpeg:COM", False, "wrapped"),
}


@pytest.mark.parametrize("variant", READ_VARIANTS, ids=list(READ_VARIANTS))
def test_reads_every_carrier_variant(variant):
    factory, carrier, normative, form = READ_VARIANTS[variant]
    data = make_jpeg(**factory())
    (label,) = aigclabel.inspect(data).labels
    assert label.carrier == carrier
    assert label.normative is normative
    assert label.form == form
    assert label.fields is not None and label.fields["ProduceID"] == "rv"
    assert label.fields["ContentProducer"] == PRODUCER
    assert label.before_payload is True

    report = aigclabel.verify(data, scope="implicit")
    assert levels(report, "implicit.record-present") == {Level.PASS}
    assert levels(report, "implicit.single-record") == {Level.PASS}
    if normative:
        assert levels(report, "implicit.carrier") == {Level.PASS}
        assert report.verdict is Verdict.COMPLIANT
    else:
        # readers accept the variant: a placement warning, not a breach
        (carrier_finding,) = findings(report, "implicit.carrier")
        assert carrier_finding.level is Level.WARNING
        assert carrier_finding.actual == carrier
        assert "xmp:TC260:AIGC" in carrier_finding.message


def test_xmp_attribute_form_is_unescaped():
    rec = record_json("attr&<x>")  # characters XML must escape survive the round trip
    data = make_jpeg(xmp=xmp_packet(record=rec, form="attribute"))
    (label,) = aigclabel.inspect(data).labels
    assert label.raw == rec
    assert "attribute form" in label.location


def test_legacy_2023_record_is_a_schema_error_under_the_default_profile():
    legacy = '{"AIGC":' + LEGACY_JSON + "}"
    data = make_jpeg(exif=_uc(legacy))
    (label,) = aigclabel.inspect(data).labels
    assert label.form == "legacy-2023"
    assert label.parsed.is_legacy
    report = aigclabel.verify(data, scope="implicit")
    (schema,) = findings(report, "implicit.schema")
    assert schema.level is Level.ERROR
    assert schema.actual == "tc260-2023"
    assert report.verdict is Verdict.NONCOMPLIANT


def test_legacy_record_in_xmp():
    data = make_jpeg(xmp=xmp_packet(record=LEGACY_JSON))
    (label,) = aigclabel.inspect(data).labels
    assert label.form == "legacy-2023" and label.normative
    assert levels(aigclabel.verify(data, scope="implicit"), "implicit.schema") == {Level.ERROR}


@pytest.mark.parametrize("same", [False, True], ids=["disagreeing", "identical"])
def test_two_records_are_a_single_record_error(same):
    other = "rv" if same else "other"
    data = make_jpeg(exif=_uc(wrapped_json(other)), xmp=xmp_packet(record=record_json("rv")))
    report = aigclabel.verify(data, scope="implicit")
    assert len(report.labels) == 2
    (single,) = findings(report, "implicit.single-record")
    assert single.level is Level.ERROR
    assert ("identical" in single.message) is same
    assert report.verdict is Verdict.NONCOMPLIANT


def test_generator_traces():
    data = make_jpeg(exif=make_exif(software="Stable Diffusion WebUI 1.10"),
                     xmp=xmp_packet(extra_ns='\n    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"',
                                    extra_attrs=f'\n    Iptc4xmpExt:DigitalSourceType="{DST_TRAINED}"'))
    ins = aigclabel.inspect(data)
    assert ins.labels == []
    kinds = {(t.kind, "Stable Diffusion" in t.detail) for t in ins.traces}
    assert ("generator-metadata", True) in kinds
    assert any(t.kind == "iptc-digital-source-type" and t.detail == DST_TRAINED for t in ins.traces)
    # no record: the verdict is a breach whatever the traces say
    assert levels(aigclabel.verify(data, scope="implicit"), "implicit.record-present") == {Level.ERROR}


def test_ordinary_software_and_description_are_not_records_or_traces():
    data = make_jpeg(exif=make_exif(software="Bernie's Camera 2.0", description="My AIGC artwork, painted by hand"))
    ins = aigclabel.inspect(data)
    assert ins.labels == []
    assert ins.traces == []
    out = mark(data)
    assert next(s for s in jpeg_segments(out)[0] if s.is_exif).payload[6:] == \
        make_exif(software="Bernie's Camera 2.0", description="My AIGC artwork, painted by hand")


def _mp4_like_trailer(size: int = 300_000) -> bytes:
    """Random bytes with no FF D9 pair, like the MP4 a Motion Photo appends after the JPEG's EOI."""
    tail = bytearray(random.Random(7).randbytes(size))
    at = tail.find(b"\xff\xd9")
    while at >= 0:
        tail[at + 1] = 0xD8
        at = tail.find(b"\xff\xd9", at)
    return b"\x00\x00\x00\x18ftypmp42" + bytes(tail)


def test_long_trailer_after_eoi_is_kept(exiftool):
    """A Motion Photo (Google, Samsung) is a JPEG with an MP4 after EOI, far longer than 64 KiB."""
    trailer = _mp4_like_trailer()
    src = make_jpeg(exif=make_exif()) + trailer
    assert aigclabel.inspect(src).labels == []
    out = mark(src)
    assert out.endswith(trailer)
    assert scan(out) == scan(src)
    assert pixels(out) == pixels(src)
    assert tool_get(exiftool(out), "XMP-TC260:AIGC") == record_json("jpeg-0001")
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT
    # a short trailer (a maker's tag block) is found in the tail window, reading little: the header's pages and
    # the last 64 KiB, never the image data between them
    short = make_jpeg(size=(1200, 900), quality=95) + b"SAMSUNG-TRAILER" * 10
    assert len(short) > 200_000
    report = aigclabel.verify(short, scope="implicit")
    assert report.bytes_read < 80 << 10


def test_record_is_written_with_the_tc260_prefix_even_if_the_packet_binds_another(exiftool):
    packet = xmp_packet(extra_ns='\n    xmlns:aigc="http://www.tc260.org.cn/ns/AIGC/1.0/"',
                        extra_attrs='\n    aigc:AIGC="old"')
    out = mark(make_jpeg(xmp=packet), produce_id="prefixed")
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("prefixed")
    assert b"<TC260:AIGC>" in xmp_segments(out)[0].payload


def test_width_and_height_from_sof():
    info = aigclabel.inspect(make_jpeg(size=(123, 45), progressive=True)).info
    assert (info["width"], info["height"]) == (123, 45)


# --------------------------------------------------------------------------------------------- cleaning old carriers

CLEAN_VARIANTS = [v for v in READ_VARIANTS if not v.startswith("xmp-")] + ["legacy-usercomment"]


@pytest.mark.parametrize("variant", CLEAN_VARIANTS)
def test_marking_replaces_records_in_non_normative_carriers(variant, exiftool):
    if variant == "legacy-usercomment":
        old_record = '{"AIGC":' + LEGACY_JSON + "}"
        kw, old_text = dict(exif=_uc(old_record)), "legacy-0001"
    else:
        kw, old_text = READ_VARIANTS[variant][0](), '"ProduceID":"rv"'
        old_record = record_json("rv") if variant == "exif-imagedescription" else wrapped_json("rv")
    kw.setdefault("exif", make_exif())  # every case has an EXIF block to check
    src = make_jpeg(icc=srgb_icc(), **kw)
    assert len(aigclabel.inspect(src).labels) == 1
    out = mark(src, produce_id="new-id")

    (label,) = aigclabel.inspect(out).labels
    assert label.carrier == "xmp:TC260:AIGC" and label.fields["ProduceID"] == "new-id"
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]

    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("new-id")
    stale = {k: v for k, v in tool_values_containing(tags, old_text).items()}
    assert not stale, f"old record still visible to exiftool: {stale}"
    assert tags["IFD0:Make"] == "ExampleCam"

    # The EXIF block keeps its length; only the bytes of the blanked record changed.
    exif_before = next(s for s in jpeg_segments(src)[0] if s.is_exif).payload
    exif_after = next(s for s in jpeg_segments(out)[0] if s.is_exif).payload
    in_exif = variant.startswith("exif-") or variant == "legacy-usercomment"
    assert_only_record_blanked(exif_before, exif_after, old_record if in_exif else None)
    # Every other segment survives; the raw APPn/COM blob is gone.
    before = [s.raw for s in jpeg_segments(src)[0]
              if not s.is_exif and not s.payload.startswith(b"AIGC") and b'"AIGC"' not in s.payload]
    after = [s.raw for s in jpeg_segments(out)[0] if not s.is_exif and not s.is_xmp]
    assert after == before
    assert scan(out) == scan(src)


# --------------------------------------------------------------------------------------------- sources and outputs


@pytest.fixture
def jpeg_file(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    path.write_bytes(make_jpeg(exif=make_exif(), icc=srgb_icc()))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bytes_in_bytes_out():
    src = make_jpeg()
    for kind in (bytes, bytearray, memoryview):
        out = mark(kind(src))
        assert isinstance(out, bytes)
        assert aigclabel.inspect(out).labels[0].fields["ProduceID"] == "jpeg-0001"


def test_file_object_in(jpeg_file: Path):
    with open(jpeg_file, "rb") as fh:
        out = mark(fh)
    assert out == mark(jpeg_file.read_bytes())
    # a stream positioned after a prefix: the JPEG starts where the stream is
    stream = io.BytesIO(b"PREFIX" + jpeg_file.read_bytes())
    stream.seek(6)
    assert mark(stream) == out
    assert aigclabel.verify(io.BytesIO(out), scope="implicit").verdict is Verdict.COMPLIANT


def test_path_in_with_destination(jpeg_file: Path, tmp_path: Path, exiftool):
    before = digest(jpeg_file)
    dest = tmp_path / "out.jpg"
    result = mark(jpeg_file, dest, produce_id="to-file")
    assert isinstance(result, aigclabel.MarkResult)
    assert result.destination == str(dest) and result.format == "jpeg"
    assert digest(jpeg_file) == before
    assert tool_get(exiftool(dest), "XMP-TC260:AIGC") == record_json("to-file")
    assert dest.read_bytes() == mark(jpeg_file.read_bytes(), produce_id="to-file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.jpg"]


def test_never_overwrites_without_overwrite(jpeg_file: Path, tmp_path: Path):
    dest = tmp_path / "out.jpg"
    dest.write_bytes(b"precious")
    with pytest.raises(OutputError):
        mark(jpeg_file, dest)
    assert dest.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.jpg"]
    mark(jpeg_file, dest, overwrite=True)
    assert aigclabel.inspect(dest).labels[0].normative


def test_missing_destination_directory(jpeg_file: Path, tmp_path: Path):
    with pytest.raises(OutputError):
        mark(jpeg_file, tmp_path / "nope" / "out.jpg")
    assert not (tmp_path / "nope").exists()


def test_failure_leaves_no_temp_files_and_input_untouched(tmp_path: Path):
    src = tmp_path / "in" / "bad.jpg"
    src.parent.mkdir()
    src.write_bytes(make_jpeg(exif=make_exif())[:-200])  # scan data cut short: no EOI
    before = digest(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(CorruptFile):
        mark(src, out_dir / "x.jpg")
    assert list(out_dir.iterdir()) == []
    assert digest(src) == before


def _near_full_xmp() -> bytes:
    """An XMP packet that just fits one APP1 segment; with the record added it no longer does."""
    pad = 65533 - len(XMP_APP1_ID) - len(xmp_packet()) - 60
    packet = xmp_packet(extra_elements=f"   <dc:description>{'z' * pad}</dc:description>\n")
    assert len(packet) + len(XMP_APP1_ID) <= 65533
    return packet


def test_xmp_too_big_for_one_segment_fails_after_output_opened(tmp_path: Path):
    src = tmp_path / "big-xmp.jpg"
    src.write_bytes(make_jpeg(xmp=_near_full_xmp()))
    before = digest(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(UnsupportedOperation):
        mark(src, out_dir / "x.jpg")
    assert list(out_dir.iterdir()) == []  # the temporary file was removed
    assert digest(src) == before
    with pytest.raises(UnsupportedOperation):
        mark(src.read_bytes())
    # in place, too: the file stays as it was
    with pytest.raises(UnsupportedOperation):
        aigclabel.mark_file(src, producer=PRODUCER, in_place=True, explicit=False)
    assert digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big-xmp.jpg", "out"]


# --------------------------------------------------------------------------------------------- reading little


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory) -> Path:
    """A 12-megapixel camera-like JPEG (4000x3000, quality 90) with an EXIF block."""
    noise = Image.effect_noise((4000, 3000), 40)
    im = Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                             noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    path = tmp_path_factory.mktemp("big") / "12mp.jpg"
    path.write_bytes(make_jpeg(image=im, quality=90, exif=make_exif(), icc=srgb_icc()))
    return path


def test_verify_of_12_megapixel_jpeg_reads_little(big_jpeg: Path, tmp_path: Path):
    size = big_jpeg.stat().st_size
    assert size > 2_000_000
    report = aigclabel.verify(big_jpeg, scope="implicit")
    assert report.bytes_read is not None and report.bytes_read <= 128 * 1024, report.bytes_read
    marked = tmp_path / "marked.jpg"
    mark(big_jpeg, marked)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read <= 128 * 1024, report.bytes_read
    assert scan(marked.read_bytes()) == scan(big_jpeg.read_bytes())


def test_bundled_samples():
    samples = Path(aigclabel.__file__).resolve().parent.parent / "samples"
    if not samples.is_dir():
        pytest.skip("samples/ not present next to the package")
    photo = (samples / "photo.jpg").read_bytes()
    out = mark(photo)
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT
    legacy = (samples / "legacy-2023.jpg").read_bytes()
    (lab,) = aigclabel.inspect(legacy).labels
    assert lab.form == "legacy-2023"
    (lab,) = aigclabel.inspect(mark(legacy)).labels
    assert lab.normative and lab.form == "bare"


# --------------------------------------------------------------------------------------------- with the explicit label


def test_default_marking_draws_the_label_and_keeps_the_metadata(exiftool):
    """mark() by default also draws the visible label (re-encoding the picture); the implicit record
    is written last and every other segment is still carried over."""
    icc = srgb_icc()
    exif = make_exif(make="Canon", model="EOS R5")
    src = make_jpeg(size=(320, 200), exif=exif, icc=icc, comment=b"kept", xmp=xmp_packet())
    result = aigclabel.mark_file(src, producer=PRODUCER, produce_id="drawn")
    assert result.explicit == "added"
    out = result.data
    (label,) = aigclabel.inspect(out).labels
    assert label.normative and label.fields["ProduceID"] == "drawn"
    after, _ = jpeg_segments(out)
    assert next(s for s in after if s.is_exif).payload == EXIF_APP1_ID + exif
    assert b"".join(s.payload[14:] for s in after if s.marker == 0xE2) == icc
    assert [s.payload for s in after if s.marker == 0xFE] == [b"kept"]
    assert len([s for s in after if s.is_xmp]) == 1
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("drawn")
    assert tags["XMP-dc:Title"] == "Harbour at dusk" and tags["IFD0:Make"] == "Canon"
    assert pixels(out)[:2] == pixels(src)[:2] and pixels(out)[2] != pixels(src)[2]
