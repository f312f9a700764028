"""Plain text, Markdown and HTML: encodings, structure, and the implicit record where one is defined.

Carriers (shared/spec/labelling-rules.md §4):

* **Markdown**: YAML front matter at the head holding an ``AIGC:`` mapping with the seven keys
  (normative).  Existing front matter is kept line for line; only the ``AIGC`` entry is ours.
* **HTML**: ``<meta name="AIGC" content='…'>`` in ``<head>`` (our convention: the guides define no
  HTML carrier).  The document is edited by inserting and removing byte ranges found by a linear
  tokenizer; nothing is re-serialised.
* **Plain text**: no carrier is defined.  Evidence says so (``info["implicit_carrier"] = False``)
  and writing the record leaves the content untouched; only the explicit notice applies.

Also read (non-normative): an HTML comment ``<!-- AIGC{...} -->`` / ``<!-- {"AIGC":...} -->`` in
HTML and Markdown, and a line ``AIGC{...}`` / ``{"AIGC":...}`` in plain text.

Encodings: UTF-8 (with or without BOM), UTF-16 LE/BE with a BOM, and GB18030 (a superset of GBK
and GB2312).  The file's encoding, BOM, line endings and final newline are kept: edits are made on
the decoded text and encoded back with the same codec, and everything outside the edits keeps its
bytes.

Detection (the first 64 bytes) cannot tell plain text from Markdown.  All three handlers claim any
text weakly (score 10); strong signals win by content (``<!doctype html``/``<html``: HTML 80; a
front matter opener ``---``: Markdown 60).  The handlers share ``tie_group = "text"``: when they
tie, the registry asks each for ``tie_rank(file name)`` so ``notes.md`` is Markdown and ``page.htm``
HTML; without a name (bytes, streams) plain text wins.  The name never outweighs content.
"""

from __future__ import annotations

import codecs
import html
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator

from .._io import CountingReader
from ..errors import CorruptFile, LabelError
from ..report import Finding, FoundLabel, Level, Trace
from ._image_meta import found_label, generator_trace, looks_like_record
from .base import HEAD_SIZE, Evidence, FormatHandler, ImplicitLabel

__all__ = ["TextHandler", "MarkdownHandler", "HtmlHandler", "TextDoc", "decode_bytes", "sniff",
           "newline_of", "FrontMatter", "find_front_matter", "set_front_matter_record", "set_html_record",
           "set_record", "read_labels", "scan_html", "HtmlMap", "visible_blocks", "apply_edits",
           "TEXT_FORMATS", "TEXT_EXTENSIONS", "HANDLERS"]

# ============================================================================================ encodings

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


# ============================================================================================ Markdown


@dataclass
class FrontMatter:
    """YAML front matter at the head of a Markdown document (offsets into the decoded text)."""

    open_end: int  # just after the opening '---' line: where the YAML text starts
    close_start: int  # start of the closing '---' / '...' line (end of the text when unclosed)
    end: int  # just after the closing line and its line break
    closed: bool


def find_front_matter(text: str) -> FrontMatter | None:
    """The front matter block, or None when the document does not open with ``---``."""
    m = _FM_OPEN.match(text)
    if not m:
        return None
    for start, cend, nxt in _iter_lines(text, m.end()):
        if cend - start <= 16 and text[start:cend].rstrip(" \t") in ("---", "..."):
            return FrontMatter(m.end(), start, nxt, True)
    return FrontMatter(m.end(), len(text), len(text), False)


def _unclosed(text: str) -> CorruptFile:
    return CorruptFile("the front matter opened on line 1 never closes (no closing '---' line); refusing to guess "
                       "where it ends, so the file is left unchanged")


_YAML_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
                 "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
                 "L": "\u2028", "P": "\u2029"}


def _yaml_double(s: str, i: int) -> tuple[str, int] | None:
    """Parse a YAML double-quoted scalar starting at s[i] == '"'; (value, index after it) or None."""
    out: list[str] = []
    j, n = i + 1, len(s)
    while j < n:
        c = s[j]
        if c == '"':
            return "".join(out), j + 1
        if c != "\\":
            k = j
            while k < n and s[k] not in '"\\':
                k += 1
            out.append(s[j:k])
            j = k
            continue
        if j + 1 >= n:
            return None
        e = s[j + 1]
        if e in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[e])
            j += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = s[j + 2:j + 2 + width]
            try:
                out.append(chr(int(digits, 16)))
            except (ValueError, OverflowError):
                return None
            if len(digits) != width:
                return None
            j += 2 + width
        else:
            return None
    return None


