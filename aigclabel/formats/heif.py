"""HEIF / HEIC / AVIF: the record lives in an XMP item (``mime`` item, ``application/rdf+xml``).

HEIF (ISO/IEC 23008-12) files are ISO-BMFF box trees: ``ftyp``, a ``meta`` box describing *items*
(``iinf``/``infe`` say what each item is, ``iloc`` where its bytes are, ``iref`` how items relate,
``pitm`` which one is the primary image, ``iprp`` its properties), then the coded data in ``mdat``.
Reading walks the top-level box headers, reads the ``meta`` box whole (it is small) and then only
the XMP and Exif items' bytes: the coded image is never read.

Writing adds (or replaces) one XMP item:

* a new ``infe`` (type ``mime``, content type ``application/rdf+xml``) in ``iinf``, an ``iref``
  ``cdsc`` ("content describes") reference from it to the primary item, and an ``iloc`` entry
  (construction method 0: the file offset in ``base_offset``, ``extent_offset`` 0, as libheif writes
  it) pointing at the packet, stored in a small ``mdat`` box of its own right after ``meta``: in the
  file header, before the image data.  (Construction method 1,
  ``idat``, would keep it inside ``meta``, but exiftool 12 cannot read XMP stored there.)
* an existing XMP item keeps its id and ``infe``; its packet is merged.  Its old bytes are dropped
  when they filled a box of their own (an earlier mark), else zeroed in place (or cut from the tail
  of ``idat``), so no stale record stays readable.
* ``meta`` changes size, and when the image data came before it, ``meta`` moves to just after
  ``ftyp``.  Every other top-level box keeps its bytes and order; each ``iloc`` extent stored by
  file offset follows its box, with the offset fields widened when needed.
* EXIF records (UserComment / ImageDescription / XPComment JSON) in ``Exif`` items are blanked in
  place, same length.

Not written (``UnsupportedOperation``): files without a top-level ``meta`` box, image sequences
whose ``moov`` chunk offsets would have to move, an XMP or Exif item stored in another file or by
item construction (method 2), and items stored by file offset *inside* ``meta``.  Box versions the
standard does not define (``iloc`` > 2, ``iref`` > 1) are :class:`CorruptFile`.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Iterable

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import Finding, Level
from ._bmff import (
    Box,
    BytesSource,
    PayloadReader,
    copy_with_patches,
    full_box_header,
    iter_boxes,
    iter_children,
    make_box,
    make_full_box,
    read_payload,
)
from ._exif import TiffDirectory, blank_entry
from ._image_meta import build_xmp, evidence_from_exif, evidence_from_xmp, exif_record_entries
from .base import Evidence, FormatHandler, ImplicitLabel

__all__ = ["HeifHandler", "HEIF_BRANDS", "XMP_CONTENT_TYPE"]

#: ftyp brands of HEIF still images and sequences (HEVC, AV1, AVC, JPEG, VVC, JPEG 2000, generic MIAF)
HEIF_BRANDS = frozenset({
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    b"mif1", b"mif2", b"msf1", b"avif", b"avis", b"avci", b"avcs",
    b"jpeg", b"jpgs", b"vvic", b"vvis", b"j2ki", b"j2is",
})
XMP_CONTENT_TYPE = "application/rdf+xml"
#: the meta box is read whole; real ones are a few KiB (grids, thumbnails' item tables)
MAX_META = 64 << 20
#: an XMP or Exif item is read whole
MAX_ITEM = 16 << 20
_OFFSET_SIZES = (0, 4, 8)


# --------------------------------------------------------------------------------------------- item tables


@dataclass
class Extent:
    index: int
    offset: int
    length: int  # 0: "to the end of the file" (single-extent items)


@dataclass
class ItemLocation:
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


def _serialize_iref(version: int, refs: Iterable[ItemReference]) -> bytes:
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
                    if not 1 <= i <= len(props):
                        continue
                    prop = props[i - 1]
                    data = m.read_at(prop.payload_offset, prop.payload_size)
                    if prop.type == b"ispe" and len(data) >= 12:
                        size = struct.unpack(">II", data[4:12])
                    elif prop.type == b"clap" and len(data) >= 16 and size is not None:
                        wn, wd, hn, hd = struct.unpack(">IIII", data[:16])
                        if wd and hd:
                            size = (round(wn / wd), round(hn / hd))
                    elif prop.type == b"irot" and data and size is not None and data[0] & 1:
                        size = (size[1], size[0])
        return size


class HeifHandler(FormatHandler):
    name = "heif"
    kind = "image"
    mime = "image/heif"
    extensions = (".heic", ".heif", ".hif", ".avif", ".heics", ".heifs", ".avifs")
    normative_carrier = "xmp:TC260:AIGC"
    can_write = True

    @classmethod
    def score(cls, head: bytes) -> int:
        if len(head) < 12 or head[4:8] != b"ftyp":
            return 0
        if head[8:12] in HEIF_BRANDS:
            return 100
        size = min(int.from_bytes(head[:4], "big"), len(head))
        if any(head[i:i + 4] in HEIF_BRANDS for i in range(16, size - 3, 4)):
            return 90
        return 0

    # ----------------------------------------------------------------------------- reading

    def read(self, src: CountingReader) -> Evidence:
        f = HeifFile.parse(src)
        ev = Evidence(self.name, self.kind)
        major = f.brands[0].decode("latin-1")
        ev.info["brand"] = major
        if f.meta is None:
            ev.findings.append(Finding("format.heif", Level.INFO, "no top-level meta box (an image sequence "
                                       "without a still image?): no items to read", location="top level"))
            return ev
        size = f.primary_size()
        if size is not None:
            ev.info.update(width=size[0], height=size[1])
        payload = f.payload_start()
        for item in f.items:
            if not (item.is_xmp or item.is_exif):
                continue
            what = "XMP" if item.is_xmp else "Exif"
            where = f"{what} item {item.item_id} (infe at offset {item.offset})"
            try:
                data, offset = f.item_data(src, item.item_id)
            except UnsupportedOperation as exc:
                ev.findings.append(Finding("format.heif", Level.WARNING, f"{what} item not read: {exc}",
                                           location=where))
                continue
            before = None if payload is None else offset < payload
            if item.is_xmp:
                found = evidence_from_xmp(data, where, offset=offset, before_payload=before)
            else:
                tiff, problem = _exif_tiff(data)
                if tiff is None:
                    ev.findings.append(Finding("format.exif", Level.WARNING, f"EXIF item ignored: {problem}",
                                               location=where))
                    continue
                found = evidence_from_exif(tiff, where, offset=offset, before_payload=before)
            ev.labels += found[0]
            ev.traces += found[1]
            ev.findings += found[2]
        return ev

    # ----------------------------------------------------------------------------- writing

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        f = HeifFile.parse(src)
        meta = f.meta
        if meta is None or f.meta_src is None:
            raise UnsupportedOperation("this HEIF file has no top-level 'meta' box (an image sequence without a "
                                       "still image?); adding an XMP item is not supported")
        if sum(1 for b in f.boxes if b.type == b"meta") > 1:
            raise CorruptFile("corrupt: two top-level 'meta' boxes")
        if f.iloc is None or f.iloc_box is None or f.iinf_box is None:
            raise CorruptFile("corrupt: the meta box lacks its item tables (iloc, iinf)")
        if f.primary is None:
            raise CorruptFile("corrupt: the meta box names no primary item (pitm)")
        iloc = f.iloc
        loc_ids = {loc.item_id for loc in iloc.items}
        for loc in iloc.items:
            if loc.construction_method == 0 and loc.data_reference_index == 0:
                for e in loc.extents:
                    if meta.offset <= loc.base_offset + e.offset < meta.end:
                        raise UnsupportedOperation(f"item {loc.item_id} is stored inside the meta box by file "
                                                   "offset; rewriting the meta box would break it")

        idat = bytearray(f.idat_payload())
        idat_changed = False
        patches: dict[int, bytes] = {}  # file offset -> same-length replacement (outside meta)

        def put(item_id: int, data: bytes) -> None:
            """Store same-length *data* back where item *item_id* lives."""
            nonlocal idat_changed
            loc = iloc.get(item_id)
            assert loc is not None
            pos = 0
            for start, length in f.extent_ranges(loc, src.size, len(idat)):
                piece = data[pos:pos + length]
                pos += length
                if loc.construction_method == 1:
                    idat[start:start + length] = piece
                    idat_changed = True
                else:
                    patches[start] = piece

        # EXIF records in Exif items: blanked in place, same length (never two records).
        for item in f.items:
            if not item.is_exif or item.item_id not in loc_ids:
                continue
            data, _ = f.item_data(src, item.item_id)
            tiff, _problem = _exif_tiff(data)
            if tiff is None:
                continue
            block = bytearray(tiff)
            try:
                old = exif_record_entries(TiffDirectory(block))
            except CorruptFile:
                continue
            for entry in old:
                blank_entry(block, entry)
            if old:
                put(item.item_id, data[:len(data) - len(tiff)] + bytes(block))

        # The XMP item: merge into the existing packet, or create the item.
        xmp_items = [i for i in f.items if i.is_xmp]
        if len(xmp_items) > 1:
            raise CorruptFile("two XMP items; refusing to guess which to keep")
        dropped: Box | None = None  # a top-level mdat that held nothing but the old packet
        items_changed = refs_changed = False
        refs = list(f.refs)
        if xmp_items:
            xmp_id = xmp_items[0].item_id
            loc = iloc.get(xmp_id)
            if loc is None:
                raise CorruptFile(f"corrupt: XMP item {xmp_id} has no location in iloc")
            existing, _ = f.item_data(src, xmp_id)
            ranges = f.extent_ranges(loc, src.size, len(idat))
            if self._can_clear(f, xmp_id, loc, ranges, src.size, len(idat)):
                dropped = self._own_box(f, loc, ranges)
                if dropped is None:
                    put(xmp_id, b"\x00" * len(existing))  # the old packet leaves no readable record behind
                    if loc.construction_method == 1 and ranges and ranges[-1][0] + ranges[-1][1] == len(idat):
                        del idat[ranges[-1][0]:]  # it was the tail of idat: drop it
        else:
            existing = None
            xmp_id = max([*loc_ids, *(i.item_id for i in f.items), f.primary]) + 1
            if xmp_id > 0xFFFFFFFF:
                raise UnsupportedOperation("no free item id for the XMP item")
            items_changed = True
        if not any(r.type == b"cdsc" and r.from_id == xmp_id and f.primary in r.to_ids for r in refs):
            refs.append(ItemReference(b"cdsc", xmp_id, [f.primary]))
            refs_changed = True
        packet = build_xmp(existing, label)
        xmp_box = make_box(b"mdat", packet)  # a box of its own, right after meta: before the image data

        # The rebuilt meta box: every child as it was, except the ones that change.
        m = f.meta_src
        parts: list[bytes | None] = []
        iloc_index = -1
        for child in f.children:
            if child is f.iloc_box:
                iloc_index = len(parts)
                parts.append(None)  # depends on the final size; built below
            elif child is f.iinf_box and items_changed:
                parts.append(self._iinf_with(f, child, xmp_id))
                if f.iref_box is None:
                    parts.append(_serialize_iref(0, refs))
            elif child is f.iref_box and refs_changed:
                parts.append(_serialize_iref(f.iref_version, refs))
            elif child is f.idat and idat_changed:
                if idat or any(loc.construction_method == 1 for loc in iloc.items if loc.item_id != xmp_id):
                    parts.append(make_box(b"idat", bytes(idat)))
                # else: it held only the old packet; an empty idat is dropped
            else:
                parts.append(m.read_at(child.offset, child.size))
        if f.iref_box is None and refs_changed and not items_changed:
            parts.append(_serialize_iref(0, refs))  # an existing XMP item without any reference
        head = m.read_at(meta.payload_offset, 4)  # meta's version and flags
        fixed = 12 + sum(len(p) for p in parts if p is not None)  # meta without its iloc

        # Where everything goes: meta (and the new packet box right after it) stays where it was, or
        # moves to just after ftyp when the image data came first; every other top-level box keeps
        # its order.  Item data stored by file offset follows its box.
        kept = [b for b in f.boxes if b is not meta and b is not dropped]
        payload = f.payload_start()
        insert_at = f.boxes[0].end if payload is not None and payload < meta.offset else meta.offset
        position = [loc.item_id for loc in iloc.items]
        order = position if xmp_id in position else [*position, xmp_id]
        iloc_bytes = b""
        new_meta_size = meta.size
        for _ in range(8):  # the iloc size depends on the offsets, which depend on the iloc size
            layout = _Layout(kept, insert_at, new_meta_size + len(xmp_box))
            locs = {loc.item_id: _relocated(loc, layout) for loc in iloc.items if loc.item_id != xmp_id}
            # The packet's file position goes in base_offset with extent_offset 0, as libheif writes
            # it (serialize() widens a 0-byte base_offset field, resizing every entry): c2pa-rs 0.91
            # shifts both fields of an item whose base_offset is 0, which would misplace the packet.
            locs[xmp_id] = ItemLocation(xmp_id, 0, 0, layout.inserted + new_meta_size + 8,
                                        [Extent(0, 0, len(packet))])
            iloc_bytes = replace(iloc, items=[locs[i] for i in order]).serialize()
            size = fixed + len(iloc_bytes)
            if size == new_meta_size:
                break
            new_meta_size = size
        else:  # pragma: no cover - field sizes only widen, so this settles in two or three rounds
            raise AssertionError("iloc size did not settle")
        if layout.moves_any and any(b.type == b"moov" for b in f.boxes):
            raise UnsupportedOperation("HEIF image sequence: adding the XMP item would move track data whose "
                                       "'moov' chunk offsets this version does not rewrite")
        parts[iloc_index] = iloc_bytes
        new_meta = make_box(b"meta", head + b"".join(p for p in parts if p is not None))
        assert len(new_meta) == new_meta_size

        ordered = sorted(patches.items())
        for box in layout.before:
            copy_with_patches(src, dst, box.offset, box.end, ordered)
        dst.write(new_meta)
        dst.write(xmp_box)
        for box in layout.after:
            copy_with_patches(src, dst, box.offset, box.end, ordered)

    @staticmethod
    def _can_clear(f: HeifFile, item_id: int, loc: ItemLocation, ranges: list[tuple[int, int]],
                   file_size: int, idat_size: int) -> bool:
        """True when the old XMP bytes are the XMP item's alone: no other item's extents overlap them
        and, stored by file offset, they lie inside one data box's payload (never across box headers)."""
        if loc.construction_method == 0:
            for s, n in ranges:
                if not any(b.type not in (b"ftyp", b"meta") and b.payload_offset <= s and s + n <= b.end
                           for b in f.boxes):
                    return False
        for other in f.iloc.items if f.iloc else []:
            if other.item_id == item_id or other.construction_method != loc.construction_method:
                continue
            try:
                theirs = f.extent_ranges(other, file_size, idat_size)
            except (CorruptFile, UnsupportedOperation):
                continue
            for s, n in ranges:
                if any(s < ts + tn and ts < s + n for ts, tn in theirs):
                    return False
        return True

    @staticmethod
    def _own_box(f: HeifFile, loc: ItemLocation, ranges: list[tuple[int, int]]) -> Box | None:
        """The top-level ``mdat`` after ``meta`` whose whole payload is the old packet (an earlier mark)."""
        if loc.construction_method != 0 or len(ranges) != 1 or f.meta is None:
            return None
        start, length = ranges[0]
        for box in f.boxes:
            if (box.type == b"mdat" and box.offset >= f.meta.end and box.payload_offset == start
                    and box.payload_size == length):
                return box
        return None

    @staticmethod
    def _iinf_with(f: HeifFile, iinf: Box, xmp_id: int) -> bytes:
        """``iinf`` with one more ``infe``: the XMP item (``mime``, ``application/rdf+xml``)."""
        m = f.meta_src
        assert m is not None
        payload = m.read_at(iinf.payload_offset, iinf.payload_size)
        version, flags = full_box_header(payload, iinf)
        skip = 2 if version == 0 else 4
        count = int.from_bytes(payload[4:4 + skip], "big") + 1
        body = payload[4 + skip:]
        if version == 0 and count > 0xFFFF:
            version = 1
        infe_version = 2 if xmp_id <= 0xFFFF else 3
        infe = make_full_box(b"infe", infe_version, 0,
                             xmp_id.to_bytes(2 if infe_version == 2 else 4, "big") + b"\x00\x00" + b"mime"
                             + b"XMP\x00" + XMP_CONTENT_TYPE.encode() + b"\x00")
        return make_full_box(b"iinf", version, flags,
                             count.to_bytes(2 if version == 0 else 4, "big") + body + infe)


