"""An invisible watermark: a second implicit label, in the pixels, for when the metadata is gone.

Metadata does not survive a screenshot or a messenger's recompression; a watermark in the content
does, within limits.  This package embeds a 64-bit word (:mod:`.payload`: a version, a keyed 40-bit
hash of ContentProducer + ProduceID so the record can be looked up, and a 20-bit check) into an
image and reads it back with a confidence::

    from aigclabel.watermark import embed, detect, payload_for
    marked = embed(picture, payload_for(record, key))       # a PIL image in, a PIL image out
    found = detect(marked)                                  # Detection(found, payload, confidence, ...)

Needs numpy (``pip install 'aigclabel[watermark]'``); :func:`available` says whether it is there.

Which watermark, and why our own (the candidates' wheels inspected and imported here, offline):

* ``invisible-watermark`` 0.2.0 (MIT; DWT-DCT, DWT-DCT-SVD, RivaGAN): ``import imwatermark`` fails
  without torch (its RivaGAN module imports it at package import), so the extra would pull torch
  (hundreds of MB) for two transforms that run per block in Python at full resolution; last release 2023.
* ``blind-watermark`` 0.4.4 (MIT; DWT-DCT-SVD with quantised singular values): its package import
  sets the process's multiprocessing start method to ``fork`` and its constructor prints a banner;
  it needs opencv-python and PyWavelets; quantising singular values is by construction sensitive to a
  gain (contrast) change; per-block Python loops over the whole picture; last release 2023.
* TrustMark 0.9.2 (MIT): its models are downloaded from Adobe's server at first use (the package
  does not ship them) and it needs torch: excluded (must work offline).

So the mark is a small spread-spectrum scheme of our own (:mod:`._image`) on numpy and Pillow alone
(no new dependency beyond numpy): the work is done on a 256-pixel luma copy, so a 12 MP picture
costs a resize and an addition; informed embedding cancels the picture's own correlation with each
bit; detection is a correlation with a z-score per bit.  It survives re-encoding, rescaling and
brightness/contrast changes; it does not survive a crop (the grid moves) - see the bench's table.

Threat model, honestly: the embedding pattern is public (any aigclabel reads the word), so anyone
can embed a well-formed word - a watermark proves nothing about who made a file.  The id is keyed:
without the key, nobody can make a word that matches a given record, but with it anyone can (a
keyed watermark can be forged by a key holder).  Strong edits (a crop, heavy filtering, a
re-synthesis by another model) remove it.  So findings say "watermark found" or "not found", and
"not found" never means "not AI-generated".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import UnsupportedOperation
from .payload import DEFAULT_KEY, ID_BITS, VERSION, from_bits, payload_for, split_word, to_bits, word_for

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .._io import CountingReader
    from ..formats.base import FormatHandler
    from ..formats.media_image import Rewrite

__all__ = ["Detection", "embed", "detect", "payload_for", "available", "EXTRA_HINT", "DEFAULT_KEY", "ID_BITS",
           "VERSION", "PATTERN_KEY", "embed_file", "detect_file", "word_for", "decode_z"]

EXTRA_HINT = "pip install 'aigclabel[watermark]'"
#: the embedding pattern's key: public and fixed per version, so every copy of aigclabel can read the word
PATTERN_KEY = b"aigclabel-watermark-pattern-v1"
#: a word is "found" only when its check holds after flipping at most this many of its least clear bits
_CHASE_BITS = 6
#: a bit counts as clearly read at this |z| (a picture without the mark: about 0.3 % of its bits)
_CLEAR_Z = 3.0
#: with the expected word known (the file's record), this many differing bits still match: the chance
#: that an unmarked picture comes this close is about 2e-7
_MATCH_DISTANCE = 12


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` read from a picture."""

    found: bool
    #: the 40-bit id when found (compare with :func:`payload_for`), else None
    payload: int | None
    version: int | None
    #: the share of the 64 bits read clearly (|z| >= 3): 1.0 on a fresh mark, ~0.003 on an unmarked picture
    confidence: float
    #: bits the check corrected (0 .. 6) when found
    corrected: int = 0
    #: the word as read (bit decisions), for matching against an expected record
    word: int = 0
    z: tuple[float, ...] = field(default=(), repr=False)

    def matches(self, payload: int) -> bool:
        """Whether this reading is the mark of *payload* (the word may be damaged: a distance test)."""
        if self.found and self.payload == payload:
            return True
        return bin(self.word ^ word_for(payload)).count("1") <= _MATCH_DISTANCE

    def describe(self) -> str:
        if not self.found:
            return f"no watermark found (confidence {self.confidence:.2f})"
        fixed = f", {self.corrected} bit(s) corrected" if self.corrected else ""
        return f"watermark found (payload {self.payload:010x}, confidence {self.confidence:.2f}{fixed})"