def _yaml_scalar(rest: str) -> tuple[str, object]:
    """(form, value) of the text after ``key:``: ("empty", None), ("string", str), ("flow", raw text)."""
    v = rest.strip(" \t")
    if not v or v.startswith("#"):
        return "empty", None
    if v[0] == '"':
        parsed = _yaml_double(v, 0)
        return ("string", parsed[0]) if parsed else ("plain", v)
    if v[0] == "'":
        out, j = [], 1
        while j < len(v):
            k = v.find("'", j)
            if k < 0:
                return "plain", v
            out.append(v[j:k])
            if v.startswith("''", k):
                out.append("'")
                j = k + 2
                continue
            return "string", "".join(out)
        return "plain", v
    if v[0] in "{[":
        return "flow", v
    if v[0] in "|>" and (len(v) == 1 or v[1] in "+-0123456789 #"):
        return "block", v[0]  # a block scalar: its text is the indented lines that follow
    cut = v.find(" #")
    return "string", (v[:cut] if cut >= 0 else v).rstrip(" \t")


def _yaml_key(line: str) -> tuple[str, str] | None:
    """(key, text after the colon) of a ``key: value`` line, or None."""
    if not line:
        return None
    if line[0] in "\"'":
        q = line[0]
        e = line.find(q, 1)
        if e < 0:
            return None
        after = line[e + 1:].lstrip(" \t")
        return (line[1:e], after[1:]) if after.startswith(":") else None
    i = line.find(":")
    while i >= 0 and i + 1 < len(line) and line[i + 1] not in " \t":
        i = line.find(":", i + 1)
    if i < 0:
        return None
    return line[:i].rstrip(" \t"), line[i + 1:]


@dataclass
class _YamlEntry:
    key: str
    start: int  # offset of the key line
    end: int  # offset after the entry's last non-blank line (line break included)
    line: int  # 1-based line number of the key
    form: str  # "mapping" | "string" | "flow" | "block" | "empty" | "plain"
    value: object  # list of (key, value) pairs for a mapping, lines of a block scalar, else the scalar
    style: str = ""  # a block scalar's indicator: "|" (literal) or ">" (folded)


def _front_matter_entries(text: str, fm: FrontMatter) -> list[_YamlEntry]:
    """Top-level entries of the front matter whose key contains AIGC (the only ones we parse)."""
    entries: list[_YamlEntry] = []
    current: _YamlEntry | None = None
    child_indent: int | None = None
    line_no = 1  # the opening '---'
    for start, cend, nxt in _iter_lines(text, fm.open_end, fm.close_start):
        line_no += 1
        line = text[start:cend]
        stripped = line.lstrip(" \t")
        if not stripped:
            continue  # blank lines neither end nor extend an entry
        indent = len(line) - len(stripped)
        if indent == 0:
            current = None
            if line[0] in "#-":
                continue
            kv = _yaml_key(line)
            if kv is None or "AIGC" not in kv[0]:
                continue
            form, value = _yaml_scalar(kv[1])
            current = _YamlEntry(kv[0], start, nxt, line_no, form, value)
            if form == "block":
                current.style, current.value = str(value), []
            child_indent = None
            entries.append(current)
            continue
        if current is None:
            continue
        current.end = nxt
        if current.form == "block":
            if child_indent is None:
                child_indent = indent
            current.value.append(line[min(indent, child_indent):])  # type: ignore[union-attr]
            continue
        if stripped.startswith("#") or current.form not in ("empty", "mapping"):
            continue
        if child_indent is None:
            child_indent = indent
        if indent != child_indent:
            continue  # deeper lines: continuations of a child's value (not used by a record)
        kv = _yaml_key(stripped)
        if kv is None:
            continue
        cform, cvalue = _yaml_scalar(kv[1])
        if current.form == "empty":
            current.form, current.value = "mapping", []
        current.value.append((kv[0], None if cform == "empty" else cvalue))  # type: ignore[union-attr]
    return entries


