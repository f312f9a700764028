"""The visible label of a PDF: a text stamp with the notice, added as an incremental update.

What is drawn, and how:

* the notice (default: the profile's ``text_notice``, "本内容由人工智能生成") in one line, dark grey on
  a white box, on the first page (``options.extra["pages"]``: ``first`` | ``last`` | ``all``);
* once, as a shared Form XObject (``/AigcStamp``), placed on each stamped page by a small content
  stream ``Q q <matrix> cm /AigcStamp Do Q``; the page's existing content is wrapped between a
  leading ``q`` stream and that stream, so its graphics state cannot leak into the stamp;
* upright as the page is *displayed*: the matrix maps the displayed page (after ``/Rotate``) to
  user space, inside the visible box (CropBox clipped to the MediaBox), whatever their origin;
* in a margin where it covers no content when one is free: the page's content is scanned cheaply
  (text origins with estimated extents, painted paths, images and forms; full-page backgrounds
  ignored) and the requested corner is tried first, then the other bottom/top positions.  Pages of
  one geometry share one placement, chosen from a deterministic sample of up to six of them, so
  ``pages=all`` on a long document costs a few scans and the stamp sits at the same spot throughout;
* in the bundled CJK font subset (or the font ``--font`` names): a Type0 font with Identity-H
  encoding and a ToUnicode CMap, so text extraction (pypdf, pdftotext) reads the notice back.
  With fontTools installed the font is subset to the notice's glyphs (a few KB); without it the
  bundled subset (34 KB) is embedded whole and other fonts must be single-face files under 4 MB.

The original bytes stay as the file's prefix (signatures survive); encrypted files keep their
encryption (the password is needed, see :mod:`aigclabel.formats.pdf`).  Re-marking replaces an
earlier stamp of ours instead of adding a second one, and removes it from pages not stamped now.

``options.extra``: ``pages`` (``first``, default), ``password`` (for encrypted files; the
handler's ``password`` otherwise), ``font_size`` (points; default 2 % of the page's shorter side,
6 to 24 pt, never wider than 90 % of the page).
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LabelError, UnsupportedOperation
from . import ExplicitOptions, ExplicitResult
from .fonts import FontChoice, resolve_font

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler
    from ..formats.pdf import IncrementalUpdate, PdfDocument

__all__ = ["PdfStampMarker", "FontProgram", "load_font_program", "content_boxes", "PAGE_CHOICES"]

PAGE_CHOICES = ("first", "last", "all")
#: the resource name of the stamp form, and the key that marks our objects for re-marking
STAMP_NAME = "/AigcStamp"
OUR_KEY = "/AigclabelStamp"
#: the form is drawn at this font size; each page scales it
_REF_SIZE = 10.0
_PAD_EM = 0.3  # white box padding around the text, in em
_TEXT_GREY = 0.1
#: font size on a page: this fraction of the displayed page's shorter side, within the bounds (pt)
_SIZE_RATIO = 0.02
_MIN_SIZE, _MAX_SIZE = 6.0, 24.0
#: fonts embedded whole (no fontTools) must be smaller than this
_MAX_WHOLE_FONT = 4 << 20
#: content scan limits: decoded bytes per page and operators per page
_MAX_SCAN_BYTES = 8 << 20
_MAX_SCAN_OPS = 400_000
#: content covering at least this fraction of the visible page is a background, not an obstacle
_BACKGROUND_RATIO = 0.8
#: pages scanned per page geometry when stamping many pages (one placement serves the group)
_SCANS_PER_GROUP = 6


# =========================================================================================== fonts


@dataclass
class FontProgram:
    """A font ready to embed: the stream to store and the metrics the PDF font dictionaries need."""

    ps_name: str
    kind: str  # "cid-cff" (CID-keyed CFF: codes are CIDs) | "cff" (name-keyed, in OpenType) | "truetype"
    data: bytes
    codes: dict[str, int]  # character -> 2-byte code (CID for cid-cff, glyph id otherwise)
    widths: dict[int, int]  # code -> advance width, 1/1000 em
    bbox: tuple[int, int, int, int]  # 1/1000 em
    ascent: int
    descent: int  # negative
    cap_height: int
    ros: tuple[str, str, int] = ("Adobe", "Identity", 0)
    subset: bool = False  # fontTools subset it (else the file is embedded whole)

    def text_width(self, text: str) -> float:
        """Advance width of *text* in em."""
        return sum(self.widths.get(self.codes[c], 1000) for c in text) / 1000.0

    def encode(self, text: str) -> bytes:
        return b"".join(struct.pack(">H", self.codes[c]) for c in text)


def _sfnt_tables(data: bytes) -> dict[bytes, bytes]:
    if data[:4] not in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
        raise ValueError("not a single TrueType/OpenType font")
    (num,) = struct.unpack_from(">H", data, 4)
    tables = {}
    for i in range(num):
        tag, _sum, off, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        if off + length > len(data):
            raise ValueError(f"font table {tag!r} runs past the end of the file")
        tables[tag] = data[off:off + length]
    return tables


def _cmap_glyph(cmap: bytes, cp: int) -> int:
    """Glyph id of *cp* in the font's best Unicode cmap subtable (0 when missing)."""
    n = struct.unpack_from(">H", cmap, 2)[0]
    records = {}
    for i in range(n):
        p, e, off = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
        records[(p, e)] = off
    order = ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))
    for key in order:
        if key not in records:
            continue
        off = records[key]
        fmt = struct.unpack_from(">H", cmap, off)[0]
        if fmt == 4 and cp <= 0xFFFF:
            segx2 = struct.unpack_from(">H", cmap, off + 6)[0]
            ends = off + 14
            starts = ends + segx2 + 2
            deltas = starts + segx2
            ranges = deltas + segx2
            for s in range(segx2 // 2):
                end = struct.unpack_from(">H", cmap, ends + 2 * s)[0]
                if cp > end:
                    continue
                start = struct.unpack_from(">H", cmap, starts + 2 * s)[0]
                if cp < start:
                    break
                delta = struct.unpack_from(">H", cmap, deltas + 2 * s)[0]
                roff = struct.unpack_from(">H", cmap, ranges + 2 * s)[0]
                if roff == 0:
                    return (cp + delta) & 0xFFFF
                at = ranges + 2 * s + roff + 2 * (cp - start)
                glyph = struct.unpack_from(">H", cmap, at)[0] if at + 2 <= len(cmap) else 0
                return (glyph + delta) & 0xFFFF if glyph else 0
            return 0
        if fmt == 12:
            groups = struct.unpack_from(">I", cmap, off + 12)[0]
            for g in range(groups):
                start, end, glyph = struct.unpack_from(">III", cmap, off + 16 + 12 * g)
                if start <= cp <= end:
                    return glyph + (cp - start)
            return 0
    return 0


def _cff_index(data: bytes, pos: int) -> tuple[list[bytes], int]:
    count = struct.unpack_from(">H", data, pos)[0]
    if count == 0:
        return [], pos + 2
    off_size = data[pos + 2]
    if not 1 <= off_size <= 4:
        raise ValueError("bad CFF INDEX")
    offs = []
    p = pos + 3
    for _ in range(count + 1):
        offs.append(int.from_bytes(data[p:p + off_size], "big"))
        p += off_size
    base = p - 1
    items = [data[base + offs[i]:base + offs[i + 1]] for i in range(count)]
    return items, base + offs[-1]


def _cff_dict(data: bytes) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    operands: list[float] = []
    i = 0
    while i < len(data):
        b0 = data[i]
        if b0 <= 21:
            op = b0
            i += 1
            if b0 == 12:
                op = 1200 + data[i]
                i += 1
            out[op] = operands
            operands = []
        elif b0 == 28:
            operands.append(struct.unpack_from(">h", data, i + 1)[0])
            i += 3
        elif b0 == 29:
            operands.append(struct.unpack_from(">i", data, i + 1)[0])
            i += 5
        elif b0 == 30:  # real number: nibbles up to 0xf
            i += 1
            while i < len(data):
                b = data[i]
                i += 1
                if (b & 0x0F) == 0x0F or (b >> 4) == 0x0F:
                    break
            operands.append(0.0)
        elif 32 <= b0 <= 246:
            operands.append(b0 - 139)
            i += 1
        elif 247 <= b0 <= 250:
            operands.append((b0 - 247) * 256 + data[i + 1] + 108)
            i += 2
        elif 251 <= b0 <= 254:
            operands.append(-(b0 - 251) * 256 - data[i + 1] - 108)
            i += 2
        else:
            raise ValueError("bad CFF DICT")
    return out


_CFF_STD_STRINGS = 391


def _cff_info(cff: bytes, num_glyphs: int) -> tuple[str, tuple[str, str, int] | None, dict[int, int]]:
    """(font name, ROS or None, glyph id -> CID) of a CFF table."""
    hdr_size = cff[2]
    names, pos = _cff_index(cff, hdr_size)
    tops, pos = _cff_index(cff, pos)
    strings, pos = _cff_index(cff, pos)
    if not names or not tops:
        raise ValueError("CFF table has no font")
    top = _cff_dict(tops[0])

    def sid(n: float) -> str:
        n = int(n)
        return strings[n - _CFF_STD_STRINGS].decode("latin-1") if n >= _CFF_STD_STRINGS else "Adobe"

    ros = None
    gid_to_cid: dict[int, int] = {}
    if 1230 in top:
        reg, order, supplement = top[1230][:3]
        ros = (sid(reg), sid(order), int(supplement))
        charset = int(top.get(15, [0])[0])
        if charset > 2:
            fmt = cff[charset]
            p = charset + 1
            gid = 1
            if fmt == 0:
                while gid < num_glyphs:
                    gid_to_cid[gid] = struct.unpack_from(">H", cff, p)[0]
                    p += 2
                    gid += 1
            elif fmt in (1, 2):
                while gid < num_glyphs:
                    first = struct.unpack_from(">H", cff, p)[0]
                    left = cff[p + 2] if fmt == 1 else struct.unpack_from(">H", cff, p + 2)[0]
                    p += 3 if fmt == 1 else 4
                    for k in range(left + 1):
                        gid_to_cid[gid] = first + k
                        gid += 1
            else:
                raise ValueError(f"unknown CFF charset format {fmt}")
    return names[0].decode("latin-1"), ros, gid_to_cid


def _ps_name(tables: dict[bytes, bytes], fallback: str) -> str:
    name = tables.get(b"name")
    if name:
        count, string_off = struct.unpack_from(">HH", name, 2)
        for i in range(count):
            p, e, _lang, nid, length, off = struct.unpack_from(">HHHHHH", name, 6 + 12 * i)
            if nid != 6:
                continue
            raw = name[string_off + off:string_off + off + length]
            text = raw.decode("utf-16-be", "replace") if p in (0, 3) else raw.decode("latin-1")
            if text:
                return text
    return fallback


def parse_font_program(data: bytes, text: str, *, subset: bool = False) -> FontProgram:
    """What the PDF needs from an sfnt font file (*data*) to show *text*."""
    t = _sfnt_tables(data)
    for tag in (b"head", b"hhea", b"hmtx", b"cmap", b"maxp"):
        if tag not in t:
            raise ValueError(f"font has no {tag.decode()} table")
    upm = struct.unpack_from(">H", t[b"head"], 18)[0] or 1000
    x0, y0, x1, y1 = struct.unpack_from(">hhhh", t[b"head"], 36)
    asc, desc = struct.unpack_from(">hh", t[b"hhea"], 4)
    n_hmetrics = struct.unpack_from(">H", t[b"hhea"], 34)[0]
    num_glyphs = struct.unpack_from(">H", t[b"maxp"], 4)[0]
    cap = asc
    os2 = t.get(b"OS/2")
    if os2 and len(os2) >= 72:
        asc, desc = struct.unpack_from(">hh", os2, 68)  # typo metrics: the em box of CJK fonts
        if len(os2) >= 90 and struct.unpack_from(">H", os2, 0)[0] >= 2:
            cap = struct.unpack_from(">h", os2, 88)[0] or asc

    def scale(v: float) -> int:
        return int(round(v * 1000.0 / upm))

    hmtx = t[b"hmtx"]

    def advance(gid: int) -> int:
        i = min(gid, max(n_hmetrics - 1, 0))
        return struct.unpack_from(">H", hmtx, 4 * i)[0] if 4 * i + 2 <= len(hmtx) else upm

    if b"CFF " in t:
        fontname, ros, gid_to_cid = _cff_info(t[b"CFF "], num_glyphs)
        kind = "cid-cff" if ros is not None else "cff"
    elif b"glyf" in t:
        fontname, ros, gid_to_cid, kind = "", None, {}, "truetype"
    else:
        raise ValueError("font has neither CFF nor TrueType outlines")
    codes: dict[str, int] = {}
    widths: dict[int, int] = {}
    missing = []
    for ch in dict.fromkeys(text):
        gid = _cmap_glyph(t[b"cmap"], ord(ch))
        if gid == 0 or gid >= num_glyphs:
            missing.append(ch)
            continue
        code = gid_to_cid.get(gid, gid) if kind == "cid-cff" else gid
        codes[ch] = code
        widths[code] = scale(advance(gid))
    if missing:
        raise ValueError(f"glyphs missing for {''.join(missing)!r}")
    ps = re.sub(r"[^A-Za-z0-9_.\-]", "", _ps_name(t, fontname) or fontname) or "Font"
    embedded = t[b"CFF "] if kind == "cid-cff" else data
    return FontProgram(ps_name=ps, kind=kind, data=embedded, codes=codes, widths=widths,
                       bbox=(scale(x0), scale(y0), scale(x1), scale(y1)), ascent=scale(asc),
                       descent=scale(desc) if desc <= 0 else -scale(desc), cap_height=scale(cap),
                       ros=ros or ("Adobe", "Identity", 0), subset=subset)


def _fonttools_subset(path: str, index: int, text: str) -> bytes | None:
    """The font reduced to *text*'s glyphs with fontTools, or None when fontTools is not installed."""
    try:
        from fontTools import subset as ft_subset
        from fontTools.ttLib import TTFont
    except ImportError:
        return None
    opts = ft_subset.Options()
    opts.layout_features = []
    opts.name_IDs = [1, 2, 3, 4, 6]
    opts.name_languages = [0x0409]
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    opts.drop_tables += ["VORG", "vhea", "vmtx", "DSIG"]
    font = TTFont(path, fontNumber=index, lazy=True)
    try:
        sub = ft_subset.Subsetter(opts)
        sub.populate(text=text)
        sub.subset(font)
        out = io.BytesIO()
        font.save(out)
    finally:
        font.close()
    return out.getvalue()


@functools.lru_cache(maxsize=16)
def _program_cached(path: str, index: int, text: str, _mtime: float) -> FontProgram:
    try:
        data = _fonttools_subset(path, index, text)
    except Exception as exc:  # noqa: BLE001 - fontTools on an odd font: fall back to whole embedding
        data = None
        reason = f"fontTools could not subset it ({type(exc).__name__}: {exc})"
    else:
        reason = "fontTools is not installed"
    if data is not None:
        return parse_font_program(data, text, subset=True)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head == b"ttcf":
            raise ValueError(f"a font collection cannot be embedded without subsetting ({reason}; "
                             "pip install fonttools)")
        if size > _MAX_WHOLE_FONT:
            raise ValueError(f"the font is {size >> 20} MB, too large to embed whole ({reason}; "
                             "pip install fonttools)")
        fh.seek(0)
        return parse_font_program(fh.read(), text)


def load_font_program(choice: FontChoice, text: str) -> FontProgram:
    """The font program for *text* from the resolved font; :class:`LabelError` if it cannot be used."""
    needed = "".join(sorted(set(text)))
    try:
        return _program_cached(choice.path, choice.index, needed, os.stat(choice.path).st_mtime)
    except (OSError, ValueError, struct.error, IndexError) as exc:
        raise LabelError(f"font {choice.describe()} cannot be embedded in a PDF: {exc}") from None


def _subset_tag(program: FontProgram) -> str:
    digest = hashlib.sha1(program.data + repr(sorted(program.codes.items())).encode()).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def _to_unicode(program: FontProgram) -> bytes:
    pairs = sorted((code, ch) for ch, code in program.codes.items())
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def",
             b"1 begincodespacerange", b"<0000> <FFFF>", b"endcodespacerange"]
    for i in range(0, len(pairs), 100):
        chunk = pairs[i:i + 100]
        lines.append(b"%d beginbfchar" % len(chunk))
        for code, ch in chunk:
            lines.append(b"<%04X> <%s>" % (code, ch.encode("utf-16-be").hex().upper().encode()))
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines) + b"\n"


