"""The explicit label for text: a notice with both elements at the start, the end, or both.

GB 45438-2025 asks text for a prompt at the start, the end and/or a suitable middle position; we
write it at the start or end as a paragraph of its own so it reads naturally:

* **plain text and Markdown**: the notice on its own line, separated from the content by one blank
  line (after the front matter when it goes at the start);
* **HTML**: a visible element ``<p class="aigc-notice" data-aigc-notice>…</p>`` right after the
  ``<body>`` tag or right before ``</body>``.

Everything else keeps its characters: the notice is inserted, nothing is reformatted, and the
file's encoding, line endings and final newline (or lack of one) are kept.

Re-marking replaces our earlier notice instead of stacking a second one.  In HTML our element is
recognised by its ``data-aigc-notice`` attribute.  Plain text has no markup, so a notice is
recognised only when a whole first or last line *equals* a known notice text (the one being
written, the profile's default, or ``extra["known_notices"]``): a line that merely mentions AI
generation is the author's text and is never removed.  The functions here work on ``str`` and are
what :func:`aigclabel.mark_text` uses; :class:`TextMarker` is the marking pipeline's explicit step.
"""

from __future__ import annotations

import html
import os
import re
from typing import TYPE_CHECKING, Iterable

from ..errors import LabelError, UnsupportedOperation
from ..formats.text import _EOL, TEXT_EXTENSIONS, _removals, apply_edits, find_front_matter, newline_of, scan_html
from . import ExplicitOptions, ExplicitResult

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler

__all__ = ["TextMarker", "TEXT_POSITIONS", "DEFAULT_NOTICE", "apply_notice", "remove_notices", "notice_element",
           "text_position", "check_markable_name"]

#: where a text notice may go
TEXT_POSITIONS = ("start", "end", "both")
#: the built-in default notice (profiles may set another: ``marking.text_notice``)
DEFAULT_NOTICE = "本内容由人工智能生成"
#: file name extensions we add a notice to; other names are refused (see :func:`check_markable_name`)
_MARKABLE = {"", *(ext for exts in TEXT_EXTENSIONS.values() for ext in exts)}
#: image positions mapped onto text positions, so an image-style --position still means something
_FROM_IMAGE_POSITION = {"top": "start", "top-left": "start", "top-right": "start",
                        "bottom": "end", "bottom-left": "end", "bottom-right": "end"}


def notice_element(notice: str) -> str:
    """The HTML element that carries the notice."""
    return f'<p class="aigc-notice" data-aigc-notice>{html.escape(notice, quote=False)}</p>'


def text_position(options: ExplicitOptions, default: str = "end") -> str:
    """The text position from ``extra["text_position"]``, else from ``options.position`` ("top-left" is
    the start, "bottom-right" - the pipeline's default - the end)."""
    position = options.extra.get("text_position")
    if position is None:
        position = options.position if options.position in TEXT_POSITIONS else \
            _FROM_IMAGE_POSITION.get(options.position, default)
    if position not in TEXT_POSITIONS:
        raise LabelError(f"text position must be one of {', '.join(TEXT_POSITIONS)}, not {position!r}")
    return position


def check_markable_name(name: str) -> None:
    """Refuse to add a notice line to a file whose name says it is not a text document.

    Detection is by content, and a JSON, CSV, YAML, TOML or source-code file is "text" to it; a notice
    line would change what such a file means (or break it).  Unnamed content (bytes, streams) and the
    text, Markdown and HTML extensions are accepted.
    """
    if not name or name.startswith("<"):
        return
    ext = os.path.splitext(os.path.basename(name))[1].lower()
    if ext not in _MARKABLE:
        raise UnsupportedOperation(
            f"{name}: the content is text, but a notice line could break a {ext} file; only plain text "
            f"({', '.join(TEXT_EXTENSIONS['txt'])}), Markdown ({', '.join(TEXT_EXTENSIONS['markdown'])}) and HTML "
            f"({', '.join(TEXT_EXTENSIONS['html'])}) files get one. Rename it, place the notice yourself "
            "(aigclabel.mark_text), or mark it with --no-explicit")


# ----------------------------------------------------------------------------------------- plain text


