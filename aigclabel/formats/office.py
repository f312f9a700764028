"""Office Open XML documents (DOCX, XLSX, PPTX): the record as a custom document property.

Carrier (labelling-rules.md §4): the part ``docProps/custom.xml`` holds a property
``name="AIGC"`` of type ``vt:lpwstr`` whose text is the record JSON, with the format id
``{D5CDD505-2E9C-101B-9397-08002B2CF9AE}`` (user-defined properties) and a ``pid`` >= 2 unique in
the part.  Office reads the part only when it is registered: an ``Override`` for
``/docProps/custom.xml`` with the custom-properties content type in ``[Content_Types].xml`` and a
package relationship of type ``…/relationships/custom-properties`` in ``_rels/.rels``.  Word, Excel
and PowerPoint show it under File > Properties > Custom; exiftool prints it as ``XML:AIGC``.

Reading reports every property whose name contains ``AIGC`` and holds a record; the one named
exactly ``AIGC``, of type ``vt:lpwstr``, in a registered part is normative, anything else is a
non-standard placement.  Writing merges the record into the existing properties (kept as they
are, byte for byte, apart from the old record, which is replaced -- never two) and registers the
part where needed.

The package is rewritten by :func:`aigclabel.formats._zip.rewrite`: unchanged members are copied
as raw compressed bytes (never inflated), so marking a 50 MB document costs about a file copy.
Every part read goes through the zip-bomb caps of :mod:`._zip` and is parsed with DTDs refused
(defusedxml for the small parts; expat with the same guards where byte offsets are needed, so
that edits are splices and the rest of each part keeps its bytes and namespace prefixes).

Detection: ``score()`` sees 64 bytes, which name only the first member; any ZIP scores a little
and :meth:`refine` (called by the registry with the open source) reads ``[Content_Types].xml``
and the package relationships to decide DOCX / XLSX / PPTX -- or none, for a plain ZIP, EPUB or
ODF file, which stay unsupported.  Macro-enabled and template variants (``.docm``, ``.xltx``,
``.ppsx``, …) are the same families.  The visible notice is added by
:mod:`aigclabel.explicit.office`; :func:`notice_candidates` gives the explicit check the text at
the start and end of a document.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Callable

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedFormat, UnsupportedOperation
from ..report import Finding, Level
from ._image_meta import found_label, generator_trace, looks_like_record
from ._ooxml import (
    A_NAMESPACES,
    CT_CUSTOM,
    CT_NS,
    CT_WORKSHEET,
    CUSTOM_NS,
    CUSTOM_PART,
    EXT_NS,
    FAMILIES,
    FMTID,
    P_NAMESPACES,
    PKG_REL_NS,
    PROPERTY_NAME,
    R_NAMESPACES,
    R_NS,
    REL_CUSTOM,
    REL_EXTENDED,
    REL_OFFICE_DOCUMENT,
    REL_SHARED_STRINGS,
    REL_SLIDE,
    REL_WORKSHEET,
    S_NAMESPACES,
    VT_NS,
    W_NAMESPACES,
    Node,
    Package,
    Relationship,
    _attr,
    _xml_text,
    append_child,
    parse_xml,
    prepend_child,
    scan_nodes,
    splice,
    utf8_part,
)
from ._zip import ZIP_MAGIC, NewMember, rewrite
from .base import Evidence, FormatHandler, ImplicitLabel, unreadable
from .document_access import OfficeAccess
from .office_text import (
    NoticeCandidates,
    Sheet,
    header_footer_text,
    notice_candidates,
    presentation_slides,
    sheet_texts,
    slide_text,
    workbook_sheets,
)

__all__ = ["DocxHandler", "XlsxHandler", "PptxHandler", "Package", "notice_candidates", "NoticeCandidates",
           "scan_nodes", "Node", "splice", "CUSTOM_PART", "FMTID", "FAMILIES", "Relationship", "Sheet",
           "header_footer_text", "presentation_slides", "sheet_texts", "slide_text", "workbook_sheets",
           "append_child", "prepend_child", "utf8_part", "parse_xml", "add_override", "add_relationship",
           "A_NAMESPACES", "CT_NS", "CT_WORKSHEET", "CUSTOM_NS", "EXT_NS", "P_NAMESPACES", "PKG_REL_NS", "R_NAMESPACES",
           "R_NS", "REL_CUSTOM", "REL_OFFICE_DOCUMENT", "REL_SHARED_STRINGS", "REL_SLIDE", "REL_WORKSHEET",
           "S_NAMESPACES", "VT_NS", "W_NAMESPACES", "_attr", "_xml_text", "HANDLERS"]

_STRING_TYPES = ("lpwstr", "lpstr", "bstr")


# ----------------------------------------------------------------------------- custom properties


@dataclass
class CustomProperty:
    """One custom document property (docProps/custom.xml): name, id, type and value."""
    name: str
    pid: int | None
    fmtid: str
    vtype: str  # "lpwstr", "i4", ...
    value: str


def read_custom(data: bytes, what: str) -> list[CustomProperty]:
    root = parse_xml(data, what)
    if root.tag != f"{{{CUSTOM_NS}}}Properties":
        raise CorruptFile(f"{what} is not a custom-properties document")
    out = []
    for el in root:
        if el.tag != f"{{{CUSTOM_NS}}}property":
            continue
        value_el = next(iter(el), None)
        vtype = value_el.tag.rsplit("}", 1)[-1] if value_el is not None else ""
        value = "".join(value_el.itertext()) if value_el is not None else ""
        try:
            pid: int | None = int(el.get("pid", ""))
        except ValueError:
            pid = None
        out.append(CustomProperty(el.get("name", ""), pid, el.get("fmtid", ""), vtype, value))
    return out


def _is_record_property(prop: CustomProperty) -> bool:
    """A property that carries an AIGC record (ours to report, and to replace when marking)."""
    if "aigc" not in prop.name.lower():
        return False
    return prop.name.upper() == PROPERTY_NAME or (prop.vtype in _STRING_TYPES and looks_like_record(prop.value))


def build_custom(existing: bytes | None, record_json: str, what: str = CUSTOM_PART) -> bytes:
    """The custom-properties part with the record: *existing* merged (other properties kept as
    they are, earlier records removed) or a new part."""
    value = _xml_text(record_json)
    if existing is None:
        return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
                b'<Properties xmlns="' + CUSTOM_NS.encode() + b'" xmlns:vt="' + VT_NS.encode() + b'">'
                b'<property fmtid="' + FMTID.encode() + b'" pid="2" name="' + PROPERTY_NAME.encode() + b'">'
                b"<vt:lpwstr>" + value + b"</vt:lpwstr></property></Properties>")
    try:
        props = read_custom(existing, what)
        data = utf8_part(existing, what)
        nodes = scan_nodes(data, what, 1)
    except CorruptFile as exc:
        raise CorruptFile(f"the existing custom properties cannot be merged ({exc}); file left unchanged") from None
    root = nodes[0]
    children = [n for n in nodes if n.depth == 1 and n.uri == CUSTOM_NS and n.local == "property"]
    edits = []
    kept_pids = []
    for node, prop in zip(children, props, strict=False):
        if _is_record_property(prop):
            edits.append((node.start, node.end, b""))
        elif prop.pid is not None:
            kept_pids.append(prop.pid)
    pid = max([1, *kept_pids]) + 1
    decls = root.ns_decls(data)
    prop_prefix = next((p for p, uri in decls.items() if uri == CUSTOM_NS and p), None)
    if decls.get("") == CUSTOM_NS:
        prop_open, prop_close = b"<property", b"</property>"
    elif prop_prefix:
        prop_open, prop_close = f"<{prop_prefix}:property".encode(), f"</{prop_prefix}:property>".encode()
    else:
        prop_open, prop_close = b'<property xmlns="' + CUSTOM_NS.encode() + b'"', b"</property>"
    vt = next((p for p, uri in decls.items() if uri == VT_NS and p), None)
    vt_open = f"<{vt}:lpwstr>".encode() if vt else b'<vt:lpwstr xmlns:vt="' + VT_NS.encode() + b'">'
    vt_close = f"</{vt or 'vt'}:lpwstr>".encode()
    element = (prop_open + b' fmtid="' + FMTID.encode() + b'" pid="' + str(pid).encode() + b'" name="'
               + PROPERTY_NAME.encode() + b'">' + vt_open + value + vt_close + prop_close)
    edits.append(append_child(data, root, element))
    return splice(data, edits)


def _register(data: bytes, what: str, root_ns: str, element: bytes,
              drop: Callable[[Node], bool] = lambda n: False) -> bytes:
    """Append *element* under the root of a content-types or relationships part (dropping the
    root children *drop* selects)."""
    data = utf8_part(data, what)
    nodes = scan_nodes(data, what, 1)
    root = nodes[0]
    edits = [(n.start, n.end, b"") for n in nodes if n.depth == 1 and drop(n)]
    prefix = root.prefix(data)
    if prefix:
        element = element.replace(b"<", f"<{prefix}:".encode(), 1)
    elif root.ns_decls(data).get("") != root_ns:  # pragma: no cover - a prefixed root always has a prefix
        raise CorruptFile(f"{what} has an unexpected namespace layout")
    edits.append(append_child(data, root, element))
    return splice(data, edits)


def add_override(ct_data: bytes, part: str, content_type: str) -> bytes:
    """[Content_Types].xml with an Override for *part* (an earlier one for the part replaced)."""
    key = part.lstrip("/").lower()
    return _register(ct_data, "[Content_Types].xml", CT_NS,
                     b"<Override PartName=" + _attr("/" + part) + b" ContentType=" + _attr(content_type) + b"/>",
                     lambda n: n.local == "Override" and n.attrs.get("PartName", "").lstrip("/").lower() == key)


def add_relationship(rels_data: bytes | None, what: str, rel_type: str, target: str,
                     existing_ids: set[str]) -> tuple[bytes, str]:
    """A relationships part with a new relationship; returns (part, its id)."""
    n = 1
    while f"rId{n}" in existing_ids:
        n += 1
    rid = f"rId{n}"
    element = b"<Relationship Id=" + _attr(rid) + b" Type=" + _attr(rel_type) + b" Target=" + _attr(target) + b"/>"
    if rels_data is None:
        return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Relationships xmlns="'
                + PKG_REL_NS.encode() + b'">' + element + b"</Relationships>"), rid
    return _register(rels_data, what, PKG_REL_NS, element), rid


def implicit_edits(pkg: Package, record_json: str) -> tuple[dict[str, bytes], list[NewMember]]:
    """The member changes that put *record_json* in the custom properties and register the part."""
    part, rel = pkg.custom_part()
    replace: dict[str, bytes] = {}
    added: list[NewMember] = []
    existing = pkg.part(part, limit=16 << 20)
    custom = build_custom(existing, record_json, part)
    if existing is None:
        added.append(NewMember(part, custom))
    else:
        replace[part] = custom
    if (pkg.content_type(part) or "") != CT_CUSTOM or part.lower() not in pkg.overrides:
        ct = pkg.part("[Content_Types].xml", limit=4 << 20)
        assert ct is not None
        replace["[Content_Types].xml"] = add_override(ct, part, CT_CUSTOM)
    if rel is None:
        rels = pkg.part("_rels/.rels", limit=4 << 20)
        replace["_rels/.rels"], _rid = add_relationship(rels, "_rels/.rels", REL_CUSTOM, part,
                                                        {r.id for r in pkg.rels})
    return replace, added


def write_package(pkg: Package, dst: BinaryIO, replace: dict[str, bytes], added: list[NewMember]) -> None:
    """Rewrite the package: new members go after the document-properties parts when there are any."""
    anchor = next((n for n in ("docProps/app.xml", "docProps/core.xml") if n in pkg.archive), None)
    rewrite(pkg.archive, dst, replace=replace, add=added, add_after=anchor)


# -------------------------------------------------------------------------------------- handlers


class _OfficeHandler(FormatHandler):
    kind = "document"
    normative_carrier = f"{CUSTOM_PART}:{PROPERTY_NAME}"
    can_write = True

    @classmethod
    def score(cls, head: bytes) -> int:
        if not head.startswith(ZIP_MAGIC) or len(head) < 30:
            return 0
        name_len = int.from_bytes(head[26:28], "little")
        first = head[30:30 + name_len]
        if first == b"[Content_Types].xml":
            return 90
        if first.startswith((b"_rels/", b"docProps/", b"word/", b"xl/", b"ppt/", b"customXml/")):
            return 80
        return 20  # any other ZIP: refine() decides (DOCX written by some tools start elsewhere)

    @classmethod
    def refine(cls, src: CountingReader) -> type[FormatHandler] | None:
        """The handler for this package's family, or None when *src* is not an Office document."""
        try:
            pkg = Package.open(src)
        except UnsupportedFormat:
            return None
        return HANDLERS[pkg.family]

    def read(self, src: CountingReader) -> Evidence:
        pkg = Package.open(src)
        ev = Evidence(pkg.family, self.kind)
        ev.info.update(main_part=pkg.main_part, content_type=pkg.main_type, parts=len(pkg.archive.members),
                       macros=any(m.name.lower().endswith("vbaproject.bin") for m in pkg.archive.members))
        part, rel = pkg.custom_part()
        try:
            data = pkg.part(part, limit=16 << 20)
        except (CorruptFile, UnsupportedOperation) as exc:
            data = None
            ev.findings.append(unreadable("format.ooxml", "custom properties part", exc, part))
        if data is not None:
            where = part
            registered = rel is not None and (pkg.content_type(part) or "") == CT_CUSTOM
            try:
                props = read_custom(data, where)
            except CorruptFile as exc:
                props = []
                ev.findings.append(unreadable("format.ooxml", "custom properties part", exc, where))
            for prop in props:
                if not _is_record_property(prop):
                    continue
                normative = registered and prop.name == PROPERTY_NAME and prop.vtype == "lpwstr"
                carrier = f"{part}:{prop.name}" + ("" if prop.vtype == "lpwstr" else f" (vt:{prop.vtype})")
                ev.labels.append(found_label(carrier, f"{where}, property '{prop.name}' (pid {prop.pid}, "
                                             f"vt:{prop.vtype})", prop.value, normative=normative))
            if not registered and props:
                missing = []
                if rel is None:
                    missing.append("a custom-properties relationship in _rels/.rels")
                if (pkg.content_type(part) or "") != CT_CUSTOM:
                    missing.append("its content type in [Content_Types].xml")
                ev.findings.append(Finding("format.ooxml", Level.WARNING,
                                           f"{part} is not registered ({' and '.join(missing)} missing): "
                                           "Office applications ignore it", location=where))
            ev.info["custom_properties"] = len(props)
        app = next((r.part for r in pkg.rels if r.type in REL_EXTENDED and r.part), None)
        if app is not None:
            try:
                app_data = pkg.part(app, limit=4 << 20)
                if app_data is not None:
                    root = parse_xml(app_data, app)
                    for tag in ("Application", "AppVersion"):
                        el = root.find(f"{{{EXT_NS}}}{tag}")
                        if el is not None and el.text and (t := generator_trace(el.text, f"{app}, {tag}")):
                            ev.traces.append(t)
            except (CorruptFile, UnsupportedOperation) as exc:
                ev.findings.append(Finding("format.ooxml", Level.WARNING, f"extended properties ignored: {exc}",
                                           location=app))
        return ev

    def document_access(self, src: CountingReader) -> OfficeAccess:
        """The text at the start and the end of the document, for the explicit check."""
        return OfficeAccess(src, self.name)

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        pkg = Package.open(src)
        replace, added = implicit_edits(pkg, label.record_json)
        write_package(pkg, dst, replace, added)


class DocxHandler(_OfficeHandler):
    """Word documents (.docx, .docm, .dotx, .dotm)."""

    name = "docx"
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    extensions = (".docx", ".docm", ".dotx", ".dotm")


class XlsxHandler(_OfficeHandler):
    """Excel workbooks (.xlsx, .xlsm, .xltx, .xltm)."""

    name = "xlsx"
    mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extensions = (".xlsx", ".xlsm", ".xltx", ".xltm")


class PptxHandler(_OfficeHandler):
    """PowerPoint presentations (.pptx, .pptm, .potx, .ppsx, …)."""

    name = "pptx"
    mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    extensions = (".pptx", ".pptm", ".potx", ".potm", ".ppsx", ".ppsm")


HANDLERS: dict[str, type[_OfficeHandler]] = {"docx": DocxHandler, "xlsx": XlsxHandler, "pptx": PptxHandler}
