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
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ..report import Finding, Level
from ._bmff import (
    Box,
    copy_with_patches,
    full_box_header,
    make_box,
    make_full_box,
)
from ._exif import TiffDirectory, blank_entry
from ._heif_items import (
    MAX_ITEM,
    MAX_META,
    XMP_CONTENT_TYPE,
    Extent,
    HeifFile,
    ItemInfo,
    ItemLocation,
    ItemLocationBox,
    ItemReference,
    serialize_iref,
)
from ._image_meta import build_xmp, evidence_from_exif, evidence_from_xmp, exif_record_entries
from .base import Evidence, FormatHandler, ImplicitLabel, unreadable

__all__ = ["HeifHandler", "HeifFile", "HEIF_BRANDS", "XMP_CONTENT_TYPE", "MAX_META", "MAX_ITEM", "ItemInfo",
           "ItemLocation", "ItemLocationBox", "ItemReference", "Extent"]

#: ftyp brands of HEIF still images and sequences (HEVC, AV1, AVC, JPEG, VVC, JPEG 2000, generic MIAF)
HEIF_BRANDS = frozenset({
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    b"mif1", b"mif2", b"msf1", b"avif", b"avis", b"avci", b"avcs",
    b"jpeg", b"jpgs", b"vvic", b"vvis", b"j2ki", b"j2is",
})


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
                ev.findings.append(unreadable("format.heif", f"{what} item", exc, where))
                continue
            before = None if payload is None else offset < payload
            if item.is_xmp:
                found = evidence_from_xmp(data, where, offset=offset, before_payload=before)
            else:
                tiff, problem = _exif_tiff(data)
                if tiff is None:
                    ev.findings.append(unreadable("format.exif", "EXIF item", problem, where))
                    continue
                found = evidence_from_exif(tiff, where, offset=offset, before_payload=before)
            ev.labels += found[0]
            ev.traces += found[1]
            ev.findings += found[2]
        return ev

    # ----------------------------------------------------------------------------- writing

    def image_access(self, src: CountingReader) -> Any:
        """The primary image's pixels for the image rule (its declared ``ispe`` size checked first)."""
        from .media_image import HeifAccess, read_all

        f = HeifFile.parse(src)
        return HeifAccess(read_all(src), f.primary_size() if f.meta is not None else None)

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        f = HeifFile.parse(src)
        meta, _iloc = _check_writable(f)
        primary = f.primary
        assert primary is not None  # _check_writable refuses a file without pitm
        edits = _ItemEdits(f, src.size)
        _blank_exif_records(f, src, edits)
        xmp = self._xmp_item(f, src, edits)
        refs = list(f.refs)
        refs_changed = False
        if not any(r.type == b"cdsc" and r.from_id == xmp.item_id and primary in r.to_ids for r in refs):
            refs.append(ItemReference(b"cdsc", xmp.item_id, [primary]))
            refs_changed = True
        packet = build_xmp(xmp.existing, label)
        xmp_box = make_box(b"mdat", packet)  # a box of its own, right after meta: before the image data
        parts, iloc_index = self._meta_parts(f, xmp, refs, refs_changed, edits)
        assert f.meta_src is not None
        head = f.meta_src.read_at(meta.payload_offset, 4)  # meta's version and flags
        fixed = 12 + sum(len(p) for p in parts if p is not None)  # meta without its iloc
        layout, iloc_bytes, new_meta_size = _place(f, xmp, fixed, len(xmp_box), len(packet))
        if layout.moves_any and any(b.type == b"moov" for b in f.boxes):
            raise UnsupportedOperation("HEIF image sequence: adding the XMP item would move track data whose "
                                       "'moov' chunk offsets this version does not rewrite")
        parts[iloc_index] = iloc_bytes
        new_meta = make_box(b"meta", head + b"".join(p for p in parts if p is not None))
        assert len(new_meta) == new_meta_size
        ordered = sorted(edits.patches.items())
        for box in layout.before:
            copy_with_patches(src, dst, box.offset, box.end, ordered)
        dst.write(new_meta)
        dst.write(xmp_box)
        for box in layout.after:
            copy_with_patches(src, dst, box.offset, box.end, ordered)

    def _xmp_item(self, f: HeifFile, src: CountingReader, edits: _ItemEdits) -> _XmpItem:
        """The XMP item to write: the existing one (its old bytes cleared) or a new id."""
        iloc = f.iloc
        assert iloc is not None and f.primary is not None
        xmp_items = [i for i in f.items if i.is_xmp]
        if len(xmp_items) > 1:
            raise CorruptFile("two XMP items; refusing to guess which to keep")
        if not xmp_items:
            loc_ids = {loc.item_id for loc in iloc.items}
            xmp_id = max([*loc_ids, *(i.item_id for i in f.items), f.primary]) + 1
            if xmp_id > 0xFFFFFFFF:
                raise UnsupportedOperation("no free item id for the XMP item")
            return _XmpItem(xmp_id, None, None, True)
        xmp_id = xmp_items[0].item_id
        loc = iloc.get(xmp_id)
        if loc is None:
            raise CorruptFile(f"corrupt: XMP item {xmp_id} has no location in iloc")
        existing, _ = f.item_data(src, xmp_id)
        ranges = f.extent_ranges(loc, src.size, len(edits.idat))
        dropped: Box | None = None  # a top-level mdat that held nothing but the old packet
        if self._can_clear(f, xmp_id, loc, ranges, src.size, len(edits.idat)):
            dropped = self._own_box(f, loc, ranges)
            if dropped is None:
                edits.put(xmp_id, b"\x00" * len(existing))  # the old packet leaves no readable record behind
                if loc.construction_method == 1 and ranges and ranges[-1][0] + ranges[-1][1] == len(edits.idat):
                    del edits.idat[ranges[-1][0]:]  # it was the tail of idat: drop it
        return _XmpItem(xmp_id, existing, dropped, False)

    def _meta_parts(self, f: HeifFile, xmp: _XmpItem, refs: list[ItemReference], refs_changed: bool,
                    edits: _ItemEdits) -> tuple[list[bytes | None], int]:
        """The rebuilt meta box's children: every child as it was, except the ones that change.

        The iloc's slot is None (its size depends on the final offsets; see :func:`_place`).
        """
        m = f.meta_src
        assert m is not None and f.iloc is not None
        parts: list[bytes | None] = []
        iloc_index = -1
        for child in f.children:
            if child is f.iloc_box:
                iloc_index = len(parts)
                parts.append(None)
            elif child is f.iinf_box and xmp.new:
                parts.append(self._iinf_with(f, child, xmp.item_id))
                if f.iref_box is None:
                    parts.append(serialize_iref(0, refs))
            elif child is f.iref_box and refs_changed:
                parts.append(serialize_iref(f.iref_version, refs))
            elif child is f.idat and edits.idat_changed:
                if edits.idat or any(loc.construction_method == 1 for loc in f.iloc.items
                                     if loc.item_id != xmp.item_id):
                    parts.append(make_box(b"idat", bytes(edits.idat)))
                # else: it held only the old packet; an empty idat is dropped
            else:
                parts.append(m.read_at(child.offset, child.size))
        if f.iref_box is None and refs_changed and not xmp.new:
            parts.append(serialize_iref(0, refs))  # an existing XMP item without any reference
        return parts, iloc_index

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


