"""Audio access for compressed audio decoded with PyAV: Ogg Vorbis, Opus, M4A/AAC/ALAC, FLAC.

Windows are decoded with PyAV seeking, to the rate the caller asks.  Inserting a prompt:

* **FLAC**: decoded and re-encoded losslessly (bit-exact samples, same bit depth); every metadata
  block but STREAMINFO and SEEKTABLE (stale after the insertion; dropped) is kept, and so is an
  ID3v2 tag in front of ``fLaC``.
* **Ogg Vorbis, Opus, M4A**: decoded, the prompt inserted, re-encoded at the original's bitrate
  (libopus, FFmpeg's AAC; Vorbis with the ``ffmpeg`` program's libvorbis, because PyAV's wheels
  lack it, else FFmpeg's experimental native encoder); the notes say the audio was re-encoded.
  Apple Lossless (ALAC) in M4A is re-encoded as ALAC in its own sample format: bit-exact.
"""

from __future__ import annotations

import io
from typing import Any, Iterator

from .. import limits
from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._av_audio import (AvFacts, codecs_available, decode_planar, decode_windows, encode_audio, encode_cli,
                        encode_flac, probe)
from .media_audio import (AudioAccess, InsertRequest, Inserted, PcmWindow, checked_info, insertion_spots,
                          read_whole, splice_arrays, splice_placed)

__all__ = ["AvAccess", "FlacAccess", "REENCODE"]

#: handler name -> (muxer, encoder, codec label)
REENCODE = {
    "ogg": ("ogg", "libvorbis", "Vorbis"),
    "opus": ("ogg", "libopus", "Opus"),
    "m4a": ("ipod", "aac", "AAC"),
    "mp4": ("ipod", "aac", "AAC"),
    "aac": ("ipod", "aac", "AAC"),
}


class AvAccess(AudioAccess):
    """Any container PyAV reads; :meth:`insert` re-encodes (see :data:`REENCODE`)."""

    #: decode from this offset with this demuxer (MP3: after the ID3v2 tags, which FFmpeg need not read)
    start = 0
    demuxer: str | None = None

    def __init__(self, src: CountingReader, name: str, label: str, *, refusal: str | None = None) -> None:
        facts = probe(src, label, start=self.start, format=self.demuxer)
        info = checked_info(facts.rate, facts.channels, facts.duration_s, facts.codec, facts.decoder,
                            f"the {label} stream")
        super().__init__(src, info, label)
        self.facts = facts
        self.name = name
        #: why inserting is refused (a WAV whose samples are not PCM): said instead of re-encoding
        self.refusal = refusal

    def windows(self, spans: list[tuple[str, float, float]], rate: int | None = None) -> Iterator[PcmWindow]:
        out_rate = rate or self.info.rate
        for name, at, x in decode_windows(self.src, spans, out_rate, self.what, start=self.start,
                                          format=self.demuxer):
            yield PcmWindow(name, at, out_rate, x)

    def insert(self, request: InsertRequest) -> Inserted:
        if self.refusal is not None or self.name not in REENCODE:
            raise UnsupportedOperation(self.refusal or f"adding an audible label to {self.name.upper()} is not "
                                                       "supported yet")
        return _reencode(self, request)