_RECORD_KEYS = {"Label", "ContentProducer", "ProduceID", "ServiceProvider", "ContentID"}


def _entry_raw(entry: _YamlEntry) -> str | None:
    """The record text of an entry, or None when the entry is not a record."""
    if entry.form == "block":  # literal (|) keeps line breaks, folded (>) joins lines; JSON reads both
        raw = ("\n" if entry.style == "|" else " ").join(entry.value)  # type: ignore[arg-type]
        return raw if entry.key == "AIGC" or looks_like_record(raw) else None
    if entry.form == "mapping":
        pairs = entry.value  # type: ignore[assignment]
        if entry.key != "AIGC" and not any(k in _RECORD_KEYS for k, _ in pairs):  # type: ignore[union-attr]
            return None
        return json.dumps(dict(pairs), ensure_ascii=False, separators=(",", ":"))  # type: ignore[arg-type]
    if entry.form in ("string", "flow", "plain"):
        raw = str(entry.value)
        if entry.key == "AIGC" or looks_like_record(raw):
            return raw
        return None
    return "" if entry.key == "AIGC" else None  # an empty AIGC key: an (invalid) record


def _yaml_quote(value: str) -> str:
    out = ['"']
    for ch in value:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif o < 0x20 or 0x7F <= o <= 0x9F or ch in "\u2028\u2029\ufeff":
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _aigc_block(record_json: str, nl: str) -> str:
    try:
        pairs = json.loads(record_json, object_pairs_hook=list)
    except ValueError:
        raise LabelError("the record to write is not a JSON object") from None
    if not isinstance(pairs, list):
        raise LabelError("the record to write is not a JSON object")
    lines = [f"AIGC:{nl}"]
    for key, value in pairs:
        lines.append(f"  {key}: {_yaml_quote(value if isinstance(value, str) else json.dumps(value))}{nl}")
    return "".join(lines)


def set_front_matter_record(text: str, record_json: str) -> str:
    """*text* with the record as the front matter's ``AIGC`` mapping (created or merged).

    Existing front matter is kept line for line: an existing record entry is replaced in place and
    other record entries are removed; otherwise the mapping is added at the end of the block.
    Record comments (``<!-- AIGC{...} -->``) are removed: the file keeps one record.
    """
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    nl = newline_of(body) or "\n"
    block = _aigc_block(record_json, nl)
    fm = find_front_matter(body)
    if fm is None:
        return bom + "---" + nl + block + "---" + nl + _remove_record_comments(body)
    if not fm.closed:
        raise _unclosed(body)
    records = [e for e in _front_matter_entries(body, fm) if _entry_raw(e) is not None]
    if records:
        edits = [(records[0].start, records[0].end, block)] + [(e.start, e.end, "") for e in records[1:]]
    else:
        edits = [(fm.close_start, fm.close_start, block)]
    head = apply_edits(body[:fm.end], edits)
    return bom + head + _remove_record_comments(body, fm.end)


# ============================================================================================ HTML

_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r /=>]*")
_SPACES = re.compile(r"[\t\n\f\r ]*")
#: where markup may start (any other "<" is text)
_MARKUP = re.compile(r"<[!?/A-Za-z]")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
#: elements whose content is not markup, and where it ends
_RAW = ("script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title")
_RAW_END = {name: re.compile(rf"</{name}(?=[\t\n\f\r />]|\Z)", re.IGNORECASE) for name in _RAW}
_RCDATA = frozenset({"textarea", "title"})  # character references are decoded in these
_VISIBLE_RAW = frozenset({"textarea", "xmp"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                  "wbr", "param", "keygen", "basefont", "bgsound", "frame"})
_HEAD_TAGS = frozenset({"html", "head", "meta", "link", "title", "style", "script", "base", "noscript", "template",
                        "basefont", "bgsound", "noframes"})
_BLOCK = frozenset({"address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
                    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
                    "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "li", "main", "menu", "nav",
                    "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
                    "ul", "center", "option", "legend", "textarea", "xmp"})
