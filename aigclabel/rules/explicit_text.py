"""A text notice with both elements at the start or the end of the text (plain text, Markdown, HTML).

GB 45438-2025 asks text content for a text prompt at the start, the end and/or a suitable middle
position, containing an AI element ("人工智能"/"AI") and a generation element ("生成"/"合成"); the
wording lists come from the profile (``marking.wording_ai`` / ``marking.wording_generation``).

What a reader sees is checked, block by block: lines of plain text and of Markdown (front matter
and HTML comments left out), rendered text blocks of HTML (no <head>, <script>, <style>, comments,
or elements hidden by the ``hidden`` attribute or an inline style).  A notice is a block of at most
``max_notice_chars`` characters with both elements; the first and last ``edge_blocks`` blocks are
"the start" and "the end" (2 by default, so a notice right under a title counts as at the start).

A notice found only in the middle is a warning by default (``middle_only``): the standard allows "a
suitable middle position", and whether a position is suitable cannot be judged automatically.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ..errors import AigcLabelError, LimitExceeded
from ..limits import check_deadline
from ..report import Finding, Level

if TYPE_CHECKING:  # pragma: no cover
    from ..profiles import Profile

ID = "explicit.text"
SCOPE = "explicit"
KINDS = frozenset({"text"})
OPTIONS: dict[str, Any] = {
    "edge_blocks": 2,  # how many leading / trailing visible blocks count as the start / the end
    "max_notice_chars": 200,  # a longer block is content that mentions AI, not a notice
    "middle_only": "warning",  # level when the only notice is in the middle: "warning", "error" or "info"
}
DESCRIPTION = "text notice with an AI element and a generation element at the start or the end"
#: marking asks this rule whether a notice is already there (aigclabel.explicit.label_present): the same
#: scan as verifying (exact and linear, nothing to save)
PRESENT_OPTIONS: dict[str, Any] = {}
PRESENT_HOW = "text notice"

_LEVELS = {"warning": Level.WARNING, "error": Level.ERROR, "info": Level.INFO}
#: compliant notices remembered for the report (the first ones; the edges are kept separately)
_MAX_HITS = 64
#: blocks between deadline checks (a block costs ~20 us to scan, so this checks every ~20 ms)
_DEADLINE_EVERY = 1024


def _show(block: str, limit: int = 60) -> str:
    return repr(block if len(block) <= limit else block[:limit] + "…")


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    src = ctx.source
    if src is None:
        yield Finding(ID, Level.NOT_CHECKED, "the text notice could not be checked: the content was not available",
                      expected="a notice at the start or the end")
        return
    handler = ctx.handler
    try:
        if handler is None:
            from ..formats import handler_for

            handler = handler_for(src)
        access = handler.document_access(src)
    except AigcLabelError as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the text notice could not be checked: {exc}")
        return
    # the evidence's format decides how the text is read (a detected handler may differ by name)
    access.format = ctx.evidence.format
    try:
        findings = list(check_blocks(access.visible_blocks(), ctx.evidence.format, ctx.profile, options))
    except LimitExceeded as exc:  # a huge text past the decode deadline: said, not hung
        yield Finding(ID, Level.NOT_CHECKED, f"the text notice could not be checked: {exc}")
        return
    yield from findings


def summary(finding: Finding) -> str:
    """What a passing finding found, short: the notice and its line."""
    return finding.message.split("; ")[0].removeprefix("notice ")


def check_text(text: str, fmt: str, profile: Profile, options: dict[str, Any]) -> Iterator[Finding]:
    """The findings for decoded *text* of format *fmt* ("txt", "markdown" or "html"); one pass, linear."""
    from ..formats.document_access import TextAccess
    from ..formats.text import TextDoc

    access = TextAccess(fmt, TextDoc(text, "utf-8", b""))
    yield from check_blocks(access.visible_blocks(), fmt, profile, options)


def check_blocks(blocks: Iterable[tuple[str, int]], fmt: str, profile: Profile,
                 options: dict[str, Any]) -> Iterator[Finding]:
    """The findings for the visible *blocks* ((text, line) in order) of a text of format *fmt*."""
    edge = max(1, int(options.get("edge_blocks", 2)))
    limit = int(options.get("max_notice_chars", 200))
    ai, gen = profile.marking.wording_ai, profile.marking.wording_generation

    def is_notice(block: str) -> bool:
        return len(block) <= limit and profile.wording_ok(block)

    first: list[tuple[int, str, int]] = []
    tail: deque[tuple[int, str, int]] = deque(maxlen=edge)
    hits: list[tuple[int, str, int]] = []
    total = 0
    for block, line in blocks:
        if total % _DEADLINE_EVERY == 0:
            check_deadline("reading the text's visible blocks")
        item = (total, block, line)
        if len(first) < edge:
            first.append(item)
        tail.append(item)
        if len(hits) < _MAX_HITS and is_notice(block):
            hits.append(item)
        total += 1

    expected = (f"a notice with an AI element ({' / '.join(ai)}) and a generation element ({' / '.join(gen)}) "
                "at the start or the end")
    at_start = [it for it in first if is_notice(it[1])]
    at_end = [it for it in tail if it[0] >= total - edge and is_notice(it[1])]
    if at_start or at_end:
        places = []
        if at_start:
            places.append(f"at the start (line {at_start[0][2]})")
        if at_end and (not at_start or at_end[-1][0] != at_start[0][0]):
            places.append(f"at the end (line {at_end[-1][2]})")
        shown = (at_start or at_end)[0]
        extra = ("; plain text has no implicit carrier, so this notice is its label" if fmt == "txt" else "")
        yield Finding(ID, Level.PASS, f"notice {_show(shown[1])} {' and '.join(places)}{extra}",
                      location=f"line {shown[2]}")
        return

    middle = next((it for it in hits if edge <= it[0] < total - edge), None)
    near = []
    seen: set[int] = set()
    for index, block, line in [*first, *tail]:
        if index in seen or len(block) > limit:
            continue
        seen.add(index)
        has_ai, has_gen = any(a in block for a in ai), any(g in block for g in gen)
        if has_ai and not has_gen:
            near.append((index, block, line, f"has an AI element but no generation element ({' / '.join(gen)})"))
        elif has_gen and not has_ai:
            near.append((index, block, line, f"has a generation element but no AI element ({' / '.join(ai)})"))
    if near:
        index, block, line, why = near[0]
        where = "start" if index < edge else "end"
        also = (f"; a compliant notice appears only in the middle (line {middle[2]})" if middle else "")
        yield Finding(ID, Level.ERROR, f"the text at the {where} ({_show(block)}, line {line}) is not a compliant "
                      f"notice: it {why}{also}", location=f"line {line}", expected=expected, actual=block[:200])
        return
    if middle is not None:
        choice = str(options.get("middle_only", "warning"))
        level = _LEVELS.get(choice, Level.ERROR)
        yield Finding(ID, level, f"notice {_show(middle[1])} found only in the middle of the text (line {middle[2]}), "
                      "not at the start or the end; the standard also allows 'a suitable middle position', which "
                      f"cannot be judged automatically (profile option middle_only = {choice!r})",
                      location=f"line {middle[2]}", expected=expected, actual=f"middle, line {middle[2]}")
        return
    if total == 0:
        yield Finding(ID, Level.ERROR, "the text is empty: there is no explicit notice", expected=expected,
                      actual="no visible text")
        return
    what = "visible text" if fmt == "html" else "text"
    yield Finding(ID, Level.ERROR, f"no explicit notice at the start or the end of the {what}: no block of at most "
                  f"{limit} characters has both an AI element and a generation element", expected=expected,
                  actual="none")
