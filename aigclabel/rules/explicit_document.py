"""A visible notice at the start or end of a document: on its first or last page (PDF), in its
first or last paragraphs, slides or sheets (DOCX, PPTX, XLSX).

Text-type content must carry a text prompt with an AI element and a generation element at the
start or the end (labelling-rules.md §2).  For a PDF the check extracts the text of the first and
the last page with pypdf and looks for a short line with both elements ("本内容由人工智能生成",
"AI生成"); a page without extractable text but with images (a scan) is read by OCR when the
``[ocr]`` extra is installed, and is *not checked* otherwise.  Only those two pages are read.

Everything is read through the handler's ``document_access`` (see
:mod:`aigclabel.formats.document_access`): pages, their text and images for a PDF.  Office
documents have no pages in the file; the access's ``notice_candidates`` gives the text a reader
meets first and last: a DOCX's first and last ``office_paragraphs`` non-empty body paragraphs
(hidden text skipped) and its page headers and footers; a PPTX's first and last shown slides; an
XLSX's first and last visible sheets (text cells of their first ``sheet_rows`` rows, page header
and footer).  The same short-line test applies.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..report import Finding, Level

ID = "explicit.document"
SCOPE = "explicit"
KINDS = frozenset({"document"})
OPTIONS: dict[str, Any] = {
    # a line longer than this is prose, not a notice (prose that mentions AI and generation must
    # not pass as the label)
    "max_notice_chars": 60,
    "ocr_min_confidence": 0.5,
    # images read by OCR per page (largest first), and the longest side they are scaled to
    "ocr_max_images": 4,
    "ocr_max_side": 2400,
    # Office documents: how many non-empty paragraphs count as the start / the end of a DOCX,
    # and how many rows of the first / last sheet of an XLSX are read
    "office_paragraphs": 3,
    "sheet_rows": 20,
}
DESCRIPTION = "a text notice with both elements on the first or last page (or paragraphs, slides, sheets)"
#: marking asks this rule whether a notice is already there (aigclabel.explicit.label_present): the text of
#: the first and last page (or the Office start and end), no OCR of image-only pages
PRESENT_OPTIONS: dict[str, Any] = {"ocr_max_images": 0}
PRESENT_HOW = "document text"
#: Office formats checked by :func:`_check_office`
OFFICE_FORMATS = ("docx", "xlsx", "pptx")

_BLANKS = re.compile(r"\s+")


class _NotChecked(Exception):
    """The page could not be examined; the message says why."""


def _normalise(text: str) -> str:
    import unicodedata  # here: a C extension every start-up would load for the explicit scope only

    return _BLANKS.sub("", unicodedata.normalize("NFKC", text))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _classify(lines: list[str], profile: Any, max_chars: int) -> tuple[str | None, str | None]:
    """(a qualifying notice, a near miss lacking an element) among *lines*."""
    near = None
    for line in lines:
        compact = _normalise(line)
        if not compact or len(compact) > max_chars:
            continue
        if profile.wording_ok(compact):
            return line, None
        has_ai = any(a in compact for a in profile.marking.wording_ai)
        has_gen = any(g in compact for g in profile.marking.wording_generation)
        if near is None and (has_ai or has_gen):
            near = line
    return None, near


def _missing_element(text: str, profile: Any) -> str:
    compact = _normalise(text)
    if not any(a in compact for a in profile.marking.wording_ai):
        return f"an AI element ({' / '.join(profile.marking.wording_ai)})"
    return f"a generation element ({' / '.join(profile.marking.wording_generation)})"


def _access(ctx: Any) -> Any:
    """The handler's document access (the verifier passes the handler; detect it when it did not)."""
    handler = ctx.handler
    if handler is None:
        from ..formats import handler_for
        from ..formats.base import OpenOptions

        handler = handler_for(ctx.source, OpenOptions(password=(ctx.extra or {}).get("password")))
    return handler.document_access(ctx.source)


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    expected = "a notice with an AI element and a generation element on the first or last page"
    fmt = getattr(ctx.evidence, "format", "")
    if fmt in OFFICE_FORMATS:
        yield from _check_office(ctx, options, fmt)
        return
    if fmt != "pdf":
        yield Finding(ID, Level.NOT_CHECKED,
                      f"the visible (explicit) notice of a {fmt.upper()} document was not checked: this version "
                      "checks PDF only", expected=expected)
        return
    if ctx.source is None:
        yield Finding(ID, Level.NOT_CHECKED, "the visible (explicit) notice was not checked: the document "
                      "content was not available", expected=expected)
        return
    yield from _check_pdf(ctx, options, expected)


def summary(finding: Finding) -> str:
    """What a passing finding found, short: the notice and where."""
    return finding.message.removeprefix("visible notice ")