def available() -> bool:
    """Whether the watermark extra (numpy) is installed."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def _need() -> Any:
    try:
        from . import _image
    except ImportError:
        raise UnsupportedOperation(f"the invisible watermark needs numpy ({EXTRA_HINT})") from None
    return _image


def _need_audio() -> Any:
    try:
        from . import _audio
    except ImportError:
        raise UnsupportedOperation(f"the invisible watermark needs numpy ({EXTRA_HINT})") from None
    return _audio


def _mono(samples: Any) -> Any:
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    return x.mean(axis=1) if x.ndim == 2 else x


def _audio_fits(rate: int, seconds: float, what: str) -> None:
    """Refuse audio the mark cannot be read back from: too short, or a rate off the symbol grid."""
    audio = _need_audio()
    if seconds < audio.MIN_SECONDS:
        raise UnsupportedOperation(f"{what} of {seconds:.1f} s is too short to carry a watermark: at least "
                                   f"{audio.MIN_SECONDS:.0f} s of audio are needed (one {audio.PERIOD_S:.1f} s "
                                   "period of the repeated word must survive a cut of the first seconds)")
    if not audio.rate_ok(rate):
        raise UnsupportedOperation(f"{what} at {rate} Hz cannot carry the watermark: the sample rate must be a "
                                   f"multiple of 10 Hz and above {2 * audio.HIGH_HZ} Hz (the mark lives in "
                                   f"{audio.LOW_HZ}-{audio.HIGH_HZ} Hz)")


def _embed_audio(samples: Any, payload: int, rate: int) -> Any:
    import numpy as np

    audio = _need_audio()
    x = np.asarray(samples, dtype=np.float64)
    frames = x[:, None] if x.ndim == 1 else x
    _audio_fits(rate, frames.shape[0] / rate, "audio")
    marked = audio.embed_samples(frames, rate, to_bits(word_for(payload)), PATTERN_KEY)
    return marked[:, 0] if x.ndim == 1 else marked


def _rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("L", "RGB", "RGBA"):
        return im
    return im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")


def embed(picture: Image.Image | Any, payload: int, *, rate: int | None = None) -> Image.Image | Any:
    """*picture* with the 40-bit *payload* (see :func:`payload_for`) embedded invisibly.

    Returns a new image in mode L, RGB or RGBA (other modes are converted first); the size is kept.
    With *rate*, *picture* is audio instead: a numpy array of samples (frames, or frames x channels; full
    scale 1) at *rate* Hz, at least ten seconds of it; the marked samples come back in the same shape.
    """
    if rate is not None:
        return _embed_audio(picture, payload, rate)
    image = _need()
    if min(picture.size) < image.MIN_SIDE:
        raise UnsupportedOperation(f"a {picture.size[0]}x{picture.size[1]} picture is too small to carry a "
                                   f"watermark (short side under {image.MIN_SIDE} pixels)")
    return image.embed_bits(_rgb(picture), to_bits(word_for(payload)), PATTERN_KEY)


def detect(picture: Image.Image | Any, *, rate: int | None = None) -> Detection:
    """Read a watermark from *picture* (a PIL image), or from mono samples at *rate* (a numpy array, full
    scale 1): found, its payload and a confidence (never "not AI-generated")."""
    if rate is not None:
        audio = _need_audio()
        return decode_z(audio.read_bits(_mono(picture), rate, PATTERN_KEY))
    image = _need()
    if min(picture.size) < 16:
        return Detection(False, None, None, 0.0)
    return decode_z(image.read_bits(_rgb(picture), PATTERN_KEY))


def decode_z(z: Any) -> Detection:
    """The :class:`Detection` of one z-score per bit (the image and the audio detector share this)."""
    decided = [1 if v > 0 else 0 for v in z]
    word = from_bits(decided)
    confidence = float(sum(1 for v in z if abs(v) >= _CLEAR_Z)) / len(z)
    if not any(z):  # too short to read (audio under one period): nothing was measured
        return Detection(False, None, None, 0.0, 0, word, tuple(float(v) for v in z))
    weakest = sorted(range(len(z)), key=lambda i: abs(z[i]))[:_CHASE_BITS]
    n = len(z)
    # Chase decoding: try the word with up to all six least clear bits flipped (64 candidates; the
    # chance that any of them passes the 24-bit version+check on an unmarked picture is about 4e-6).
    for k in range(_CHASE_BITS + 1):
        for flips in combinations(weakest, k):
            candidate = word
            for i in flips:
                candidate ^= 1 << (n - 1 - i)
            parts = split_word(candidate)
            if parts is not None:
                return Detection(True, parts[1], parts[0], confidence, k, word, tuple(float(v) for v in z))
    return Detection(False, None, None, confidence, 0, word, tuple(float(v) for v in z))


def _reduced(access: Any) -> Image.Image:
    """The picture, decoded at reduced size where the format allows (JPEG): detection works at 256 px."""
    from ._image import WORK_SHORT

    w, h = access.size
    scale = max(1.0, min(w, h) / (2 * WORK_SHORT))
    return access.picture(draft=(int(w / scale), int(h / scale)))


def detect_file(handler: FormatHandler, src: CountingReader) -> Detection:
    """Read a watermark from the picture of an image file (the handler decodes; first frame only), or from
    the whole stream of an audio file (the handler decodes; channels averaged)."""
    if handler.kind == "audio":
        audio = _need_audio()
        rate, pieces = audio.mono_stream(handler.audio_access(src))
        folded, length = audio.fold_stream(pieces, rate)
        return decode_z(audio.read_fold(folded, length, rate, PATTERN_KEY))
    _need()
    access = handler.image_access(src)
    return detect(_reduced(access))


def embed_file(handler: FormatHandler, src: CountingReader, payload: int) -> Rewrite:
    """The image file with *payload* embedded: the picture re-encoded once, in its own container.

    JPEG keeps its quantisation tables and subsampling, PNG and lossless WebP stay lossless, lossy WebP
    is re-encoded at its estimated quality; everything else in the container is kept as it is.
    Audio (:func:`_embed_audio_file`): WAV and AIFF get new sample values in place, every other byte kept;
    FLAC is re-encoded losslessly, MP3 once with LAME, Ogg Vorbis/Opus once (tags kept).
    """
    if handler.kind == "audio":
        return _embed_audio_file(handler, src, payload)
    access = handler.image_access(src)
    if getattr(access, "animated", False) or not getattr(access, "writable", True):
        raise UnsupportedOperation(f"the watermark is written into still {handler.name.upper()} pictures only "
                                   "(not an animation, not a read-only format) in this version")
    picture = access.picture()
    encoding = access.encoding(picture)
    marked: Image.Image = embed(picture, payload)
    if marked.mode == picture.mode:
        for attr in ("format", "quantization", "info"):  # what the JPEG re-encode keeps (its tables)
            if hasattr(picture, attr):
                try:
                    setattr(marked, attr, getattr(picture, attr))
                except AttributeError:  # pragma: no cover - a read-only attribute in some Pillow version
                    pass
        if getattr(picture, "layers", None) is not None and hasattr(picture, "layer"):
            marked.layer = picture.layer  # type: ignore[attr-defined]  # JPEG subsampling is read from these
            marked.layers = picture.layers  # type: ignore[attr-defined]
    return access.write_picture(marked, (0, 0, *picture.size), encoding)


def _embed_audio_file(handler: FormatHandler, src: CountingReader, payload: int) -> Rewrite:
    """The audio file with the mark of *payload* in its samples, as bytes (see :func:`_audio_rewrite`)."""
    from ..formats.media_image import Rewrite as _Rewrite

    out, notes, details = _audio_rewrite(handler, src, payload)
    try:
        out.seek(0)
        return _Rewrite(out.read(), notes, details)
    finally:
        out.close()


#: a re-encoded format is marked in stretches of this many symbols (20 s), not embed_pcm's 600 (60 s): on ten
#: minutes of 44.1 kHz stereo FLAC the envelope's temporaries for 60 s stretches took the process to 337 MB
#: (VmHWM), 20 s stretches to 167 MB, under the 200 MB bound for long media; the one difference is that the
#: envelope's floor (5 % of the RMS) is taken over 20 s instead of 60 s
_REENCODE_SYMBOLS = 200


def _audio_rewrite(handler: FormatHandler, src: CountingReader, payload: int) -> tuple[BinaryIO, list[str], dict]:
    """The audio file with the mark of *payload* in its samples.

    * WAV/AIFF (integer or float PCM): the samples marked in their own format, in place - the sample data
      keeps its offset and size, so every header, chunk and byte around it is the original's.
    * FLAC: decoded, marked and re-encoded losslessly in the same bit depth, streamed in stretches (the
      handler's access, :meth:`~aigclabel.formats._flac_splice.FlacAccess.remark`); the samples differ from
      the original's by the mark only, every metadata block but STREAMINFO/SEEKTABLE is kept.
    * MP3: decoded, marked and re-encoded with LAME at the source's rate, channels and bitrate (the
      handler's :meth:`~aigclabel.formats.mp3.Mp3Handler.remark_audio`): one lossy generation; the ID3v2
      tag in front and an ID3v1/APE trailer are kept byte for byte.
    * Ogg Vorbis and Opus: decoded, marked, re-encoded once at the source's bitrate, the Vorbis comment
      copied (:func:`~aigclabel.formats._av_audio.remark_reencoded`).

    M4A (AAC) and other compressed audio are refused in this version, naming the format: re-encoding
    would lose the MP4 metadata boxes the format module does not carry over yet.
    """
    import io

    audio = _need_audio()
    bits = to_bits(word_for(payload))
    access = handler.audio_access(src)
    name = handler.name.upper()
    if handler.name == "flac" and hasattr(access, "remark"):
        rate = access.info.rate
        _audio_fits(rate, _declared(access, audio), "the FLAC audio")
        n = int(round(rate * audio.SYMBOL_S))
        out, frames = access.remark(_stretch_marker(audio, rate, bits), _REENCODE_SYMBOLS * n,
                                    int(rate * audio._MARGIN_S))
        _decoded_fits(out, rate, frames, "the FLAC audio")
        return out, [f"the {access.info.channels}-channel {rate} Hz {access.bits}-bit FLAC was decoded, marked "
                     "(about 30 dB under the audio, 1-6 kHz) and re-encoded losslessly in the same bit depth and "
                     "length: the samples differ from the original's by the mark only; every metadata block but "
                     "STREAMINFO and SEEKTABLE (dropped: stale) is kept"], \
            {"method": "re-encoded losslessly", "sample_rate": rate, "bits": access.bits}
    from ..formats._av_audio import REMARK_REENCODE, remark_reencoded

    remark_audio = getattr(handler, "remark_audio", None)  # MP3: the handler keeps its tags around new frames
    ogg = getattr(access, "name", None) in REMARK_REENCODE and not getattr(access, "refusal", None)
    if remark_audio is not None or ogg:
        rate = access.info.rate
        _audio_fits(rate, _declared(access, audio), f"the {name} audio")
        n = int(round(rate * audio.SYMBOL_S))
        args = (_stretch_marker(audio, rate, bits), _REENCODE_SYMBOLS * n, int(rate * audio._MARGIN_S))
        data, notes, details = remark_audio(src, *args) if remark_audio is not None else remark_reencoded(access, *args)
        result = io.BytesIO(data)
        _decoded_fits(result, rate, details["frames"], f"the {name} audio")
        return result, notes, details
    pcm = getattr(access, "pcm", None)
    if pcm is None or not hasattr(access, "first") or getattr(access, "refusal", None):
        raise UnsupportedOperation(f"the audio watermark is written into WAV, AIFF, FLAC, MP3 and Ogg Vorbis/Opus "
                                   f"only in this version, not into {name} ({access.info.codec}): re-encode to one "
                                   "of those, mark, then encode")
    _audio_fits(pcm.rate, access.frames / pcm.rate, f"the {name} audio")
    data = audio.embed_pcm(access, bits, PATTERN_KEY)
    notes = [f"the {pcm.channels}-channel {pcm.rate} Hz {pcm.describe()} samples were rewritten in place with the "
             "mark (about 30 dB under the audio, 1-6 kHz); every other byte of the file is kept"]
    return io.BytesIO(data), notes, {"method": "samples rewritten", "sample_rate": pcm.rate}


def _declared(access: Any, audio: Any) -> float:
    """The declared duration to check before decoding; a stream that declares none (a FLAC written to a pipe
    has no total in STREAMINFO) passes here and is checked by :func:`_decoded_fits` after the decode."""
    return float(access.info.duration_s or audio.MIN_SECONDS)


def _decoded_fits(out: BinaryIO, rate: int, frames: int, what: str) -> None:
    """Refuse (and drop *out*) when the decoded audio is shorter than the header said - a truncated file
    whose header declares its whole length would otherwise get a mark too short to read back."""
    try:
        _audio_fits(rate, frames / rate, f"{what} as decoded")
    except UnsupportedOperation:
        out.close()
        raise


def _stretch_marker(audio: Any, rate: int, bits: Any) -> Any:
    """The callback a format's re-encoder calls per stretch: what :func:`._audio.embed_pcm` does to each
    stretch of a WAV (the envelope read over the stretch and its context, symbols numbered from the stretch's
    place; the embedder's maths untouched), on stretches of :data:`_REENCODE_SYMBOLS`."""
    n = int(round(rate * audio.SYMBOL_S))

    def mark(window: Any, a: int, b: int, first: int) -> Any:
        env = audio.envelope(window.mean(axis=1), rate)[a:b]
        core = window[a:b]
        core += audio._mark_with(core.mean(axis=1), env, rate, bits, PATTERN_KEY, first // n)[:, None]
        return core  # in place: the window is the caller's own copy (a stretch is tens of MB)
    return mark


def inspection(handler: FormatHandler, src: CountingReader, evidence: Any, key: str | bytes | None = None
               ) -> dict[str, Any]:
    """What ``inspect --watermark`` shows: ``status`` found / not-found / not-checked, the ``message`` (in the
    words of the ``implicit.watermark`` rule: "not found" never means "not AI-generated"), and when found the
    ``payload`` (hex), ``confidence`` and how it relates to the file's records (``record``)."""
    from ..errors import AigcLabelError
    from ..rules.watermark import record_match

    if handler.kind not in ("image", "audio"):
        return {"status": "not-checked", "message": f"no watermark detector for {handler.kind} content in this "
                "version (images and audio only)"}
    if not available():
        return {"status": "not-checked", "message": f"the watermark detector is not installed ({EXTRA_HINT})"}
    try:
        found = detect_file(handler, src)
    except AigcLabelError as exc:
        return {"status": "not-checked", "message": f"the content could not be decoded ({exc})"}
    if not found.found:
        if handler.kind == "audio" and not any(found.z):
            return {"status": "not-checked", "message": "the audio is too short to read a watermark from"}
        return {"status": "not-found", "confidence": round(found.confidence, 3),
                "message": f"{found.describe()}: this says nothing about whether the content is AI-generated"}
    assert found.payload is not None
    relation = record_match(evidence, found, {"key": key or ""},
                            "the given key" if key else "the published default key")
    return {"status": "found", "payload": f"{found.payload:010x}", "confidence": round(found.confidence, 3),
            "corrected_bits": found.corrected, "record": relation, "message": f"{found.describe()}; {relation}"}


def profile_key(profile: Any) -> str:
    """The watermark key a profile names (its ``implicit.watermark`` rule's ``key``; empty: the default)."""
    rule = getattr(profile, "rules", {}).get("implicit.watermark")
    return str(rule.options.get("key", "")) if rule is not None else ""


def mark_step(src: CountingReader, handler: FormatHandler, record: Any, watermark: bool | str | bytes,
              profile: Any, notes: list[str]) -> CountingReader:
    """The marking step that embeds the watermark: after the explicit label, before the metadata step.

    *watermark* is True (the profile's key, or the published default) or a key.  Returns the new content;
    the pixels are re-encoded for this only, and a note says so.
    """
    import io
    import weakref

    from .._io import CountingReader as _Reader

    if handler.kind not in ("image", "audio"):
        raise UnsupportedOperation(f"the watermark is written into images and audio only in this version, not "
                                   f"into {handler.kind} ({handler.name.upper()})")
    key = watermark if isinstance(watermark, (str, bytes)) else profile_key(profile)
    ident = payload_for(record, key or None)
    which = "the published default key" if not key else "the given key"
    lead = (f"invisible watermark embedded (payload {ident:010x}: keyed hash of ContentProducer + ProduceID "
            f"under {which}); ")
    if handler.kind == "audio":  # a re-encoded FLAC comes back as a temporary file: never held whole
        out, audio_notes, _details = _audio_rewrite(handler, src, ident)
        notes.append(lead + "; ".join(audio_notes))
        reader = _Reader(out, src.name, out.seek(0, io.SEEK_END))
        weakref.finalize(reader, out.close)
        return reader
    rewrite = embed_file(handler, src, ident)
    notes.append(lead + "the picture was re-encoded for it: " + "; ".join(rewrite.notes))
    return _Reader(io.BytesIO(rewrite.data), src.name, len(rewrite.data))


def review_traces(handler: FormatHandler, evidence: Any, src: CountingReader, plan: Any, cfg: Any,
                  ev: list[Any]) -> None:
    """The upload review's watermark evidence (:func:`aigclabel.platform.review`), when the extra is there.

    Runs only when the platform's profile looks for the watermark (``detect``).  A word that matches the
    relied-on record is tier-1 evidence that the file is the labelled one; a word
    without any record makes tier 3 ("suspected") - never a lower tier, and nothing at all when not found.
    """
    from ..errors import AigcLabelError
    from ..platform import EvidenceItem
    from ..profiles import load_profile

    if evidence.kind not in ("image", "audio") or not available():
        return
    prof = load_profile(cfg.profile)
    rule = prof.rules.get("implicit.watermark")
    if rule is None or not rule.enabled or not rule.options.get("detect", True):
        return  # as in verify: only a profile that looks for the watermark pays for the picture decode
    try:
        found = detect_file(handler, src)
    except AigcLabelError as exc:
        what = "picture" if evidence.kind == "image" else "audio"
        ev.append(EvidenceItem("watermark-not-read", f"the {what} could not be decoded for the watermark: {exc}"))
        return
    if not found.found:
        return
    key = profile_key(prof) or None
    base = getattr(plan, "base", None) or {}
    if plan.tier is not None and base and found.payload == payload_for(base, key):
        ev.append(EvidenceItem("watermark", f"{found.describe()}: matches the relied-on record, so this file is "
                                            "the labelled one"))
        return
    ev.append(EvidenceItem("watermark", found.describe() + ("" if plan.tier is None else
                                                           ": does not match the relied-on record")))
    if plan.tier is None:
        plan.tier, plan.created = 3, True
        plan.relied = "an invisible watermark (aigclabel's) found in the content, without metadata"
