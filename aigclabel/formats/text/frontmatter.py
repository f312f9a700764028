"""Markdown YAML front matter: finding it, reading its ``AIGC`` entry (a YAML mini-parser for the
scalars and the one mapping we need), and setting it with every other line kept."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ... import limits
from ...errors import CorruptFile, LabelError
from ...label import FIELDS
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

# Why a hand-written YAML reader (and not PyYAML): PyYAML is only a test dependency, and making the
# verdict depend on whether an optional package is installed would give two answers for one file.
# We also need what PyYAML does not give: the AIGC entry of front matter whose *other* keys are not
# valid YAML (template front matter often is not), the entry's exact line span (marking replaces it in
# place, every other line kept), and keys exactly as written, duplicates included.  The subset read is
# what a record needs: one top-level key holding a block mapping, a flow mapping, or a scalar, with
# plain, single- and double-quoted (escapes, folded lines) and block (| >) scalar values.  Nothing is
# constructed but strings, there are no aliases, tags or recursion, every loop advances through the
# text (linear time), and the number of keys is bounded by ``max_structures``.


def _fold_breaks(s: str, j: int) -> tuple[str, int]:
    """Folding of the line break(s) at s[j] inside a flow scalar: one break is a space, each further
    (empty) line a newline; the next line's leading white space is not content."""
    breaks = 0
    n = len(s)
    while j < n and s[j] in "\n \t":
        if s[j] == "\n":
            breaks += 1
        j += 1
    return (" " if breaks == 1 else "\n" * (breaks - 1)), j


def _yaml_double(s: str, i: int) -> tuple[str, int] | None:
    """Parse a YAML double-quoted scalar starting at s[i] == '"' (it may span lines: *s* holds them
    joined by "\n"); (value, index after it) or None."""
    out: list[str] = []
    j, n = i + 1, len(s)
    while j < n:
        c = s[j]
        if c == '"':
            return "".join(out), j + 1
        if c == "\n":
            if out:
                out[-1] = out[-1].rstrip(" \t")  # white space before a break is not content
            folded, j = _fold_breaks(s, j)
            out.append(folded)
            continue
        if c != "\\":
            k = j
            while k < n and s[k] not in '"\\\n':
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
        elif e == "\n":  # an escaped line break: the break and the next line's indentation go
            j += 2
            while j < n and s[j] in " \t":
                j += 1
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


def _yaml_single(s: str, i: int) -> tuple[str, int] | None:
    """Parse a YAML single-quoted scalar starting at s[i] == "'" (``''`` is a quote; lines fold)."""
    out: list[str] = []
    j, n = i + 1, len(s)
    while j < n:
        c = s[j]
        if c == "'":
            if s.startswith("''", j):
                out.append("'")
                j += 2
                continue
            return "".join(out), j + 1
        if c == "\n":
            if out:
                out[-1] = out[-1].rstrip(" \t")
            folded, j = _fold_breaks(s, j)
            out.append(folded)
            continue
        k = j
        while k < n and s[k] not in "'\n":
            k += 1
        out.append(s[j:k])
        j = k
    return None


def _plain(lines: list[str]) -> str:
    """A plain (unquoted) scalar over one or more lines: folded, a `` #`` comment ends it."""
    parts: list[str] = []
    blank = 0
    for line in lines:
        cut = line.find(" #")
        text = (line[:cut] if cut >= 0 else line).strip(" \t")
        if line.lstrip(" \t").startswith("#"):
            break
        if not text:
            blank += 1
            continue
        if parts:
            parts.append("\n" * blank if blank else " ")
        parts.append(text)
        blank = 0
        if cut >= 0:
            break
    return "".join(parts)


def _block_scalar(indicator: str, lines: list[str]) -> str:
    """A literal (|) or folded (>) block scalar from its indented lines, with its chomping (- + or clip)."""
    last = len(lines)
    while last and not lines[last - 1].strip(" \t"):
        last -= 1
    lines = lines[:last]
    indent = min((len(x) - len(x.lstrip(" ")) for x in lines if x.strip(" \t")), default=0)
    body = [x[indent:] for x in lines]
    text = ("\n" if indicator[0] == "|" else " ").join(body)
    if "-" in indicator:
        return text
    return text + "\n" if text else text


