"""PDF: the record lives in the document Info dictionary, key ``/AIGC``, as a text string.

Carriers (labelling-rules.md §4, §7):

* **normative** — the Info dictionary (the trailer's ``/Info``) key ``/AIGC``, value the record JSON;
* **also read** — any other Info key containing ``AIGC`` and an AIGC property in the catalog's XMP
  metadata stream (``TC260:AIGC``): both are reported as non-standard placement;
* **convention** — the IPTC ``DigitalSourceType`` in the XMP stream.  We write it there, merged into
  the existing packet, and remove any AIGC property from the XMP, so the file holds one record.

Writing is an **incremental update** (ISO 32000 7.5.6): the original bytes are copied unchanged as
the file's prefix (so signatures over them stay valid) and the changed objects, a cross-reference
section of the same kind as the original's last one (table or stream) and a trailer whose ``/Prev``
points at the old section are appended.  When the original's cross-reference data is damaged (it
cannot be read strictly, or an offset misses its object, or junk precedes the header), the objects
are located by a scan of the file and the appended section is a complete one without ``/Prev``,
so readers no longer need to repair the file.  Offsets count from the ``%PDF-`` header.

Reading parses the trailer chain (not every object), the Info dictionary and the catalog's
metadata stream; pypdf does the parsing, and every pypdf failure becomes :class:`CorruptFile`.
Encrypted files are read with the empty user password when it opens them; writing one needs the
password (:class:`PasswordRequired` otherwise) and keeps it encrypted: new objects are encrypted
with the document's key, never written in the clear.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import logging
import re
import struct
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator

from .._io import CountingReader, buffered
from ..errors import CorruptFile, PasswordRequired, UnsupportedOperation
from ..foreign import foreign_errors
from ..report import Finding, Level
from . import _xmp
from ._pdf_dict import ascii_text_string, read_simple_dictionary
from ._image_meta import evidence_from_xmp, found_label, generator_trace
from .base import Evidence, FormatHandler, ImplicitLabel, unreadable
from .document_access import PdfAccess
from .pdf_update import IncrementalUpdate, valid_ref

__all__ = ["PdfHandler", "PdfDocument", "IncrementalUpdate", "PasswordRequired", "open_document", "prepare_write",
           "pypdf_errors", "pypdf_log", "decode_bounded", "build_metadata_update", "text_string", "INFO_KEY"]

INFO_KEY = "/AIGC"
#: a PDF header may follow up to this many bytes of junk (Acrobat's rule)
HEADER_WINDOW = 1024
#: how much of the end of the file is searched for ``startxref``
TAIL_WINDOW = 4096
#: cross-reference stream entries pypdf may read before giving up (an "object stream bomb")
MAX_XREF_ENTRIES = 2_000_000
#: largest XMP metadata stream read (encoded bytes); larger ones are ignored with a finding
MAX_XMP_STREAM = 16 << 20
#: largest object stream decoded when the cross-reference data is rebuilt
MAX_OBJSTM = 64 << 20
#: files up to this size are parsed from memory when they are written (pypdf reads byte by byte)
MAX_IN_MEMORY = 16 << 20
# Everything else is bounded by pypdf's own limits (decompression output, page-tree depth and entries).

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*%%EOF", re.S)
#: bytes of the page tree's root read to find its /Count (the /Kids of a flat tree of ~6,000 pages)
_RAW_COUNT_WINDOW = 64 << 10
#: PDF tokens as far as finding /Count needs them: delimiters, names, and any other run of regular characters
_TOKEN = re.compile(rb"<<|>>|[\[\]{}]|[(<%]|/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*|[^\x00\t\n\x0c\r ()<>\[\]{}/%]+")




# ----------------------------------------------------------------------------------------- errors


class _Capture(logging.Handler):
    """Collects pypdf's warnings from this thread (pypdf logs repairs; they become one finding)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and len(self.messages) < 50:
            with contextlib.suppress(Exception):
                self.messages.append(record.getMessage())


@contextlib.contextmanager
def pypdf_log() -> Iterator[list[str]]:
    """Capture pypdf's log warnings while the block runs, instead of letting them reach stderr
    through logging's last-resort handler (an application that configured logging still gets them).

    While a block runs, pypdf warnings of other threads are not printed by the last-resort handler
    either (they still reach handlers the application installed).
    """
    handler = _Capture()
    logger = logging.getLogger("pypdf")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def pypdf_errors(what: str) -> Iterator[None]:
    """Turn what pypdf raises on broken input into our errors, its warnings captured meanwhile.

    A file that needs a password it was not given is :class:`PasswordRequired`; AES without the
    ``cryptography`` package is :class:`UnsupportedOperation`; everything else pypdf raises on
    hostile files (its own errors, and the data errors :func:`aigclabel.foreign.pypdf_errors`
    lists) is :class:`CorruptFile`, a memory blow-up :class:`~aigclabel.errors.LimitExceeded`.
    """
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        # pypdf also raises NotImplementedError (an unsupported filter or predictor) and
        # ZeroDivisionError (a zero /Columns) on hostile streams
        with pypdf_log(), foreign_errors("pypdf", what, extra=_PYPDF_EXTRA):
            try:
                yield
            except RecursionError:
                raise CorruptFile(f"{what}: objects nest too deeply (a PDF bomb?)") from None
            except FileNotDecryptedError as exc:
                raise PasswordRequired(f"{what}: the PDF is encrypted and was not opened ({exc})") from None
            except DependencyError as exc:
                raise UnsupportedOperation(f"{what}: {exc} (AES-encrypted PDFs need the 'cryptography' "
                                           "package)") from None
    except CorruptFile as exc:
        if type(exc) is CorruptFile and exc.__cause__ is not None and str(exc).startswith(f"{what}: pypdf "):
            # the adapter's message; keep the one this module always gave ("what: Type: detail")
            cause = exc.__cause__
            raise CorruptFile(f"{what}: {type(cause).__name__}: {cause}") from None
        raise