_INVISIBLE_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_WS = re.compile(r"\s+")

#: the attribute that marks our visible notice element
NOTICE_ATTR = "data-aigc-notice"


@dataclass(slots=True)
class _Tag:
    kind: str  # "start" | "end" | "text" | "raw" | "comment" | "doctype"
    start: int
    end: int
    name: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    #: the construct runs to the end of the text (an unterminated comment or raw-text element, or
    #: kind "cut": a tag cut by the end, which browsers drop)
    unclosed: bool = False


def _attributes(text: str, pos: int) -> tuple[dict[str, str], int] | None:
    """Attributes of a tag from *pos* (after its name) to its '>'; None when the text ends inside the tag."""
    attrs: dict[str, str] = {}
    n = len(text)
    if pos < n and text[pos] == ">":
        return attrs, pos + 1  # the common case: no attributes
    while True:
        pos = _SPACES.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return None
        c = text[pos]
        if c == ">":
            return attrs, pos + 1
        if c == "/":
            pos += 1
            continue
        m = _ATTR_NAME.match(text, pos)
        assert m is not None  # c is none of the characters the pattern excludes
        name = m.group().lower()
        pos = _SPACES.match(text, m.end()).end()  # type: ignore[union-attr]
        value = ""
        if pos < n and text[pos] == "=":
            pos = _SPACES.match(text, pos + 1).end()  # type: ignore[union-attr]
            if pos >= n:
                return None
            q = text[pos]
            if q in "\"'":
                close = text.find(q, pos + 1)
                if close < 0:
                    return None
                value, pos = text[pos + 1:close], close + 1
            else:
                um = _UNQUOTED.match(text, pos)
                assert um is not None
                value, pos = um.group(), um.end()
            if "&" in value:
                value = html.unescape(value)
        attrs.setdefault(name, value)  # the first occurrence wins, as in browsers


def _tokens(text: str) -> Iterator[_Tag]:
    """HTML tokens in document order; linear time on any input (no backtracking, no rescans).

    Follows the HTML tokenizer where it matters for finding structure: comments (``<!-->`` included),
    doctype and bogus comments, raw-text elements (``</head>`` inside a script is script), attribute
    values in either quote, and a tag cut by the end of the text (dropped, as browsers do).  A ``<``
    that starts no markup is text, merged with the text around it.
    """
    n = len(text)
    pos = 0  # where scanning resumes
    text_from = 0  # start of the pending text run
    while True:
        found = _MARKUP.search(text, pos)
        lt = found.start() if found else -1
        if lt < 0:
            if text_from < n:
                yield _Tag("text", text_from, n)
            return
        tag: _Tag | None = None
        raw: _Tag | None = None
        resume = lt + 1
        if text.startswith("<!--", lt):
            if text.startswith(">", lt + 4):
                end = lt + 5
            elif text.startswith("->", lt + 4):
                end = lt + 6
            else:
                close = text.find("-->", lt + 4)
                end = n if close < 0 else close + 3
            tag = _Tag("comment", lt, end, unclosed=end == n and not text.endswith("-->"))
        elif text.startswith("<!", lt) or text.startswith("<?", lt):
            close = text.find(">", lt + 2)
            end = n if close < 0 else close + 1
            tag = _Tag("doctype" if text[lt + 2:lt + 9].lower() == "doctype" else "comment", lt, end,
                       unclosed=close < 0)
        else:
            closing = text.startswith("</", lt)
            m = _TAG_NAME.match(text, lt + (2 if closing else 1))
            if m is not None:
                parsed = _attributes(text, m.end())
                if parsed is None:  # the text ends inside a tag: the tag is dropped
                    if text_from < lt:
                        yield _Tag("text", text_from, lt)
                    yield _Tag("cut", lt, n, unclosed=True)
                    return
                attrs, end = parsed
                name = m.group().lower()
                tag = _Tag("end", lt, end, name) if closing else _Tag("start", lt, end, name, attrs)
                if not closing and name in _RAW_END and not text.startswith("/>", end - 2):
                    close_m = _RAW_END[name].search(text, end)
                    stop = n if close_m is None else close_m.start()
                    raw = _Tag("raw", end, stop, name) if stop > end else None
                    tag.unclosed = close_m is None
                    resume = stop
                elif not closing and name == "plaintext":
                    raw = _Tag("raw", end, n, name) if n > end else None
                    resume = n
            elif closing and text.startswith(">", lt + 2):
                tag = _Tag("comment", lt, lt + 3)  # "</>" is dropped; reported as nothing visible
            elif closing:
                close = text.find(">", lt + 2)
                tag = _Tag("comment", lt, n if close < 0 else close + 1, unclosed=close < 0)
        if tag is None:
            pos = lt + 1  # a "<" that starts no markup: part of the text run
            continue
        if text_from < lt:
            yield _Tag("text", text_from, lt)
        yield tag
        if raw is not None:
            yield raw
        pos = text_from = max(tag.end, resume)