def _reencode(access: AvAccess, request: InsertRequest) -> Inserted:
    """Decode, insert the prompt, re-encode at the original's bitrate (see the module docs)."""
    import numpy as np

    muxer, codec, label = REENCODE[access.name]
    data = read_whole(access.src, f"the {label} file")
    facts, chunks = decode_planar(access.src, label, fmt="fltp", start=access.start, format=access.demuxer)
    rate, channels = facts.rate, facts.channels
    x = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    frames = x.shape[1]
    seconds = frames / rate if rate else 0.0
    bitrate = facts.bit_rate
    if not bitrate and seconds > 0:
        bitrate = int(len(data) * 8 / seconds)  # container overhead included: a slight overestimate
    bitrate = max(24000 if codec != "libopus" else 12000,
                  min(bitrate or 128000, 320000 if codec != "libopus" else 256000))
    lossless = muxer == "ipod" and facts.codec == "alac"
    sample_format = None
    if lossless:  # Apple Lossless stays lossless: same sample format, every original sample bit-exact
        codec, label, bitrate, sample_format = "alac", "ALAC", 0, facts.sample_format
    mono = request.prompt(rate)
    spots = insertion_spots(request, frames, rate, lambda s, n: x[:, s:s + n].mean(axis=0).astype(np.float64))
    y = np.ascontiguousarray(splice_arrays(x, spots, np.repeat(mono[None, :], channels, axis=0), 1),
                             dtype=np.float32)
    placed = splice_placed(spots, len(mono), rate)
    encoded, encoder, codec, bitrate, notes = _encode(y, facts, muxer, codec, bitrate, sample_format, lossless)
    if muxer == "ogg":
        encoded = _copy_vorbis_comment(data, encoded, access.name)
    if lossless:
        how = (f"audio was re-encoded losslessly (ALAC with {encoder}, {facts.sample_format}; {channels} ch, "
               f"{rate} Hz): the original samples are kept bit-exact")
    else:
        how = (f"audio was re-encoded ({label} with {encoder}, "
               f"{f'{bitrate // 1000} kbit/s, matched to the original' if bitrate else 'default quality'}; "
               f"{channels} ch, {rate} Hz): a lossy generation, the original samples are not kept")
    return Inserted(encoded, placed, how, ["audio was re-encoded"] + notes,
                    {"method": "re-encoded", "codec": codec, "bitrate": bitrate, "sample_rate": rate,
                     "channels": channels, "added_frames": y.shape[1] - frames})


def _encode(y: Any, facts: AvFacts, muxer: str, codec: str, bitrate: int, sample_format: str | None,
            lossless: bool) -> tuple[bytes, str, str, int, list[str]]:
    """(encoded file, encoder description, codec, bitrate, notes)."""
    notes: list[str] = []
    encoder = f"PyAV/FFmpeg {codec}"
    tags = facts.tags if muxer != "ogg" else {}
    if codec == "libvorbis" and codec not in codecs_available():
        # PyAV's wheels ship FFmpeg without libvorbis: use Debian's ffmpeg, else FFmpeg's own
        # (experimental) Vorbis encoder
        encoded = encode_cli(y, facts.rate, facts.channels, codec, bitrate)
        if encoded is not None:
            return encoded, "ffmpeg (command line) libvorbis", codec, bitrate, notes
        codec = "vorbis"
        encoder = ("PyAV/FFmpeg native vorbis (an experimental encoder: install ffmpeg with libvorbis for "
                   "better quality)")
    try:
        encoded = encode_audio(y, facts.rate, facts.layout, muxer, codec, bitrate, tags, sample_format)
    except CorruptFile:
        if lossless:
            raise
        encoded = encode_audio(y, facts.rate, facts.layout, muxer, codec, None, tags)
        notes.append(f"the encoder refused {bitrate // 1000} kbit/s; its default quality was used")
        bitrate = 0
    return encoded, encoder, codec, bitrate, notes


def _copy_vorbis_comment(original: bytes, encoded: bytes, name: str) -> bytes:
    """Give the re-encoded Ogg stream the original's Vorbis comment (every field, pictures included)."""
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    from ._audio_meta import mutagen_errors

    cls = OggOpus if name == "opus" else OggVorbis
    with mutagen_errors(f"Ogg {name} stream"):
        old = cls(io.BytesIO(original))
        buf = io.BytesIO(encoded)
        new = cls(buf)
        if new.tags is None:
            new.add_tags()
        assert new.tags is not None
        new.tags.clear()
        new.tags.extend(list(old.tags or []))
        buf.seek(0)
        new.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ FLAC


