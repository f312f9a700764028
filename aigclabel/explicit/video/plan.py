"""What to label: the options (how long, where, how to re-encode) and the packet ranges to re-encode."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import LabelError
from ...formats.media_video import PacketTable

__all__ = ["VIDEO_AT", "DEFAULT_DURATION_S", "Plan", "Range", "windows", "ranges", "range_end_pts"]

VIDEO_AT = ("start", "end", "middle")
DEFAULT_DURATION_S = 3.0


@dataclass
class Range:
    """A run of packets re-encoded with the label, and the label windows inside it."""
    start: int  # index (decode order) of the first packet re-encoded
    end: int  # index of the first packet copied after it (len(packets) at the end)
    windows: list[tuple[int, int]]  # label windows [pts0, pts1) inside it


@dataclass
class Plan:
    """How a video is labelled: for how long, where, re-encoding how much, with which preset."""
    duration_s: float
    at: list[str]
    mode: str  # "auto" | "full"
    preset: str

    @classmethod
    def from_options(cls, extra: dict[str, Any]) -> Plan:
        minimum = float(extra.get("min_duration_s", 2.0) or 0.0)
        raw = extra.get("duration_s", extra.get("video_duration"))
        duration = float(raw) if raw is not None else max(DEFAULT_DURATION_S, minimum)
        if not math.isfinite(duration) or duration <= 0:
            raise LabelError(f"the video label duration must be a positive number of seconds, not {raw!r}")
        if duration < minimum:
            raise LabelError(f"the video label duration {duration:g} s is shorter than the {minimum:g} s the "
                             "profile requires")
        at = extra.get("at", extra.get("video_at", ["start"]))
        at = [at] if isinstance(at, str) else list(at or ["start"])
        bad = [a for a in at if a not in VIDEO_AT]
        if bad:
            raise LabelError(f"video label position must be one of {', '.join(VIDEO_AT)}, not {bad[0]!r}")
        mode = str(extra.get("reencode", extra.get("video_reencode", "auto")))
        if mode not in ("auto", "full"):
            raise LabelError(f"reencode must be 'auto' or 'full', not {mode!r}")
        return cls(duration, list(dict.fromkeys(at)), mode, str(extra.get("preset", "medium")))


def windows(table: PacketTable, plan: Plan) -> list[tuple[str, int, int]]:
    """(name, pts0, pts1) of each label window, clipped to the video."""
    t0, t1 = table.first_pts, table.end_pts
    span = table.to_pts(plan.duration_s)
    out = []
    for name in plan.at:
        if name == "start":
            a = t0
        elif name == "end":
            a = max(t0, t1 - span)
        else:
            a = max(t0, (t0 + t1) // 2 - span // 2)
        out.append((name, a, min(t1, a + span)))
    return out


def ranges(table: PacketTable, wins: list[tuple[str, int, int]]) -> list[Range] | None:
    """The packet ranges to re-encode, or None when a window cannot be cut out at clean key frames."""
    pk = table.packets
    clean = [(i, p.pts) for i, p in enumerate(pk) if p.clean and p.pts is not None]
    out: list[Range] = []
    for _name, a, b in sorted(wins, key=lambda w: w[1]):
        starts = [i for i, pts in clean if pts <= a]
        if not starts:
            return None
        start = starts[-1]
        end = next((i for i, pts in clean if i > start and pts >= b), len(pk))
        if out and start <= out[-1].end:
            out[-1].end = max(out[-1].end, end)
            out[-1].windows.append((a, b))
        else:
            out.append(Range(start, end, [(a, b)]))
    return out


def range_end_pts(table: PacketTable, r: Range) -> int:
    if r.end < len(table.packets):
        return table.packets[r.end].pts or 0
    return table.end_pts
