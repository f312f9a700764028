"""A minimal TIFF/EXIF directory walker.

Written by hand because we need the *byte offsets* of individual tag values (to blank an old
AIGC record in place without rewriting the EXIF block, which would break maker-note offsets);
Pillow's ``Image.Exif`` gives values but not where they live, and rewriting through it would
re-serialise the whole block.  We only walk IFD0 and the Exif sub-IFD; nothing is decoded
beyond the few text tags that can carry an AIGC record or a generator name, and the generation
parameters AI image tools leave in UserComment (:func:`parameter_traces`).
"""

from __future__ import annotations

import re
import struct

from ..errors import CorruptFile
from ..report import Trace

__all__ = ["IfdEntry", "TiffDirectory", "decode_user_comment", "TAG_NAMES", "parameters_generator",
           "parameter_traces"]

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
EXIF_IFD_POINTER = 0x8769
TAG_NAMES = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x9286: "UserComment",
    0x9C9C: "XPComment",
    0x02BC: "XMP",
}
_MAX_ENTRIES = 4096


class IfdEntry:
    """One EXIF IFD entry: its directory, tag, type, count and where its value bytes are."""

    # a plain class, not a dataclass: it is built on the start-up path of every command, where a dataclass
    # costs 0.5-1 ms to create at import (issue 15); not a NamedTuple, whose tuple.count its field would hide
    __slots__ = ("ifd", "tag", "type", "count", "offset", "size")

    def __init__(self, ifd: str, tag: int, type: int, count: int, offset: int, size: int) -> None:
        self.ifd = ifd  # "IFD0" or "ExifIFD"
        self.tag = tag
        self.type = type
        self.count = count
        self.offset = offset  # offset of the value bytes inside the TIFF block
        self.size = size

    def __repr__(self) -> str:
        return (f"IfdEntry(ifd={self.ifd!r}, tag=0x{self.tag:04X}, type={self.type}, count={self.count}, "
                f"offset={self.offset}, size={self.size})")

    @property
    def name(self) -> str:
        return TAG_NAMES.get(self.tag, f"0x{self.tag:04X}")


class TiffDirectory:
    """The entries of IFD0 and the Exif IFD of a TIFF-structured block (EXIF payload or TIFF file)."""

    def __init__(self, data: bytes | bytearray, *, base_offset: int = 0) -> None:
        self.data = data
        self.base_offset = base_offset  # where the block starts in the file, for locations
        if len(data) < 8 or data[:4] not in (b"II*\x00", b"MM\x00*"):
            raise CorruptFile("EXIF block does not start with a TIFF header")
        self.endian = "<" if data[:2] == b"II" else ">"
        (first,) = struct.unpack_from(self.endian + "I", data, 4)
        self.entries: list[IfdEntry] = []
        self._walk(first, "IFD0", set())

    def _walk(self, offset: int, ifd: str, seen: set[int]) -> None:
        data, e = self.data, self.endian
        if offset in seen or offset < 8 or offset + 2 > len(data):
            if offset in seen:
                return
            raise CorruptFile(f"EXIF {ifd} offset {offset} lies outside the block")
        seen.add(offset)
        (count,) = struct.unpack_from(e + "H", data, offset)
        if count > _MAX_ENTRIES or offset + 2 + 12 * count > len(data):
            raise CorruptFile(f"EXIF {ifd} claims {count} entries, more than the block holds")
        for i in range(count):
            pos = offset + 2 + 12 * i
            tag, typ, n = struct.unpack_from(e + "HHI", data, pos)
            size = _TYPE_SIZES.get(typ, 1) * n
            if size <= 4:
                value_offset = pos + 8
            else:
                (value_offset,) = struct.unpack_from(e + "I", data, pos + 8)
            if value_offset + size > len(data):
                # A damaged entry; skip it rather than fail the whole file (cameras do write these).
                continue
            entry = IfdEntry(ifd, tag, typ, n, value_offset, size)
            self.entries.append(entry)
            if tag == EXIF_IFD_POINTER and ifd == "IFD0" and typ in (4, 13):
                (sub,) = struct.unpack_from(e + "I", data, value_offset)
                self._walk(sub, "ExifIFD", seen)

    def value(self, entry: IfdEntry) -> bytes:
        return bytes(self.data[entry.offset:entry.offset + entry.size])

    def find(self, tag: int) -> list[IfdEntry]:
        return [x for x in self.entries if x.tag == tag]

    def text(self, entry: IfdEntry) -> str:
        """The entry's value as text (ASCII/UTF-8 tags, UserComment, XPComment)."""
        raw = self.value(entry)
        if entry.tag == 0x9286:
            return decode_user_comment(raw, self.endian)
        if entry.tag == 0x9C9C:
            return raw.decode("utf-16-le", "replace").rstrip("\x00")
        return raw.rstrip(b"\x00").decode("utf-8", "replace")


