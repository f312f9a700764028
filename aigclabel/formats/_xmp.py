"""A small, safe XMP packet model shared by every image and PDF handler.

Handlers use it to read the AIGC record (``TC260:AIGC``, GB 45438 Annex E / TC260 image guide) and the
IPTC ``DigitalSourceType``, and to merge a new record into a packet that already holds other metadata.

Why not plain :mod:`xml.etree.ElementTree`:

* Safety: packets come from untrusted files.  Parsing goes through :mod:`defusedxml` with DTDs,
  entity declarations and external references all refused, a size cap and a nesting cap, so
  billion-laughs, XXE and deep-nesting inputs fail fast with :class:`~aigclabel.errors.CorruptFile`.
* Fidelity: ``ElementTree.tostring`` renames every prefix to ``ns0``, ``ns1``...  Readers such as
  exiftool name properties of unknown namespaces by their prefix, so ``TC260:AIGC`` would turn into
  ``ns0:AIGC``.  We keep each element's own ``xmlns`` declarations and its original prefix (asked from
  expat with ``namespace_prefixes``) and write the tree with the small serializer below.  The global
  ``ElementTree.register_namespace`` registry is never touched.

Reading a file uses ``parse(..., recover=True)``: bytes that are not valid UTF-8 and prefixes used without a
declaration, both seen in real files, are worked around and listed in :attr:`XmpPacket.issues` (the
handler turns them into findings), so the record is still read.  Merging parses strictly: a packet we
would have to repair is never rewritten.

Comments and processing instructions inside the packet are dropped on rewrite: they carry no RDF
meaning, and the ``<?xpacket?>`` wrapper is always written afresh by :meth:`XmpPacket.serialize`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import NamedTuple

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..errors import CorruptFile, LabelError

__all__ = [
    "TC260_NS",
    "TC260_PREFIX",
    "IPTC_EXT_NS",
    "IPTC_EXT_PREFIX",
    "DST_TRAINED",
    "DST_COMPOSITE",
    "RDF_NS",
    "X_NS",
    "XML_NS",
    "MAX_PACKET_SIZE",
    "MAX_DEPTH",
    "XmpProperty",
    "XmpIssue",
    "XmpPacket",
]

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
TC260_PREFIX = "TC260"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
IPTC_EXT_PREFIX = "Iptc4xmpExt"
DST_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
DST_COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Larger packets are refused.  Real packets are kilobytes; JPEG ExtendedXMP with embedded
#: thumbnails or Photoshop history reaches a few MiB, so 16 MiB leaves room without letting a
#: hostile file make us build a huge tree.
MAX_PACKET_SIZE = 16 * 1024 * 1024
#: Deeper element nesting is refused.  Lightroom mask structures, the deepest real XMP we know,
#: stay below 30 levels; the cap keeps tree walking cheap and bounded.
MAX_DEPTH = 256

_PACKET_BEGIN = b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
_PACKET_END = b'<?xpacket end="w"?>'

_RDF_RDF = f"{{{RDF_NS}}}RDF"
_RDF_DESCRIPTION = f"{{{RDF_NS}}}Description"
_RDF_ABOUT = f"{{{RDF_NS}}}about"
_RDF_RESOURCE = f"{{{RDF_NS}}}resource"
_X_XMPMETA = f"{{{X_NS}}}xmpmeta"
_X_XAPMETA = f"{{{X_NS}}}xapmeta"  # pre-2002 name of the wrapper, still seen in old files

# Prefixes used when a namespace has to be declared and the packet itself never bound it.
_DEFAULT_PREFIXES = {
    X_NS: "x",
    RDF_NS: "rdf",
    TC260_NS: TC260_PREFIX,
    IPTC_EXT_NS: IPTC_EXT_PREFIX,
}

# Patterns are kept as text and compiled on first use (re caches the compiled form): compiling them all at import
# was most of this module's import time, paid by every command, and most are needed only to repair a bad packet.
# XML 1.0 Char production, negated: these cannot appear in a packet at all, not even escaped.
_ILLEGAL_XML_CHARS = "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
# NCName, approximately: good enough to stop a caller from writing a broken tag.
_NCNAME = r"[^\W\d][\w.\-]*"


class XmpProperty(NamedTuple):
    """One top-level property of an ``rdf:Description``.

    ``value`` is the XML-unescaped text of a simple property (or its ``rdf:resource`` URI).  For a
    structured value (``rdf:Bag``/``Seq``/``Alt``, a struct, a qualified value) it is the text of every
    leaf and every field attribute in document order joined with ``"\\n"`` -- enough to search, not to
    rebuild the structure; an ``rdf:Alt`` with one ``x-default`` item therefore yields exactly that item.
    """

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    namespace: str
    local: str
    prefix: str | None  # as written in the packet; None if it was in a default namespace
    value: str
    form: str  # "element" | "attribute"

    @property
    def qname(self) -> str:
        return f"{self.prefix}:{self.local}" if self.prefix else self.local


class XmpIssue(NamedTuple):
    """A defect :meth:`XmpPacket.parse` worked around when asked to ``recover`` (reading only, never merging).

    ``kind`` is ``"encoding"`` (bytes that are not valid in the packet's Unicode encoding were replaced
    by U+FFFD; ``offset`` is the first one's byte offset in the packet) or ``"undeclared-prefix"`` (a
    prefix used without an ``xmlns`` declaration was bound for reading; ``prefixes`` maps each to the
    URI assumed).
    """

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    kind: str
    message: str
    offset: int | None = None
    prefixes: tuple[tuple[str, str], ...] = ()


class _Meta:
    """What ElementTree forgets of an XMP element (namespace declarations, prefixes) and writing it back as it
    was needs.  A plain class (see XmpProperty on why not a dataclass)."""

    __slots__ = ("decls", "prefix", "attr_prefixes")

    def __init__(self, decls: list[tuple[str, str]] | None = None, prefix: str | None = None,
                 attr_prefixes: dict[str, str] | None = None) -> None:
        self.decls: list[tuple[str, str]] = [] if decls is None else decls  # (prefix, uri); "" = default ns
        self.prefix = prefix
        self.attr_prefixes: dict[str, str] = {} if attr_prefixes is None else attr_prefixes


class _TooDeep(Exception):
    pass


class _BadNamespace(Exception):
    pass


class _Builder:
    """Parser target: an ElementTree builder that also remembers prefixes and declarations."""

    def __init__(self) -> None:
        self._tb = ET.TreeBuilder()
        self._pending: list[tuple[str, str]] = []
        self._depth = 0
        self.meta: dict[ET.Element, _Meta] = {}

    def start_ns(self, prefix: str, uri: str) -> None:
        # expat reports names as "uri}local}prefix"; a '}' inside the URI would make that ambiguous.
        if "}" in uri:
            raise _BadNamespace(uri)
        self._pending.append((prefix, uri))

    def start(self, tag: str, attrib: dict[str, str]) -> ET.Element:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooDeep()
        name, prefix = _split_triplet(tag)
        attrs: dict[str, str] = {}
        attr_prefixes: dict[str, str] = {}
        for key, value in attrib.items():
            aname, aprefix = _split_triplet(key)
            attrs[aname] = value
            if aprefix:
                attr_prefixes[aname] = aprefix
        elem = self._tb.start(name, attrs)
        self.meta[elem] = _Meta(self._pending, prefix, attr_prefixes)
        self._pending = []
        return elem

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return self._tb.end(_split_triplet(tag)[0])

    def data(self, text: str) -> None:
        self._tb.data(text)

    def close(self) -> ET.Element:
        return self._tb.close()


def _split_triplet(name: str) -> tuple[str, str | None]:
    """``{uri}local}prefix`` (what the parser hands us with namespace_prefixes) -> (``{uri}local``, prefix)."""
    if not name.startswith("{"):
        return name, None
    uri, _, rest = name[1:].partition("}")
    local, _, prefix = rest.partition("}")
    return f"{{{uri}}}{local}", prefix or ""


class _Unbound(Exception):
    """expat's "unbound prefix": a prefix used without an xmlns declaration in scope."""


