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

import html
import re
import xml.parsers.expat as expat
from collections import deque
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable
from xml.sax.saxutils import escape, quoteattr

from .._io import CountingReader
from ..errors import AigcLabelError, CorruptFile, UnsupportedFormat, UnsupportedOperation
from ..report import Finding, Level
from ._image_meta import found_label, generator_trace, looks_like_record
from ._zip import ZIP_MAGIC, NewMember, ZipArchive, rels_part, resolve_target, rewrite, tag_end
from .base import Evidence, FormatHandler, ImplicitLabel

__all__ = ["DocxHandler", "XlsxHandler", "PptxHandler", "Package", "notice_candidates", "NoticeCandidates",
           "scan_nodes", "Node", "splice", "CUSTOM_PART", "FMTID", "FAMILIES"]

# ------------------------------------------------------------------------------------ vocabulary

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
EXT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
_STRICT = "http://purl.oclc.org/ooxml/"
#: the same vocabularies in ISO 29500 Strict documents (read, and written in the document's own namespace)
W_NAMESPACES = (W_NS, _STRICT + "wordprocessingml/main")
S_NAMESPACES = (S_NS, _STRICT + "spreadsheetml/main")
P_NAMESPACES = (P_NS, _STRICT + "presentationml/main")
A_NAMESPACES = (A_NS, _STRICT + "drawingml/main")
R_NAMESPACES = (R_NS, _STRICT + "officeDocument/relationships")

REL_OFFICE_DOCUMENT = (R_NS + "/officeDocument", _STRICT + "officeDocument/relationships/officeDocument")
REL_CUSTOM = R_NS + "/custom-properties"
REL_CUSTOM_ALL = (REL_CUSTOM, _STRICT + "officeDocument/relationships/customProperties")
REL_EXTENDED = (R_NS + "/extended-properties", _STRICT + "officeDocument/relationships/extendedProperties")
REL_SLIDE = (R_NS + "/slide", _STRICT + "officeDocument/relationships/slide")
REL_WORKSHEET = R_NS + "/worksheet"
REL_SHARED_STRINGS = (R_NS + "/sharedStrings", _STRICT + "officeDocument/relationships/sharedStrings")
REL_HEADER_FOOTER = (R_NS + "/header", R_NS + "/footer", _STRICT + "officeDocument/relationships/header",
                     _STRICT + "officeDocument/relationships/footer")
CT_CUSTOM = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
#: the format id of user-defined properties (FMTID_UserDefinedProperties)
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
CUSTOM_PART = "docProps/custom.xml"
PROPERTY_NAME = "AIGC"
#: content-type fragments of the main part -> family
FAMILIES = {"docx": ("wordprocessingml", "ms-word."), "xlsx": ("spreadsheetml", "ms-excel."),
            "pptx": ("presentationml", "ms-powerpoint.")}
