"""A guarded ZIP reader and a raw-copy ZIP rewriter, for the Office (OOXML) handlers.

Why not :mod:`zipfile`: it cannot copy a member's compressed bytes and local header unchanged
into a new archive (it recompresses, or at best rewrites the headers), it trusts the sizes an
archive declares, and it neither refuses overlapping members nor unsafe names.  Marking an
Office file changes two to five small parts; everything else -- images, embedded fonts, media --
must leave byte for byte, without being inflated.  So this module reads the central directory
itself and :func:`rewrite` streams every unchanged member (local header, data, data descriptor)
as one raw byte range, writing only the changed and new members by hand.

What is refused (the typed error names the member):

* **structure** -- no end-of-central-directory record (truncated), a central directory outside
  the file or not where it says, local headers that do not match their central entries,
  members that overlap each other or the central directory (the "overlapping files" bomb),
  duplicate part names (OPC names compare case-insensitively) -> :class:`CorruptFile`;
* **unsafe names** -- absolute paths, ``..`` or ``.`` segments, backslashes, drive letters,
  control characters -> :class:`CorruptFile`;
* **size** -- more than :data:`MAX_MEMBERS` members or a central directory over
  :data:`MAX_CENTRAL_DIRECTORY` bytes; a member that declares, or inflates to, more than
  :data:`MAX_INFLATE` bytes, or more than :data:`MAX_RATIO` times its compressed size once past
  :data:`RATIO_FLOOR` bytes; more than :data:`MAX_TOTAL_INFLATE` inflated per archive.
  Inflating stops at the declared size: a member that produces more is corrupt, whatever its
  header says -> :class:`CorruptFile`;
* **unsupported** -- ZIP64, multi-disk archives, encrypted members, compression methods other
  than stored and deflate (for members that must be read) -> :class:`UnsupportedOperation`.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterable

from .. import limits
from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation

__all__ = ["ZipArchive", "Member", "NewMember", "rewrite", "ZIP_MAGIC", "MAX_MEMBERS", "MAX_INFLATE",
           "MAX_RATIO", "RATIO_FLOOR", "MAX_TOTAL_INFLATE", "MAX_CENTRAL_DIRECTORY", "safe_name", "tag_end",
           "resolve_target", "rels_part"]

ZIP_MAGIC = b"PK\x03\x04"
_EOCD = b"PK\x05\x06"
_CENTRAL = b"PK\x01\x02"
_ZIP64_LOCATOR = b"PK\x06\x07"
_DESCRIPTOR = b"PK\x07\x08"

#: most members an archive may have (an Office file with thousands of slides stays well below)
MAX_MEMBERS = 20_000
#: largest central directory read
MAX_CENTRAL_DIRECTORY = 16 << 20
#: the most one member may inflate to
MAX_INFLATE = 200 << 20
#: past RATIO_FLOOR inflated bytes, a member may inflate to at most this many times its size
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20
#: the most all the members read from one archive may inflate to together
MAX_TOTAL_INFLATE = 512 << 20

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes
_CENTRAL_REC = struct.Struct("<4sHHHHHHIIIHHHHHII")  # 46 bytes
_EOCD_REC = struct.Struct("<4sHHHHIIH")  # 22 bytes
_FLAG_ENCRYPTED = 0x0001
_FLAG_DESCRIPTOR = 0x0008
_FLAG_STRONG_ENCRYPTION = 0x0040
_FLAG_UTF8 = 0x0800
_STORED, _DEFLATED = 0, 8
_QUOTED_OR_GT = re.compile(rb"\"[^\"]*\"|'[^']*'|>")


@dataclass
class Member:
    """One central-directory entry, as found (``record`` is its raw central record)."""

    index: int
    name: str
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    dos_time: int
    dos_date: int
    offset: int  # of the local header
    record: bytes  # the whole central record (46 bytes + name + extra + comment)
    #: end of this member's byte range: the next member's local header or the central directory
    segment_end: int = 0
    #: set once the local header is read
    data_offset: int | None = None
    local_extra: bytes | None = None
    raw_name: bytes = b""

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


@dataclass
class NewMember:
    """A member to write: its part name and content (deflated on writing)."""

    name: str
    data: bytes


def safe_name(name: str) -> str | None:
    """Why *name* is unsafe as a member path, or None when it is fine."""
    if not name:
        return "an empty name"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "a control character"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/"):
        return "an absolute path"
    if re.match(r"^[A-Za-z]:", name):
        return "a drive letter"
    segments = name.rstrip("/").split("/")
    if any(s in ("..", ".") for s in segments):
        return "a '..' or '.' path segment"
    if any(s == "" for s in segments):
        return "an empty path segment"
    return None


class ZipArchive:
    """The central directory of a ZIP archive, checked; members are read on demand with caps."""

    def __init__(self, src: CountingReader) -> None:
        self.src = src
        self.members: list[Member] = []
        self._by_name: dict[str, Member] = {}
        self.inflated = 0
        self._parse()

    # ----------------------------------------------------------------------------- structure

    def _parse(self) -> None:
        src = self.src
        size = src.size
        if size < _EOCD_REC.size:
            raise CorruptFile("truncated ZIP archive: too short for an end-of-central-directory record")
        # The end record is the last 22 bytes plus the archive comment (at most 65,535 bytes):
        # look in the last 4 KB first, in the whole window only when the comment is long.
        eocd_at = None
        for window in sorted({min(size, 4096), min(size, _EOCD_REC.size + 0xFFFF)}):
            tail = src.read_at(size - window, window)
            pos = tail.rfind(_EOCD)
            while pos >= 0:
                if pos + _EOCD_REC.size <= len(tail):
                    comment_len = struct.unpack_from("<H", tail, pos + 20)[0]
                    if pos + _EOCD_REC.size + comment_len <= len(tail):
                        eocd_at = pos
                        break
                pos = tail.rfind(_EOCD, 0, pos)
            if eocd_at is not None:
                break
        if eocd_at is None:
            raise CorruptFile("truncated or damaged ZIP archive: no end-of-central-directory record")
        (_sig, disk, cd_disk, entries_here, entries, cd_size, cd_offset,
         comment_len) = _EOCD_REC.unpack_from(tail, eocd_at)
        self.eocd_offset = size - window + eocd_at
        self.comment = tail[eocd_at + 22:eocd_at + 22 + comment_len]
        self.trailing = tail[eocd_at + 22 + comment_len:]  # bytes after the archive comment (kept)
        if (eocd_at >= 20 and tail[eocd_at - 20:eocd_at - 16] == _ZIP64_LOCATOR) or 0xFFFF in (entries, entries_here) \
                or 0xFFFFFFFF in (cd_size, cd_offset):
            raise UnsupportedOperation("ZIP64 archives (over 4 GB or 65,535 members) are not supported")
        if disk != 0 or cd_disk != 0 or entries_here != entries:
            raise UnsupportedOperation("multi-disk (split) ZIP archives are not supported")
        if entries > MAX_MEMBERS:
            raise CorruptFile(f"the ZIP archive has {entries} members, more than the {MAX_MEMBERS} allowed")
        limits.check_count(entries, "ZIP archive members")  # the caller's budget, when tighter
        if cd_size > MAX_CENTRAL_DIRECTORY:
            raise CorruptFile(f"the ZIP central directory is {cd_size} bytes, over the "
                              f"{MAX_CENTRAL_DIRECTORY} allowed")
        if cd_offset + cd_size > self.eocd_offset:
            raise CorruptFile("damaged ZIP archive: the central directory runs past its end record "
                              "(truncated, or data was prepended)")
        self.cd_offset, self.cd_size = cd_offset, cd_size
        cd = src.read_at(cd_offset, cd_size)
        if len(cd) != cd_size:
            raise CorruptFile("truncated ZIP archive: the central directory is cut short")
        pos = 0
        for index in range(entries):
            if pos + _CENTRAL_REC.size > len(cd) or cd[pos:pos + 4] != _CENTRAL:
                raise CorruptFile(f"damaged ZIP central directory: entry {index + 1} of {entries} is missing "
                                  "or not where the directory says")
            (_s, _made, _need, flags, method, dtime, ddate, crc, csize, usize, nlen, xlen, clen, _dstart,
             _iattr, _eattr, offset) = _CENTRAL_REC.unpack_from(cd, pos)
            end = pos + _CENTRAL_REC.size + nlen + xlen + clen
            if end > len(cd):
                raise CorruptFile(f"damaged ZIP central directory: entry {index + 1} runs past its end")
            raw_name = cd[pos + 46:pos + 46 + nlen]
            extra = cd[pos + 46 + nlen:pos + 46 + nlen + xlen]
            name = _decode_name(raw_name, flags)
            if 0xFFFFFFFF in (csize, usize, offset) or _has_zip64_extra(extra):
                raise UnsupportedOperation("ZIP64 archives (over 4 GB or 65,535 members) are not supported")
            why = safe_name(name)
            if why is not None:
                raise CorruptFile(f"unsafe ZIP member name {name[:80]!r}: {why}")
            key = name.lower()
            if key in self._by_name:
                raise CorruptFile(f"duplicate ZIP member {name!r} (part names compare case-insensitively)")
            member = Member(index, name, flags, method, crc, csize, usize, dtime, ddate, offset, cd[pos:end],
                            raw_name=raw_name)
            self._by_name[key] = member
            self.members.append(member)
            pos = end
        if pos != len(cd):
            raise CorruptFile("damaged ZIP central directory: its size does not match its entries")
        # Members must not overlap one another or the central directory.  A lower bound of each
        # member's extent (header, name, data) is known from the central directory alone; the
        # exact one (local extra field, data descriptor) is checked when a member is read.
        ordered = sorted(self.members, key=lambda m: m.offset)
        for here, after in zip(ordered, ordered[1:] + [None], strict=True):
            limit = after.offset if after is not None else cd_offset
            if here.offset + _LOCAL.size + len(here.raw_name) + here.csize > limit:
                what = f"member {after.name!r}" if after is not None else "the central directory"
                raise CorruptFile(f"damaged or hostile ZIP archive: member {here.name!r} overlaps {what}")
            here.segment_end = limit
        self.prefix_end = ordered[0].offset if ordered else cd_offset

    def get(self, name: str) -> Member | None:
        return self._by_name.get(name.lower())

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._by_name

    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def _local(self, m: Member) -> int:
        """Read and check *m*'s local header; return the offset of its data."""
        if m.data_offset is not None:
            return m.data_offset
        head = self.src.read_at(m.offset, _LOCAL.size)
        if len(head) != _LOCAL.size or head[:4] != ZIP_MAGIC:
            raise CorruptFile(f"damaged ZIP archive: no local header for member {m.name!r} where the "
                              "central directory says")
        (_s, _need, flags, method, _t, _d, crc, csize, usize, nlen, xlen) = _LOCAL.unpack(head)
        raw_name = self.src.read(nlen)
        extra = self.src.read(xlen)
        if len(raw_name) != nlen or len(extra) != xlen:
            raise CorruptFile(f"truncated ZIP archive: the local header of {m.name!r} is cut short")
        if raw_name != m.raw_name:
            raise CorruptFile(f"damaged or hostile ZIP archive: the local header at offset {m.offset} names "
                              f"{_decode_name(raw_name, flags)[:80]!r}, the central directory {m.name!r}")
        if (flags | m.flags) & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
            raise UnsupportedOperation(f"ZIP member {m.name!r} is encrypted")
        if _has_zip64_extra(extra):
            raise UnsupportedOperation("ZIP64 archives (over 4 GB or 65,535 members) are not supported")
        if method != m.method:
            raise CorruptFile(f"damaged ZIP archive: member {m.name!r} has different compression methods in "
                              "its local header and the central directory")
        if not flags & _FLAG_DESCRIPTOR and (csize, usize, crc) != (m.csize, m.usize, m.crc):
            raise CorruptFile(f"damaged ZIP archive: the local header of {m.name!r} disagrees with the "
                              "central directory about its sizes or checksum")
        data_offset = m.offset + _LOCAL.size + nlen + xlen
        if data_offset + m.csize > m.segment_end:
            raise CorruptFile(f"damaged or hostile ZIP archive: member {m.name!r} overlaps the next member "
                              "or the central directory")
        m.data_offset, m.local_extra = data_offset, extra
        return data_offset

    # ---------------------------------------------------------------------------------- data

    def read(self, name: str, *, limit: int = MAX_INFLATE) -> bytes | None:
        """The inflated content of member *name* (None when absent), within the caps."""
        m = self.get(name)
        if m is None:
            return None
        return self.read_member(m, limit=limit)

    def read_member(self, m: Member, *, limit: int = MAX_INFLATE) -> bytes:
        if m.flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
            raise UnsupportedOperation(f"ZIP member {m.name!r} is encrypted")
        if m.method not in (_STORED, _DEFLATED):
            raise UnsupportedOperation(f"ZIP member {m.name!r} uses compression method {m.method}; only stored "
                                       "and deflate are supported")
        cap = min(limit, MAX_INFLATE)
        if m.usize > RATIO_FLOOR:
            cap = min(cap, max(RATIO_FLOOR, m.csize * MAX_RATIO))
        if m.usize > cap:
            raise CorruptFile(f"ZIP member {m.name!r} declares {m.usize} bytes from {m.csize} compressed, over the "
                              f"limit of {cap} (a zip bomb?)")
        limits.check_allocation(m.usize, f"ZIP member {m.name!r}")  # declared size, before inflating
        if self.inflated + m.usize > MAX_TOTAL_INFLATE:
            raise CorruptFile(f"the members read from this ZIP archive inflate to more than {MAX_TOTAL_INFLATE} "
                              "bytes (a zip bomb?)")
        start = self._local(m)
        self.src.seek(start)
        if m.method == _STORED:
            if m.csize != m.usize:
                raise CorruptFile(f"damaged ZIP archive: stored member {m.name!r} has different sizes")
            data = self.src.read(m.csize)
            if len(data) != m.csize:
                raise CorruptFile(f"truncated ZIP archive: member {m.name!r} is cut short")
        else:
            data = self._inflate(m)
        if zlib.crc32(data) != m.crc:
            raise CorruptFile(f"damaged ZIP archive: member {m.name!r} fails its CRC-32 check")
        self.inflated += len(data)
        return data

    def _inflate(self, m: Member) -> bytes:
        """Inflate *m*, never producing more than its declared size (whatever the stream says)."""
        d = zlib.decompressobj(-15)
        want = m.usize
        remaining = m.csize
        parts: list[bytes] = []
        produced = 0
        pending = b""
        try:
            while not d.eof:
                if pending:
                    chunk = pending
                elif remaining:
                    chunk = self.src.read(min(1 << 16, remaining))
                    if not chunk:
                        raise CorruptFile(f"truncated ZIP archive: member {m.name!r} is cut short")
                    remaining -= len(chunk)
                else:
                    break
                out = d.decompress(chunk, want - produced + 1)
                pending = d.unconsumed_tail
                produced += len(out)
                if produced > want:
                    raise CorruptFile(f"ZIP member {m.name!r} inflates beyond its declared {want} bytes "
                                      "(a zip bomb, or a damaged archive)")
                parts.append(out)
        except zlib.error as exc:
            raise CorruptFile(f"damaged ZIP archive: member {m.name!r} cannot be inflated ({exc})") from None
        if not d.eof or produced != want:
            raise CorruptFile(f"damaged ZIP archive: member {m.name!r} inflates to {produced} bytes, not the "
                              f"declared {want}")
        return b"".join(parts)


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & _FLAG_UTF8:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptFile("damaged ZIP archive: a member name is not valid UTF-8") from None
    return raw.decode("cp437")