def decode_user_comment(raw: bytes, endian: str = "<") -> str:
    """Decode EXIF UserComment: an 8-byte character-code prefix, then the text."""
    code, body = raw[:8], raw[8:]
    if code == b"UNICODE\x00":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return body.decode("utf-16", "replace").rstrip("\x00")
        return body.decode(_utf16_order(body, endian), "replace").rstrip("\x00")
    if code in (b"ASCII\x00\x00\x00", b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00"):
        return body.rstrip(b"\x00 ").decode("utf-8", "replace")
    # No valid prefix: some writers store plain text.
    return raw.rstrip(b"\x00 ").decode("utf-8", "replace")


def _utf16_order(body: bytes, endian: str) -> str:
    """The byte order of BOM-less UTF-16 text: the TIFF block's, unless the text plainly says otherwise.

    piexif (used by the A1111 web UI) always writes UTF-16BE, whatever the TIFF byte order, and
    other writers mix them too; exiftool guesses the same way.  Mostly-Latin text has its zero bytes
    at the even offsets in big-endian and at the odd ones in little-endian.
    """
    sample = body[:512]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if even > 2 * odd and even >= 4:
        return "utf-16-be"
    if odd > 2 * even and odd >= 4:
        return "utf-16-le"
    return "utf-16-le" if endian == "<" else "utf-16-be"


#: generation-parameter texts are looked at in their first this many characters (prompts can be long)
_MAX_PARAMETERS = 64 << 10
#: the A1111 / Forge "infotext": the prompt, an optional "Negative prompt:" line, then one line of
#: settings that starts with the step count and names the sampler
_A1111 = r"(?:^|\n)Steps: \d+, (?:[^\n]*?, )?Sampler: "
#: Fooocus writes its version into the parameters, as JSON ("version": "Fooocus v2.5.5") or as the
#: last infotext setting ("Version: Fooocus v2.5.5") when its A1111 metadata scheme is chosen
_FOOOCUS = r'(?i)(?:"version"\s*:\s*"|\bversion: )fooocus\b'
# (patterns, not compiled ones: re's own cache compiles them on first use, not at every start-up; issue 15)


def parameters_generator(text: str) -> str | None:
    """Which tool wrote a generation-parameters text: ``"Fooocus"``, ``"Stable Diffusion (A1111/Forge)"``, or None.

    Shared by the PNG ``parameters`` chunk and EXIF UserComment, so the same text gets the same name
    in both carriers.
    """
    head = text[:_MAX_PARAMETERS]
    if re.search(_FOOOCUS, head):
        return "Fooocus"
    if re.search(_A1111, head):
        return "Stable Diffusion (A1111/Forge)"
    return None


def parameter_traces(directory: TiffDirectory, where: str) -> list[Trace]:
    """Generator traces for generation parameters in UserComment or ImageDescription.

    The A1111 / Forge web UI writes a JPEG's or WebP's infotext into UserComment (``UNICODE`` +
    UTF-16), the twin of the PNG ``parameters`` chunk; Fooocus does the same with its JSON.
    """
    traces = []
    for entry in directory.entries:
        if entry.tag not in (0x9286, 0x010E) or entry.ifd not in ("IFD0", "ExifIFD"):
            continue
        text = directory.text(entry)
        name = parameters_generator(text)
        if name is not None:
            traces.append(Trace("generator-metadata", f"{name} parameters ({entry.name}: {text.strip()[:80]})",
                                f"{where}, {entry.ifd} {entry.name}"))
    return traces


def blank_entry(data: bytearray, entry: IfdEntry) -> None:
    """Erase an entry's value in place (same length, so no other offset moves)."""
    if entry.tag == 0x9286 and entry.size >= 8:
        data[entry.offset:entry.offset + 8] = b"ASCII\x00\x00\x00"
        data[entry.offset + 8:entry.offset + entry.size] = b"\x00" * (entry.size - 8)
    else:
        data[entry.offset:entry.offset + entry.size] = b"\x00" * entry.size
