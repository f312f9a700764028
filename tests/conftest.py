"""Shared fixtures and factories for the real-file tests.

Every test file here is made from code with Pillow (or, where Pillow cannot write the variant, with
the small writers below), then checked with independent readers: exiftool for metadata, Pillow for
pixels, and our own byte-level walkers for segment/chunk layout and CRCs.  Nothing is mocked.
"""

from __future__ import annotations

import gc
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

from aigclabel.label import AigcRecord

# The project runs pytest with --import-mode=importlib, which loads this file under a package-qualified
# name and keeps tests/ off sys.path.  The test modules import the factories below with
# ``from conftest import ...``; make that name resolve to this very module (never a second copy).
sys.modules.setdefault("conftest", sys.modules[__name__])

PRODUCER = "001191110102MACQD9K64010000"
DST_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
LEGACY_JSON = '{"ServiceProvider":"ExampleAI","Time":"2024-05-01 12:00:00.000","ContentID":"legacy-0001"}'
XMP_APP1_ID = b"http://ns.adobe.com/xap/1.0/\x00"
EXIF_APP1_ID = b"Exif\x00\x00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"


def record_json(produce_id: str = "test-0001", *, producer: str = PRODUCER, label: str = "1") -> str:
    """An Annex E record as aigclabel writes it (compact, keys in order)."""
    return AigcRecord(label=label, content_producer=producer, produce_id=produce_id).to_json()


def wrapped_json(produce_id: str = "test-0001") -> str:
    """The ``{"AIGC":{...}}`` form used by the EXIF and PNG-text carriers."""
    return '{"AIGC":' + record_json(produce_id) + "}"


# ------------------------------------------------------------------------- timing against a peer

# Timing a probe's read against a peer reader of the same file, robust to a noisy machine: a single CPU-time
# measurement on a shared 2-core VM varied 1.45-2.73 s for the same call in one process (session 2026-12-07),
# and a peer run once outside the pytest process does not share its heap, so a bound judged on one run of each
# failed at 2.9x where the usual ratio is 1.2-1.5x.  Noise only ever adds time, so the fastest of a few
# interleaved runs of each side is the estimate least disturbed by it.


def cpu_seconds(call: Callable[[], Any]) -> tuple[float, Any]:
    """(CPU seconds of this process spent in *call*, its result), after a collection so a full
    collection of the test session's heap is not charged to it."""
    gc.collect()
    started = time.process_time()
    result = call()
    return time.process_time() - started, result


def child_cpu_seconds(argv: list[str]) -> float:
    """CPU seconds (user + system) a child process running *argv* spent: how a peer tool is timed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def fastest_interleaved(ours: Callable[[], Any], peer: Callable[[], float], runs: int = 3) -> tuple[float, float, Any]:
    """(fastest CPU seconds of *ours*, fastest seconds *peer* reports, the last result of *ours*), from *runs*
    alternating runs of each.  *peer* measures itself (it may run in another process) and returns seconds."""
    mine: list[float] = []
    theirs: list[float] = []
    result: Any = None
    for _ in range(runs):
        theirs.append(peer())
        spent, result = cpu_seconds(ours)
        mine.append(spent)
    return min(mine), min(theirs), result


# ----------------------------------------------------------------------------------------- pictures


def picture(mode: str = "RGB", size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A deterministic picture with gradients and edges (so JPEG and PNG filters have work to do)."""
    w, h = size
    base = Image.new("RGB", size)
    px = base.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), ((x ^ y) * 7) & 0xFF)
    draw = ImageDraw.Draw(base)
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), outline=(255, 255, 255), width=2)
    if mode == "RGB":
        return base
    if mode == "RGBA":
        alpha = Image.linear_gradient("L").resize(size)
        im = base.copy()
        im.putalpha(alpha)
        return im
    if mode == "P":
        return base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    if mode == "I;16":
        gray = Image.new("I;16", size)
        gp = gray.load()
        for y in range(h):
            for x in range(w):
                gp[x, y] = (x * 1021 + y * 517) & 0xFFFF
        return gray
    return base.convert(mode)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ----------------------------------------------------------------------------------------- EXIF


