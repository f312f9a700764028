"""PNG: the record lives in an uncompressed ``iTXt`` chunk ``XML:com.adobe.xmp`` before the first IDAT.

Chunks are walked by their length fields.  Reading seeks past image data (only metadata chunks
are read and CRC-checked); writing copies the chunks it does not parse as they are, in kernel copies.  Also read:
``tEXt``/``zTXt``/``iTXt`` chunks with an ``AIGC`` keyword, ``eXIf``, and generator chunks
(Stable Diffusion ``parameters``, ComfyUI ``prompt``/``workflow``) as traces.  An XMP packet in a
``tEXt``/``zTXt`` chunk (Exiv2, Midjourney) is read like the iTXt one, with a ``format.png.xmp-chunk``
warning, and marking moves it into the iTXt chunk.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO

from .._c2pa_scan import STORE_INFO, note_xmp
from .._io import COPY_ALIGN, CountingReader
from ..errors import CorruptFile, LimitExceeded
from ..limits import check_allocation
from ..limits import current as current_limits
from ..report import Finding, Level, Trace
from ._exif import TiffDirectory, blank_entry, parameters_generator
from ._image_meta import build_xmp, evidence_from_exif, exif_record_entries, found_label, xmp_evidence
from ._xmp import XmpPacket
from .base import Evidence, FormatHandler, ImplicitLabel, unreadable

SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
_TEXT_TYPES = {b"tEXt", b"zTXt", b"iTXt"}
_META_TYPES = _TEXT_TYPES | {b"eXIf", b"IHDR"}
#: cap on decompressed text so a zTXt "zip bomb" cannot exhaust memory
MAX_TEXT = 16 << 20
#: generator text chunks worth reporting as traces (keyword -> generator)
GENERATOR_KEYWORDS = {"parameters": "Stable Diffusion (A1111/Forge) parameters",
                      "prompt": "ComfyUI prompt", "workflow": "ComfyUI workflow",
                      "Dream": "InvokeAI", "sd-metadata": "InvokeAI", "invokeai_metadata": "InvokeAI",
                      "NovelAI": "NovelAI", "fooocus_scheme": "Fooocus metadata scheme"}


@dataclass
class Chunk:
    """A PNG chunk's type, offset and data length."""
    type: bytes
    offset: int  # offset of the length field
    length: int

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.offset + 12 + self.length


def walk_chunks(src: CountingReader) -> list[Chunk]:
    """All chunks up to IEND, reading only the 8-byte headers."""
    # Every read here and below is a positional read of exactly the bytes parsed: a buffered read() would
    # fetch a whole buffer from the OS per hop (IDAT runs to hundreds of hops) and count only what it returned.
    if src.pread(0, 8) != SIGNATURE:
        raise CorruptFile("not a PNG (bad signature)")
    chunks: list[Chunk] = []
    pos = 8
    while True:
        head = src.pread(pos, 8)
        if len(head) < 8:
            raise CorruptFile("truncated: file ends before the IEND chunk")
        length, ctype = struct.unpack(">I4s", head)
        if length > 0x7FFFFFFF or not ctype.isalpha():
            raise CorruptFile(f"corrupt: bad chunk header at offset {pos}")
        chunk = Chunk(ctype, pos, length)
        if chunk.end > src.size:
            raise CorruptFile(f"truncated: chunk {ctype.decode('latin-1')} at offset {pos} runs past the end")
        chunks.append(chunk)
        if ctype == b"IEND":
            return chunks
        pos = chunk.end


def _read_checked(src: CountingReader, chunk: Chunk) -> bytes:
    check_allocation(chunk.length, f"PNG chunk {chunk.type.decode('latin-1')} at offset {chunk.offset}")
    raw = src.pread(chunk.offset + 4, chunk.length + 8)  # type + data + crc
    (crc,) = struct.unpack(">I", raw[-4:])
    if zlib.crc32(raw[:-4]) != crc:
        raise CorruptFile(f"corrupt: bad CRC in chunk {chunk.type.decode('latin-1')} at offset {chunk.offset}")
    return raw[4:-4]


