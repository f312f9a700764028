"""The incremental update of a PDF (ISO 32000 7.5.6): objects appended after the original bytes,
with a cross-reference section (table or stream, like the original's last one) and a trailer.

What is appended must be readable by every reader (qpdf, pypdf, Acrobat), so the update refuses to
write what would break the file instead of writing it: object numbers must lie in 1 ..
:data:`MAX_OBJECT_NUMBER` (the limit ISO 32000-1 Annex C sets for readers), generations in
0 .. 65535, and a changed object must be one the document contains.  A damaged input whose
references point elsewhere raises :class:`~aigclabel.errors.CorruptFile` before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import TYPE_CHECKING, Any, BinaryIO

from .. import limits
from ..errors import CorruptFile

if TYPE_CHECKING:  # pragma: no cover
    from .pdf import PdfDocument

__all__ = ["IncrementalUpdate", "MAX_OBJECT_NUMBER", "MAX_GENERATION", "valid_ref"]

#: the largest object number a reader must accept (ISO 32000-1 Annex C; qpdf refuses larger ones)
MAX_OBJECT_NUMBER = 8_388_607
MAX_GENERATION = 65_535


def valid_ref(num: Any, gen: Any) -> bool:
    """True when (*num*, *gen*) can be written in a cross-reference section every reader accepts."""
    return (isinstance(num, int) and isinstance(gen, int) and 0 < num <= MAX_OBJECT_NUMBER
            and 0 <= gen <= MAX_GENERATION)

class IncrementalUpdate:
    """Objects to append to a PDF, and the cross-reference section and trailer that make them count.

    ``put(ref, obj)`` stores a new version of an existing object (same number and generation);
    ``add(obj)`` allocates a new number.  ``write(dst)`` copies the original unchanged, then appends.
    Streams are pypdf ``StreamObject``s holding their encoded data (``set_data``) and filter keys.
    """

    def __init__(self, doc: PdfDocument) -> None:
        self.doc = doc
        self._objects: dict[int, tuple[int, Any]] = {}  # number -> (generation, object)
        self._plain: set[int] = set()  # objects never encrypted (XMP with /EncryptMetadata false)
        self._next = doc.next_number()
        #: numbers from here on are ours (new objects); below, put() replaces the document's objects
        self._first_new = self._next
        self.info_ref: Any = None  # the trailer's new /Info, when it changes

    def new_ref(self) -> Any:
        from pypdf.generic import IndirectObject

        if self._next > MAX_OBJECT_NUMBER:
            raise CorruptFile(f"the PDF already uses object numbers up to {self._next - 1}, past the "
                              f"{MAX_OBJECT_NUMBER:,} readers accept: no object can be added; file left unchanged")
        ref = IndirectObject(self._next, 0, self.doc.reader)
        self._next += 1
        return ref

    def add(self, obj: Any, *, encrypt: bool = True) -> Any:
        ref = self.new_ref()
        self.put(ref, obj, encrypt=encrypt)
        return ref

    def put(self, ref: Any, obj: Any, *, encrypt: bool = True) -> None:
        num, gen = ref.idnum, ref.generation
        if not valid_ref(num, gen):
            raise CorruptFile(f"the PDF refers to object {num} {gen}, outside the numbers readers accept "
                              "(a damaged or hostile file): it cannot be updated; file left unchanged")
        if num < self._first_new and not self.doc.has_object(num, gen):
            raise CorruptFile(f"the PDF refers to object {num} {gen}, which it does not contain: an update "
                              "replacing it would not be read back; file left unchanged")
        self._objects[num] = (gen, obj)
        if not encrypt:
            self._plain.add(ref.idnum)

    def __bool__(self) -> bool:
        return bool(self._objects)

    @staticmethod
    def stream(data: bytes, entries: dict[str, Any] | None = None, *, compress: bool = False) -> Any:
        """A new stream object holding *data* (Flate-compressed when *compress*)."""
        from pypdf.generic import NameObject, StreamObject

        stream = StreamObject()
        for key, value in (entries or {}).items():
            stream[NameObject(key)] = value
        if compress:
            stream[NameObject("/Filter")] = NameObject("/FlateDecode")
            data = zlib.compress(data, 6)
        stream.set_data(data)
        return stream

    # -- writing ---------------------------------------------------------------------------------

    def _serialize(self, num: int, gen: int, obj: Any) -> bytes:
        enc = self.doc.encryption
        if enc is not None and num not in self._plain:
            obj = enc.encrypt_object(obj, num, gen)
        out = io.BytesIO()
        out.write(f"{num} {gen} obj\n".encode())
        obj.write_to_stream(out)
        out.write(b"\nendobj\n")
        return out.getvalue()

    def _trailer_entries(self) -> dict[str, Any]:
        from pypdf.generic import ArrayObject, ByteStringObject

        doc = self.doc
        entries: dict[str, Any] = {"/Root": doc.trailer_raw("/Root")}
        root = entries["/Root"]
        if not valid_ref(getattr(root, "idnum", None), getattr(root, "generation", None)):
            raise CorruptFile("the PDF's trailer /Root is not a reference readers accept; file left unchanged")
        info = self.info_ref if self.info_ref is not None else doc.trailer_raw("/Info")
        if getattr(info, "idnum", None) is not None and not (
                valid_ref(info.idnum, info.generation) and (info.idnum >= self._first_new
                                                            or doc.has_object(info.idnum, info.generation))):
            info = None  # a dangling /Info (no such object): repeating it would only break readers
        # an update's trailer repeats the previous one (ISO 32000 7.5.6), a direct Info dictionary too
        if info is not None and (getattr(info, "idnum", None) is not None or not doc.encrypted):
            entries["/Info"] = info
        if doc.encrypted:
            entries["/Encrypt"] = doc.trailer_raw("/Encrypt")
        old_id = doc.reader.trailer.get("/ID")
        first = b""
        if isinstance(old_id, ArrayObject) and old_id:
            first = getattr(old_id[0].get_object(), "original_bytes", b"")
        if not first:
            if doc.encrypted:
                return entries  # its key was derived without an /ID: adding one would lock readers out
            first = hashlib.md5(f"{doc.size}:{doc.startxref}".encode(), usedforsecurity=False).digest()
        digest = hashlib.md5(first, usedforsecurity=False)
        for num in sorted(self._objects):
            digest.update(f"{num}:{self._objects[num][0]};".encode())
        # The first identifier never changes (an encryption key depends on it); the second does.
        entries["/ID"] = ArrayObject([ByteStringObject(first), ByteStringObject(digest.digest())])
        return entries

    def write(self, dst: BinaryIO) -> None:
        """Copy the original to *dst* and append this update (nothing is appended when it is empty)."""
        from .pdf import pypdf_errors

        doc = self.doc
        doc.src.seek(0)
        copied = doc.src.copy_to(dst, doc.size)
        if copied != doc.size:
            raise CorruptFile("the PDF changed size while it was being copied")
        if not self._objects:
            return
        shift = doc.header_offset  # offsets count from the %PDF- header
        base = doc.size - shift
        buf = bytearray()
        if not doc.ends_with_eol:
            buf += b"\n"
        offsets: dict[int, tuple[str, int, int]] = {}
        for num in sorted(self._objects):
            gen, obj = self._objects[num]
            _check_references(obj, num)
            offsets[num] = ("n", base + len(buf), gen)
            buf += self._serialize(num, gen, obj)
        with pypdf_errors("writing the incremental update"):
            trailer = self._trailer_entries()
        if doc.xref_ok:
            entries = offsets
            prev: int | None = doc.startxref
        else:
            entries = {num: (e[0], e[1] - shift if e[0] == "n" else e[1], e[2])
                       for num, e in doc.object_ids().items()}
            entries.update(offsets)
            prev = None
        entries = {n: e for n, e in entries.items() if valid_ref(n, e[2] if e[0] == "n" else 0)}
        size = max([self._next, *(n + 1 for n in entries)])
        use_stream = doc.xref_kind == "stream" or (not doc.xref_ok and any(e[0] == "c" for e in entries.values()))
        xref_at = base + len(buf)
        if use_stream:
            num = size
            size += 1
            entries = {**entries, num: ("n", xref_at, 0)}
            buf += _xref_stream(num, entries, trailer, size, prev)
        else:
            buf += _xref_table(entries, trailer, size, prev)
        buf += b"startxref\n%d\n%%%%EOF\n" % xref_at
        dst.write(bytes(buf))


def _check_references(obj: Any, num: int) -> None:
    """Refuse to write object *num* when a reference in it (at any depth) is one no reader accepts:
    what we copy from a damaged original (a page's entries, the old Info's) may carry one."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    stack: list[tuple[Any, int]] = [(obj, 0)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        limits.check_count(seen, f"values in PDF object {num}")
        if isinstance(value, IndirectObject):
            if not valid_ref(value.idnum, value.generation):
                raise CorruptFile(f"object {num} of the update would refer to object {value.idnum} "
                                  f"{value.generation}, outside the numbers readers accept (copied from a damaged "
                                  "file): it cannot be updated; file left unchanged")
        elif isinstance(value, (DictionaryObject, ArrayObject)):
            limits.check_depth(depth + 1, f"PDF object {num}")
            items = value.values() if isinstance(value, DictionaryObject) else value
            stack.extend((item, depth + 1) for item in items)


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted object numbers as (first, count)."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][0] + runs[-1][1] == n:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((n, 1))
    return runs


