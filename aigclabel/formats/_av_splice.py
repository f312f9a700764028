"""Audio access for compressed audio decoded with PyAV: Ogg Vorbis, Opus, M4A/AAC/ALAC, FLAC.

Windows are decoded with PyAV seeking, to the rate the caller asks.  Inserting a prompt:

* **FLAC**: :mod:`aigclabel.formats._flac_splice` (lossless, streamed).
* **Ogg Vorbis, Opus, M4A**: decoded, the prompt inserted, re-encoded at the original's bitrate
  (libopus, FFmpeg's AAC; Vorbis with the ``ffmpeg`` program's libvorbis, because PyAV's wheels
  lack it, else FFmpeg's experimental native encoder); the notes say the audio was re-encoded.
  Apple Lossless (ALAC) in M4A is re-encoded as ALAC in its own sample format: bit-exact.
"""

from __future__ import annotations

import io
from typing import Any, Iterator

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._av_audio import (AvFacts, codecs_available, decode_mono_stream, decode_planar, decode_windows, encode_audio,
                        encode_cli, probe)
from .media_audio import (AudioAccess, InsertRequest, Inserted, PcmWindow, checked_info, insertion_spots,
                          read_whole, splice_arrays, splice_placed)

__all__ = ["AvAccess", "REENCODE"]

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

    def mono_stream(self, rate: int) -> Iterator[Any]:
        """The whole stream as consecutive mono float32 arrays at *rate*, decoded as they are read (bounded
        memory: the watermark detector folds them as they come)."""
        return decode_mono_stream(self.src, rate, self.what, start=self.start, format=self.demuxer)

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
