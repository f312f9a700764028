"""Helpers shared by the audio handlers: ID3v2 tags and Vorbis comments (parsed and serialised by
mutagen), IFF/RIFF chunk walking, and writing a copy plan.

mutagen is the parser and serialiser of tag *contents* only; where a tag sits in the container
(the ID3 tag at the head of an MP3, an ``ID3 `` chunk in AIFF, a FLAC metadata block) is handled
by the format modules, so that every byte we do not own is copied as it was, by the kernel where
possible.  Every error mutagen (or a malformed tag inside it) raises becomes
:class:`~aigclabel.errors.CorruptFile` with one message naming the tag.
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Iterator, Sequence, Union

from .._c2pa_scan import STORE_INFO, note_xmp
from .._io import CountingReader
from ..errors import AigcLabelError, CorruptFile
from ..limits import check_count, current as current_limits
from ..report import FoundLabel, Trace
from ._image_meta import found_label, generator_trace, looks_like_record

__all__ = [
    "note_c2pa_chunks", "RECORD_KEY", "mutagen_errors", "is_record_key", "id3_total_size", "load_id3", "id3_evidence",
    "id3_with_record", "id3_without_records", "load_vorbis_comment", "vorbis_evidence",
    "vorbis_set_record", "vorbis_has_records", "IffChunk", "walk_iff", "Copy", "Plan", "emit",
    "plan_size", "read_chunk", "audio_generator_trace", "MAX_TAG", "ID3_PADDING", "id3_has_records",
    "id3_record_frame", "TRACE_SCAN", "CHUNK_ID3_PADDING",
]

#: the key / TXXX description / chunk id the rules name for the record
RECORD_KEY = "AIGC"
#: padding given to a new MP3 ID3 tag when the old one has no room (lets later tag edits stay in place)
ID3_PADDING = 1024
#: padding of an ID3v2 tag we serialise into an IFF chunk (AIFF ``ID3 ``, WAV ``id3 ``): mutagen's own
#: default room.  It must be at least one frame header (10 bytes): exiftool, to tell a v2.4 syncsafe
#: frame size from iTunes' plain one, wants room for a next frame header after every frame larger than
#: 0x7F bytes and otherwise warns "Invalid ID3 frame size" (a record frame always is that large)
CHUNK_ID3_PADDING = 1024
#: ceiling for one metadata structure we hold in memory (a tag with cover art is a few MB)
MAX_TAG = 64 << 20

#: what mutagen and the structures it parses may raise on malformed input
_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    struct.error, ValueError, EOFError, IndexError, KeyError, OverflowError, UnicodeError, TypeError,
)


@contextlib.contextmanager
def mutagen_errors(what: str) -> Iterator[None]:
    """Turn anything mutagen raises on malformed input into one :class:`CorruptFile` naming *what*."""
    from mutagen import MutagenError

    try:
        yield
    except AigcLabelError:
        raise
    except (MutagenError, *_PARSE_ERRORS) as exc:  # type: ignore[misc]  # mypy cannot type a starred tuple
        detail = str(exc) or type(exc).__name__
        raise CorruptFile(f"corrupt {what} ({detail})") from None


def is_record_key(key: str) -> bool:
    """A key, description or field name that names an AIGC record ("must contain AIGC")."""
    return RECORD_KEY in key.upper()


# ----------------------------------------------------------------------------------------- traces

#: AI music / speech generators (word-matched, like the image list in _image_meta)
AUDIO_GENERATORS = ("suno", "udio", "elevenlabs", "musicgen", "audiocraft", "stable audio", "riffusion",
                    "mureka", "mubert")
_AUDIO_GENERATOR_RE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, AUDIO_GENERATORS)) + r")(?![a-z0-9])")


#: a generator name is looked for in the first this many characters of a field (a huge comment must
#: not make the word-boundary search run for seconds)
TRACE_SCAN = 64 << 10


def audio_generator_trace(text: str, location: str) -> Trace | None:
    """A trace when an encoder / software / comment field names an AI generator."""
    text = text[:TRACE_SCAN]
    if trace := generator_trace(text, location):
        return trace
    if _AUDIO_GENERATOR_RE.search(text.lower()):
        return Trace("generator-metadata", f"names an AI audio generator: {text.strip()[:120]}", location)
    return None


# ----------------------------------------------------------------------------------------- ID3v2


def id3_total_size(header: bytes, where: str) -> int | None:
    """Size of the ID3v2 tag (header, body and any footer) whose first 10 bytes are *header*.

    ``None`` when *header* does not start an ID3v2 tag; :class:`CorruptFile` when it starts one
    that cannot be right (unknown major version, a size that is not sync-safe).
    """
    if len(header) < 10 or header[:3] != b"ID3":
        return None
    major, revision, flags = header[3], header[4], header[5]
    if major not in (2, 3, 4) or revision == 0xFF:
        raise CorruptFile(f"corrupt ID3v2 tag at {where}: unknown version 2.{major}.{revision}")
    size_bytes = header[6:10]
    if any(b & 0x80 for b in size_bytes):
        raise CorruptFile(f"corrupt ID3v2 tag at {where}: its size field is not sync-safe")
    size = 0
    for b in size_bytes:
        size = (size << 7) | b
    footer = 10 if major == 4 and flags & 0x10 else 0
    return 10 + size + footer


def load_id3(data: bytes, where: str, *, for_writing: bool = False):
    """The :class:`mutagen.id3.ID3` tag in *data* (which starts with the tag header).

    Read as stored (``translate=False``) for writing, so the tag is saved in its own version with
    its own frames; ID3v2.2, which mutagen cannot write, is upgraded to v2.3.  For reading, frames
    are translated so that v2.2 ``TXX`` is seen as ``TXXX``.
    """
    from mutagen.id3 import ID3

    from ._id3_frames import split_tag

    major = data[3] if len(data) > 3 else 4

    def load(piece: bytes) -> Any:
        tags = ID3()
        if for_writing:
            tags.load(io.BytesIO(piece), translate=(major == 2), v2_version=3, load_v1=False)
        else:
            tags.load(io.BytesIO(piece), load_v1=False)
        return tags

    with mutagen_errors(f"ID3v2 tag at {where}"):
        pieces = split_tag(data)
        if pieces is None:
            return load(data)
        # a tag of many frames, loaded piece by piece (see split_tag) and joined the way mutagen's own load
        # joins frames: same-key frames merged (_add with strict=False is what ID3Tags._read does)
        tags = load(pieces[0])
        for piece in pieces[1:]:
            part = load(piece)
            for frame in part.values():
                tags._add(frame, False)
            tags.unknown_frames.extend(part.unknown_frames)
    return tags


def _frame_texts(frame) -> list[str]:
    return [str(t) for t in getattr(frame, "text", []) if str(t)]


def _is_record_frame(frame) -> bool:
    fid = frame.FrameID
    if fid in ("TXXX", "TXX"):
        return is_record_key(frame.desc)
    if fid in ("COMM", "COM"):
        return is_record_key(frame.desc) or any(looks_like_record(t) for t in _frame_texts(frame))
    return False


def id3_evidence(tags, *, where: str, carrier_prefix: str, normative: bool, offset: int | None,
                 before_payload: bool | None) -> tuple[list[FoundLabel], list[Trace]]:
    """Records (TXXX frames whose description contains AIGC, COMM frames holding a record) and
    generator traces (encoder / software frames) in one ID3 tag.

    The record is normative when *normative* (the tag is the format's normative place) and the
    frame is ``TXXX`` with description exactly ``AIGC``.
    """
    labels: list[FoundLabel] = []
    traces: list[Trace] = []
    for frame in tags.values():
        fid = frame.FrameID
        if _is_record_frame(frame):
            desc = getattr(frame, "desc", "")
            carrier = f"{carrier_prefix}{fid}:{desc}" if desc else f"{carrier_prefix}{fid}"
            is_norm = normative and fid == "TXXX" and desc == RECORD_KEY
            for text in _frame_texts(frame):
                labels.append(found_label(carrier, f"{where}, {fid} frame {desc!r}", text, normative=is_norm,
                                          offset=offset, before_payload=before_payload))
        elif fid in ("TSSE", "TENC", "TXXX", "COMM"):
            for text in _frame_texts(frame):
                if trace := audio_generator_trace(text, f"{where}, {fid} frame"):
                    traces.append(trace)
    return labels, traces


def _sound_unknown_frame(raw: bytes) -> bool:
    """Whether a frame mutagen could not parse is kept when the tag is rewritten.

    mutagen keeps such frames as raw bytes and writes them back.  One whose size field does not
    match its length is the debris of a damaged tag (mutagen stopped there), and writing it back
    would make the new tag unreadable; one that mentions AIGC may be a record we cannot parse, and
    the file must end up with exactly one.  Both are dropped; any other unknown frame is kept.
    """
    if len(raw) < 10 or b"AIGC" in raw.upper():
        return False
    declared = int.from_bytes(raw[4:8], "big")
    syncsafe = 0
    for b in raw[4:8]:
        syncsafe = (syncsafe << 7) | (b & 0x7F)
    return len(raw) - 10 in (declared, syncsafe)


def _serialize_id3(tags, version: int, *, fit: int, padding: int) -> bytes:
    """The tag as bytes, through mutagen's own writer.

    mutagen writes a tag into a file; saving into a scratch buffer that holds only zeros (no old
    tag, no ID3v1 "TAG" at its end) yields exactly the new tag, which we then place ourselves.
    The tag gets ``fit - needed`` bytes of padding when it fits in *fit* bytes, else *padding*.
    """
    tags.unknown_frames = [raw for raw in tags.unknown_frames if _sound_unknown_frame(raw)]
    scratch = 256
    buf = io.BytesIO(b"\x00" * scratch)

    def choose(info) -> int:
        needed = -info.padding  # the scratch buffer had no tag: available 0 - needed
        return fit - needed if fit >= needed else padding

    tags.save(buf, v1=1, v2_version=version, v23_sep=None, padding=choose)
    out = buf.getvalue()
    return out[:len(out) - scratch]


def _tag_version(tags) -> int:
    major = tags.version[1] if getattr(tags, "version", None) else 4
    return 4 if major == 4 else 3


def id3_with_record(existing: bytes | None, record_json: str, where: str, *, fit: int = 0,
                    padding: int = 0) -> bytes:
    """An ID3v2 tag holding every frame of *existing* (if any) except old records, plus ``TXXX:AIGC``.

    The tag keeps its version (v2.4: UTF-8, v2.3: UTF-16; v2.2 is written as v2.3); a new tag is
    v2.4.  *fit* and *padding* as in :func:`_serialize_id3`.
    """
    from mutagen.id3 import ID3, TXXX

    with mutagen_errors(f"ID3v2 tag at {where}"):
        if existing is not None:
            tags = load_id3(existing, where, for_writing=True)
            version = _tag_version(tags)
        else:
            tags = ID3()
            version = 4
        for key in [k for k, frame in tags.items() if _is_record_frame(frame)]:
            del tags[key]
        tags.add(TXXX(encoding=3 if version == 4 else 1, desc=RECORD_KEY, text=[record_json]))
        return _serialize_id3(tags, version, fit=fit, padding=padding)


def id3_has_records(data: bytes, where: str) -> bool:
    """Whether the tag in *data* holds a record frame (TXXX/COMM naming AIGC)."""
    tags = load_id3(data, where)
    return any(_is_record_frame(frame) for frame in tags.values())


def id3_record_frame(record_json: str, major: int) -> bytes:
    """The raw ``TXXX:AIGC`` frame (header included) for a v2.3 or v2.4 tag."""
    from mutagen.id3 import ID3, TXXX

    tags = ID3()
    tags.add(TXXX(encoding=3 if major == 4 else 1, desc=RECORD_KEY, text=[record_json]))
    return _serialize_id3(tags, 4 if major == 4 else 3, fit=0, padding=0)[10:]


def id3_without_records(existing: bytes, where: str, *, padding: int = 0) -> bytes | None:
    """*existing* re-serialised without its records (with *padding* bytes of padding); ``None`` when it
    holds none (copy it as is)."""
    with mutagen_errors(f"ID3v2 tag at {where}"):
        tags = load_id3(existing, where, for_writing=True)
        doomed = [k for k, frame in tags.items() if _is_record_frame(frame)]
        if not doomed:
            return None
        for key in doomed:
            del tags[key]
        return _serialize_id3(tags, _tag_version(tags), fit=0, padding=padding)


# ----------------------------------------------------------------------------------------- Vorbis comments


def load_vorbis_comment(data: bytes, where: str, *, framing: bool):
    """The :class:`mutagen._vorbis.VComment` in *data* (vendor string first)."""
    from mutagen._vorbis import VComment

    with mutagen_errors(f"Vorbis comment at {where}"):
        return VComment(data, framing=framing)


def vorbis_evidence(comment, *, where: str, offset: int | None, before_payload: bool | None
                    ) -> tuple[list[FoundLabel], list[Trace]]:
    """Records (fields whose name contains AIGC; normative when the name is AIGC, in any case, as
    Vorbis field names are case-insensitive) and generator traces."""
    labels: list[FoundLabel] = []
    traces: list[Trace] = []
    for key, value in comment:
        if is_record_key(key):
            labels.append(found_label(f"vorbiscomment:{key}", f"{where}, field {key}", value,
                                      normative=key.upper() == RECORD_KEY, offset=offset,
                                      before_payload=before_payload))
        elif key.upper() in ("ENCODER", "ENCODED_BY", "ENCODED-BY", "SOFTWARE", "COMMENT", "DESCRIPTION"):
            if trace := audio_generator_trace(value, f"{where}, field {key}"):
                traces.append(trace)
    return labels, traces


def vorbis_has_records(comment) -> bool:
    return any(is_record_key(key) for key, _ in comment)


def vorbis_set_record(comment, record_json: str | None) -> None:
    """Drop every record field (keeping the others in order) and append ``AIGC=<json>`` if given."""
    comment[:] = [(k, v) for k, v in comment if not is_record_key(k)]
    if record_json is not None:
        comment.append((RECORD_KEY, record_json))


# ----------------------------------------------------------------------------------------- IFF / RIFF


@dataclass
class IffChunk:
    """One chunk of an IFF/RIFF file (AIFF, WAV, AVI): its id, header offset and data size."""
    id: bytes
    offset: int  # of the 8-byte header
    size: int  # of the data, without the pad byte

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.offset + 8 + self.size

    @property
    def name(self) -> str:
        return self.id.decode("latin-1")


def _printable(cid: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in cid)


def walk_iff(src: CountingReader, start: int, end: int, *, big_endian: bool, what: str,
             sizes: dict[bytes, int] | None = None) -> list[IffChunk]:
    """The chunks between *start* and *end*, reading only their 8-byte headers.

    Chunks are even-padded; a missing pad byte after the last chunk and fewer than 8 stray bytes
    at the end are tolerated.  A chunk that runs past *end*, or an id that is not printable ASCII
    (the sign of a lying size before it), is :class:`CorruptFile`.  *sizes* gives the real sizes of
    chunks whose 32-bit size is ``0xFFFFFFFF`` (RF64 ``ds64``).
    """
    fmt = ">4sI" if big_endian else "<4sI"
    chunks: list[IffChunk] = []
    pos = start
    room = current_limits().max_structures
    while end - pos >= 8:
        if len(chunks) >= room:  # 300,000 empty chunks once took 3 walks and a copy each: seconds per call
            check_count(len(chunks) + 1, f"{what} chunks")
        head = src.pread(pos, 8)
        if len(head) < 8:
            raise CorruptFile(f"truncated: {what} ends inside a chunk header at offset {pos}")
        cid, size = struct.unpack(fmt, head)
        if not _printable(cid):
            raise CorruptFile(f"corrupt {what}: no valid chunk id at offset {pos} "
                              "(a chunk size before it is wrong, or the file is damaged)")
        if sizes and size == 0xFFFFFFFF and cid in sizes:
            size = sizes[cid]
        chunk = IffChunk(cid, pos, size)
        if chunk.end > end:
            raise CorruptFile(f"truncated: {what} chunk {chunk.name!r} at offset {pos} claims {size} bytes, "
                              f"{chunk.end - end} more than the file holds")
        chunks.append(chunk)
        pos = chunk.end + (size & 1)
    return chunks


def read_chunk(src: CountingReader, chunk: IffChunk, what: str) -> bytes:
    if chunk.size > MAX_TAG:
        raise CorruptFile(f"{what} chunk {chunk.name!r} at offset {chunk.offset} is {chunk.size} bytes; "
                          f"refusing to read more than {MAX_TAG >> 20} MiB of metadata")
    src.seek(chunk.data_offset)
    return src.read_exact(chunk.size, f"{what} chunk {chunk.name!r}")


# ----------------------------------------------------------------------------------------- writing


@dataclass
class Copy:
    """Bytes to copy unchanged from the source."""

    offset: int
    length: int


Plan = Sequence[Union[bytes, Copy]]


def plan_size(plan: Plan) -> int:
    return sum(item.length if isinstance(item, Copy) else len(item) for item in plan)


def emit(plan: Plan, src: CountingReader, dst: BinaryIO) -> None:
    """Write *plan* to *dst*: new bytes as given, source ranges copied (by the kernel, file to file); adjacent
    ranges go in one copy (a file of many small chunks was one system call per chunk)."""
    pending: Copy | None = None

    def flush() -> None:
        if pending is None:
            return
        src.seek(pending.offset)
        if src.copy_to(dst, pending.length) != pending.length:
            raise CorruptFile(f"truncated: the file ended while copying bytes {pending.offset}-"
                              f"{pending.offset + pending.length}")

    for item in plan:
        if isinstance(item, Copy):
            if item.length <= 0:
                continue
            if pending is not None and pending.offset + pending.length == item.offset:
                pending = Copy(pending.offset, pending.length + item.length)
                continue
            flush()
            pending = item
        elif item:
            flush()
            pending = None
            dst.write(item)
    flush()


def note_c2pa_chunks(chunks: Iterable[IffChunk], info: dict[str, Any]) -> None:
    """Where a RIFF file keeps what the C2PA SDK reads: a ``C2PA`` chunk (the manifest store) and an XMP chunk
    (``_PMX``/``XMP ``, which may name a remote manifest; not read here, so any one sends the file to the SDK)."""
    for chunk in chunks:
        if chunk.id == b"C2PA":
            info.setdefault(STORE_INFO, chunk.offset)
        elif chunk.id in (b"_PMX", b"XMP ", b"xmp "):
            note_xmp(info, chunk.offset, None)
