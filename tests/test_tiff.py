"""Real-file tests of the TIFF handler: mark with aigclabel, read back with independent readers.

TIFFs come from Pillow (RGB, grey 16-bit, palette, compressed, multi-page, BigTIFF, with EXIF and an
existing XMP packet); big-endian (MM) files are made by a small byte-order converter below, checked
by Pillow decoding them to the very pixels of the little-endian original.  After marking, exiftool
must read the record and the IPTC source type, Pillow must decode every page to identical pixels
with identical tags (bar 700), and the original bytes must still be the file's prefix: nothing
that an offset points at may move.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageSequence

import aigclabel
from aigclabel.errors import CorruptFile, UnsupportedFormat, UnsupportedOperation
from aigclabel.formats import detect
from aigclabel.report import Level, Verdict

from conftest import (
    DST_TRAINED,
    LEGACY_JSON,
    PRODUCER,
    make_exif,
    picture,
    record_json,
    tool_get,
    tool_values_containing,
    user_comment,
    wrapped_json,
    xmp_packet,
)


def mark(data, destination=None, *, produce_id: str = "tiff-0001", **kw):
    return aigclabel.mark(data, destination, producer=PRODUCER, produce_id=produce_id, explicit=False, **kw)


def make_tiff(mode: str = "RGB", size: tuple[int, int] = (96, 64), *, pages: list[Image.Image] | None = None,
              compression: str | None = None, exif: bytes | None = None, xmp: bytes | None = None,
              description: str | None = None, big: bool = False) -> bytes:
    """A TIFF written by Pillow; *pages* are appended as further IFDs."""
    im = picture(mode, size)
    kw: dict[str, Any] = {}
    if compression:
        kw["compression"] = compression
    if exif is not None and xmp is not None:  # Pillow takes one of tiffinfo / exif: put both in one
        both = Image.Exif()
        both.load(exif)
        both[700] = xmp
        kw["exif"] = both
    elif exif is not None:
        kw["exif"] = exif
    elif xmp is not None:
        kw["tiffinfo"] = {700: xmp}
    if description is not None:
        kw["description"] = description
    if big:
        kw["big_tiff"] = True
    if pages:
        kw.update(save_all=True, append_images=pages)
    buf = io.BytesIO()
    im.save(buf, "TIFF", **kw)
    return buf.getvalue()


def exiftool_write(data: bytes, *args: str) -> bytes:
    """*data* rewritten by exiftool (it can add EXIF where Pillow's libtiff path cannot)."""
    import tempfile

    exe = shutil.which("exiftool")
    if exe is None:
        pytest.skip("exiftool is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.tif"
        path.write_bytes(data)
        subprocess.run([exe, "-q", "-overwrite_original", *args, str(path)], check=True, timeout=60)
        return path.read_bytes()


def multipage(**kw) -> bytes:
    return make_tiff(pages=[picture("L", (40, 30)), picture("RGB", (20, 50)).rotate(90)], **kw)


# element size and elements per count, per TIFF type
_ELEM = {1: (1, 1), 2: (1, 1), 3: (2, 1), 4: (4, 1), 5: (4, 2), 6: (1, 1), 7: (1, 1), 8: (2, 1), 9: (4, 1),
         10: (4, 2), 11: (4, 1), 12: (8, 1), 13: (4, 1)}


def to_motorola(data: bytes) -> bytes:
    """The same classic TIFF in big-endian byte order (images with 8-bit samples only)."""
    assert data[:4] == b"II*\x00"
    out = bytearray(data)
    out[:4] = b"MM\x00*"

    def swap(at: int, size: int, n: int) -> None:
        for i in range(n):
            out[at + i * size:at + (i + 1) * size] = out[at + i * size:at + (i + 1) * size][::-1]

    def convert(offset: int) -> int:
        (n,) = struct.unpack_from("<H", data, offset)
        struct.pack_into(">H", out, offset, n)
        for i in range(n):
            pos = offset + 2 + 12 * i
            tag, typ, count = struct.unpack_from("<HHI", data, pos)
            struct.pack_into(">HHI", out, pos, tag, typ, count)
            size, per = _ELEM[typ]
            total = size * per * count
            if total <= 4:
                swap(pos + 8, size, per * count)
                value_at = pos + 8
            else:
                (value_at,) = struct.unpack_from("<I", data, pos + 8)
                struct.pack_into(">I", out, pos + 8, value_at)
                swap(value_at, size, per * count)
            if tag == 0x8769:
                convert(struct.unpack_from("<I", data, value_at)[0])
        (nxt,) = struct.unpack_from("<I", data, offset + 2 + 12 * n)
        struct.pack_into(">I", out, offset + 2 + 12 * n, nxt)
        return nxt

    (ifd,) = struct.unpack_from("<I", data, 4)
    struct.pack_into(">I", out, 4, ifd)
    while ifd:
        ifd = convert(ifd)
    return bytes(out)


def ifd_chain(data: bytes) -> list[tuple[int, dict[int, tuple[int, int, bytes]]]]:
    """Every page IFD: (offset, {tag: (type, count, 4-byte value field)}), walked here independently."""
    e = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(e + "I", data, 4)
    out = []
    while offset:
        (n,) = struct.unpack_from(e + "H", data, offset)
        entries = {}
        for i in range(n):
            tag, typ, count = struct.unpack_from(e + "HHI", data, offset + 2 + 12 * i)
            entries[tag] = (typ, count, data[offset + 10 + 12 * i:offset + 14 + 12 * i])
        out.append((offset, entries))
        (offset,) = struct.unpack_from(e + "I", data, offset + 2 + 12 * n)
    return out


def tag_700(data: bytes) -> tuple[int, bytes]:
    """(type, packet) of IFD0 tag 700."""
    e = "<" if data[:2] == b"II" else ">"
    typ, count, field = ifd_chain(data)[0][1][700]
    (at,) = struct.unpack(e + "I", field)
    return typ, data[at:at + count]


def pages(data: bytes) -> list[tuple[str, tuple[int, int], bytes, dict]]:
    """Every page as Pillow decodes it: (mode, size, pixels, tags without 700)."""
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for frame in ImageSequence.Iterator(im):
            frame.load()
            tags = {k: v for k, v in frame.tag_v2.items() if k != 700}
            out.append((frame.mode, frame.size, frame.tobytes(), tags))
    return out


@pytest.fixture(scope="module")
def tool(tmp_path_factory):
    """exiftool on several TIFFs at once (one process): a list of tag dicts."""
    exe = shutil.which("exiftool")
    if exe is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    scratch = tmp_path_factory.mktemp("tiff-exiftool")
    counter = iter(range(1_000_000))

    def run(*files: bytes, args: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        paths = []
        for data in files:
            path = scratch / f"f{next(counter)}.tif"
            path.write_bytes(data)
            paths.append(str(path))
        proc = subprocess.run([exe, "-j", "-G1", "-a", "-struct", "-b", *args, *paths],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


# --------------------------------------------------------------------------------------------- writing

VARIANTS = {
    "rgb": lambda: make_tiff(),
    "rgb-deflate": lambda: make_tiff(compression="tiff_deflate"),
    "rgb-lzw-exif-by-exiftool": lambda: exiftool_write(make_tiff(compression="tiff_lzw"), "-Make=ExampleCam",
                                                       "-ExifIFD:DateTimeOriginal=2025:01:02 03:04:05"),
    "gray-16-bit": lambda: make_tiff("I;16"),
    "palette-packbits": lambda: make_tiff("P", compression="packbits"),
    "multipage": lambda: multipage(),
    "motorola": lambda: to_motorola(make_tiff(exif=make_exif(make="ExampleCam"))),
    "motorola-multipage": lambda: to_motorola(multipage(compression="tiff_deflate")),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_mark_is_read_by_exiftool_and_every_page_is_unchanged(name, tool):
    src = VARIANTS[name]()
    if name.startswith("motorola"):
        assert src[:2] == b"MM"
        assert [p[:3] for p in pages(src)] == [p[:3] for p in pages(to_motorola_source(name))]
    out = mark(src, produce_id=f"v-{name}")
    expected = record_json(f"v-{name}")

    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    (label,) = report.labels
    assert label.carrier == "xmp:TC260:AIGC" and label.normative

    # Every page decodes to the same pixels with the same tags; IFD0 gains tag 700 only.
    assert pages(out) == pages(src)
    with Image.open(io.BytesIO(out)) as im:
        assert expected.encode() in im.tag_v2[700] or expected.encode() in im.info["xmp"]
    # Nothing the file's offsets point at moved: the original bytes are the prefix, bar the header's
    # first-IFD offset, which now points at the appended IFD0.
    assert out[:4] == src[:4] and out[8:len(src)] == src[8:]
    chain_before, chain_after = ifd_chain(src), ifd_chain(out)
    assert chain_after[0][0] >= len(src)
    assert {k: v for k, v in chain_after[0][1].items() if k != 700} == chain_before[0][1]
    assert chain_after[1:] == chain_before[1:]
    typ, packet = tag_700(out)
    assert typ == 1 and packet.startswith(b"<?xpacket begin=")

    before, after = tool(src, out, args=("-all", "-validate"))
    assert tool_get(after, "XMP-TC260:AIGC") == expected
    assert tool_get(after, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert after["ExifTool:Validate"] == before["ExifTool:Validate"]
    skip = ("SourceFile", "System:", "ExifTool:", "XMP-", "File:")
    lost = {k: v for k, v in before.items() if not k.startswith(skip) and after.get(k) != v}
    assert not lost, lost


def to_motorola_source(name: str) -> bytes:
    """The little-endian file a motorola variant was converted from (for the converter's own check)."""
    return make_tiff(exif=make_exif(make="ExampleCam")) if name == "motorola" else multipage(compression="tiff_deflate")


def test_existing_xmp_is_merged_and_its_entry_patched_in_place(tool):
    src = make_tiff(xmp=xmp_packet(), exif=make_exif(make="ExampleCam"))
    out = mark(src, produce_id="merged-1")
    (tags,) = tool(out)
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert tags["XMP-dc:Creator"] == ["Li Wei", "Sample Studio"]
    assert tags["XMP-xmp:CreatorTool"] == "Example Editor 2.1"
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("merged-1")
    assert tags["IFD0:Make"] == "ExampleCam"
    # IFD0 stays where it was: only its 700 entry changed, pointing past the old end of the file.
    (off_before, ifd_before), (off_after, ifd_after) = ifd_chain(src)[0], ifd_chain(out)[0]
    assert off_before == off_after and out[:8] == src[:8]
    assert {k: v for k, v in ifd_after.items() if k != 700} == {k: v for k, v in ifd_before.items() if k != 700}
    assert struct.unpack("<I", ifd_after[700][2])[0] >= len(src)
    # The old packet is zeroed, same length: no second copy of anything stays readable.
    old_at = struct.unpack("<I", ifd_before[700][2])[0]
    old_len = ifd_before[700][1]
    assert set(out[old_at:old_at + old_len]) == {0}
    assert out.count(b"Harbour at dusk") == 1
    assert pages(out) == pages(src)


def test_remark_replaces_the_record_in_place(tool):
    first = mark(multipage(exif=make_exif()), produce_id="first-id")
    second = mark(first, produce_id="later-id")
    assert len(second) == len(first)  # the old packet was the file's tail: written over
    assert ifd_chain(second)[0][0] == ifd_chain(first)[0][0]
    (label,) = aigclabel.inspect(second).labels
    assert label.fields["ProduceID"] == "later-id"
    assert b"first-id" not in second
    (tags,) = tool(second)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("later-id")
    assert not tool_values_containing(tags, "first-id")
    assert pages(second) == pages(first)
    third = mark(second, produce_id="a-much-longer-produce-id")
    assert aigclabel.inspect(third).labels[0].fields["ProduceID"] == "a-much-longer-produce-id"
    assert pages(third) == pages(first)


def test_undefined_type_xmp_is_read_and_kept(tool):
    data = bytearray(make_tiff(xmp=xmp_packet(record=record_json("undef"))))
    off, entries = ifd_chain(bytes(data))[0]
    index = sorted(entries).index(700)
    struct.pack_into("<H", data, off + 2 + 12 * index + 2, 7)  # BYTE -> UNDEFINED
    data = bytes(data)
    (label,) = aigclabel.inspect(data).labels
    assert label.fields["ProduceID"] == "undef" and label.normative
    out = mark(data, produce_id="undef-2")
    assert tag_700(out)[0] == 7
    (tags,) = tool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("undef-2")


# --------------------------------------------------------------------------------------------- reading

def _uc(text: str, code: str = "ASCII") -> bytes:
    return make_exif(user_comment=user_comment(text, code))


READ_VARIANTS = {
    "xmp-element": (lambda: make_tiff(xmp=xmp_packet(record=record_json("rv"))), "xmp:TC260:AIGC", True),
    "xmp-attribute": (lambda: make_tiff(xmp=xmp_packet(record=record_json("rv"), form="attribute")),
                      "xmp:TC260:AIGC", True),
    "xmp-motorola": (lambda: to_motorola(make_tiff(xmp=xmp_packet(record=record_json("rv")))), "xmp:TC260:AIGC", True),
    "usercomment-ascii": (lambda: make_tiff(exif=_uc(wrapped_json("rv"))), "exif:UserComment", False),
    "usercomment-unicode": (lambda: make_tiff(exif=_uc(wrapped_json("rv"), "UNICODE")), "exif:UserComment", False),
    "usercomment-motorola": (lambda: to_motorola(make_tiff(exif=_uc(wrapped_json("rv")))), "exif:UserComment", False),
    "imagedescription": (lambda: make_tiff(description=record_json("rv")), "exif:ImageDescription", False),
    "xpcomment": (lambda: make_tiff(exif=make_exif(xp_comment=wrapped_json("rv"))), "exif:XPComment", False),
    "bigtiff-xmp": (lambda: make_tiff(big=True, xmp=xmp_packet(record=record_json("rv"))), "xmp:TC260:AIGC", True),
}


@pytest.mark.parametrize("name", READ_VARIANTS)
def test_reads_every_carrier_variant(name):
    factory, carrier, normative = READ_VARIANTS[name]
    data = factory()
    (label,) = aigclabel.inspect(data).labels
    assert label.carrier == carrier
    assert label.normative is normative
    assert label.fields is not None and label.fields["ProduceID"] == "rv"
    assert label.fields["ContentProducer"] == PRODUCER
    report = aigclabel.verify(data, scope="implicit")
    (placement,) = [f for f in report.findings if f.rule == "implicit.carrier"]
    if normative:
        assert placement.level is Level.PASS and report.verdict is Verdict.COMPLIANT
    else:  # readers accept the variant: a placement finding that names the normative carrier
        assert placement.level is not Level.PASS and placement.actual == carrier
        assert "xmp:TC260:AIGC" in placement.message


def test_legacy_record_in_usercomment():
    (label,) = aigclabel.inspect(make_tiff(exif=_uc('{"AIGC":' + LEGACY_JSON + "}"))).labels
    assert label.form == "legacy-2023"


CLEAN_VARIANTS = ["usercomment-ascii", "usercomment-unicode", "usercomment-motorola", "imagedescription", "xpcomment"]


@pytest.mark.parametrize("name", CLEAN_VARIANTS)
def test_marking_blanks_old_records_in_place(name, tool):
    src = READ_VARIANTS[name][0]()
    out = mark(src, produce_id="new-id")
    (label,) = aigclabel.inspect(out).labels
    assert label.carrier == "xmp:TC260:AIGC" and label.fields["ProduceID"] == "new-id"
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT
    # only the bytes of the one old value (and the header's IFD0 offset) changed; nothing moved
    changed = [i for i, (a, b) in enumerate(zip(src, out)) if a != b and not 4 <= i < 8]
    assert changed and max(changed) - min(changed) < 8 + 2 * len(wrapped_json("rv")) + 4
    assert set(out[min(changed) + 8:max(changed) + 1]) <= {0}
    (tags,) = tool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("new-id")
    assert not tool_values_containing(tags, '"ProduceID":"rv"')
    blanked = {0x010E, 0x9C9C}  # the IFD0 text tags that held the record now hold NULs
    assert [(*p[:3], {k: v for k, v in p[3].items() if k not in blanked}) for p in pages(out)] == \
        [(*p[:3], {k: v for k, v in p[3].items() if k not in blanked}) for p in pages(src)]


def test_prose_mentioning_aigc_is_neither_read_nor_blanked():
    src = make_tiff(description="My AIGC artwork, painted by hand")
    assert aigclabel.inspect(src).labels == []
    out = mark(src)
    with Image.open(io.BytesIO(out)) as im:
        assert im.tag_v2[0x010E] == "My AIGC artwork, painted by hand"


def test_info_and_detection():
    data = multipage()
    info = aigclabel.inspect(data).info
    assert (info["width"], info["height"], info["pages"]) == (96, 64, 3)
    assert detect(data[:64]).name == "tiff"
    assert detect(to_motorola(data)[:64]).name == "tiff"
    big = make_tiff(big=True)
    assert detect(big[:64]).name == "tiff" and aigclabel.inspect(big).info["bigtiff"] is True


def test_bigtiff_is_not_written():
    with pytest.raises(UnsupportedOperation, match="BigTIFF"):
        mark(make_tiff(big=True))


@pytest.fixture(scope="module")
def big_tiff(tmp_path_factory) -> Path:
    """A 3000x2000 uncompressed RGB TIFF (18 MB) with EXIF, plus a second page."""
    path = tmp_path_factory.mktemp("big") / "big.tif"
    im = Image.effect_noise((3000, 2000), 50).convert("RGB")
    im.save(path, "TIFF", exif=make_exif(), save_all=True, append_images=[picture()])
    return path


def test_verify_reads_little_of_a_large_tiff(big_tiff: Path, tmp_path: Path):
    size = big_tiff.stat().st_size
    assert size > 15_000_000
    report = aigclabel.verify(big_tiff, scope="implicit")
    assert report.bytes_read < 16 * 1024, report.bytes_read
    marked = tmp_path / "marked.tif"
    mark(big_tiff, marked)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < 16 * 1024, report.bytes_read
    with open(big_tiff, "rb") as a, open(marked, "rb") as b:
        a.seek(8)
        b.seek(8)
        assert a.read() == b.read(size - 8)  # the original is the prefix (header offset aside)


# --------------------------------------------------------------------------------------------- bad input


def _corrupt(name: str) -> bytes:
    good = multipage(exif=make_exif(), xmp=xmp_packet(record=record_json("c")))
    (ifd0, e0), (ifd1, e1), _ = ifd_chain(good)
    n0, n1 = len(e0), len(e1)
    bad = bytearray(good)

    def field(ifd: int, entries: dict, tag: int) -> int:
        return ifd + 2 + 12 * sorted(entries).index(tag) + 8

    if name == "empty":
        return b""
    if name == "header-only":
        return good[:8]
    if name == "cut-in-ifd0":
        return good[:ifd0 + 20]
    if name == "cut-in-last-page-strips":
        return good[:-7]
    if name == "ifd0-offset-past-end":
        struct.pack_into("<I", bad, 4, len(good) + 100)
    elif name == "next-ifd-past-end":
        struct.pack_into("<I", bad, ifd0 + 2 + 12 * n0, len(good) + 4)
    elif name == "ifd-loop-self":
        struct.pack_into("<I", bad, ifd1 + 2 + 12 * n1, ifd1)
    elif name == "ifd-loop-back-to-ifd0":
        struct.pack_into("<I", bad, ifd1 + 2 + 12 * n1, ifd0)
    elif name == "absurd-entry-count":
        struct.pack_into("<H", bad, ifd0, 0xFFFF)
    elif name == "strip-offset-past-end":
        struct.pack_into("<I", bad, field(ifd1, e1, 273), len(good) + 1)
    elif name == "xmp-offset-past-end":
        struct.pack_into("<I", bad, field(ifd0, e0, 700), len(good) - 10)
    elif name == "zero-ifd-offset":
        struct.pack_into("<I", bad, 4, 0)
    else:
        raise ValueError(name)
    return bytes(bad)


BAD = ["empty", "header-only", "cut-in-ifd0", "cut-in-last-page-strips", "ifd0-offset-past-end", "next-ifd-past-end",
       "ifd-loop-self", "ifd-loop-back-to-ifd0", "absurd-entry-count", "strip-offset-past-end", "xmp-offset-past-end",
       "zero-ifd-offset"]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_corrupt_file(name):
    data = _corrupt(name)
    expected = (CorruptFile, UnsupportedFormat) if name == "empty" else CorruptFile
    with pytest.raises(expected):
        aigclabel.verify(data, scope="implicit")
    with pytest.raises(expected):
        mark(data)