def _has_zip64_extra(extra: bytes) -> bool:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 0x0001:
            return True
        pos += 4 + length
    return False


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _local_header(flags: int, method: int, dtime: int, ddate: int, crc: int, csize: int, usize: int,
                  raw_name: bytes, extra: bytes) -> bytes:
    return _LOCAL.pack(ZIP_MAGIC, 20, flags, method, dtime, ddate, crc, csize, usize, len(raw_name),
                       len(extra)) + raw_name + extra


def rewrite(archive: ZipArchive, dst: BinaryIO, *, replace: dict[str, bytes] | None = None,
            add: Iterable[NewMember] = (), remove: Iterable[str] = (),
            add_after: str | None = None) -> None:
    """Write *archive* to *dst* with some members replaced, removed or added.

    Unchanged members -- local header, compressed data, data descriptor and any bytes up to the
    next member -- are copied as raw byte ranges (one kernel copy per run of unchanged members),
    never inflated; their central records are copied with only the local-header offset updated.
    A replaced member keeps its place, name, timestamps, extra fields, comment and attributes and
    is deflated anew; added members follow *add_after* (a member name) or go last, with the
    timestamp of ``[Content_Types].xml`` (so output does not depend on the clock).  The member
    order, the archive comment and anything after it are kept.
    """
    replace = {k.lower(): v for k, v in (replace or {}).items()}
    removed = {k.lower() for k in remove}
    added = list(add)
    for new in added:
        why = safe_name(new.name)
        if why is not None or new.name in archive:
            raise ValueError(f"cannot add member {new.name!r}")
    for m in archive.members:  # every local header must match its central entry (no "zip confusion")
        archive._local(m)
    src = archive.src
    ordered = sorted(archive.members, key=lambda m: m.offset)
    stamp = archive.get("[Content_Types].xml")
    dtime, ddate = (stamp.dos_time, stamp.dos_date) if stamp is not None else (0, 0x21)  # 1980-01-01
    anchor = add_after.lower() if add_after is not None else (ordered[-1].name.lower() if ordered else None)
    written = 0
    new_offsets: dict[int, int] = {}
    new_records: dict[int, bytes] = {}
    extra_records: list[bytes] = []

    def emit(data: bytes) -> None:
        nonlocal written
        dst.write(data)
        written += len(data)

    def copy(start: int, end: int) -> None:
        nonlocal written
        if end > start:
            src.seek(start)
            got = src.copy_to(dst, end - start)
            if got != end - start:
                raise CorruptFile("truncated ZIP archive: a member is cut short")
            written += got

    def write_added() -> None:
        for new in added:
            raw_name = new.name.encode("utf-8")
            flags = _FLAG_UTF8 if not new.name.isascii() else 0
            body = _deflate(new.data)
            crc = zlib.crc32(new.data)
            offset = written
            emit(_local_header(flags, _DEFLATED, dtime, ddate, crc, len(body), len(new.data), raw_name, b""))
            emit(body)
            extra_records.append(_CENTRAL_REC.pack(_CENTRAL, 20, 20, flags, _DEFLATED, dtime, ddate, crc, len(body),
                                                   len(new.data), len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name)

    copy(0, archive.prefix_end)  # bytes before the first member (normally none)
    run_start: int | None = None
    run_end = 0
    for m in ordered:
        key = m.name.lower()
        if key in replace or key in removed:
            if run_start is not None:
                copy(run_start, run_end)
                run_start = None
            if key in replace:
                new_offsets[m.index] = written
                data = replace[key]
                body = _deflate(data)
                crc = zlib.crc32(data)
                flags = m.flags & ~_FLAG_DESCRIPTOR
                assert m.local_extra is not None
                emit(_local_header(flags, _DEFLATED, m.dos_time, m.dos_date, crc, len(body), len(data), m.raw_name,
                                   m.local_extra))
                emit(body)
                rec = bytearray(m.record)
                struct.pack_into("<HHHHHIII", rec, 6, max(20, struct.unpack_from("<H", rec, 6)[0]), flags, _DEFLATED,
                                 m.dos_time, m.dos_date, crc, len(body), len(data))
                new_records[m.index] = bytes(rec)
        else:
            if run_start is None:
                run_start = m.offset
                shift = written - m.offset
            new_offsets[m.index] = m.offset + shift
            run_end = m.segment_end
        if key == anchor:
            if run_start is not None:
                copy(run_start, run_end)
                run_start = None
            write_added()
            added = []
    if run_start is not None:
        copy(run_start, run_end)
    if added:
        write_added()
    cd_start = written
    count = 0
    for m in archive.members:
        key = m.name.lower()
        if key in removed:
            continue
        central = bytearray(new_records.get(m.index, m.record))
        struct.pack_into("<I", central, 42, new_offsets[m.index])
        emit(bytes(central))
        count += 1
    for added_rec in extra_records:
        emit(added_rec)
        count += 1
    # anything between the old central directory and its end record (e.g. a signature record)
    copy(archive.cd_offset + archive.cd_size, archive.eocd_offset)
    cd_size = written - cd_start
    if count > 0xFFFF or written > 0xFFFFFFFF:
        raise UnsupportedOperation("the marked archive would need ZIP64 (over 4 GB or 65,535 members)")
    emit(_EOCD_REC.pack(_EOCD, 0, 0, count, count, cd_size, cd_start, len(archive.comment)) + archive.comment)
    emit(archive.trailing)


def tag_end(data: bytes, start: int) -> int:
    """Offset just past the ``>`` of the tag starting at *start* (quoted ``>`` skipped)."""
    for match in _QUOTED_OR_GT.finditer(data, start):
        if match.group() == b">":
            return match.end()
    raise CorruptFile("damaged XML: a tag is not closed")


def resolve_target(source_part: str, target: str) -> str | None:
    """The part name a relationship *target* of *source_part* points at (None when it leaves the package)."""
    from urllib.parse import unquote

    target = unquote(target.split("#", 1)[0])
    if not target or "\\" in target:
        return None
    base = [] if target.startswith("/") else [s for s in source_part.split("/")[:-1] if s]
    for segment in target.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not base:
                return None
            base.pop()
        else:
            base.append(segment)
    return "/".join(base) or None


def rels_part(part: str) -> str:
    """The relationships part of *part* (``""`` for the package)."""
    if not part:
        return "_rels/.rels"
    head, tail = posixpath.split(part)
    return posixpath.join(head, "_rels", tail + ".rels")
