"""Real-file tests of the GIF handler: mark with aigclabel, read back with independent readers.

Files are written by Pillow.  exiftool must see the record and the IPTC source type, Pillow must
decode the very same frames with the same timings and loop count, and the block walker below
(written independently of aigclabel, walking the XMP extension as plain sub-blocks the way any GIF
decoder does) must find every other block byte for byte and the trailer in place.
"""

from __future__ import annotations

import io
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
    picture,
    record_json,
    tool_get,
    tool_values_containing,
    wrapped_json,
    xmp_packet,
)

XMP_ID = b"XMP DataXMP"
MAGIC = bytes([1]) + bytes(range(255, -1, -1)) + b"\x00"  # XMP Part 3: 0x01, 0xFF..0x00, terminator


def mark(data, destination=None, *, produce_id: str = "gif-0001", **kw):
    return aigclabel.mark(data, destination, producer=PRODUCER, produce_id=produce_id, explicit=False,
                          **kw)


# --------------------------------------------------------------------------------------------- an independent block walker


@dataclass
class GifBlock:
    kind: str  # "ext" or "image"
    offset: int
    raw: bytes
    label: int = 0
    app_id: bytes = b""

    @property
    def is_xmp(self) -> bool:
        return self.kind == "ext" and self.label == 0xFF and self.app_id == XMP_ID

    @property
    def is_loop(self) -> bool:
        return self.kind == "ext" and self.label == 0xFF and self.app_id == b"NETSCAPE2.0"


def gif_blocks(data: bytes) -> tuple[int, list[GifBlock], int]:
    """(end of the header and global colour table, the blocks, offset of the 0x3B trailer)."""
    assert data[:6] in (b"GIF87a", b"GIF89a")
    packed = data[10]
    pos = 13 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    header_end, out = pos, []

    def skip(p: int) -> int:
        while data[p]:
            p += data[p] + 1
        return p + 1

    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x21:
            label = data[pos + 1]
            app_id = data[pos + 3:pos + 14] if label == 0xFF and data[pos + 2] == 11 else b""
            pos = skip(pos + 2)
            out.append(GifBlock("ext", start, data[start:pos], label, app_id))
        else:
            assert data[pos] == 0x2C, f"unexpected 0x{data[pos]:02X} at {pos}"
            p = data[pos + 9]
            pos = skip(pos + 10 + (3 * (2 << (p & 7)) if p & 0x80 else 0) + 1)
            out.append(GifBlock("image", start, data[start:pos]))
    return header_end, out, pos


def xmp_blocks(data: bytes) -> list[GifBlock]:
    return [b for b in gif_blocks(data)[1] if b.is_xmp]


def xmp_ext(packet: bytes) -> bytes:
    return b"\x21\xff\x0b" + XMP_ID + packet + MAGIC


def comment_ext(text: bytes) -> bytes:
    return b"\x21\xfe" + b"".join(bytes([len(text[i:i + 255])]) + text[i:i + 255]
                                  for i in range(0, len(text), 255)) + b"\x00"


def insert_blocks(data: bytes, blocks: list[bytes], *, at: str = "header") -> bytes:
    """Insert raw blocks after the header (and colour table), or just before the trailer."""
    header_end, _, trailer = gif_blocks(data)
    pos = header_end if at == "header" else trailer
    return data[:pos] + b"".join(blocks) + data[pos:]


# --------------------------------------------------------------------------------------------- factories and Pillow


