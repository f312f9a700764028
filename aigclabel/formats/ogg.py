"""Ogg Vorbis and Ogg Opus: the record is the Vorbis comment field ``AIGC=<json>``.

The comment header is the second packet of the stream, so reading walks only the first pages
(checking their CRCs) until that packet is complete.  Writing goes through mutagen
(``OggVorbis`` / ``OggOpus``) on the copied file: it re-paginates the header packets and, when the
number of header pages changes, renumbers the later pages; the audio packets themselves are not
touched (no re-encoding).  Only the first logical stream of a chained file is read and labelled.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile
from ._audio_meta import MAX_TAG, load_vorbis_comment, mutagen_errors, vorbis_evidence, vorbis_set_record
from .base import Evidence, FormatHandler, ImplicitLabel

if TYPE_CHECKING:  # pragma: no cover
    from .media_audio import AudioAccess

CAPTURE = b"OggS"
VORBIS_ID, VORBIS_COMMENT = b"\x01vorbis", b"\x03vorbis"
OPUS_ID, OPUS_COMMENT = b"OpusHead", b"OpusTags"
#: pages we are willing to walk to assemble the comment packet (cover art spans many 64 KB pages)
MAX_HEADER_PAGES = 2048

# The Ogg CRC is CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR.
# zlib computes the reflected variant (initial value and final XOR 0xFFFFFFFF); feeding it bit-reversed
# bytes, cancelling its initial and final XOR, and bit-reversing the 32-bit result gives the Ogg CRC.
_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _rev32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


def ogg_crc(data: bytes) -> int:
    return _rev32(zlib.crc32(data.translate(_BITREV), 0xFFFFFFFF) ^ 0xFFFFFFFF)


@dataclass
class Page:
    """One Ogg page's header fields and, when read, its body."""
    offset: int
    flags: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes | None  # None when the body was skipped

    @property
    def size(self) -> int:
        return 27 + len(self.lacing) + sum(self.lacing)


def _read_page(src: CountingReader, pos: int, *, body: bool) -> Page:
    head = src.read_at(pos, 27)
    if len(head) < 27:
        raise CorruptFile(f"truncated: the Ogg stream ends inside a page header at offset {pos}")
    if head[:4] != CAPTURE or head[4] != 0:
        raise CorruptFile(f"corrupt Ogg stream: no page at offset {pos}")
    flags = head[5]
    serial, sequence, crc = struct.unpack("<III", head[14:26])
    lacing = src.read_exact(head[26], f"the Ogg page header at offset {pos}")
    size = sum(lacing)
    data = None
    if body:
        data = src.read_exact(size, f"the Ogg page at offset {pos}")
        if ogg_crc(head[:22] + b"\x00\x00\x00\x00" + head[26:] + lacing + data) != crc:
            raise CorruptFile(f"corrupt Ogg stream: bad CRC in the page at offset {pos}")
    elif pos + 27 + len(lacing) + size > src.size:
        raise CorruptFile(f"truncated: the Ogg page at offset {pos} runs past the end of the file")
    return Page(pos, flags, serial, sequence, lacing, data)


def header_packets(src: CountingReader, count: int = 2) -> tuple[list[bytes], list[int]]:
    """The first *count* packets of the first logical stream, and the offset of the page each starts on."""
    first = _read_page(src, 0, body=True)
    if not first.flags & 0x02:
        raise CorruptFile("corrupt Ogg stream: the first page is not a beginning-of-stream page")
    packets: list[bytes] = []
    starts: list[int] = []
    partial = bytearray()
    page: Page | None = first
    pos = 0
    for _ in range(MAX_HEADER_PAGES):
        assert page is not None
        if page.serial == first.serial:
            assert page.body is not None
            continued = bool(page.flags & 0x01)
            if continued != bool(partial):
                raise CorruptFile(f"corrupt Ogg stream: page at offset {page.offset} breaks a header packet")
            at = 0
            for lace in page.lacing:
                if not partial:
                    starts.append(page.offset)
                partial += page.body[at:at + lace]
                at += lace
                if len(partial) > MAX_TAG:
                    raise CorruptFile(f"the Ogg header packet passes {MAX_TAG >> 20} MiB; refusing to read it")
                if lace < 255:
                    packets.append(bytes(partial))
                    partial.clear()
                    if len(packets) == count:
                        return packets, starts
            if page.flags & 0x04:
                break
        pos += page.size
        if pos >= src.size:
            break
        peek = _read_page(src, pos, body=False)
        page = _read_page(src, pos, body=True) if peek.serial == first.serial else peek
    raise CorruptFile("truncated or corrupt Ogg stream: the comment header packet is incomplete")


