"""Decoding and encoding compressed audio with PyAV (FFmpeg), under the resource budget.

Every PyAV call that sees untrusted bytes sits inside :func:`aigclabel.foreign.av_errors`, so
what FFmpeg or PyAV raise on a hostile file (``UnicodeDecodeError`` from metadata strings,
``ValueError`` from a resampler or a 0-channel layout, ``EOFError``, ``AttributeError`` on a
missing codec context) becomes :class:`~aigclabel.errors.CorruptFile`.  The declared rate and
channel count are checked with :func:`aigclabel.limits.check_audio` before anything is decoded,
decoded samples are counted against ``max_audio_samples`` and decode loops call
:func:`aigclabel.limits.check_deadline`.

PyAV and numpy are imported inside the functions (``pip install 'aigclabel[audio]'``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterator

from .. import limits
from ..errors import CorruptFile, LimitExceeded, UnsupportedOperation
from ..foreign import av_errors

__all__ = ["DecoderMissing", "load_av", "AvFacts", "probe", "decode_windows", "decode_planar", "encode_audio",
           "encode_cli", "encode_flac", "native_frames", "decode_mono_stream", "FlacWriter", "SourceFile",
           "INSTALL_HINT", "remark_planar", "decode_remarked", "remark_reencoded", "REMARK_REENCODE"]

INSTALL_HINT = "pip install 'aigclabel[audio]'"


class DecoderMissing(UnsupportedOperation):
    """numpy or PyAV is not installed: the message says what to install."""


def load_av() -> Any:
    try:
        import av
    except ImportError:
        raise DecoderMissing(f"PyAV is not installed, so compressed audio cannot be decoded ({INSTALL_HINT})") from None
    return av


class SourceFile:
    """A file-like view of a :class:`~aigclabel._io.CountingReader` PyAV can read (read/seek/tell).

    *start* hides the bytes before it: an MP3's ID3v2 tags, which FFmpeg would otherwise read whole
    (a tag may declare 256 MiB) although decoding needs none of it.
    """

    def __init__(self, src: Any, start: int = 0) -> None:
        self.src = src
        self.start = start
        src.seek(start)

    def read(self, n: int = -1) -> bytes:
        return bytes(self.src.read(n))

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 2:
            return int(self.src.seek(self.src.size + offset)) - self.start
        if whence == 1:
            return int(self.src.seek(self.src.tell() + offset)) - self.start
        return int(self.src.seek(self.start + offset)) - self.start

    def tell(self) -> int:
        return int(self.src.tell()) - self.start


@dataclass
class AvFacts:
    """What the container declares about its first audio stream."""

    rate: int
    channels: int
    layout: str
    codec: str
    sample_format: str
    duration_s: float | None
    bit_rate: int
    decoder: str
    tags: dict[str, str] = field(default_factory=dict)


def _open(av: Any, src: Any, what: str, *, fast_seek: bool = False, start: int = 0,
          format: str | None = None) -> Any:
    options = {"fflags": "+fastseek"} if fast_seek else {}
    with av_errors(f"opening the {what} audio"):
        # a mis-encoded tag string (an ID3 TXXX that is not UTF-8) must not stop the audio being read
        return av.open(SourceFile(src, start), "r", format=format, options=options, metadata_errors="replace")


def _stream_facts(av: Any, container: Any, what: str) -> tuple[Any, AvFacts]:
    with av_errors(f"reading the {what} stream parameters"):
        if not container.streams.audio:
            raise CorruptFile(f"no audio stream in the {what} file")
        stream = container.streams.audio[0]
        cc = stream.codec_context
        rate = int(cc.sample_rate or 0)
        channels = len(cc.layout.channels)
        layout = cc.layout.name
        codec = cc.name
        sample_format = cc.format.name if cc.format is not None else ""
        bit_rate = int(stream.bit_rate or cc.bit_rate or 0)
        duration = None
        if container.duration:
            duration = container.duration / 1_000_000
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        tags = {str(k): str(v) for k, v in container.metadata.items()}
    limits.check_audio(rate, channels, None, f"the {what} stream")
    decoder = f"PyAV {av.__version__} ({codec})"
    return stream, AvFacts(rate, channels, layout, codec, sample_format, duration, bit_rate, decoder, tags)


def probe(src: Any, what: str, *, start: int = 0, format: str | None = None) -> AvFacts:
    """The first audio stream's declared facts (checked against the budget); nothing is decoded.

    *start* and *format*: decode from that offset as that demuxer (see :class:`SourceFile`)."""
    av = load_av()
    container = _open(av, src, what, start=start, format=format)
    try:
        return _stream_facts(av, container, what)[1]
    finally:
        container.close()


def _frames(container: Any, stream: Any, what: str) -> Iterator[Any]:
    """The decoded frames, each PyAV step translated (our own loop bodies stay outside)."""
    with av_errors(f"decoding the {what} audio"):
        it = iter(container.decode(stream))
    while True:
        limits.check_deadline(f"decoding the {what} audio")
        with av_errors(f"decoding the {what} audio"):
            frame = next(it, None)
        if frame is None:
            return
        yield frame


def _resampled(resampler: Any, frame: Any, what: str) -> list[Any]:
    with av_errors(f"resampling the {what} audio"):
        return [f.to_ndarray() for f in resampler.resample(frame)]


def decode_windows(src: Any, spans: list[tuple[str, float, float]], rate: int, what: str, *, start: int = 0,
                   format: str | None = None) -> Iterator[tuple[str, float, Any]]:
    """(name, start s, mono float32 at *rate*) for each span (start, end s; end may be ``inf``).

    Opened with ``fastseek`` (MP3 seeks by bitrate or the Xing TOC instead of reading up to the
    target).  A decode error inside a span ends that span: what was decoded is returned (a damaged
    tail is still searched); the budget is never relaxed.
    """
    import numpy as np

    av = load_av()
    container = _open(av, src, what, fast_seek=True, start=start, format=format)
    try:
        stream, facts = _stream_facts(av, container, what)
        for name, a, b in spans:
            at, parts = _decode_span(av, container, stream, facts, a, b, rate, what)
            if not parts:
                continue
            x = np.concatenate(parts)
            if a > at:  # drop what was decoded before the window
                x = x[int((a - at) * rate):]
                at = a
            yield name, at, x
    finally:
        container.close()


def _decode_span(av: Any, container: Any, stream: Any, facts: AvFacts, a: float, b: float, rate: int,
                 what: str) -> tuple[float, list[Any]]:
    import numpy as np

    budget = limits.current().max_audio_samples
    nch = facts.channels or 1
    with av_errors(f"setting up the {what} decoder"):
        # keep the channels and average them here (FFmpeg's mono downmix adds +3 dB)
        resampler = av.AudioResampler(format="flt", layout=facts.layout, rate=rate)
        if a > 0:
            container.seek(int(max(0.0, a - 0.5) * 1_000_000), any_frame=False, backward=True)
    parts: list[Any] = []
    held = 0
    first_t: float | None = None
    try:
        for frame in _frames(container, stream, what):
            t = frame.time
            if t is not None and t + frame.samples / max(1, frame.sample_rate or 1) < a:
                continue
            if first_t is None:
                first_t = t if t is not None else a
            for arr in _resampled(resampler, frame, what):
                parts.append(arr.reshape(-1, nch).mean(axis=1))
                held += parts[-1].size
            if held > budget:
                raise LimitExceeded("max_audio_samples", f"decoding the {what} audio: over "
                                                         f"{budget:,} samples in one window")
            if t is not None and t > b:
                break
        for arr in _resampled(resampler, None, what):
            parts.append(arr.reshape(-1, nch).mean(axis=1))
    except LimitExceeded:
        raise
    except CorruptFile:
        pass  # a damaged stretch ends the window: what was decoded is searched
    return float(first_t or 0.0), [np.asarray(p, dtype=np.float32) for p in parts]


def decode_mono_stream(src: Any, rate: int, what: str, *, start: int = 0,
                       format: str | None = None) -> Iterator[Any]:
    """The whole first audio stream as consecutive mono float32 arrays at *rate*, about a second each, decoded
    as they are asked for: nothing but the current second is held, so a stream of any length is read in bounded
    memory (the watermark detector folds it as it comes).  A damaged stretch ends the stream, as in
    :func:`decode_windows`; the deadline is checked per frame."""
    import numpy as np

    av = load_av()
    container = _open(av, src, what, start=start, format=format)
    try:
        stream, facts = _stream_facts(av, container, what)
        nch = facts.channels or 1
        with av_errors(f"setting up the {what} decoder"):
            resampler = av.AudioResampler(format="flt", layout=facts.layout, rate=rate)
        parts: list[Any] = []
        held = 0
        try:
            for frame in _frames(container, stream, what):
                for arr in _resampled(resampler, frame, what):
                    parts.append(arr.reshape(-1, nch).mean(axis=1))
                    held += parts[-1].size
                if held >= rate:
                    yield np.concatenate(parts).astype(np.float32)
                    parts, held = [], 0
            for arr in _resampled(resampler, None, what):
                parts.append(arr.reshape(-1, nch).mean(axis=1))
        except CorruptFile:
            pass  # a damaged stretch ends the stream: what was decoded is read
        if parts:
            yield np.concatenate(parts).astype(np.float32)
    finally:
        container.close()


def decode_planar(src: Any, what: str, *, fmt: str, layout: str | None = None, start: int = 0,
                  format: str | None = None) -> tuple[AvFacts, list[Any]]:
    """The whole first audio stream as a list of ndarray frames in *fmt* (``fltp``, ``s16``...).

    The declared duration is checked against ``max_audio_samples`` first, and the decoded samples
    are counted as they come (a stream may lie about its duration).
    """
    av = load_av()
    container = _open(av, src, what, start=start, format=format)
    try:
        stream, facts = _stream_facts(av, container, what)
        if facts.duration_s is not None:
            limits.check_audio(facts.rate, facts.channels, facts.duration_s, f"the {what} audio")
        budget = limits.current().max_audio_samples
        with av_errors(f"setting up the {what} decoder"):
            resampler = (av.AudioResampler(format=fmt, layout=layout or facts.layout, rate=facts.rate)
                         if fmt != "native" else None)
        chunks: list[Any] = []
        held = 0
        for frame in _frames(container, stream, what):
            if resampler is None:
                with av_errors(f"decoding the {what} audio"):
                    got = [frame.to_ndarray()]
            else:
                got = _resampled(resampler, frame, what)
            _same_shape(chunks, got, what)
            chunks += got
            held += sum(int(c.size) for c in got)
            if held > budget:
                raise LimitExceeded("max_audio_samples", f"decoding the {what} audio: over {budget:,} samples")
        if resampler is not None:
            tail = _resampled(resampler, None, what)
            _same_shape(chunks, tail, what)
            chunks += tail
        if resampler is None:
            with av_errors(f"reading the {what} sample format"):
                facts.sample_format = stream.codec_context.format.name
                facts.layout = stream.codec_context.layout.name
    finally:
        container.close()
    return facts, chunks


def _same_shape(chunks: list[Any], got: list[Any], what: str) -> None:
    """:class:`CorruptFile` when a decoded frame has other rows (channels, planar) than the first: a stream whose
    channel layout changes mid-way (a damaged or spliced MP3) cannot be joined into one array."""
    rows = chunks[0].shape[0] if chunks else (got[0].shape[0] if got else None)
    for c in got:
        if c.shape[0] != rows:
            raise CorruptFile(f"the {what} stream changes its channel layout mid-way ({rows} then {c.shape[0]} "
                              "channels): a damaged or spliced stream")


def native_frames(src: Any, what: str, channels: int, *, start: int = 0,
                  format: str | None = None) -> Iterator[tuple[str, str, Any]]:
    """The first audio stream decoded one frame at a time, as (sample format, layout, interleaved samples of
    shape frames x *channels*): nothing but the current frame is held (the streaming insertion, issue 15).

    Only packed integer output (FLAC's ``s16``/``s32``) is accepted; the caller bounds the work by the deadline
    that :func:`_frames` checks."""
    av = load_av()
    container = _open(av, src, what, start=start, format=format)
    try:
        stream, _facts = _stream_facts(av, container, what)
        for frame in _frames(container, stream, what):
            with av_errors(f"decoding the {what} audio"):
                fmt, layout = frame.format.name, frame.layout.name
                if fmt not in ("s16", "s32") or len(frame.layout.channels) != channels:
                    raise CorruptFile(f"the {what} audio decodes as {fmt} with {len(frame.layout.channels)} "
                                      f"channels, not the {channels} its header declares")
                samples = frame.to_ndarray().reshape(-1, channels)
            yield fmt, layout, samples
    finally:
        container.close()


class FlacWriter:
    """A FLAC stream encoded as samples arrive, into *out* (a seekable binary file: the muxer rewrites
    STREAMINFO at the end), so a long insertion holds one chunk, never the whole stream."""

    def __init__(self, out: Any, rate: int, layout: str, fmt: str) -> None:
        self.av = av = load_av()
        self.rate, self.layout, self.fmt = rate, layout, fmt
        with av_errors("setting up the FLAC encoder"):
            self.oc = av.open(out, "w", format="flac")
            self.stream = self.oc.add_stream("flac", rate=rate, layout=layout)
            self.stream.codec_context.format = fmt

    def write(self, samples: Any) -> None:
        """Interleaved integer *samples* (frames x channels, dtype of the format) appended to the stream."""
        step = 1 << 16
        for s in range(0, len(samples), step):
            limits.check_deadline("encoding FLAC")
            with av_errors("encoding FLAC"):
                frame = self.av.AudioFrame.from_ndarray(samples[s:s + step].reshape(1, -1), format=self.fmt,
                                                        layout=self.layout)
                frame.sample_rate = self.rate
                for packet in self.stream.encode(frame):
                    self.oc.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the stream (always closes the muxer)."""
        try:
            with av_errors("encoding FLAC"):
                for packet in self.stream.encode(None):
                    self.oc.mux(packet)
        finally:
            with av_errors("closing the FLAC output"):
                self.oc.close()


# ----------------------------------------------------------------------------------------- encoding


def encode_audio(y: Any, rate: int, layout: str, muxer: str, codec: str, bitrate: int | None,
                 tags: dict[str, str], sample_format: str | None = None) -> bytes:
    """Encode planar float *y* (channels x samples); MP4 is written with ``moov`` first
    (``faststart``: the metadata the record joins stays in the file header), which needs a real file
    for FFmpeg's second pass."""
    av = load_av()
    if muxer == "ipod":
        with tempfile.TemporaryDirectory(prefix="aigclabel-") as tmp:
            path = os.path.join(tmp, "prompt.m4a")
            with av_errors(f"encoding {codec}"):
                oc = av.open(path, "w", format=muxer, options={"movflags": "+faststart"})
            _encode_into(av, oc, y, rate, layout, codec, bitrate, tags, sample_format)
            with open(path, "rb") as fh:
                return fh.read()
    out = io.BytesIO()
    with av_errors(f"encoding {codec}"):
        oc = av.open(out, "w", format=muxer)
    _encode_into(av, oc, y, rate, layout, codec, bitrate, tags)
    return out.getvalue()


def _encode_into(av: Any, oc: Any, y: Any, rate: int, layout: str, codec: str, bitrate: int | None,
                 tags: dict[str, str], sample_format: str | None = None) -> None:
    try:
        with av_errors(f"setting up the {codec} encoder"):
            for key, value in tags.items():
                oc.metadata[key] = value
            ostream = oc.add_stream(codec, rate=rate, layout=layout)
            if sample_format:
                ostream.codec_context.format = sample_format
            if codec == "vorbis":
                ostream.codec_context.options = {"strict": "experimental"}
            if bitrate:
                ostream.bit_rate = bitrate
        step = 8192
        for s in range(0, y.shape[1], step):
            limits.check_deadline(f"encoding {codec}")
            with av_errors(f"encoding {codec}"):
                frame = av.AudioFrame.from_ndarray(y[:, s:s + step], format="fltp", layout=layout)
                frame.sample_rate = rate
                frame.pts = s
                for packet in ostream.encode(frame):
                    oc.mux(packet)
        with av_errors(f"encoding {codec}"):
            for packet in ostream.encode(None):
                oc.mux(packet)
    finally:
        with av_errors(f"closing the {codec} output"):
            oc.close()


def encode_flac(samples: Any, rate: int, layout: str, fmt: str) -> bytes:
    """Interleaved integer *samples* (frames x channels, dtype of *fmt*) as a FLAC stream (lossless)."""
    av = load_av()
    out = io.BytesIO()
    with av_errors("setting up the FLAC encoder"):
        oc = av.open(out, "w", format="flac")
        ostream = oc.add_stream("flac", rate=rate, layout=layout)
        ostream.codec_context.format = fmt
    try:
        step = 1 << 16
        for s in range(0, len(samples), step):
            limits.check_deadline("encoding FLAC")
            with av_errors("encoding FLAC"):
                frame = av.AudioFrame.from_ndarray(samples[s:s + step].reshape(1, -1), format=fmt, layout=layout)
                frame.sample_rate = rate
                for packet in ostream.encode(frame):
                    oc.mux(packet)
        with av_errors("encoding FLAC"):
            for packet in ostream.encode(None):
                oc.mux(packet)
    finally:
        with av_errors("closing the FLAC output"):
            oc.close()
    return out.getvalue()


def encode_cli(y: Any, rate: int, channels: int, codec: str, bitrate: int) -> bytes | None:
    """Encode planar float *y* with the ``ffmpeg`` program (Ogg output); None when it is not there."""
    import numpy as np

    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    pcm = np.ascontiguousarray(y.T, dtype="<f4").tobytes()
    cmd = [exe, "-v", "error", "-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0",
           "-c:a", codec, "-b:a", str(bitrate), "-f", "ogg", "pipe:1"]
    timeout = max(1.0, limits.current().max_decode_seconds)
    try:
        done = subprocess.run(cmd, input=pcm, capture_output=True, check=False, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or not done.stdout:
        return None
    return done.stdout


def remark_planar(y: Any, mark: Any, stretch: int, margin: int) -> None:
    """Planar float *y* (channels x samples) given *mark*'s new samples in place, one stretch at a time.

    *mark* is the callback of :meth:`aigclabel.formats._flac_splice.FlacAccess.remark` (``mark(window, a, b,
    first)`` on frames x channels float64 with *margin* frames of context each side): a decoded lossy stream
    is held as float32 already, so only one stretch is held twice.
    """
    import numpy as np

    total = y.shape[1]
    for a in range(0, total, stretch):
        limits.check_deadline("rewriting the audio samples")
        b = min(total, a + stretch)
        lo, hi = max(0, a - margin), min(total, b + margin)
        window = y[:, lo:hi].T.astype(np.float64)
        new = np.asarray(mark(window, a - lo, b - lo, a))
        y[:, a:b] = np.clip(new.T, -1.0, 1.0)


def decode_remarked(src: Any, what: str, mark: Any, stretch: int, margin: int, *, start: int = 0,
                    format: str | None = None) -> tuple[AvFacts, Any]:
    """(facts, planar float32 samples) of the first audio stream, decoded (:func:`decode_planar`) and given *mark*'s
    new samples (:func:`remark_planar`): the common half of re-encoding a lossy file with the watermark (MP3 in
    its handler, Ogg in :func:`remark_reencoded`).  :class:`CorruptFile` when the stream decodes to nothing."""
    import numpy as np

    facts, chunks = decode_planar(src, what, fmt="fltp", start=start, format=format)
    y = np.concatenate(chunks, axis=1) if chunks else np.zeros((facts.channels, 0), np.float32)
    del chunks
    if y.shape[1] == 0:
        raise CorruptFile(f"the {what} stream decodes to no audio")
    remark_planar(y, mark, stretch, margin)
    return facts, np.ascontiguousarray(y, dtype=np.float32)


#: AvAccess names whose samples :func:`remark_reencoded` rewrites (their comment header is copied whole)
REMARK_REENCODE = ("ogg", "opus")


def remark_reencoded(access: Any, mark: Any, stretch: int, margin: int) -> tuple[bytes, list[str], dict]:
    """(the Ogg Vorbis/Opus file of *access* with new samples from *mark*, notes, details): decoded, the
    samples rewritten in stretches (:func:`remark_planar`), re-encoded once at the source's bitrate with the
    encoder the audible-label insertion uses, and the original's Vorbis comment (every field, pictures
    included) put on the new stream.  One lossy generation; only the first logical stream is kept."""

    from ._av_splice import REENCODE, _copy_vorbis_comment, _encode
    from .media_audio import read_whole

    muxer, codec, label = REENCODE[access.name]
    data = read_whole(access.src, f"the {label} file")
    facts, y = decode_remarked(access.src, label, mark, stretch, margin, start=access.start, format=access.demuxer)
    seconds = y.shape[1] / facts.rate
    bitrate = facts.bit_rate or int(len(data) * 8 / seconds)  # container overhead included: a slight overestimate
    bitrate = max(24000 if codec != "libopus" else 12000, min(bitrate, 320000 if codec != "libopus" else 256000))
    encoded, encoder, codec, bitrate, notes = _encode(y, facts, muxer, codec, bitrate, None, False)
    encoded = _copy_vorbis_comment(data, encoded, access.name)
    rate = f"{bitrate // 1000} kbit/s, matched to the original" if bitrate else "default quality"
    notes.insert(0, f"the {label} audio was decoded, marked (about 30 dB under the audio, 1-6 kHz) and re-encoded "
                    f"once ({encoder}, {rate}; {facts.channels} ch, {facts.rate} Hz): one lossy generation, the "
                    "original packets are not kept; the Vorbis comment (every field, pictures included) is copied")
    return encoded, notes, {"method": "re-encoded", "codec": codec, "bitrate": bitrate, "sample_rate": facts.rate,
                            "channels": facts.channels, "frames": y.shape[1]}


def codecs_available() -> frozenset[str]:
    return frozenset(load_av().codecs_available)