def frames_for(size: tuple[int, int], n: int) -> list[Image.Image]:
    base = picture("RGB", size)
    ops = [None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180]
    out = []
    for i in range(n):
        im = base if ops[i % 4] is None else base.transpose(ops[i % 4])
        if i >= 4:
            im = im.point(lambda v, k=i: (v + 37 * k) % 256)
        out.append(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    return out


def make_gif(size: tuple[int, int] = (96, 64), *, frames: int = 1, durations: list[int] | None = None,
             loop: int | None = None, comment: bytes | None = None, images: list[Image.Image] | None = None,
             **kw) -> bytes:
    ims = images if images is not None else frames_for(size, frames)
    if len(ims) > 1:
        kw.update(save_all=True, append_images=ims[1:], duration=durations or [100] * len(ims))
    if loop is not None:
        kw["loop"] = loop
    if comment is not None:
        kw["comment"] = comment
    buf = io.BytesIO()
    ims[0].save(buf, "GIF", **kw)
    return buf.getvalue()


def decoded(data: bytes) -> list[tuple[tuple[int, int], bytes, object]]:
    """(size, RGBA pixels, duration) of every frame as Pillow decodes *data*."""
    out = []
    with Image.open(io.BytesIO(data)) as im:
        for i in range(im.n_frames):
            im.seek(i)
            im.load()
            out.append((im.size, im.convert("RGBA").tobytes(), im.info.get("duration")))
    return out


def assert_marked(out: bytes, src: bytes, exiftool, produce_id: str) -> dict:
    tags = exiftool(out)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json(produce_id)
    assert tool_get(tags, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert "ExifTool:Warning" not in tags and "ExifTool:Error" not in tags, tags
    assert tags["GIF:GIFVersion"] == "89a"
    assert decoded(out) == decoded(src)
    assert len(xmp_blocks(out)) == 1
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    (label,) = report.labels
    assert label.carrier == "xmp:TC260:AIGC" and label.normative and label.before_payload is True
    return tags


# --------------------------------------------------------------------------------------------- writing


def test_static_gif(exiftool):
    src = make_gif()
    assert src[:6] == b"GIF87a"  # Pillow writes 87a when it needs no extension
    out = mark(src, produce_id="static")
    assert_marked(out, src, exiftool, "static")
    assert out[:6] == b"GIF89a" and out[6:gif_blocks(out)[0]] == src[6:gif_blocks(src)[0]]
    header_end, blocks, trailer = gif_blocks(out)
    assert [b.kind for b in blocks] == ["ext", "image"] and blocks[0].is_xmp
    assert blocks[0].offset == header_end  # right after the global colour table
    assert blocks[1].raw == gif_blocks(src)[1][0].raw
    assert out[trailer:] == b"\x3b"


def test_xmp_extension_layout():
    out = mark(make_gif())
    (block,) = xmp_blocks(out)
    assert block.raw.startswith(b"\x21\xff\x0b" + XMP_ID)
    assert block.raw.endswith(MAGIC) and len(MAGIC) == 258
    packet = block.raw[14:-258]
    assert packet.startswith(b"<?xpacket begin=") and packet.rstrip().endswith(b'<?xpacket end="w"?>')
    assert b"\x00" not in packet


@pytest.mark.parametrize("loop", [0, 3])
def test_animated_gif_keeps_frames_timings_and_loop(loop, exiftool):
    durations = [70, 140, 210, 280]
    src = make_gif(frames=4, durations=durations, loop=loop, disposal=2, transparency=0)
    out = mark(src, produce_id=f"anim-{loop}")
    assert_marked(out, src, exiftool, f"anim-{loop}")
    with Image.open(io.BytesIO(out)) as im:
        assert im.n_frames == 4 and im.info["loop"] == loop
    assert [f[2] for f in decoded(out)] == durations
    _, before, _ = gif_blocks(src)
    _, after, _ = gif_blocks(out)
    # every block survives byte for byte and in order (graphic control extensions included)
    assert [b.raw for b in after if not b.is_xmp] == [b.raw for b in before]
    # the looping extension stays first, the XMP extension follows it
    assert after[0].is_loop and after[1].is_xmp
    assert sum(b.kind == "ext" and b.label == 0xF9 for b in after) == 4


def test_existing_comment_is_kept(exiftool):
    src = make_gif(frames=2, comment=b"drawn by hand, 2024")
    out = mark(src, produce_id="comment")
    tags = assert_marked(out, src, exiftool, "comment")
    assert tags["File:Comment"] == "drawn by hand, 2024"
    with Image.open(io.BytesIO(out)) as im:
        assert im.info["comment"] == b"drawn by hand, 2024"
    assert [b.raw for b in gif_blocks(out)[1] if b.label == 0xFE] == \
        [b.raw for b in gif_blocks(src)[1] if b.label == 0xFE]


def test_merge_into_existing_xmp_keeps_other_properties(exiftool):
    src = insert_blocks(make_gif(frames=2, loop=0), [xmp_ext(xmp_packet())])
    before = exiftool(src)  # the test's own extension is readable by exiftool
    assert before["XMP-dc:Title"] == "Harbour at dusk"
    out = mark(src, produce_id="merged")
    tags = assert_marked(out, src, exiftool, "merged")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert tags["XMP-dc:Creator"] == ["Li Wei", "Sample Studio"]
    assert tags["XMP-xmp:CreatorTool"] == "Example Editor 2.1"
    # rewritten where it was (right after the header, ahead of the looping extension here)
    assert gif_blocks(out)[1][0].is_xmp and gif_blocks(out)[1][1].is_loop


def test_xmp_after_the_images_is_reported_and_moved_into_the_header():
    src = insert_blocks(make_gif(frames=2), [xmp_ext(xmp_packet(record=record_json("late")))], at="end")
    (label,) = aigclabel.inspect(src).labels
    assert label.normative and label.before_payload is False
    report = aigclabel.verify(src, scope="implicit")
    placement = {f.level for f in report.findings if f.rule == "implicit.in-header"}
    assert placement and placement <= {Level.WARNING, Level.ERROR}  # the profile sets the level
    out = mark(src, produce_id="moved")
    _, blocks, _ = gif_blocks(out)
    (xmp_at,) = [i for i, b in enumerate(blocks) if b.is_xmp]
    assert xmp_at < min(i for i, b in enumerate(blocks) if b.kind == "image")
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT
    assert decoded(out) == decoded(src)


def test_remark_replaces_the_record(exiftool):
    first = mark(insert_blocks(make_gif(frames=2, loop=0), [xmp_ext(xmp_packet())]), produce_id="first-id")
    second = mark(first, produce_id="second-id")
    (label,) = aigclabel.inspect(second).labels
    assert label.fields["ProduceID"] == "second-id" and label.normative
    assert len(xmp_blocks(second)) == 1
    tags = exiftool(second)
    assert tool_get(tags, "XMP-TC260:AIGC") == record_json("second-id")
    assert not tool_values_containing(tags, "first-id")
    assert tags["XMP-dc:Title"] == "Harbour at dusk"
    assert [b.raw for b in gif_blocks(second)[1] if not b.is_xmp] == \
        [b.raw for b in gif_blocks(first)[1] if not b.is_xmp]


def test_comment_record_is_read_and_replaced(exiftool):
    src = insert_blocks(make_gif(frames=2, comment=b"keep me"), [comment_ext(wrapped_json("old-id").encode())])
    (old,) = aigclabel.inspect(src).labels
    assert old.carrier == "gif:comment" and not old.normative and old.form == "wrapped"
    assert old.fields["ProduceID"] == "old-id" and old.before_payload is True
    report = aigclabel.verify(src, scope="implicit")
    (carrier,) = [f for f in report.findings if f.rule == "implicit.carrier"]
    assert carrier.level is Level.WARNING and "xmp:TC260:AIGC" in carrier.message
    out = mark(src, produce_id="new-id")
    assert [lab.fields["ProduceID"] for lab in aigclabel.inspect(out).labels] == ["new-id"]
    comments = [b.raw for b in gif_blocks(out)[1] if b.label == 0xFE]
    assert comments == [comment_ext(b"keep me")]
    tags = exiftool(out)
    assert not tool_values_containing(tags, "old-id")
    assert tags["File:Comment"] == "keep me"


def test_comment_mentioning_aigc_is_not_a_record():
    src = make_gif(comment=b"My AIGC artwork, painted by hand")
    assert aigclabel.inspect(src).labels == []
    out = mark(src)
    assert [b.raw for b in gif_blocks(out)[1] if b.label == 0xFE] == \
        [b.raw for b in gif_blocks(src)[1] if b.label == 0xFE]


def test_xmp_in_sub_blocks_is_read_with_a_warning():
    packet = xmp_packet(record=record_json("sub"))
    ext = b"\x21\xff\x0b" + XMP_ID + comment_ext(packet)[2:]  # the packet in ordinary sub-blocks
    ins = aigclabel.inspect(insert_blocks(make_gif(), [ext]))
    (label,) = ins.labels
    assert label.fields["ProduceID"] == "sub" and not label.normative
    assert any(f.rule == "format.gif" and "magic trailer" in f.message for f in ins.findings)


def test_bytes_after_the_trailer_are_kept_and_not_walked():
    src = make_gif(frames=2) + b"\x21\xff\x05junk"  # garbage after 0x3B is nobody's block
    out = mark(src)
    assert out.endswith(b"\x3b\x21\xff\x05junk")
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT


def test_info_has_width_height_and_frames():
    info = aigclabel.inspect(make_gif((77, 33), frames=3)).info
    assert (info["width"], info["height"], info["frames"]) == (77, 33, 3)


# --------------------------------------------------------------------------------------------- bad input


def _corrupt_cases() -> dict[str, bytes]:
    good = make_gif(frames=2, loop=0, comment=b"c")
    header_end, blocks, trailer = gif_blocks(good)
    image = next(b for b in blocks if b.kind == "image")
    big_sub = bytearray(good)
    big_sub[image.offset + 11] = 255  # first LZW sub-block claims 255 bytes ...
    big_sub = bytes(big_sub[:image.offset + 11 + 100])  # ... and the file ends before them
    return {
        "signature-only": good[:6],
        "truncated-screen-descriptor": good[:10],
        "truncated-colour-table": good[:header_end - 5],
        "truncated-in-extension": good[:blocks[0].offset + 5],
        "truncated-in-image-descriptor": good[:image.offset + 4],
        "truncated-in-image-data": good[:image.offset + len(image.raw) // 2],
        "sub-block-past-end": big_sub,
        "no-trailer": good[:trailer],
        "bad-block-introducer": good[:trailer] + b"\x99" + good[trailer:],
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
    path = tmp_path / "bad.gif"
    path.write_bytes(data)
    with pytest.raises(CorruptFile):
        mark(path, tmp_path / "out.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.gif"]


def test_empty_input_is_an_input_error():
    with pytest.raises(InputError):
        aigclabel.verify(b"", scope="implicit")
    with pytest.raises(InputError):
        mark(b"")


_SEEDS: list[bytes] = []


# --------------------------------------------------------------------------------------------- reading little


@pytest.fixture(scope="module")
def big_gif(tmp_path_factory) -> Path:
    """An animated 640x480 GIF of noise, four frames with their own colour tables (about a megabyte)."""
    ims = []
    for i in range(4):
        noise = Image.effect_noise((640, 480), 60 + 10 * i)  # grey levels, used as palette indices
        im = Image.frombytes("P", noise.size, noise.tobytes())
        im.putpalette([(v * (i + 1) + c * 40) % 256 for v in range(256) for c in range(3)])
        ims.append(im)
    path = tmp_path_factory.mktemp("big") / "big.gif"
    path.write_bytes(make_gif(images=ims, loop=0, durations=[50, 60, 70, 80]))
    return path


def test_verify_of_a_large_gif_reads_little(big_gif: Path, tmp_path: Path):
    size = big_gif.stat().st_size
    assert size > 500_000
    report = aigclabel.verify(big_gif, scope="implicit")
    # the walk reads one length byte per sub-block of up to 255 bytes, never the LZW data
    assert report.bytes_read < size // 100, (report.bytes_read, size)
    marked = tmp_path / "marked.gif"
    mark(big_gif, marked)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < size // 100 + 4096, (report.bytes_read, size)
    before, after = big_gif.read_bytes(), marked.read_bytes()
    assert [b.raw for b in gif_blocks(after)[1] if not b.is_xmp] == [b.raw for b in gif_blocks(before)[1]]