@dataclass
class HtmlMeta:
    start: int
    end: int
    name: str
    content: str
    in_head: bool


@dataclass
class HtmlMap:
    """Where things are in an HTML document (offsets into the decoded text)."""

    doctype_end: int | None = None
    html_tag_end: int | None = None
    head_tag_end: int | None = None
    charset_meta_end: int | None = None
    body_tag_start: int | None = None
    body_tag_end: int | None = None
    body_close: int | None = None  # start of the last </body>
    html_close: int | None = None  # start of the last </html>
    content_start: int | None = None  # where body content starts (the <body> tag or the first content)
    #: start of a construct that swallows the end of the text (unterminated comment, script, tag...):
    #: anything appended after it would be inside it
    open_at_end: int | None = None
    metas: list[HtmlMeta] = field(default_factory=list)
    notices: list[tuple[int, int]] = field(default_factory=list)  # spans of data-aigc-notice elements
    comments: list[tuple[int, int]] = field(default_factory=list)


def scan_html(text: str) -> HtmlMap:
    """One linear pass over the tokens, recording the positions marking and reading need."""
    hm = HtmlMap()
    notice: list | None = None  # [tag name, start, depth] of an open notice element
    for tok in _tokens(text):
        kind = tok.kind
        if tok.unclosed and hm.open_at_end is None:
            hm.open_at_end = tok.start
        if notice is not None:
            if kind in ("start", "end") and notice[0] == "p" and tok.name != "p" and tok.name in _BLOCK:
                hm.notices.append((notice[1], tok.start))  # a <p> ends where a block starts
                notice = None
            elif kind == "start" and tok.name == notice[0] and tok.name not in VOID:
                if notice[0] == "p":
                    hm.notices.append((notice[1], tok.start))
                    notice = None
                else:
                    notice[2] += 1
            elif kind == "end" and tok.name == notice[0]:
                notice[2] -= 1
                if notice[2] == 0:
                    hm.notices.append((notice[1], tok.end))
                    notice = None
        if kind == "doctype":
            if hm.doctype_end is None and hm.html_tag_end is None:
                hm.doctype_end = tok.end
        elif kind == "comment":
            hm.comments.append((tok.start, tok.end))
        elif kind == "text":
            if hm.content_start is None:
                ws = _SPACES.match(text, tok.start, tok.end).end()  # type: ignore[union-attr]
                if ws < tok.end:
                    hm.content_start = ws
        elif kind == "start":
            name = tok.name
            if name == "html" and hm.html_tag_end is None:
                hm.html_tag_end = tok.end
            elif name == "head" and hm.head_tag_end is None and hm.content_start is None:
                hm.head_tag_end = tok.end
            elif name == "body" and hm.body_tag_end is None:
                hm.body_tag_start, hm.body_tag_end = tok.start, tok.end
                if hm.content_start is None:
                    hm.content_start = tok.start
            elif name == "meta":
                in_head = hm.content_start is None
                attrs = tok.attrs
                if in_head and hm.charset_meta_end is None and (
                        "charset" in attrs or attrs.get("http-equiv", "").lower() == "content-type"):
                    hm.charset_meta_end = tok.end
                if "name" in attrs:
                    hm.metas.append(HtmlMeta(tok.start, tok.end, attrs["name"], attrs.get("content", ""), in_head))
            if name not in _HEAD_TAGS and hm.content_start is None:
                hm.content_start = tok.start
            if NOTICE_ATTR in tok.attrs and notice is None and name not in VOID:
                notice = [name, tok.start, 1]
        elif kind == "end":
            if tok.name == "body":
                hm.body_close = tok.start
            elif tok.name == "html":
                hm.html_close = tok.start
    if notice is not None:
        hm.notices.append((notice[1], len(text) if hm.body_close is None or hm.body_close < notice[1]
                           else hm.body_close))
    return hm