def _parse_tree(text: str) -> tuple[ET.Element, dict[ET.Element, _Meta]]:
    """The element tree of *text* and what the builder remembered; :class:`CorruptFile` on bad XML."""
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    # Ask expat for "uri}local}prefix" names so each element keeps the prefix it was written with.
    parser.parser.namespace_prefixes = True
    try:
        # A str is parsed as UTF-8 whatever an XML declaration inside says, which is what we want
        # after decoding ourselves.
        parser.feed(text)
        root = parser.close()
    except DefusedXmlException as exc:
        raise CorruptFile(
            f"XMP packet contains a DTD or entity declaration, which XMP does not allow ({type(exc).__name__})"
        ) from None
    except _TooDeep:
        raise CorruptFile(f"XMP packet nests elements deeper than {MAX_DEPTH} levels") from None
    except _BadNamespace as exc:
        raise CorruptFile(f"XMP packet declares a namespace URI containing '}}': {exc}") from None
    except ET.ParseError as exc:
        if getattr(exc, "code", None) == _EXPAT_UNBOUND_PREFIX:
            raise _Unbound(str(exc)) from None
        raise CorruptFile(f"XMP packet is not well-formed XML: {exc}") from None
    except (UnicodeError, ValueError) as exc:
        raise CorruptFile(f"XMP packet is not well-formed XML: {exc}") from None
    return root, builder.meta