def _ends_with_break(text: str) -> bool:
    return text.endswith(("\n", "\r"))


def _add_end(body: str, notice: str, nl: str) -> str:
    if not body:
        return notice
    final = _ends_with_break(body)
    return (body if final else body + nl) + nl + notice + (nl if final else "")


def _add_start(body: str, notice: str, nl: str) -> str:
    return notice + nl + nl + body if body else notice


_BLANK_LINE = re.compile(r"[ \t\f\v]*(?:\r\n|\r|\n)")
#: a notice line is short; longer edge lines are not compared (nor copied)
_MAX_LINE = 1024


def _strip_end(text: str, known: list[str], nl: str, lenient: bool) -> str | None:
    """*text* without a last line equal to a known notice (and the blank line before it); None if none."""
    if text in known:
        return ""
    for notice in known:  # exactly what _add_end produced, whatever the body's own line breaks
        tail = nl + notice + nl
        if text.endswith(tail) and _ends_with_break(text[-len(tail) - 1:-len(tail)]):
            return text[:-len(tail)]  # the body ended with a line break
        tail = nl + nl + notice
        if text.endswith(tail) and not _ends_with_break(text[-len(tail) - 1:-len(tail)]):
            return text[:-len(tail)]  # the body did not
    if not lenient:
        return None
    # the last non-blank line is a notice (the blank line dropped, spaces added...)
    end = len(text.rstrip())
    line_start = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1
    if end == 0 or end - line_start > _MAX_LINE or text[line_start:end].strip() not in known:
        return None
    before = text[:line_start].rstrip()
    return before + (nl if before and _ends_with_break(text) else "")


def _strip_start(text: str, known: list[str], nl: str, lenient: bool) -> str | None:
    """*text* without a first line equal to a known notice (and the blank lines after it); None if none."""
    if text in known:
        return ""
    for notice in known:
        if text.startswith(notice + nl + nl):
            return text[len(notice) + 2 * len(nl):]  # exactly what _add_start produced
    if not lenient:
        return None
    begin = len(text) - len(text.lstrip())
    m = _EOL.search(text, begin, begin + _MAX_LINE)
    line_end = m.start() if m else min(len(text), begin + _MAX_LINE + 1)
    if begin == len(text) or text[begin:line_end].strip() not in known:
        return None
    pos = m.end() if m else line_end
    while (blank := _BLANK_LINE.match(text, pos)) is not None:
        pos = blank.end()
    return text[pos:]


