"""The implicit record of each text format: reading every carrier, setting the one normative one,
and the visible blocks the explicit check reads."""

from __future__ import annotations

import heapq
import re
from typing import Iterator

from ...report import Finding, FoundLabel, Level, Trace
from .._image_meta import found_label, generator_trace, looks_like_record
from .encoding import _EOL, _iter_lines, _Lines
from .frontmatter import _entry_raw, _front_matter_entries, find_front_matter, mapping_notes, set_front_matter_record
from .htmlscan import HtmlMeta, _html_blocks, _is_record_meta, _record_comments, scan_html, set_html_record

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


#: records read from one text file at most: one is the rule, a few are a finding, thousands (a fuzzed or hostile
#: file repeating the record line) would only cost seconds of parsing for the same verdict
MAX_RECORDS = 256


class _Full(Exception):
    pass


class _CappedLabels(list[FoundLabel]):
    def append(self, item: FoundLabel) -> None:
        if len(self) >= MAX_RECORDS:
            raise _Full
        super().append(item)


def read_labels(text: str, fmt: str) -> tuple[list[FoundLabel], list[Trace], list[Finding]]:
    """Every record (and generator trace) in decoded text of format *fmt*, up to :data:`MAX_RECORDS` records."""
    labels: list[FoundLabel] = _CappedLabels()
    traces: list[Trace] = []
    findings: list[Finding] = []
    try:
        _read_into(text, fmt, labels, traces, findings)
    except _Full:
        findings.append(Finding("format.text.records", Level.WARNING,
                                f"more than {MAX_RECORDS} AIGC records in the text; only the first {MAX_RECORDS} "
                                "were read", location=labels[-1].location if labels else None))
    return list(labels), traces, findings


def _read_into(text: str, fmt: str, labels: list[FoundLabel], traces: list[Trace], findings: list[Finding]) -> None:
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
                form = f"{entry.style} mapping" if entry.form == "mapping" else "JSON text"
                where = f"front matter line {entry.line}, key {entry.key} ({form})"
                # A flow mapping is the same YAML data as a block one: the normative carrier either way.
                labels.append(found_label(f"front-matter:{entry.key}", where, raw,
                                          normative=entry.key == "AIGC" and entry.form == "mapping",
                                          offset=entry.start + shift, before_payload=True))
                for note in mapping_notes(entry):
                    findings.append(Finding("format.markdown", Level.INFO, f"the front matter record is {note}",
                                            location=where))
        for s, _e, body_text in _record_comments(text, start):
            labels.append(found_label("markdown:html-comment", f"HTML comment at line {lines.at(s)}", body_text,
                                      normative=False, offset=s, before_payload=False))
    elif fmt == "html":
        hm = scan_html(text)
        # both lists are in document order: merged lazily, not copied into a third (a file of many comments)
        events = heapq.merge(((m.start, "meta", m) for m in hm.metas),
                             ((s, "comment", (s, e)) for s, e in hm.comments), key=lambda t: t[0])
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