def _inflate(data: bytes, step: int = 1 << 20) -> bytes:
    """Inflate a text chunk, refusing more than MAX_TEXT bytes of output (a zip bomb).

    Output is produced in *step*-sized pieces, so refusing a bomb costs about the cap of memory,
    not twice that (zlib grows one big output buffer by doubling).  A caller's ``max_allocation``
    below MAX_TEXT lowers the cap, and exceeding it is then that budget's :class:`LimitExceeded`.
    """
    budget = current_limits().max_allocation
    cap = min(MAX_TEXT, budget)

    def refuse() -> CorruptFile:
        if budget < MAX_TEXT:
            return LimitExceeded("max_allocation", f"compressed text chunk inflates past {budget:,} bytes")
        return CorruptFile(f"compressed text chunk inflates past {MAX_TEXT >> 20} MiB; refusing (zip bomb?)")

    d = zlib.decompressobj()
    parts: list[bytes] = []
    total = 0
    pending = data
    try:
        while pending and not d.eof:
            out = d.decompress(pending, min(step, cap + 1 - total))
            pending = d.unconsumed_tail
            total += len(out)
            if total > cap:
                raise refuse()
            parts.append(out)
            if not out and pending:
                break  # no progress: zlib wants no more of this input
        tail = d.flush() if not d.eof else b""
    except zlib.error as exc:
        raise CorruptFile(f"corrupt compressed text chunk ({exc})") from None
    if total + len(tail) > cap:
        raise refuse()
    parts.append(tail)
    return b"".join(parts)


def _oversized(chunk: Chunk) -> bool:
    """A metadata chunk too large to hold a record or an XMP packet we would parse (read only its keyword)."""
    return chunk.type != b"IHDR" and chunk.length > MAX_TEXT


def _keyword(src: CountingReader, chunk: Chunk) -> str:
    head = src.pread(chunk.data_offset, min(chunk.length, 80))
    return head.partition(b"\x00")[0].decode("latin-1")


def text_chunk_bytes(ctype: bytes, data: bytes) -> tuple[str, bytes, str]:
    """(keyword, text bytes, their encoding) of a tEXt / zTXt / iTXt chunk, the text inflated, not decoded.

    An XMP packet is read from these bytes as XMP defines its encoding (UTF-8 whatever the chunk
    type: Exiv2 and Midjourney store UTF-8 in ``tEXt``, whose own text encoding is Latin-1).
    """
    keyword, sep, rest = data.partition(b"\x00")
    if not sep:
        raise CorruptFile(f"corrupt {ctype.decode()} chunk (no keyword terminator)")
    key = keyword.decode("latin-1")
    if ctype == b"tEXt":
        return key, rest, "latin-1"
    if ctype == b"zTXt":
        return key, _inflate(rest[1:]), "latin-1"
    # iTXt: compression flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        raise CorruptFile("corrupt iTXt chunk")
    flag, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _tkey, _, text = rest.partition(b"\x00")
    if flag:
        text = _inflate(text)
    return key, text, "utf-8"