_PYPDF_EXTRA: tuple[type[BaseException], ...] = (TypeError, AttributeError, AssertionError, NotImplementedError,
                                                 ZeroDivisionError)


# --------------------------------------------------------------------------------------- document


@dataclass
class PdfDocument:
    """An open PDF: the pypdf reader plus what an incremental update needs to know."""

    src: CountingReader
    reader: Any  # pypdf.PdfReader
    size: int
    #: offset of the last cross-reference section (the new section's /Prev), None when unknown
    startxref: int | None
    #: "table" (classic ``xref``) or "stream" (a cross-reference stream, PDF 1.5)
    xref_kind: str
    #: the xref chain read cleanly; False when pypdf reconstructed it (the update then carries a
    #: complete cross-reference section without /Prev)
    xref_ok: bool
    encrypted: bool
    #: the original ends with an end-of-line marker (otherwise one is written before the update)
    ends_with_eol: bool
    header_version: str = ""
    findings: list[Finding] = field(default_factory=list)
    #: bytes before the ``%PDF-`` header; offsets are written relative to the header, as readers
    #: (Acrobat, qpdf) take them when the header is not at the start of the file
    header_offset: int = 0
    #: the catalog has an XMP stream that could not be decoded (a write must not replace it blindly)
    xmp_unreadable: bool = False
    #: every cross-reference offset was checked against its object (and repaired): ready for an update
    offsets_checked: bool = False
    _ids: dict[int, tuple[str, int, int]] | None = field(default=None, repr=False)

    def has_object(self, num: int, gen: int) -> bool:
        """The document contains object *num* of generation *gen* (as its cross-reference data says)."""
        if self._ids is None:
            self._ids = self.object_ids()
        entry = self._ids.get(num)
        if entry is None:
            return False
        return gen == 0 if entry[0] == "c" else entry[2] == gen

    # -- trailer, Info, catalog ------------------------------------------------------------------

    @property
    def encryption(self) -> Any:
        """pypdf's decryption state (its ``Encryption`` object), used to encrypt appended objects."""
        return getattr(self.reader, "_encryption", None) if self.encrypted else None

    def trailer_raw(self, key: str) -> Any:
        trailer = self.reader.trailer
        return trailer.raw_get(key) if key in trailer else None

    def info(self) -> tuple[Any, Any]:
        """(indirect reference or None, dictionary or None) of the document Info dictionary."""
        from pypdf.generic import DictionaryObject, IndirectObject

        raw = self.trailer_raw("/Info")
        if raw is None:
            return None, None
        with pypdf_errors("reading the Info dictionary"):
            obj = None
            if isinstance(raw, IndirectObject) and not self.encrypted:
                # the record's long string, read a byte at a time by pypdf, cost more than hashing the document
                with contextlib.suppress(Exception):
                    obj = read_simple_dictionary(self.reader, raw.idnum, raw.generation)
            if obj is None:
                obj = raw.get_object()
        ref = raw if isinstance(raw, IndirectObject) else None
        if not isinstance(obj, DictionaryObject):
            self.findings.append(Finding("format.pdf", Level.WARNING,
                                         "the trailer's /Info is not a dictionary; ignored",
                                         location="trailer"))
            return ref, None
        return ref, obj

    def catalog(self) -> tuple[Any, Any]:
        from pypdf.generic import DictionaryObject, IndirectObject

        raw = self.trailer_raw("/Root")
        with pypdf_errors("reading the document catalog"):
            obj = raw.get_object() if raw is not None else None
        if not isinstance(raw, IndirectObject) or not isinstance(obj, DictionaryObject):
            raise CorruptFile("corrupt PDF: the trailer has no usable /Root (document catalog)")
        return raw, obj

    def metadata(self) -> tuple[Any, bytes | None]:
        """(indirect reference or None, decoded packet or None) of the catalog's XMP stream."""
        from pypdf.generic import IndirectObject, StreamObject

        _, catalog = self.catalog()
        raw = catalog.raw_get("/Metadata") if "/Metadata" in catalog else None
        if raw is None:
            return None, None
        with pypdf_errors("reading the XMP metadata stream"):
            stream = raw.get_object()
        ref = raw if isinstance(raw, IndirectObject) else None
        if not isinstance(stream, StreamObject):
            return ref, None
        try:
            data = decode_bounded(stream, MAX_XMP_STREAM)
        except CorruptFile as exc:
            self.findings.append(unreadable("format.pdf", "XMP metadata stream", exc,
                                            f"XMP metadata stream ({_where(ref)})"))
            self.xmp_unreadable = True
            return ref, None
        return ref, data

    def encrypt_metadata(self) -> bool:
        enc = self.trailer_raw("/Encrypt")
        if enc is None:
            return False
        with pypdf_errors("reading the encryption dictionary"):
            value = enc.get_object().get("/EncryptMetadata", True)
        return bool(value)

    def pages(self) -> list[Any]:
        """Every page (pypdf ``PageObject``, inherited attributes applied), in order."""
        with pypdf_errors("reading the page tree"):
            return list(self.reader.pages)

    def page_count(self) -> int | None:
        """The page tree's /Count (cheap: no page is read); None when it is not a sane number.

        The root's /Count is taken from the object's bytes when it can be: parsed by pypdf, the root's /Kids
        array (one reference per page in a flat tree) made an implicit verify grow with the page count.
        """
        with contextlib.suppress(Exception):
            _, catalog = self.catalog()
            raw = catalog.raw_get("/Pages")
            count = self._raw_count(raw)
            if count is None:
                count = raw.get_object()["/Count"]  # indexing resolves an indirect /Count
            if isinstance(count, int) and count >= 0:
                return int(count)
        return None

    def _raw_count(self, ref: Any) -> int | None:
        """A direct integer /Count at the top level of the plain object *ref*, read from its bytes; None for
        anything else (a compressed object, strings or comments in it, an indirect /Count): pypdf then."""
        from pypdf.generic import IndirectObject

        if not isinstance(ref, IndirectObject) or not self.xref_ok or self.header_offset:
            return None
        offset = self.reader.xref.get(ref.generation, {}).get(ref.idnum)
        if not isinstance(offset, int) or ref.idnum in self.reader.xref_objStm:
            return None
        for window in (2048, _RAW_COUNT_WINDOW):  # most roots are small: read more only for a long /Kids
            head = self.src.read_at(offset, window)
            m = _OBJ_HEADER.match(head)
            if m is None or (int(m.group(1)), int(m.group(2))) != (ref.idnum, ref.generation):
                return None
            count = _top_level_count(head, m.end())
            if count != _MORE:
                return count
            if len(head) < window:
                return None
        return None



    def object_ids(self) -> dict[int, tuple[str, int, int]]:
        """Every object pypdf knows: number -> ("n", offset, generation) or ("c", stream number, index)."""
        out: dict[int, tuple[str, int, int]] = {}
        for gen, table in self.reader.xref.items():
            free = self.reader.xref_free_entry.get(gen, {})
            for num, offset in table.items():
                if num == 0 or free.get(num) or not valid_ref(num, gen):
                    continue  # (an out-of-range number is no object a reader would find)
                if isinstance(offset, int) and 0 <= offset < self.size:
                    current = out.get(num)
                    if current is None or gen > current[2]:
                        out[num] = ("n", offset, gen)
        indices: dict[int, dict[int, int]] = {}
        for num, (stm, _idx) in self.reader.xref_objStm.items():
            if num in out or not isinstance(stm, int) or not valid_ref(num, 0):
                continue
            # pypdf keeps an index here when it read an xref stream, but a byte offset when it
            # rebuilt the table: read the object stream's own header for the index
            if stm not in indices:
                indices[stm] = self._objstm_index(stm)
            if num in indices[stm]:
                out[num] = ("c", stm, indices[stm][num])
        return out

    def _objstm_index(self, stm: int) -> dict[int, int]:
        """Object number -> index inside object stream *stm* (its header of number/offset pairs)."""
        from pypdf.generic import IndirectObject, StreamObject

        try:
            with pypdf_errors("reading an object stream"):
                stream = IndirectObject(stm, 0, self.reader).get_object()
                if not isinstance(stream, StreamObject):
                    return {}
                first = int(stream.get("/First", 0))
                count = int(stream.get("/N", 0))
                head = decode_bounded(stream, MAX_OBJSTM)[:first]
        except (CorruptFile, PasswordRequired, UnsupportedOperation, ValueError, TypeError):
            return {}
        numbers = [int(t) for t in head.split()[: 2 * count : 2] if t.isdigit()]
        return {num: i for i, num in enumerate(numbers)}

    def next_number(self) -> int:
        """The first object number free for new objects (the trailer's /Size, or past every known one)."""
        size = self.reader.trailer.get("/Size")
        numbers = [n for table in self.reader.xref.values() for n in table] + list(self.reader.xref_objStm)
        known = max(numbers, default=0) + 1
        return max(int(size) if isinstance(size, int) and 0 < size < 10_000_000 else 0, known)