def _known(notice: str, known: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in (notice, DEFAULT_NOTICE, *known):
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


def _strip_plain(body: str, known: list[str], nl: str) -> tuple[str, int]:
    """Remove known notices at the start and the end, as many as there are."""
    removed = 0
    while body:
        # the exact layout we write first, so a notice is never mistaken for the other end's
        for strip, lenient in ((_strip_start, False), (_strip_end, False), (_strip_start, True),
                               (_strip_end, True)):
            new = strip(body, known, nl, lenient)
            if new is not None:
                body, removed = new, removed + 1
                break
        else:
            break
    return body, removed


def _split_markdown(text: str) -> tuple[str, str]:
    """(front matter with its BOM, body) of Markdown; the front matter part ends with a line break."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    fm = find_front_matter(text[len(bom):])
    if fm is None:
        return bom, text[len(bom):]
    if not fm.closed:
        from ..formats.text import _unclosed

        raise _unclosed(text)
    head = text[:len(bom) + fm.end]
    if not head.endswith(("\n", "\r")):  # the closing '---' ends the file: the notice needs a line of its own
        head += newline_of(text) or "\n"
    return head, text[len(bom) + fm.end:]


# ----------------------------------------------------------------------------------------- HTML


def _html_notice(text: str, notice: str, position: str, nl: str) -> tuple[str, int]:
    hm = scan_html(text)
    removed = len(hm.notices)
    if removed:  # take the old notices out first, then place the new one as in an unmarked document
        text = apply_edits(text, _removals(text, hm.notices, nl))
        hm = scan_html(text)
    element = notice_element(notice)
    edits: list[tuple[int, int, str]] = []
    # Every notice is inserted as "element + line break" (removal takes the break after it), except at
    # the very end of a text without a final line break: there "line break + element", keeping the lack
    # of a final newline (removal then takes the break before it).
    if position in ("start", "both"):
        # right after <body>, unless content comes before the tag (then the body began there)
        at = hm.content_start
        if hm.body_tag_start is not None and (at is None or at >= hm.body_tag_start):
            at = hm.body_tag_end
        if at is not None:
            if at == hm.body_tag_end and text.startswith(nl, at):
                at += len(nl)  # on the line after <body>
            edits.append((at, at, element + nl))
        elif position == "start":
            position = "end"  # no body and no content: the start is the end
    if position in ("end", "both"):
        at = hm.body_close if hm.body_close is not None else hm.html_close
        if at is None and hm.open_at_end is not None:
            at = hm.open_at_end  # the text ends inside a comment, script or tag: the notice goes before it
        if at is not None:
            edits.append((at, at, element + nl))
        elif not text:
            edits.append((0, 0, element))
        elif _ends_with_break(text):
            edits.append((len(text), len(text), element + nl))
        else:
            edits.append((len(text), len(text), nl + element))
    return apply_edits(text, edits), removed


# ----------------------------------------------------------------------------------------- API


def apply_notice_counted(text: str, notice: str, *, fmt: str, position: str = "end",
                         known: Iterable[str] = ()) -> tuple[str, int]:
    """(*text* with *notice* at *position*, how many earlier notices were replaced)."""
    if position not in TEXT_POSITIONS:
        raise LabelError(f"text position must be one of {', '.join(TEXT_POSITIONS)}, not {position!r}")
    notice = notice.strip()
    if not notice or "\n" in notice or "\r" in notice:
        raise LabelError("the notice must be one non-empty line of text")
    nl = newline_of(text) or "\n"
    if fmt == "html":
        return _html_notice(text, notice, position, nl)
    if fmt == "markdown":
        head, body = _split_markdown(text)
    elif fmt in ("txt", "text"):
        head, body = ("\ufeff", text[1:]) if text.startswith("\ufeff") else ("", text)
    else:
        raise LabelError(f"unknown text format {fmt!r} (txt, markdown or html)")
    body, removed = _strip_plain(body, _known(notice, known), nl)
    if position in ("end", "both"):
        body = _add_end(body, notice, nl)
    if position in ("start", "both"):
        body = _add_start(body, notice, nl)
    return head + body, removed


def apply_notice(text: str, notice: str, *, fmt: str = "txt", position: str = "end",
                 known: Iterable[str] = ()) -> str:
    """*text* (decoded) with the notice at *position*, replacing notices we wrote before."""
    return apply_notice_counted(text, notice, fmt=fmt, position=position, known=known)[0]


def remove_notices(text: str, *, fmt: str = "txt", known: Iterable[str] = ()) -> str:
    """*text* without our notices: HTML notice elements; lines equal to a known notice at the edges."""
    nl = newline_of(text) or "\n"
    if fmt == "html":
        hm = scan_html(text)
        return apply_edits(text, _removals(text, hm.notices, nl))
    head, body = _split_markdown(text) if fmt == "markdown" else ("", text)
    return head + _strip_plain(body, _known("", known), nl)[0]


class TextMarker:
    """The explicit step for plain text, Markdown and HTML files."""

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in ("txt", "markdown", "html")

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        check_markable_name(src.name)
        position = text_position(options)
        doc = handler.document_access(src).doc  # decoded by the handler, its size checked first
        known = list(options.extra.get("known_notices", ()))
        new, removed = apply_notice_counted(doc.text, options.text, fmt=handler.name, position=position,
                                            known=known)
        notes = []
        if removed:
            notes.append(f"replaced {removed} earlier notice{'s' if removed > 1 else ''}")
        if doc.encoding == "utf-8" and not doc.bom and doc.text.isascii() and not options.text.isascii():
            notes.append("the file was pure ASCII, so its encoding cannot be told; the notice was written "
                         "in UTF-8")
        details = {"text": options.text, "position": position, "encoding": doc.display_encoding,
                   "newline": {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}.get(newline_of(doc.text) or "", None),
                   "replaced": removed}
        return ExplicitResult(doc.encode(new), notes, details)
