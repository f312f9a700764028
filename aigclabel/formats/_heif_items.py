"""HEIF item tables: ``iloc`` (where each item's bytes are), ``iinf``/``infe`` (what each item is),
``iref`` (how items relate) and the parsed file (:class:`HeifFile`) the handler reads and rewrites.

Split from :mod:`.heif` so the handler module holds reading and writing only; ``HeifFile`` and the
item classes are re-exported there.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._bmff import (
    Box,
    BytesSource,
    PayloadReader,
    full_box_header,
    iter_boxes,
    iter_children,
    make_box,
    make_full_box,
    read_payload,
)

__all__ = ["Extent", "ItemLocation", "ItemLocationBox", "ItemInfo", "ItemReference", "HeifFile", "MAX_META",
           "MAX_ITEM", "serialize_iref"]

#: the meta box is read whole; real ones are a few KiB (grids, thumbnails' item tables)
MAX_META = 64 << 20
#: an XMP or Exif item is read whole
MAX_ITEM = 16 << 20
_OFFSET_SIZES = (0, 4, 8)
XMP_CONTENT_TYPE = "application/rdf+xml"


# --------------------------------------------------------------------------------------------- item tables


@dataclass
class Extent:
    """One extent of a HEIF item's data (offset and length)."""
    index: int
    offset: int
    length: int  # 0: "to the end of the file" (single-extent items)


@dataclass
class ItemLocation:
    """Where a HEIF item's data is (the iloc entry): construction method, base offset, extents."""
    item_id: int
    construction_method: int  # 0 file offset, 1 idat, 2 item
    data_reference_index: int  # 0: this file
    base_offset: int
    extents: list[Extent]


def _size_for(value: int) -> int:
    return 0 if value == 0 else (4 if value <= 0xFFFFFFFF else 8)


@dataclass
class ItemLocationBox:
    """``iloc``: where each item's bytes are (versions 0, 1 and 2)."""

    version: int
    flags: int
    offset_size: int
    length_size: int
    base_offset_size: int
    index_size: int
    items: list[ItemLocation]

    @classmethod
    def parse(cls, payload: bytes, where: str) -> ItemLocationBox:
        version, flags = full_box_header(payload, where)
        if version > 2:
            raise CorruptFile(f"corrupt: {where} has version {version} (ISO/IEC 14496-12 defines 0, 1 and 2)")
        r = PayloadReader(payload, where, 4)
        b = r.u8()
        offset_size, length_size = b >> 4, b & 15
        b = r.u8()
        base_offset_size, index_size = b >> 4, (b & 15 if version in (1, 2) else 0)
        for name, value in (("offset", offset_size), ("length", length_size), ("base offset", base_offset_size),
                            ("index", index_size)):
            if value not in _OFFSET_SIZES:
                raise CorruptFile(f"corrupt: {where} has a {name} size of {value} bytes (must be 0, 4 or 8)")
        count = r.u16() if version < 2 else r.u32()
        id_size = 2 if version < 2 else 4
        fixed = id_size + (2 if version else 0) + 2 + base_offset_size + 2
        if count * fixed > r.remaining:
            raise CorruptFile(f"corrupt: {where} claims {count} items, more than it holds")
        items = []
        for _ in range(count):
            item_id = r.uint(id_size)
            method = r.u16() & 0x0F if version else 0
            dref = r.u16()
            base = r.uint(base_offset_size)
            n = r.u16()
            if n * (index_size + offset_size + length_size) > r.remaining:
                raise CorruptFile(f"corrupt: {where} item {item_id} claims {n} extents, more than the box holds")
            extents = [Extent(r.uint(index_size), r.uint(offset_size), r.uint(length_size)) for _ in range(n)]
            items.append(ItemLocation(item_id, method, dref, base, extents))
        return cls(version, flags, offset_size, length_size, base_offset_size, index_size, items)

    def get(self, item_id: int) -> ItemLocation | None:
        return next((loc for loc in self.items if loc.item_id == item_id), None)

    def serialize(self) -> bytes:
        """The whole box; field sizes and version are widened (never narrowed) to fit the values."""
        version = self.version
        if any(loc.construction_method for loc in self.items):
            version = max(version, 1)
        if any(loc.item_id > 0xFFFF for loc in self.items) or len(self.items) > 0xFFFF:
            version = 2
        offset_size, length_size = self.offset_size, self.length_size
        base_size, index_size = self.base_offset_size, self.index_size if version else 0
        for loc in self.items:
            base_size = max(base_size, _size_for(loc.base_offset))
            for e in loc.extents:
                offset_size = max(offset_size, _size_for(e.offset))
                length_size = max(length_size, _size_for(e.length))
                if version:
                    index_size = max(index_size, _size_for(e.index))
        out = bytearray([offset_size << 4 | length_size, base_size << 4 | index_size])
        id_size = 2 if version < 2 else 4
        out += len(self.items).to_bytes(id_size, "big")
        for loc in self.items:
            out += loc.item_id.to_bytes(id_size, "big")
            if version:
                out += struct.pack(">H", loc.construction_method & 0x0F)
            out += struct.pack(">H", loc.data_reference_index)
            out += loc.base_offset.to_bytes(base_size, "big")
            out += struct.pack(">H", len(loc.extents))
            for e in loc.extents:
                if version and index_size:
                    out += e.index.to_bytes(index_size, "big")
                out += e.offset.to_bytes(offset_size, "big") + e.length.to_bytes(length_size, "big")
        return make_full_box(b"iloc", version, self.flags, bytes(out))


