"""TIFF: the record lives in IFD0 tag 700 (XMP), type BYTE or UNDEFINED (XMP Part 3, TC260 image guide).

A TIFF file is a header pointing at a chain of image file directories (IFDs, one per page); every
value larger than the entry's value field lives at an absolute file offset.  Reading walks the
chain (guarding against loops, absurd entry counts and offsets past the end, and checking that
every page's strips or tiles lie inside the file), then reads only the few values it needs: tag
700, the text tags that can hold a record, and the Exif sub-IFD's UserComment.  Pixels are never read.

Writing keeps every existing offset valid by never moving a byte:

* IFD0 already has tag 700: the packet is merged and written at the end of the file and the
  12-byte entry is patched in place to point at it; the old packet is zeroed (or, when it was the
  tail of the file -- our own earlier write -- overwritten).
* IFD0 has no tag 700: a copy of IFD0 with the new entry is appended, followed by the packet, and
  the header's first-IFD offset is repointed to it.  The old IFD0 stays behind unreferenced; the
  next-IFD link (other pages), strips, tiles and every other IFD are untouched.
* EXIF records (ImageDescription / XPComment in IFD0, UserComment in the Exif IFD) are blanked in
  place, same length.

BigTIFF is read (tag 700 and the text records) but not written (``UnsupportedOperation``).

Where the record sits relative to the image data is not meaningful in TIFF (IFD values live
anywhere, and readers reach tag 700 through the header before any pixel), so labels carry
``before_payload=None``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import Finding, FoundLabel, Level
from ._bmff import copy_with_patches
from ._exif import IfdEntry, blank_entry, decode_user_comment
from ._image_meta import build_xmp, evidence_from_xmp, found_label, generator_trace, looks_like_record
from .base import Evidence, FormatHandler, ImplicitLabel

__all__ = ["TiffHandler", "TAG_XMP"]

TAG_XMP = 0x02BC
TAG_EXIF_IFD = 0x8769
TAG_IMAGE_DESCRIPTION = 0x010E
TAG_SOFTWARE = 0x0131
TAG_XP_COMMENT = 0x9C9C
TAG_USER_COMMENT = 0x9286
_DATA_TAGS = ((0x0111, 0x0117), (0x0144, 0x0145))  # (StripOffsets, StripByteCounts), (TileOffsets, TileByteCounts)
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_INT_TYPES = {3: "H", 4: "I", 16: "Q", 13: "I", 18: "Q"}
#: pages walked at most (a file with more is refused rather than walked forever)
MAX_IFDS = 65536
#: text values read at most (a record is a few hundred bytes)
MAX_TEXT = 1 << 20
#: XMP packets read at most
MAX_XMP = 16 << 20
#: strips or tiles checked per page at most (beyond, the array is trusted)
MAX_DATA_ENTRIES = 1 << 20
_NAMES = {TAG_IMAGE_DESCRIPTION: "ImageDescription", TAG_XP_COMMENT: "XPComment", TAG_USER_COMMENT: "UserComment"}


@dataclass
class Entry:
    """One TIFF IFD entry: tag, type, count, and where the entry and its value are."""
    tag: int
    type: int
    count: int
    entry_offset: int  # absolute offset of the 12- (20-) byte entry
    value_offset: int  # absolute offset of the value bytes (inside the entry when inline)
    size: int  # value bytes; -1 for an unknown type
    raw: bytes  # the entry as stored
    inline: bool  # the value sits in the entry itself


@dataclass
class Ifd:
    """A TIFF image file directory: its offset, entries and the next IFD's offset."""
    offset: int
    entries: list[Entry]
    next_offset: int

    def get(self, tag: int) -> Entry | None:
        return next((e for e in self.entries if e.tag == tag), None)


