"""Real-file tests of the WebP handler: mark with aigclabel, read back with independent readers.

Files are written by Pillow (libwebp).  exiftool must see the record and the IPTC source type,
Pillow must decode the very same pixels (every frame, with its duration), and the RIFF walker
below (written independently of aigclabel) must find every other chunk byte for byte, the XMP
chunk at its place in the container order, the VP8X flags right and the RIFF size fixed.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

import aigclabel
from aigclabel.errors import CorruptFile, InputError
from aigclabel.report import Level, Verdict

from conftest import (
    DST_TRAINED,
    PRODUCER,
    make_exif,
    picture,
    record_json,
    srgb_icc,
    tool_get,
    tool_values_containing,
    user_comment,
    wrapped_json,
    xmp_packet,
)

F_ANIM, F_XMP, F_EXIF, F_ALPHA, F_ICC = 0x02, 0x04, 0x08, 0x10, 0x20


def mark(data, destination=None, *, produce_id: str = "webp-0001", **kw):
    return aigclabel.mark(data, destination, producer=PRODUCER, produce_id=produce_id, explicit=False,
                          **kw)


# --------------------------------------------------------------------------------------------- an independent RIFF walker


@dataclass
class RiffChunk:
    fourcc: bytes
    offset: int
    data: bytes
    pad: bytes  # the pad byte as stored (b"" for even sizes)

    @property
    def raw(self) -> bytes:
        return self.fourcc + struct.pack("<I", len(self.data)) + self.data + self.pad


def riff_chunks(data: bytes) -> list[RiffChunk]:
    """Every chunk of the RIFF form; asserts the RIFF size matches the file and every pad byte is there."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    (size,) = struct.unpack("<I", data[4:8])
    end = 8 + size
    pos, out = 12, []
    while pos < end:
        fourcc, n = struct.unpack("<4sI", data[pos:pos + 8])
        pad = data[pos + 8 + n:pos + 8 + n + (n & 1)]
        assert len(pad) == (n & 1), f"missing pad byte after {fourcc!r}"
        out.append(RiffChunk(fourcc, pos, data[pos + 8:pos + 8 + n], pad))
        pos += 8 + n + (n & 1)
    assert pos == end, "chunks overrun the RIFF size"
    return out


def fourccs(data: bytes) -> list[bytes]:
    return [c.fourcc for c in riff_chunks(data)]


def chunk(data: bytes, fourcc: bytes) -> RiffChunk:
    (found,) = [c for c in riff_chunks(data) if c.fourcc == fourcc]
    return found


def vp8x(data: bytes) -> tuple[int, int, int]:
    """(flags, canvas width, canvas height) of the VP8X chunk, which must come first."""
    first = riff_chunks(data)[0]
    assert first.fourcc == b"VP8X" and len(first.data) == 10
    d = first.data
    return d[0], 1 + int.from_bytes(d[4:7], "little"), 1 + int.from_bytes(d[7:10], "little")


def make_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def riff(chunks: list[bytes], *, extra: bytes = b"") -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body + extra


# --------------------------------------------------------------------------------------------- factories and Pillow


def make_webp(mode: str = "RGB", size: tuple[int, int] = (96, 64), *, lossless: bool = False,
              exif: bytes | None = None, icc: bytes | None = None, xmp: bytes | None = None,
              frames: int = 1, durations: list[int] | None = None, loop: int = 0,
              image: Image.Image | None = None, quality: int = 80) -> bytes:
    im = image if image is not None else picture(mode, size)
    kw: dict = {"lossless": lossless, "quality": quality}
    if exif is not None:
        kw["exif"] = exif
    if icc is not None:
        kw["icc_profile"] = icc
    if xmp is not None:
        kw["xmp"] = xmp
    if frames > 1:
        others = [im.rotate(90 * i) for i in range(1, frames)]
        kw.update(save_all=True, append_images=others, duration=durations or [100] * frames, loop=loop)
    buf = io.BytesIO()
    im.save(buf, "WEBP", **kw)
    return buf.getvalue()


