"""The visible notice of Office documents: where a reader of each kind sees it first or last.

* **DOCX** -- a paragraph of its own, centred, holding the notice (default "本内容由人工智能生成")
  at the start of the body and/or at its end (before the final section properties, which stay
  the body's last child).  It uses the document's default paragraph style, so it reads like the
  document's own text.  It carries a hidden bookmark ``_AigcNotice…`` (Word keeps hidden
  bookmarks through editing) by which re-marking finds and replaces it.
* **PPTX** -- a text box on the first slide (and/or the last), at the bottom-right edge by
  default (``options.position`` picks another corner or edge), on top of the slide's other
  shapes, white behind dark text, sized for legibility: 3 % of the slide height (12 to 40 pt),
  smaller only when the notice would not fit the slide's width.  Its shape name is
  ``AIGC Notice`` and its alternative text is the notice, so screen readers speak it.
* **XLSX** -- a worksheet of its own, **appended as the last sheet** and named "AI生成声明",
  whose cell A1 holds the notice and whose page header repeats it (so printing or exporting the
  workbook shows it too).  Why: a spreadsheet has no place a reader always sees.  A header or
  footer is invisible in the normal view; writing into a cell of the user's sheets either
  overwrites data or shifts it (inserting a row breaks formulas, charts and references); a
  floating text box covers cells; a *first* sheet would renumber the sheet indexes that defined
  names, the active tab and macros rely on.  A last sheet changes none of the user's sheets,
  and its tab, labelled with both elements, is visible in the tab bar whenever the workbook is
  open: the notice sits at the document's end, as the rules allow.  The active sheet stays the
  user's.  (``docProps/app.xml`` keeps its list of sheet titles; Excel rewrites it on save.)

Position: ``options.extra["text_position"]`` (``start`` | ``end`` | ``both``), else the PDF-style
``extra["pages"]`` (``first`` -> start, ``last`` -> end, ``all`` -> both), else the default:
start for DOCX and PPTX, end for XLSX (which has only the end).  Re-marking replaces our earlier
notice wherever it was (first and last slide, body start and end, our sheet) instead of adding
a second one.
"""

from __future__ import annotations

import posixpath
import unicodedata
from typing import TYPE_CHECKING, Any

from ..errors import CorruptFile, LabelError, UnsupportedOperation
from ..formats._zip import NewMember, rewrite
from ..formats.office import (
    A_NAMESPACES,
    CT_WORKSHEET,
    P_NAMESPACES,
    R_NAMESPACES,
    REL_WORKSHEET,
    S_NAMESPACES,
    W_NAMESPACES,
    Package,
    _attr,
    _xml_text,
    add_override,
    add_relationship,
    append_child,
    prepend_child,
    presentation_slides,
    scan_nodes,
    sheet_texts,
    splice,
    utf8_part,
    workbook_sheets,
)
from . import POSITIONS, ExplicitOptions, ExplicitResult

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler

__all__ = ["OfficeNoticeMarker", "NOTICE_SHAPE_NAME", "NOTICE_BOOKMARK", "NOTICE_SHEET_NAME", "OFFICE_POSITIONS"]

OFFICE_POSITIONS = ("start", "end", "both")
NOTICE_BOOKMARK = "_AigcNotice"
NOTICE_SHAPE_NAME = "AIGC Notice"
NOTICE_SHEET_NAME = "AI生成声明"
_FROM_PAGES = {"first": "start", "last": "end", "all": "both"}
_EMU_PER_PT = 12700
#: PPTX notice font size: this fraction of the slide height, within the bounds (pt)
_SLIDE_SIZE_RATIO = 0.03
_MIN_PT, _MAX_PT, _FLOOR_PT = 12, 40, 8


class OfficeNoticeMarker:
    """Adds the notice to DOCX, XLSX and PPTX files (kind "document")."""

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name in ("docx", "xlsx", "pptx")

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        import io

        if not self.supports(handler):
            raise UnsupportedOperation(f"the Office notice marker cannot label {handler.name.upper()}")
        text = options.text.strip()
        if not text or "\n" in text or "\r" in text:
            raise LabelError("the Office notice is one line of text: give a non-empty notice without line breaks")
        pkg = handler.document_access(src).package()
        position = _position(options, pkg.family)
        notes: list[str] = []
        if pkg.family == "docx":
            replace, added, anchor, where = _docx(pkg, text, position)
        elif pkg.family == "pptx":
            replace, added, anchor, where = _pptx(pkg, text, position, options)
        else:
            if position != "end":
                notes.append("XLSX: the notice sheet is always the last sheet (a first sheet would renumber the "
                             "workbook's sheet indexes)")
                position = "end"
            replace, added, anchor, where = _xlsx(pkg, text, options)
        out = io.BytesIO()
        rewrite(pkg.archive, out, replace=replace, add=added, add_after=anchor)
        notes.append(f"visible notice '{text}' added: {where}")
        return ExplicitResult(out.getvalue(), notes, {"text": text, "position": position, "where": where,
                                                      "parts": sorted([*replace, *(m.name for m in added)])})