@dataclass
class _XmpItem:
    """The XMP item a HEIF write fills: its id, the old packet, and what changes around it."""
    item_id: int
    existing: bytes | None  # the old packet, merged into the new one
    dropped: Box | None  # a top-level mdat that held nothing but the old packet (dropped from the output)
    new: bool  # a new item (infe added to iinf)


def _check_writable(f: HeifFile) -> tuple[Box, ItemLocationBox]:
    """Refuse what the writer cannot rewrite without breaking the file; (meta box, iloc)."""
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
    for loc in f.iloc.items:
        if loc.data_reference_index != 0:
            # Readers differ on such items (libheif reads them from this file); their offsets could not be
            # shifted with the boxes, so writing would leave a file the decoder rejects.
            raise UnsupportedOperation(f"item {loc.item_id} is stored in another file (data reference "
                                       f"{loc.data_reference_index}); its offsets cannot follow a rewritten "
                                       "meta box, so the file is left unchanged")
        if loc.construction_method == 0:
            for e in loc.extents:
                if meta.offset <= loc.base_offset + e.offset < meta.end:
                    raise UnsupportedOperation(f"item {loc.item_id} is stored inside the meta box by file "
                                               "offset; rewriting the meta box would break it")
    return meta, f.iloc


class _ItemEdits:
    """Same-length changes to item data: in ``idat`` (construction method 1) or patches by file offset."""

    def __init__(self, f: HeifFile, file_size: int) -> None:
        self.f = f
        self.file_size = file_size
        self.idat = bytearray(f.idat_payload())
        self.idat_changed = False
        self.patches: dict[int, bytes] = {}  # file offset -> same-length replacement (outside meta)

    def put(self, item_id: int, data: bytes) -> None:
        """Store same-length *data* back where item *item_id* lives."""
        assert self.f.iloc is not None
        loc = self.f.iloc.get(item_id)
        assert loc is not None
        pos = 0
        for start, length in self.f.extent_ranges(loc, self.file_size, len(self.idat)):
            piece = data[pos:pos + length]
            pos += length
            if loc.construction_method == 1:
                self.idat[start:start + length] = piece
                self.idat_changed = True
            else:
                self.patches[start] = piece


