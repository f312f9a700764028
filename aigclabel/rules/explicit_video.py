"""A visible text label in the opening frames of a video, shown long enough and tall enough (OCR).

GB 45438-2025 asks video for a text prompt in the opening frames, visible for at least 2 s at normal
speed, with a text height of at least 5 % of the frame's shortest side (end and middle prompts are
optional and not checked here).  Corner placement is common practice but not a requirement
(``require_edge`` is off by default; the position is reported).

How it is checked (``pip install 'aigclabel[ocr]'`` and PyAV; without them the finding is *not
checked*, never a pass):

1. Ask the format handler (``handler.video_access(source)``, :mod:`aigclabel.formats.media_video`)
   for the opening ``min_duration_s`` seconds of the first video stream: only those packets are
   read and decoded (an MP4 whose ``moov`` is at the end is read by seeking), within the limits
   in force (frame size, frames decoded, decode time), with the display rotation applied.  A file
   that cannot be decoded, or that reaches a limit, is *not checked* and the finding says why.
2. Take ``samples`` frames spread evenly across that span -- the frame on screen at each sample
   time, the first at the first picture, the last at the last picture before the span ends.
3. Look for the label in each with the image rule's OCR (:func:`aigclabel.rules.explicit_image.assess`:
   corner and edge bands first, ink height measured inside the OCR box, both wording elements).
4. PASS when every sampled frame carries a qualifying label; otherwise ERROR naming the frames
   without one (and how long the label was seen).  A video shorter than the span passes when the
   label is in every sampled frame of the whole video (the message says so).
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from ..errors import CorruptFile, LimitExceeded, UnsupportedOperation
from ..limits import check_deadline
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
#: marking asks this rule whether the opening label is already there (aigclabel.explicit.label_present):
#: the first picture only, its corner and edge bands only
PRESENT_OPTIONS: dict[str, Any] = {"samples": 1, "full_image_fallback": False}
PRESENT_HOW = "OCR of the first frame"


class _Sample(NamedTuple):
    """A video frame sampled for the visible-label check, with its time."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)
    time: float  # seconds from the first picture
    image: Any  # PIL RGB, displayed orientation


def _expected(options: dict[str, Any]) -> str:
    from .explicit_image import _size_rule

    return (f"a text label with an AI element and a generation element in every frame of the first "
            f"{options['min_duration_s']:g} s, {_size_rule(options)}")


def _not_checked(why: str, expected: str) -> Finding:
    return Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) label was not checked: {why}", expected=expected)


def _access(ctx: Any) -> Any:
    """The handler's video access (the handler that read the evidence, else the one the content picks)."""
    handler = ctx.handler
    if handler is None:
        from ..formats import handler_for

        handler = handler_for(ctx.source)
    return handler.video_access(ctx.source)


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..explicit import ocr

    expected = _expected(options)
    if not ocr.available():
        yield _not_checked(f"OCR is not installed (install the OCR extra: {ocr.INSTALL_HINT})", expected)
        return
    if ctx.source is None:
        yield _not_checked("the video content was not available", expected)
        return
    try:
        opening = _access(ctx).opening_frames(float(options["min_duration_s"]), max(1, int(options["samples"])))
        samples = [_Sample(t, image) for t, image in opening.samples]
        yield _judge(samples, opening.covered, opening.length, opening.notes, ctx.profile, options, expected)
    except UnsupportedOperation as exc:  # no video stream, PyAV missing, a format without video access
        yield _not_checked(str(exc), expected)
    except LimitExceeded as exc:
        yield _not_checked(f"a resource limit was reached ({exc})", expected)
    except CorruptFile as exc:
        yield _not_checked(f"the video could not be decoded ({exc})", expected)
    except (ocr.OcrUnavailable, ocr.OcrFailed) as exc:
        yield _not_checked(str(exc), expected)


def _judge(samples: list[_Sample], span: float, length: float | None, notes: list[str], profile: Any,
           options: dict[str, Any], expected: str) -> Finding:
    from .explicit_image import Decoded, assess

    results: list[tuple[_Sample, Finding]] = []
    for s in samples:
        check_deadline("reading the video label (OCR)")
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


def summary(finding: Finding) -> str:
    """What a passing finding found, short: the first frame's label text, position and height."""
    # actual: "label in 1/1 sampled frames; <the image rule's actual for the first frame>"
    return (finding.actual or finding.message).split("; ", 1)[-1].split(", text area")[0]


def _strip(message: str) -> str:
    return message[0].lower() + message[1:] if message else message