def _hidden(attrs: dict[str, str]) -> bool:
    return "hidden" in attrs or bool(_INVISIBLE_STYLE.search(attrs.get("style", "")))


def _html_blocks(text: str) -> Iterator[tuple[str, int]]:
    """(visible text, offset) of each block of rendered text, in order.

    Not rendered: <head> matter, <script>/<style>/<template>/<title>/<noscript> content, comments, and
    elements with the ``hidden`` attribute or an inline ``display:none``/``visibility:hidden`` style
    (hiding by a style sheet class cannot be seen without CSS: a known limit).
    """
    buf: list[str] = []
    buf_at = 0
    hidden: list | None = None  # [name, depth]
    template = 0

    def flush() -> Iterator[tuple[str, int]]:
        if buf:
            block = _WS.sub(" ", "".join(buf)).strip()
            buf.clear()
            if block:
                yield block, buf_at

    for tok in _tokens(text):
        kind, name = tok.kind, tok.name
        if hidden is not None and hidden[0] == "p" and kind in ("start", "end") and name in _BLOCK \
                and not (kind == "end" and name == "p"):
            hidden = None  # a hidden <p> ends where a block starts (its end tag is optional)
        if kind == "start":
            if name == "template":
                template += 1
            if hidden is not None:
                if name == hidden[0] and name not in VOID:
                    hidden[1] += 1
                continue
            if name not in VOID and _hidden(tok.attrs):
                yield from flush()
                hidden = [name, 1]
                continue
            if name in _BLOCK:
                yield from flush()
        elif kind == "end":
            if name == "template" and template:
                template -= 1
            if hidden is not None:
                if name == hidden[0]:
                    hidden[1] -= 1
                    if hidden[1] == 0:
                        hidden = None
                continue
            if name in _BLOCK:
                yield from flush()
        elif hidden is not None or template:
            continue
        elif kind == "text":
            piece = text[tok.start:tok.end]
            if not buf or not "".join(buf).strip():
                buf_at = tok.start + len(piece) - len(piece.lstrip())
            buf.append(html.unescape(piece) if "&" in piece else piece)
        elif kind == "raw" and name in _VISIBLE_RAW:
            yield from flush()
            piece = text[tok.start:tok.end]
            buf_at = tok.start
            buf.append(html.unescape(piece) if name in _RCDATA and "&" in piece else piece)
            yield from flush()
    yield from flush()


def _removals(text: str, spans: Iterable[tuple[int, int]], nl: str,
              before: bool = False) -> list[tuple[int, int, str]]:
    """Edits removing each span and the line break inserted with it - the mirror of the insertion.

    Notices are inserted as "element + break" (or "break + element" at the very end of a text): the
    break after, else the one before, goes.  With *before* (the record ``<meta>``, inserted as
    "break + element") only a break before it goes, never one after, which may belong to what follows.
    """
    edits: list[tuple[int, int, str]] = []
    floor = 0  # never reach into the previous removal
    for start, end in sorted(spans):
        if start < floor:
            continue  # nested in the previous span
        has_after = not before and text.startswith(nl, end)
        has_before = start - len(nl) >= floor and text.startswith(nl, start - len(nl))
        if has_after:
            end += len(nl)
        elif has_before:
            start -= len(nl)
        edits.append((start, end, ""))
        floor = end
    return edits


def _is_record_meta(meta: HtmlMeta) -> bool:
    return "aigc" in meta.name.lower()