def parse_text_chunk(ctype: bytes, data: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt / zTXt / iTXt chunk."""
    key, text, encoding = text_chunk_bytes(ctype, data)
    return key, text.decode(encoding, "replace")


def make_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def xmp_chunk(packet: bytes) -> bytes:
    # keyword, NUL, compression flag 0, method 0, empty language + NUL, empty translated keyword + NUL
    return make_chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet)


class PngHandler(FormatHandler):
    name = "png"
    kind = "image"
    mime = "image/png"
    extensions = (".png",)
    normative_carrier = "xmp:TC260:AIGC"
    can_write = True
    #: read() walks every chunk header; C2PA keeps its store in a ``caBX`` chunk
    c2pa_store_read = True
    c2pa_manifest_read = True  # the store is a caBX chunk, a remote reference the XMP packet
    #: what the last write_metadata wrote: (file size, its chunks); its read-back checks this layout instead of
    #: walking hundreds of IDAT headers again (:func:`_layout_matches`)
    _written: tuple[int, list[Chunk]] | None = None
    #: the XMP packet the last read() parsed: (source, chunk offset, packet or None)
    _xmp_read: tuple[CountingReader, int, XmpPacket | None] | None = None

    @classmethod
    def score(cls, head: bytes) -> int:
        return 100 if head.startswith(SIGNATURE) else 0

    def _chunks(self, src: CountingReader) -> list[Chunk]:
        """The chunk list of *src*, walked once per source: marking reads, checks and writes the same file, and
        a large PNG has hundreds of IDAT chunks to walk each time."""
        cached = getattr(self, "_walked", None)
        if cached is not None and cached[0] is src and cached[1] == src.size:
            return list(cached[2])
        written = self._written
        if written is not None and written[0] == src.size and _layout_matches(src, written[1]):
            chunks = written[1]  # the read-back of what write_metadata just wrote
        else:
            chunks = walk_chunks(src)
        self._walked = (src, src.size, chunks)  # the source itself, not its id: an id can be reused
        return list(chunks)

    def read(self, src: CountingReader) -> Evidence:
        chunks = self._chunks(src)
        ev = Evidence(self.name, self.kind)
        self._xmp_read = None
        seen_idat = False
        for chunk in chunks:
            if chunk.type == b"IDAT":
                seen_idat = True
            elif chunk.type == b"caBX":
                ev.info.setdefault(STORE_INFO, chunk.offset)
            if chunk.type not in _META_TYPES:
                continue
            name = chunk.type.decode("latin-1")
            where = f"{name} chunk at offset {chunk.offset}"
            if _oversized(chunk):
                # read whole, a crafted 200 MB text chunk costs seconds and a gigabyte before the XMP
                # parser refuses it: only its keyword is looked at
                if _keyword(src, chunk) == XMP_KEYWORD.decode():
                    note_xmp(ev.info, chunk.offset, None)
                ev.findings.append(unreadable("format.png", f"{name} chunk {_keyword(src, chunk)!r}",
                                              f"{chunk.length:,} bytes, over {MAX_TEXT >> 20} MiB (no record or XMP "
                                              "packet is that large)", where))
                continue
            data = _read_checked(src, chunk)
            if chunk.type == b"IHDR" and len(data) >= 8:
                w, h = struct.unpack(">II", data[:8])
                ev.info.update(width=w, height=h)
            elif chunk.type == b"eXIf":
                labels, traces, findings = evidence_from_exif(data, where, offset=chunk.offset,
                                                              before_payload=not seen_idat)
                ev.labels += labels
                ev.traces += traces
                ev.findings += findings
            else:
                key, raw, encoding = text_chunk_bytes(chunk.type, data)
                if key == XMP_KEYWORD.decode():
                    note_xmp(ev.info, chunk.offset, raw)
                    self._read_xmp(src, ev, chunk, raw, f"{where} ({key})", before_payload=not seen_idat)
                    continue
                text = raw.decode(encoding, "replace")
                if "AIGC" in key:
                    ev.labels.append(found_label(f"png:{name}:{key}", where, text, normative=False,
                                                 offset=chunk.offset, before_payload=not seen_idat))
                elif key in GENERATOR_KEYWORDS:
                    # "parameters" is also what Fooocus writes: its text names the tool (as EXIF's does)
                    named = parameters_generator(text) if key == "parameters" else None
                    what = f"{named} parameters" if named else GENERATOR_KEYWORDS[key]
                    ev.traces.append(Trace("generator-metadata", f"{what} ({key}: {text.strip()[:80]})", where))
                elif key == "Software" and (t := _generator(text, where)):
                    ev.traces.append(t)
        return ev

    def _read_xmp(self, src: CountingReader, ev: Evidence, chunk: Chunk, packet: bytes, where: str, *,
                  before_payload: bool) -> None:
        """An XMP packet in any text chunk; outside an iTXt chunk it is read the same, with a finding.

        The bytes go to the XMP reader undecoded, so a packet that is not valid UTF-8 is reported as
        such instead of being quietly repaired by a lenient decode here.
        """
        name = chunk.type.decode("latin-1")
        variant = chunk.type != b"iTXt"
        if variant:
            ev.findings.append(Finding(
                "format.png.xmp-chunk", Level.WARNING,
                f"XMP packet in a {name} chunk ({XMP_KEYWORD.decode()}), as Exiv2 and Midjourney write it; the "
                "normative place is an uncompressed iTXt chunk (XMP Part 3, PNG), where readers of the TC260 image "
                f"guide look; read the same, any record in it counting as in a non-standard carrier",
                clause="XMP Specification Part 3, PNG (iTXt chunk XML:com.adobe.xmp)", location=where,
                expected="iTXt chunk XML:com.adobe.xmp", actual=f"{name} chunk XML:com.adobe.xmp"))
        (labels, traces, findings), parsed = xmp_evidence(
            packet, where, offset=chunk.offset, normative=not variant, before_payload=before_payload,
            carrier_prefix=f"png:{name}:" if variant else "")
        # handed to write_metadata, which merges into this parse instead of parsing the packet again
        self._xmp_read = (src, chunk.offset, parsed)
        ev.labels += labels
        ev.traces += traces
        ev.findings += findings

    def image_access(self, src: CountingReader) -> Any:
        """The picture for the explicit step and the image rule (structure and declared sizes checked first)."""
        from PIL import PngImagePlugin

        from .media_image import PngAccess, read_all

        # Pillow reads every text chunk while opening the file (refusing them past MAX_TEXT_MEMORY only
        # after holding them): refuse from the chunk headers, before reading a byte of them, what our
        # own reader would not read either.
        text = sum(c.length for c in self._chunks(src) if c.type in _TEXT_TYPES)
        limit = min(MAX_TEXT, PngImagePlugin.MAX_TEXT_MEMORY, current_limits().max_allocation)
        if text > limit:
            raise LimitExceeded("max_allocation", f"the PNG's text chunks hold {text:,} bytes, more than the "
                                                  f"{limit:,} the picture decoder may hold")
        return PngAccess(read_all(src))

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        chunks = self._chunks(src)
        if not any(c.type == b"IDAT" for c in chunks):
            raise CorruptFile("corrupt: PNG has no IDAT chunk")
        # bytes to write, or a chunk to copy unchanged (streamed and CRC-checked when written, so the
        # image data never sits in memory whole)
        parts: list[bytes | Chunk] = [SIGNATURE]
        existing_xmp: bytes | None = None
        parsed: XmpPacket | None = None
        xmp_slot: int | None = None  # index in parts where the XMP chunk goes
        seen_idat = False
        for chunk in chunks:
            if chunk.type == b"IDAT" and not seen_idat:
                seen_idat = True
                if xmp_slot is None:
                    xmp_slot = len(parts)
                    parts.append(b"")
            if chunk.type in _TEXT_TYPES and _oversized(chunk):
                key = _keyword(src, chunk)
                if key == XMP_KEYWORD.decode() or "AIGC" in key:
                    raise CorruptFile(f"the {chunk.type.decode('latin-1')} chunk {key!r} at offset {chunk.offset} "
                                      f"holds {chunk.length:,} bytes, over the {MAX_TEXT >> 20} MiB a packet may "
                                      "have; refusing to merge it (file left unchanged)")
                parts.append(chunk)  # someone else's text: copied as it is, CRC-checked on the way
            elif chunk.type in _TEXT_TYPES:
                data = _read_checked(src, chunk)
                key, raw, encoding = text_chunk_bytes(chunk.type, data)
                if key == XMP_KEYWORD.decode():
                    # A tEXt/zTXt packet is merged like an iTXt one and moves into the iTXt chunk: left
                    # beside it, readers would see two packets (and any record in it twice).
                    if existing_xmp is not None:
                        raise CorruptFile("two XMP chunks; refusing to guess which to keep")
                    # iTXt text as before (a lenient decode); a tEXt/zTXt packet's bytes are XMP's UTF-8
                    existing_xmp = raw.decode(encoding, "replace").encode("utf-8") if chunk.type == b"iTXt" else raw
                    read = self._xmp_read
                    if read is not None and read[0] is src and read[1] == chunk.offset:
                        # the packet read() parsed from these bytes (one it had to repair is parsed again,
                        # strictly, by build_xmp); merged into below, so usable once
                        parsed, self._xmp_read = read[2], None
                    if not seen_idat:
                        xmp_slot = len(parts)  # keep it where it was
                        parts.append(b"")
                    # an XMP chunk after IDAT moves to before IDAT (the record belongs in the header)
                    continue
                if "AIGC" in key:
                    continue  # an old text-chunk record: replaced by the XMP record (never two)
                parts.append(src.pread(chunk.offset, chunk.length + 12))
            elif chunk.type == b"eXIf" and not _oversized(chunk):
                exif = bytearray(_read_checked(src, chunk))
                try:
                    directory = TiffDirectory(exif)
                    old = exif_record_entries(directory)
                except CorruptFile:
                    old = []
                for entry in old:
                    blank_entry(exif, entry)
                parts.append(make_chunk(b"eXIf", bytes(exif)) if old
                             else src.pread(chunk.offset, chunk.length + 12))
            else:
                parts.append(chunk)
        assert xmp_slot is not None
        parts[xmp_slot] = xmp_chunk(_aligned(parts, xmp_slot, build_xmp(existing_xmp, label, parsed)))
        # Chunks we do not parse (the image data above all) are copied as they are, runs of adjacent ones in one
        # kernel copy; their CRCs are not ours to check (a reader of the image does that), so the pixels never
        # pass through Python (issue 15: the CRC-checked copy was 3.5x a plain copy).
        run_start: int | None = None
        run_end = 0
        for part in [*parts, b""]:
            if isinstance(part, Chunk) and run_start is not None and part.offset == run_end:
                run_end = part.offset + part.length + 12
                continue
            if run_start is not None:
                _copy_run(src, run_start, run_end, dst)
                run_start = None
            if isinstance(part, Chunk):
                run_start, run_end = part.offset, part.offset + part.length + 12
            else:
                dst.write(part)
        # Bytes after IEND (a vendor trailer, an appended archive) are not ours to drop: copy them as
        # the JPEG handler copies whatever follows its image data.
        src.seek(chunks[-1].end)
        trailer = src.copy_to(dst)
        self._written = _layout(parts, trailer)


def _layout(parts: list[bytes | Chunk], trailer: int) -> tuple[int, list[Chunk]]:
    """(size, chunks) of the file *parts* make: each bytes part after the signature is one whole chunk, each
    :class:`Chunk` part is copied as it is, then *trailer* bytes after IEND."""
    chunks: list[Chunk] = []
    pos = 0
    for part in parts:
        if isinstance(part, Chunk):
            chunks.append(Chunk(part.type, pos, part.length))
            pos += part.length + 12
            continue
        if pos and part:
            length, ctype = struct.unpack(">I4s", part[:8])
            chunks.append(Chunk(ctype, pos, length))
        pos += len(part)
    return pos + trailer, chunks


def _layout_matches(src: CountingReader, chunks: list[Chunk]) -> bool:
    """Whether *src* has the layout write_metadata planned: the signature and the headers of every chunk up to
    the first IDAT, and of IEND, read back.  The chunks between were copied unchanged by the kernel, each run's
    length checked (:func:`_copy_run`), so their headers are the source's, already walked; what read() then
    parses (every metadata chunk, CRC included) it reads from *src* itself."""
    if src.pread(0, 8) != SIGNATURE or not chunks or chunks[-1].type != b"IEND":
        return False
    first_idat = next((i for i, c in enumerate(chunks) if c.type == b"IDAT"), len(chunks) - 1)
    for chunk in [*chunks[:first_idat + 1], chunks[-1]]:
        if src.pread(chunk.offset, 8) != struct.pack(">I4s", chunk.length, chunk.type):
            return False
    return True


def _aligned(parts: list[bytes | Chunk], slot: int, packet: bytes) -> bytes:
    """*packet* padded so the first chunk copied after it (the image data) moves by a multiple of COPY_ALIGN."""
    from .jpeg import pad_packet

    after = next((p for p in parts[slot + 1:] if isinstance(p, Chunk)), None)
    if after is None:
        return packet
    before = sum(p.length + 12 if isinstance(p, Chunk) else len(p) for p in parts[:slot])
    gap = sum(len(p) for p in parts[slot + 1:parts.index(after)] if isinstance(p, bytes))
    shift = before + len(xmp_chunk(packet)) + gap - after.offset
    return pad_packet(packet, -shift % COPY_ALIGN)


def _copy_run(src: CountingReader, start: int, end: int, dst: BinaryIO) -> None:
    """Copy the bytes [start, end) of *src* (whole chunks) unchanged; a short read is a truncated file."""
    src.seek(start)
    if src.copy_to(dst, end - start) != end - start:
        raise CorruptFile(f"corrupt: PNG truncated inside the chunks at offsets {start}-{end}")


def _generator(text: str, where: str) -> Trace | None:
    from ._image_meta import generator_trace

    return generator_trace(text, where)
