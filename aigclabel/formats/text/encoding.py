"""Text encodings: BOM and GB18030 sniffing, decoding with the codec kept, line endings and edits."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator

from ...errors import CorruptFile, LabelError
from ..base import HEAD_SIZE

#: (BOM, codec) in the order they are tried; UTF-32 is not supported (its LE BOM starts like UTF-16's)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_DISPLAY = {"utf-8": "UTF-8", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE", "gb18030": "GB18030"}
#: control characters that do not occur in text (tab, LF, VT, FF, CR and ESC do); used on the head only
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_EOL = re.compile(r"\r\n|\r|\n")
_NEWLINE_NAMES = {"\n": "LF", "\r\n": "CRLF", "\r": "CR"}


@dataclass
class TextDoc:
    """Decoded text plus what is needed to write it back byte-identically."""

    text: str
    encoding: str  # a Python codec name: "utf-8", "utf-16-le", "utf-16-be" or "gb18030"
    bom: bytes = b""

    @property
    def display_encoding(self) -> str:
        name = _DISPLAY.get(self.encoding, self.encoding)
        return f"{name} with BOM" if self.bom else name

    def encode(self, text: str) -> bytes:
        try:
            return self.bom + text.encode(self.encoding)
        except UnicodeEncodeError as exc:  # only lone surrogates fail in these codecs
            raise LabelError(f"the new text cannot be encoded in {self.display_encoding}: "
                             f"{text[exc.start:exc.end]!r} (an unpaired surrogate?)") from None


def decode_bytes(data: bytes) -> TextDoc:
    """Decode a whole text file, or raise :class:`CorruptFile`.

    The order is a small, deliberate trial instead of a statistical charset detector (no
    charset-normalizer dependency): a BOM is decisive; otherwise strict UTF-8, which almost never
    accepts non-UTF-8 text by accident; otherwise strict GB18030, the Chinese national encoding and
    a superset of GBK/GB2312, which is what Chinese text that is not UTF-8 is.  A GB18030 result is
    accepted only if it encodes back to the very same bytes, so rewriting never transcodes.
    UTF-16 without a BOM is not guessed.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec == "utf-16-le" and data[2:4] == b"\x00\x00":
                raise CorruptFile("UTF-32 text is not supported (only UTF-8, UTF-16 with a BOM and GB18030)")
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise CorruptFile(f"not valid {_DISPLAY[codec]} after its byte order mark "
                                  f"(bad bytes at offset {exc.start + len(bom)})") from None
            if "\x00" in text:
                raise CorruptFile("NUL characters: binary content, not text")
            return TextDoc(text, codec, bom)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CorruptFile(f"NUL byte at offset {nul}: binary content, not text")
    try:
        return TextDoc(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        utf8_at = exc.start
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"text in no supported encoding: not UTF-8 (bad byte 0x{data[utf8_at]:02X} at offset "
                          f"{utf8_at}) and not GB18030 (bad bytes at offset {exc.start}); UTF-16 needs a byte "
                          "order mark") from None
    if text.encode("gb18030") != data:
        raise CorruptFile("the text decodes as GB18030 but does not encode back to the same bytes; "
                          "refusing to rewrite it")
    return TextDoc(text, "gb18030")


def _looks_like_gb(head: bytes) -> bool:
    """Most double-byte characters lie in the GB2312 block (lead and trail 0xA1-0xFE).

    GB18030 accepts almost any byte pair, so binary data without NULs often "decodes"; real
    Chinese text is dominated by GB2312 characters, binary data is not.
    """
    common = rare = 0
    i, n = 0, len(head)
    while i < n:
        lead = head[i]
        if lead < 0x80:
            i += 1
            continue
        if i + 1 >= n:
            break  # cut at the end of the head
        trail = head[i + 1]
        if 0x30 <= trail <= 0x39:
            rare += 1  # a four-byte sequence: characters outside GBK
            i += 4
            continue
        if 0xA1 <= lead <= 0xF7 and 0xA1 <= trail <= 0xFE:
            common += 1
        else:
            rare += 1
        i += 2
    return common > 0 and rare * 2 <= common