def make_exif(*, make: str | None = "ExampleCam", model: str | None = "Model X",
              software: str | None = "ExampleCam firmware 1.0", description: str | None = None,
              user_comment: bytes | None = None, xp_comment: str | None = None,
              endian: str = "<") -> bytes:
    """A TIFF-structured EXIF block built by hand (so byte order and tag types are under our control).

    IFD0 holds the text tags and an Exif IFD pointer; the Exif IFD holds UserComment when given.
    *user_comment* is the full value including its 8-byte character-code prefix.
    """
    e = endian
    ifd0: list[tuple[int, int, bytes]] = []  # (tag, type, value bytes)

    def ascii_value(text: str) -> bytes:
        return text.encode("utf-8") + b"\x00"

    if description is not None:
        ifd0.append((0x010E, 2, ascii_value(description)))
    if make is not None:
        ifd0.append((0x010F, 2, ascii_value(make)))
    if model is not None:
        ifd0.append((0x0110, 2, ascii_value(model)))
    if software is not None:
        ifd0.append((0x0131, 2, ascii_value(software)))
    if xp_comment is not None:
        ifd0.append((0x9C9C, 1, xp_comment.encode("utf-16-le") + b"\x00\x00"))
    exif_ifd: list[tuple[int, int, bytes]] = []
    if user_comment is not None:
        exif_ifd.append((0x9286, 7, user_comment))
    exif_ifd.append((0x9000, 7, b"0232"))  # ExifVersion, so the sub-IFD is never empty
    ifd0.append((0x8769, 4, b"\x00\x00\x00\x00"))  # patched below
    ifd0.sort()
    exif_ifd.sort()

    def ifd_size(entries: list) -> int:
        return 2 + 12 * len(entries) + 4

    def layout(entries: list, start: int, next_ifd: int, patch: dict[int, int]) -> tuple[bytes, bytes]:
        data_start = start + ifd_size(entries)
        head = struct.pack(e + "H", len(entries))
        extra = b""
        for tag, typ, value in entries:
            if tag in patch:
                value = struct.pack(e + "I", patch[tag])
            count = len(value) // {1: 1, 2: 1, 3: 2, 4: 4, 7: 1}[typ]
            if len(value) <= 4:
                head += struct.pack(e + "HHI", tag, typ, count) + value.ljust(4, b"\x00")
            else:
                off = data_start + len(extra)
                head += struct.pack(e + "HHII", tag, typ, count, off)
                extra += value + (b"\x00" if len(value) % 2 else b"")
        head += struct.pack(e + "I", next_ifd)
        return head, extra

    # First pass to learn the size of IFD0 with its data, then place the Exif IFD after it.
    head0, extra0 = layout(ifd0, 8, 0, {0x8769: 0})
    exif_offset = 8 + len(head0) + len(extra0)
    head0, extra0 = layout(ifd0, 8, 0, {0x8769: exif_offset})
    head1, extra1 = layout(exif_ifd, exif_offset, 0, {})
    tiff_head = (b"II*\x00" if e == "<" else b"MM\x00*") + struct.pack(e + "I", 8)
    return tiff_head + head0 + extra0 + head1 + extra1


def user_comment(text: str, code: str = "ASCII", endian: str = "<", bom: bool = False) -> bytes:
    if code == "ASCII":
        return b"ASCII\x00\x00\x00" + text.encode("ascii")
    if code == "UNICODE":
        enc = "utf-16-le" if endian == "<" else "utf-16-be"
        body = text.encode(enc)
        if bom:
            body = ("\ufeff".encode(enc)) + body
        return b"UNICODE\x00" + body
    raise ValueError(code)


def assert_only_record_blanked(before: bytes, after: bytes, record_text: str | None) -> None:
    """*after* is *before* with at most the one EXIF value holding *record_text* erased in place.

    The value is located independently (ASCII, UTF-16 either way round); every changed byte must lie
    in it or in the 8-byte UserComment code just before it, and the value must now be all NULs.
    """
    assert len(after) == len(before), "the EXIF block changed length"
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    if record_text is None:
        assert not changed, "an EXIF block without a record was altered"
        return
    for enc in ("ascii", "utf-16-le", "utf-16-be"):
        start = before.find(record_text.encode(enc))
        if start >= 0:
            end = start + len(record_text.encode(enc))
            if enc != "ascii" and before[start - 2:start] in (b"\xff\xfe", b"\xfe\xff"):
                start -= 2  # a byte-order mark belongs to the value too
            break
    else:
        raise AssertionError("record text not found in the EXIF block")
    assert changed, "the old record was not blanked"
    # UserComment: the 8-byte character code may be rewritten too; nothing outside the value is
    assert start - 8 <= min(changed) and max(changed) < end, (start, end, changed[:3], changed[-3:])
    assert set(after[start:end]) == {0}