def embed_font(update: IncrementalUpdate, program: FontProgram) -> Any:
    """Append the Type0 font (and its descendant, descriptor, program and ToUnicode); its reference."""
    from pypdf.generic import (ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject,
                               TextStringObject)

    def name(v: str) -> NameObject:
        return NameObject(v)

    def num(v: float) -> Any:
        return NumberObject(int(v)) if float(v).is_integer() else FloatObject(v)

    base = f"{_subset_tag(program)}+{program.ps_name}"
    if program.kind == "cid-cff":
        file_key, file_entries = "/FontFile3", {"/Subtype": name("/CIDFontType0C")}
    elif program.kind == "cff":
        file_key, file_entries = "/FontFile3", {"/Subtype": name("/OpenType")}
    else:
        file_key, file_entries = "/FontFile2", {"/Length1": NumberObject(len(program.data))}
    file_ref = update.add(update.stream(program.data, file_entries, compress=True))
    descriptor = DictionaryObject({
        name("/Type"): name("/FontDescriptor"), name("/FontName"): name("/" + base),
        name("/Flags"): NumberObject(4), name("/FontBBox"): ArrayObject([num(v) for v in program.bbox]),
        name("/ItalicAngle"): NumberObject(0), name("/Ascent"): num(program.ascent),
        name("/Descent"): num(program.descent), name("/CapHeight"): num(program.cap_height),
        name("/StemV"): NumberObject(80), name(file_key): file_ref})
    descriptor_ref = update.add(descriptor)
    w = ArrayObject()
    for code in sorted(program.widths):
        w += [NumberObject(code), ArrayObject([NumberObject(program.widths[code])])]
    registry, ordering, supplement = program.ros
    cidfont = DictionaryObject({
        name("/Type"): name("/Font"),
        name("/Subtype"): name("/CIDFontType2" if program.kind == "truetype" else "/CIDFontType0"),
        name("/BaseFont"): name("/" + base),
        name("/CIDSystemInfo"): DictionaryObject({name("/Registry"): TextStringObject(registry),
                                                  name("/Ordering"): TextStringObject(ordering),
                                                  name("/Supplement"): NumberObject(supplement)}),
        name("/FontDescriptor"): descriptor_ref, name("/DW"): NumberObject(1000), name("/W"): w})
    if program.kind == "truetype":
        cidfont[name("/CIDToGIDMap")] = name("/Identity")
    cidfont_ref = update.add(cidfont)
    tounicode_ref = update.add(update.stream(_to_unicode(program), compress=True))
    type0 = DictionaryObject({
        name("/Type"): name("/Font"), name("/Subtype"): name("/Type0"), name("/BaseFont"): name("/" + base),
        name("/Encoding"): name("/Identity-H"), name("/DescendantFonts"): ArrayObject([cidfont_ref]),
        name("/ToUnicode"): tounicode_ref})
    return update.add(type0)