class _OggHandler(FormatHandler):
    kind = "audio"
    normative_carrier = "vorbiscomment:AIGC"
    can_write = True
    _id_magic: bytes
    _comment_magic: bytes
    _framing: bool
    _codec: str

    @classmethod
    def score(cls, head: bytes) -> int:
        if len(head) < 28 or head[:4] != CAPTURE or not head[5] & 0x02:
            return 0
        start = 27 + head[26]
        return 100 if head[start:start + len(cls._id_magic)] == cls._id_magic else 0

    def _parse(self, src: CountingReader):
        packets, starts = header_packets(src)
        ident, comment = packets
        if not ident.startswith(self._id_magic):
            raise CorruptFile(f"not an Ogg {self._codec} stream")
        if not comment.startswith(self._comment_magic):
            raise CorruptFile(f"corrupt Ogg {self._codec} stream: the second packet is not the comment header")
        where = f"{self._codec} comment header (page at offset {starts[1]})"
        tags = load_vorbis_comment(comment[len(self._comment_magic):], where, framing=self._framing)
        return ident, tags, where, starts[1]

    def _info(self, ident: bytes) -> dict:
        raise NotImplementedError

    def read(self, src: CountingReader) -> Evidence:
        ident, tags, where, offset = self._parse(src)
        ev = Evidence(self.name, self.kind, info=self._info(ident))
        ev.labels, ev.traces = vorbis_evidence(tags, where=where, offset=offset, before_payload=True)
        return ev

    def _mutagen_class(self):
        raise NotImplementedError

    def audio_access(self, src: CountingReader) -> AudioAccess:
        """Windows decoded with PyAV; a prompt inserted by re-encoding (see :mod:`._av_splice`)."""
        from ._av_splice import AvAccess

        return AvAccess(src, self.name, self._codec)

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        self._parse(src)  # fail early, with our message, on a broken header
        src.seek(0)
        src.copy_to(dst)
        dst.seek(0)
        with mutagen_errors(f"Ogg {self._codec} stream"):
            audio = self._mutagen_class()(dst)
            vorbis_set_record(audio.tags, label.record_json)
            audio.save(dst)


class OggVorbisHandler(_OggHandler):
    name = "ogg"
    mime = "audio/ogg"
    extensions = (".ogg", ".oga")
    _id_magic, _comment_magic, _framing, _codec = VORBIS_ID, VORBIS_COMMENT, True, "Vorbis"

    def _info(self, ident: bytes) -> dict:
        if len(ident) < 16:
            raise CorruptFile("corrupt Ogg Vorbis identification header")
        channels, rate = struct.unpack("<BI", ident[11:16])
        return {"codec": "vorbis", "channels": channels, "sample_rate": rate}

    def _mutagen_class(self):
        from mutagen.oggvorbis import OggVorbis

        return OggVorbis


class OpusHandler(_OggHandler):
    name = "opus"
    mime = "audio/ogg; codecs=opus"
    extensions = (".opus",)
    _id_magic, _comment_magic, _framing, _codec = OPUS_ID, OPUS_COMMENT, False, "Opus"

    def _info(self, ident: bytes) -> dict:
        if len(ident) < 19:
            raise CorruptFile("corrupt Opus identification header")
        channels, pre_skip, rate = struct.unpack("<BHI", ident[9:16])
        return {"codec": "opus", "channels": channels, "pre_skip": pre_skip, "input_sample_rate": rate,
                "sample_rate": 48000}

    def _mutagen_class(self):
        from mutagen.oggopus import OggOpus

        return OggOpus
