"""After a partial re-encode: the copied pictures right after each re-encoded span must decode
bit-identically from the output and from the source, else the marker re-encodes the whole video."""

from __future__ import annotations

from typing import Any

from ...errors import CorruptFile
from ...foreign import av_errors
from ...formats.media_video import PacketTable, av_open, guarded
from ...limits import check_deadline
from .paint import plane_geometry
from .plan import Range

__all__ = ["CHECK_FRAMES", "check_splices"]

#: frames compared after each splice when checking the output
CHECK_FRAMES = 3


def _row_bytes(frame: Any, i: int) -> int:
    geometry = plane_geometry(frame)
    if geometry is None:
        return int(frame.planes[i].line_size)
    return int(frame.planes[i].width * geometry[i][0])


def _pixels(frame: Any) -> bytes:
    import numpy as np

    return b"".join(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :_row_bytes(frame, i)].tobytes()
                    for i, p in enumerate(frame.planes))


def _frames_at(av: Any, path: str, index: int, start_pts: int, count: int, after_pts: int) -> list[bytes]:
    """The pixels of the first *count* frames shown at or after *after_pts*, decoding from the key
    frame at or before *start_pts*."""
    out: list[bytes] = []
    with av_errors("opening the video to check a splice"):
        c = av_open(av, path)
    try:
        with av_errors("seeking in the video to check a splice"):
            s = c.streams[index]
            s.codec_context.thread_type = "AUTO"
            c.seek(start_pts, stream=s, backward=True, any_frame=False)
        decoded = 0
        for frame in guarded(c.decode(s), "decoding the video to check a splice"):
            decoded += 1
            if decoded % 32 == 0:
                check_deadline("checking the re-encoded video")
            if frame.pts is None or frame.pts < after_pts:
                continue
            with av_errors("reading a decoded frame"):
                out.append(_pixels(frame))
            if len(out) >= count:
                break
    finally:
        c.close()
    return out


def check_splices(av: Any, src_path: str, out_path: str, table: PacketTable, ranges: list[Range]) -> str | None:
    """None when every copied picture right after a re-encoded span decodes bit-identically; else why not."""
    pk = table.packets
    for r in ranges:
        if r.end >= len(pk):
            continue
        k = pk[r.end]
        assert k.pts is not None
        first = pk[r.start].pts
        start = first if first is not None else k.pts
        try:
            want = _frames_at(av, src_path, table.facts.index, k.pts, CHECK_FRAMES, k.pts)
            got = _frames_at(av, out_path, table.facts.index, start, CHECK_FRAMES, k.pts)
        except CorruptFile as exc:
            if exc.__class__ is not CorruptFile:
                raise  # a limit: never taken for "the splice differs"
            return f"the output does not decode at the splice at {table.seconds(k.pts):.2f} s ({exc})"
        if not want or want != got:
            return (f"the copied pictures after the re-encoded span do not decode identically at "
                    f"{table.seconds(k.pts):.2f} s")
    return None