def _check_pdf(ctx: Any, options: dict[str, Any], expected: str) -> Iterator[Finding]:
    from ..errors import AigcLabelError

    max_chars = int(options.get("max_notice_chars", OPTIONS["max_notice_chars"]))
    try:
        access = _access(ctx)
        pages = access.pages()
    except AigcLabelError as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) notice was not checked: {exc}",
                      expected=expected)
        return
    if not pages:
        yield Finding(ID, Level.ERROR, "the PDF has no pages, so no visible notice", expected=expected,
                      actual="no pages")
        return
    candidates = [(0, "first page")] + ([(len(pages) - 1, "last page")] if len(pages) > 1 else [])
    not_checked: list[str] = []
    near_misses: list[tuple[int, str]] = []
    for index, role in candidates:
        where = f"page {index + 1} ({role})"
        try:
            text = access.page_text(index)
        except AigcLabelError as exc:
            not_checked.append(f"{where}: {exc}")
            continue
        notice, near = _classify(_lines(text), ctx.profile, max_chars)
        if notice is not None:
            yield Finding(ID, Level.PASS, f"visible notice '{notice}' found on {where} by text extraction",
                          location=where, expected=expected, actual=notice)
            return
        if near is not None:
            near_misses.append((index, near))
        if _normalise(text):
            continue  # the page has text, and no notice in it
        try:
            notice, near, how = _ocr_page(access, index, ctx.profile, options, max_chars)
        except _NotChecked as exc:
            not_checked.append(f"{where}: {exc}")
            continue
        if notice is not None:
            yield Finding(ID, Level.PASS, f"visible notice '{notice}' found on {where} by OCR ({how})",
                          location=where, expected=expected, actual=notice)
            return
        if near is not None:
            near_misses.append((index, near))
    if not_checked:
        yield Finding(ID, Level.NOT_CHECKED,
                      "the visible (explicit) notice was not checked on every candidate page: "
                      + "; ".join(not_checked), expected=expected)
        return
    if near_misses:
        index, near = near_misses[0]
        yield Finding(ID, Level.ERROR,
                      f"the notice '{near}' on page {index + 1} lacks {_missing_element(near, ctx.profile)}",
                      location=f"page {index + 1}", expected=expected, actual=near)
        return
    pages_read = " and ".join(f"page {i + 1}" for i, _ in candidates)
    yield Finding(ID, Level.ERROR, f"no visible notice with both elements on the first or last page "
                  f"({pages_read} read by text extraction)", expected=expected, actual="no notice found")


def _check_office(ctx: Any, options: dict[str, Any], fmt: str) -> Iterator[Finding]:
    from ..errors import AigcLabelError

    expected = "a notice with an AI element and a generation element at the start or end of the document"
    if ctx.source is None:
        yield Finding(ID, Level.NOT_CHECKED, "the visible (explicit) notice was not checked: the document "
                      "content was not available", expected=expected)
        return
    max_chars = int(options.get("max_notice_chars", OPTIONS["max_notice_chars"]))
    try:
        groups = _access(ctx).notice_candidates(int(options.get("office_paragraphs", OPTIONS["office_paragraphs"])),
                                                int(options.get("sheet_rows", OPTIONS["sheet_rows"])))
    except AigcLabelError as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the visible (explicit) notice was not checked: {exc}",
                      expected=expected)
        return
    near_misses: list[tuple[str, str]] = []
    for group in groups:
        notice, near = _classify(group.lines, ctx.profile, max_chars)
        if notice is not None:
            where = group.place(notice)
            yield Finding(ID, Level.PASS, f"visible notice '{notice}' found in {where}",
                          location=where, expected=expected, actual=notice)
            return
        if near is not None:
            near_misses.append((group.place(near), near))
    if near_misses:
        where, near = near_misses[0]
        yield Finding(ID, Level.ERROR, f"the notice '{near}' in {where} lacks {_missing_element(near, ctx.profile)}",
                      location=where, expected=expected, actual=near)
        return
    if not groups:
        yield Finding(ID, Level.ERROR, f"the {fmt.upper()} document shows no text at its start or end, so no "
                      "visible notice", expected=expected, actual="no text")
        return
    read = "; ".join(g.where for g in groups)
    yield Finding(ID, Level.ERROR, f"no visible notice with both elements at the start or end of the "
                  f"{fmt.upper()} document (read: {read})", expected=expected, actual="no notice found")


def _ocr_page(access: Any, index: int, profile: Any, options: dict[str, Any],
              max_chars: int) -> tuple[str | None, str | None, str]:
    """OCR the images of an image-only page; raises :class:`_NotChecked` when that is impossible."""
    from ..errors import AigcLabelError
    from ..explicit import ocr

    try:
        listed, decoded = access.page_images(index)
    except AigcLabelError as exc:
        raise _NotChecked(f"its images cannot be read ({exc})") from None
    if not listed:
        raise _NotChecked("it has neither extractable text nor images (vector drawing only)")
    if not ocr.available():
        raise _NotChecked(f"it has no extractable text (image-only) and OCR is not installed ({ocr.INSTALL_HINT})")
    if not decoded:
        raise _NotChecked("its images cannot be decoded for OCR")
    decoded.sort(key=lambda im: im.size[0] * im.size[1], reverse=True)
    min_conf = float(options.get("ocr_min_confidence", OPTIONS["ocr_min_confidence"]))
    max_side = int(options.get("ocr_max_side", OPTIONS["ocr_max_side"]))
    near = None
    for number, im in enumerate(decoded[: int(options.get("ocr_max_images", OPTIONS["ocr_max_images"]))], 1):
        im = im.convert("RGB")
        if max(im.size) > max_side:
            factor = max_side / max(im.size)
            im = im.resize((max(1, round(im.size[0] * factor)), max(1, round(im.size[1] * factor))))
        try:
            boxes = ocr.merge_lines(ocr.read_text(im, min_confidence=min_conf))
        except (ocr.OcrUnavailable, ocr.OcrFailed) as exc:
            raise _NotChecked(str(exc)) from None
        notice, miss = _classify([b.text for b in boxes], profile, max_chars)
        if notice is not None:
            return notice, None, f"image {number}"
        near = near or miss
    return None, near, "images"