#: what _top_level_count says when the window ends inside the dictionary
_MORE = -1


def _top_level_count(head: bytes, start: int) -> int | None:
    """A direct integer /Count at depth 1 of the dictionary starting in *head* at *start*; None when there is
    none or it cannot be told safely; _MORE when *head* ends first."""
    depth, tokens = 0, _TOKEN.finditer(head, start)
    for tok in tokens:
        t = tok.group()
        if t in (b"<<", b"["):
            depth += 1
        elif t in (b">>", b"]"):
            depth -= 1
            if depth == 0:
                return None  # the end of the dictionary: no plain /Count
        elif t[:1] in (b"(", b"<", b"%", b"{"):
            return None  # a string or comment could hide anything: leave it to pypdf
        elif t == b"/Count" and depth == 1:
            value = [next(tokens, None) for _ in range(3)]
            if value[0] is None:
                return _MORE
            if not value[0].group().isdigit():
                return None
            if value[1] is not None and value[1].group().isdigit() and value[2] is not None \
                    and value[2].group() == b"R":
                return None  # an indirect /Count
            if value[2] is None:
                return _MORE  # the value may go on past the window
            return int(value[0].group())
    return _MORE


def decode_bounded(stream: Any, limit: int) -> bytes:
    """The decoded data of *stream*, refusing more than *limit* bytes (a Flate bomb) with CorruptFile."""
    raw = bytes(getattr(stream, "_data", b"") or b"")
    filters = stream.get("/Filter")
    if isinstance(filters, list) and len(filters) == 1:
        filters = filters[0]
    if filters is None:
        if len(raw) > limit:
            raise CorruptFile(f"larger than {limit >> 20} MiB")
        return raw
    if filters == "/FlateDecode" and stream.get("/DecodeParms") is None:
        d = zlib.decompressobj()
        try:
            out = d.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise CorruptFile(f"corrupt compressed data ({exc})") from None
        if len(out) > limit:
            raise CorruptFile(f"inflates past {limit >> 20} MiB (a compression bomb?)")
        return out
    if len(raw) > limit:
        raise CorruptFile(f"larger than {limit >> 20} MiB")
    with pypdf_errors("decoding a stream"):
        data = bytes(stream.get_data())
    if len(data) > limit:
        raise CorruptFile(f"decodes past {limit >> 20} MiB")
    return data