def _yaml_value(rest: str, more: list[str]) -> tuple[str, object]:
    """(form, value) of a value: the text after ``key:`` and the (more indented) lines that follow it.

    Forms: "empty" (None), "string" (the text), "block" (the text), "flow" (the flow collection's text,
    its lines joined), "plain" (an unterminated quoted scalar, as written)."""
    v = rest.strip(" \t")
    if not v or v.startswith("#"):
        return "empty", None
    if v[0] in "\"'":
        joined = "\n".join([v, *more])
        parsed = (_yaml_double if v[0] == '"' else _yaml_single)(joined, 0)
        return ("string", parsed[0]) if parsed else ("plain", v)
    if v[0] in "{[":
        return "flow", " ".join([v, *(x.strip(" \t") for x in more)])
    if v[0] in "|>" and (len(v) == 1 or v[1] in "+-0123456789 #"):
        return "block", _block_scalar(v.split("#", 1)[0].strip(), more)
    return "string", _plain([v, *more])


def _yaml_key(line: str) -> tuple[str, str] | None:
    """(key, text after the colon) of a ``key: value`` line, or None."""
    if not line:
        return None
    if line[0] in "\"'":
        parsed = (_yaml_double if line[0] == '"' else _yaml_single)(line, 0)
        if parsed is None:
            return None
        after = line[parsed[1]:].lstrip(" \t")
        return (parsed[0], after[1:]) if after.startswith(":") else None
    i = line.find(":")
    while i >= 0 and i + 1 < len(line) and line[i + 1] not in " \t":
        i = line.find(":", i + 1)
    if i < 0:
        return None
    return line[:i].rstrip(" \t"), line[i + 1:]


def _flow_token(s: str, j: int, key: bool) -> tuple[str | None, int] | None:
    """One scalar of a flow mapping at s[j] (white space skipped): (value, index after it); an empty
    plain value is None (YAML null).  None when it is not a scalar (a nested collection, a bad quote)."""
    n = len(s)
    while j < n and s[j] in " \t\n":
        j += 1
    if j >= n:
        return None
    c = s[j]
    if c in "\"'":
        return (_yaml_double if c == '"' else _yaml_single)(s, j)
    if c in "{[]":
        return None
    k = j
    while k < n and s[k] not in ",{}[]":
        # a plain key ends at ": " (a colon not followed by a space belongs to it, as in a URL)
        if key and s[k] == ":" and (k + 1 >= n or s[k + 1] in " \t\n,}]"):
            break
        if s[k] == "#" and s[k - 1] in " \t\n":
            return None  # a comment inside a flow mapping: not a form a record writer uses
        k += 1
    text = s[j:k].strip(" \t\n")
    return (text if text or key else None), k


def _flow_mapping(text: str) -> list[tuple[str, str | None]] | None:
    """The (key, value) pairs of a flat YAML flow mapping (``{Label: '1', "ProduceID": "x"}``), or None
    when *text* is not one (nested collections included: a JSON reader gets those)."""
    pairs: list[tuple[str, str | None]] = []
    n = len(text)
    j = 1  # after "{"
    while True:
        while j < n and text[j] in " \t\n":
            j += 1
        if j < n and text[j] == "}":
            j += 1
            break
        token = _flow_token(text, j, key=True)
        if token is None or token[0] is None:
            return None
        key, j = token[0], token[1]
        while j < n and text[j] in " \t\n":
            j += 1
        if j < n and text[j] == ":":
            v = _flow_token(text, j + 1, key=False)
            if v is None:
                return None
            value, j = v
        else:
            value = None  # "{a, b}": keys with null values
        pairs.append((key, value))
        limits.check_count(len(pairs), "keys in the front matter's AIGC mapping")
        while j < n and text[j] in " \t\n":
            j += 1
        if j < n and text[j] == ",":
            j += 1
        elif j < n and text[j] == "}":
            j += 1
            break
        else:
            return None
    tail = text[j:].strip(" \t\n")
    return pairs if not tail or tail.startswith("#") else None


@dataclass
class _YamlEntry:
    """One top-level entry of YAML front matter: key, span, line, form and value."""
    key: str
    start: int  # offset of the key line
    end: int  # offset after the entry's last non-blank line (line break included)
    line: int  # 1-based line number of the key
    form: str  # "mapping" | "string" | "flow" | "block" | "empty" | "plain"
    value: Any  # list of (key, value) pairs for a mapping, else the scalar text
    style: str = ""  # a mapping's style: "block" or "flow"
    rest: str = ""  # the text after the key's colon
    more: list[str] = field(default_factory=list)  # the more indented lines that follow (blank ones as "")


