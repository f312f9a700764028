"""A visible text label in the opening frames of a video, shown long enough and tall enough (OCR).

GB 45438-2025 asks video for a text prompt in the opening frames, visible for at least 2 s at normal
speed, with a text height of at least 5 % of the frame's shortest side (end and middle prompts are
optional and not checked here).  Corner placement is common practice but not a requirement
(``require_edge`` is off by default; the position is reported).

How it is checked (``pip install 'aigclabel[ocr]'`` and PyAV; without them the finding is *not
checked*, never a pass):

1. Decode only the opening ``min_duration_s`` seconds of the first video stream (the container is
   read as far as that needs: an MP4 whose ``moov`` is at the end is read by seeking), with the
   display rotation applied.
2. Take ``samples`` frames spread evenly across that span -- the frame on screen at each sample
   time, the first at the first picture, the last at the last picture before the span ends.
3. Look for the label in each with the image rule's OCR (:func:`aigclabel.rules.explicit_image.assess`:
   corner and edge bands first, ink height measured inside the OCR box, both wording elements).
4. PASS when every sampled frame carries a qualifying label; otherwise ERROR naming the frames
   without one (and how long the label was seen).  A video shorter than the span passes when the
   label is in every sampled frame of the whole video (the message says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from ..report import Finding, Level

ID = "explicit.video"
SCOPE = "explicit"
KINDS = frozenset({"video"})
OPTIONS: dict[str, Any] = {
    # the requirement
    "min_duration_s": 2.0,  # the label must be on screen this long from the first frame
    "min_height_ratio": 0.05,  # ink height / shortest side (GB 45438-2025)
    "min_height_px": 0,
    "min_area_ratio": 0.0,
    "require_edge": False,  # corner placement is practice, not a rule
    # checking
    "samples": 5,  # frames OCR'd across the opening span
    "ocr_min_confidence": 0.5,
    "band_ratio": 0.15,
    "full_image_fallback": True,
    "edge_margin_ratio": 0.1,
    "box_to_ink": 1.25,
    # marking defaults (aigclabel mark --video-duration / --video-at override them)
    "duration_s": 3.0,
    "at": ["start"],
}
DESCRIPTION = "visible text label with both elements in the opening frames for >= 2 s, tall enough"

INSTALL_HINT = "pip install 'aigclabel[audio]'"


class _NotChecked(Exception):
    pass


@dataclass
class _Sample:
    time: float  # seconds from the first picture
    image: Any  # PIL RGB, displayed orientation


def _expected(options: dict[str, Any]) -> str:
    from .explicit_image import _size_rule

    return (f"a text label with an AI element and a generation element in every frame of the first "
            f"{options['min_duration_s']:g} s, {_size_rule(options)}")


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..explicit import ocr

    expected = _expected(options)
    if not ocr.available():
        yield Finding(ID, Level.NOT_CHECKED, "the visible (explicit) label was not checked: OCR is not installed "
                      f"(install the OCR extra: {ocr.INSTALL_HINT})", expected=expected)
        return
    if ctx.source is None:
        yield Finding(ID, Level.NOT_CHECKED, "the visible (explicit) label was not checked: the video content was "
                      "not available", expected=expected)
        return
    try:
        samples, span, length, notes = opening_frames(ctx.source, float(options["min_duration_s"]),
                                                      max(1, int(options["samples"])))
        yield _judge(samples, span, length, notes, ctx.profile, options, expected)
    except _NotChecked as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) label was not checked: {exc}", expected=expected)
    except (ocr.OcrUnavailable, ocr.OcrFailed) as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) label was not checked: {exc}", expected=expected)


def opening_frames(source: Any, span: float, count: int) -> tuple[list[_Sample], float, float | None, list[str]]:
    """*count* frames (displayed orientation) spread over the first *span* seconds of *source*.

    Returns (samples, the span actually covered, the video's length when shorter, notes).
    """
    try:
        import av
    except ImportError:
        raise _NotChecked(f"decoding video needs PyAV ({INSTALL_HINT})") from None
    from PIL import Image

    source.seek(0)
    notes: list[str] = []
    try:
        container = av.open(source, "r")
    except Exception as exc:  # noqa: BLE001 - a third-party demuxer: its errors never escape raw
        raise _NotChecked(f"the video could not be opened ({exc.__class__.__name__}: {exc})") from None
    frames: list[tuple[float, Any, int]] = []  # (time from the start, frame, rotation) of each picture
    try:
        videos = [s for s in container.streams.video
                  if not (s.disposition & av.stream.Disposition.attached_pic)]
        if not videos:
            raise _NotChecked("the file has no video stream")
        vs = videos[0]
        vs.codec_context.thread_type = "AUTO"
        start = None
        shorter = True
        for frame in container.decode(vs):
            if frame.pts is None:
                continue
            t = float(frame.pts * frame.time_base)
            if start is None:
                start = t
            if t - start >= span:
                shorter = False
                break
            frames.append((t - start, frame.to_image(), int(round(-(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360))
        if len(videos) > 1 or len(container.streams.video) > len(videos):
            notes.append(f"checked the first video stream (#{vs.index})")
    except _NotChecked:
        raise
    except Exception as exc:  # noqa: BLE001
        if not frames:
            raise _NotChecked(f"the video could not be decoded ({exc.__class__.__name__}: {exc})") from None
        notes.append(f"decoding stopped early ({exc.__class__.__name__}: {exc})")
        shorter = True
    finally:
        container.close()
    if not frames:
        raise _NotChecked("the video stream holds no decodable pictures")
    frames.sort(key=lambda f: f[0])
    last = frames[-1][0]
    covered = last if shorter else span
    length = last + (frames[1][0] - frames[0][0] if len(frames) > 1 else 0.0) if shorter else None
    # sample times: the first picture to the last one before the span ends
    end = last if shorter else max(t for t, _i, _r in frames)
    times = [0.0] if count == 1 else [end * i / (count - 1) for i in range(count)]
    turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    samples = []
    for target in times:
        t, image, rotation = max((f for f in frames if f[0] <= target + 1e-6), key=lambda f: f[0])
        if rotation in turn:
            image = image.transpose(turn[rotation])
        samples.append(_Sample(t, image))
    if any(r for _t, _i, r in frames):
        notes.append(f"frames turned by {frames[0][2]} degrees as the display matrix says")
    return samples, covered, length, notes


def _judge(samples: list[_Sample], span: float, length: float | None, notes: list[str], profile: Any,
           options: dict[str, Any], expected: str) -> Finding:
    from .explicit_image import Decoded, assess

    results: list[tuple[_Sample, Finding]] = []
    for s in samples:
        decoded = Decoded(s.image, s.image.size[0], s.image.size[1])
        (finding,) = list(assess(decoded, profile, options))
        results.append((s, finding))
        if finding.level is not Level.PASS and len(results) == 1:
            break  # no label on the first picture: the opening frames fail whatever follows
    times = ", ".join(f"{s.time:.2f}" for s in samples)
    tail = "".join(f"; {n}" for n in notes)
    minimum = float(options["min_duration_s"])
    if length is not None:
        scope = f"the whole video ({length:.2f} s, shorter than the required {minimum:g} s)"
    else:
        scope = f"the first {minimum:g} s"
    passed = [(s, f) for s, f in results if f.level is Level.PASS]
    if len(passed) == len(results):
        s0, f0 = passed[0]
        return Finding(ID, Level.PASS,
                       f"visible label found in all {len(samples)} frames sampled across {scope} (at {times} s); "
                       f"first frame: {_strip(f0.message)}{tail}",
                       location=f"frames at {times} s; {f0.location or ''}".rstrip("; "), expected=expected,
                       actual=f"label in {len(samples)}/{len(samples)} sampled frames; {f0.actual or ''}".rstrip("; "))
    missing = [(s, f) for s, f in results if f.level is not Level.PASS]
    seen = ""
    if passed:
        first_gap = missing[0][0].time
        if all(s.time < first_gap for s, _f in passed):
            seen = f"; the label is seen only until about {max(s.time for s, _f in passed):.2f} s"
    s1, f1 = missing[0]
    if len(results) == 1 and len(samples) > 1:
        return Finding(ID, Level.ERROR,
                       f"no compliant visible label on the first frame ({s1.time:.2f} s) of {scope}: "
                       f"{_strip(f1.message)}{tail}",
                       location=f"frame at {s1.time:.2f} s", expected=expected,
                       actual=f1.actual or "no label in the opening frame")
    where = ", ".join(f"{s.time:.2f} s" for s, _f in missing)
    return Finding(ID, Level.ERROR,
                   f"visible label missing or not compliant in {len(missing)} of {len(samples)} frames sampled "
                   f"across {scope} (at {where}){seen}; at {s1.time:.2f} s: {_strip(f1.message)}{tail}",
                   location=f"frame at {s1.time:.2f} s", expected=expected,
                   actual=f"label in {len(passed)}/{len(samples)} sampled frames; {f1.actual or 'no label'}")


def _strip(message: str) -> str:
    return message[0].lower() + message[1:] if message else message