def _where(ref: Any) -> str:
    num = getattr(ref, "idnum", None)
    return f"object {num} {getattr(ref, 'generation', 0)}" if num is not None else "direct object"


def _tail_startxref(src: CountingReader) -> tuple[int | None, bool]:
    """(offset named by the last ``startxref``, file ends with an end-of-line) from the file's tail."""
    start = max(0, src.size - TAIL_WINDOW)
    tail = src.read_at(start, src.size - start)
    ends_with_eol = tail.endswith((b"\n", b"\r"))
    matches = list(_STARTXREF.finditer(tail))
    if not matches:
        return None, ends_with_eol
    offset = int(matches[-1].group(1))
    return (offset if 0 < offset < src.size else None), ends_with_eol


def _xref_kind(src: CountingReader, offset: int | None) -> str:
    if offset is None:
        return "table"
    head = src.read_at(offset, 32).lstrip()
    return "table" if head.startswith(b"xref") else "stream"


def open_document(src: CountingReader, password: str | None = None, *, for_write: bool = False) -> PdfDocument:
    """Parse the trailer chain of *src* (strictly first; pypdf's repair only when that fails).

    An encrypted file opens with *password*, or with the empty user password when none is given;
    :class:`PasswordRequired` when it does not open.  *for_write* also checks that every object
    offset of the cross-reference data points at its object, and rebuilds the table by scanning
    the file when one does not (the update then carries a complete cross-reference section).
    """
    from pypdf.generic import NameObject

    PdfReader = _reader_class()  # noqa: N806 - pypdf's class, with the fast table reader
    src.seek(0)
    head = src.read(HEADER_WINDOW)
    header_at = head.find(b"%PDF-")
    if header_at < 0:
        raise CorruptFile("not a PDF: no %PDF- header in the first 1024 bytes")
    version = head[header_at + 5:header_at + 8].decode("latin-1", "replace")
    startxref, ends_with_eol = _tail_startxref(src)
    kind = _xref_kind(src, startxref)
    findings: list[Finding] = []
    reader = None
    xref_ok = False
    # pypdf reads a byte at a time while parsing; writing reads the whole file anyway, so a file of
    # moderate size is parsed from memory (verifying reads only what it needs, through *src*)
    stream: Any = buffered(src)
    if for_write and src.size <= MAX_IN_MEMORY:
        src.seek(0)
        stream = io.BytesIO(src.read())
    with pypdf_log() as messages:
        stream.seek(0)
        with contextlib.suppress(Exception):
            reader = PdfReader(stream, strict=True,  # type: ignore[arg-type]
                               xref_stream_maximum_entries=MAX_XREF_ENTRIES)
            xref_ok = startxref is not None and header_at == 0
        if reader is None:
            messages.clear()
            stream.seek(0)
            with pypdf_errors("corrupt PDF (the cross-reference data cannot be read or rebuilt)"):
                reader = PdfReader(stream, strict=False,  # type: ignore[arg-type]
                                   xref_stream_maximum_entries=MAX_XREF_ENTRIES)
        reader.strict = False  # later object access tolerates what it can, as viewers do
        doc = PdfDocument(src=src, reader=reader, size=src.size, startxref=startxref, xref_kind=kind,
                          xref_ok=xref_ok, encrypted=bool(reader.is_encrypted), ends_with_eol=ends_with_eol,
                          header_version=version, findings=findings, header_offset=header_at)
        if for_write and doc.xref_ok and not _offsets_ok(doc):
            doc.xref_ok = False
        doc.offsets_checked = for_write
        if not doc.xref_ok:
            with pypdf_errors("corrupt PDF (the cross-reference data cannot be rebuilt)"):
                _repair_offsets(doc)
        if not doc.xref_ok:
            detail = f" ({'; '.join(dict.fromkeys(messages))[:300]})" if messages else ""
            findings.append(Finding("format.pdf", Level.WARNING,
                                    f"the cross-reference data is damaged; it was rebuilt to read the file{detail}",
                                    location="cross-reference table"))
        if doc.encrypted:
            _decrypt(doc, password)
        with pypdf_errors("reading the document catalog"):
            _, catalog = doc.catalog()
            declared = catalog.get("/Version")
            if isinstance(declared, NameObject):
                doc.header_version = str(declared)[1:]
    return doc


