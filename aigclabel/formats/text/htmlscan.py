"""A linear HTML tokenizer: the ``<meta>`` carrier, record comments, and the visible text blocks
(no ``<head>``, scripts, styles, comments or hidden elements) a reader sees."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ...limits import check_count, current as current_limits
from .._image_meta import looks_like_record
from .encoding import apply_edits, newline_of

#: a tag's name, and the ">" right after it when the tag has no attributes (most end tags)
_TAG_NAME = re.compile(r"([A-Za-z][^\t\n\f\r />]*)(>)?")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r /=>]*")
_SPACES = re.compile(r"[\t\n\f\r ]*")
#: where markup may start (any other "<" is text)
_MARKUP = re.compile(r"<[!?/A-Za-z]")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
#: the common attribute, ``name="value"`` with no character reference, in one match; anything else (other
#: quotes, spaces around "=", no value, "&") takes the general steps of :func:`_attributes`, which give the same
#: result for what this matches (a 1.8 MB page of 120,000 tags spent most of its review here)
_SIMPLE_ATTR = re.compile(r'[\t\n\f\r ]*([A-Za-z_:][-A-Za-z0-9_:.]*)="([^"&]*)"')
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
    """One HTML token: kind, span, tag name and attributes."""
    kind: str  # "start" | "end" | "text" | "raw" | "comment" | "doctype"
    start: int
    end: int
    name: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    #: the construct runs to the end of the text (an unterminated comment or raw-text element, or
    #: kind "cut": a tag cut by the end, which browsers drop)
    unclosed: bool = False


def _attributes(text: str, pos: int) -> tuple[dict[str, str], int] | None:
    """Attributes of a tag from *pos* (after its name) to its '>'; None when the text ends inside the tag.
    (A tag without attributes, its '>' right after the name, is told by :data:`_TAG_NAME` and never comes here.)"""
    attrs: dict[str, str] = {}
    n = len(text)
    while True:
        simple = _SIMPLE_ATTR.match(text, pos)
        if simple is not None:
            attrs.setdefault(simple.group(1).lower(), simple.group(2))
            pos = simple.end()
            continue
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
        after = text[lt + 1]  # one of "!?/" or a letter (what _MARKUP matched): one test instead of four calls
        if after == "!" and text.startswith("<!--", lt):
            if text.startswith(">", lt + 4):
                end = lt + 5
            elif text.startswith("->", lt + 4):
                end = lt + 6
            else:
                close = text.find("-->", lt + 4)
                end = n if close < 0 else close + 3
            tag = _Tag("comment", lt, end, unclosed=end == n and not text.endswith("-->"))
        elif after == "!" or after == "?":
            close = text.find(">", lt + 2)
            end = n if close < 0 else close + 1
            tag = _Tag("doctype" if text[lt + 2:lt + 9].lower() == "doctype" else "comment", lt, end,
                       unclosed=close < 0)
        else:
            closing = after == "/"
            m = _TAG_NAME.match(text, lt + (2 if closing else 1))
            if m is not None:
                parsed = ({}, m.end()) if m.group(2) else _attributes(text, m.end())
                if parsed is None:  # the text ends inside a tag: the tag is dropped
                    if text_from < lt:
                        yield _Tag("text", text_from, lt)
                    yield _Tag("cut", lt, n, unclosed=True)
                    return
                attrs, end = parsed
                name = m.group(1).lower()
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
            yield _Tag("text", text_from, lt, "", {})  # a literal: cheaper than the field's default factory
        yield tag
        if raw is not None:
            yield raw
        pos = text_from = tag.end if tag.end > resume else resume


@dataclass
class HtmlMeta:
    """An HTML <meta name=... content=...> tag, its span, and whether it is in the head."""
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


def _follow_notice(hm: HtmlMap, notice: list, tok: _Tag) -> list | None:
    """Track the open notice element [tag name, start, depth]; None once it has ended (recorded)."""
    kind = tok.kind
    if kind in ("start", "end") and notice[0] == "p" and tok.name != "p" and tok.name in _BLOCK:
        hm.notices.append((notice[1], tok.start))  # a <p> ends where a block starts
        return None
    if kind == "start" and tok.name == notice[0] and tok.name not in VOID:
        if notice[0] == "p":
            hm.notices.append((notice[1], tok.start))
            return None
        notice[2] += 1
    elif kind == "end" and tok.name == notice[0]:
        notice[2] -= 1
        if notice[2] == 0:
            hm.notices.append((notice[1], tok.end))
            return None
    return notice


def _start_tag(hm: HtmlMap, tok: _Tag) -> None:
    """Record what a start tag tells: the html/head/body positions, metas, where content starts."""
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


def scan_html(text: str) -> HtmlMap:
    """One linear pass over the tokens, recording the positions marking and reading need."""
    hm = HtmlMap()
    notice: list | None = None  # [tag name, start, depth] of an open notice element
    # what the map keeps per element (comments, <meta> tags, notices) counts against max_structures: 256 MB
    # of "<!--a-->" would otherwise be 32 million spans, gigabytes of tuples
    room = current_limits().max_structures
    for tok in _tokens(text):
        kind = tok.kind
        if kind in ("comment", "start") and len(hm.comments) + len(hm.metas) + len(hm.notices) >= room:
            check_count(room + 1, "HTML comments, <meta> tags and notice elements")
        if tok.unclosed and hm.open_at_end is None:
            hm.open_at_end = tok.start
        if notice is not None:
            notice = _follow_notice(hm, notice, tok)
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
            _start_tag(hm, tok)
            if NOTICE_ATTR in tok.attrs and notice is None and tok.name not in VOID:
                notice = [tok.name, tok.start, 1]
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
    "break + element") only a break before it goes, never one after, which may belong to what follows -- except at
    the very start of the text, where a fragment's record went in as "element + break".
    """
    edits: list[tuple[int, int, str]] = []
    floor = 0  # never reach into the previous removal
    for start, end in sorted(spans):
        if start < floor:
            continue  # nested in the previous span
        # a record <meta> at the very start of a fragment went in as "element + break": take its break after
        has_after = (not before or start == 0) and text.startswith(nl, end)
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
    """*value* for a single-quoted attribute.  HTML itself needs only ``&`` and ``'`` escaped there, but
    readers that find tags with a pattern (exiftool: ``<name ...>`` up to the first ``>``) cut the tag at
    a raw ``>`` and drop the record, so ``<`` and ``>`` are escaped too.  ``"`` stays as it is: JSON is
    full of them, and inside single quotes every reader keeps them."""
    return value.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;").replace(">", "&gt;")


def set_html_record(text: str, record_json: str) -> str:
    """*text* with one ``<meta name="AIGC" content='…'>`` in <head> and no other record.

    Inserted after a ``<meta charset>`` (which must stay within the first 1024 bytes) or right after
    the ``<head>`` tag; a document without a <head> tag gets one after ``<html>`` or the doctype (its
    end tag is optional in HTML, so none is added); a fragment (none of those tags) gets the bare ``<meta>`` at its
    start, no ``<head>``.  Old record metas and record comments are removed.
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
            # A fragment (no doctype, <html> or <head>): a <head> tag would be stray markup in whatever page the
            # fragment ends up in.  A leading <meta> is enough: parsing the fragment as a document puts it into the
            # implied head, and inside another page's body it is inert.
            edits.append((0, 0, meta + nl))
    return apply_edits(text, edits)


def is_fragment(text: str) -> bool:
    """True for HTML without a doctype, <html> or <head> tag: a piece of a page, not a document."""
    hm = scan_html(text)
    return hm.doctype_end is None and hm.html_tag_end is None and hm.head_tag_end is None