def sniff(head: bytes) -> tuple[str, str] | None:
    """(codec, decoded head) when the first bytes look like text, else None.

    A multi-byte character cut by the end of the head is fine unless the head is the whole file.
    """
    final = len(head) < HEAD_SIZE
    if not head:
        return None
    for bom, codec in _BOMS:
        if head.startswith(bom):
            if codec == "utf-16-le" and head[2:4] == b"\x00\x00":
                return None  # UTF-32 LE
            try:
                text = codecs.getincrementaldecoder(codec)().decode(head[len(bom):], final)
            except UnicodeDecodeError:
                return None
            if _BINARY_CONTROLS.search(text):
                return None
            # UTF-16 accepts nearly any byte pairs: binary data shows unassigned or private-use code points
            if codec != "utf-8" and any(unicodedata.category(c) in ("Cn", "Co", "Cs") for c in text):
                return None
            return codec, text
    if b"\x00" in head:
        return None
    for codec in ("utf-8", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(codec)().decode(head, final)
        except UnicodeDecodeError:
            continue
        if _BINARY_CONTROLS.search(text):
            return None
        if codec == "gb18030" and not _looks_like_gb(head):
            return None
        return codec, text
    return None


#: text that is not a document: adding a notice line would break it (content-based exclusions only;
#: a JSON object/array of objects, XML and SVG, PDF, PostScript, RTF, a script with a #! line)
_NOT_A_DOCUMENT = re.compile(r'(?:<\?xml|<svg[\s>]|%PDF-|%!PS|\{\\rtf|\{\s*["}]|\[\s*[{\[]|#!)', re.IGNORECASE)
_HTML_START = re.compile(r"(?:<!doctype\s+html|<html)(?:[\s>]|$)", re.IGNORECASE)
_FM_OPEN = re.compile(r"---[ \t]*(?:\r\n|\r|\n)")


#: binary signatures made only of printable bytes: a file cut right after one is a truncated binary
#: file, not text (checked on the raw bytes, case-sensitive)
_BINARY_MAGIC = re.compile(rb"(?:RIFF|RIFX|FORM|fLaC|OggS|GIF8[79]a|ID3[\x02-\x04]?|wOFF|wOF2)(?![A-Za-z])")


def _sniff_document(head: bytes) -> str | None:
    """The decoded head (BOM and leading whitespace dropped) when it is a text document we may claim."""
    if _BINARY_MAGIC.match(head):
        return None
    found = sniff(head)
    if found is None:
        return None
    text = found[1].lstrip("\ufeff")
    if _NOT_A_DOCUMENT.match(text.lstrip()):
        return None
    return text


def newline_of(text: str) -> str | None:
    """The document's line break (its first one), or None when it has none."""
    m = _EOL.search(text)
    return m.group() if m else None


def _iter_lines(text: str, pos: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int]]:
    """(start, content end, next line start) for each line from *pos*; linear in the text."""
    stop = len(text) if end is None else end
    for m in _EOL.finditer(text, pos, stop):
        yield pos, m.start(), m.end()
        pos = m.end()
    if pos < stop:
        yield pos, stop, stop


def apply_edits(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """Replace each (start, end) range with its string; zero-width inserts at one point keep their order."""
    # a zero-width insert at the start of a removed range goes first; inserts at one point keep their order
    ordered = sorted(((s, e, i, r) for i, (s, e, r) in enumerate(edits)), key=lambda t: (t[0], t[0] != t[1], t[2]))
    out: list[str] = []
    pos = 0
    for start, end, _, repl in ordered:
        if start < pos:
            raise AssertionError("overlapping text edits")  # a bug, never user input
        out.append(text[pos:start])
        out.append(repl)
        pos = max(pos, end)
    out.append(text[pos:])
    return "".join(out)


class _Lines:
    """Line numbers for increasing offsets, counted incrementally (linear over a whole scan)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        if offset < self.pos:
            self.pos, self.line = 0, 1
        t = self.text
        self.line += t.count("\n", self.pos, offset) + t.count("\r", self.pos, offset) \
            - t.count("\r\n", self.pos, offset)
        if offset > self.pos and t[offset - 1] == "\r" and offset < len(t) and t[offset] == "\n":
            self.line -= 1  # a CRLF cut in half is counted when the LF is passed
        self.pos = offset
        return self.line