_EXPAT_UNBOUND_PREFIX = 27  # xml.parsers.expat.errors.XML_ERROR_UNBOUND_PREFIX, as ParseError.code reports it
# A qualified name in a start tag or an attribute name, and an xmlns declaration.  Approximate on purpose:
# a prefix found in text content only adds a harmless extra declaration.
_TAG_PREFIX = r"<([A-Za-z_][\w.\-]*):[A-Za-z_]"
_ATTR_PREFIX = r"\s([A-Za-z_][\w.\-]*):[A-Za-z_][\w.\-]*\s*="
_XMLNS_DECL = r"xmlns:([A-Za-z_][\w.\-]*)\s*="
_ROOT_NAME = r"<(?![?!])[A-Za-z_][\w.\-:]*"
#: what an undeclared prefix is read as: the namespace its usual prefix names, or a URN saying it was not declared
_USUAL_NAMESPACES = {
    "x": X_NS, "rdf": RDF_NS, TC260_PREFIX: TC260_NS, IPTC_EXT_PREFIX: IPTC_EXT_NS,
    "dc": "http://purl.org/dc/elements/1.1/", "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/", "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/", "exif": "http://ns.adobe.com/exif/1.0/",
}
UNDECLARED_NS = "urn:aigclabel:undeclared-prefix:"


def _undeclared_prefixes(text: str) -> tuple[tuple[str, str], ...]:
    """Prefixes *text* uses but never declares, each with the URI to read it as (packet order)."""
    declared = set(re.findall(_XMLNS_DECL, text)) | {"xml", "xmlns"}
    used = [m.group(1) for m in re.finditer(_TAG_PREFIX, text)] + [m.group(1) for m in re.finditer(_ATTR_PREFIX, text)]
    out: dict[str, str] = {}
    for prefix in used:
        if prefix not in declared and prefix not in out:
            # "tc260" is the same guide prefix in another case; anything else unknown gets a URN of its own
            usual = TC260_NS if prefix.lower() == TC260_PREFIX.lower() else _USUAL_NAMESPACES.get(prefix)
            out[prefix] = usual or UNDECLARED_NS + prefix
    return tuple(out.items())


def _declare_on_root(text: str, bindings: tuple[tuple[str, str], ...]) -> str:
    root = re.search(_ROOT_NAME, text)
    if root is None:
        return text
    decls = "".join(f' xmlns:{p}="{_escape_attr(uri)}"' for p, uri in bindings)
    return text[:root.end()] + decls + text[root.end():]


def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return None, tag


