"""The text a reader meets first and last in an Office document, for the explicit check.

DOCX: the first and last non-empty body paragraphs (hidden runs and deleted text skipped), then the
page headers and footers.  PPTX: the first and last slides shown (hidden slides and shapes skipped).
XLSX: the first and last visible sheets (text cells of their first rows, page header and footer).
Every part is read through the guarded ZIP reader and parsed by expat with DTDs refused and nesting
bounded (:mod:`._ooxml`).
"""

from __future__ import annotations

import html
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from .._io import CountingReader
from ..errors import CorruptFile
from ._ooxml import (
    A_NAMESPACES,
    P_NAMESPACES,
    R_NAMESPACES,
    REL_HEADER_FOOTER,
    REL_SHARED_STRINGS,
    REL_SLIDE,
    S_NAMESPACES,
    W_NAMESPACES,
    Package,
    _parser,
    _run,
    _split,
    _Stop,
    parse_xml,
    scan_nodes,
)

__all__ = ["NoticeCandidates", "notice_candidates", "presentation_slides", "slide_text", "header_footer_text",
           "Sheet", "workbook_sheets", "sheet_texts"]

@dataclass
class NoticeCandidates:
    """Text lines a reader sees at one end of the document, and where they are."""

    where: str
    lines: list[str]
    #: where each line is, when more precise than *where* (e.g. "paragraph 3 of 40")
    places: list[str] | None = None

    def place(self, line: str) -> str:
        if self.places is not None and line in self.lines:
            return self.places[self.lines.index(line)]
        return self.where


def notice_candidates(src: CountingReader, edge: int = 3, sheet_rows: int = 20) -> list[NoticeCandidates]:
    """The text at the start and the end of an Office document, for the explicit check.

    DOCX: the first and last *edge* non-empty paragraphs of the body (hidden runs and deleted
    text skipped; paragraphs in text boxes are not body paragraphs), then the page headers and
    footers.  PPTX: the text of the first and last slides shown (hidden slides and shapes
    skipped), one line per paragraph.  XLSX: the first and last visible sheets -- the text
    cells of their first *sheet_rows* rows and their page header and footer.
    """
    pkg = Package.open(src)
    if pkg.family == "docx":
        return _docx_candidates(pkg, edge)
    if pkg.family == "pptx":
        return _pptx_candidates(pkg)
    return _xlsx_candidates(pkg, sheet_rows)


def _paragraph_texts(data: bytes, what: str, w_ns: str, limit: int | None = None) -> Any:
    """Texts of the outermost ``w:p`` elements of a WordprocessingML part, in order.

    With *limit*, returns (first *limit* non-empty, last *limit* non-empty, count); else all."""
    p = _parser()
    first: list[str] = []
    last: deque[str] = deque(maxlen=limit or 1)
    every: list[str] = []
    count = 0
    depth_p = 0
    hidden_run = False
    in_run_props = False
    in_text = False
    current: list[str] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth_p, hidden_run, in_run_props, in_text
        uri, local = _split(name)
        if uri != w_ns:
            return
        if local == "p":
            depth_p += 1
            if depth_p == 1:
                current.clear()
        elif depth_p == 1:
            if local == "r":
                hidden_run = False
            elif local == "rPr":
                in_run_props = True
            elif local == "vanish" and in_run_props and attrs.get(f"{w_ns} val", "true") not in ("0", "false", "off"):
                hidden_run = True
            elif local == "t":
                in_text = True
            elif local in ("tab", "br", "cr") and not in_run_props:
                current.append(" ")

    def end(name: str) -> None:
        nonlocal depth_p, in_run_props, in_text, count
        uri, local = _split(name)
        if uri != w_ns:
            return
        if local == "p":
            depth_p -= 1
            if depth_p == 0:
                text = "".join(current).strip()
                if text:
                    count += 1
                    if limit is None:
                        every.append(text)
                    else:
                        if len(first) < limit:
                            first.append(text)
                        last.append(text)
        elif local == "rPr":
            in_run_props = False
        elif local == "t":
            in_text = False

    def chars(text: str) -> None:
        if in_text and depth_p == 1 and not hidden_run:
            current.append(text)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.buffer_text = True
    _run(p, data, what)
    if limit is None:
        return every
    return first, list(last), count