def decoded(data: bytes) -> list[tuple[str, tuple[int, int], bytes, object]]:
    """(mode, size, pixels, duration) of every frame as Pillow decodes *data*."""
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            im.load()
            out.append((im.mode, im.size, im.tobytes(), im.info.get("duration")))
    return out


def assert_marked(out: bytes, src: bytes, exiftool, produce_id: str) -> dict:
    """The checks every marked file passes; returns exiftool's tags."""
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json(produce_id)
    assert tool_get(tags, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert "ExifTool:Warning" not in tags and "ExifTool:Error" not in tags, tags
    assert decoded(out) == decoded(src)
    chunks = riff_chunks(out)
    assert struct.unpack("<I", out[4:8])[0] == len(out) - 8
    assert [c.fourcc for c in chunks].count(b"XMP ") == 1
    flags, w, h = vp8x(out)
    assert flags & F_XMP
    with Image.open(io.BytesIO(src)) as im:
        assert (w, h) == im.size
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    (label,) = report.labels
    assert label.carrier == "xmp:TC260:AIGC" and label.normative
    return tags


# --------------------------------------------------------------------------------------------- writing

VARIANTS = {
    "lossy": dict(),
    "lossless": dict(lossless=True),
    "lossless-alpha": dict(mode="RGBA", lossless=True),
    "lossy-alpha": dict(mode="RGBA"),
    "animated": dict(mode="RGBA", frames=3, durations=[80, 160, 240], loop=3),
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_mark_is_seen_by_exiftool_and_pixels_are_unchanged(variant, exiftool):
    src = make_webp(**VARIANTS[variant])
    out = mark(src, produce_id=f"id-{variant}")
    assert_marked(out, src, exiftool, f"id-{variant}")
    before, after = riff_chunks(src), riff_chunks(out)
    # every chunk but VP8X survives byte for byte and in order; XMP is added last
    assert [c.raw for c in after if c.fourcc not in (b"VP8X", b"XMP ")] == \
        [c.raw for c in before if c.fourcc != b"VP8X"]
    assert after[-1].fourcc == b"XMP "
    if before[0].fourcc == b"VP8X":
        # an existing header keeps every flag and its canvas; only the XMP flag is added
        assert after[0].data == bytes([before[0].data[0] | F_XMP]) + before[0].data[1:]


@pytest.mark.parametrize("variant, first, flags, mode", [
    ("lossy", b"VP8 ", F_XMP, "RGB"),
    ("lossless", b"VP8L", F_XMP, "RGB"),
    ("lossless-alpha", b"VP8L", F_XMP | F_ALPHA, "RGBA"),
])
def test_simple_file_is_converted_to_the_extended_layout(variant, first, flags, mode):
    src = make_webp(size=(123, 45), **VARIANTS[variant])
    assert fourccs(src) == [first]  # libwebp wrote the simple layout
    out = mark(src)
    assert fourccs(out) == [b"VP8X", first, b"XMP "]
    assert vp8x(out) == (flags, 123, 45)  # canvas from the bitstream's own dimensions
    assert riff_chunks(out)[0].data[1:4] == b"\x00\x00\x00"  # reserved bytes
    assert chunk(out, first).raw == chunk(src, first).raw
    (frame,) = decoded(out)
    assert frame[0] == mode and frame[1] == (123, 45)
    assert decoded(out) == decoded(src)


def test_animation_keeps_every_frame_timing_and_loop(exiftool):
    durations = [70, 140, 210, 280]
    src = make_webp("RGB", (64, 48), frames=4, durations=durations, loop=5)
    out = mark(src, produce_id="anim")
    assert_marked(out, src, exiftool, "anim")
    flags, _, _ = vp8x(out)
    assert flags & F_ANIM
    with Image.open(io.BytesIO(out)) as im:
        assert im.n_frames == 4 and im.is_animated
        assert im.info["loop"] == 5
    assert [f[3] for f in decoded(out)] == durations
    assert [c.raw for c in riff_chunks(out) if c.fourcc in (b"ANIM", b"ANMF")] == \
        [c.raw for c in riff_chunks(src) if c.fourcc in (b"ANIM", b"ANMF")]


def test_keeps_exif_and_icc_byte_for_byte(exiftool):
    icc = srgb_icc()
    exif = make_exif(make="Canon", model="EOS R5", software="Digital Photo Professional")
    src = make_webp(exif=exif, icc=icc)
    out = mark(src, produce_id="meta")
    tags = assert_marked(out, src, exiftool, "meta")
    assert fourccs(out) == [b"VP8X", b"ICCP", b"VP8 ", b"EXIF", b"XMP "]
    assert chunk(out, b"EXIF").raw == chunk(src, b"EXIF").raw and chunk(out, b"EXIF").data == exif
    assert chunk(out, b"ICCP").raw == chunk(src, b"ICCP").raw and chunk(out, b"ICCP").data == icc
    assert vp8x(out)[0] == vp8x(src)[0] | F_XMP == F_ICC | F_EXIF | F_XMP
    assert tags["IFD0:Make"] == "Canon" and tags["IFD0:Software"] == "Digital Photo Professional"
    assert tags["ICC_Profile:ProfileDescription"] == "sRGB built-in"


def test_merge_into_existing_xmp_keeps_other_properties(exiftool):
    src = make_webp(exif=make_exif(), xmp=xmp_packet())
    assert fourccs(src) == [b"VP8X", b"VP8 ", b"EXIF", b"XMP "]
    out = mark(src, produce_id="merged")
    tags = assert_marked(out, src, exiftool, "merged")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert tags["XMP-dc:Creator"] == ["Li Wei", "Sample Studio"]
    assert tags["XMP-xmp:CreatorTool"] == "Example Editor 2.1"
    assert fourccs(out) == fourccs(src)


def test_odd_sized_and_unknown_chunks_are_padded_and_kept_in_place(exiftool):
    src = make_webp(mode="RGBA")  # VP8X, ALPH, VP8
    chunks = riff_chunks(src)
    unknown = make_chunk(b"ZZZZ", b"odd")  # 3 bytes + pad; unknown chunks go at the end of the file
    odd_exif = make_exif(make="Odd")
    if len(odd_exif) % 2 == 0:
        odd_exif += b"\x00"
    data = riff([c.raw for c in chunks] + [make_chunk(b"EXIF", odd_exif), unknown])
    out = mark(data, produce_id="odd")
    assert fourccs(out) == [b"VP8X", b"ALPH", b"VP8 ", b"EXIF", b"XMP ", b"ZZZZ"]
    assert chunk(out, b"EXIF").pad == b"\x00" and chunk(out, b"ZZZZ").raw == unknown
    if len(chunk(out, b"XMP ").data) % 2:
        assert chunk(out, b"XMP ").pad == b"\x00"
    assert decoded(out) == decoded(src)
    assert tool_get(exiftool(out), "XMP-TC260:AIGC") == record_json("odd")


def test_missing_final_pad_byte_is_tolerated_and_restored():
    exif = make_exif(make="Odd")
    if len(exif) % 2 == 0:
        exif += b"\x00"
    data = riff([c.raw for c in riff_chunks(make_webp())] + [make_chunk(b"EXIF", exif)])
    data = data[:-1]  # drop the pad byte ...
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]  # ... and let the RIFF size say so
    assert aigclabel.inspect(data).info["width"] == 96
    out = mark(data)
    assert chunk(out, b"EXIF").data == exif and chunk(out, b"EXIF").pad == b"\x00"


def test_bytes_after_the_riff_form_are_kept():
    src = make_webp()
    out = mark(src + b"TRAILER!")
    assert out.endswith(b"TRAILER!")
    assert riff_chunks(out)[-1].fourcc == b"XMP "
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT


def test_remark_replaces_the_record(exiftool):
    first = mark(make_webp(exif=make_exif(), xmp=xmp_packet()), produce_id="first-id")
    second = mark(first, produce_id="second-id")
    (label,) = aigclabel.inspect(second).labels
    assert label.fields["ProduceID"] == "second-id" and label.normative
    assert fourccs(second) == fourccs(first)
    tags = exiftool(second)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("second-id")
    assert not tool_values_containing(tags, "first-id")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert decoded(second) == decoded(first)


def test_exif_record_is_blanked_in_place(exiftool):
    exif = make_exif(user_comment=user_comment(wrapped_json("old-id")))
    src = make_webp(exif=exif, icc=srgb_icc())
    (old,) = aigclabel.inspect(src).labels
    assert old.carrier == "exif:UserComment" and not old.normative and old.fields["ProduceID"] == "old-id"
    out = mark(src, produce_id="new-id")
    (label,) = aigclabel.inspect(out).labels
    assert label.carrier == "xmp:TC260:AIGC" and label.fields["ProduceID"] == "new-id"
    before, after = chunk(src, b"EXIF").data, chunk(out, b"EXIF").data
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed and before[min(changed) - 8:max(changed) + 1].find(b"AIGC") >= 0
    tags = exiftool(out)
    assert not tool_values_containing(tags, "old-id")
    assert tags["IFD0:Make"] == "ExampleCam"
    assert chunk(out, b"ICCP").raw == chunk(src, b"ICCP").raw


def test_exif_with_jpeg_identifier_prefix():
    exif = b"Exif\x00\x00" + make_exif(user_comment=user_comment(wrapped_json("pfx")))
    data = riff([make_chunk(b"VP8X", bytes([F_EXIF, 0, 0, 0]) + (95).to_bytes(3, "little")
                            + (63).to_bytes(3, "little"))]
                + [c.raw for c in riff_chunks(make_webp())] + [make_chunk(b"EXIF", exif)])
    (label,) = aigclabel.inspect(data).labels
    assert label.carrier == "exif:UserComment" and label.fields["ProduceID"] == "pfx"
    out = mark(data)
    assert chunk(out, b"EXIF").data.startswith(b"Exif\x00\x00") and len(chunk(out, b"EXIF").data) == len(exif)
    assert [lab.carrier for lab in aigclabel.inspect(out).labels] == ["xmp:TC260:AIGC"]


# --------------------------------------------------------------------------------------------- reading


@pytest.mark.parametrize("form", ["element", "attribute"])
def test_reads_xmp_record_in_both_forms(form):
    data = make_webp(xmp=xmp_packet(record=record_json("rv"), form=form))
    (label,) = aigclabel.inspect(data).labels
    assert label.carrier == "xmp:TC260:AIGC" and label.normative
    assert label.fields["ProduceID"] == "rv" and label.raw == record_json("rv")
    assert f"{form} form" in label.location
    assert aigclabel.verify(data, scope="implicit").verdict is Verdict.COMPLIANT


def test_xmp_chunk_without_the_vp8x_flag_is_not_normative():
    data = bytearray(make_webp(xmp=xmp_packet(record=record_json("rv"))))
    assert data[20] & F_XMP
    data[20] &= ~F_XMP & 0xFF  # the VP8X flags byte
    ins = aigclabel.inspect(bytes(data))
    (label,) = ins.labels
    assert not label.normative
    assert any(f.rule == "format.webp" and "flag" in f.message for f in ins.findings)
    report = aigclabel.verify(bytes(data), scope="implicit")
    assert {f.level for f in report.findings if f.rule == "implicit.carrier"} == {Level.WARNING}
    # marking sets the flag and keeps the one record
    out = mark(bytes(data), produce_id="fixed")
    assert vp8x(out)[0] & F_XMP
    assert [lab.fields["ProduceID"] for lab in aigclabel.inspect(out).labels] == ["fixed"]


def test_two_records_are_a_single_record_error():
    data = make_webp(exif=make_exif(user_comment=user_comment(wrapped_json("a"))),
                     xmp=xmp_packet(record=record_json("b")))
    report = aigclabel.verify(data, scope="implicit")
    assert len(report.labels) == 2
    assert {f.level for f in report.findings if f.rule == "implicit.single-record"} == {Level.ERROR}
    assert report.verdict is Verdict.NONCOMPLIANT


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_info_has_width_and_height(variant):
    info = aigclabel.inspect(make_webp(size=(77, 33), **VARIANTS[variant])).info
    assert (info["width"], info["height"]) == (77, 33)
    assert info["animated"] is (variant == "animated")
    assert info["alpha"] is ("alpha" in variant or variant == "animated")


def test_no_record_is_reported_missing():
    report = aigclabel.verify(make_webp(), scope="implicit")
    assert report.labels == []
    assert {f.level for f in report.findings if f.rule == "implicit.record-present"} == {Level.ERROR}


# --------------------------------------------------------------------------------------------- bad input


def _corrupt_cases() -> dict[str, bytes]:
    good = make_webp(exif=make_exif())
    chunks = riff_chunks(good)
    vp8 = next(c for c in chunks if c.fourcc == b"VP8 ")
    lying = bytearray(good)
    lying[4:8] = struct.pack("<I", len(good) + 100)
    past_end = bytearray(good)
    past_end[vp8.offset + 4:vp8.offset + 8] = struct.pack("<I", len(good))
    short_riff = bytearray(good)
    short_riff[4:8] = struct.pack("<I", vp8.offset - 8 + 3)  # the RIFF form ends inside a chunk header
    no_image = riff([chunks[0].raw, make_chunk(b"EXIF", make_exif())])
    bad_vp8 = riff([make_chunk(b"VP8 ", b"\x00" * 20)])
    return {
        "truncated-header": good[:10],
        "truncated-mid-chunk": good[:vp8.offset + 20],
        "truncated-before-exif": good[:chunks[-1].offset + 4],
        "riff-size-lying": bytes(lying),
        "chunk-size-past-end": bytes(past_end),
        "riff-ends-in-chunk-header": bytes(short_riff),
        "no-image-chunk": no_image,
        "vp8-without-start-code": bad_vp8,
        "not-a-chunk-name": good[:12] + b"\x00\x01\x02\x03" + good[16:],
    }


@pytest.mark.parametrize("case", list(_corrupt_cases()))
def test_corrupt_input_is_corrupt_file(case, tmp_path: Path):
    data = _corrupt_cases()[case]
    with pytest.raises(CorruptFile):
        aigclabel.verify(data, scope="implicit")
    with pytest.raises(CorruptFile):
        aigclabel.inspect(data)
    with pytest.raises(CorruptFile):
        mark(data)
    path = tmp_path / "bad.webp"
    path.write_bytes(data)
    with pytest.raises(CorruptFile):
        mark(path, tmp_path / "out.webp")
    assert not (tmp_path / "out.webp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.webp"]


def test_empty_input_is_an_input_error():
    # the registry refuses an empty file before any handler sees it
    with pytest.raises(InputError):
        aigclabel.verify(b"", scope="implicit")
    with pytest.raises(InputError):
        mark(b"")


_FUZZ_SEED = None


# --------------------------------------------------------------------------------------------- reading little


@pytest.fixture(scope="module")
def big_webp(tmp_path_factory) -> Path:
    """A 1600x1200 noisy lossy WebP with EXIF and ICC (about a megabyte)."""
    noise = Image.effect_noise((1600, 1200), 60)
    im = Image.merge("RGB", (noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                             noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    path = tmp_path_factory.mktemp("big") / "big.webp"
    path.write_bytes(make_webp(image=im, quality=90, exif=make_exif(), icc=srgb_icc()))
    return path


def test_verify_of_a_large_webp_reads_little(big_webp: Path, tmp_path: Path):
    size = big_webp.stat().st_size
    assert size > 500_000
    report = aigclabel.verify(big_webp, scope="implicit")
    assert report.bytes_read < 8 * 1024, report.bytes_read
    marked = tmp_path / "marked.webp"
    mark(big_webp, marked)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < 8 * 1024, report.bytes_read
    assert chunk(marked.read_bytes(), b"VP8 ").raw == chunk(big_webp.read_bytes(), b"VP8 ").raw