def _blank_exif_records(f: HeifFile, src: CountingReader, edits: _ItemEdits) -> None:
    """EXIF records in Exif items: blanked in place, same length (never two records)."""
    assert f.iloc is not None
    loc_ids = {loc.item_id for loc in f.iloc.items}
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
            edits.put(item.item_id, data[:len(data) - len(tiff)] + bytes(block))


def _place(f: HeifFile, xmp: _XmpItem, fixed: int, xmp_box_size: int,
           packet_size: int) -> tuple[_Layout, bytes, int]:
    """(layout, iloc bytes, new meta size): where every box goes and the iloc that says so.

    meta (and the new packet box right after it) stays where it was, or moves to just after ftyp
    when the image data came first; every other top-level box keeps its order.  Item data stored
    by file offset follows its box.  The iloc size depends on the offsets, which depend on the iloc
    size: a few rounds settle it (field sizes only widen).
    """
    meta, iloc = f.meta, f.iloc
    assert meta is not None and iloc is not None
    kept = [b for b in f.boxes if b is not meta and b is not xmp.dropped]
    payload = f.payload_start()
    insert_at = f.boxes[0].end if payload is not None and payload < meta.offset else meta.offset
    position = [loc.item_id for loc in iloc.items]
    order = position if xmp.item_id in position else [*position, xmp.item_id]
    new_meta_size = meta.size
    for _ in range(8):
        layout = _Layout(kept, insert_at, new_meta_size + xmp_box_size)
        locs = {loc.item_id: _relocated(loc, layout) for loc in iloc.items if loc.item_id != xmp.item_id}
        # The packet's file position goes in base_offset with extent_offset 0, as libheif writes
        # it (serialize() widens a 0-byte base_offset field, resizing every entry): c2pa-rs 0.91
        # shifts both fields of an item whose base_offset is 0, which would misplace the packet.
        locs[xmp.item_id] = ItemLocation(xmp.item_id, 0, 0, layout.inserted + new_meta_size + 8,
                                         [Extent(0, 0, packet_size)])
        iloc_bytes = replace(iloc, items=[locs[i] for i in order]).serialize()
        size = fixed + len(iloc_bytes)
        if size == new_meta_size:
            return layout, iloc_bytes, new_meta_size
        new_meta_size = size
    raise AssertionError("iloc size did not settle")  # pragma: no cover - field sizes only widen


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
    shifts = {n - a for a, n in zip(absolute, new_abs, strict=True)}
    if len(shifts) == 1 and loc.base_offset:
        (shift,) = shifts
        if loc.base_offset + shift >= 0:
            return replace(loc, base_offset=loc.base_offset + shift)
    base = loc.base_offset if all(n >= loc.base_offset for n in new_abs) else 0
    return replace(loc, base_offset=base, extents=[replace(e, offset=n - base) 
                                                   for e, n in zip(loc.extents, new_abs, strict=True)])


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