def prepare_write(doc: PdfDocument) -> PdfDocument:
    """*doc* (parsed to be read) made ready for an incremental update, as ``open_document(for_write=True)``
    would have made it: every cross-reference offset checked against its object, the table rebuilt from a scan
    of the file when one misses.  Marking reads the file first, so it parses it once, not twice."""
    if doc.offsets_checked:
        return doc
    doc.offsets_checked = True
    if doc.xref_ok and not _offsets_ok(doc):
        doc.xref_ok = False
        with pypdf_log(), pypdf_errors("corrupt PDF (the cross-reference data cannot be rebuilt)"):
            _repair_offsets(doc)
    return doc


def _decrypt(doc: PdfDocument, password: str | None) -> None:
    from pypdf import PasswordType

    with pypdf_errors("opening the encrypted PDF"):
        if password is not None:
            result = doc.reader.decrypt(password)
        else:
            enc = getattr(doc.reader, "_encryption", None)
            result = (PasswordType.USER_PASSWORD if enc is not None and enc.is_decrypted()
                      else PasswordType.NOT_DECRYPTED)
    if result == PasswordType.NOT_DECRYPTED:
        if password is None:
            raise PasswordRequired("the PDF is encrypted and needs a password to open "
                                   "(give it with --password / password=...)")
        raise PasswordRequired("the PDF is encrypted and the password given does not open it")


_OBJ_HEADER = re.compile(rb"[\x00\t\n\x0c\r ]*(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]*obj")
_OBJ_SCAN = re.compile(rb"(?<![0-9])(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+obj(?![A-Za-z])")


def _offsets_ok(doc: PdfDocument) -> bool:
    """Every in-file object offset of the cross-reference data points at that object's header."""
    for gen, table in doc.reader.xref.items():
        free = doc.reader.xref_free_entry.get(gen, {})
        for num, offset in table.items():
            if num == 0 or free.get(num):
                continue
            if not isinstance(offset, int) or not 0 <= offset < doc.size:
                return False
            m = _OBJ_HEADER.match(doc.src.read_at(offset, 40))
            if m is None or int(m.group(1)) != num or int(m.group(2)) != gen:
                return False
    return True


def _scan_objects(src: CountingReader, block: int = 8 << 20) -> dict[int, tuple[int, int]]:
    """Object number -> (offset, generation) of every ``N G obj`` header in the file (last one wins,
    as in an incremental update), found by reading the file once in blocks."""
    found: dict[int, tuple[int, int]] = {}
    pos = 0
    overlap = 32
    while pos < src.size:
        data = src.read_at(pos, block + overlap)
        limit = block if pos + block < src.size else len(data)
        for m in _OBJ_SCAN.finditer(data):
            if m.start() >= limit:
                break
            found[int(m.group(1))] = (pos + m.start(), int(m.group(2)))
        pos += block
    return found