@dataclass
class ItemInfo:
    """A HEIF item's infe entry: id, type, name, content type, and where the box is."""
    item_id: int
    item_type: bytes  # e.g. b"hvc1", b"av01", b"Exif", b"mime"; b"" for infe versions 0/1
    name: str
    content_type: str
    offset: int  # of the infe box

    @property
    def is_xmp(self) -> bool:
        return self.item_type in (b"mime", b"") and self.content_type.split(";")[0].strip() == XMP_CONTENT_TYPE

    @property
    def is_exif(self) -> bool:
        return self.item_type == b"Exif"


def _parse_infe(payload: bytes, box: Box) -> ItemInfo:
    version, _flags = full_box_header(payload, box)
    r = PayloadReader(payload, str(box), 4)
    if version >= 2:
        item_id = r.u16() if version == 2 else r.u32()
        r.u16()  # protection index
        item_type = r.fourcc()
        name = r.cstring()
        content_type = r.cstring() if item_type == b"mime" else b""
    else:
        item_id = r.u16()
        r.u16()
        item_type = b""
        name = r.cstring()
        content_type = r.cstring()
    return ItemInfo(item_id, item_type, name.decode("utf-8", "replace"),
                    content_type.decode("utf-8", "replace"), box.offset)


@dataclass
class ItemReference:
    """One iref reference between HEIF items (e.g. an Exif or XMP item describing an image)."""
    type: bytes
    from_id: int
    to_ids: list[int]


def _parse_iref(payload: bytes, box: Box, src: BytesSource) -> tuple[int, list[ItemReference]]:
    version, _ = full_box_header(payload, box)
    if version > 1:
        raise CorruptFile(f"corrupt: {box} has version {version} (ISO/IEC 14496-12 defines 0 and 1)")
    size = 2 if version == 0 else 4
    refs = []
    for child in iter_children(src, box, full=True):
        r = PayloadReader(src.read_at(child.payload_offset, child.payload_size), str(child))
        from_id = r.uint(size)
        n = r.u16()
        if n * size > r.remaining:
            raise CorruptFile(f"corrupt: {child} claims {n} references, more than it holds")
        refs.append(ItemReference(child.type, from_id, [r.uint(size) for _ in range(n)]))
    return version, refs


def serialize_iref(version: int, refs: Iterable[ItemReference]) -> bytes:
    refs = list(refs)
    if any(i > 0xFFFF for ref in refs for i in (ref.from_id, *ref.to_ids)):
        version = 1
    size = 2 if version == 0 else 4
    body = b"".join(make_box(ref.type, ref.from_id.to_bytes(size, "big") + struct.pack(">H", len(ref.to_ids))
                             + b"".join(i.to_bytes(size, "big") for i in ref.to_ids)) for ref in refs)
    return make_full_box(b"iref", version, 0, body)


# --------------------------------------------------------------------------------------------- the file