# ======================================================================================== geometry

Matrix = tuple[float, float, float, float, float, float]
Box = tuple[float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def mul(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF row-vector convention: the matrix of ``m cm`` applied after ``n`` is m x n)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


def transform_box(m: Matrix, box: Box) -> Box:
    pts = [apply(m, x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def display_matrix(visible: Box, rotate: int) -> Matrix:
    """Maps the displayed page (origin bottom-left, after /Rotate clockwise) to user space."""
    x0, y0, x1, y1 = visible
    return {0: (1.0, 0.0, 0.0, 1.0, x0, y0),
            90: (0.0, 1.0, -1.0, 0.0, x1, y0),
            180: (-1.0, 0.0, 0.0, -1.0, x1, y1),
            270: (0.0, -1.0, 1.0, 0.0, x0, y1)}[rotate]


def _box_of(value: Any) -> Box | None:
    try:
        nums = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(nums) != 4 or not all(math.isfinite(v) for v in nums):
        return None
    return min(nums[0], nums[2]), min(nums[1], nums[3]), max(nums[0], nums[2]), max(nums[1], nums[3])


def page_geometry(page: Any) -> tuple[Box, int]:
    """(visible box in user space, rotation in {0, 90, 180, 270}) of a pypdf page."""
    media = _box_of(page.get("/MediaBox")) or (0.0, 0.0, 612.0, 792.0)
    crop = _box_of(page.get("/CropBox")) or media
    visible = (max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3]))
    if visible[2] - visible[0] < 1 or visible[3] - visible[1] < 1:
        visible = media  # a CropBox outside the MediaBox: viewers fall back to the MediaBox
    try:
        rotate = int(page.get("/Rotate", 0) or 0)
    except (TypeError, ValueError):
        rotate = 0
    return visible, (round(rotate / 90) * 90) % 360


# ==================================================================================== content scan

_DELIMS = rb"()<>\[\]{}/%"
_TOKEN = re.compile(
    rb"[\x00\t\n\x0c\r ]+|%[^\r\n]*"
    rb"|(?P<hex><[0-9A-Fa-f\x00\t\n\x0c\r ]*>)"
    rb"|(?P<dict><<|>>)"
    rb"|(?P<arr>[\[\]{}])"
    rb"|(?P<name>/[^\x00\t\n\x0c\r " + _DELIMS + rb"]*)"
    rb"|(?P<str>\()"
    rb"|(?P<reg>[^\x00\t\n\x0c\r " + _DELIMS + rb"]+)"
)
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
#: the rest of a literal string without nested parentheses (escapes allowed), after its "("
_SIMPLE_LITERAL = re.compile(rb"(?:[^()\\]|\\.)*\)", re.S)
_EI = re.compile(rb"[\x00\t\n\x0c\r ]EI(?=[\x00\t\n\x0c\r /]|$)")


def _literal_len(data: bytes, pos: int) -> tuple[int, int]:
    """(byte count, position after) of the literal string starting after ``(`` at *pos*."""
    depth, n, i, end = 1, 0, pos, len(data)
    while i < end:
        c = data[i]
        if c == 0x5C:  # backslash: one escaped byte; an octal escape has up to three digits
            i += 2
            digits = 1
            while digits < 3 and i < end and 0x30 <= data[i - 1] <= 0x37 and 0x30 <= data[i] <= 0x37:
                i += 1
                digits += 1
            n += 1
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return n, i + 1
        n += 1
        i += 1
    return n, end


@dataclass
class _GState:
    ctm: Matrix = _IDENTITY
    font_size: float = 0.0
    hscale: float = 1.0
    leading: float = 0.0
    rise: float = 0.0


@dataclass
class ScanResult:
    boxes: list[Box] = field(default_factory=list)  # user-space bounds of what the page draws
    complete: bool = True  # False when the scan stopped early (limits, unreadable content)


_IMAGE_SUBTYPE = re.compile(rb"/Subtype[\x00\t\n\x0c\r ]*/Image(?![A-Za-z])")


def _is_image(ref: Any) -> bool:
    """True when the XObject *ref* is an image, told from its dictionary alone: pypdf would read the
    whole image stream to answer, and only its unit square matters here."""
    reader = getattr(ref, "pdf", None)
    num, gen = getattr(ref, "idnum", None), getattr(ref, "generation", 0)
    try:
        offset = reader.xref[gen][num]  # type: ignore[union-attr]
        stream = reader.stream  # type: ignore[union-attr]
        stream.seek(offset)
        head = stream.read(2048)
    except Exception:  # noqa: BLE001 - not a plain object in the file: let pypdf read it
        return False
    end = head.find(b"stream")
    return _IMAGE_SUBTYPE.search(head[:end if end >= 0 else len(head)]) is not None


def _content_bytes(page: Any) -> bytes | None:
    """The page's decoded content (None when it decodes past the scan limit or not at all)."""
    from pypdf.generic import ArrayObject, StreamObject

    from ..errors import AigcLabelError
    from ..formats.pdf import decode_bounded

    contents = page.get("/Contents")
    if contents is None:
        return b""
    contents = contents.get_object()
    streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
    parts = []
    total = 0
    for ref in streams:
        stream = ref.get_object()
        if not isinstance(stream, StreamObject):
            continue
        try:
            data = decode_bounded(stream, _MAX_SCAN_BYTES - total)
        except AigcLabelError:
            return None
        total += len(data)
        parts.append(data)
    return b"\n".join(parts)


def content_boxes(page: Any) -> ScanResult:
    """Approximate bounds of everything *page* draws, in user space, from a cheap content scan.

    Text extents are estimated (half an em per byte shown); forms count as their transformed BBox;
    images as their unit square.  Good enough to find a free margin, never used for measuring.
    """
    result = ScanResult()
    try:
        data = _content_bytes(page)
    except Exception:  # noqa: BLE001 - unreadable content: nothing is known, place by default
        result.complete = False
        return result
    if data is None:
        result.complete = False
        return result
    resources = page.get("/Resources")
    xobjects = {}
    try:
        xo = resources.get_object().get("/XObject") if resources is not None else None
        xobjects = xo.get_object() if xo is not None else {}
    except Exception:  # noqa: BLE001
        xobjects = {}
    gs = _GState()
    stack: list[_GState] = []
    tm = tlm = _IDENTITY
    path: list[tuple[float, float]] = []
    operands: list[Any] = []
    nesting: list[list[Any]] = []
    ops = 0
    pos, end = 0, len(data)
    match = _TOKEN.match

    def text_box(nbytes: float, adjust: float = 0.0) -> None:
        nonlocal tm
        fs = gs.font_size or 12.0
        width = (nbytes * 0.5 * fs - adjust / 1000.0 * fs) * gs.hscale
        box = (min(0.0, width), -0.25 * fs + gs.rise, max(0.0, width), 0.95 * fs + gs.rise)
        result.boxes.append(transform_box(mul(tm, gs.ctm), box))
        tm = mul((1.0, 0.0, 0.0, 1.0, width, 0.0), tm)

    while pos < end:
        m = match(data, pos)
        if m is None:
            pos += 1
            continue
        pos = m.end()
        kind = m.lastgroup
        if kind is None:
            continue
        tok = m.group()
        if kind == "str":
            simple = _SIMPLE_LITERAL.match(data, pos)
            if simple is not None:  # no nested parentheses: the common case, at regex speed
                pos = simple.end()
                value: Any = ("s", simple.end() - simple.start() - 1 - simple.group().count(b"\\"))
            else:
                n, pos = _literal_len(data, pos)
                value = ("s", n)
        elif kind == "hex":
            value = ("s", len(re.sub(rb"[^0-9A-Fa-f]", b"", tok)) / 2)
        elif kind == "name":
            value = ("n", tok)
        elif kind == "dict":
            value = ("d", tok)
        elif kind == "arr":
            if tok in b"[{":
                nesting.append(operands)
                operands = []
            elif nesting:
                inner = operands
                operands = nesting.pop()
                operands.append(("a", inner))
            continue
        else:
            try:
                value = float(tok)
            except ValueError:
                value = None
            if value is None:
                # an operator
                ops += 1
                if ops > _MAX_SCAN_OPS:
                    result.complete = False
                    return result
                nums = [v for v in operands if isinstance(v, float)]
                op = tok
                try:
                    if op == b"q":
                        stack.append(_GState(gs.ctm, gs.font_size, gs.hscale, gs.leading, gs.rise))
                    elif op == b"Q":
                        if stack:
                            gs = stack.pop()
                    elif op == b"cm" and len(nums) == 6:
                        gs.ctm = mul(tuple(nums), gs.ctm)  # type: ignore[arg-type]
                    elif op == b"BT":
                        tm = tlm = _IDENTITY
                    elif op == b"Tf" and nums:
                        gs.font_size = abs(nums[-1])
                    elif op == b"Tz" and nums:
                        gs.hscale = nums[-1] / 100.0
                    elif op == b"TL" and nums:
                        gs.leading = nums[-1]
                    elif op == b"Ts" and nums:
                        gs.rise = nums[-1]
                    elif op in (b"Td", b"TD") and len(nums) >= 2:
                        tlm = mul((1.0, 0.0, 0.0, 1.0, nums[-2], nums[-1]), tlm)
                        tm = tlm
                        if op == b"TD":
                            gs.leading = -nums[-1]
                    elif op == b"Tm" and len(nums) == 6:
                        tlm = tm = tuple(nums)  # type: ignore[assignment]
                    elif op in (b"T*", b"'", b'"'):
                        tlm = mul((1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading), tlm)
                        tm = tlm
                        if op != b"T*":
                            strings = [v[1] for v in operands if isinstance(v, tuple) and v[0] == "s"]
                            text_box(strings[-1] if strings else 0)
                    elif op == b"Tj":
                        strings = [v[1] for v in operands if isinstance(v, tuple) and v[0] == "s"]
                        text_box(strings[-1] if strings else 0)
                    elif op == b"TJ":
                        arrays = [v[1] for v in operands if isinstance(v, tuple) and v[0] == "a"]
                        items = arrays[-1] if arrays else []
                        n = sum(v[1] for v in items if isinstance(v, tuple) and v[0] == "s")
                        adjust = sum(v for v in items if isinstance(v, float))
                        text_box(n, adjust)
                    elif op == b"m" and len(nums) >= 2:
                        path.append(apply(gs.ctm, nums[-2], nums[-1]))
                    elif op == b"l" and len(nums) >= 2:
                        path.append(apply(gs.ctm, nums[-2], nums[-1]))
                    elif op in (b"c", b"v", b"y"):
                        for i in range(0, len(nums) - 1, 2):
                            path.append(apply(gs.ctm, nums[i], nums[i + 1]))
                    elif op == b"re" and len(nums) >= 4:
                        x, y, w, h = nums[-4:]
                        path.extend(apply(gs.ctm, px, py) for px in (x, x + w) for py in (y, y + h))
                    elif op in _PAINT:
                        if path:
                            xs = [p[0] for p in path]
                            ys = [p[1] for p in path]
                            result.boxes.append((min(xs), min(ys), max(xs), max(ys)))
                        path = []
                    elif op == b"n":
                        path = []
                    elif op == b"Do":
                        names = [v[1] for v in operands if isinstance(v, tuple) and v[0] == "n"]
                        box: Box = (0.0, 0.0, 1.0, 1.0)
                        matrix = _IDENTITY
                        if names:
                            key = names[-1].decode("latin-1")
                            raw = xobjects.raw_get(key) if hasattr(xobjects, "raw_get") and key in xobjects else None
                            xobj = None if raw is None or _is_image(raw) else raw.get_object()
                            if xobj is not None and xobj.get("/Subtype") == "/Form":
                                box = _box_of(xobj.get("/BBox")) or box
                                mx = xobj.get("/Matrix")
                                if mx is not None and len(mx) == 6:
                                    matrix = tuple(float(v) for v in mx)  # type: ignore[assignment]
                        result.boxes.append(transform_box(mul(matrix, gs.ctm), box))
                    elif op == b"BI":
                        found = re.search(rb"[\x00\t\n\x0c\r ]ID[\x00\t\n\x0c\r ]", data[pos:pos + 65536])
                        if found is None:
                            result.complete = False
                            return result
                        ei = _EI.search(data, pos + found.end())
                        pos = ei.end() if ei else end
                        result.boxes.append(transform_box(gs.ctm, (0.0, 0.0, 1.0, 1.0)))
                except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
                    pass  # a malformed operator: skip it, as viewers do
                operands = []
                if nesting:
                    nesting = []
                continue
        operands.append(value)
        if len(operands) > 4096:  # runaway operands (garbage): keep the tail
            operands = operands[-16:]
    return result


# ======================================================================================== placement

_HORIZONTAL = {"left", "right", "center"}


def _position_parts(position: str) -> tuple[str, str]:
    parts = position.split("-")
    vertical = next((p for p in parts if p in ("top", "bottom")), "middle")
    horizontal = next((p for p in parts if p in ("left", "right")), "center")
    return vertical, horizontal


def _candidates(position: str) -> list[tuple[str, str]]:
    vertical, horizontal = _position_parts(position)
    order = [(vertical, horizontal)]
    others = [h for h in ("right", "left", "center") if h != horizontal]
    order += [(vertical, h) for h in others]
    if vertical != "middle":
        opposite = "top" if vertical == "bottom" else "bottom"
        order += [(opposite, horizontal)] + [(opposite, h) for h in others]
    return order


def _spot(vertical: str, horizontal: str, disp_w: float, disp_h: float, w: float, h: float,
          margin: float) -> tuple[float, float]:
    u = {"left": margin, "right": disp_w - margin - w, "center": (disp_w - w) / 2}[horizontal]
    v = {"bottom": margin, "top": disp_h - margin - h, "middle": (disp_h - h) / 2}[vertical]
    return u, v


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass
class Placement:
    matrix: Matrix  # form space -> user space
    box: Box  # the stamp's bounds in user space
    font_size: float
    position: str  # where it went, e.g. "bottom-right"
    clear: bool | None  # True: covers no detected content; False: overlaps; None: content not scanned


@dataclass
class _Frame:
    """One page's geometry and the stamp's candidate spots on it, best first."""

    key: tuple[Any, ...]  # pages with the same key get the same placement
    visible: Box
    font_size: float
    spots: list[tuple[str, Matrix, Box]]  # (position name, form -> user matrix, user-space box)


def page_frame(page: Any, form_w: float, form_h: float, options: ExplicitOptions, text_em: float) -> _Frame:
    visible, rotate = page_geometry(page)
    vw, vh = visible[2] - visible[0], visible[3] - visible[1]
    disp_w, disp_h = (vw, vh) if rotate in (0, 180) else (vh, vw)
    size = options.extra.get("font_size")
    font_size = float(size) if size else min(_MAX_SIZE, max(_MIN_SIZE, _SIZE_RATIO * min(disp_w, disp_h)))
    font_size = max(1.0, min(font_size, 0.9 * disp_w / (text_em + 2 * _PAD_EM)))  # never wider than 90 %
    s = font_size / _REF_SIZE
    w, h = form_w * s, form_h * s
    margin = min(font_size, max(1.0, 0.25 * (disp_h - h)))
    to_user = display_matrix(visible, rotate)
    spots = []
    for vertical, horizontal in _candidates(options.position):
        u, v = _spot(vertical, horizontal, disp_w, disp_h, w, h, margin)
        matrix = mul((s, 0.0, 0.0, s, u, v), to_user)
        name = vertical if horizontal == "center" else (horizontal if vertical == "middle"
                                                          else f"{vertical}-{horizontal}")
        spots.append((name, matrix, transform_box(matrix, (0.0, 0.0, form_w, form_h))))
    key = (tuple(round(v, 2) for v in visible), rotate, round(font_size, 3))
    return _Frame(key, visible, font_size, spots)


def obstacles(page: Any, visible: Box) -> list[Box] | None:
    """What the page draws, without full-page backgrounds; None when the content could not be scanned."""
    scan = content_boxes(page)
    if not scan.complete:
        return None
    area = (visible[2] - visible[0]) * (visible[3] - visible[1])
    return [b for b in scan.boxes
            if (b[2] - b[0]) * (b[3] - b[1]) < _BACKGROUND_RATIO * area and _overlaps(b, visible)]


def choose(frame: _Frame, scans: list[list[Box] | None]) -> Placement:
    """The first spot clear of every scanned page's content; the requested one when none is."""
    known = [obs for obs in scans if obs is not None]
    name, matrix, box = frame.spots[0]
    if not known:
        return Placement(matrix, box, frame.font_size, name, None)
    for name, matrix, box in frame.spots:
        if not any(_overlaps(box, ob) for obs in known for ob in obs):
            return Placement(matrix, box, frame.font_size, name, True)
    name, matrix, box = frame.spots[0]
    return Placement(matrix, box, frame.font_size, name, False)


def place_stamp(page: Any, form_w: float, form_h: float, options: ExplicitOptions, text_em: float) -> Placement:
    """Where the stamp goes on *page* (displayed orientation), avoiding detected content if possible."""
    frame = page_frame(page, form_w, form_h, options, text_em)
    return choose(frame, [obstacles(page, frame.visible)])


def _sample(indices: list[int], limit: int) -> list[int]:
    """Pages whose content is scanned when many pages share one geometry: the first three, the last
    two, then evenly spread ones up to *limit* (deterministic, so the same input gives the same file)."""
    if len(indices) <= limit:
        return indices
    chosen = dict.fromkeys(indices[:3] + indices[-2:])
    rest = limit - len(chosen)
    if rest > 0:
        step = len(indices) / (rest + 1)
        for k in range(1, rest + 1):
            chosen.setdefault(indices[int(k * step)], None)
    return list(chosen)


# ========================================================================================== marker


def _fmt(v: float) -> bytes:
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("-0", "") else "0").encode()