def _trailer_dict(trailer: dict[str, Any], size: int, prev: int | None) -> Any:
    from pypdf.generic import DictionaryObject, NameObject, NumberObject

    d = DictionaryObject()
    d[NameObject("/Size")] = NumberObject(size)
    if prev is not None:
        d[NameObject("/Prev")] = NumberObject(prev)
    for key, value in trailer.items():
        d[NameObject(key)] = value
    return d


def _xref_table(entries: dict[int, tuple[str, int, int]], trailer: dict[str, Any], size: int,
                prev: int | None) -> bytes:
    # Every section starts with the free-list head (object 0), as Acrobat writes updates: some
    # readers take a section whose first subsection is not 0 for a mis-numbered table.
    out = bytearray(b"xref\n")
    numbers = [0, *sorted(entries)]
    for first, count in _runs(numbers):
        out += b"%d %d\n" % (first, count)
        for n in range(first, first + count):
            if n == 0:
                out += b"0000000000 65535 f\r\n"
            else:
                _, offset, gen = entries[n]
                out += b"%010d %05d n\r\n" % (offset, gen)
    stream = io.BytesIO()
    _trailer_dict(trailer, size, prev).write_to_stream(stream)
    out += b"trailer\n" + stream.getvalue() + b"\n"
    return bytes(out)