def _repair_offsets(doc: PdfDocument) -> None:
    """Point pypdf's table at the objects where they really are (a scan of the file); drop the
    entries whose object cannot be found, so the complete section written later is right."""
    scanned = _scan_objects(doc.src)
    xref = doc.reader.xref
    for gen in list(xref):
        table = xref[gen]
        for num in list(table):
            offset = table[num]
            if num == 0:
                continue
            m = (_OBJ_HEADER.match(doc.src.read_at(offset, 40))
                 if isinstance(offset, int) and 0 <= offset < doc.size else None)
            if m is not None and int(m.group(1)) == num and int(m.group(2)) == gen:
                continue
            hit = scanned.get(num)
            if hit is not None and hit[1] == gen:
                table[num] = hit[0]
            else:
                del table[num]
    # objects the scan found that the damaged table did not list at all (e.g. a table cut short)
    known = {num for table in xref.values() for num in table} | set(doc.reader.xref_objStm)
    for num, (offset, gen) in scanned.items():
        if num not in known and num > 0:
            xref.setdefault(gen, {})[num] = offset
    # an object both in an object stream and as a plain object: the later one in the file is the
    # current version (pypdf would prefer the compressed one)
    for num in list(doc.reader.xref_objStm):
        stm = doc.reader.xref_objStm[num][0]
        plain = scanned.get(num)
        stm_at = scanned.get(stm, (-1, 0))[0]
        if plain is not None and plain[0] > stm_at:
            del doc.reader.xref_objStm[num]
        else:
            for table in xref.values():
                table.pop(num, None)
    doc.reader.resolved_objects.clear()  # anything read through a wrong offset is read again


# ---------------------------------------------------------------------------------------- handler


#: one classic cross-reference subsection: its header (first object number, entry count)
_XREF_SUBSECTION = re.compile(rb"[\x00\t\n\x0c\r ]*(\d{1,10})[\t ]+(\d{1,10})[\t ]*(?:\r\n|\r|\n)")
_XREF_TRAILER = re.compile(rb"[\x00\t\n\x0c\r ]*trailer")
#: an entry that is not "generation 0, in use" (in a body :func:`_standard_entries` accepted, a space and five
#: digits occur only after an entry's offset)
_XREF_ODD = re.compile(rb" (?!00000 n)(\d{5}) ([nf])")


@functools.lru_cache(maxsize=1)
def _reader_class() -> type:
    """pypdf's reader with a fast path for well-formed classic cross-reference tables.

    pypdf reads a table entry by entry (20 bytes, a split and two int() each, with its repairs); on a
    1,000-page file that made an implicit verify 2-3x the time of a 10-page one.  A table whose every
    subsection is exactly as the standard writes it is read here with one regular expression per subsection and
    entered into pypdf's tables as pypdf itself enters them; anything else (a table not starting at 0, 21-byte
    entries, junk, comments) goes to pypdf's own reader, repairs and warnings included.
    """
    from pypdf import PdfReader

    class Reader(PdfReader):
        def _read_standard_xref_table(self, stream: Any) -> None:
            start = stream.tell()
            with contextlib.suppress(Exception):
                if _fast_xref_table(self, stream):
                    return
            stream.seek(start)
            super()._read_standard_xref_table(stream)

    return Reader


def _fast_xref_table(reader: Any, stream: Any) -> bool:
    """Read the table at *stream* (after its ``x``) into *reader*'s tables when it is well formed; False (nothing
    entered) otherwise.  The stream is left after the ``trailer`` keyword, where pypdf leaves it."""
    if stream.read(3) != b"ref":
        return False
    sections: list[tuple[int, bytes]] = []
    first = True
    while True:
        pos = stream.tell()
        head = stream.read(64)
        m = _XREF_SUBSECTION.match(head)
        if m is None:
            return False
        num, count = int(m.group(1)), int(m.group(2))
        if first and num != 0:
            return False  # pypdf corrects a table not numbered from 0: its reader decides
        first = False
        stream.seek(pos + m.end())
        body = stream.read(20 * count)
        if len(body) != 20 * count or not _standard_entries(body, count):
            return False
        sections.append((num, body))
        pos = stream.tell()
        after = stream.read(64)
        t = _XREF_TRAILER.match(after)
        if t is not None:
            stream.seek(pos + t.end())
            break
        stream.seek(pos)
    for num, body in sections:
        _enter_xref(reader, num, body)
    return True


def _standard_entries(body: bytes, count: int) -> bool:
    """Every 20-byte entry of *body* is ``nnnnnnnnnn ggggg k`` and a two-byte end of line (ISO 32000 7.5.4):
    the columns checked with slices, and exactly the five non-digit columns per entry (so the other fifteen,
    the offset and the generation, are digits)."""
    # the end of line: columns 18 and 19 are space or CR, then CR or LF, never CR CR (which, the other columns
    # being digits, letters and spaces, can only be there)
    return (body[10::20].count(b" ") == count and body[16::20].count(b" ") == count
            and body[17::20].translate(None, b"nf") == b""
            and body[18::20].translate(None, b" \r") == b"" and body[19::20].translate(None, b"\r\n") == b""
            and b"\r\r" not in body and len(body.translate(None, b"0123456789")) == 5 * count)