class TiffFile:
    """The header and the IFD chain of a classic or Big TIFF file."""

    def __init__(self, src: CountingReader) -> None:
        self.src = src
        if src.size == 0:
            raise CorruptFile("empty file")
        head = src.read_at(0, 16)
        if len(head) < 8:
            raise CorruptFile("truncated: the file ends inside the TIFF header")
        if head[:2] not in (b"II", b"MM"):
            raise CorruptFile("not a TIFF file (bad byte-order mark)")
        self.e = e = "<" if head[:2] == b"II" else ">"
        (version,) = struct.unpack_from(e + "H", head, 2)
        if version == 42:
            self.big = False
            (self.first,) = struct.unpack_from(e + "I", head, 4)
        elif version == 43:
            if len(head) < 16:
                raise CorruptFile("truncated: the file ends inside the BigTIFF header")
            bytesize, zero, self.first = struct.unpack_from(e + "HHQ", head, 4)
            if bytesize != 8 or zero != 0:
                raise CorruptFile("corrupt: bad BigTIFF header")
            self.big = True
        else:
            raise CorruptFile(f"not a TIFF file (version {version})")
        self.header_size = 16 if self.big else 8
        self.pages: list[Ifd] = []
        seen: set[int] = set()
        offset = self.first
        if offset == 0:
            raise CorruptFile("corrupt: the TIFF header points at no IFD")
        while offset:
            if offset in seen:
                raise CorruptFile(f"corrupt: the IFD chain loops back to offset {offset}")
            if len(seen) >= MAX_IFDS:
                raise CorruptFile(f"corrupt: more than {MAX_IFDS} IFDs in the chain")
            seen.add(offset)
            ifd = self.read_ifd(offset, f"IFD{len(self.pages)}")
            self.pages.append(ifd)
            offset = ifd.next_offset

    @property
    def ifd0(self) -> Ifd:
        return self.pages[0]

    def read_ifd(self, offset: int, what: str, *, strict: bool = True) -> Ifd:
        src, e = self.src, self.e
        count_size, entry_size, ptr = (8, 20, "Q") if self.big else (2, 12, "I")
        if offset < self.header_size or offset + count_size > src.size:
            raise CorruptFile(f"corrupt: {what} offset {offset} lies outside the file ({src.size} bytes)")
        (count,) = struct.unpack(e + ("Q" if self.big else "H"), src.read_at(offset, count_size))
        end = offset + count_size + entry_size * count + (8 if self.big else 4)
        if end > src.size:
            raise CorruptFile(f"truncated: {what} at offset {offset} claims {count} entries, past the end of the file")
        raw = src.read_at(offset + count_size, entry_size * count + (8 if self.big else 4))
        entries = []
        inline_max = 8 if self.big else 4
        for i in range(count):
            pos = i * entry_size
            chunk = raw[pos:pos + entry_size]
            if self.big:
                tag, typ, n = struct.unpack_from(e + "HHQ", chunk)
            else:
                tag, typ, n = struct.unpack_from(e + "HHI", chunk)
            head = 12 if self.big else 8
            entry_offset = offset + count_size + pos
            size = _TYPE_SIZES[typ] * n if typ in _TYPE_SIZES else -1
            inline = 0 <= size <= inline_max
            if inline:
                value_offset = entry_offset + head
            else:
                (value_offset,) = struct.unpack_from(e + ptr, chunk, head)
                if size >= 0 and value_offset + size > src.size:
                    if strict:
                        raise CorruptFile(f"truncated: {what} tag {tag} value at offset {value_offset} "
                                          f"({size} bytes) runs past the end of the file")
                    continue
            entries.append(Entry(tag, typ, n, entry_offset, value_offset, size, chunk, inline))
        (next_offset,) = struct.unpack_from(e + ptr, raw, entry_size * count)
        return Ifd(offset, entries, next_offset)

    def value(self, entry: Entry, limit: int) -> bytes:
        if entry.size < 0:
            return b""
        if entry.size > limit:
            raise CorruptFile(f"tag {entry.tag} holds {entry.size} bytes, more than the {limit}-byte limit")
        data = self.src.read_at(entry.value_offset, entry.size)
        if len(data) != entry.size:
            raise CorruptFile(f"truncated: the file ends inside the value of tag {entry.tag}")
        return data

    def ints(self, entry: Entry) -> list[int]:
        code = _INT_TYPES.get(entry.type)
        if code is None:
            raise CorruptFile(f"corrupt: tag {entry.tag} has type {entry.type}, not an integer type")
        data = self.value(entry, MAX_DATA_ENTRIES * 8)
        return list(struct.unpack(f"{self.e}{entry.count}{code}", data))

    def check_image_data(self) -> list[tuple[int, int]]:
        """Every page's strips or tiles lie inside the file (a truncated file fails here); their ranges."""
        ranges = []
        for n, page in enumerate(self.pages):
            for offsets_tag, counts_tag in _DATA_TAGS:
                offsets, counts = page.get(offsets_tag), page.get(counts_tag)
                if offsets is None or counts is None:
                    continue
                if offsets.count != counts.count:
                    raise CorruptFile(f"corrupt: page {n} has {offsets.count} data offsets but {counts.count} "
                                      "byte counts")
                if offsets.count > MAX_DATA_ENTRIES:
                    continue
                for off, length in zip(self.ints(offsets), self.ints(counts), strict=False):
                    if off + length > self.src.size:
                        raise CorruptFile(f"truncated: image data of page {n} at offset {off} ({length} bytes) "
                                          f"runs past the end of the file ({self.src.size} bytes)")
                    ranges.append((off, length))
        return ranges

    def structure_ranges(self, skip: Entry | None = None) -> list[tuple[int, int]]:
        """The header, every IFD table and every out-of-line value but *skip*'s: bytes something points at."""
        entry_size, tail = (20, 8) if self.big else (12, 4)
        count_size = 8 if self.big else 2
        ifds = list(self.pages)
        exif = self.exif_ifd()
        if exif is not None:
            ifds.append(exif)
        out = [(0, self.header_size)]
        for ifd in ifds:
            out.append((ifd.offset, count_size + entry_size * len(ifd.entries) + tail))
            out += [(x.value_offset, x.size) for x in ifd.entries if not x.inline and x.size > 0 and x is not skip]
        return out

    def exif_ifd(self) -> Ifd | None:
        entry = self.ifd0.get(TAG_EXIF_IFD)
        if entry is None or entry.type not in (4, 13, 16, 18) or entry.count < 1:
            return None
        (offset,) = struct.unpack(self.e + ("Q" if entry.type in (16, 18) else "I"),
                                  self.value(entry, 8)[:8 if entry.type in (16, 18) else 4])
        return self.read_ifd(offset, "Exif IFD", strict=False)

    def text(self, entry: Entry) -> str:
        raw = self.value(entry, MAX_TEXT)
        if entry.tag == TAG_USER_COMMENT:
            return decode_user_comment(raw, self.e)
        if entry.tag == TAG_XP_COMMENT:
            return raw.decode("utf-16-le", "replace").rstrip("\x00")
        return raw.rstrip(b"\x00").decode("utf-8", "replace")

    def record_entries(self) -> list[tuple[str, Entry, str]]:
        """(IFD name, entry, text) of the text tags that hold an AIGC record."""
        out = []
        candidates = [("IFD0", e) for e in self.ifd0.entries if e.tag in (TAG_IMAGE_DESCRIPTION, TAG_XP_COMMENT)]
        exif = self.exif_ifd()
        if exif is not None:
            candidates += [("ExifIFD", e) for e in exif.entries if e.tag == TAG_USER_COMMENT]
        for ifd, entry in candidates:
            if entry.size <= 0 or entry.size > MAX_TEXT:
                continue
            text = self.text(entry)
            if looks_like_record(text):
                out.append((ifd, entry, text))
        return out


