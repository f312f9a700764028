"""WAV: the record is a top-level RIFF chunk ``AIGC`` (the JSON, even-padded), before ``data``.

Neither mutagen nor ffmpeg writes such a chunk, so it is written here by hand: chunks are walked by
their headers, every chunk is kept in order (``fmt``, ``LIST``/``INFO``, ``bext``, ``id3``,
``cue``...), the ``AIGC`` chunk goes right before ``data`` (or where an old one stood before it),
the sample bytes are copied unchanged by the kernel and the RIFF size is rewritten.

Also read: a ``LIST``/``INFO`` sub-chunk whose id contains ``AIGC`` (the variant the spec table
lists) or whose value *is* a record (``ICMT`` holding the JSON, as some tools write it), and an
``id3 ``/``ID3 `` chunk holding ``TXXX:AIGC``.  The top-level chunk is authoritative: a LIST/INFO
copy beside it is reported (``format.wav``: info when it agrees, error naming the fields when it
does not), and a record only in LIST/INFO is read and reported as the variant it is, never as "no
record".  Marking removes those records so the file carries exactly one (Annex E: one record per
file); the other INFO sub-chunks keep their bytes.  Reading walks chunk headers only and seeks past
``data``.  RF64/BW64 (files over 4 GB) are read; writing them is not supported yet.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import Finding, FoundLabel, Level
from ._audio_meta import (CHUNK_ID3_PADDING, Copy, IffChunk, audio_generator_trace, emit, id3_evidence,
                          id3_without_records, is_record_key, load_id3, note_c2pa_chunks, plan_size, read_chunk,
                          walk_iff)
from ._image_meta import found_label, looks_like_record
from ._riff import iff_chunk, list_subchunks
from .base import Evidence, FormatHandler, ImplicitLabel

if TYPE_CHECKING:  # pragma: no cover
    from .media_audio import AudioAccess

RECORD_ID = b"AIGC"
_ID3_IDS = (b"id3 ", b"ID3 ")
_FORMS = (b"RIFF", b"RF64", b"BW64")


def _text(raw: bytes) -> str:
    raw = raw.rstrip(b"\x00")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Layout:
    """The parsed top level of a WAVE file."""

    def __init__(self, src: CountingReader) -> None:
        head = src.read_at(0, 12)
        if len(head) < 12 or head[:4] not in _FORMS or head[8:12] != b"WAVE":
            raise CorruptFile("not a WAVE file (bad RIFF header)")
        self.form = head[:4]
        (riff_size,) = struct.unpack("<I", head[4:8])
        sizes: dict[bytes, int] = {}
        if self.form != b"RIFF":
            riff_size, sizes = self._ds64(src, riff_size)
        self.riff_end = 8 + riff_size
        if self.riff_end > src.size + 1:  # one missing pad byte at the very end is tolerated
            raise CorruptFile(f"truncated: the RIFF header claims {self.riff_end} bytes, the file has {src.size}")
        self.riff_end = min(self.riff_end, src.size)
        self.chunks = walk_iff(src, 12, self.riff_end, big_endian=False, what="WAVE", sizes=sizes)
        data = [c for c in self.chunks if c.id == b"data"]
        if not data:
            raise CorruptFile("corrupt WAVE file: no data chunk")
        if not any(c.id == b"fmt " for c in self.chunks):
            raise CorruptFile("corrupt WAVE file: no fmt chunk")
        self.data: IffChunk = data[0]

    @staticmethod
    def _ds64(src: CountingReader, riff_size: int) -> tuple[int, dict[bytes, int]]:
        """RF64/BW64: the 64-bit sizes from the ``ds64`` chunk that must come first."""
        head = src.read_at(12, 8)
        if len(head) < 8 or head[:4] != b"ds64":
            raise CorruptFile("corrupt RF64 file: no ds64 chunk after the header")
        (size,) = struct.unpack("<I", head[4:8])
        if size < 28 or size > 1 << 20:
            raise CorruptFile("corrupt RF64 file: bad ds64 chunk size")
        body = src.read_exact(size, "the ds64 chunk")
        riff64, data64, _samples, table_len = struct.unpack("<QQQI", body[:28])
        sizes = {b"data": data64}
        for i in range(min(table_len, (size - 28) // 12)):
            cid, csize = struct.unpack("<4sQ", body[28 + 12 * i:40 + 12 * i])
            sizes[cid] = csize
        return (riff64 if riff_size == 0xFFFFFFFF else riff_size), sizes


def _info_record(cid: bytes, data: bytes) -> bool:
    """An INFO sub-chunk holding a record: its id names AIGC, or its value is one (``ICMT`` = the JSON)."""
    return is_record_key(cid.decode("latin-1")) or looks_like_record(_text(data))


def _info_without_records(body: bytes, where: str) -> bytes | None:
    """The LIST/INFO *body* with its record sub-chunks cut out and every other byte as it was (None when
    it holds no record).  Cutting, not rebuilding, keeps what we do not own byte for byte."""
    subs = list_subchunks(body, where)
    doomed = [(pos, len(data)) for cid, pos, data in subs if _info_record(cid, data)]
    if not doomed:
        return None
    out, at = [], 0
    for pos, size in doomed:
        out.append(body[at:pos])
        at = min(len(body), pos + 8 + size + (size & 1))
    out.append(body[at:])
    return b"".join(out)


def _info_findings(labels: list[FoundLabel]) -> list[Finding]:
    """How LIST/INFO copies stand to the normative chunk (which is authoritative when both exist)."""
    chunk = next((lab for lab in labels if lab.carrier == "riff:AIGC"), None)
    out = []
    for lab in labels:
        if not lab.carrier.startswith("riff:LIST/INFO:"):
            continue
        if chunk is None:
            out.append(Finding("format.wav", Level.INFO, f"the record is only in LIST/INFO ({lab.carrier}), a "
                               "variant some tools write; the normative carrier is a top-level 'AIGC' chunk",
                               location=lab.location, expected="riff:AIGC", actual=lab.carrier))
        elif (lab.fields or {"_raw": lab.raw}) == (chunk.fields or {"_raw": chunk.raw}):
            out.append(Finding("format.wav", Level.INFO, f"a LIST/INFO copy ({lab.carrier}) agrees with the "
                               "normative 'AIGC' chunk, which is authoritative", location=lab.location))
        else:
            a, b = lab.fields or {}, chunk.fields or {}
            differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) or ["the record text"]
            out.append(Finding("format.wav", Level.ERROR, f"the LIST/INFO copy ({lab.carrier}) disagrees with the "
                               f"normative 'AIGC' chunk in {', '.join(differ)}; the chunk is authoritative",
                               location=lab.location, expected=chunk.raw, actual=lab.raw))
    return out


def record_chunk(record_json: str) -> bytes:
    """The ``AIGC`` chunk: id, little-endian size, the JSON, one pad byte when the size is odd."""
    return iff_chunk(RECORD_ID, record_json.encode("utf-8"))


class WavHandler(FormatHandler):
    name = "wav"
    kind = "audio"
    mime = "audio/wav"
    extensions = (".wav", ".wave", ".bwf")
    normative_carrier = "riff:AIGC"
    can_write = True
    c2pa_manifest_read = True  # a top-level C2PA chunk; a remote reference in an XMP chunk

    @classmethod
    def score(cls, head: bytes) -> int:
        return 100 if head[:4] in _FORMS and head[8:12] == b"WAVE" else 0

    def read(self, src: CountingReader) -> Evidence:
        layout = _Layout(src)
        ev = Evidence(self.name, self.kind, info={"container": layout.form.decode(),
                                                   "data_offset": layout.data.data_offset,
                                                   "data_size": layout.data.size})
        note_c2pa_chunks(layout.chunks, ev.info)
        for chunk in layout.chunks:
            before = chunk.offset < layout.data.offset
            where = f"{chunk.name!r} chunk at offset {chunk.offset}"
            if chunk.id == RECORD_ID:
                text = _text(read_chunk(src, chunk, "WAVE"))
                ev.labels.append(found_label("riff:AIGC", where, text, normative=True, offset=chunk.offset,
                                             before_payload=before))
            elif chunk.id == b"fmt ":
                fmt = read_chunk(src, chunk, "WAVE")
                if len(fmt) < 16:
                    raise CorruptFile(f"corrupt WAVE file: fmt chunk of {len(fmt)} bytes")
                tag, channels, rate, _bps, block, bits = struct.unpack("<HHIIHH", fmt[:16])
                ev.info.update(format_tag=tag, channels=channels, sample_rate=rate, bits_per_sample=bits,
                               block_align=block)
            elif chunk.id == b"LIST" and src.read_at(chunk.data_offset, 4) == b"INFO":
                body = read_chunk(src, chunk, "WAVE")
                for cid, _pos, data in list_subchunks(body, where):
                    name = cid.decode("latin-1")
                    if _info_record(cid, data):
                        ev.labels.append(found_label(f"riff:LIST/INFO:{name}", f"{where}, INFO {name!r}",
                                                     _text(data), normative=False, offset=chunk.offset,
                                                     before_payload=before))
                    elif cid in (b"ISFT", b"ICMT") and (t := audio_generator_trace(_text(data), where)):
                        ev.traces.append(t)
            elif chunk.id in _ID3_IDS:
                data = read_chunk(src, chunk, "WAVE")
                labels, traces = id3_evidence(load_id3(data, where), where=where, carrier_prefix="riff:id3:",
                                              normative=False, offset=chunk.offset, before_payload=before)
                ev.labels += labels
                ev.traces += traces
        ev.findings += _info_findings(ev.labels)
        return ev

    def audio_access(self, src: CountingReader) -> AudioAccess:
        """PCM read and spliced by sample offset; other codecs (ADPCM, A-law...) decoded with PyAV, not spliced."""
        from ._pcm_splice import WavAccess

        try:
            return WavAccess(src)
        except UnsupportedOperation as exc:
            from ._av_splice import AvAccess

            return AvAccess(src, self.name, "WAVE", refusal=f"adding an audible label is not supported: {exc}")

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        layout = _Layout(src)
        if layout.form != b"RIFF":
            raise UnsupportedOperation(f"writing the AIGC chunk into {layout.form.decode()} WAV files "
                                       "(over 4 GB) is not supported yet")
        body: list = []
        slot: int | None = None  # where the new AIGC chunk goes
        for chunk in layout.chunks:
            if chunk.id == b"data" and slot is None:
                slot = len(body)
                body.append(b"")
            if chunk.id == RECORD_ID:
                if slot is None and chunk.offset < layout.data.offset:
                    slot = len(body)  # an old record before the audio: the new one takes its place
                    body.append(b"")
                continue
            where = f"{chunk.name!r} chunk at offset {chunk.offset}"
            replacement: bytes | None = None
            if chunk.id == b"LIST" and src.read_at(chunk.data_offset, 4) == b"INFO":
                kept = _info_without_records(read_chunk(src, chunk, "WAVE"), where)
                if kept is not None:
                    replacement = iff_chunk(b"LIST", kept) if len(kept) > 4 else b""
            elif chunk.id in _ID3_IDS:
                stripped = id3_without_records(read_chunk(src, chunk, "WAVE"), where, padding=CHUNK_ID3_PADDING)
                if stripped is not None:
                    replacement = iff_chunk(chunk.id, stripped)
            if replacement is not None:
                body.append(replacement)
            else:
                body.append(Copy(chunk.offset, 8 + chunk.size))
                if chunk.size & 1:
                    body.append(b"\x00")
        assert slot is not None  # _Layout guarantees a data chunk
        body[slot] = record_chunk(label.record_json)
        riff_size = 4 + plan_size(body)
        if riff_size > 0xFFFFFFFF:
            raise UnsupportedOperation("the labelled WAV would pass the 4 GB RIFF limit; RF64 output is not "
                                       "supported yet")
        plan = [b"RIFF" + struct.pack("<I", riff_size) + b"WAVE", *body]
        # Bytes after the RIFF form (junk some writers leave) are kept as they were.
        plan.append(Copy(layout.riff_end, src.size - layout.riff_end))
        emit(plan, src, dst)