def _enter_xref(reader: Any, first: int, body: bytes) -> None:
    """Enter one subsection as pypdf's reader enters it: a number already known for its generation (from a later
    section, read first) is kept, and marked free or not; the bulk (generation 0, in use) goes in as a whole.

    Every lookup of the free marks (pypdf's and ours) defaults to "not free", so a bulk entry is marked only
    where an earlier mark said free (pypdf's reader stores a False for every entry: the same answers)."""
    xref, free = reader.xref, reader.xref_free_entry
    count = len(body) // 20
    # every offset, in C (a Python loop over the entries was most of a 1,000-page verify); then the few entries
    # that are not "generation 0, in use" (the free head of the list, mostly) are taken out and entered one by one
    bulk = dict(zip(range(first, first + count),
                    map(int, itertools.chain.from_iterable(struct.iter_unpack("10s10x", body))), strict=True))
    for i in _odd_entries(body, count):
        num = first + i
        off, gen, kind = bulk.pop(num), int(body[20 * i + 11:20 * i + 16]), body[20 * i + 17:20 * i + 18]
        if gen not in xref:
            xref[gen], free[gen] = {}, {}
        if num not in xref[gen]:
            if kind == b"n":
                xref[gen][num] = off
            free[gen][num] = kind == b"f"
            if 65535 in free:
                free[65535][num] = kind == b"f"
    if not bulk:
        return
    if 0 not in xref:
        xref[0], free[0] = {}, {}
    known = xref[0]
    for marks in (free[0], free.get(65535)):
        if marks:  # numbers an earlier mark called free, now in use (pypdf: free = False for them)
            for num in [n for n, is_free in marks.items() if is_free and n in bulk and n not in known]:
                marks[num] = False
    xref[0] = {**bulk, **known}  # the numbers already there win