def _record_comments(text: str, start: int = 0, end: int | None = None,
                     spans: Iterable[tuple[int, int]] | None = None) -> Iterator[tuple[int, int, str]]:
    """(start, end, body) of comments holding a record (``<!-- AIGC{...} -->``)."""
    if spans is None:
        spans = _markdown_comment_spans(text, start, end)
    for s, e in spans:
        if not text.startswith("<!--", s):
            continue  # a bogus comment (<!...>, <?...>)
        body = text[s + 4:e - 3] if e - s >= 7 and text.startswith("-->", e - 3) else text[s + 4:e]
        if len(body) < 65536 and looks_like_record(body):
            yield s, e, body.strip()


def _markdown_comment_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    stop = len(text) if end is None else end
    pos = start
    while True:
        s = text.find("<!--", pos, stop)
        if s < 0:
            return
        close = text.find("-->", s + 4, stop)
        e = stop if close < 0 else close + 3
        yield s, e
        pos = e


def _remove_record_comments(text: str, start: int = 0) -> str:
    nl = newline_of(text) or "\n"
    edits = _removals(text, [(s, e) for s, e, _ in _record_comments(text, start)], nl)
    return apply_edits(text[start:], [(s - start, e - start, r) for s, e, r in edits]) if edits else text[start:]


def _attr_quote(value: str) -> str:
    return value.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")


def set_html_record(text: str, record_json: str) -> str:
    """*text* with one ``<meta name="AIGC" content='…'>`` in <head> and no other record.

    Inserted after a ``<meta charset>`` (which must stay within the first 1024 bytes) or right after
    the ``<head>`` tag; a document without a <head> tag gets one after ``<html>`` or the doctype (its
    end tag is optional in HTML, so none is added).  Old record metas and record comments are removed.
    """
    nl = newline_of(text) or "\n"
    hm = scan_html(text)
    meta = f"<meta name=\"AIGC\" content='{_attr_quote(record_json)}'>"
    spans = [(m.start, m.end) for m in hm.metas if _is_record_meta(m)]
    spans += [(s, e) for s, e, _ in _record_comments(text, spans=hm.comments)]
    edits = _removals(text, spans, nl, before=True)
    if edits:  # take the old records out first, then place ours as in an unlabelled document
        text = apply_edits(text, edits)
        hm = scan_html(text)
        edits = []
    anchor = hm.charset_meta_end if hm.charset_meta_end is not None else hm.head_tag_end
    if anchor is not None:
        edits.append((anchor, anchor, nl + meta))
    else:
        # a new <head> goes after <html> or the doctype, but never after content (the head is over then)
        limit = len(text) if hm.content_start is None else hm.content_start
        anchor = next((a for a in (hm.html_tag_end, hm.doctype_end) if a is not None and a <= limit), None)
        if anchor is not None:
            edits.append((anchor, anchor, nl + "<head>" + nl + meta))
        else:
            edits.append((0, 0, "<head>" + nl + meta + nl))
    return apply_edits(text, edits)


# ============================================================================================ reading

TEXT_FORMATS = ("txt", "markdown", "html")
TEXT_EXTENSIONS = {"txt": (".txt", ".text"), "markdown": (".md", ".markdown"), "html": (".html", ".htm")}
_TXT_RECORD_LINE = re.compile(r"(?:\A|(?<=[\r\n]))[ \t]*(?:AIGC[ \t]*[:=]?[ \t]*\{|\{[ \t]*\"AIGC\")")


def set_record(text: str, fmt: str, record_json: str) -> str:
    """Write the record into decoded text of format *fmt* ("txt" has no carrier: unchanged)."""
    if fmt == "markdown":
        return set_front_matter_record(text, record_json)
    if fmt == "html":
        return set_html_record(text, record_json)
    return text