# ----------------------------------------------------------------------------------------- XMP

XMP_DC = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""\n'
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"{ns}\n'
    '    xmp:CreatorTool="Example Editor 2.1"{attrs}>\n'
    '   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour at dusk</rdf:li></rdf:Alt></dc:title>\n'
    '   <dc:creator><rdf:Seq><rdf:li>Li Wei</rdf:li><rdf:li>Sample Studio</rdf:li></rdf:Seq></dc:creator>\n'
    '{elements}'
    '  </rdf:Description>\n'
    ' </rdf:RDF>\n'
    '</x:xmpmeta>\n'
    '<?xpacket end="w"?>'
)


def xmp_packet(*, record: str | None = None, form: str = "element", extra_ns: str = "",
               extra_attrs: str = "", extra_elements: str = "") -> bytes:
    """An XMP packet with dc:title, dc:creator and xmp:CreatorTool, optionally holding a TC260:AIGC record."""
    ns, attrs, elements = extra_ns, extra_attrs, extra_elements
    if record is not None:
        ns += f'\n    xmlns:TC260="{TC260_NS}"'
        escaped = record.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if form == "attribute":
            attrs += '\n    TC260:AIGC="' + escaped.replace('"', "&quot;") + '"'
        else:
            elements += f"   <TC260:AIGC>{escaped}</TC260:AIGC>\n"
    return XMP_DC.format(ns=ns, attrs=attrs, elements=elements).encode("utf-8")


# ----------------------------------------------------------------------------------------- JPEG


@dataclass
class Segment:
    marker: int
    offset: int
    payload: bytes

    @property
    def raw(self) -> bytes:
        return b"\xff" + bytes([self.marker]) + struct.pack(">H", len(self.payload) + 2) + self.payload

    @property
    def is_xmp(self) -> bool:
        return self.marker == 0xE1 and self.payload.startswith(XMP_APP1_ID)

    @property
    def is_exif(self) -> bool:
        return self.marker == 0xE1 and self.payload.startswith(EXIF_APP1_ID)


def jpeg_segments(data: bytes) -> tuple[list[Segment], int]:
    """The header segments (SOI excluded) and the offset of the first SOS marker."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    pos, out = 2, []
    while True:
        assert data[pos] == 0xFF, f"no marker at {pos}"
        marker = data[pos + 1]
        if marker == 0xDA:
            return out, pos
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        out.append(Segment(marker, pos, data[pos + 4:pos + 2 + length]))
        pos += 2 + length


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_insert(data: bytes, segments: Iterable[bytes], *, index: int | None = None) -> bytes:
    """Insert raw segments at header position *index* (default: after the last APPn/COM segment)."""
    segs, _sos = jpeg_segments(data)
    if index is None:
        index = 0
        for i, seg in enumerate(segs):
            if 0xE0 <= seg.marker <= 0xEF or seg.marker == 0xFE:
                index = i + 1
    at = segs[index].offset if index < len(segs) else _sos
    return data[:at] + b"".join(segments) + data[at:]


def make_jpeg(mode: str = "RGB", size: tuple[int, int] = (96, 64), *, progressive: bool = False,
              quality: int = 90, exif: bytes | None = None, icc: bytes | None = None,
              comment: bytes | None = None, xmp: bytes | None = None,
              extra_segments: Iterable[bytes] = (), image: Image.Image | None = None) -> bytes:
    """A JPEG written by Pillow; XMP and extra raw segments are spliced in after the APPn run."""
    im = image if image is not None else picture(mode, size)
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": quality, "progressive": progressive}
    if exif is not None:
        # Pillow writes the APP1 payload as given: it must carry the "Exif\0\0" identifier.
        kwargs["exif"] = exif if exif.startswith(EXIF_APP1_ID) else EXIF_APP1_ID + exif
    if icc is not None:
        kwargs["icc_profile"] = icc
    if comment is not None:
        kwargs["comment"] = comment
    im.save(buf, "JPEG", **kwargs)
    data = buf.getvalue()
    extra = list(extra_segments)
    if xmp is not None:
        extra.insert(0, jpeg_segment(0xE1, XMP_APP1_ID + xmp))
    if extra:
        data = jpeg_insert(data, extra)
    return data


# ----------------------------------------------------------------------------------------- PNG


@dataclass
class Chunk:
    type: bytes
    offset: int
    data: bytes
    crc: int

    @property
    def crc_ok(self) -> bool:
        return zlib.crc32(self.type + self.data) == self.crc

    @property
    def raw(self) -> bytes:
        return struct.pack(">I", len(self.data)) + self.type + self.data + struct.pack(">I", self.crc)

    def text(self) -> tuple[str, str]:
        """(keyword, text) of a tEXt/zTXt/iTXt chunk, decoded independently of aigclabel."""
        key, _, rest = self.data.partition(b"\x00")
        if self.type == b"tEXt":
            return key.decode("latin-1"), rest.decode("latin-1")
        if self.type == b"zTXt":
            return key.decode("latin-1"), zlib.decompress(rest[1:]).decode("latin-1")
        assert self.type == b"iTXt"
        flag, rest = rest[0], rest[2:]
        _lang, _, rest = rest.partition(b"\x00")
        _tkey, _, text = rest.partition(b"\x00")
        return key.decode("latin-1"), (zlib.decompress(text) if flag else text).decode("utf-8")


def png_chunks(data: bytes) -> list[Chunk]:
    """Every chunk up to and including IEND (trailing bytes are not chunks)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    pos, out = 8, []
    while pos + 12 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        out.append(Chunk(ctype, pos, body, crc))
        pos += 12 + length
        if ctype == b"IEND":
            break
    return out