def _position(options: ExplicitOptions, family: str) -> str:
    position = options.extra.get("text_position")
    if position is None and options.extra.get("pages") is not None:
        position = _FROM_PAGES.get(options.extra["pages"])
        if position is None:
            raise LabelError(f"pages must be one of {', '.join(_FROM_PAGES)}, not {options.extra['pages']!r}")
    if position is None:
        position = "end" if family == "xlsx" else "start"
    if position not in OFFICE_POSITIONS:
        raise LabelError(f"the notice position must be one of {', '.join(OFFICE_POSITIONS)}, not {position!r}")
    return position


def _main_data(pkg: Package, part: str) -> bytes:
    data = pkg.part(part)
    if data is None:
        raise CorruptFile(f"the package has no part {part}")
    return utf8_part(data, part)


# ------------------------------------------------------------------------------------------ DOCX


def _docx(pkg: Package, text: str, position: str) -> tuple[dict[str, bytes], list[NewMember], str | None, str]:
    main = pkg.main_part
    data = _main_data(pkg, main)
    ids: list[int] = []

    def visit(uri: str, local: str, attrs: dict[str, str]) -> None:
        if local in ("bookmarkStart", "bookmarkEnd") and uri in W_NAMESPACES:
            value = attrs.get(f"{uri} id", "")
            if value.lstrip("-").isdigit():
                ids.append(int(value))

    def ours(uri: str, local: str, attrs: dict[str, str]) -> bool:
        return (local == "bookmarkStart" and uri in W_NAMESPACES
                and attrs.get(f"{uri} name", "").startswith(NOTICE_BOOKMARK))

    nodes = scan_nodes(data, main, 2, flag=ours, visit=visit)
    root = nodes[0]
    if root.uri not in W_NAMESPACES or root.local != "document":
        raise CorruptFile(f"{main} is not a WordprocessingML document")
    body = next((n for n in nodes if n.depth == 1 and n.local == "body" and n.uri == root.uri), None)
    if body is None:
        raise CorruptFile(f"{main} has no body")
    children = [n for n in nodes if n.depth == 2 and body.start < n.start < body.end]
    old = [n for n in children if n.flagged and n.local == "p" and n.uri == root.uri]
    edits = [(n.start, n.end, b"") for n in old]
    prefix = body.prefix(data)
    decl = "" if prefix else f' xmlns:w="{root.uri}"'
    w = prefix or "w"
    next_id = max([0, *ids]) + 1
    paragraphs = []
    for n, where in enumerate(("start", "end")):
        if position in (where, "both"):
            name = NOTICE_BOOKMARK if n == 0 else f"{NOTICE_BOOKMARK}_end"
            paragraphs.append((where, _docx_paragraph(w, decl, next_id + n, name, text)))
    if body.empty:
        edits.append(append_child(data, body, b"".join(p for _, p in paragraphs)))
    else:
        kept = [n for n in children if n not in old]
        for where, para in paragraphs:
            if where == "start":
                edits.append(prepend_child(data, body, para))
            elif kept and kept[-1].local == "sectPr":
                edits.append((kept[-1].start, kept[-1].start, para))
            else:
                edits.append(append_child(data, body, para))
    where_text = {"start": "a paragraph at the start of the document", "end": "a paragraph at the end of the document",
                  "both": "paragraphs at the start and the end of the document"}[position]
    return {main: splice(data, edits)}, [], None, where_text


def _docx_paragraph(w: str, decl: str, bm_id: int, bm_name: str, text: str) -> bytes:
    t = _xml_text(text).decode()
    return (f'<{w}:p{decl}><{w}:pPr><{w}:jc {w}:val="center"/></{w}:pPr>'
            f'<{w}:bookmarkStart {w}:id="{bm_id}" {w}:name="{bm_name}"/>'
            f'<{w}:r><{w}:rPr><{w}:rFonts {w}:hint="eastAsia"/><{w}:color {w}:val="404040"/>'
            f'<{w}:lang {w}:eastAsia="zh-CN"/></{w}:rPr><{w}:t xml:space="preserve">{t}</{w}:t></{w}:r>'
            f'<{w}:bookmarkEnd {w}:id="{bm_id}"/></{w}:p>').encode("utf-8")