def _decode(data: bytes, recover: bool = False) -> tuple[str, XmpIssue | None]:
    """Bytes -> text.  XMP is always Unicode (XMP Part 1, 7.1): UTF-8, or UTF-16/32 with or without BOM.

    With *recover*, undecodable bytes become U+FFFD and the returned issue says where the first one was.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, unit = "utf-8-sig", 1
    elif data.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        encoding, unit = "utf-32", 4
    elif data.startswith((b"\xfe\xff", b"\xff\xfe")):
        encoding, unit = "utf-16", 2
    elif data[:3] == b"\x00\x00\x00" and data[3:4] != b"\x00":
        encoding, unit = "utf-32-be", 4
    elif data[:1] != b"\x00" and data[1:4] == b"\x00\x00\x00":
        encoding, unit = "utf-32-le", 4
    elif data[:1] == b"\x00" and data[1:2] not in (b"", b"\x00"):
        encoding, unit = "utf-16-be", 2
    elif data[:1] not in (b"", b"\x00") and data[1:2] == b"\x00":
        encoding, unit = "utf-16-le", 2
    else:
        encoding, unit = "utf-8", 1
    # Containers pad to even lengths with NULs; a stray pad byte must not break a UTF-16 decode.
    extra = len(data) % unit
    if extra and not data[-extra:].strip(b"\x00"):
        data = data[:-extra]
    name = encoding.upper().replace("-SIG", "")
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as exc:
        if not recover:
            raise CorruptFile(f"XMP packet is not valid {name}: {exc.reason}") from None
        # utf-8-sig counts from after the BOM; the offset we report is into the packet as stored.
        first = exc.start + (3 if encoding == "utf-8-sig" else 0)
        bad, reason = data[first:first + min(exc.end - exc.start, 4)], exc.reason
        text = data.decode(encoding, "replace")
        # Each undecodable sequence became one U+FFFD: the two decodes differ by exactly that many.
        count = len(text) - len(data.decode(encoding, "ignore"))
    issue = XmpIssue("encoding", f"the XMP packet is not valid {name}: {count} undecodable byte sequence"
                     f"{'s' if count != 1 else ''}, the first (0x{bad.hex()}, {reason}) at byte offset "
                     f"{first} of the packet", offset=first)
    return text, issue


def _escape_text(text: str) -> str:
    # '>' is escaped too so "]]>" can never appear; CR as a reference so it survives end-of-line
    # normalisation and the value round-trips byte-exact.
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")
    )


def _escape_attr(text: str) -> str:
    # Whitespace as references: attribute-value normalisation would otherwise turn it into spaces.
    return (
        _escape_text(text)
        .replace('"', "&quot;")
        .replace("\t", "&#x9;")
        .replace("\n", "&#xA;")
    )


def text_value(value: str) -> bytes:
    """*value* as :meth:`XmpPacket.set` stores and :meth:`XmpPacket.serialize` writes an element's text (UTF-8,
    escaped); :class:`~aigclabel.errors.LabelError` for a character XML cannot carry, as ``set`` raises."""
    bad = re.search(_ILLEGAL_XML_CHARS, value)
    if bad:
        raise LabelError(f"value contains U+{ord(bad.group()):04X}, which XML cannot carry")
    return _escape_text(value).encode("utf-8")


def _is_property_attr(key: str) -> bool:
    # rdf:about, rdf:parseType, xml:lang ... are RDF/XML syntax, not properties; an attribute with no
    # namespace is not an XMP property either (old files use a bare "about").
    ns, _ = _split(key)
    return ns is not None and ns not in (RDF_NS, XML_NS)


class XmpPacket:
    """An XMP packet: parse, inspect and edit top-level properties, serialize with prefixes kept."""

    def __init__(self, root: ET.Element, rdf: ET.Element | None, meta: dict[ET.Element, _Meta]) -> None:
        # Use parse() or new(); the constructor trusts its arguments.
        self._root = root
        self._rdf = rdf
        self._meta = meta
        # namespace -> prefix for when it has to be declared.  The packet's own first binding wins
        # (a reader of this packet already knows it by that name), then what set() was asked for.
        self._packet_prefixes: dict[str, str] = {}
        self._asked_prefixes: dict[str, str] = {}
        #: what a ``recover`` parse worked around (empty for a strict parse and for a new packet)
        self.issues: list[XmpIssue] = []
        for elem in root.iter():
            m = meta.get(elem)
            for prefix, uri in m.decls if m else ():
                if prefix:
                    self._packet_prefixes.setdefault(uri, prefix)

    def _hint(self, namespace: str) -> str | None:
        return (
            self._packet_prefixes.get(namespace)
            or self._asked_prefixes.get(namespace)
            or _DEFAULT_PREFIXES.get(namespace)
        )

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview | str, *, recover: bool = False) -> XmpPacket:
        """Parse a packet (with or without ``<?xpacket?>``, rooted at ``x:xmpmeta`` or ``rdf:RDF``).

        Raises :class:`CorruptFile` for anything that is not a well-formed, DTD-free XMP document.
        With *recover* (for reading a file, never for merging into it) two defects real files have are
        worked around and listed in :attr:`issues` instead: bytes invalid in the packet's encoding, and
        prefixes used without a namespace declaration.  Everything else still raises.
        """
        issues: list[XmpIssue] = []
        if isinstance(data, str):
            if len(data) > MAX_PACKET_SIZE:
                raise CorruptFile(f"XMP packet is too large ({len(data)} characters; limit {MAX_PACKET_SIZE})")
            text = data
        else:
            raw = bytes(data)
            if len(raw) > MAX_PACKET_SIZE:
                raise CorruptFile(f"XMP packet is too large ({len(raw)} bytes; limit {MAX_PACKET_SIZE})")
            text, issue = _decode(raw, recover)
            if issue is not None:
                issues.append(issue)
        # A BOM, leading blanks and trailing NUL padding are packaging, not XML.
        text = text.lstrip("\ufeff \t\r\n").rstrip("\x00")
        if not text.strip():
            raise CorruptFile("XMP packet is empty")

        try:
            root, meta = _parse_tree(text)
        except _Unbound as exc:
            bound = _undeclared_prefixes(text) if recover else ()
            if not bound:
                raise CorruptFile(f"XMP packet is not well-formed XML: {exc}") from None
            # Declared on the root element, so they are in scope everywhere; a second failure raises.
            try:
                root, meta = _parse_tree(_declare_on_root(text, bound))
            except _Unbound as again:
                raise CorruptFile(f"XMP packet is not well-formed XML: {again}") from None
            # A hostile packet may use thousands of prefixes: the message names the first few.
            names = ", ".join(f"{p!r} (read as {uri})" for p, uri in bound[:5])
            names += f" and {len(bound) - 5} more" if len(bound) > 5 else ""
            plural = "es" if len(bound) > 1 else ""
            issues.append(XmpIssue("undeclared-prefix", f"the XMP packet uses the prefix{plural} {names} without "
                                   f"declaring {'them' if plural else 'it'} (no xmlns:{bound[0][0]}); it is not "
                                   "namespace-well-formed XML, and strict XMP readers reject the whole packet",
                                   prefixes=bound))

        if root.tag == _RDF_RDF:
            # A bare rdf:RDF is legal; wrap it so every packet we write has the same x:xmpmeta shape.
            wrapper = ET.Element(_X_XMPMETA)
            wrapper.text = "\n"
            wrapper.append(root)
            root.tail = "\n"
            packet = cls(wrapper, root, meta)
        else:
            rdf = next(root.iter(_RDF_RDF), None)
            if rdf is None and root.tag not in (_X_XMPMETA, _X_XAPMETA):
                raise CorruptFile(f"XMP packet has no rdf:RDF element (root element is {root.tag!r})")
            packet = cls(root, rdf, meta)
        packet.issues = issues
        return packet

    @classmethod
    def new(cls) -> XmpPacket:
        """An empty packet: ``x:xmpmeta`` holding an empty ``rdf:RDF``."""
        root = ET.Element(_X_XMPMETA)
        rdf = ET.SubElement(root, _RDF_RDF)
        root.text = "\n"
        rdf.text = "\n"
        rdf.tail = "\n"
        return cls(root, rdf, {})

    # -- reading --------------------------------------------------------------------------------

    def _descriptions(self) -> list[ET.Element]:
        if self._rdf is None:
            return []
        return [child for child in self._rdf if child.tag == _RDF_DESCRIPTION]

    def properties(self) -> list[XmpProperty]:
        """Every top-level property of every top-level ``rdf:Description``: attributes first, then elements."""
        found: list[XmpProperty] = []
        for desc in self._descriptions():
            meta = self._meta.get(desc)
            for key, value in desc.attrib.items():
                if _is_property_attr(key):
                    ns, local = _split(key)
                    assert ns is not None
                    prefix = meta.attr_prefixes.get(key) if meta else None
                    found.append(XmpProperty(ns, local, prefix or self._hint(ns), value, "attribute"))
            for child in desc:
                ns, local = _split(child.tag)
                if ns is None:
                    continue  # not RDF: an unqualified element names no property
                cmeta = self._meta.get(child)
                prefix = cmeta.prefix if cmeta else self._hint(ns)
                found.append(XmpProperty(ns, local, prefix or None, _value_of(child), "element"))
        return found

    def get(self, namespace: str, local: str) -> list[XmpProperty]:
        return [p for p in self.properties() if p.namespace == namespace and p.local == local]

    def aigc_properties(self) -> list[XmpProperty]:
        """Every property whose local name contains ``AIGC`` (case-sensitive), in any namespace and form.

        GB 45438 Annex E only asks that the key "contain AIGC", so a record in a made-up namespace
        still counts (and two of them make the file non-compliant).
        """
        return [p for p in self.properties() if "AIGC" in p.local]

    def digital_source_types(self) -> list[str]:
        # URIs never contain blanks; strip the indentation some writers leave around them.
        return [p.value.strip() for p in self.get(IPTC_EXT_NS, "DigitalSourceType")]

    # -- editing --------------------------------------------------------------------------------

    def set(self, namespace: str, prefix: str, local: str, value: str) -> None:
        """Make *value* the only occurrence of the property, as an element in the first ``rdf:Description``."""
        if not namespace or namespace in (RDF_NS, XML_NS, X_NS):
            raise ValueError(f"cannot set a property in namespace {namespace!r}")
        if not re.fullmatch(_NCNAME, prefix) or prefix.lower().startswith("xml"):
            raise ValueError(f"not a usable XML prefix: {prefix!r}")
        if not re.fullmatch(_NCNAME, local):
            raise ValueError(f"not a valid XML name: {local!r}")
        text_value(value)  # LabelError for a character XML cannot carry
        self.remove(namespace, local)
        desc = self._first_description()
        self._asked_prefixes[namespace] = prefix
        # Write under the asked prefix (e.g. TC260, as the format guides name it), declaring it on the
        # rdf:Description as XMP writers do, even if the packet binds the namespace to another prefix:
        # readers such as exiftool group unknown namespaces by prefix.
        scope = self._scope_at(desc)
        if scope.get(prefix) == namespace:
            chosen = prefix
        else:
            chosen = prefix if prefix not in scope else _free_prefix(prefix, scope)
            self._meta.setdefault(desc, _Meta()).decls.append((chosen, namespace))
        elem = ET.Element(f"{{{namespace}}}{local}")
        elem.text = value
        self._meta.setdefault(elem, _Meta()).prefix = chosen
        _append(desc, elem, outer=self._rdf)
        if chosen == prefix:
            self._canonicalise_prefix(namespace, prefix)

    def _canonicalise_prefix(self, namespace: str, prefix: str) -> None:
        """Bind *namespace* to *prefix* everywhere, if *prefix* names nothing else in the packet.

        exiftool names the group of an unknown namespace after the first prefix it sees for it, so a
        packet that also binds the TC260 namespace to, say, ``aigc`` would show our record as
        ``XMP-aigc``; renaming a prefix never changes an XMP packet's meaning.
        """
        metas = list(self._meta.values())
        if any(p == prefix and uri != namespace for m in metas for p, uri in m.decls):
            return
        for m in metas:
            renamed = [((prefix if uri == namespace and p else p), uri) for p, uri in m.decls]
            m.decls[:] = list(dict.fromkeys(renamed))  # first occurrence of each declaration, in order
        for elem, m in self._meta.items():
            if isinstance(elem.tag, str) and _split(elem.tag)[0] == namespace and m.prefix:
                m.prefix = prefix
            for key in list(m.attr_prefixes):
                if _split(key)[0] == namespace:
                    m.attr_prefixes[key] = prefix
        self._packet_prefixes[namespace] = prefix

    def remove(self, namespace: str, local: str) -> int:
        """Remove every top-level occurrence (element or attribute, any description); return how many."""
        key = f"{{{namespace}}}{local}"
        return self._remove_where(lambda ns, loc: f"{{{ns}}}{loc}" == key)

    def remove_aigc(self) -> int:
        """Remove every AIGC record, so a new one can be written without leaving two behind."""
        return self._remove_where(lambda ns, loc: "AIGC" in loc)

    def _remove_where(self, match: Callable[[str, str], bool]) -> int:
        removed = 0
        for desc in self._descriptions():
            for key in list(desc.attrib):
                ns, local = _split(key)
                if _is_property_attr(key) and ns is not None and match(ns, local):
                    del desc.attrib[key]
                    removed += 1
            for child in list(desc):
                ns, local = _split(child.tag)
                if ns is not None and match(ns, local):
                    _detach(desc, child)
                    removed += 1
        return removed

    def _first_description(self) -> ET.Element:
        if self._rdf is None:
            self._rdf = ET.Element(_RDF_RDF)
            _append(self._root, self._rdf)
        descs = self._descriptions()
        if descs:
            return descs[0]
        desc = ET.Element(_RDF_DESCRIPTION, {_RDF_ABOUT: ""})
        _append(self._rdf, desc)
        return desc

    def _scope_at(self, target: ET.Element) -> dict[str, str]:
        """Prefix bindings in force on *target* (its own declarations included)."""
        path = _path_to(self._root, target)
        scope: dict[str, str] = {}
        for elem in path:
            m = self._meta.get(elem)
            if m:
                scope.update(m.decls)
        # Bindings the serializer adds on its own are not seen here; at worst that costs one redundant
        # declaration, never a wrong name, because the serializer resolves every name against its scope.
        return scope

    # -- writing --------------------------------------------------------------------------------

    def serialize(self, *, padding: int = 0) -> bytes:
        """UTF-8 packet in an ``<?xpacket?>`` wrapper; *padding* bytes of whitespace before the end PI.

        The padding lets a later in-place edit grow the packet without moving the rest of the file.
        """
        if padding < 0:
            raise ValueError("padding must be >= 0")
        xml = self._write_xml().encode("utf-8")
        lines, rest = divmod(padding, 100)
        pad = (b" " * 99 + b"\n") * lines + b" " * rest
        return _PACKET_BEGIN + b"\n" + xml + b"\n" + pad + _PACKET_END

    def _write_xml(self) -> str:
        out: list[str] = []
        # Explicit stack instead of recursion: depth is capped at parse time, but new trees are not.
        stack: list[tuple[ET.Element, dict[str, str]] | str] = [(self._root, {})]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            elem, parent_scope = item
            if not isinstance(elem.tag, str):
                continue  # a Comment/PI node someone appended; we do not write those
            meta = self._meta.get(elem)
            decls = list(meta.decls) if meta else []
            scope = dict(parent_scope)
            scope.update(decls)
            ns, local = _split(elem.tag)
            qname = self._qname(ns, local, meta.prefix if meta else None, scope, decls, attribute=False)
            attrs: list[str] = []
            for key, value in elem.attrib.items():
                ans, alocal = _split(key)
                wanted = meta.attr_prefixes.get(key) if meta else None
                aq = self._qname(ans, alocal, wanted, scope, decls, attribute=True)
                attrs.append(f' {aq}="{_escape_attr(value)}"')
            nsattrs = [
                f' xmlns="{_escape_attr(uri)}"' if not p else f' xmlns:{p}="{_escape_attr(uri)}"' for p, uri in decls
            ]
            head = f"<{qname}{''.join(nsattrs)}{''.join(attrs)}"
            if not elem.text and len(elem) == 0:
                out.append(head + "/>")
            else:
                out.append(head + ">" + _escape_text(elem.text or ""))
                stack.append(f"</{qname}>")
                for child in reversed(list(elem)):
                    if child.tail:
                        stack.append(_escape_text(child.tail))
                    stack.append((child, scope))
        return "".join(out)

    def _qname(
        self,
        ns: str | None,
        local: str,
        wanted: str | None,
        scope: dict[str, str],
        decls: list[tuple[str, str]],
        *,
        attribute: bool,
    ) -> str:
        """The name to write, adding a declaration to *decls*/*scope* when the namespace is not bound."""
        if ns is None:
            if not attribute and scope.get("", ""):
                decls.append(("", ""))  # undeclare an inherited default namespace
                scope[""] = ""
            return local
        if ns == XML_NS:
            return f"xml:{local}"
        usable = [p for p, uri in scope.items() if uri == ns and (p or not attribute)]
        hint = self._hint(ns)
        if wanted is not None and wanted in usable:
            prefix = wanted
        elif hint is not None and hint in usable:
            prefix = hint
        elif usable:
            prefix = usable[0]
        else:
            prefix = _free_prefix(wanted or hint or "ns", scope)
            decls.append((prefix, ns))
            scope[prefix] = ns
        return f"{prefix}:{local}" if prefix else local


def _free_prefix(wanted: str, scope: dict[str, str]) -> str:
    base = wanted if wanted and not wanted.lower().startswith("xml") else "ns"
    prefix, n = base, 1
    while prefix in scope:
        prefix = f"{base}{n}"
        n += 1
    return prefix


def _value_of(elem: ET.Element) -> str:
    """Text of a property element; see :class:`XmpProperty` for how structures are flattened."""
    fields = [k for k in elem.attrib if _is_property_attr(k)]
    if len(elem) == 0 and not fields:
        resource = elem.get(_RDF_RESOURCE)
        if resource is not None and not (elem.text or "").strip():
            return resource
        return elem.text or ""
    parts: list[str] = []
    for node in elem.iter():
        parts.extend(v for k, v in node.attrib.items() if _is_property_attr(k) or k == _RDF_RESOURCE)
        if len(node) == 0 and node.text and node.text.strip():
            parts.append(node.text)
    return "\n".join(parts)


def _path_to(root: ET.Element, target: ET.Element) -> list[ET.Element]:
    # Iterative search (trees here are shallow, but nothing should recurse on file-controlled depth).
    stack: list[list[ET.Element]] = [[root]]
    while stack:
        path = stack.pop()
        if path[-1] is target:
            return path
        stack.extend(path + [child] for child in path[-1])
    raise ValueError("element is not in this packet")


def _append(parent: ET.Element, child: ET.Element, *, outer: ET.Element | None = None) -> None:
    """Append *child*, copying the sibling indentation so the packet stays readable.

    *outer* is *parent*'s parent, if known: when *parent* is empty its own indentation is read there.
    """
    if len(parent):
        last = parent[-1]
        indent = parent.text if parent.text and not parent.text.strip() else None
        child.tail = last.tail
        if indent is not None:
            last.tail = indent
    elif parent.text is None or not parent.text.strip():
        closing = parent.text if parent.text and "\n" in parent.text else _indent_before(outer, parent)
        parent.text = closing + " "
        child.tail = closing
    parent.append(child)
    if len(child) == 0 and not child.text:
        # A new, empty container: its closing tag lines up with its opening tag.
        child.text = parent.text if parent.text and not parent.text.strip() else None


def _indent_before(outer: ET.Element | None, elem: ET.Element) -> str:
    """The whitespace that precedes *elem* inside *outer* (its line break and indentation), or a newline."""
    if outer is not None:
        siblings = list(outer)
        if elem in siblings:
            index = next(i for i, s in enumerate(siblings) if s is elem)
            before = outer.text if index == 0 else siblings[index - 1].tail
            if before and not before.strip() and "\n" in before:
                return "\n" + before.rsplit("\n", 1)[1]
    return "\n"


def _detach(parent: ET.Element, child: ET.Element) -> None:
    """Remove *child* without losing non-blank tail text or the indentation of the closing tag."""
    children = list(parent)
    index = children.index(child)
    tail = child.tail or ""
    parent.remove(child)
    if index == len(children) - 1:
        # The removed tail held the closing tag's indentation; give it to whatever now precedes it.
        if index == 0:
            before = parent.text or ""
            parent.text = tail if not before.strip() and not tail.strip() else before + tail
        else:
            prev = children[index - 1]
            before = prev.tail or ""
            prev.tail = tail if not before.strip() and not tail.strip() else before + tail
    elif tail.strip():
        # Only non-blank tail text carries anything worth keeping in the middle of a list.
        if index == 0:
            parent.text = (parent.text or "") + tail
        else:
            prev = children[index - 1]
            prev.tail = (prev.tail or "") + tail
