"""Content bindings: which bytes of a file the SecurityData hash covers (``CntSel``), per format family.

A binding ties a signed label to the content by SM3 over bytes the metadata step never changes, so the hash
is taken once before the record goes in and re-checked on any later read.  The selections are ours (the
TC260-PG-202511A annexes could not be re-read; MiniMax, the only vendor seen binding content, names none);
each is named by its ``CntSel`` string and found with the family's own walker in this package:

==============  ====================================================================================
CntSel          bytes hashed, in file order
==============  ====================================================================================
jpeg-scan       from the first SOS marker to the end of the file (every scan, the EOI, what follows;
                all metadata segments - APP1 XMP, EXIF, APP11 C2PA - sit before the first SOS)
png-image       every IHDR, PLTE, IDAT, fcTL and fdAT chunk: length, type and data (not the CRC)
bmff-mdat       the payload of every top-level ``mdat`` box (MP4, MOV, M4A; ``moov`` may move or grow)
wav-data        the payload of the ``data`` chunk (the samples)
aiff-ssnd       the payload of the ``SSND`` chunk
mp3-frames      from the end of the leading ID3v2 tag(s) to the trailing ID3v1/Lyrics3/APE tags
pdf-prefix:N    the first N bytes: the document as it was before our incremental update(s)
==============  ====================================================================================

Other families (GIF, WebP, TIFF, HEIF, FLAC, Ogg, Matroska, AVI, FLV, Office, text) are not bound yet:
:func:`binding_digest` returns None and verification reports the binding as not checked.  Hashing is one
streaming pass over the selected ranges, 1 MiB at a time; the ranges come from header walks only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import AigcLabelError
from .base import FormatHandler

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..security.model import BindingEntry

__all__ = ["ContentDigest", "SelectionMismatch", "SELECTIONS", "selection_for", "selected_ranges", "binding_digest",
           "recompute", "checker"]

SELECTIONS = {
    "jpeg": "jpeg-scan", "png": "png-image", "mp4": "bmff-mdat", "m4a": "bmff-mdat", "wav": "wav-data",
    "aiff": "aiff-ssnd", "mp3": "mp3-frames", "pdf": "pdf-prefix",
}
_PNG_IMAGE_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"fcTL", b"fdAT"}
_TAIL = 1 << 16  # enough for ID3v1 + Lyrics3 + a typical APE tag at the end of an MP3


class SelectionMismatch(ValueError):
    """A selection we define does not fit this file: the label was signed for another file (or format)."""


@dataclass(frozen=True)
class ContentDigest:
    selection: str  # the CntSel string, with its parameter (pdf-prefix:N)
    value: str  # SM3, lowercase hex
    length: int  # bytes hashed


def selection_for(handler: FormatHandler) -> str | None:
    """The selection this handler's format is bound with, or None (not bound yet)."""
    return SELECTIONS.get(handler.name)


def selected_ranges(handler: FormatHandler, src: CountingReader, cnt_sel: str | None = None) -> list[tuple[int, int]]:
    """The (offset, length) ranges *cnt_sel* (default: the format's own selection) names in *src*.

    Raises :class:`SelectionMismatch` when a selection of ours does not fit this file, ValueError when
    the selection is unknown, the walkers' CorruptFile when the file is broken.
    """
    base = selection_for(handler)
    sel = cnt_sel if cnt_sel is not None else base
    name, _, param = (sel or "").partition(":")
    if name not in set(SELECTIONS.values()):
        raise ValueError(f"unknown content selection {sel!r}")
    if base is None or name != base:
        raise SelectionMismatch(f"selection {sel!r} was made for another format than {handler.name.upper()}")
    if name == "jpeg-scan":
        from .jpeg import walk_header

        _, sos = walk_header(src)
        return [(sos, src.size - sos)]
    if name == "png-image":
        from .png import walk_chunks

        return [(c.offset, 8 + c.length) for c in walk_chunks(src) if c.type in _PNG_IMAGE_CHUNKS]
    if name == "bmff-mdat":
        from ._bmff import iter_boxes

        return [(b.payload_offset, b.payload_size) for b in iter_boxes(src, 0, src.size) if b.type == b"mdat"]
    if name == "wav-data":
        from .wav import _Layout as WavLayout

        data = WavLayout(src).data
        return [(data.data_offset, min(data.size, src.size - data.data_offset))]
    if name == "aiff-ssnd":
        from .aiff import _Layout as AiffLayout

        ssnd = AiffLayout(src).ssnd
        return [] if ssnd is None else [(ssnd.data_offset, min(ssnd.size, src.size - ssnd.data_offset))]
    if name == "mp3-frames":
        from ._mp3_frames import trailing_tags
        from .mp3 import _head_tags

        _, start = _head_tags(src)
        tail_at = max(start, src.size - _TAIL)
        tail = src.read_at(tail_at, src.size - tail_at)
        return [(start, tail_at + trailing_tags(tail, 0) - start)]
    if name == "pdf-prefix":
        if not param:
            return [(0, src.size)]
        if not param.isdigit() or int(param) > src.size:
            raise SelectionMismatch(f"{sel!r}: the file is shorter than the signed prefix "
                                    "(it was truncated or rewritten)")
        return [(0, int(param))]
    raise ValueError(f"unknown selection {sel!r}")  # pragma: no cover - SELECTIONS and the branches agree


def _hash(src: CountingReader, ranges: list[tuple[int, int]]) -> tuple[str, int]:
    from ..security.crypto import Sm3

    h = Sm3()
    total = 0
    for offset, length in ranges:
        src.seek(offset)
        left = length
        while left > 0:
            block = src.read(min(1 << 20, left))
            if not block:
                break
            h.update(block)
            left -= len(block)
            total += len(block)
    return h.hexdigest(), total


def binding_digest(handler: FormatHandler, src: CountingReader) -> ContentDigest | None:
    """SM3 over this format's selection of *src* (before the record goes in), or None when not bound yet."""
    sel = selection_for(handler)
    if sel is None:
        return None
    if sel == "pdf-prefix":
        sel = f"pdf-prefix:{src.size}"
    value, length = _hash(src, selected_ranges(handler, src, sel))
    return ContentDigest(sel, value, length)


def recompute(handler: FormatHandler, src: CountingReader, cnt_sel: str) -> ContentDigest:
    """SM3 over *cnt_sel* in *src* as it is now (ValueError: the selection does not apply)."""
    value, length = _hash(src, selected_ranges(handler, src, cnt_sel))
    return ContentDigest(cnt_sel, value, length)


def checker(handler: FormatHandler | None,
            src: CountingReader | None) -> Callable[[BindingEntry], tuple[str | None, str]]:
    """A content check for :func:`aigclabel.security.verify_field`: recompute a binding from *src*.

    The check returns (hex, "") when recomputed, ("", why) when the selection cannot fit this file (the
    record was made for another one: a mismatch), (None, why) when it cannot be checked."""
    def check(entry: BindingEntry) -> tuple[str | None, str]:
        if handler is None or src is None:
            return None, "the content was not available to recompute the binding"
        try:
            return recompute(handler, src, entry.cnt_sel).value, ""
        except SelectionMismatch as exc:
            return "", str(exc)
        except ValueError as exc:
            return None, str(exc)
        except AigcLabelError as exc:
            return None, f"the selected content could not be read ({exc})"
    return check
