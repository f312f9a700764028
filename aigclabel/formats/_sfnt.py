"""Reading an sfnt font file (TrueType / OpenType, CFF or glyf outlines) for embedding in a PDF.

The PDF stamp (:mod:`aigclabel.explicit.pdf`) embeds the notice's font as a Type0 font; it needs
the font's metrics, its glyph ids (or CIDs) for the notice's characters and the program to store.
Parsing the font file's tables is container parsing, so it lives here; :func:`parse_font_program`
raises ``ValueError`` (or ``struct.error`` / ``IndexError`` on a truncated table) when a font cannot
be used, and the caller turns that into a :class:`~aigclabel.errors.LabelError` naming the font.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

__all__ = ["FontProgram", "parse_font_program", "FONT_ERRORS"]

#: what parsing a broken font file raises
FONT_ERRORS: tuple[type[Exception], ...] = (ValueError, struct.error, IndexError)


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
