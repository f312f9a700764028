"""An audible label: a voice prompt with both elements, or the rhythm prompt (Morse "AI", ·− ··).

GB 45438-2025 asks audio for a voice prompt (an AI element and a generation element, at normal
speech rate) or the rhythm prompt "short long short short" (Morse "AI"), at the start, the end
and/or a suitable middle position.  The standard gives no frequency or unit length, so the rhythm
prompt is found by relative durations (dot:dash 1:3, gaps of 1 and 3 units) for any tone of
300-3000 Hz and any unit of 40-200 ms (see :mod:`aigclabel.explicit.audio_detect`).

What is decoded: the first and the last ``window_s`` seconds and ``window_s`` seconds around the
middle (the whole file when it is shorter than three windows, or with ``full_scan``).

Outcomes:

* a rhythm prompt, or aigclabel's own voice clip (recognised by fingerprint correlation) -> PASS;
* neither, but speech-like audio in a window -> NOT CHECKED: a voice prompt of other wording needs
  speech recognition, which this version does not have (``speech_without_asr = "error"`` makes it
  an error instead), never a pass;
* neither, and nothing speech-like -> ERROR "no audible label found at the start, end or middle";
* numpy (or PyAV, for compressed formats) missing, or the audio cannot be decoded -> NOT CHECKED
  saying what to install.

The options that start with ``prompt``, ``positions``, ``rhythm_`` and ``voice_level_db`` are the
marking defaults of the profile (``aigclabel mark --prompt/--audio-position`` override them); the
others tune detection.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "explicit.audio"
SCOPE = "explicit"
KINDS = frozenset({"audio"})
OPTIONS: dict[str, Any] = {
    # marking defaults
    "prompt": "rhythm",  # "rhythm" | "voice" | "both"
    "positions": ["start"],  # any of "start", "end", "middle"
    "rhythm_frequency": 800.0,  # Hz (spec: no value given; industry practice ~800 Hz)
    "rhythm_unit_ms": 80.0,  # one dot; practice 60-120 ms
    "rhythm_level_db": -6.0,  # dBFS peak
    "voice_level_db": -3.0,  # dBFS peak of the shipped voice clip
    # detection
    "window_s": 20.0,  # seconds decoded at the start, around the middle and at the end
    "full_scan": False,  # decode and search the whole file instead
    "unit_min_ms": 40.0,
    "unit_max_ms": 200.0,
    "frequency_min_hz": 300.0,
    "frequency_max_hz": 3000.0,
    "require_letter_gap": True,  # ·− ·· needs the 3-unit gap between the letters (else ·−·· = "L" passes)
    "voice_threshold": 0.7,  # fingerprint correlation that recognises the shipped voice clip
    "speech_without_asr": "not-checked",  # speech-like audio without a found prompt: "not-checked" | "error"
}
DESCRIPTION = "voice prompt or Morse rhythm prompt at the start, end or a suitable middle position"
#: marking asks this rule whether a prompt is already there (aigclabel.explicit.label_present): the first,
#: middle and last few seconds only (our prompts are a second or two long, at those positions)
PRESENT_OPTIONS: dict[str, Any] = {"window_s": 6.0, "full_scan": False}
PRESENT_HOW = "prompt detector"

_EXPECTED = ("the rhythm prompt ·− ·· (Morse 'AI') or a voice prompt with an AI element and a generation "
             "element, at the start, end or middle")


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..errors import CorruptFile, LimitExceeded, UnsupportedOperation
    from ..explicit import audio_detect

    if ctx.source is None:
        yield Finding(ID, Level.NOT_CHECKED, "the audible (explicit) label was not checked: the audio content was "
                      "not available", expected=_EXPECTED)
        return
    try:
        det = audio_detect.detect_access(_handler(ctx).audio_access(ctx.source), options)
    except LimitExceeded as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the audible (explicit) label was not checked: {exc}",
                      expected=_EXPECTED, actual=f"limit {exc.limit} exceeded")
        return
    except CorruptFile as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the audible (explicit) label was not checked: the audio could not "
                      f"be decoded ({exc})", expected=_EXPECTED)
        return
    except UnsupportedOperation as exc:  # DecoderMissing included: numpy or PyAV is not installed
        yield Finding(ID, Level.NOT_CHECKED, f"the audible (explicit) label was not checked: {exc}",
                      expected=_EXPECTED)
        return
    searched = _searched(det)
    # the prompts and windows in seconds, for viewers (the review page marks them on a waveform)
    data = {"duration_s": det.duration_s, "windows": [list(w) for w in det.windows],
            "segments": [{"kind": "rhythm", "start_s": round(h.start_s, 3), "end_s": round(h.end_s, 3)}
                         for h in det.rhythm]
            + [{"kind": "voice", "start_s": round(v.start_s, 3), "end_s": None} for v in det.voice]
            + [{"kind": "speech", "start_s": round(a, 3), "end_s": round(b, 3)} for _w, a, b in det.speech]}
    if det.rhythm or det.voice:
        parts = [h.describe() for h in det.rhythm]
        parts += [f"voice prompt '人工智能生成' (aigclabel's shipped clip) found at {v.start_s:.2f} s "
                  f"(fingerprint correlation {v.score:.2f})" for v in det.voice]
        first = det.rhythm[0] if det.rhythm else None
        location = (f"{first.start_s:.2f}-{first.end_s:.2f} s" if first is not None
                    else f"{det.voice[0].start_s:.2f} s")
        actual = "; ".join(
            [f"rhythm at {h.start_s:.2f} s: unit {h.unit_ms:.0f} ms, {h.frequency_hz:.0f} Hz, durations in units "
             f"{' '.join(f'{u:.2f}' for u in h.units)}" for h in det.rhythm]
            + [f"voice clip at {v.start_s:.2f} s, score {v.score:.2f}" for v in det.voice])
        yield Finding(ID, Level.PASS, "; ".join(parts) + f" (searched {searched})", location=location,
                      expected=_EXPECTED, actual=actual, data=data)
        return
    if det.speech and options.get("speech_without_asr", "not-checked") != "error":
        where = ", ".join(f"{a:.1f}-{b:.1f} s" for _w, a, b in det.speech[:4])
        yield Finding(ID, Level.NOT_CHECKED,
                      f"no rhythm prompt and none of aigclabel's voice clips found (searched {searched}); speech-like "
                      f"audio at {where} may be a voice prompt of other wording: checking its words needs speech "
                      "recognition, which is not available (not checked)",
                      expected=_EXPECTED, actual="speech-like audio, words not recognised", data=data)
        return
    yield Finding(ID, Level.ERROR, f"no audible label found at the start, end or middle (searched {searched}; "
                  "no rhythm prompt ·− ·· and no voice prompt)",
                  expected=_EXPECTED, actual="no prompt found", data=data)


def summary(finding: Finding) -> str:
    """What a passing finding found, short: the prompts and where they start."""
    parts = [part.split(":")[0].split(",")[0] for part in (finding.actual or finding.message).split("; ")]
    return ", ".join(p.replace("rhythm at", "rhythm prompt at").replace("voice clip at", "voice prompt at")
                     for p in parts)


def _handler(ctx: Any) -> Any:
    """The handler that read the evidence (the verifier passes it), else the one the content picks."""
    if ctx.handler is not None:
        return ctx.handler
    from ..formats import handler_for

    return handler_for(ctx.source)


def _searched(det: Any) -> str:
    spans = []
    for name, a, b in det.windows:
        spans.append(f"{name} {a:.1f}-{b:.1f} s" if name else f"{a:.1f}-{b:.1f} s")
    total = f" of {det.duration_s:.1f} s" if det.duration_s else ""
    return ", ".join(dict.fromkeys(spans)) + total + (f", decoded with {det.decoder}" if det.decoder else "")
