"""The seeded mutator: the same (seed, format, index) always gives the same bytes.

It knows no format in detail.  It finds what most containers share -- a 2- or 4-byte length
next to a four-character code or a 0xFF marker -- and uses those as *fields* (set to 0, to
0xFFFFFFFF, to huge, off by one) and as *chunks* (duplicated, moved, swapped, dropped).  On top:
bit flips, byte sets, truncation, random insertions and deletions, slices spliced elsewhere or
repeated, bytes changed near the label's own carriers (``AIGC``, XMP), and for ZIP-based
documents the same mutations inside one member (recompressed, so the XML parsers see them rather
than a CRC error).
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from dataclasses import dataclass, field

#: values a length or count field is set to
_INTERESTING32 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE,
                  0xFFFFFFFF, 0x40000000, 0x10000000)
_INTERESTING16 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF)
_INTERESTING8 = (0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x3C, 0x5C, 0x7B)
#: byte strings our carriers and parsers look for (inserted or overwritten near hot spots)
_TOKENS = (b"AIGC", b"TC260", b'{"AIGC":', b'"Label":"1"', b"\x00", b"\xff\xff\xff\xff", b"<", b">", b'"', b"\\",
           b"&#0;", b"&amp;", b"<?xpacket", b"<x:xmpmeta", b"]]>", b"\xef\xbb\xbf", b"\xc3\x28", b"\xed\xa0\x80",
           b"{", b"}", b"[", b"]", b":", b",", b"\n---\n", b"<!--", b"%", b"obj", b"endobj", b"stream", b"<<", b">>",
           b"\x00\x00\x00\x00", b"\x00\x00\x00\x01", b"\x7f\xff\xff\xff", b"9" * 40)
_HOT = (b"AIGC", b"TC260", b"xmpmeta", b"xpacket", b"Label", b"ContentProducer", b"rdf:", b"ID3", b"TXXX",
        b"meta", b"udta", b"ilst", b"iTXt", b"tEXt", b"eXIf", b"Exif", b"XMP", b"/Info", b"trailer", b"xref",
        b"docProps", b"custom", b"iinf", b"iloc", b"COMM", b"LIST", b"vorbis", b"OpusTags", b"\x1a\x45\xdf\xa3",
        b"\x12\x54\xc3\x67", b"onMetaData")


_TEXT_FORMATS = ("txt", "markdown", "html")
_TEXT_TOKENS = (b"---\n", b"\n---\n", b"AIGC:", b"  Label: '1'\n", b'{"AIGC":{"Label":"1"}}', b"<!-- AIGC ", b" -->",
                b'<meta name="AIGC" content="', b'">', b"<head>", b"</head>", b"<script>", b"<![CDATA[", b"&#x0;",
                b"&#1114112;", b"&", b"<", b">", b'"', b"'", b"\\", b"\t", b"\r\n", b"# ", b"```", b"|", b": ",
                b"- ", b"? ", b"&bogus;", b"<meta charset=\"shift_jis\">", b"<meta charset=\"utf-16\">",
                b"\xef\xbb\xbf",
                b"\xff\xfe", b"*" * 500, b"[" * 100, b"{" * 100)


@dataclass(frozen=True)
class Field:
    """A probable length field: *width* bytes at *offset*, big- or little-endian; the chunk it sizes."""

    offset: int
    width: int
    big: bool
    start: int  # the chunk's first byte (its header)
    end: int  # one past its last byte (clamped to the data)


def _is_fourcc(b: bytes) -> bool:
    return len(b) == 4 and all(0x20 <= c < 0x7F for c in b) and any(0x41 <= (c | 0x20) - 0x20 <= 0x5A or
                                                                    0x61 <= c <= 0x7A for c in b)


def find_fields(data: bytes, limit: int = 4000) -> list[Field]:
    """Length fields next to chunk/box headers: ISO BMFF / PNG (size then fourcc), RIFF / IFF (fourcc then size),
    JPEG segments (0xFF marker then BE16 length), and plain little/big 16/32-bit values that fit the data."""
    n = len(data)
    out: list[Field] = []
    for p in range(0, max(0, n - 7)):
        if len(out) >= limit:
            break
        four = data[p + 4:p + 8]
        if _is_fourcc(four):
            v = int.from_bytes(data[p:p + 4], "big")
            # BMFF box (size counts the header) or PNG chunk (length, type, data, CRC): the one whose
            # successor is another header (or the end) wins; both when neither can be told
            bmff = 8 <= v <= n - p and (p + v == n or _is_fourcc(data[p + v + 4:p + v + 8]))
            png = v <= n - p - 12 and (p + 12 + v == n or _is_fourcc(data[p + 16 + v:p + 20 + v]))
            if bmff or not png and 8 <= v <= n - p:
                out.append(Field(p, 4, True, p, p + v))
            if png or not bmff and 0 <= v <= n - p - 12:
                out.append(Field(p, 4, True, p, p + 12 + v))
        if p >= 4 and _is_fourcc(data[p - 4:p]):
            le = int.from_bytes(data[p:p + 4], "little")
            be = int.from_bytes(data[p:p + 4], "big")
            if 0 < le <= n - p - 4:  # RIFF / WebP / AVI: fourcc, LE size, body
                out.append(Field(p, 4, False, p - 4, p + 4 + le + (le & 1)))
            elif 0 < be <= n - p - 4:  # AIFF (IFF): fourcc, BE size, body
                out.append(Field(p, 4, True, p - 4, p + 4 + be + (be & 1)))
        if p >= 2 and data[p - 2] == 0xFF and 0xC0 <= data[p - 1] <= 0xFE:
            v = int.from_bytes(data[p:p + 2], "big")
            if 2 <= v <= n - p:  # JPEG segment: marker, length (counts itself), payload
                out.append(Field(p, 2, True, p - 2, p + v))
    return out


@dataclass
class Mutator:
    """Mutations of one seed; :meth:`mutate` is a pure function of (seed bytes, run seed, index)."""

    data: bytes
    run_seed: int
    name: str
    fields: list[Field] = field(default_factory=list)
    hot: list[int] = field(default_factory=list)
    zip_members: list[str] = field(default_factory=list)
    _zip_items: list[tuple[zipfile.ZipInfo, bytes]] = field(default_factory=list, repr=False)
    #: look for binary length fields (not in the XML members of a ZIP: they have none, and the scan costs)
    binary: bool = True
    _members: dict[str, Mutator] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.fields = find_fields(self.data) if self.binary else []
        hot: set[int] = set()
        for token in _HOT:
            at = self.data.find(token)
            while at >= 0 and len(hot) < 2000:
                hot.add(at)
                at = self.data.find(token, at + 1)
        self.hot = sorted(hot)
        if self.data[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                    self._zip_items = [(i, zf.read(i)) for i in zf.infolist()]
                self.zip_members = [i.filename for i, _ in self._zip_items
                                    if i.filename.endswith((".xml", ".rels")) and i.file_size < 2_000_000]
            except (zipfile.BadZipFile, ValueError, OSError):
                self.zip_members = []

    # ---------------------------------------------------------------------------------- public

    def mutate(self, index: int) -> tuple[bytes, str]:
        """The *index*-th mutation and a short description of what was done."""
        rng = random.Random(f"{self.run_seed}:{self.name}:{index}")
        if self.zip_members and rng.random() < 0.6:
            return self._zip_member(rng)
        if self.name in _TEXT_FORMATS and rng.random() < 0.8:
            return self._text_havoc(rng, bytearray(self.data))
        data, desc = self._havoc(rng, bytearray(self.data))
        fix = _FIXUPS.get(self.name.split("-")[0])  # png-c2pa is a PNG
        if fix is not None and rng.random() < 0.5:
            # repair checksums / the top-level size, so the mutation reaches the parsers behind that check
            data, desc = fix(bytearray(data)), desc + "+fixup"
        return data, desc

    def _text_havoc(self, rng: random.Random, buf: bytearray) -> tuple[bytes, str]:
        """Mutations that keep text text: tokens, Unicode, lines duplicated, moved and cut."""
        ops = []
        for _ in range(rng.choice((1, 1, 2, 3, 6))):
            r = rng.random()
            at = self._pos(rng, buf) if buf else 0
            if r < 0.3:
                piece = rng.choice(_TEXT_TOKENS)
                buf[at:at] = piece
                ops.append(f"text-insert@{at}")
            elif r < 0.5:
                lines = bytes(buf).split(b"\n")
                i = rng.randrange(len(lines))
                j = rng.randrange(len(lines) + 1)
                lines.insert(j, lines[i] * rng.choice((1, 1, 3, 200)))
                buf[:] = b"\n".join(lines)
                ops.append(f"line-dup{i}->{j}")
            elif r < 0.65:
                del buf[at:at + rng.choice((1, 3, 10, 60))]
                ops.append(f"text-delete@{at}")
            elif r < 0.8:
                buf[at:at] = "".join(chr(rng.choice((0x3000, 0x200B, 0xFEFF, 0x4E2D, 0x1F600, 0xD7FF, 0x85,
                                                     0x2028, 0x0A, 0x0D, 0x09, 0x3C, 0x2D)))
                                     for _ in range(rng.randrange(1, 8))).encode("utf-8")
                ops.append(f"unicode@{at}")
            elif r < 0.9:
                del buf[at:]
                ops.append(f"text-truncate@{at}")
            else:
                ops.append(_splice(self, rng, buf))
        return bytes(buf), "+".join(ops)

    # ---------------------------------------------------------------------------------- stacks

    def _havoc(self, rng: random.Random, buf: bytearray, depth: int | None = None) -> tuple[bytes, str]:
        ops = []
        for _ in range(depth if depth is not None else rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
            op = rng.choice(_OPS)
            ops.append(op(self, rng, buf))
        return bytes(buf), "+".join(ops)

    def _zip_member(self, rng: random.Random) -> tuple[bytes, str]:
        member = rng.choice(self.zip_members)
        out = io.BytesIO()
        desc = ""
        # members keep their names, order and methods; only the chosen one changes (CRC made anew)
        with zipfile.ZipFile(out, "w") as zw:
            for info, body in self._zip_items:
                if info.filename == member:
                    sub = self._members.get(member) or self._members.setdefault(
                        member, Mutator(body, self.run_seed, member, binary=False))
                    body, desc = sub._havoc(rng, bytearray(body))
                zw.writestr(info, body, compresslevel=1)
        return out.getvalue(), f"zip[{member}]:{desc}"

    # ---------------------------------------------------------------------------------- positions

    def _pos(self, rng: random.Random, buf: bytearray) -> int:
        """A position: near a hot spot (a carrier), in the first KB (headers) or anywhere."""
        n = len(buf)
        if n == 0:
            return 0
        r = rng.random()
        if r < 0.35 and self.hot:
            return min(n - 1, max(0, rng.choice(self.hot) + rng.randint(-16, 96)))
        if r < 0.6:
            return rng.randrange(min(n, 1024))
        return rng.randrange(n)


def _bitflip(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    if not buf:
        return "bitflip(empty)"
    k = rng.choice((1, 1, 2, 4, 8))
    for _ in range(k):
        p = m._pos(rng, buf)
        buf[p] ^= 1 << rng.randrange(8)
    return f"bitflip{k}"


def _byteset(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    if not buf:
        return "byteset(empty)"
    p = m._pos(rng, buf)
    width = rng.choice((1, 2, 4))
    if width == 1:
        buf[p] = rng.choice(_INTERESTING8) if rng.random() < 0.5 else rng.randrange(256)
    else:
        table = _INTERESTING16 if width == 2 else _INTERESTING32
        value = rng.choice(table).to_bytes(width, rng.choice(("big", "little")))
        buf[p:p + width] = value
    return f"byteset{width}@{p}"


def _truncate(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    n = len(buf)
    if n < 2:
        return "truncate(short)"
    r = rng.random()
    cut = rng.randrange(min(n, 512)) if r < 0.4 else (m._pos(rng, buf) if r < 0.7 else rng.randrange(n))
    del buf[cut:]
    return f"truncate@{cut}"


def _length_field(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    fields = [f for f in m.fields if f.offset + f.width <= len(buf)]
    if not fields:
        return _byteset(m, rng, buf)
    f = rng.choice(fields)
    old = int.from_bytes(buf[f.offset:f.offset + f.width], "big" if f.big else "little")
    top = (1 << (8 * f.width)) - 1
    choice = rng.choice(("zero", "max", "huge", "+1", "-1", "x2", "len", "small"))
    new = {"zero": 0, "max": top, "huge": top // 2 + 1 if f.width == 2 else rng.choice((0x7FFFFFFF, 0x40000000,
                                                                                        0xFFFFFFF0)),
           "+1": old + 1, "-1": old - 1, "x2": old * 2, "len": len(buf), "small": rng.randrange(16)}[choice]
    new &= top
    buf[f.offset:f.offset + f.width] = new.to_bytes(f.width, "big" if f.big else "little")
    return f"length{f.width}{'be' if f.big else 'le'}@{f.offset}={choice}"


def _chunk(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    fields = [f for f in m.fields if f.end <= len(buf) and f.end - f.start <= 1 << 20]
    if len(fields) < 1:
        return _splice(m, rng, buf)
    f = rng.choice(fields)
    body = bytes(buf[f.start:f.end])
    op = rng.choice(("dup", "dup", "move", "drop", "swap", "repeat"))
    if op == "dup":
        buf[f.end:f.end] = body
    elif op == "repeat":
        buf[f.end:f.end] = body * rng.choice((2, 5, 50))
    elif op == "drop":
        del buf[f.start:f.end]
    elif op == "move":
        del buf[f.start:f.end]
        at = rng.choice([g.start for g in fields if g.start <= len(buf)] or [0])
        buf[at:at] = body
    else:  # swap with another chunk that does not overlap
        others = [g for g in fields if g.end <= f.start or g.start >= f.end]
        if not others:
            buf[f.end:f.end] = body
            op = "dup"
        else:
            g = rng.choice(others)
            a, b = (f, g) if f.start < g.start else (g, f)
            first, second = bytes(buf[a.start:a.end]), bytes(buf[b.start:b.end])
            buf[b.start:b.end] = first
            buf[a.start:a.end] = second
    return f"chunk-{op}@{f.start}:{f.end}"


def _splice(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    """A random slice copied to another offset (generic duplicate/reorder)."""
    n = len(buf)
    if n < 4:
        return "splice(short)"
    a = m._pos(rng, buf)
    size = min(n - a, rng.choice((1, 4, 8, 16, 64, 256, 4096)))
    piece = bytes(buf[a:a + size])
    at = rng.randrange(n)
    if rng.random() < 0.5:
        buf[at:at] = piece * rng.choice((1, 1, 3, 20))
        return f"splice-insert{size}@{at}"
    buf[at:at + size] = piece
    return f"splice-over{size}@{at}"


def _insert(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    at = m._pos(rng, buf) if buf else 0
    if rng.random() < 0.5:
        piece = rng.choice(_TOKENS)
    else:
        piece = bytes(rng.randrange(256) for _ in range(rng.choice((1, 2, 4, 16, 100))))
    buf[at:at] = piece
    return f"insert{len(piece)}@{at}"


def _delete(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    if not buf:
        return "delete(empty)"
    at = m._pos(rng, buf)
    size = rng.choice((1, 2, 4, 8, 32, 512))
    del buf[at:at + size]
    return f"delete{size}@{at}"


def _overwrite_token(m: Mutator, rng: random.Random, buf: bytearray) -> str:
    at = m._pos(rng, buf) if buf else 0
    token = rng.choice(_TOKENS)
    buf[at:at + len(token)] = token
    return f"token@{at}"


_OPS = (_bitflip, _bitflip, _byteset, _byteset, _truncate, _length_field, _length_field, _length_field, _chunk,
        _chunk, _splice, _insert, _delete, _overwrite_token)


# ---------------------------------------------------------------------------------- fix-ups


def _fix_png(buf: bytearray) -> bytes:
    pos = 8
    while pos + 12 <= len(buf):
        length = int.from_bytes(buf[pos:pos + 4], "big")
        end = pos + 8 + length
        if end + 4 > len(buf):
            break
        buf[end:end + 4] = zlib.crc32(bytes(buf[pos + 4:end])).to_bytes(4, "big")
        pos = end + 4
    return bytes(buf)


def _ogg_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_TABLE = _ogg_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_TABLE[((crc >> 24) ^ b) & 0xFF]
    return crc


def _fix_ogg(buf: bytearray) -> bytes:
    pos = buf.find(b"OggS")
    while 0 <= pos and pos + 27 <= len(buf):
        nseg = buf[pos + 26]
        if pos + 27 + nseg > len(buf):
            break
        end = pos + 27 + nseg + sum(buf[pos + 27:pos + 27 + nseg])
        if end > len(buf):
            break
        buf[pos + 22:pos + 26] = b"\x00\x00\x00\x00"
        buf[pos + 22:pos + 26] = _ogg_crc(bytes(buf[pos:end])).to_bytes(4, "little")
        pos = buf.find(b"OggS", end)
    return bytes(buf)


def _fix_riff(buf: bytearray) -> bytes:
    if len(buf) >= 8 and buf[:4] in (b"RIFF", b"FORM"):
        buf[4:8] = (len(buf) - 8).to_bytes(4, "little" if buf[:4] == b"RIFF" else "big")
    return bytes(buf)


_FIXUPS = {"png": _fix_png, "apng": _fix_png, "ogg": _fix_ogg, "opus": _fix_ogg, "wav": _fix_riff,
           "avi": _fix_riff, "webp": _fix_riff, "aiff": _fix_riff}
