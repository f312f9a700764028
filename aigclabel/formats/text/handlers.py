"""The three text handlers (plain text, Markdown, HTML) the registry picks from."""

from __future__ import annotations

import os
from typing import BinaryIO

from ... import limits
from ..._io import CountingReader
from ..document_access import TextAccess
from ..base import Evidence, FormatHandler, ImplicitLabel
from .encoding import _FM_OPEN, _HTML_START, _NEWLINE_NAMES, TextDoc, _sniff_document, decode_bytes, newline_of
from .records import read_labels, set_record


#: how many times its size reading and decoding a text file holds at once (measured peak: ~5x for CJK text)
_DECODE_FACTOR = 6


def _read_text(src: CountingReader) -> tuple[bytes, TextDoc]:
    """The whole file and its decoded text; a text file is read whole, so its size is checked first
    (``max_allocation``: decoding needs the bytes and the text in memory at once)."""
    # bytes plus the decoded str (up to 4 bytes a character for non-Latin text) plus the decoder's own copy
    limits.check_memory(src.size * _DECODE_FACTOR, f"the text file is {src.size:,} bytes; reading and decoding it")
    src.seek(0)
    data = src.read()
    return data, decode_bytes(data)


class _TextBase(FormatHandler):
    kind = "text"
    can_write = True
    #: False when the rules define no implicit carrier (plain text): writing the record leaves the
    #: content as it is, and the evidence says so (``info["implicit_carrier"]``)
    implicit_carrier = True
    #: text handlers tie on plain content; the registry breaks the tie with :meth:`tie_rank`
    tie_group = "text"

    @classmethod
    def tie_rank(cls, name: str | None) -> int:
        """2 when the file name's extension is ours, else 0 (plain text: 1, the default)."""
        ext = os.path.splitext(os.path.basename(name or ""))[1].lower()
        return 2 if ext in cls.extensions else 0

    def _decode(self, src: CountingReader) -> tuple[bytes, TextDoc]:
        return _read_text(src)

    def document_access(self, src: CountingReader) -> TextAccess:
        """The decoded text and its visible blocks (what the explicit check reads)."""
        _, doc = self._decode(src)
        return TextAccess(self.name, doc)

    def read(self, src: CountingReader) -> Evidence:
        _, doc = self._decode(src)
        text = doc.text
        ev = Evidence(self.name, self.kind)
        nl = newline_of(text)
        ev.info.update(encoding=doc.display_encoding, bom=bool(doc.bom),
                       newline=_NEWLINE_NAMES.get(nl, None) if nl else None,
                       final_newline=text.endswith(("\n", "\r")), characters=len(text),
                       implicit_carrier=self.implicit_carrier)
        ev.labels, ev.traces, ev.findings = read_labels(text, self.name)
        return ev

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        data, doc = self._decode(src)
        new = set_record(doc.text, self.name, label.record_json)
        dst.write(data if new is doc.text else doc.encode(new))


class TextHandler(_TextBase):
    """Plain text: no implicit carrier is defined; the explicit notice is the label."""

    name = "txt"
    mime = "text/plain"
    extensions = (".txt", ".text")
    normative_carrier = "none (no implicit carrier is defined for plain text)"
    implicit_carrier = False

    @classmethod
    def score(cls, head: bytes) -> int:
        return 10 if _sniff_document(head) is not None else 0

    @classmethod
    def tie_rank(cls, name: str | None) -> int:
        return 2 if super().tie_rank(name) else 1  # the default for unnamed content


class MarkdownHandler(_TextBase):
    """Markdown: the record as YAML front matter (``AIGC:`` mapping)."""

    name = "markdown"
    mime = "text/markdown"
    extensions = (".md", ".markdown")
    normative_carrier = "front-matter:AIGC"

    @classmethod
    def score(cls, head: bytes) -> int:
        text = _sniff_document(head)
        if text is None:
            return 0
        return 60 if _FM_OPEN.match(text) or text.rstrip(" \t") == "---" else 10


class HtmlHandler(_TextBase):
    """HTML: ``<meta name="AIGC" content='…'>`` in <head> (our convention; no carrier is defined)."""

    name = "html"
    mime = "text/html"
    extensions = (".html", ".htm")
    normative_carrier = "html:meta:AIGC"

    @classmethod
    def score(cls, head: bytes) -> int:
        text = _sniff_document(head)
        if text is None:
            return 0
        return 80 if _HTML_START.match(text.lstrip()) else 10

    def write_notes(self, src: CountingReader) -> list[str]:
        from .htmlscan import is_fragment

        _, doc = self._decode(src)
        if not is_fragment(doc.text):
            return []
        return ["HTML fragment (no doctype, <html> or <head>): the record went in as a <meta name=\"AIGC\"> on its "
                "first line, without adding a <head> (a document parse puts it in the implied head)"]


HANDLERS: dict[str, type[_TextBase]] = {"txt": TextHandler, "markdown": MarkdownHandler, "html": HtmlHandler}