def _form_content(program: FontProgram, text: str, w: float, h: float) -> bytes:
    pad = _PAD_EM * _REF_SIZE
    baseline = pad - program.descent / 1000.0 * _REF_SIZE
    return b"".join([
        b"q 1 1 1 rg 0 0 ", _fmt(w), b" ", _fmt(h), b" re f Q\n",
        b"BT /F0 ", _fmt(_REF_SIZE), b" Tf ", _fmt(_TEXT_GREY), b" g ",
        _fmt(pad), b" ", _fmt(baseline), b" Td <", program.encode(text).hex().upper().encode(), b"> Tj ET\n",
    ])


def _is_ours(obj: Any) -> bool:
    try:
        return OUR_KEY in obj.get_object()
    except Exception:  # noqa: BLE001
        return False


@dataclass
class _PageParts:
    """A page's own dictionary, its (possibly inherited) resources and content streams, and the
    stamps of ours already on it (by resource name)."""

    own: Any
    resources: Any
    xobjects: Any
    ours: list[str]

    def streams(self) -> list[Any]:
        """The page's content streams (references), read only when the page is rewritten."""
        from pypdf.generic import ArrayObject

        raw = self.own.raw_get("/Contents") if "/Contents" in self.own else None
        if raw is None:
            return []
        resolved = raw.get_object()
        return list(resolved) if isinstance(resolved, ArrayObject) else [raw]

    @classmethod
    def of(cls, doc: PdfDocument, page: Any) -> _PageParts:
        from pypdf.generic import DictionaryObject, IndirectObject

        ref = page.indirect_reference
        own = doc.reader.get_object(ref) if isinstance(ref, IndirectObject) else page
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        if not isinstance(resources, DictionaryObject):
            resources = DictionaryObject()
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else DictionaryObject()
        if not isinstance(xobjects, DictionaryObject):
            xobjects = DictionaryObject()
        ours = [k for k in xobjects if k.startswith(STAMP_NAME) and _is_ours(xobjects.raw_get(k))]
        return cls(own, resources, xobjects, ours)

    def free_name(self) -> str:
        """The resource name for the stamp: ours again, or /AigcStamp, /AigcStamp1... not taken by others."""
        name, n = STAMP_NAME, 0
        while name in self.xobjects and name not in self.ours:
            n += 1
            name = f"{STAMP_NAME}{n}"
        return name

    def rebuilt(self, wrap: tuple[Any, Any] | None, stamp: tuple[str, Any] | None) -> Any:
        """The page dictionary without our earlier stamps, wrapped and stamped anew when asked."""
        from pypdf.generic import ArrayObject, DictionaryObject, NameObject

        streams = [s for s in self.streams() if not _is_ours(s)] if self.ours else self.streams()
        xobjects = DictionaryObject()
        for key, value in self.xobjects.items():
            if key not in self.ours:
                xobjects[NameObject(key)] = value
        if stamp is not None:
            xobjects[NameObject(stamp[0])] = stamp[1]
        resources = DictionaryObject()
        for key, value in self.resources.items():
            resources[NameObject(key)] = value
        resources[NameObject("/XObject")] = xobjects
        page = DictionaryObject()
        for key, value in self.own.items():
            page[NameObject(key)] = value
        page[NameObject("/Contents")] = ArrayObject([wrap[0], *streams, wrap[1]] if wrap else streams)
        page[NameObject("/Resources")] = resources
        return page


