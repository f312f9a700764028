"""The explicit label for still and animated images: a text prompt drawn at an edge or corner.

GB 45438-2025 asks images for a text prompt at an edge or corner whose height is >= 5 % of the
shortest side (sizing: :mod:`.render`).  Drawing means re-encoding, so each format keeps as much of
the source as it can:

* **JPEG**: re-encoded with the source's own quantisation tables and chroma subsampling (Pillow
  ``quality="keep"``), progressive if the source was; every APPn/COM segment of the source (JFIF,
  EXIF, ICC, XMP, IPTC, MPF...) is carried over byte for byte except the Adobe APP14 colour-transform
  segment, which belongs to the new encoding; bytes after the image (MPF secondary images, trailers)
  are kept and MPF offsets adjusted.
* **PNG**: lossless; every ancillary chunk is carried over byte for byte in its place; only IHDR,
  PLTE, tRNS and the image data come from the new encoding (hIST, a histogram of the old pixels, is
  dropped).  Palette pictures keep their palette and indices.  16-bit colour is refused (Pillow
  would decode it to 8 bits).
* **WebP**: lossless stays lossless (exact RGB under transparent pixels), lossy is re-encoded at
  the source's estimated quality; every chunk but the bitstream is kept.
* **TIFF**: only the strips or tiles under the label are re-encoded, with the file's own compression
  and predictor; every tag and all other image data keep their bytes.
* **Animated GIF, WebP and PNG**: rewritten frame by frame at byte level; frames that do not touch
  the label keep their bytes, and the frame count, timing, disposal and loop are the source's (see
  :mod:`.state`).

EXIF orientation is honoured: the label is placed on the picture *as displayed*, drawn upright, and
written back in stored orientation; the orientation tag is untouched.  Pixels outside the label box
are unchanged in lossless formats.

Layout: the container work (segments, chunks, frames, strips, re-encodes that keep the source's
encoding) is the format handler's, behind ``handler.image_access(src)``
(:mod:`aigclabel.formats.media_image`); this package only plans and draws:

* :mod:`.drawing` -- orientation, palettes, colour keys, drawing onto a decoded picture;
* :mod:`.still` -- JPEG, PNG, WebP and TIFF stills;
* :mod:`.state` -- which part of the label box each animation frame shows;
* :mod:`.gif`, :mod:`.apng`, :mod:`.webp_anim` -- the three animation formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ...errors import UnsupportedOperation
from .. import ExplicitOptions, ExplicitResult
from ..fonts import FontChoice, resolve_font
from .apng import mark_apng
from .drawing import TO_DISPLAY, Drawn, displayed_size, label_picture, palette_indices, stored_box
from .gif import mark_gif
from .still import mark_still
from .webp_anim import mark_animated_webp

if TYPE_CHECKING:  # pragma: no cover
    from ..._io import CountingReader
    from ...formats.base import FormatHandler

__all__ = ["ImageMarker", "label_picture", "stored_box", "displayed_size", "TO_DISPLAY", "Drawn",
           "palette_indices", "mark_gif", "mark_animated_webp", "mark_apng", "mark_still"]

_Mark = Callable[[Any, ExplicitOptions, FontChoice], ExplicitResult]

#: format -> (marker of a still picture, marker of an animation)
_MARKERS: dict[str, tuple[_Mark, _Mark | None]] = {
    "jpeg": (mark_still, None),
    "png": (mark_still, mark_apng),
    "webp": (mark_still, mark_animated_webp),
    "gif": (mark_gif, mark_gif),
    "tiff": (mark_still, None),
}


class ImageMarker:
    """Draws the text label on JPEG, PNG, WebP, GIF and TIFF pictures (animated ones on every frame).

    The pixels come from the handler (``handler.image_access(src)``), which has checked the
    container and its declared sizes first, and go back through it into the same container.
    """

    formats = tuple(_MARKERS)

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in _MARKERS

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        entry = _MARKERS.get(handler.name)
        if entry is None:
            raise UnsupportedOperation(f"visible labels for {handler.name.upper()} are not available in this "
                                       "version; mark it with --no-explicit (explicit=False)")
        access = handler.image_access(src)
        if access.format == "png" and access.bit_depth == 16 and access.colour_type in (2, 4, 6):
            raise UnsupportedOperation("cannot draw a visible label on a 16-bit-per-channel colour PNG without "
                                       "losing precision (Pillow decodes it to 8 bits); convert it first or "
                                       "mark it with --no-explicit")
        font = resolve_font(options.text, options.font)
        still, animated = entry
        mark = animated if animated is not None and access.animated else still
        return mark(access, options, font)
