"""Still pictures (JPEG, PNG, WebP, TIFF): decode through the handler, draw, write back through the handler.

Each format keeps as much of the source as it can (see :mod:`aigclabel.formats.media_image`):
JPEG is re-encoded with its own quantisation tables and subsampling and keeps every APPn/COM
segment; PNG is lossless and keeps every ancillary chunk; WebP stays lossless or is re-encoded at
the source's estimated quality; TIFF re-encodes only the strips or tiles under the label.
"""

from __future__ import annotations

from typing import Any

from .. import ExplicitOptions, ExplicitResult
from ..fonts import FontChoice
from .drawing import check_mode, details, label_picture, summary

__all__ = ["mark_still"]


def mark_still(access: Any, options: ExplicitOptions, font: FontChoice) -> ExplicitResult:
    """Label the first (only) picture of *access* (an :class:`~aigclabel.formats.media_image.ImageAccess`)."""
    fmt = access.format
    im = access.picture()
    check_mode(im, fmt)
    orientation = access.orientation()
    encoding = access.encoding(im)  # before the label changes the pixels
    drawn = label_picture(im, options, font, orientation)
    rewrite = access.write_picture(im, drawn.stored_box, encoding)
    extra: dict[str, Any] = {"orientation": orientation, **rewrite.details}
    notes = [summary(drawn), *rewrite.notes[:1]]
    if fmt != "jpeg":
        notes += drawn.notes
    notes += rewrite.notes[1:]
    if fmt == "tiff":
        pages = access.frames
        extra["pages"] = pages
        if pages > 1:
            notes.append(f"only the first of {pages} pages was labelled")
    return ExplicitResult(rewrite.data, notes, details(drawn, fmt, extra))