def _child_pairs(lines: list[str]) -> list[tuple[str, Any]]:
    """The (key, value) pairs of a block mapping from its indented lines."""
    pairs: list[tuple[str, Any]] = []
    child_indent: int | None = None
    pending: tuple[str, str, list[str]] | None = None

    def close() -> None:
        if pending is not None:
            form, value = _yaml_value(pending[1], pending[2])
            pairs.append((pending[0], None if form == "empty" else value))
            limits.check_count(len(pairs), "keys in the front matter's AIGC mapping")

    for line in lines:
        stripped = line.lstrip(" \t")
        indent = len(line) - len(stripped)
        if not stripped:
            if pending is not None:
                pending[2].append("")
            continue
        if child_indent is None:
            if stripped.startswith("#"):
                continue
            child_indent = indent
        if indent > child_indent:
            if pending is not None:  # a continuation of the child's value (folded or block scalar)
                pending[2].append(line)
            continue
        if stripped.startswith("#"):
            continue
        close()
        kv = _yaml_key(stripped)
        pending = (kv[0], kv[1], []) if kv is not None else None
    close()
    return pairs


def _resolve(entry: _YamlEntry) -> None:
    """Turn an entry's collected text into its form and value."""
    form, value = _yaml_value(entry.rest, entry.more)
    if form == "empty" and any(x.strip(" \t") for x in entry.more):
        pairs = _child_pairs(entry.more)
        if pairs:
            form, value, entry.style = "mapping", pairs, "block"
    elif form == "flow" and str(value).startswith("{"):
        flow = _flow_mapping(str(value))
        if flow is not None:
            form, value, entry.style = "mapping", flow, "flow"
    entry.form, entry.value = form, value


def _front_matter_entries(text: str, fm: FrontMatter) -> list[_YamlEntry]:
    """Top-level entries of the front matter whose key contains AIGC (the only ones we parse)."""
    entries: list[_YamlEntry] = []
    current: _YamlEntry | None = None
    line_no = 1  # the opening '---'
    for start, cend, nxt in _iter_lines(text, fm.open_end, fm.close_start):
        line_no += 1
        line = text[start:cend]
        stripped = line.lstrip(" \t")
        if not stripped:
            if current is not None:
                current.more.append("")  # blank lines neither end nor extend an entry
            continue
        if len(line) - len(stripped) == 0:
            if current is not None and line[0] in "}]" and current.rest.lstrip(" \t")[:1] in ("{", "["):
                current.end = nxt  # a flow collection's closing bracket on a line of its own (JSON style)
                current.more.append(line)
                continue
            current = None
            if line[0] in "#-":
                continue
            kv = _yaml_key(line)
            if kv is None or "AIGC" not in kv[0]:
                continue
            current = _YamlEntry(kv[0], start, nxt, line_no, "", None, rest=kv[1])
            entries.append(current)
            continue
        if current is not None:
            current.end = nxt
            current.more.append(line)
    for entry in entries:
        _resolve(entry)
    return entries


_RECORD_KEYS = {"Label", "ContentProducer", "ProduceID", "ServiceProvider", "ContentID"}
#: where a key goes when a mapping is read: the Annex E order (then unknown keys, as found)
_ORDER = {k: i for i, k in enumerate(FIELDS)}


def _mapping_json(pairs: list[tuple[str, Any]]) -> str:
    """The record text of a YAML mapping.  A mapping's key order is not content in YAML (real exports
    write the keys alphabetically), so a mapping of Annex E keys is read in Annex E order; one with
    other keys (a misspelt ``ReserveCode1``) is passed on as found, for the record check to name them.
    Keys are not merged, so a repeated key still reaches the record check as repeated."""
    known = all(k in _ORDER for k, _ in pairs)
    ordered = sorted(pairs, key=lambda kv: _ORDER[kv[0]]) if known else pairs
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}"
                          for k, v in ordered) + "}"


def mapping_notes(entry: _YamlEntry) -> list[str]:
    """What a reader should know about how a record mapping was written (flow style, key order)."""
    notes: list[str] = []
    if entry.form != "mapping":
        return notes
    if entry.style == "flow":
        notes.append("in YAML flow style ({...} on the key's line); our writer uses block style")
    keys = [k for k, _ in entry.value]
    if all(k in _ORDER for k in keys) and keys != sorted(keys, key=_ORDER.__getitem__):
        notes.append("with its keys in another order than Annex E's (read in Annex E order: a YAML "
                     "mapping's key order carries no meaning)")
    return notes


def _entry_raw(entry: _YamlEntry) -> str | None:
    """The record text of an entry, or None when the entry is not a record."""
    if entry.form == "block":  # literal (|) keeps line breaks, folded (>) joins lines; JSON reads both
        raw = str(entry.value)
        return raw if entry.key == "AIGC" or looks_like_record(raw) else None
    if entry.form == "mapping":
        pairs = entry.value
        if entry.key != "AIGC" and not any(k in _RECORD_KEYS for k, _ in pairs):
            return None
        return _mapping_json(pairs)
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
