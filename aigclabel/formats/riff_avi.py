"""AVI (RIFF ``AVI ``): the record is a ``LIST``/``INFO`` sub-chunk ``AIGC`` (TC260 2025 video guide).

Layout (what ffmpeg writes; OpenDML files add ``RIFF AVIX`` chunks after the first)::

    RIFF 'AVI '
      LIST 'hdrl'     avih (frame period, frame count, width, height), LIST 'strl' per stream
      LIST 'INFO'     INAM, ISFT ... and the record: 'AIGC', little-endian size, the JSON, pad byte
      JUNK            padding before the media (ffmpeg leaves 1016 bytes)
      LIST 'movi'     the media
      idx1

Reading walks chunk headers only and seeks past ``movi`` and ``idx1``.  Besides the normative
sub-chunk it reports: an INFO sub-chunk whose id contains ``AIGC`` elsewhere (e.g. an INFO list
inside ``hdrl``), an INFO value that *is* a record (``ICMT`` holding the JSON), and a top-level
``AIGC`` chunk (the WAV carrier).  ``ISFT``/``ICMT`` naming an AI generator are traces.  ffmpeg
reads every INFO sub-chunk into the file's metadata, so ffprobe shows the record as
``format.tags.AIGC``.  A C2PA manifest store (the C2PA SDK signs AVI as ``video/x-msvideo``) is a
top-level ``C2PA`` chunk after ``idx1``: the walker passes over it, :mod:`aigclabel.c2pa` reads it.

Writing is done **in place only**: the top-level ``LIST INFO`` before ``movi`` is rewritten with
the record, taking the room it needs from the ``JUNK`` chunk(s) right after it (or a ``JUNK``
chunk before ``movi`` becomes ``LIST INFO`` + a smaller ``JUNK``), so no media byte moves and
neither ``idx1`` (movi-relative, or absolute) nor the OpenDML ``indx``/``ix##`` indexes (absolute
file offsets) need patching.  Records elsewhere become ``JUNK`` of the same size.  Without such
padding the file is refused (:class:`UnsupportedOperation`) rather than moving the media.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._audio_meta import (IffChunk, audio_generator_trace, is_record_key, note_c2pa_chunks, read_chunk,
                          walk_iff)
from ._bmff import copy_with_patches
from ._image_meta import found_label, looks_like_record
from ._riff import iff_chunk, list_subchunks
from .base import Evidence, FormatHandler, ImplicitLabel
from .media_video import VideoAccess

__all__ = ["AviHandler", "RECORD_ID"]

RECORD_ID = b"AIGC"
_TRACE_IDS = (b"ISFT", b"ICMT", b"ISRC", b"IENG", b"ITCH")
#: a hdrl list is read whole (stream headers, OpenDML super indexes)
MAX_HDRL = 16 << 20


def _text(raw: bytes) -> str:
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _junk(total: int) -> bytes:
    """A JUNK chunk of exactly *total* bytes (header included; *total* even and >= 8)."""
    assert total >= 8 and total % 2 == 0
    return b"JUNK" + struct.pack("<I", total - 8) + bytes(total - 8)


@dataclass
class _Avi:
    """An AVI's RIFF end, chunks, movi list and LIST types, as its walk found them."""
    riff_end: int
    chunks: list[IffChunk]
    movi: IffChunk | None
    lists: dict[int, bytes]  # offset of a LIST chunk -> its type

    def before_payload(self, offset: int) -> bool | None:
        return None if self.movi is None else offset < self.movi.offset