def read_labels(text: str, fmt: str) -> tuple[list[FoundLabel], list[Trace], list[Finding]]:
    """Every record (and generator trace) in decoded text of format *fmt*."""
    labels: list[FoundLabel] = []
    traces: list[Trace] = []
    findings: list[Finding] = []
    lines = _Lines(text)
    if fmt == "markdown":
        body = text[1:] if text.startswith("\ufeff") else text
        shift = len(text) - len(body)
        fm = find_front_matter(body)
        start = 0
        if fm is not None and not fm.closed:
            findings.append(Finding("format.markdown", Level.WARNING,
                                    "the front matter opened on line 1 never closes (no closing '---' line); "
                                    "it was read as ordinary text", location="line 1"))
        elif fm is not None:
            start = fm.end + shift
            for entry in _front_matter_entries(body, fm):
                raw = _entry_raw(entry)
                if raw is None:
                    continue
                form = {"mapping": "mapping"}.get(entry.form, "JSON text")
                labels.append(found_label(f"front-matter:{entry.key}",
                                          f"front matter line {entry.line}, key {entry.key} ({form})", raw,
                                          normative=entry.key == "AIGC" and entry.form == "mapping",
                                          offset=entry.start + shift, before_payload=True))
        for s, _e, body_text in _record_comments(text, start):
            labels.append(found_label("markdown:html-comment", f"HTML comment at line {lines.at(s)}", body_text,
                                      normative=False, offset=s, before_payload=False))
    elif fmt == "html":
        hm = scan_html(text)
        events = [(m.start, "meta", m) for m in hm.metas] + [(s, "comment", (s, e)) for s, e in hm.comments]
        events.sort(key=lambda t: t[0])
        for at, what, item in events:
            if what == "meta":
                meta: HtmlMeta = item  # type: ignore[assignment]
                where = f"<meta name=\"{meta.name}\"> at line {lines.at(at)}" + ("" if meta.in_head else
                                                                                  " (in the body)")
                if _is_record_meta(meta):
                    labels.append(found_label(f"html:meta:{meta.name}", where, meta.content,
                                              normative=meta.name.upper() == "AIGC" and meta.in_head,
                                              offset=at, before_payload=meta.in_head))
                elif meta.name.lower() == "generator" and (t := generator_trace(meta.content, where)):
                    traces.append(t)
            else:
                for s, _e, body_text in _record_comments(text, spans=[item]):  # type: ignore[list-item]
                    in_head = hm.content_start is None or s < hm.content_start
                    labels.append(found_label("html:comment", f"HTML comment at line {lines.at(s)}", body_text,
                                              normative=False, offset=s, before_payload=in_head))
    else:
        for m in _TXT_RECORD_LINE.finditer(text):
            eol = _EOL.search(text, m.end())
            line = text[m.start():eol.start() if eol else len(text)].strip()
            if len(line) < 65536 and looks_like_record(line):
                labels.append(found_label("text:line", f"record line {lines.at(m.start())}", line,
                                          normative=False, offset=m.start(), before_payload=None))
    return labels, traces, findings


def visible_blocks(text: str, fmt: str) -> Iterator[tuple[str, int]]:
    """(block text, line number) of each block a reader sees, in order: lines of plain text and
    Markdown (front matter and HTML comments left out), rendered text blocks of HTML."""
    if fmt == "html":
        lines = _Lines(text)
        for block, at in _html_blocks(text):
            yield block, lines.at(at)
        return
    start = 0
    line_no = 1
    in_comment = False
    if fmt == "markdown":
        body_at = 1 if text.startswith("\ufeff") else 0
        fm = find_front_matter(text[body_at:]) if text.startswith("---", body_at) else None
        if fm is not None and fm.closed:
            start = fm.end + body_at
            line_no = 1 + text.count("\n", 0, start) + text.count("\r", 0, start) - text.count("\r\n", 0, start)
    for s, e, _n in _iter_lines(text, start):
        line = text[s:e]
        if fmt == "markdown" and (in_comment or "<!--" in line):
            parts: list[str] = []
            pos = 0
            while pos <= len(line):
                if in_comment:
                    close = line.find("-->", pos)
                    if close < 0:
                        break
                    in_comment, pos = False, close + 3
                else:
                    opening = line.find("<!--", pos)
                    if opening < 0:
                        parts.append(line[pos:])
                        break
                    parts.append(line[pos:opening])
                    in_comment, pos = True, opening + 4
            line = "".join(parts)
        stripped = line.strip().lstrip("\ufeff")
        if stripped:
            yield stripped, line_no
        line_no += 1


# ============================================================================================ handlers


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
        src.seek(0)
        data = src.read()
        return data, decode_bytes(data)

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


HANDLERS: dict[str, type[_TextBase]] = {"txt": TextHandler, "markdown": MarkdownHandler, "html": HtmlHandler}
