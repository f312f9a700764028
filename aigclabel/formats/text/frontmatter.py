"""Markdown YAML front matter: finding it, reading its ``AIGC`` entry (a YAML mini-parser for the
scalars and the one mapping we need), and setting it with every other line kept."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...errors import CorruptFile, LabelError
from .._image_meta import looks_like_record
from .encoding import _FM_OPEN, _iter_lines, apply_edits, newline_of
from .htmlscan import _remove_record_comments


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
    value: Any  # list of (key, value) pairs for a mapping, lines of a block scalar, else the scalar
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
            current.value.append(line[min(indent, child_indent):])
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
        current.value.append((kv[0], None if cform == "empty" else cvalue))
    return entries


_RECORD_KEYS = {"Label", "ContentProducer", "ProduceID", "ServiceProvider", "ContentID"}


def _entry_raw(entry: _YamlEntry) -> str | None:
    """The record text of an entry, or None when the entry is not a record."""
    if entry.form == "block":  # literal (|) keeps line breaks, folded (>) joins lines; JSON reads both
        raw = ("\n" if entry.style == "|" else " ").join(entry.value)
        return raw if entry.key == "AIGC" or looks_like_record(raw) else None
    if entry.form == "mapping":
        pairs = entry.value
        if entry.key != "AIGC" and not any(k in _RECORD_KEYS for k, _ in pairs):
            return None
        return json.dumps(dict(pairs), ensure_ascii=False, separators=(",", ":"))
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
