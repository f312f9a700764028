"""The visible label of a PDF: a text stamp with the notice, added as an incremental update.

What is drawn, and how:

* the notice (default: the profile's ``text_notice``, "本内容由人工智能生成") in one line, dark grey on
  a white box, on the first page (``options.extra["pages"]``: ``first`` | ``last`` | ``all``);
* once, as a shared Form XObject (``/AigcStamp``), placed on each stamped page by a small content
  stream ``Q q <matrix> cm /AigcStamp Do Q``; the page's existing content is wrapped between a
  leading ``q`` stream and that stream, so its graphics state cannot leak into the stamp;
* upright as the page is *displayed*: the matrix maps the displayed page (after ``/Rotate``) to
  user space, inside the visible box (CropBox clipped to the MediaBox), whatever their origin;
* in a margin where it covers no content when one is free: the page's content is scanned cheaply
  (text origins with estimated extents, painted paths, images and forms; full-page backgrounds
  ignored) and the requested corner is tried first, then the other bottom/top positions.  Pages of
  one geometry share one placement, chosen from a deterministic sample of up to six of them, so
  ``pages=all`` on a long document costs a few scans and the stamp sits at the same spot throughout;
* in the bundled CJK font subset (or the font ``--font`` names): a Type0 font with Identity-H
  encoding and a ToUnicode CMap, so text extraction (pypdf, pdftotext) reads the notice back.
  With fontTools installed the font is subset to the notice's glyphs (a few KB); without it the
  bundled subset (34 KB) is embedded whole and other fonts must be single-face files under 4 MB.

The original bytes stay as the file's prefix (signatures survive); encrypted files keep their
encryption (the password is needed, see :mod:`aigclabel.formats.pdf`).  Re-marking replaces an
earlier stamp of ours instead of adding a second one, and removes it from pages not stamped now.

``options.extra``: ``pages`` (``first``, default), ``font_size`` (points; default 2 % of the page's shorter side,
6 to 24 pt, never wider than 90 % of the page).

The package, one idea per module: :mod:`.font` embeds the notice's font (the sfnt tables are read
by :mod:`aigclabel.formats._sfnt`), :mod:`.placement` picks the margin (the page content is scanned
by :mod:`aigclabel.formats.pdf_content`), :mod:`.stamp` builds the incremental update.
"""

from __future__ import annotations

from ...formats._sfnt import FontProgram
from ...formats.pdf_content import content_boxes
from .font import _program_cached, embed_font, load_font_program
from .placement import Placement, place_stamp
from .stamp import OUR_KEY, PAGE_CHOICES, STAMP_NAME, PdfStampMarker

__all__ = ["PdfStampMarker", "FontProgram", "load_font_program", "content_boxes", "PAGE_CHOICES",
           "embed_font", "place_stamp", "Placement", "STAMP_NAME", "OUR_KEY", "_program_cached"]