class TiffHandler(FormatHandler):
    name = "tiff"
    kind = "image"
    mime = "image/tiff"
    extensions = (".tif", ".tiff")
    normative_carrier = "xmp:TC260:AIGC"
    can_write = True

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return 100
        if head[:8] in (b"II+\x00\x08\x00\x00\x00", b"MM\x00+\x00\x08\x00\x00"):
            return 100
        return 0

    def read(self, src: CountingReader) -> Evidence:
        tiff = TiffFile(src)
        tiff.check_image_data()
        ev = Evidence(self.name, self.kind)
        ifd0 = tiff.ifd0
        for tag, key in ((0x0100, "width"), (0x0101, "height")):
            entry = ifd0.get(tag)
            if entry is not None and entry.type in (3, 4, 16) and entry.count >= 1:
                ev.info[key] = tiff.ints(entry)[0]
        ev.info["pages"] = len(tiff.pages)
        if tiff.big:
            ev.info["bigtiff"] = True
        xmp = ifd0.get(TAG_XMP)
        if xmp is not None:
            where = f"IFD0 tag 700 (XMP) at offset {xmp.value_offset}"
            if xmp.type not in (1, 7):
                ev.findings.append(Finding("format.tiff", Level.WARNING,
                                           f"tag 700 has type {xmp.type}; XMP Part 3 asks for BYTE (1) or "
                                           "UNDEFINED (7)", location=where))
            labels, traces, findings = evidence_from_xmp(tiff.value(xmp, MAX_XMP), where, offset=xmp.value_offset)
            ev.labels += labels
            ev.traces += traces
            ev.findings += findings
        for ifd, entry, text in tiff.record_entries():
            name = _NAMES[entry.tag]
            ev.labels.append(_exif_label(name, f"{ifd} {name} at offset {entry.value_offset}", text,
                                         entry.value_offset))
        software = ifd0.get(TAG_SOFTWARE)
        if software is not None and 0 < software.size <= MAX_TEXT:
            trace = generator_trace(tiff.text(software), "IFD0 Software")
            if trace is not None:
                ev.traces.append(trace)
        return ev

    def image_access(self, src: CountingReader) -> Any:
        """The picture for the explicit step and the image rule (structure and declared sizes checked first)."""
        from .media_image import TiffAccess, read_all

        return TiffAccess(read_all(src))

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        tiff = TiffFile(src)
        if tiff.big:
            raise UnsupportedOperation("writing the implicit label into BigTIFF is not supported; file left unchanged")
        image_data = tiff.check_image_data()
        e, ifd0 = tiff.e, tiff.ifd0
        patches: dict[int, bytes] = {}

        # Old records in the EXIF text tags: blanked in place, same length (never two records).
        for _ifd, entry, _text in tiff.record_entries():
            value = bytearray(tiff.value(entry, MAX_TEXT))
            blank_entry(value, IfdEntry("", entry.tag, entry.type, entry.count, 0, entry.size))
            patches[entry.value_offset] = bytes(value)

        xmp = ifd0.get(TAG_XMP)
        existing = tiff.value(xmp, MAX_XMP) if xmp is not None else None
        packet = build_xmp(existing, label)
        out_end = src.size  # where the copied original ends
        if xmp is not None and not xmp.inline:
            old = (xmp.value_offset, xmp.size)
            others = tiff.structure_ranges(skip=xmp) + image_data
            if not any(o < old[0] + old[1] and old[0] < o + n for o, n in others):
                if old[0] + old[1] == src.size and old[0] >= tiff.header_size:
                    out_end = old[0]  # the old packet was the file's tail (an earlier mark): write over it
                else:
                    patches[old[0]] = b"\x00" * old[1]  # no stale record stays readable
        start = out_end + (out_end & 1)  # TIFF offsets are word-aligned
        if xmp is not None:
            packet_offset = start
            typ = xmp.type if xmp.type in (1, 7) else 1
            patches[xmp.entry_offset] = struct.pack(e + "HHII", TAG_XMP, typ, len(packet), packet_offset)
            tail = packet
        else:
            count = len(ifd0.entries) + 1
            if count > 0xFFFF:
                raise UnsupportedOperation("IFD0 has no room for another entry")
            new_ifd = start
            packet_offset = new_ifd + 2 + 12 * count + 4
            new_entry = struct.pack(e + "HHII", TAG_XMP, 1, len(packet), packet_offset)
            # the entries as stored (values stay where they are), in ascending tag order as TIFF requires
            raws = sorted([x.raw for x in ifd0.entries] + [new_entry],
                          key=lambda raw: struct.unpack_from(e + "H", raw)[0])
            tail = struct.pack(e + "H", count) + b"".join(raws) + struct.pack(e + "I", ifd0.next_offset) + packet
            patches[4] = struct.pack(e + "I", new_ifd)
        if start + len(tail) > 0xFFFFFFFF:
            raise UnsupportedOperation("the labelled file would pass 4 GiB, beyond classic TIFF offsets")
        copy_with_patches(src, dst, 0, out_end, sorted(patches.items()))
        dst.write(b"\x00" * (start - out_end) + tail)


def _exif_label(name: str, where: str, text: str, offset: int) -> FoundLabel:
    return found_label(f"exif:{name}", where, text, normative=False, offset=offset)

