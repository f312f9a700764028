"""MP3: the record is an ID3v2 ``TXXX`` frame with description ``AIGC`` in the tag at the start.

Reading looks at the ID3v2 tag(s) at the head of the file and nothing else (plus 4 bytes after,
to describe the first MPEG frame).  Writing merges the record into the existing tag through
mutagen, keeping the tag's version and every other frame (pictures, comments, other TXXX...),
replacing any old record; the MPEG audio after the tag is copied byte for byte by the kernel.
When the merged tag still fits in the old tag's space the audio does not even move.

Not read (yet): ID3v2 tags appended at the end of the file, APEv2 tags.

:meth:`Mp3Handler.remark_audio` (the invisible watermark) is the one path that re-encodes the audio:
decoded, new samples from a callback, encoded once with LAME; the tags before and after the frames are
kept byte for byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from .._c2pa_scan import STORE_INFO, note_xmp
from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedFormat, UnsupportedOperation
from ._audio_meta import ID3_PADDING, Copy, emit, id3_evidence, id3_has_records, id3_record_frame, id3_total_size, \
    id3_with_record, id3_without_records, load_id3
from ._id3_frames import BIG_TAG, EVIDENCE_FRAMES, MAX_TEXT_FRAME, read_tag_for_evidence, syncsafe, walk_frames
from ._mp3_frames import frame_facts
from .base import Evidence, FormatHandler, ImplicitLabel

if TYPE_CHECKING:  # pragma: no cover
    from .media_audio import AudioAccess

#: ID3v2 tags we follow one after another at the head (a few broken taggers stack them)
MAX_STACKED_TAGS = 8


def _head_tags(src: CountingReader) -> tuple[list[tuple[int, int]], int]:
    """The ID3v2 tags at the head as (offset, size), and where the audio starts."""
    tags: list[tuple[int, int]] = []
    pos = 0
    while len(tags) < MAX_STACKED_TAGS:
        header = src.read_at(pos, 10)
        size = id3_total_size(header, f"offset {pos}")
        if size is None:
            break
        if pos + size > src.size:
            raise CorruptFile(f"truncated: the ID3v2 tag at offset {pos} claims {size} bytes, "
                              f"the file ends {pos + size - src.size} bytes short of that")
        tags.append((pos, size))
        pos += size
    return tags, pos


def _big_tag_with_record(src: CountingReader, offset: int, size: int, record_json: str) -> list | None:
    """For a v2.3/v2.4 tag over ``BIG_TAG``: the new tag as a plan -- the record frame, then every other
    frame copied raw (record frames dropped) -- so the tag is never held or parsed whole; else None."""
    if size <= BIG_TAG:
        return None
    header = src.read_at(offset, 10)
    major = header[3]
    frames = walk_frames(src, offset, size) if major in (3, 4) else None
    if frames is None:
        return None
    where = f"offset {offset}"
    read_tag_for_evidence(src, offset, size, where)  # refuses a record frame too large to hold
    body: list = [id3_record_frame(record_json, major)]
    for frame in frames:
        if frame.id in EVIDENCE_FRAMES[major] and frame.length <= MAX_TEXT_FRAME:
            raw = src.read_at(frame.offset, frame.length)
            if id3_has_records(b"ID3" + bytes([major, header[4], 0]) + syncsafe(len(raw)) + raw, where):
                continue  # an old record: the file carries exactly one
            body.append(raw)
        else:
            body.append(Copy(frame.offset, frame.length))
    length = sum(item.length if isinstance(item, Copy) else len(item) for item in body)
    padding = size - 10 - length if size - 10 - length >= 0 else ID3_PADDING  # the audio stays put if it fits
    if length + padding >= 1 << 28:
        raise UnsupportedOperation("the ID3v2 tag with the record would pass the 256 MiB ID3 limit")
    flags = header[5] & ~0xD0 & 0xFF  # no unsynchronisation, extended header or footer
    return [b"ID3" + bytes([major, header[4], flags]) + syncsafe(length + padding), *body, bytes(padding)]


def _note_c2pa(tag: Any, offset: int, info: dict) -> None:
    """What the C2PA SDK would look at in the first ID3 tag: a GEOB frame of a C2PA MIME type (the manifest
    store) and the PRIV frame owned by ``XMP`` (which may name a remote manifest)."""
    if any("c2pa" in f.mime.lower() for f in tag.getall("GEOB")):
        info[STORE_INFO] = offset
    for f in tag.getall("PRIV"):
        if f.owner == "XMP":
            note_xmp(info, offset, f.data)


class Mp3Handler(FormatHandler):
    name = "mp3"
    kind = "audio"
    mime = "audio/mpeg"
    extensions = (".mp3", ".mp2")
    normative_carrier = "id3:TXXX:AIGC"
    can_write = True
    c2pa_manifest_read = True

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:3] == b"ID3" and len(head) >= 10 and head[3] in (2, 3, 4) and head[4] != 0xFF \
                and not any(b & 0x80 for b in head[6:10]):
            return 80
        # A bare frame sync is weak evidence: any format with a real signature outscores it.
        return 20 if frame_facts(head[:4]) else 0

    @classmethod
    def refine(cls, src: CountingReader) -> type[FormatHandler]:
        """FLAC when one ID3v2 tag too long for the 64-byte head sits in front of ``fLaC``, else MP3."""
        try:
            tags, audio = _head_tags(src)
        except CorruptFile:
            return cls  # read() reports it
        if len(tags) == 1 and src.read_at(audio, 4) == b"fLaC":
            from .flac import FlacHandler

            return FlacHandler
        return cls

    def _parse(self, src: CountingReader) -> tuple[list[tuple[int, int]], int, dict]:
        tags, audio = _head_tags(src)
        peek = src.read_at(audio, 4)
        if tags and peek == b"fLaC":
            raise UnsupportedFormat("a FLAC file with ID3v2 tags in front: read it as FLAC (only one "
                                    "ID3v2 tag in front of a FLAC stream is supported)")
        info: dict = {"audio_offset": audio}
        if (frame := frame_facts(peek)) is not None:
            info.update(frame)
        elif not tags:
            raise CorruptFile("not an MP3: no ID3v2 tag and no MPEG audio frame at the start")
        return tags, audio, info

    def read(self, src: CountingReader) -> Evidence:
        tags, _audio, info = self._parse(src)
        ev = Evidence(self.name, self.kind, info=info)
        for i, (offset, size) in enumerate(tags):
            data = read_tag_for_evidence(src, offset, size, f"offset {offset}")
            tag = load_id3(data, f"offset {offset}")
            info.setdefault("id3_version", f"2.{data[3]}")
            labels, traces = id3_evidence(tag, where=f"ID3v2.{data[3]} tag at offset {offset}", carrier_prefix="id3:",
                                          normative=i == 0, offset=offset, before_payload=True)
            if i == 0 and size > BIG_TAG:  # only the evidence frames were parsed: let the SDK look for itself
                note_xmp(info, offset, None)
            elif i == 0:  # where C2PA keeps an MP3's manifest store (a GEOB frame) or its remote reference (XMP)
                _note_c2pa(tag, offset, info)
            ev.labels += labels
            ev.traces += traces
        return ev

    def audio_access(self, src: CountingReader) -> AudioAccess:
        """Windows decoded with PyAV; a prompt spliced in as frames (see :mod:`._mp3_splice`)."""
        from ._mp3_splice import Mp3Access

        _tags, audio, _info = self._parse(src)
        return Mp3Access(src, audio)

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        tags, audio, _info = self._parse(src)
        if tags:
            first_offset, first_size = tags[0]
            big = _big_tag_with_record(src, first_offset, first_size, label.record_json)
            if big is not None:
                plan: list = big
            else:
                existing = src.read_at(first_offset, first_size)
                # Keep the old tag's size when the merged tag fits (the audio does not move), else pad.
                plan = [id3_with_record(existing, label.record_json, f"offset {first_offset}",
                                        fit=first_size, padding=ID3_PADDING)]
            for offset, size in tags[1:]:
                stripped = id3_without_records(src.read_at(offset, size), f"offset {offset}")
                plan.append(stripped if stripped is not None else Copy(offset, size))
        else:
            plan = [id3_with_record(None, label.record_json, "the start", padding=ID3_PADDING)]
        plan.append(Copy(audio, src.size - audio))
        emit(plan, src, dst)

    def remark_audio(self, src: CountingReader, mark: Any, stretch: int, margin: int) -> tuple[bytes, list[str], dict]:
        """(the file with new sample values from *mark*, notes, details): decoded with PyAV, the samples
        given to *mark* in stretches (see :func:`._av_audio.remark_planar`), re-encoded with LAME (PyAV's
        ``libmp3lame``) at the source's sample rate, channel layout and bitrate - a CBR source at its own
        bitrate, a VBR one at the legal CBR rate nearest its average.  One lossy generation.  The ID3v2 tag(s)
        in front and the ID3v1/APEv2/Lyrics3 trailer are the original's bytes; the new frames (with the
        encoder's own Xing/LAME header, so the gapless length is kept) go between them."""
        from ._av_audio import decode_remarked, encode_audio
        from ._mp3_frames import L3_RATES, id3v2_end, trailing_tags, walk_mp3
        from .media_audio import read_whole

        _tags, audio, _info = self._parse(src)
        data = read_whole(src, "the MP3 file", copies=3)
        layout = walk_mp3(data, audio)
        hdrs = layout.headers[layout.first_audio:] or layout.headers
        ref = hdrs[0]
        rates = {h.bitrate for h in hdrs}
        if len(rates) == 1:
            bitrate, how = ref.bitrate, f"{ref.bitrate} kbit/s CBR as the source"
        else:
            avg = sum(h.size for h in hdrs) * 8 * ref.rate / (len(hdrs) * ref.spf) / 1000
            bitrate = min(L3_RATES[3 if ref.version == 3 else 2][1:], key=lambda r: abs(r - avg))
            how = f"{bitrate} kbit/s CBR, the legal rate nearest the VBR source's average of {avg:.0f} kbit/s"
        facts, y = decode_remarked(src, "MP3", mark, stretch, margin, start=audio, format="mp3")
        encoded = encode_audio(y, facts.rate, facts.layout, "mp3", "libmp3lame", bitrate * 1000, {})
        frames = encoded[id3v2_end(encoded):]  # the muxer's own ID3v2 tag (an encoder name) is not kept
        if not frames:
            raise UnsupportedOperation("the LAME encoder produced no MP3 frames")
        tail = trailing_tags(data, layout.end)
        result = data[:audio] + frames + data[tail:]
        notes = [f"the MP3 audio was decoded, marked (about 30 dB under the audio, 1-6 kHz) and re-encoded once with "
                 f"LAME ({how}; {facts.channels} ch, {facts.rate} Hz): one lossy generation, the original frames "
                 f"are not kept; the ID3v2 tag in front{' and the trailing tags' if tail < len(data) else ''} are "
                 "kept byte for byte"]
        return result, notes, {"method": "re-encoded", "codec": "libmp3lame", "bitrate": bitrate * 1000,
                               "sample_rate": facts.rate, "channels": facts.channels, "frames": y.shape[1]}
