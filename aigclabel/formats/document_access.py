"""Structured access to documents and text: what the explicit step and the rules read.

A handler's :meth:`~aigclabel.formats.base.FormatHandler.document_access` returns one of these, so
no rule or marker opens a PDF, unzips an Office package or decodes a text file itself:

* :class:`PdfAccess` -- the parsed document (for the stamp's incremental update), its pages, the
  extracted text of a page and the decoded images of a page (for OCR of a scan), every pypdf
  failure a :class:`~aigclabel.errors.CorruptFile` and every image size checked against
  ``max_pixels`` before it is decoded;
* :class:`OfficeAccess` -- the text a reader meets first and last in a DOCX, XLSX or PPTX;
* :class:`TextAccess` -- the decoded text of a plain-text, Markdown or HTML file and its visible
  blocks.

The format modules are imported lazily: they import this module for their handlers' hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .. import limits
from .._io import CountingReader

if TYPE_CHECKING:  # pragma: no cover
    from ._ooxml import Package
    from .office_text import NoticeCandidates
    from .pdf import PdfDocument
    from .text.encoding import TextDoc

__all__ = ["PdfAccess", "OfficeAccess", "TextAccess"]


class PdfAccess:
    """A PDF opened once (lazily) with the handler's password."""

    format = "pdf"

    def __init__(self, src: CountingReader, password: str | None = None) -> None:
        self.src = src
        self.password = password
        self._doc: PdfDocument | None = None
        self._pages: list[Any] | None = None

    def document(self, *, for_write: bool = False) -> PdfDocument:
        """The parsed document; *for_write* checks (and repairs) the cross-reference offsets an
        incremental update builds on, and is parsed afresh."""
        from .pdf import open_document

        if for_write:
            return open_document(self.src, self.password, for_write=True)
        if self._doc is None:
            self._doc = open_document(self.src, self.password)
        return self._doc

    def pages(self) -> list[Any]:
        """Every page (pypdf page objects, inherited attributes applied), in order."""
        if self._pages is None:
            self._pages = self.document().pages()
        return self._pages

    def page_text(self, index: int) -> str:
        """The extracted text of page *index* (0-based)."""
        from .pdf import pypdf_errors

        page = self.pages()[index]
        with pypdf_errors(f"extracting the text of page {index + 1}"):
            return page.extract_text() or ""

    def page_images(self, index: int) -> tuple[int, list[Any]]:
        """(images the page shows, the ones that decode) of page *index*, as Pillow images.

        Each image's declared size is checked against ``max_pixels`` before anything is decoded
        (:class:`~aigclabel.errors.LimitExceeded`); :class:`~aigclabel.errors.CorruptFile` when
        the page's images cannot be listed.  An image whose filter cannot be decoded is left out.
        """
        from ..errors import CorruptFile
        from .pdf import pypdf_errors

        page = self.pages()[index]
        with pypdf_errors(f"listing the images of page {index + 1}"):
            for width, height in _declared_image_sizes(page):
                limits.check_pixels(width, height, f"an image on page {index + 1}")
            items = list(page.images)
        decoded = []
        for number, item in enumerate(items, 1):
            try:
                with pypdf_errors(f"decoding image {number} of page {index + 1}"):
                    image = item.image
            except CorruptFile:
                continue  # an image filter pypdf/Pillow cannot decode: the others may still show the notice
            if image is not None:
                decoded.append(image)
        return len(items), decoded


def _declared_image_sizes(page: Any) -> Iterator[tuple[int, int]]:
    """(/Width, /Height) of each image XObject of the page's resources (not those inside forms)."""
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    if xobjects is None:
        return
    xobjects = xobjects.get_object()
    if not hasattr(xobjects, "values"):
        return
    for ref in xobjects.values():
        obj = ref.get_object()
        if hasattr(obj, "get") and obj.get("/Subtype") == "/Image":
            width, height = obj.get("/Width"), obj.get("/Height")
            if isinstance(width, int) and isinstance(height, int):
                yield int(width), int(height)


@dataclass
class OfficeAccess:
    """An Office Open XML package (DOCX, XLSX, PPTX), opened when asked."""

    src: CountingReader
    format: str = ""

    def package(self) -> Package:
        """The open package (content types, relationships, guarded member reads) an editor works on."""
        from ._ooxml import Package

        return Package.open(self.src)

    def notice_candidates(self, edge: int = 3, sheet_rows: int = 20) -> list[NoticeCandidates]:
        """The text at the start and the end of the document (see :mod:`.office_text`)."""
        from .office_text import notice_candidates

        return notice_candidates(self.src, edge, sheet_rows)


@dataclass
class TextAccess:
    """A decoded text file: its text and the blocks a reader sees."""

    format: str  # "txt" | "markdown" | "html"
    doc: TextDoc

    @property
    def text(self) -> str:
        return self.doc.text

    def visible_blocks(self) -> Iterator[tuple[str, int]]:
        """(block text, 1-based line) of what a reader sees, in order."""
        from .text.records import visible_blocks

        return visible_blocks(self.doc.text, self.format)