def _xref_stream(num: int, entries: dict[int, tuple[str, int, int]], trailer: dict[str, Any], size: int,
                 prev: int | None) -> bytes:
    from pypdf.generic import ArrayObject, NameObject, NumberObject, StreamObject

    numbers = [0, *sorted(entries)]
    biggest = max([1, *(e[1] for e in entries.values())])
    w2 = max(1, (biggest.bit_length() + 7) // 8)
    w3 = 2
    rows = bytearray()
    for n in numbers:
        if n == 0:
            rows += b"\x00" + (0).to_bytes(w2, "big") + (65535).to_bytes(w3, "big")
            continue
        kind, a, b = entries[n]
        rows += (b"\x01" if kind == "n" else b"\x02") + a.to_bytes(w2, "big") + min(b, 65535).to_bytes(w3, "big")
    d = _trailer_dict(trailer, size, prev)
    stream = StreamObject()
    stream.update(d)
    stream[NameObject("/Type")] = NameObject("/XRef")
    stream[NameObject("/W")] = ArrayObject([NumberObject(1), NumberObject(w2), NumberObject(w3)])
    stream[NameObject("/Index")] = ArrayObject(
        [NumberObject(v) for run in _runs(numbers) for v in run])
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream.set_data(zlib.compress(bytes(rows), 6))
    out = io.BytesIO()
    out.write(f"{num} 0 obj\n".encode())
    stream.write_to_stream(out)  # cross-reference streams are never encrypted
    out.write(b"\nendobj\n")
    return out.getvalue()