class FlacAccess(AvAccess):
    """FLAC: STREAMINFO checked against the budget first; inserting re-encodes losslessly."""

    def __init__(self, src: CountingReader) -> None:
        from .flac import STREAMINFO, _read_block, _streaminfo, _walk

        self.blocks, self.audio_offset, self.start = _walk(src)
        info = _streaminfo(_read_block(src, self.blocks[0]))
        assert self.blocks[0].type == STREAMINFO  # _walk guarantees it
        self.bits = int(info["bits_per_sample"])
        # the declared rate and channels are refused before PyAV sees the stream
        limits.check_audio(info["sample_rate"], info["channels"], None, "the FLAC stream")
        super().__init__(src, "flac", "FLAC")

    def insert(self, request: InsertRequest) -> Inserted:
        import numpy as np

        bits = self.bits
        if bits not in (16, 24):
            raise UnsupportedOperation(f"adding an audible label to {bits}-bit FLAC is not supported (16 and 24 "
                                       "bit are; the encoder cannot keep other depths bit-exact)")
        data = read_whole(self.src, "the FLAC file", copies=2)
        facts, chunks = decode_planar(self.src, "FLAC", fmt="native")
        fmt, layout, rate, channels = facts.sample_format, facts.layout, facts.rate, facts.channels
        if fmt not in ("s16", "s32"):
            raise UnsupportedOperation(f"unexpected FLAC decode format {fmt}")
        dtype = np.int16 if fmt == "s16" else np.int32
        samples = (np.concatenate([c.reshape(-1) for c in chunks]) if chunks else np.zeros(0, dtype)).astype(dtype)
        samples = samples.reshape(-1, channels)
        frames = len(samples)
        shift = 16 if fmt == "s32" and bits == 16 else (8 if fmt == "s32" else 0)
        full = float(1 << 31) if fmt == "s32" else 32768.0
        scale = float((1 << (bits - 1)) - 1)
        p_int = (np.round(np.clip(request.prompt(rate), -1, 1) * scale).astype(np.int64) << shift).astype(dtype)
        p_frames = np.repeat(p_int[:, None], channels, axis=1)
        spots = insertion_spots(request, frames, rate,
                                lambda s, n: samples[s:s + n].astype(np.float64).mean(axis=1) / full)
        new = splice_arrays(samples, spots, p_frames, 0)
        encoded = encode_flac(new, rate, layout, fmt)
        result, notes = self._with_blocks(data, encoded, bits)
        how = (f"FLAC re-encoded losslessly with PyAV: original samples bit-exact ({channels} ch, {rate} Hz, "
               f"{bits}-bit)")
        return Inserted(result, splice_placed(spots, len(p_frames), rate), how, notes,
                        {"method": "re-encoded losslessly", "sample_rate": rate, "channels": channels,
                         "added_frames": len(new) - frames})

    def _with_blocks(self, data: bytes, encoded: bytes, bits: int) -> tuple[bytes, list[str]]:
        """The new stream's STREAMINFO and audio with the original's other metadata blocks."""
        from .flac import SEEKTABLE, STREAMINFO, _read_block, _streaminfo, _walk, metadata_blocks

        new_src = CountingReader(io.BytesIO(encoded), "<encoded FLAC>", len(encoded))
        new_blocks, new_audio, _start = _walk(new_src)
        new_info = _read_block(new_src, new_blocks[0])
        new_bits = _streaminfo(new_info)["bits_per_sample"]
        if new_bits != bits:
            raise UnsupportedOperation(f"the FLAC encoder wrote {new_bits}-bit samples for a {bits}-bit file")
        kept = [(STREAMINFO, new_info)]
        notes = []
        for block in self.blocks[1:]:
            if block.type == SEEKTABLE:
                notes.append("the SEEKTABLE block was dropped (its offsets are stale after the insertion)")
                continue
            if block.type == 5:
                notes.append("the CUESHEET block's track offsets were not moved by the inserted prompt")
            kept.append((block.type, data[block.offset + 4:block.end]))
        return data[:self.start] + b"fLaC" + metadata_blocks(kept) + encoded[new_audio:], notes