def _root_uri(data: bytes, what: str) -> str:
    nodes = scan_nodes(data, what, 0)
    return nodes[0].uri if nodes else ""


def _docx_candidates(pkg: Package, edge: int) -> list[NoticeCandidates]:
    main = pkg.main_part
    data = pkg.part(main)
    assert data is not None
    w_ns = _root_uri(data, main)
    if w_ns not in W_NAMESPACES:
        raise CorruptFile(f"{main} is not a WordprocessingML document")
    first, last, count = _paragraph_texts(data, main, w_ns, edge)

    def places(numbers: range) -> list[str]:
        return [f"{main}, paragraph {n} of {count}" + (" (the first)" if n == 1 else " (the last)" if n == count
                                                        else "") for n in numbers]

    out = []
    if first:
        out.append(NoticeCandidates(f"{main}, the first {len(first)} paragraph(s) (start of the document)", first,
                                    places(range(1, len(first) + 1))))
    if count > edge:
        tail = last[-min(edge, count - edge):]
        out.append(NoticeCandidates(f"{main}, the last {len(tail)} paragraph(s) (end of the document)", tail,
                                    places(range(count - len(tail) + 1, count + 1))))
    for rel in pkg.part_rels(main):
        if rel.type in REL_HEADER_FOOTER and rel.part and not rel.external:
            part_data = pkg.part(rel.part, limit=16 << 20)
            if part_data is None:
                continue
            texts = _paragraph_texts(part_data, rel.part, w_ns)
            if texts:
                kind = "page header" if "header" in rel.type else "page footer"
                out.append(NoticeCandidates(f"{rel.part} ({kind}, on every page)", texts))
    return out


def _main_root(pkg: Package, limit: int, namespaces: tuple[str, ...], what: str) -> tuple[Any, str, str]:
    """The main part's root element, its namespace (one of *namespaces*) and the matching relationships one."""
    main = pkg.main_part
    data = pkg.part(main, limit=limit)
    assert data is not None
    root = parse_xml(data, main)
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if ns not in namespaces:
        raise CorruptFile(f"{main} is not {what}")
    return root, ns, R_NAMESPACES[namespaces.index(ns)]


