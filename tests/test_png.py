"""Real-file tests of the PNG handler: mark with aigclabel, read back with independent readers.

exiftool must see the record and the IPTC source type; Pillow must decode the same pixels for
every colour type, bit depth and interlacing; every chunk CRC must be valid (checked with zlib
here, since pngcheck is not installed); the XMP iTXt chunk must precede the first IDAT and every
other chunk must be kept byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import zlib
from pathlib import Path

import pytest
from PIL import Image

import aigclabel
from aigclabel.errors import CorruptFile, OutputError
from aigclabel.report import Level, Verdict

from conftest import (
    DST_TRAINED,
    assert_only_record_blanked,
    LEGACY_JSON,
    PRODUCER,
    XMP_KEYWORD,
    make_exif,
    make_png,
    picture,
    pixels,
    png_chunk,
    png_chunks,
    png_end,
    png_insert,
    raw_png,
    record_json,
    srgb_icc,
    text_chunk,
    tool_get,
    tool_values_containing,
    user_comment,
    wrapped_json,
    xmp_packet,
)


def mark(data, destination=None, *, produce_id: str = "png-0001", explicit: bool = False, **kw):
    """The metadata step alone: with explicit=False no visible label is drawn, so every byte of the
    image data must come through unchanged (the default path is tested separately below)."""
    return aigclabel.mark(data, destination, producer=PRODUCER, produce_id=produce_id, explicit=explicit, **kw)


def findings(report, rule: str) -> list:
    return [f for f in report.findings if f.rule == rule]


def levels(report, rule: str) -> set:
    return {f.level for f in findings(report, rule)}


def is_xmp(chunk) -> bool:
    return chunk.type == b"iTXt" and chunk.data.startswith(XMP_KEYWORD + b"\x00")


def assert_well_formed(data: bytes) -> None:
    """Signature, IHDR first, IEND last, every CRC right, the XMP chunk (exactly one) before the first IDAT."""
    chunks = png_chunks(data)
    assert chunks[0].type == b"IHDR" and chunks[-1].type == b"IEND"
    bad = [(c.type, c.offset) for c in chunks if not c.crc_ok]
    assert not bad, f"bad CRCs: {bad}"
    xmp = [i for i, c in enumerate(chunks) if is_xmp(c)]
    first_idat = next(i for i, c in enumerate(chunks) if c.type == b"IDAT")
    assert len(xmp) == 1 and xmp[0] < first_idat
    # uncompressed, empty language tag and translated keyword
    assert chunks[xmp[0]].data.startswith(XMP_KEYWORD + b"\x00\x00\x00\x00\x00<?xpacket")


def idats(data: bytes) -> list[bytes]:
    return [c.raw for c in png_chunks(data) if c.type == b"IDAT"]


def non_xmp(data: bytes) -> list[bytes]:
    return [c.raw for c in png_chunks(data) if not is_xmp(c)]


# --------------------------------------------------------------------------------------------- writing

VARIANTS = {
    "rgb": lambda: make_png("RGB"),
    "rgba": lambda: make_png("RGBA"),
    "palette": lambda: make_png("P"),
    "gray": lambda: make_png("L"),
    "gray-16bit": lambda: make_png("I;16"),
    "rgb-16bit": lambda: raw_png(41, 23, bit_depth=16, color_type=2),
    "interlaced-rgb": lambda: raw_png(41, 23, color_type=2, interlace=True),
    "interlaced-rgba-16bit": lambda: raw_png(37, 19, bit_depth=16, color_type=6, interlace=True),
    "many-idat": lambda: raw_png(64, 40, color_type=2, idat_size=64),
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_mark_is_seen_by_exiftool_and_pixels_are_unchanged(variant, exiftool):
    src = VARIANTS[variant]()
    out = mark(src, produce_id=f"id-{variant}")
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json(f"id-{variant}")
    assert tool_get(tags, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert "ExifTool:Warning" not in tags and "ExifTool:Error" not in tags
    assert pixels(out) == pixels(src)
    assert_well_formed(out)
    assert idats(out) == idats(src)
    assert non_xmp(out) == non_xmp(src)  # only the XMP chunk was added
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]


def test_pixels_match_the_source_image():
    for mode in ("RGB", "RGBA", "P", "L", "I;16"):
        im = picture(mode)
        out = mark(make_png(image=im))
        with Image.open(io.BytesIO(out)) as got:
            assert got.mode == im.mode
            assert got.tobytes() == im.tobytes()


def test_keeps_icc_exif_and_text_chunks_byte_for_byte(exiftool):
    icc = srgb_icc()
    exif = make_exif(make="Canon", model="EOS R5", software="Digital Photo Professional")
    src = make_png(exif=exif, icc=icc, text=[("Title", "Harbour"), ("Author", "Li Wei")],
                   ztext=[("Comment", "a long comment " * 20)], itext=[("Description", "黄昏的港口")])
    src = png_insert(src, [png_chunk(b"tIME", bytes([7, 232, 5, 1, 12, 0, 0]))], after_idat=True)
    out = mark(src)
    assert_well_formed(out)
    assert non_xmp(out) == non_xmp(src)
    chunks = {c.type: c for c in png_chunks(out)}
    assert chunks[b"eXIf"].data == exif
    _name, _, rest = chunks[b"iCCP"].data.partition(b"\x00")
    assert zlib.decompress(rest[1:]) == icc
    assert pixels(out) == pixels(src)
    tags = exiftool(out)
    assert tags["IFD0:Make"] == "Canon"
    assert tags["IFD0:Model"] == "EOS R5"
    assert tags["IFD0:Software"] == "Digital Photo Professional"
    assert tags["PNG:Title"] == "Harbour" and tags["PNG:Author"] == "Li Wei"
    assert tags["PNG:Comment"] == "a long comment " * 20
    assert tags["PNG:Description"] == "黄昏的港口"
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("png-0001")


def test_xmp_chunk_goes_right_before_the_first_idat():
    src = make_png(text=[("Title", "x")], icc=srgb_icc())
    out = mark(src)
    types = [c.type for c in png_chunks(out)]
    i = types.index(b"IDAT")
    assert is_xmp(png_chunks(out)[i - 1])
    assert types[:i - 1] == [c.type for c in png_chunks(src)][:i - 1]


def test_merge_into_existing_xmp_keeps_other_properties(exiftool):
    src = make_png(xmp=xmp_packet(), text=[("Title", "kept")])
    before = exiftool(src)
    out = mark(src, produce_id="merged-1")
    assert_well_formed(out)
    tags = exiftool(out)
    assert tags["XMP-dc:Title"] == before["XMP-dc:Title"] == "Harbour at dusk"
    assert tags["XMP-dc:Creator"] == before["XMP-dc:Creator"] == ["Li Wei", "Sample Studio"]
    assert tags["XMP-xmp:CreatorTool"] == "Example Editor 2.1"
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("merged-1")
    # the XMP chunk is rewritten in place: the chunk sequence is unchanged
    assert [c.type for c in png_chunks(out)] == [c.type for c in png_chunks(src)]
    assert idats(out) == idats(src)


def test_xmp_chunk_after_idat_moves_before_it(exiftool):
    xmp = png_chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + xmp_packet(record=record_json("late")))
    src = png_insert(make_png(), [xmp], after_idat=True)
    types = [c.type for c in png_chunks(src)]
    assert types.index(b"iTXt") > types.index(b"IDAT")
    (late,) = aigclabel.inspect(src).labels
    assert late.normative and late.before_payload is False
    out = mark(src, produce_id="moved")
    assert_well_formed(out)  # exactly one XMP chunk, now before the first IDAT
    (label,) = aigclabel.inspect(out).labels
    assert label.before_payload is True and label.fields["ProduceID"] == "moved"
    assert exiftool(out)["XMP-dc:Title"] == "Harbour at dusk"
    assert idats(out) == idats(src)


def test_remark_replaces_the_record(exiftool):
    first = mark(make_png(xmp=xmp_packet()), produce_id="first-id")
    second = mark(first, produce_id="second-id")
    assert_well_formed(second)
    (label,) = aigclabel.inspect(second).labels
    assert label.fields["ProduceID"] == "second-id" and label.normative
    tags = exiftool(second)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("second-id")
    assert not tool_values_containing(tags, "first-id")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"


def test_bytes_after_iend_are_kept():
    src = make_png() + b"trailing data that is not a chunk"
    out = mark(src)
    assert out[png_end(out):] == b"trailing data that is not a chunk"
    assert_well_formed(out)


# --------------------------------------------------------------------------------------------- reading

READ_VARIANTS = {
    "xmp-element": (lambda: make_png(xmp=xmp_packet(record=record_json("rv"))), "xmp:TC260:AIGC", True, True),
    "xmp-attribute": (lambda: make_png(xmp=xmp_packet(record=record_json("rv"), form="attribute")),
                      "xmp:TC260:AIGC", True, True),
    "tEXt": (lambda: make_png(text=[("AIGC", wrapped_json("rv"))]), "png:tEXt:AIGC", False, True),
    "zTXt": (lambda: make_png(ztext=[("AIGC", wrapped_json("rv"))]), "png:zTXt:AIGC", False, True),
    "iTXt": (lambda: make_png(itext=[("AIGC", record_json("rv"))]), "png:iTXt:AIGC", False, True),
    "tEXt-after-idat": (lambda: png_insert(make_png(), [text_chunk("AIGC", wrapped_json("rv"))], after_idat=True),
                        "png:tEXt:AIGC", False, False),
    "zTXt-after-idat": (lambda: png_insert(make_png(), [text_chunk("AIGC", record_json("rv"), "zTXt")],
                                           after_idat=True), "png:zTXt:AIGC", False, False),
    "iTXt-after-idat": (lambda: png_insert(make_png(), [text_chunk("AIGC", record_json("rv"), "iTXt")],
                                           after_idat=True), "png:iTXt:AIGC", False, False),
    "eXIf-usercomment": (lambda: make_png(exif=make_exif(user_comment=user_comment(wrapped_json("rv")))),
                         "exif:UserComment", False, True),
    "eXIf-usercomment-unicode": (
        lambda: make_png(exif=make_exif(user_comment=user_comment(wrapped_json("rv"), "UNICODE", ">"), endian=">")),
        "exif:UserComment", False, True),
}


@pytest.mark.parametrize("variant", READ_VARIANTS, ids=list(READ_VARIANTS))
def test_reads_every_carrier_variant(variant):
    factory, carrier, normative, in_header = READ_VARIANTS[variant]
    data = factory()
    (label,) = aigclabel.inspect(data).labels
    assert label.carrier == carrier
    assert label.normative is normative
    assert label.fields is not None and label.fields["ProduceID"] == "rv"
    assert label.before_payload is in_header

    report = aigclabel.verify(data, scope="implicit")
    assert levels(report, "implicit.record-present") == {Level.PASS}
    if normative:
        assert levels(report, "implicit.carrier") == {Level.PASS}
    else:
        (carrier_finding,) = findings(report, "implicit.carrier")
        assert carrier_finding.level is Level.WARNING and carrier_finding.actual == carrier
    (header,) = findings(report, "implicit.in-header")
    if in_header:
        assert header.level is Level.PASS
    else:
        assert header.level is Level.WARNING  # the default profile rates placement a warning
        assert "after the media payload" in header.message
    if normative and in_header:
        assert report.verdict is Verdict.COMPLIANT


def test_legacy_record_is_a_schema_error():
    data = make_png(text=[("AIGC", '{"AIGC":' + LEGACY_JSON + "}")])
    (label,) = aigclabel.inspect(data).labels
    assert label.form == "legacy-2023"
    report = aigclabel.verify(data, scope="implicit")
    assert levels(report, "implicit.schema") == {Level.ERROR}
    assert report.verdict is Verdict.NONCOMPLIANT


def test_two_records_are_a_single_record_error():
    data = make_png(text=[("AIGC", wrapped_json("one"))], xmp=xmp_packet(record=record_json("two")))
    report = aigclabel.verify(data, scope="implicit")
    assert len(report.labels) == 2
    assert levels(report, "implicit.single-record") == {Level.ERROR}
    assert report.verdict is Verdict.NONCOMPLIANT


@pytest.mark.parametrize("kind", ["tEXt", "zTXt", "iTXt"])
@pytest.mark.parametrize("keyword, generator", [("parameters", "Stable Diffusion"), ("prompt", "ComfyUI"),
                                                ("workflow", "ComfyUI")])
def test_generator_text_chunks_are_traces(keyword, generator, kind):
    text = ("a lighthouse at dusk\nSteps: 20, Sampler: Euler a" if keyword == "parameters"
            else '{"3": {"class_type": "KSampler", "inputs": {"seed": 42}}}')
    data = png_insert(make_png(), [text_chunk(keyword, text, kind)])
    ins = aigclabel.inspect(data)
    assert ins.labels == []
    (trace,) = ins.traces
    assert trace.kind == "generator-metadata" and generator in trace.detail
    assert kind in trace.location


def test_exif_software_trace_and_plain_software():
    ins = aigclabel.inspect(make_png(exif=make_exif(software="Stable Diffusion 3.5")))
    assert [t.kind for t in ins.traces] == ["generator-metadata"]
    ins = aigclabel.inspect(make_png(text=[("Software", "ComfyUI")]))
    assert [t.kind for t in ins.traces] == ["generator-metadata"]
    ins = aigclabel.inspect(make_png(text=[("Software", "GIMP 2.10")], exif=make_exif(software="Photoshop")))
    assert ins.traces == []


def test_ordinary_description_is_not_a_record():
    exif = make_exif(description="My AIGC artwork, painted by hand")
    data = make_png(exif=exif, text=[("Comment", "not an AIGC record")])
    assert aigclabel.inspect(data).labels == []
    out = mark(data)
    assert next(c for c in png_chunks(out) if c.type == b"eXIf").data == exif


def test_size_from_ihdr():
    info = aigclabel.inspect(raw_png(41, 23, interlace=True)).info
    assert (info["width"], info["height"]) == (41, 23)


# --------------------------------------------------------------------------------------------- cleaning old carriers


@pytest.mark.parametrize("variant", [v for v in READ_VARIANTS if not v.startswith("xmp-")])
def test_marking_replaces_records_in_non_normative_carriers(variant, exiftool):
    src = READ_VARIANTS[variant][0]()
    if b"eXIf" not in [c.type for c in png_chunks(src)]:
        src = png_insert(src, [png_chunk(b"eXIf", make_exif())])
    src = png_insert(src, [text_chunk("Title", "kept")])
    out = mark(src, produce_id="new-id")
    assert_well_formed(out)
    (label,) = aigclabel.inspect(out).labels
    assert label.carrier == "xmp:TC260:AIGC" and label.fields["ProduceID"] == "new-id"
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("new-id")
    stale = tool_values_containing(tags, '"ProduceID":"rv"')
    assert not stale, f"old record still visible to exiftool: {stale}"
    assert tags["PNG:Title"] == "kept" and tags["IFD0:Make"] == "ExampleCam"
    # eXIf keeps its length and only the blanked record changed; the AIGC text chunks are gone;
    # everything else is byte for byte
    exif_before = next(c for c in png_chunks(src) if c.type == b"eXIf").data
    exif_after = next(c for c in png_chunks(out) if c.type == b"eXIf").data
    assert_only_record_blanked(exif_before, exif_after, wrapped_json("rv") if variant.startswith("eXIf") else None)
    kept = [c.raw for c in png_chunks(src)
            if c.type not in (b"eXIf",) and not (c.type in (b"tEXt", b"zTXt", b"iTXt") and c.text()[0] == "AIGC")]
    assert [c.raw for c in png_chunks(out) if c.type != b"eXIf" and not is_xmp(c)] == kept


# --------------------------------------------------------------------------------------------- sources and outputs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bytes_file_object_and_path(tmp_path: Path, exiftool):
    data = make_png(exif=make_exif())
    out = mark(data)
    assert isinstance(out, bytes)
    assert mark(io.BytesIO(data)) == out
    path = tmp_path / "in.png"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        assert mark(fh) == out
    before = digest(path)
    dest = tmp_path / "out.png"
    result = mark(path, dest)
    assert result.format == "png" and result.destination == str(dest)
    assert dest.read_bytes() == out
    assert digest(path) == before
    assert tool_get(exiftool(dest), "XMP-TC260:AIGC") == record_json("png-0001")
    with pytest.raises(OutputError):
        mark(path, dest)
    with pytest.raises(OutputError):
        mark(path, tmp_path / "missing" / "out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_failure_leaves_no_temp_files(tmp_path: Path):
    good = make_png(text=[("Comment", "a text chunk the writer parses")])
    chunks = png_chunks(good)
    idat = next(c for c in chunks if c.type == b"tEXt")  # a chunk we parse, so its bad CRC stops the write
    crc_at = idat.offset + 8 + len(idat.data)
    bad = good[:crc_at] + bytes([good[crc_at] ^ 0xFF]) + good[crc_at + 1:]
    src = tmp_path / "in" / "bad.png"
    src.parent.mkdir()
    src.write_bytes(bad)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = digest(src)
    with pytest.raises(CorruptFile):
        mark(src, out_dir / "x.png")
    assert list(out_dir.iterdir()) == []
    assert digest(src) == before


# --------------------------------------------------------------------------------------------- reading little


@pytest.fixture(scope="module")
def big_png(tmp_path_factory) -> Path:
    noise = Image.effect_noise((2000, 1500), 60)
    im = Image.merge("RGB", (noise, noise.rotate(90), noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    path = tmp_path_factory.mktemp("big") / "big.png"
    path.write_bytes(make_png(image=im, exif=make_exif(), text=[("Title", "big")], compress_level=1))
    return path


def test_verify_of_a_large_png_reads_a_small_fraction(big_png: Path, tmp_path: Path):
    data = big_png.read_bytes()
    assert len(data) > 4_000_000
    report = aigclabel.verify(big_png, scope="implicit")
    assert report.bytes_read < len(data) // 100, (report.bytes_read, len(data))
    marked = tmp_path / "marked.png"
    mark(big_png, marked)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < len(data) // 100
    assert idats(marked.read_bytes()) == idats(data)


def test_marking_a_large_png_streams_the_image_data(big_png: Path, tmp_path: Path):
    size = big_png.stat().st_size
    tracemalloc.start()
    try:
        mark(big_png, tmp_path / "marked.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 4, f"peak {peak >> 20} MiB for a {size >> 20} MiB file"
    assert_well_formed((tmp_path / "marked.png").read_bytes())


def test_bundled_samples():
    samples = Path(aigclabel.__file__).resolve().parent.parent / "samples"
    if not samples.is_dir():
        pytest.skip("samples/ not present next to the package")
    render = (samples / "render.png").read_bytes()
    assert [t.kind for t in aigclabel.inspect(render).traces] == ["generator-metadata"]
    out = mark(samples / "with-xmp.png")
    assert_well_formed(out)
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT


# --------------------------------------------------------------------------------------------- with the explicit label


def test_default_marking_draws_the_label_and_keeps_the_metadata(exiftool):
    """mark() by default also draws the visible label; ancillary chunks are carried over byte for byte."""
    exif = make_exif(make="Canon")
    src = make_png(size=(320, 200), exif=exif, icc=srgb_icc(), text=[("Title", "kept")],
                   ztext=[("Comment", "zipped")], xmp=xmp_packet())
    result = aigclabel.mark_file(src, producer=PRODUCER, produce_id="drawn")
    assert result.explicit == "added"
    out = result.data
    assert_well_formed(out)
    (label,) = aigclabel.inspect(out).labels
    assert label.normative and label.fields["ProduceID"] == "drawn"
    keep = (b"iCCP", b"eXIf", b"tEXt", b"zTXt")
    assert [c.raw for c in png_chunks(out) if c.type in keep] == [c.raw for c in png_chunks(src) if c.type in keep]
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("drawn")
    assert tags["XMP-dc:Title"] == "Harbour at dusk" and tags["PNG:Title"] == "kept"
    assert pixels(out)[:2] == pixels(src)[:2] and pixels(out)[2] != pixels(src)[2]