_STRING_TYPES = ("lpwstr", "lpstr", "bstr")
_DECL = re.compile(rb"^(\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_NS_DECL = re.compile(rb"xmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(\"[^\"]*\"|'[^']*')")


# ------------------------------------------------------------------------------------------- XML


class _Refused(Exception):
    pass


def _parser() -> Any:
    """An expat parser that refuses DTDs (so no entity expansion and no external entities)."""
    p = expat.ParserCreate(namespace_separator=" ")

    def refuse(*_args: Any) -> None:
        raise _Refused("a DTD or entity declaration")

    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    p.UnparsedEntityDeclHandler = refuse
    p.ExternalEntityRefHandler = refuse
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


def _run(p: Any, data: bytes, what: str) -> None:
    try:
        p.Parse(data, True)
    except _Refused as exc:
        raise CorruptFile(f"{what} contains {exc} (refused: entity expansion and external entities)") from None
    except _Stop:
        pass
    except expat.ExpatError as exc:
        raise CorruptFile(f"damaged XML in {what}: {exc}") from None
    except AigcLabelError:
        raise
    except Exception as exc:  # noqa: BLE001 - a handler meeting a shape it does not expect
        raise CorruptFile(f"{what} cannot be read ({type(exc).__name__}: {exc})") from None


class _Stop(Exception):
    """Raised by a handler to end a scan early."""


def parse_xml(data: bytes, what: str) -> Any:
    """An ElementTree of a small part, parsed by defusedxml with DTDs forbidden."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CorruptFile(f"{what} contains a DTD or entity declaration (refused: {type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - ParseError, and ValueError on bad encodings
        raise CorruptFile(f"damaged XML in {what}: {exc}") from None


def _split(name: str) -> tuple[str, str]:
    uri, _, local = name.rpartition(" ")
    return uri, local


@dataclass
class Node:
    """An element with the byte offsets of its start tag and its end."""

    uri: str
    local: str
    attrs: dict[str, str]
    depth: int
    start: int  # offset of '<'
    head_end: int  # just past the start tag's '>'
    empty: bool
    close_start: int = -1  # offset of the end tag (head_end - 2 for an empty element)
    end: int = -1  # just past the element
    flagged: bool = False  # a descendant matched the scan's flag predicate

    def qname(self, data: bytes) -> str:
        m = re.match(rb"<([^\s/>]+)", data[self.start:self.head_end])
        return m.group(1).decode("utf-8") if m else self.local

    def prefix(self, data: bytes) -> str:
        q = self.qname(data)
        return q.split(":", 1)[0] if ":" in q else ""

    def ns_decls(self, data: bytes) -> dict[str, str]:
        """The namespace declarations on this element's start tag: prefix ('' = default) -> URI."""
        out = {}
        for m in _NS_DECL.finditer(data, self.start, self.head_end):
            out[(m.group(1) or b"").decode()] = m.group(2)[1:-1].decode("utf-8", "replace")
        return out


def scan_nodes(data: bytes, what: str, max_depth: int,
               flag: Callable[[str, str, dict[str, str]], bool] | None = None,
               visit: Callable[[str, str, dict[str, str]], None] | None = None) -> list[Node]:
    """Elements down to *max_depth* (the root is 0), in document order, with their byte ranges.

    *flag* marks each recorded element that has a matching descendant (or is one); *visit* sees
    every element.
    """
    p = _parser()
    nodes: list[Node] = []
    stack: list[Node] = []
    depth = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        uri, local = _split(name)
        if visit is not None:
            visit(uri, local, attrs)
        if depth <= max_depth:
            pos = p.CurrentByteIndex
            head_end = tag_end(data, pos)
            node = Node(uri, local, attrs, depth, pos, head_end, data[head_end - 2:head_end - 1] == b"/")
            nodes.append(node)
            stack.append(node)
        if flag is not None and flag(uri, local, attrs):
            for n in stack:
                n.flagged = True
        depth += 1

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1
        if depth <= max_depth:
            node = stack.pop()
            if node.empty:
                node.close_start, node.end = node.head_end - 2, node.head_end
            else:
                node.close_start = p.CurrentByteIndex
                node.end = data.index(b">", node.close_start) + 1

    p.StartElementHandler = start
    p.EndElementHandler = end
    _run(p, data, what)
    return nodes


def splice(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Replace the byte ranges ``[start, end)`` of *data* (non-overlapping) by the given bytes."""
    out, pos = [], 0
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise ValueError("overlapping edits")
        out += [data[pos:start], text]
        pos = end
    out.append(data[pos:])
    return b"".join(out)


def append_child(data: bytes, parent: Node, child: bytes) -> tuple[int, int, bytes]:
    """The edit that adds *child* as the last child of *parent* (an empty element is opened)."""
    if parent.empty:
        head = data[parent.start:parent.head_end]
        opened = re.sub(rb"\s*/>$", b">", head)
        return parent.start, parent.head_end, opened + child + b"</" + parent.qname(data).encode() + b">"
    return parent.close_start, parent.close_start, child


def prepend_child(data: bytes, parent: Node, child: bytes) -> tuple[int, int, bytes]:
    if parent.empty:
        return append_child(data, parent, child)
    return parent.head_end, parent.head_end, child


def utf8_part(data: bytes, what: str) -> bytes:
    """*data* as UTF-8 (parts we edit may be stored as UTF-16; they are transcoded when edited)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        m = _DECL.match(data)
        codec = m.group(2).decode().lower() if m else "utf-8"
        if codec.replace("-", "").replace("_", "") == "utf8":
            return data
        try:
            text = data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            raise CorruptFile(f"{what} is in an unknown or wrong encoding ({codec})") from None
    text = re.sub(r"^(<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2", r"\1\2UTF-8\2", text.lstrip("\ufeff"))
    return text.encode("utf-8")


def _xml_text(text: str) -> bytes:
    return escape(text).encode("utf-8")


def _attr(text: str) -> bytes:
    return quoteattr(text).encode("utf-8")


# --------------------------------------------------------------------------------------- package


@dataclass
class Relationship:
    id: str
    type: str
    target: str
    external: bool
    part: str | None  # the resolved part name (None for external or escaping targets)


@dataclass
class Package:
    """An open OPC package: the archive, its content types and package relationships."""

    archive: ZipArchive
    defaults: dict[str, str]  # extension (lower) -> content type
    overrides: dict[str, str]  # part name (lower, no leading '/') -> content type
    rels: list[Relationship]
    main_part: str
    main_type: str
    family: str
    _rels_cache: dict[str, list[Relationship]] = field(default_factory=dict)

    @classmethod
    def open(cls, src: CountingReader) -> Package:
        """Open *src* as an Office package; :class:`UnsupportedFormat` when it is another ZIP."""
        archive = ZipArchive(src)
        ct_data = archive.read("[Content_Types].xml", limit=4 << 20)
        rels_data = archive.read("_rels/.rels", limit=4 << 20)
        if ct_data is None or rels_data is None:
            raise UnsupportedFormat("a ZIP archive that is not an Office Open XML package (no [Content_Types].xml "
                                    "or _rels/.rels)")
        types = parse_xml(ct_data, "[Content_Types].xml")
        if types.tag != f"{{{CT_NS}}}Types":
            raise CorruptFile("[Content_Types].xml is not a content-types document")
        defaults, overrides = {}, {}
        for el in types:
            if el.tag == f"{{{CT_NS}}}Default":
                defaults[el.get("Extension", "").lower()] = el.get("ContentType", "")
            elif el.tag == f"{{{CT_NS}}}Override":
                overrides[el.get("PartName", "").lstrip("/").lower()] = el.get("ContentType", "")
        rels = _parse_rels(rels_data, "", "_rels/.rels")
        main = next((r for r in rels if r.type in REL_OFFICE_DOCUMENT and r.part), None)
        if main is None or main.part is None:
            raise UnsupportedFormat("an OPC package without an office document (no officeDocument relationship)")
        pkg = cls(archive, defaults, overrides, rels, main.part, "", "")
        pkg.main_type = pkg.content_type(main.part) or ""
        family = next((f for f, marks in FAMILIES.items() if any(m in pkg.main_type for m in marks)), None)
        if family is None or not pkg.main_type.endswith("main+xml"):
            raise UnsupportedFormat(f"an Office Open XML package of an unsupported kind ({pkg.main_type or 'no type'}"
                                    "); DOCX, XLSX and PPTX are supported")
        if main.part not in archive:
            raise CorruptFile(f"the main part {main.part} is missing from the package")
        pkg.family = family
        return pkg

    def content_type(self, part: str) -> str | None:
        key = part.lstrip("/").lower()
        if key in self.overrides:
            return self.overrides[key]
        ext = key.rsplit(".", 1)[-1] if "." in key.rsplit("/", 1)[-1] else ""
        return self.defaults.get(ext)

    def part(self, name: str, *, limit: int | None = None) -> bytes | None:
        if limit is None:
            return self.archive.read(name)
        return self.archive.read(name, limit=limit)

    def part_rels(self, part: str) -> list[Relationship]:
        if part not in self._rels_cache:
            name = rels_part(part)
            data = self.archive.read(name, limit=16 << 20)
            self._rels_cache[part] = _parse_rels(data, part, name) if data is not None else []
        return self._rels_cache[part]

    def custom_part(self) -> tuple[str, Relationship | None]:
        """The custom-properties part name and the package relationship that registers it."""
        rel = next((r for r in self.rels if r.type in REL_CUSTOM_ALL and r.part and not r.external), None)
        if rel is not None and rel.part:
            return rel.part, rel
        return CUSTOM_PART, None


def _parse_rels(data: bytes, source: str, what: str) -> list[Relationship]:
    root = parse_xml(data, what)
    if root.tag != f"{{{PKG_REL_NS}}}Relationships":
        raise CorruptFile(f"{what} is not a relationships document")
    out = []
    for el in root:
        if el.tag != f"{{{PKG_REL_NS}}}Relationship":
            continue
        external = el.get("TargetMode", "Internal") == "External"
        target = el.get("Target", "")
        out.append(Relationship(el.get("Id", ""), el.get("Type", ""), target, external,
                                None if external else resolve_target(source, target)))
    return out


# ----------------------------------------------------------------------------- custom properties


@dataclass
class CustomProperty:
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
    for node, prop in zip(children, props):
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
            ev.findings.append(Finding("format.ooxml", Level.WARNING, f"custom properties ignored: {exc}",
                                       location=part))
        if data is not None:
            where = part
            registered = rel is not None and (pkg.content_type(part) or "") == CT_CUSTOM
            try:
                props = read_custom(data, where)
            except CorruptFile as exc:
                props = []
                ev.findings.append(Finding("format.ooxml", Level.WARNING, f"custom properties ignored: {exc}",
                                           location=where))
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


# ---------------------------------------------------------------------------- text for the check


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


def presentation_slides(pkg: Package) -> tuple[list[str], tuple[int, int], Any]:
    """Slide part names in show order, the slide size (EMU) and the presentation's namespace."""
    main = pkg.main_part
    data = pkg.part(main, limit=32 << 20)
    assert data is not None
    root = parse_xml(data, main)
    p_ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if p_ns not in P_NAMESPACES:
        raise CorruptFile(f"{main} is not a PresentationML document")
    r_ns = R_NAMESPACES[P_NAMESPACES.index(p_ns)]
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
    for role, (index, lines) in zip(("first slide", "last slide"), shown):
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
    name: str
    part: str
    state: str
    sheet_id: int | None
    rel_id: str


def workbook_sheets(pkg: Package) -> tuple[list[Sheet], str]:
    """The workbook's sheets in tab order, and the SpreadsheetML namespace."""
    main = pkg.main_part
    data = pkg.part(main, limit=64 << 20)
    assert data is not None
    root = parse_xml(data, main)
    s_ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if s_ns not in S_NAMESPACES:
        raise CorruptFile(f"{main} is not a SpreadsheetML workbook")
    r_ns = R_NAMESPACES[S_NAMESPACES.index(s_ns)]
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