def presentation_slides(pkg: Package) -> tuple[list[str], tuple[int, int], Any]:
    """Slide part names in show order, the slide size (EMU) and the presentation's namespace."""
    main = pkg.main_part
    root, p_ns, r_ns = _main_root(pkg, 32 << 20, P_NAMESPACES, "a PresentationML document")
    by_id = {r.id: r.part for r in pkg.part_rels(main) if r.type in REL_SLIDE and r.part}
    slides = []
    lst = root.find(f"{{{p_ns}}}sldIdLst")
    for sld in (lst if lst is not None else []):
        part = by_id.get(sld.get(f"{{{r_ns}}}id", ""))
        if part is not None and part in pkg.archive:
            slides.append(part)
    size = root.find(f"{{{p_ns}}}sldSz")
    try:
        cx, cy = (int(size.get("cx")), int(size.get("cy"))) if size is not None else (9144000, 6858000)
    except (TypeError, ValueError):
        cx, cy = 9144000, 6858000
    if not (914400 // 4 <= cx <= 51206400 and 914400 // 4 <= cy <= 51206400):
        cx, cy = 9144000, 6858000
    return slides, (cx, cy), p_ns


def slide_text(data: bytes, what: str) -> tuple[bool, list[str]]:
    """(the slide is shown, its text lines: one per DrawingML paragraph; hidden shapes skipped)."""
    p = _parser()
    lines: list[str] = []
    current: list[str] = []
    shown = True
    hidden_depth = 0  # > 0 inside a hidden shape
    depth = 0
    shape_depths: list[tuple[int, bool]] = []
    in_t = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal shown, hidden_depth, depth, in_t
        uri, local = _split(name)
        if depth == 0 and attrs.get("show") in ("0", "false"):
            shown = False
        if uri in P_NAMESPACES and local in ("sp", "grpSp", "graphicFrame", "cxnSp", "pic"):
            shape_depths.append((depth, False))
        elif uri in P_NAMESPACES and local == "cNvPr" and attrs.get("hidden") in ("1", "true") and shape_depths:
            d, _ = shape_depths[-1]
            shape_depths[-1] = (d, True)
            hidden_depth += 1
        elif uri in A_NAMESPACES and local == "p":
            current.clear()
        elif uri in A_NAMESPACES and local == "t":
            in_t = True
        elif uri in A_NAMESPACES and local == "br":
            current.append(" ")
        depth += 1

    def end(name: str) -> None:
        nonlocal hidden_depth, depth, in_t
        depth -= 1
        uri, local = _split(name)
        if shape_depths and shape_depths[-1][0] == depth and uri in P_NAMESPACES:
            _, hidden = shape_depths.pop()
            if hidden:
                hidden_depth -= 1
        elif uri in A_NAMESPACES and local == "p":
            text = "".join(current).strip()
            if text and hidden_depth == 0:
                lines.append(text)
        elif uri in A_NAMESPACES and local == "t":
            in_t = False

    def chars(text: str) -> None:
        if in_t:
            current.append(text)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.buffer_text = True
    _run(p, data, what)
    return shown, lines


def _pptx_candidates(pkg: Package) -> list[NoticeCandidates]:
    slides, _size, _ns = presentation_slides(pkg)
    shown: list[tuple[int, list[str]]] = []
    for order in (range(len(slides)), range(len(slides) - 1, -1, -1)):
        for index in order:
            if any(i == index for i, _ in shown):
                break
            data = pkg.part(slides[index], limit=32 << 20)
            assert data is not None
            visible, lines = slide_text(data, slides[index])
            if visible:
                shown.append((index, lines))
                break
    out = []
    for role, (index, lines) in zip(("first slide", "last slide"), shown, strict=False):
        out.append(NoticeCandidates(f"slide {index + 1} ({role}, {slides[index]})", lines))
    return out


_HF_CODES = re.compile(r'&&|&"[^"]*"|&K[0-9A-Fa-f]{6}|&K\d\d[+-]\d{3}|&\d+|&[LCR]|&[A-Za-z]')


def header_footer_text(code: str) -> list[str]:
    """The visible text of an Excel header/footer string (its ``&`` codes removed), per section."""
    parts = [""]
    for piece in re.split(r"(&&|&\"[^\"]*\"|&K[0-9A-Fa-f]{6}|&K\d\d[+-]\d{3}|&\d+|&[A-Za-z])", code):
        if piece == "&&":
            parts[-1] += "&"
        elif piece in ("&L", "&C", "&R"):
            parts.append("")
        elif _HF_CODES.fullmatch(piece or "x"):
            continue
        else:
            parts[-1] += piece
    return [p.strip() for p in parts if p.strip()]


@dataclass
class Sheet:
    """A workbook sheet: name, part, visibility state, id and relationship."""
    name: str
    part: str
    state: str
    sheet_id: int | None
    rel_id: str


def workbook_sheets(pkg: Package) -> tuple[list[Sheet], str]:
    """The workbook's sheets in tab order, and the SpreadsheetML namespace."""
    main = pkg.main_part
    root, s_ns, r_ns = _main_root(pkg, 64 << 20, S_NAMESPACES, "a SpreadsheetML workbook")
    parts = {r.id: r.part for r in pkg.part_rels(main) if r.part and not r.external}
    sheets = []
    lst = root.find(f"{{{s_ns}}}sheets")
    for el in (lst if lst is not None else []):
        rid = el.get(f"{{{r_ns}}}id", "")
        part = parts.get(rid)
        try:
            sid: int | None = int(el.get("sheetId", ""))
        except ValueError:
            sid = None
        sheets.append(Sheet(el.get("name", ""), part or "", el.get("state", "visible"), sid, rid))
    return sheets, s_ns


def sheet_texts(pkg: Package, sheet: Sheet, max_rows: int) -> tuple[list[str], list[str]]:
    """(texts of the string cells in the first *max_rows* rows, header/footer texts) of a sheet.

    The sheet is parsed only as far as its first rows; the header and footer, which follow the
    cell data, are found by a byte search of the part's tail (a large sheet is not walked)."""
    data = pkg.part(sheet.part) if sheet.part else None
    if data is None:
        return [], []
    p = _parser()
    cells: list[tuple[str, str]] = []  # (type, raw text)
    state: dict[str, Any] = {"rows": 0, "cell_t": None, "in": None, "buf": []}

    def start(name: str, attrs: dict[str, str]) -> None:
        uri, local = _split(name)
        if uri not in S_NAMESPACES:
            return
        if local == "row":
            state["rows"] += 1
            if state["rows"] > max_rows:
                raise _Stop
        elif local == "c":
            state["cell_t"] = attrs.get("t", "n")
        elif local in ("v", "t") and state["cell_t"] is not None:
            state["in"] = local
            state["buf"] = []

    def end(name: str) -> None:
        uri, local = _split(name)
        if uri not in S_NAMESPACES:
            return
        if local == "c":
            state["cell_t"] = None
        elif local == "v" and state["in"] == "v":
            if state["cell_t"] in ("s", "str"):
                cells.append((state["cell_t"], "".join(state["buf"])))
            state["in"] = None
        elif local == "t" and state["in"] == "t":
            cells.append(("inline", "".join(state["buf"])))
            state["in"] = None
        elif local == "sheetData":
            raise _Stop

    def chars(text: str) -> None:
        if state["in"] is not None:
            state["buf"].append(text)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.buffer_text = True
    _run(p, data, sheet.part)
    headers: list[str] = []
    if b"headerFooter" in data:
        for m in _HF_ELEMENT.finditer(data, max(0, data.rfind(b"sheetData"))):
            headers.extend(header_footer_text(html.unescape(m.group(2).decode("utf-8", "replace"))))
    texts: list[str] = []
    wanted = {int(v) for t, v in cells if t == "s" and _INDEX.fullmatch(v.strip())}
    shared = _shared_strings(pkg, max(wanted) if wanted else -1)
    for kind, raw in cells:
        if kind == "s":
            text = shared.get(int(raw)) if _INDEX.fullmatch(raw.strip()) else None
        else:
            text = raw
        if text and text.strip():
            texts.append(text.strip())
    return texts, headers


_INDEX = re.compile(r"[0-9]{1,9}")
_HF_ELEMENT = re.compile(rb"<((?:[\w.-]+:)?(?:odd|even|first)(?:Header|Footer))(?:\s[^>]*)?>([^<]*)</\1>")


def _shared_strings(pkg: Package, up_to: int) -> dict[int, str]:
    """Shared strings 0..*up_to* (the table is read only as far as needed)."""
    if up_to < 0:
        return {}
    part = next((r.part for r in pkg.part_rels(pkg.main_part) if r.type in REL_SHARED_STRINGS and r.part), None)
    data = pkg.part(part) if part else None
    if data is None:
        return {}
    p = _parser()
    out: dict[int, str] = {}
    state: dict[str, Any] = {"i": -1, "t": False, "buf": [], "rph": 0}

    def start(name: str, _attrs: dict[str, str]) -> None:
        uri, local = _split(name)
        if uri not in S_NAMESPACES:
            return
        if local == "si":
            state["i"] += 1
            state["buf"] = []
        elif local == "rPh":
            state["rph"] += 1  # phonetic runs are not shown
        elif local == "t" and not state["rph"]:
            state["t"] = True

    def end(name: str) -> None:
        uri, local = _split(name)
        if uri not in S_NAMESPACES:
            return
        if local == "t":
            state["t"] = False
        elif local == "rPh":
            state["rph"] -= 1
        elif local == "si":
            out[state["i"]] = "".join(state["buf"])
            if state["i"] >= up_to:
                raise _Stop

    def chars(text: str) -> None:
        if state["t"]:
            state["buf"].append(text)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    p.buffer_text = True
    assert part is not None
    _run(p, data, part)
    return out


def _xlsx_candidates(pkg: Package, max_rows: int) -> list[NoticeCandidates]:
    sheets, _ns = workbook_sheets(pkg)
    visible = [(i, s) for i, s in enumerate(sheets) if s.state not in ("hidden", "veryHidden") and s.part]
    if not visible:
        return []
    ends = [(visible[0], "first sheet")]
    if len(visible) > 1:
        ends.append((visible[-1], "last sheet"))
    out = []
    for (index, sheet), role in ends:
        cells, headers = sheet_texts(pkg, sheet, max_rows)
        if cells:
            out.append(NoticeCandidates(f"sheet {index + 1} '{sheet.name}' ({role}), cells of the first "
                                        f"{max_rows} rows", cells))
        if headers:
            out.append(NoticeCandidates(f"sheet {index + 1} '{sheet.name}' ({role}), page header/footer", headers))
    return out