class PdfStampMarker:
    """Stamps the notice on PDF pages (kind "document"; other document formats are not handled here)."""

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name == "pdf"

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        if not self.supports(handler):
            raise UnsupportedOperation(f"visible labels for {handler.name.upper()} are not available in this "
                                       "version; mark it with --no-explicit (explicit=False)")
        from ..formats.pdf import PasswordRequired, open_document, pypdf_errors

        which = options.extra.get("pages", "first")
        if which not in PAGE_CHOICES:
            raise LabelError(f"pages must be one of {', '.join(PAGE_CHOICES)}, not {which!r}")
        text = options.text.strip()
        if not text or "\n" in text or "\r" in text:
            raise LabelError("the PDF stamp is one line of text: give a non-empty notice without line breaks")
        password = options.extra.get("password", getattr(handler, "password", None))
        doc = open_document(src, password, for_write=True)
        if doc.encrypted and password is None:
            raise PasswordRequired("the PDF is encrypted: give its password to mark it (--password / "
                                   "password=...); it stays encrypted")
        font = resolve_font(text, options.font)
        program = load_font_program(font, text)
        with pypdf_errors("stamping the PDF"):
            return self._stamp(doc, program, font, text, which, options)

    def _stamp(self, doc: PdfDocument, program: FontProgram, font: FontChoice, text: str, which: str,
               options: ExplicitOptions) -> ExplicitResult:
        from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

        from ..formats.pdf import IncrementalUpdate

        pages = doc.pages()
        if not pages:
            raise LabelError("the PDF has no pages to stamp")
        indices = {"first": [0], "last": [len(pages) - 1], "all": list(range(len(pages)))}[which]
        update = IncrementalUpdate(doc)
        notes: list[str] = []
        font_ref = embed_font(update, program)
        text_em = program.text_width(text)
        pad = _PAD_EM * _REF_SIZE
        form_w = text_em * _REF_SIZE + 2 * pad
        form_h = (program.ascent - program.descent) / 1000.0 * _REF_SIZE + 2 * pad
        form = update.stream(_form_content(program, text, form_w, form_h), {
            "/Type": NameObject("/XObject"), "/Subtype": NameObject("/Form"),
            "/BBox": ArrayObject([_num(0), _num(0), _num(form_w), _num(form_h)]),
            "/Resources": DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F0"): font_ref})}),
            OUR_KEY: NameObject("/Form")})
        form_ref = update.add(form)
        opener_ref = update.add(update.stream(b"q\n", {OUR_KEY: NameObject("/Open")}))
        _, catalog = doc.catalog()
        mark_info = catalog.get("/MarkInfo")
        tagged = bool(mark_info is not None and mark_info.get_object().get("/Marked", False))
        # one placement per page geometry, chosen from a sample of that geometry's pages (the stamp
        # sits at the same place on every page, and 500 pages cost a few content scans, not 500)
        frames = {index: page_frame(pages[index], form_w, form_h, options, text_em) for index in indices}
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index in indices:
            groups.setdefault(frames[index].key, []).append(index)
        scans: dict[int, list[Box] | None] = {}
        chosen: dict[tuple[Any, ...], Placement] = {}
        for key, members in groups.items():
            for index in _sample(members, _SCANS_PER_GROUP):
                scans[index] = obstacles(pages[index], frames[index].visible)
            chosen[key] = choose(frames[members[0]], [scans[i] for i in members if i in scans])
        stamp_streams: dict[bytes, Any] = {}
        shared_resources: dict[bytes, list[Any]] = {}  # identical new resource dicts: written once
        placed = []
        overlapping = []
        replaced = removed = 0
        selected = set(indices)
        for index, page in enumerate(pages):
            ref = page.indirect_reference
            parts = _PageParts.of(doc, page)
            if index not in selected:
                if parts.ours and isinstance(ref, IndirectObject):  # an earlier stamp on a page not asked for now
                    update.put(ref, parts.rebuilt(None, None))
                    removed += 1
                continue
            if not isinstance(ref, IndirectObject):
                notes.append(f"page {index + 1} is not an indirect object and was not stamped")
                continue
            placement = chosen[frames[index].key]
            clear: bool | None = None
            if scans.get(index) is not None:
                clear = not any(_overlaps(placement.box, ob) for ob in scans[index] or ())
            name = parts.free_name()
            draw = name.encode() + b" Do"
            if tagged:
                draw = b"/Artifact <</Type /Pagination /Subtype /Watermark>> BDC " + draw + b" EMC"
            content = b"Q\nq " + b" ".join(_fmt(v) for v in placement.matrix) + b" cm " + draw + b" Q\n"
            if content not in stamp_streams:
                stamp_streams[content] = update.add(update.stream(content, {OUR_KEY: NameObject("/Stamp")}))
            new_page = parts.rebuilt((opener_ref, stamp_streams[content]), (name, form_ref))
            update.put(ref, new_page)
            replaced += 1 if parts.ours else 0
            buf = io.BytesIO()
            new_page["/Resources"].write_to_stream(buf)
            shared_resources.setdefault(buf.getvalue(), []).append(new_page)
            placed.append({"page": index + 1, "position": placement.position,
                           "box": [round(v, 2) for v in placement.box],
                           "font_size": round(placement.font_size, 2),
                           "rotate": page_geometry(page)[1], "clear_of_content": clear})
            if clear is False:
                overlapping.append(index + 1)
        for same in shared_resources.values():
            if len(same) > 1:
                resources_ref = update.add(same[0]["/Resources"])
                for new_page in same:
                    new_page[NameObject("/Resources")] = resources_ref
        if program.kind == "cff" and _version_below(doc.header_version, "1.6"):
            new_catalog = DictionaryObject()
            for key, value in catalog.items():
                new_catalog[NameObject(key)] = value
            new_catalog[NameObject("/Version")] = NameObject("/1.6")
            update.put(doc.catalog()[0], new_catalog)
            notes.append("the catalog's /Version was raised to 1.6 (an OpenType font is embedded)")
        out = io.BytesIO()
        update.write(out)
        where = ", ".join(str(p["page"]) for p in placed)
        embedded = "subset to the notice's glyphs" if program.subset else "embedded whole"
        summary = (f"PDF stamp '{text}' on page {where} of {len(pages)} ({which}), font {font.describe()} "
                   f"{embedded}; appended as an incremental update (the original bytes are unchanged)")
        notes.insert(0, summary)
        if replaced:
            notes.append(f"an earlier stamp was replaced on {replaced} page(s)")
        if removed:
            notes.append(f"an earlier stamp was removed from {removed} page(s) not stamped now")
        if overlapping:
            notes.append(f"no free margin found on page(s) {', '.join(map(str, overlapping))}: the stamp sits on "
                         "a white box over the page content there")
        details = {"format": "pdf", "text": text, "pages": which, "placements": placed,
                   "font": font.describe(), "font_subset": program.subset,
                   "font_bytes": len(program.data), "page_count": len(pages)}
        return ExplicitResult(out.getvalue(), notes, details)


def _num(v: float) -> Any:
    from pypdf.generic import FloatObject, NumberObject

    return NumberObject(int(v)) if float(v).is_integer() else FloatObject(round(v, 4))


def _version_below(version: str, wanted: str) -> bool:
    try:
        return tuple(int(p) for p in version.split(".")[:2]) < tuple(int(p) for p in wanted.split("."))
    except ValueError:
        return True