def _parse(src: CountingReader) -> _Avi:
    if src.size == 0:
        raise CorruptFile("empty file")
    head = src.read_at(0, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        raise CorruptFile("not an AVI file (bad RIFF header)")
    (size,) = struct.unpack("<I", head[4:8])
    riff_end = 8 + size
    if riff_end > src.size + 1:
        raise CorruptFile(f"truncated: the RIFF header claims {riff_end} bytes, the file has {src.size}")
    riff_end = min(riff_end, src.size)
    chunks = walk_iff(src, 12, riff_end, big_endian=False, what="AVI")
    lists = {}
    for c in chunks:
        if c.id == b"LIST":
            if c.size < 4:
                raise CorruptFile(f"corrupt AVI: LIST chunk at offset {c.offset} is too short for its type")
            lists[c.offset] = src.read_at(c.data_offset, 4)
    movi = next((c for c in chunks if c.id == b"LIST" and lists[c.offset] == b"movi"), None)
    if not any(c.id == b"LIST" and lists[c.offset] == b"hdrl" for c in chunks):
        raise CorruptFile("corrupt AVI: no 'hdrl' header list")
    return _Avi(riff_end, chunks, movi, lists)


def _is_record(cid: bytes, data: bytes) -> bool:
    return is_record_key(cid.decode("latin-1")) or looks_like_record(_text(data))


class AviHandler(FormatHandler):
    name = "avi"
    kind = "video"
    mime = "video/x-msvideo"
    extensions = (".avi",)
    normative_carrier = "riff:LIST/INFO:AIGC"
    can_write = True
    c2pa_manifest_read = True  # a top-level C2PA chunk; a remote reference in an XMP chunk

    @classmethod
    def score(cls, head: bytes) -> int:
        return 100 if head[:4] == b"RIFF" and head[8:12] == b"AVI " else 0

    def read(self, src: CountingReader) -> Evidence:
        avi = _parse(src)
        ev = Evidence(self.name, self.kind, info={"container": "avi"})
        note_c2pa_chunks(avi.chunks, ev.info)
        for c in avi.chunks:
            where = f"{c.name!r} chunk at offset {c.offset}"
            before = avi.before_payload(c.offset)
            kind = avi.lists.get(c.offset)
            if c.id == RECORD_ID:
                ev.labels.append(found_label("riff:AIGC", where, _text(read_chunk(src, c, "AVI")), normative=False,
                                             offset=c.offset, before_payload=before))
            elif kind == b"hdrl":
                self._hdrl(src, c, ev)
            elif kind == b"INFO":
                self._info(read_chunk(src, c, "AVI"), f"LIST 'INFO' at offset {c.offset}", ev, top=True,
                           offset=c.offset, before=before)
        if avi.movi is not None:
            ev.info["movi_offset"] = avi.movi.offset
        ev.info["openDML"] = src.read_at(avi.riff_end + (avi.riff_end & 1), 12)[8:12] == b"AVIX"
        return ev

    def _info(self, body: bytes, where: str, ev: Evidence, *, top: bool, offset: int, before: bool | None) -> None:
        for cid, _pos, data in list_subchunks(body, where):
            name = cid.decode("latin-1")
            loc = f"{where}, INFO {name!r}"
            if _is_record(cid, data):
                normative = top and cid == RECORD_ID
                carrier = f"riff:LIST/INFO:{name}" if top else f"riff:hdrl/LIST/INFO:{name}"
                ev.labels.append(found_label(carrier, loc, _text(data), normative=normative, offset=offset,
                                             before_payload=before))
            elif cid in _TRACE_IDS and (t := audio_generator_trace(_text(data), loc)):
                ev.traces.append(t)

    def _hdrl(self, src: CountingReader, c: IffChunk, ev: Evidence) -> None:
        if c.size > MAX_HDRL:
            raise CorruptFile(f"corrupt AVI: the 'hdrl' list at offset {c.offset} claims {c.size} bytes")
        body = read_chunk(src, c, "AVI")
        tracks = []
        for cid, pos, data in list_subchunks(body, f"LIST 'hdrl' at offset {c.offset}"):
            if cid == b"avih" and len(data) >= 40:
                period, _rate, _pad, _flags, frames, _init, streams, _buf, w, h = struct.unpack("<10I", data[:40])
                ev.info.update(width=w, height=h, frames=frames, streams=streams)
                if period and frames:
                    ev.info["duration"] = round(frames * period / 1e6, 6)
            elif cid == b"LIST" and data[:4] == b"strl":
                for sid, _p, sdata in list_subchunks(data, f"LIST 'strl' in hdrl at offset {c.offset}"):
                    if sid == b"strh" and len(sdata) >= 8:
                        kind = {b"vids": "video", b"auds": "audio", b"txts": "subtitle"}.get(sdata[:4], "?")
                        tracks.append(kind)
                        if kind == "video":
                            ev.info.setdefault("codec", sdata[4:8].decode("latin-1"))
            elif cid == b"LIST" and data[:4] == b"INFO":
                self._info(data, f"LIST 'INFO' in hdrl at offset {c.offset + 8 + pos}", ev, top=False,
                           offset=c.offset, before=True)
        ev.info["tracks"] = tracks
        if tracks and "video" not in tracks and "audio" in tracks:
            ev.kind = "audio"

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        avi = _parse(src)
        if avi.movi is None:
            raise CorruptFile("corrupt AVI: no 'movi' list")
        top = [c for c in avi.chunks if c.offset < avi.movi.offset]
        edits: dict[int, bytes] = {}  # chunk offset -> same-length replacement
        # records outside the target list become JUNK of the same size, in place
        for c in avi.chunks:
            if c.id == RECORD_ID:
                edits[c.offset] = _junk(8 + c.size + (c.size & 1))
        info = next((c for c in top if avi.lists.get(c.offset) == b"INFO"), None)
        hdrl = next(c for c in avi.chunks if avi.lists.get(c.offset) == b"hdrl")
        hdrl_body = read_chunk(src, hdrl, "AVI") if hdrl.size <= MAX_HDRL else b""
        for cid, _pos, data in list_subchunks(hdrl_body, "hdrl"):
            if cid == b"LIST" and data[:4] == b"INFO" and any(_is_record(i, d)
                                                              for i, _p, d in list_subchunks(data, "")):
                raise UnsupportedOperation("the record sits in an INFO list inside 'hdrl'; moving it out is not "
                                           "supported")
        # the span the new LIST INFO may fill: the old one (or a JUNK chunk) and the JUNK right after it
        if info is not None:
            start = top.index(info)
        else:
            junk = next((i for i, c in enumerate(top) if c.id == b"JUNK"), None)
            if junk is None:
                raise UnsupportedOperation("the AVI has no LIST INFO and no JUNK padding before its media; "
                                           "adding the record would move the media (and its index offsets) -- "
                                           "not supported")
            start = junk
        span = [top[start]]
        for c in top[start + 1:]:
            if c.id != b"JUNK" or c.offset != span[-1].end + (span[-1].size & 1):
                break
            span.append(c)
        room = span[-1].end + (span[-1].size & 1) - span[0].offset
        parts = [iff_chunk(RECORD_ID, label.record_json.encode("utf-8"))]
        if info is not None:
            kept = [iff_chunk(cid, data) for cid, _p, data in list_subchunks(read_chunk(src, info, "AVI"),
                                                                          f"LIST 'INFO' at offset {info.offset}")
                    if not _is_record(cid, data)]
            parts = kept + parts
        new_info = iff_chunk(b"LIST", b"INFO" + b"".join(parts))
        left = room - len(new_info)
        if left < 0 or 0 < left < 8:
            raise UnsupportedOperation(f"the AVI's padding before its media holds {room} bytes, the new LIST INFO "
                                       f"needs {len(new_info)}{' plus a JUNK chunk' if left > 0 else ''}; "
                                       "moving the media is not supported")
        replacement = new_info + (_junk(left) if left else b"")
        # every replacement keeps its length: the rest is copied as it was (by the kernel)
        patches = sorted([(span[0].offset, replacement), *edits.items()])
        copy_with_patches(src, dst, 0, src.size, patches)

    def video_access(self, src: CountingReader) -> VideoAccess:
        # frames for the check of the visible label; the marker does not rewrite AVI
        return VideoAccess(src, self.name)