def png_end(data: bytes) -> int:
    """Offset just past IEND."""
    last = png_chunks(data)[-1]
    return last.offset + 12 + len(last.data)


def png_chunk(ctype: bytes, data: bytes, *, crc: int | None = None) -> bytes:
    return (struct.pack(">I", len(data)) + ctype + data
            + struct.pack(">I", zlib.crc32(ctype + data) if crc is None else crc))


def text_chunk(keyword: str, text: str, kind: str = "tEXt") -> bytes:
    key = keyword.encode("latin-1")
    if kind == "tEXt":
        return png_chunk(b"tEXt", key + b"\x00" + text.encode("latin-1"))
    if kind == "zTXt":
        return png_chunk(b"zTXt", key + b"\x00\x00" + zlib.compress(text.encode("latin-1")))
    if kind == "iTXt":
        return png_chunk(b"iTXt", key + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))
    raise ValueError(kind)


def png_insert(data: bytes, chunks: Iterable[bytes], *, before: bytes = b"IDAT", after_idat: bool = False) -> bytes:
    """Insert raw chunks before the first chunk of type *before*, or just after the last IDAT."""
    parsed = png_chunks(data)
    if after_idat:
        last = [c for c in parsed if c.type == b"IDAT"][-1]
        at = last.offset + 12 + len(last.data)
    else:
        at = next(c.offset for c in parsed if c.type == before)
    return data[:at] + b"".join(chunks) + data[at:]


