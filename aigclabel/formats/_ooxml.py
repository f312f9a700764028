"""Office Open XML plumbing shared by the handler, the visible-text reader and the notice marker:
the vocabulary (namespaces, relationship and content types), XML parsing with DTDs refused and
nesting bounded, byte-offset element scans for splicing edits, and the OPC package (content types
and relationships) over the guarded ZIP reader of :mod:`._zip`.

Every XML part is parsed by expat with DTDs, entity declarations and external entities refused
(no entity expansion), or by defusedxml for the small parts, and its element nesting is checked
against :func:`aigclabel.limits.check_depth` (a hostile part nested a million levels deep is refused
from its start tags, not walked).
"""

from __future__ import annotations

import re
import xml.parsers.expat as expat
from dataclasses import dataclass, field
from typing import Any, Callable
from xml.sax.saxutils import escape, quoteattr

from .. import limits
from .._io import CountingReader
from ..errors import AigcLabelError, CorruptFile, UnsupportedFormat
from ._zip import ZipArchive, rels_part, resolve_target, tag_end

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
_DECL = re.compile(rb"^(\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_NS_DECL = re.compile(rb"xmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(\"[^\"]*\"|'[^']*')")



# ------------------------------------------------------------------------------------------- XML


class _Refused(Exception):
    pass


def _parser() -> Any:
    """An expat parser that refuses DTDs (so no entity expansion and no external entities)."""
    p: Any = expat.ParserCreate(namespace_separator=" ")

    def refuse(*_args: Any) -> None:
        raise _Refused("a DTD or entity declaration")

    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    p.UnparsedEntityDeclHandler = refuse
    p.ExternalEntityRefHandler = refuse
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return p


def _bound_depth(p: Any, what: str) -> None:
    """Wrap the element handlers set on *p* with a nesting count checked against ``max_depth``."""
    start, end = p.StartElementHandler, p.EndElementHandler
    limit = limits.current().max_depth
    depth = 0

    def on_start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > limit:
            limits.check_depth(depth, what)
        if start is not None:
            start(name, attrs)

    def on_end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if end is not None:
            end(name)

    p.StartElementHandler = on_start
    p.EndElementHandler = on_end


def _run(p: Any, data: bytes, what: str) -> None:
    """Parse *data* with the handlers set on *p*; every failure is a typed error naming *what*."""
    _bound_depth(p, what)
    try:
        p.Parse(data, True)
    except _Refused as exc:
        raise CorruptFile(f"{what} contains {exc} (refused: entity expansion and external entities)") from None
    except _Stop:
        pass
    except (expat.ExpatError, LookupError) as exc:  # LookupError: the declaration names an unknown encoding
        raise CorruptFile(f"damaged XML in {what}: {exc}") from None
    except AigcLabelError:
        raise
    except (ValueError, IndexError, KeyError, UnicodeError, OverflowError) as exc:
        # a handler meeting a value it cannot use (a row number that is no number...): the data is bad
        raise CorruptFile(f"{what} cannot be read ({type(exc).__name__}: {exc})") from None


class _Stop(Exception):
    """Raised by a handler to end a scan early."""


def parse_xml(data: bytes, what: str) -> Any:
    """An ElementTree of a small part, parsed by defusedxml with DTDs forbidden."""
    import defusedxml.ElementTree as DET  # type: ignore[import-untyped]
    from defusedxml import DefusedXmlException  # type: ignore[import-untyped]

    _run(_parser(), data, what)  # DTDs refused and nesting bounded before a tree is built
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CorruptFile(f"{what} contains a DTD or entity declaration (refused: {type(exc).__name__})") from None
    except (SyntaxError, ValueError, UnicodeError) as exc:  # ParseError is a SyntaxError; bad encodings
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
    """One OOXML package relationship: id, type, target, and the part it resolves to."""
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