@dataclass
class HeifFile:
    """The parsed structure: top-level boxes and the item tables of the ``meta`` box."""

    boxes: list[Box]
    brands: list[bytes]
    meta: Box | None = None
    meta_src: BytesSource | None = None
    children: list[Box] = field(default_factory=list)
    iloc_box: Box | None = None
    iloc: ItemLocationBox | None = None
    iinf_box: Box | None = None
    items: list[ItemInfo] = field(default_factory=list)
    iref_box: Box | None = None
    iref_version: int = 0
    refs: list[ItemReference] = field(default_factory=list)
    idat: Box | None = None
    primary: int | None = None

    @classmethod
    def parse(cls, src: CountingReader) -> HeifFile:
        if src.size == 0:
            raise CorruptFile("empty file")
        boxes = list(iter_boxes(src, 0, src.size))
        if not boxes or boxes[0].type != b"ftyp":
            raise CorruptFile("not a HEIF file: it does not start with an 'ftyp' box")
        ftyp = read_payload(src, boxes[0], limit=4096)
        if len(ftyp) < 8:
            raise CorruptFile("corrupt: the 'ftyp' box is too short")
        brands = [ftyp[:4]] + [ftyp[i:i + 4] for i in range(8, len(ftyp) - 3, 4)]
        f = cls(boxes, brands)
        metas = [b for b in boxes if b.type == b"meta"]
        if metas:
            f._parse_meta(src, metas[0])
        elif not any(b.type == b"moov" for b in boxes):
            raise CorruptFile("truncated or malformed HEIF: neither a 'meta' box (items) nor a 'moov' box (tracks)")
        return f

    def _parse_meta(self, src: CountingReader, meta: Box) -> None:
        self.meta = meta
        if meta.size > MAX_META:
            raise CorruptFile(f"{meta} holds {meta.size} bytes, more than the {MAX_META >> 20} MiB limit")
        raw = src.read_at(meta.offset, meta.size)
        if len(raw) != meta.size:
            raise CorruptFile(f"truncated: the file ends inside {meta}")
        self.meta_src = m = BytesSource(raw, meta.offset)
        self.children = list(iter_children(m, meta, full=True))
        for child in self.children:
            payload = m.read_at(child.payload_offset, child.payload_size)
            if child.type == b"iloc" and self.iloc is None:
                self.iloc_box, self.iloc = child, ItemLocationBox.parse(payload, str(child))
            elif child.type == b"iinf" and self.iinf_box is None:
                version, _ = full_box_header(payload, child)
                self.iinf_box = child
                skip = 2 if version == 0 else 4
                self.items = [_parse_infe(m.read_at(c.payload_offset, c.payload_size), c)
                              for c in iter_children(m, child, full=True, skip=skip) if c.type == b"infe"]
            elif child.type == b"iref" and self.iref_box is None:
                self.iref_box = child
                self.iref_version, self.refs = _parse_iref(payload, child, m)
            elif child.type == b"idat" and self.idat is None:
                self.idat = child
            elif child.type == b"pitm" and self.primary is None:
                version, _ = full_box_header(payload, child)
                r = PayloadReader(payload, str(child), 4)
                self.primary = r.u16() if version == 0 else r.u32()

    # ----------------------------------------------------------------------------- item data

    def payload_start(self) -> int | None:
        """Where the coded image data begins: the first file-offset extent of an image item
        (not XMP, Exif or another metadata item), else the first ``mdat``."""
        metadata = {i.item_id for i in self.items if i.item_type in (b"mime", b"Exif", b"uri ", b"")}
        starts = [loc.base_offset + e.offset for loc in (self.iloc.items if self.iloc else [])
                  if loc.item_id not in metadata and loc.construction_method == 0 and loc.data_reference_index == 0
                  for e in loc.extents]
        if starts:
            return min(starts)
        return next((b.offset for b in self.boxes if b.type == b"mdat"), None)

    def idat_payload(self) -> bytes:
        if self.idat is None or self.meta_src is None:
            return b""
        return self.meta_src.read_at(self.idat.payload_offset, self.idat.payload_size)

    def extent_ranges(self, loc: ItemLocation, file_size: int, idat_size: int) -> list[tuple[int, int]]:
        """(start, length) of each extent: file offsets (method 0) or idat offsets (method 1)."""
        if loc.data_reference_index != 0:
            raise UnsupportedOperation(f"item {loc.item_id} is stored in another file (data reference "
                                       f"{loc.data_reference_index})")
        if loc.construction_method not in (0, 1):
            raise UnsupportedOperation(f"item {loc.item_id} uses construction method {loc.construction_method} "
                                       "(item offsets), which is not supported")
        limit = file_size if loc.construction_method == 0 else idat_size
        where = "the file" if loc.construction_method == 0 else "the idat box"
        out = []
        for e in loc.extents:
            start = loc.base_offset + e.offset
            length = e.length if e.length or len(loc.extents) > 1 else limit - start
            if start > limit or length < 0 or start + length > limit:
                raise CorruptFile(f"corrupt: item {loc.item_id} data at offset {start} ({e.length} bytes) lies "
                                  f"outside {where} ({limit} bytes)")
            out.append((start, length))
        return out

    def item_data(self, src: CountingReader, item_id: int) -> tuple[bytes, int]:
        """The item's bytes and the file offset of its first byte."""
        if self.iloc is None:
            raise CorruptFile("corrupt: the meta box has no iloc box")
        loc = self.iloc.get(item_id)
        if loc is None:
            raise CorruptFile(f"corrupt: item {item_id} has no location in iloc")
        idat = self.idat_payload()
        ranges = self.extent_ranges(loc, src.size, len(idat))
        total = sum(n for _, n in ranges)
        if total > MAX_ITEM:
            raise CorruptFile(f"item {item_id} holds {total} bytes, more than the {MAX_ITEM >> 20} MiB limit")
        if loc.construction_method == 1:
            assert self.idat is not None
            first = self.idat.payload_offset + (ranges[0][0] if ranges else 0)
            return b"".join(idat[s:s + n] for s, n in ranges), first
        data = b"".join(src.read_at(s, n) for s, n in ranges)
        if len(data) != total:
            raise CorruptFile(f"truncated: the file ends inside item {item_id}")
        return data, ranges[0][0] if ranges else 0

    def primary_size(self) -> tuple[int, int] | None:
        """Width and height of the primary image as displayed: its ``ispe`` property, then the
        clean-aperture crop (``clap``) and rotation (``irot``) associated with it, in order."""
        if self.primary is None or self.meta_src is None:
            return None
        m = self.meta_src
        iprp = next((c for c in self.children if c.type == b"iprp"), None)
        if iprp is None:
            return None
        kids = list(iter_children(m, iprp))
        ipco = next((c for c in kids if c.type == b"ipco"), None)
        if ipco is None:
            return None
        props = list(iter_children(m, ipco))
        size: tuple[int, int] | None = None
        for ipma in (c for c in kids if c.type == b"ipma"):
            payload = m.read_at(ipma.payload_offset, ipma.payload_size)
            version, flags = full_box_header(payload, ipma)
            r = PayloadReader(payload, str(ipma), 4)
            for _ in range(r.u32()):
                item_id = r.u16() if version < 1 else r.u32()
                indices = [(r.u16() & 0x7FFF) if flags & 1 else (r.u8() & 0x7F) for _ in range(r.u8())]
                if item_id != self.primary:
                    continue
                for i in indices:
                    if 1 <= i <= len(props):
                        prop = props[i - 1]
                        size = _apply_property(prop.type, m.read_at(prop.payload_offset, prop.payload_size), size)
        return size


def _apply_property(ptype: bytes, data: bytes, size: tuple[int, int] | None) -> tuple[int, int] | None:
    """The displayed size after one associated property: ``ispe`` sets it, ``clap`` crops, ``irot`` turns."""
    if ptype == b"ispe" and len(data) >= 12:
        w, h = struct.unpack(">II", data[4:12])
        return w, h
    if ptype == b"clap" and len(data) >= 16 and size is not None:
        wn, wd, hn, hd = struct.unpack(">IIII", data[:16])
        return (round(wn / wd), round(hn / hd)) if wd and hd else size
    if ptype == b"irot" and data and size is not None and data[0] & 1:
        return size[1], size[0]
    return size