# ------------------------------------------------------------------------------------------ PPTX


def _pptx(pkg: Package, text: str, position: str,
          options: ExplicitOptions) -> tuple[dict[str, bytes], list[NewMember], str | None, str]:
    slides, (cx, cy), p_ns = presentation_slides(pkg)
    if not slides:
        raise LabelError("the presentation has no slides to carry the notice")
    a_ns = A_NAMESPACES[P_NAMESPACES.index(p_ns)]
    targets = {"start": [0], "end": [len(slides) - 1], "both": [0, len(slides) - 1]}[position]
    corner = options.position if options.position in POSITIONS else "bottom-right"
    replace: dict[str, bytes] = {}
    for index in sorted({0, len(slides) - 1}):
        part = slides[index]
        data = _main_data(pkg, part)
        ids: list[int] = []

        def visit(uri: str, local: str, attrs: dict[str, str], ids: list[int] = ids) -> None:
            if local == "cNvPr" and attrs.get("id", "").isdigit():
                ids.append(int(attrs["id"]))

        def ours(uri: str, local: str, attrs: dict[str, str]) -> bool:
            return local == "cNvPr" and uri in P_NAMESPACES and attrs.get("name") == NOTICE_SHAPE_NAME

        nodes = scan_nodes(data, part, 3, flag=ours, visit=visit)
        tree = next((n for n in nodes if n.depth == 2 and n.local == "spTree" and n.uri in P_NAMESPACES), None)
        if tree is None:
            raise CorruptFile(f"{part} has no shape tree")
        edits = [(n.start, n.end, b"") for n in nodes
                 if n.depth == 3 and n.flagged and n.local == "sp" and tree.start < n.start < tree.end]
        if index in targets:
            shape = _pptx_shape(tree.prefix(data), tree.uri, a_ns, max([1, *ids]) + 1, text, cx, cy, corner)
            edits.append(append_child(data, tree, shape))
        if edits:
            replace[part] = splice(data, edits)
    names = {"start": "the first slide", "end": "the last slide", "both": "the first and the last slide"}
    return replace, [], None, f"a text box at the {corner} of {names[position]}"


def _text_em(text: str) -> float:
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text)