class _Layout:
    """The output's top-level boxes: *kept* source boxes in order, with *inserted* bytes (the new
    meta and packet boxes) placed at source offset *insert_at*; maps old file offsets to new ones."""

    def __init__(self, kept: list[Box], insert_at: int, inserted_size: int) -> None:
        self.before = [b for b in kept if b.offset < insert_at]
        self.after = [b for b in kept if b.offset >= insert_at]
        self.new_offset: dict[int, int] = {}
        pos = 0
        for box in self.before:
            self.new_offset[box.offset] = pos
            pos += box.size
        self.inserted = pos
        pos += inserted_size
        for box in self.after:
            self.new_offset[box.offset] = pos
            pos += box.size
        self._starts = [b.offset for b in kept]
        self._kept = kept

    @property
    def moves_any(self) -> bool:
        return any(new != old for old, new in self.new_offset.items())

    def move(self, offset: int) -> int:
        """Where the byte at source *offset* lands (offsets outside every kept box stay put)."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return offset
        box = self._kept[i]
        if offset > box.end:
            return offset
        return self.new_offset[box.offset] + offset - box.offset


def _relocated(loc: ItemLocation, layout: _Layout) -> ItemLocation:
    """*loc* with its file-offset extents moved with their boxes; fields widen on serialising."""
    if loc.construction_method != 0 or loc.data_reference_index != 0:
        return loc
    absolute = [loc.base_offset + e.offset for e in loc.extents]
    new_abs = [layout.move(a) for a in absolute]
    if new_abs == absolute:
        return loc
    shifts = {n - a for a, n in zip(absolute, new_abs)}
    if len(shifts) == 1 and loc.base_offset:
        (shift,) = shifts
        if loc.base_offset + shift >= 0:
            return replace(loc, base_offset=loc.base_offset + shift)
    base = loc.base_offset if all(n >= loc.base_offset for n in new_abs) else 0
    return replace(loc, base_offset=base, extents=[replace(e, offset=n - base) for e, n in zip(loc.extents, new_abs)])


def _exif_tiff(data: bytes) -> tuple[bytes | None, str]:
    """The TIFF block of an ``Exif`` item: a 4-byte offset to the TIFF header, then the EXIF data."""
    if len(data) < 4:
        return None, "shorter than its 4-byte header offset"
    (skip,) = struct.unpack(">I", data[:4])
    start = 4 + skip
    if start + 8 > len(data):
        return None, f"TIFF header offset {skip} lies outside the item"
    tiff = data[start:]
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None, "no TIFF header where the item's header offset points"
    return tiff, ""