def make_png(mode: str = "RGB", size: tuple[int, int] = (96, 64), *, exif: bytes | None = None,
             icc: bytes | None = None, text: Iterable[tuple[str, str]] = (),
             ztext: Iterable[tuple[str, str]] = (), itext: Iterable[tuple[str, str]] = (),
             xmp: bytes | None = None, image: Image.Image | None = None, compress_level: int = 6) -> bytes:
    """A PNG written by Pillow, with text chunks, XMP (iTXt), eXIf and iCCP as asked."""
    im = image if image is not None else picture(mode, size)
    info = PngImagePlugin.PngInfo()
    for k, v in text:
        info.add_text(k, v)
    for k, v in ztext:
        info.add_text(k, v, zip=True)
    for k, v in itext:
        info.add_itxt(k, v)
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
    kwargs: dict[str, Any] = {"pnginfo": info, "compress_level": compress_level}
    if exif is not None:
        kwargs["exif"] = exif
    if icc is not None:
        kwargs["icc_profile"] = icc
    buf = io.BytesIO()
    im.save(buf, "PNG", **kwargs)
    return buf.getvalue()


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def raw_png(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2, interlace: bool = False,
            idat_size: int = 200) -> bytes:
    """A PNG written by hand: Pillow writes neither Adam7-interlaced nor 16-bit RGB files.

    Pixels are a deterministic pattern; the zlib stream is split over several IDAT chunks.
    """
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    bpp = channels * bit_depth // 8

    def sample(x: int, y: int, c: int) -> bytes:
        v = (x * 37 + y * 91 + c * 53 + x * y) % (1 << bit_depth)
        return v.to_bytes(bit_depth // 8, "big")

    def rows(xs: range, ys: range) -> bytes:
        out = bytearray()
        for y in ys:
            out.append(0)  # filter type None
            for x in xs:
                for c in range(channels):
                    out += sample(x, y, c)
        return bytes(out)

    if interlace:
        raw = b""
        for x0, y0, dx, dy in _ADAM7:
            xs, ys = range(x0, width, dx), range(y0, height, dy)
            if len(xs) and len(ys):
                raw += rows(xs, ys)
    else:
        raw = rows(range(width), range(height))
    assert bpp >= 1
    stream = zlib.compress(raw, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    idats = b"".join(png_chunk(b"IDAT", stream[i:i + idat_size]) for i in range(0, len(stream), idat_size))
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + idats + png_chunk(b"IEND", b"")


# ----------------------------------------------------------------------------------------- pixels


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """(mode, size, raw pixel bytes) as Pillow decodes *data*."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.mode, im.size, im.tobytes()


# ----------------------------------------------------------------------------------------- exiftool


def tool_get(tags: dict[str, Any], key: str) -> Any:
    """The value exiftool printed under *key*, matched without regard to case.

    exiftool names tags of namespaces it does not know from the property name, and it turns an
    all-capitals name into mixed case: 12.x prints ``TC260:AIGC`` as ``XMP-TC260:Aigc``.  The group
    (``XMP-TC260``, taken from the prefix) and the value are what we check exactly.
    """
    hits = [v for k, v in tags.items() if k.lower() == key.lower() or k.lower().startswith(key.lower() + " #")]
    assert len(hits) <= 1, f"{key} printed more than once: {hits}"
    return hits[0] if hits else None


def tool_values_containing(tags: dict[str, Any], needle: str) -> dict[str, Any]:
    """Every tag whose (JSON-rendered) value contains *needle*."""
    return {k: v for k, v in tags.items() if needle in json.dumps(v, ensure_ascii=False)}


def _keep_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """With -a exiftool may print a tag twice; keep every copy (``Tag``, ``Tag #2``...) instead of the last."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        name, n = key, 1
        while name in out:
            n += 1
            name = f"{key} #{n}"
        out[name] = value
    return out


_SUFFIX = {b"\xff\xd8": ".jpg", PNG_SIGNATURE[:2]: ".png"}


@pytest.fixture(scope="session")
def exiftool(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path | bytes], dict[str, Any]]:
    """Run ``exiftool -j -G1 -a -struct -b`` on a path (or on bytes, via a temporary file)."""
    exe = shutil.which("exiftool")
    if exe is None:
        pytest.skip("exiftool is not installed (Debian/Ubuntu: apt-get install libimage-exiftool-perl); "
                    "the independent-reader checks need it")
    scratch = tmp_path_factory.mktemp("exiftool")
    counter = iter(range(1_000_000))

    def run(target: Path | bytes) -> dict[str, Any]:
        if isinstance(target, (bytes, bytearray)):
            path = scratch / f"f{next(counter)}{_SUFFIX.get(bytes(target[:2]), '.bin')}"
            path.write_bytes(target)
        else:
            path = Path(target)
        proc = subprocess.run([exe, "-j", "-G1", "-a", "-struct", "-b", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        (tags,) = json.loads(proc.stdout, object_pairs_hook=_keep_duplicates)
        return tags

    return run


# --------------------------------------------------------------------------------------------- no skips in CI
# On a developer's machine a test whose reader (exiftool, ffmpeg, OCR) is missing skips and says which package
# to install.  CI installs everything, so there a skip means a broken install step: fail it instead.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped in CI, where every optional tool must be installed: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # type: ignore[no-untyped-def]
    # A whole test module skipped at import (pytest.importorskip) is a skip too: under CI, a failure.
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") and rep.skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"module skipped in CI, where every optional tool must be installed: {reason}"