def _pptx_shape(prefix: str, p_ns: str, a_ns: str, shape_id: int, text: str, cx: int, cy: int,
                corner: str) -> bytes:
    pt = min(_MAX_PT, max(_MIN_PT, round(cy / _EMU_PER_PT * _SLIDE_SIZE_RATIO)))
    margin = round(min(cx, cy) * 0.02)
    ins_x, ins_y = 91440, 45720
    em = _text_em(text)
    while pt > _FLOOR_PT and em * pt * _EMU_PER_PT * 1.1 + 2 * ins_x > cx - 2 * margin:
        pt -= 1
    width = min(cx - 2 * margin, round(em * pt * _EMU_PER_PT * 1.1) + 2 * ins_x)
    height = round(pt * 1.5 * _EMU_PER_PT) + 2 * ins_y
    x = {"left": margin, "right": cx - margin - width}.get(
        "left" if "left" in corner else "right" if "right" in corner else "", (cx - width) // 2)
    y = margin if corner.startswith("top") else cy - margin - height
    if corner in ("left", "right"):
        y = (cy - height) // 2
    p = f"{prefix}:" if prefix else ""
    decl = "" if prefix else f' xmlns="{p_ns}"'
    t = _xml_text(text).decode()
    return (f'<{p}sp{decl} xmlns:a="{a_ns}"><{p}nvSpPr><{p}cNvPr id="{shape_id}" name="{NOTICE_SHAPE_NAME}" '
            f'descr={_attr(text).decode()}/><{p}cNvSpPr txBox="1"/><{p}nvPr/></{p}nvSpPr>'
            f'<{p}spPr><a:xfrm><a:off x="{x}" y="{y}"/><a:ext cx="{width}" cy="{height}"/></a:xfrm>'
            '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill>'
            f'</{p}spPr><{p}txBody><a:bodyPr wrap="none" lIns="{ins_x}" tIns="{ins_y}" rIns="{ins_x}" '
            f'bIns="{ins_y}" anchor="ctr"><a:noAutofit/></a:bodyPr><a:lstStyle/><a:p><a:pPr algn="ctr"/>'
            f'<a:r><a:rPr lang="zh-CN" altLang="en-US" sz="{pt * 100}"><a:solidFill><a:srgbClr val="1A1A1A"/>'
            f'</a:solidFill></a:rPr><a:t>{t}</a:t></a:r></a:p></{p}txBody></{p}sp>').encode("utf-8")


# ------------------------------------------------------------------------------------------ XLSX


def _xlsx(pkg: Package, text: str,
          options: ExplicitOptions) -> tuple[dict[str, bytes], list[NewMember], str | None, str]:
    sheets, s_ns = workbook_sheets(pkg)
    base = str(options.extra.get("sheet_name") or NOTICE_SHEET_NAME)
    if len(base) > 31 or any(c in base for c in "[]:*?/\\") or not base.strip():
        raise LabelError(f"{base!r} cannot be a sheet name (at most 31 characters, none of []:*?/\\)")
    sheet_xml = _sheet_xml(s_ns, text)
    taken = {s.name.lower() for s in sheets}
    for sheet in sheets:
        if sheet.name.lower() == base.lower() and sheet.part and _is_our_sheet(pkg, sheet):
            return ({sheet.part: sheet_xml}, [], None,
                    f"sheet {sheets.index(sheet) + 1} '{sheet.name}' (our notice sheet, replaced), cell A1 and "
                    "its page header")
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name = base[:31 - len(suffix)] + suffix
        n += 1
    main = pkg.main_part
    folder = posixpath.dirname(main)
    stem, n = "worksheets/aigcNotice", 1
    while posixpath.join(folder, f"{stem}.xml") in pkg.archive:
        n += 1
        stem = f"worksheets/aigcNotice{n}"
    target = f"{stem}.xml"
    part = posixpath.join(folder, target)
    rels_name = posixpath.join(folder, "_rels", posixpath.basename(main) + ".rels")
    rels, rid = add_relationship(pkg.part(rels_name, limit=16 << 20), rels_name, REL_WORKSHEET, target,
                                 {r.id for r in pkg.part_rels(main)})
    ct = pkg.part("[Content_Types].xml", limit=4 << 20)
    assert ct is not None
    data = _main_data(pkg, main)
    nodes = scan_nodes(data, main, 1)
    root = nodes[0]
    holder = next((n for n in nodes if n.depth == 1 and n.local == "sheets" and n.uri in S_NAMESPACES), None)
    if holder is None:
        raise CorruptFile(f"{main} has no sheets list")
    r_ns = R_NAMESPACES[S_NAMESPACES.index(s_ns)]
    r_prefix = next((p for p, uri in root.ns_decls(data).items() if uri == r_ns and p), None)
    s_prefix = holder.prefix(data)
    qual = f"{s_prefix}:" if s_prefix else ""
    r_decl = "" if r_prefix else f' xmlns:r="{r_ns}"'
    r_prefix = r_prefix or "r"
    sheet_id = max([0, *(sheet.sheet_id or 0 for sheet in sheets)]) + 1
    element = (f"<{qual}sheet name={_attr(name).decode()} sheetId=\"{sheet_id}\"{r_decl} "
               f"{r_prefix}:id=\"{rid}\"/>").encode("utf-8")
    replace = {main: splice(data, [append_child(data, holder, element)]), rels_name: rels,
               "[Content_Types].xml": add_override(ct, part, CT_WORKSHEET)}
    anchor = next((s.part for s in reversed(sheets) if s.part and s.part in pkg.archive), None)
    return (replace, [NewMember(part, sheet_xml)], anchor,
            f"a new last sheet {len(sheets) + 1} '{name}', cell A1 and its page header")


def _is_our_sheet(pkg: Package, sheet: Any) -> bool:
    """A sheet of our name holding only a notice or two (a user's sheet of that name is kept)."""
    member = pkg.archive.get(sheet.part)
    if member is None or member.usize > 64 << 10:
        return False
    cells, _headers = sheet_texts(pkg, sheet, 5)
    return len(cells) <= 2 and all("AI" in c or "人工智能" in c for c in cells)


def _sheet_xml(s_ns: str, text: str) -> bytes:
    t = _xml_text(text).decode()
    header = _xml_text("&C" + text.replace("&", "&&")).decode()
    width = min(255, max(20, round(_text_em(text) * 2.2) + 4))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
            f'<worksheet xmlns="{s_ns}"><dimension ref="A1"/><sheetViews><sheetView showGridLines="0" '
            'workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            f'<cols><col min="1" max="1" width="{width}" customWidth="1"/></cols>'
            f'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{t}</t></is></c></row></sheetData>'
            '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
            f'<headerFooter><oddHeader>{header}</oddHeader></headerFooter></worksheet>').encode("utf-8")