def _odd_entries(body: bytes, count: int) -> list[int]:
    """Indexes of the entries that are not "generation 0, in use": found from the type column when every in-use
    entry is generation 0 (the usual table), else by a search."""
    kinds = body[17::20]
    free = count - kinds.count(b"n")
    if body.count(b" 00000 n") == count - free:  # (no other place holds that run in a valid body)
        out, at = [], kinds.find(b"f")
        while at >= 0:
            out.append(at)
            at = kinds.find(b"f", at + 1)
        return out
    return [(m.start() - 10) // 20 for m in _XREF_ODD.finditer(body)]


@functools.lru_cache(maxsize=1)
def _literal_class() -> type:
    from pypdf.generic import TextStringObject

    class LiteralTextString(TextStringObject):
        """Written as a plain ``(...)`` literal when printable ASCII (pypdf escapes it in octal)."""

        def __new__(cls, value: Any) -> Any:
            # pypdf's constructor checks the text character by character in Python (0.1 ms for a signed record)
            if isinstance(value, str) and value.isascii() and value.isprintable():
                return ascii_text_string(cls, value, None)
            return super().__new__(cls, value)

        def write_to_stream(self, stream: Any) -> None:
            raw = str(self)
            if raw.isascii() and raw.isprintable():  # printable ASCII: 0x20-0x7E
                escaped = raw.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                stream.write(b"(" + escaped.encode("ascii") + b")")
            else:
                super().write_to_stream(stream)

    return LiteralTextString


def text_string(text: str) -> Any:
    """A PDF text string, readable in the file as it is when printable ASCII (the record always is),
    so ``/AIGC ({"Label":...})`` can be found by a byte search; UTF-16BE otherwise."""
    return _literal_class()(text)


def _string_value(value: Any) -> str:
    from pypdf.generic import ByteStringObject, TextStringObject

    if isinstance(value, TextStringObject):
        return str(value)
    if isinstance(value, ByteStringObject):
        raw = bytes(value)
        for codec in ("utf-8", "utf-16"):
            with contextlib.suppress(UnicodeDecodeError):
                return raw.decode(codec)
        return raw.decode("latin-1")
    return str(value)


class PdfHandler(FormatHandler):
    name = "pdf"
    kind = "document"
    mime = "application/pdf"
    extensions = (".pdf",)
    normative_carrier = "pdf:Info:AIGC"
    can_write = True
    #: (source, its size, the document read() parsed): what write_metadata takes instead of parsing again
    _parsed: tuple[CountingReader, int, PdfDocument] | None = None

    @property
    def password(self) -> str | None:
        """The password for encrypted files (from the :class:`OpenOptions` the handler was made with)."""
        return self.options.password

    @classmethod
    def score(cls, head: bytes) -> int:
        if head.startswith(b"%PDF-"):
            return 100
        return 60 if b"%PDF-" in head else 0

    def read(self, src: CountingReader) -> Evidence:
        with pypdf_log() as repairs:
            ev = self._read(src)
        if repairs and not any(f.rule == "format.pdf" and "damaged" in f.message for f in ev.findings):
            ev.findings.append(Finding("format.pdf", Level.WARNING,
                                       "the file is damaged; pypdf repaired it to read it ("
                                       + "; ".join(dict.fromkeys(repairs))[:300] + ")"))
        return ev

    def _read(self, src: CountingReader) -> Evidence:
        doc = open_document(src, self.password)
        # Marking reads the file, then writes it: the write takes this parse instead of a second one.
        self._parsed = (src, src.size, doc)
        ev = Evidence(self.name, self.kind)
        info_ref, info = doc.info()
        if info is not None:
            where = f"document Info dictionary ({_where(info_ref)})"
            for key in list(info.keys()):
                if "aigc" not in key.lower():
                    continue
                with pypdf_errors("reading the Info dictionary"):
                    raw = _string_value(info[key])
                ev.labels.append(found_label(f"pdf:Info:{key[1:]}", f"{where}, key {key}", raw,
                                             normative=key == INFO_KEY))
            for key in ("/Creator", "/Producer"):
                if key in info:
                    with contextlib.suppress(Exception):
                        if t := generator_trace(_string_value(info[key]), f"{where}, key {key}"):
                            ev.traces.append(t)
        meta_ref, packet = doc.metadata()
        if packet is not None:
            labels, traces, findings = evidence_from_xmp(packet, f"XMP metadata stream ({_where(meta_ref)})",
                                                         normative=False)
            ev.labels += labels
            ev.traces += traces
            ev.findings += findings
        ev.findings += doc.findings
        ev.info.update(version=doc.header_version, encrypted=doc.encrypted, xref=doc.xref_kind,
                       xref_repaired=not doc.xref_ok)
        pages = doc.page_count()
        if pages is not None:
            ev.info["pages"] = pages
        return ev

    def document_access(self, src: CountingReader) -> PdfAccess:
        """Pages, their text and images, and the parsed document for an incremental update."""
        return PdfAccess(src, self.options.password)

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        doc = self._document_for_write(src)
        if doc.encrypted and self.password is None:
            raise PasswordRequired("the PDF is encrypted: give its password to mark it (--password / "
                                   "password=...); it stays encrypted")
        update = build_metadata_update(doc, label)
        with pypdf_errors("writing the PDF"):
            update.write(dst)


    def _document_for_write(self, src: CountingReader) -> PdfDocument:
        """The parse :meth:`read` made of this very source (taken once: an update changes its state), or a
        fresh one; either way checked for an incremental update."""
        parsed, self._parsed = self._parsed, None
        if parsed is not None and parsed[0] is src and parsed[1] == src.size:
            return prepare_write(parsed[2])
        return open_document(src, self.password, for_write=True)


def build_metadata_update(doc: PdfDocument, label: ImplicitLabel,
                          update: IncrementalUpdate | None = None) -> IncrementalUpdate:
    """Add the record to the Info dictionary and the source type to the XMP stream (in *update*)."""
    from pypdf.generic import DictionaryObject, NameObject

    update = update or IncrementalUpdate(doc)
    with pypdf_errors("preparing the metadata update"):
        info_ref, info = doc.info()
        new_info = DictionaryObject()
        for key, value in (info.items() if info is not None else ()):
            if "aigc" in key.lower():
                continue  # an earlier record: replaced, never two
            new_info[NameObject(key)] = value
        new_info[NameObject(INFO_KEY)] = text_string(label.record_json)
        if info_ref is not None and info is not None:
            update.put(info_ref, new_info)
        else:
            info_ref = update.add(new_info)
        update.info_ref = info_ref
        _update_xmp(doc, label, update)
    return update


def _update_xmp(doc: PdfDocument, label: ImplicitLabel, update: IncrementalUpdate) -> None:
    """Merge the DigitalSourceType into the catalog's XMP and drop any AIGC property from it."""
    from pypdf.generic import NameObject

    meta_ref, existing = doc.metadata()
    if doc.xmp_unreadable:
        raise CorruptFile("the existing XMP metadata stream cannot be read, so it cannot be merged; "
                          "file left unchanged")
    if existing is None and not label.digital_source_type:
        return
    if existing is not None:
        try:
            packet = _xmp.XmpPacket.parse(existing)
        except CorruptFile as exc:
            raise CorruptFile(f"the existing XMP metadata stream cannot be merged ({exc}); file left unchanged") \
                from None
        removed = packet.remove_aigc()
        current = packet.digital_source_types()
        if not removed and (not label.digital_source_type or current == [label.digital_source_type]):
            return  # already as wanted: leave the stream alone
    else:
        packet = _xmp.XmpPacket.new()
    if label.digital_source_type:
        packet.set(_xmp.IPTC_EXT_NS, _xmp.IPTC_EXT_PREFIX, "DigitalSourceType", label.digital_source_type)
    stream = IncrementalUpdate.stream(packet.serialize(), {"/Type": NameObject("/Metadata"),
                                                           "/Subtype": NameObject("/XML")})
    encrypt = doc.encrypt_metadata()
    if meta_ref is not None:
        update.put(meta_ref, stream, encrypt=encrypt)
        return
    meta_ref = update.add(stream, encrypt=encrypt)
    catalog_ref, catalog = doc.catalog()
    from pypdf.generic import DictionaryObject

    new_catalog = DictionaryObject()
    for key, value in catalog.items():
        new_catalog[NameObject(key)] = value
    new_catalog[NameObject("/Metadata")] = meta_ref
    update.put(catalog_ref, new_catalog)
