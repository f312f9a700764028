"""Content bindings: which bytes of a file the SecurityData hash covers (``CntSel``), per format family.

A binding ties a signed label to the content by SM3 over bytes the metadata step never changes, so the hash
is taken once before the record goes in and re-checked on any later read.  The selections are ours (the
TC260-PG-202511A annexes could not be re-read; MiniMax, the only vendor seen binding content, names none);
each is named by its ``CntSel`` string and found with the family's own walker in this package (header walks
only; the bytes are then hashed in one streaming pass, 1 MiB at a time, never the whole file in memory):

==============  ======================================================================================
CntSel          bytes hashed, in file order
==============  ======================================================================================
jpeg-scan       from the first SOS marker to the end of the file (every scan, the EOI, what follows;
                all metadata segments - APP1 XMP, EXIF, APP11 C2PA - sit before the first SOS)
png-image       every IHDR, PLTE, IDAT, fcTL and fdAT chunk: length, type and data (not the CRC)
bmff-mdat       the payload of every top-level ``mdat`` box (MP4, MOV, M4A; ``moov`` may move or grow)
wav-data        the payload of the ``data`` chunk (the samples)
aiff-ssnd       the payload of the ``SSND`` chunk
mp3-frames      from the end of the leading ID3v2 tag(s) to the trailing ID3v1/Lyrics3/APE tags
pdf-prefix:N    the first N bytes: the document as it was before our incremental update(s)
gif-image       the logical screen descriptor and global colour table (bytes 6 to the first block),
                then every image block whole: descriptor, local colour table, LZW code size and data
                sub-blocks with their length bytes.  Not the signature/version (we raise 87a to 89a),
                not any extension (XMP, comment, graphic control, looping)
webp-bitstream  the payloads of the VP8, VP8L, ALPH and ANMF chunks (ANMF: frame header and its image
                sub-chunks); not VP8X (we set its XMP flag), XMP, EXIF, ICCP or ANIM
tiff-strips     the strips or tiles of every page of the IFD chain (StripOffsets/StripByteCounts,
                TileOffsets/TileByteCounts), in IFD and entry order: the data, not where it lies, so a
                writer that moves strips (exiftool rewriting the file) keeps the binding
heif-items      the data of every coded item (the iloc extents of all items but XMP, Exif and other
                ``mime``/``uri`` metadata items), in iloc order, wherever the extents lie (file offsets or
                ``idat``).  Not whole ``mdat`` boxes: our writer adds an ``mdat`` for the XMP packet and
                blanks EXIF records in place, and exiftool may put its XMP into the image ``mdat``.
                A HEIF without items (a bare image sequence) falls back to every ``mdat`` payload
flac-frames     from the end of the last metadata block to the end of the file (the audio frames)
ogg-packets     the data of every packet after the header packets (Vorbis: 3, Opus: 2) of the first
                logical stream, concatenated - packets, not pages: when the comment header grows the
                header pages are re-paginated and every later page gets a new sequence number and CRC
mkv-clusters    every Cluster of the first Segment, child by child (header and data), except the children
                a rewriter may patch - ``Position`` (moves with the header), ``CRC-32`` (recomputed then)
                and ``Void`` - so the blocks and their timecodes are bound, not where the Clusters lie
avi-movi        the payload of the first top-level ``LIST movi`` after its type (every stream chunk)
flv-tags        the data of every audio (8) and video (9) tag, in file order; not script data
                (``onMetaData``, where the record lives) and not the tag headers (a remuxer may rewrite
                the stream id or a timestamp's extension byte)
ooxml-parts     the uncompressed bytes of the main parts, in part-name order: DOCX the main document
                (``word/document.xml``); XLSX the workbook, every ``xl/worksheets/*.xml`` and
                ``xl/sharedStrings.xml``; PPTX the presentation part and every ``ppt/slides/*.xml``.
                Not docProps (our custom.xml, core.xml), ``[Content_Types].xml`` or ``_rels``, and not the
                compression: a tool that recompresses the package or edits its properties keeps it
text-visible    the visible text (:func:`.text.visible_blocks`: plain text and Markdown lines without the
                front matter and HTML comments, HTML's rendered text blocks) after our notices are taken
                out (HTML ``data-aigc-notice`` elements, edge lines equal to the default notice), each
                block stripped and followed by LF, in UTF-8.  So the record (front matter / ``<meta>``)
                never counts, and re-encoding, line endings or edge whitespace do not break it; a custom
                notice text (not recognised as ours) is bound as content
==============  ======================================================================================

Edits by other tools that keep a binding, as tests/test_bindings.py checks them: exiftool adding a GIF comment,
EXIF to WebP, HEIC and AVIF, and an IFD0 tag to TIFF (exiftool rewrites the file and moves the strips); mutagen
retagging FLAC, and growing the Ogg Vorbis / Opus comment header by 20 KB (re-paginated: every audio page gets a
new sequence number and CRC); Python's zipfile rewriting an Office package at another compression level with a
new title in docProps/core.xml; a front matter key (Markdown) or a ``<meta>`` (HTML) added by hand; ``ffmpeg
-c copy -metadata title=...`` of MKV.  Not kept: ffmpeg's WebM remux re-times the VP8 blocks (a block timecode
7 -> 14 ms), which the binding counts as content; ffmpeg's AVI remux drops the ``AIGC`` INFO chunk, so no record
is left to check.  FLV is read-only here: a record written by ffmpeg ``-metadata AIGC=`` while copying the tags
verifies.  A signed record (about 1.2 KB) does not fit the 1016-byte JUNK ffmpeg leaves before ``movi``: such an
AVI is refused by the writer (it never moves the media) unless an older record there leaves room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import limits
from ..errors import AigcLabelError, CorruptFile
from .base import FormatHandler

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..security.model import BindingEntry

__all__ = ["ContentDigest", "SelectionMismatch", "SELECTIONS", "selection_for", "selected_ranges", "selected_bytes",
           "ooxml_part_names", "binding_digest", "recompute", "checker"]

SELECTIONS = {
    "jpeg": "jpeg-scan", "png": "png-image", "mp4": "bmff-mdat", "m4a": "bmff-mdat", "wav": "wav-data",
    "aiff": "aiff-ssnd", "mp3": "mp3-frames", "pdf": "pdf-prefix", "gif": "gif-image", "webp": "webp-bitstream",
    "tiff": "tiff-strips", "heif": "heif-items", "flac": "flac-frames", "ogg": "ogg-packets", "opus": "ogg-packets",
    "mkv": "mkv-clusters", "webm": "mkv-clusters", "avi": "avi-movi", "flv": "flv-tags", "docx": "ooxml-parts",
    "xlsx": "ooxml-parts", "pptx": "ooxml-parts", "txt": "text-visible", "markdown": "text-visible",
    "html": "text-visible",
}
#: selections hashed from derived bytes (inflated parts, decoded text), not from byte ranges of the file
_DERIVED = {"ooxml-parts", "text-visible"}
_PNG_IMAGE_CHUNKS = {b"IHDR", b"PLTE", b"IDAT", b"fcTL", b"fdAT"}
_WEBP_BITSTREAM = {b"VP8 ", b"VP8L", b"ALPH", b"ANMF"}
_TAIL = 1 << 16  # enough for ID3v1 + Lyrics3 + a typical APE tag at the end of an MP3
_OGG_HEADERS = {"ogg": 3, "opus": 2}  # header packets before the audio: Vorbis id/comment/setup, OpusHead/OpusTags


class SelectionMismatch(ValueError):
    """A selection we define does not fit this file: the label was signed for another file (or format)."""


@dataclass(frozen=True)
class ContentDigest:
    """The SM3 hash of the bytes a format's content binding selects, and what it selected."""
    selection: str  # the CntSel string, with its parameter (pdf-prefix:N)
    value: str  # SM3, lowercase hex
    length: int  # bytes hashed


def selection_for(handler: FormatHandler) -> str | None:
    """The selection this handler's format is bound with, or None (not bound yet)."""
    return SELECTIONS.get(handler.name)


def _checked(handler: FormatHandler, cnt_sel: str | None) -> tuple[str, str]:
    base = selection_for(handler)
    sel = cnt_sel if cnt_sel is not None else base
    name, _, param = (sel or "").partition(":")
    if name not in set(SELECTIONS.values()):
        raise ValueError(f"unknown content selection {sel!r}")
    if base is None or name != base:
        raise SelectionMismatch(f"selection {sel!r} was made for another format than {handler.name.upper()}")
    return name, param


def selected_ranges(handler: FormatHandler, src: CountingReader, cnt_sel: str | None = None) -> list[tuple[int, int]]:
    """The (offset, length) ranges *cnt_sel* (default: the format's own selection) names in *src*.

    Raises :class:`SelectionMismatch` when a selection of ours does not fit this file, ValueError when
    the selection is unknown or is not made of byte ranges (``ooxml-parts``, ``text-visible``: see
    :func:`selected_bytes`), the walkers' CorruptFile when the file is broken.
    """
    name, param = _checked(handler, cnt_sel)
    if name in _DERIVED:
        raise ValueError(f"selection {name!r} hashes derived bytes, not byte ranges of the file")
    ranges = _RANGES[name](handler, src, param)
    limits.check_count(len(ranges), f"{name} content ranges")
    return ranges


def selected_bytes(handler: FormatHandler, src: CountingReader, cnt_sel: str | None = None) -> Iterator[bytes]:
    """The bytes *cnt_sel* selects, in hashing order, a block at a time (at most 1 MiB of the file, or one
    inflated part / the decoded text for the derived selections, whose size the handlers bound)."""
    name, param = _checked(handler, cnt_sel)
    if name == "ooxml-parts":
        yield from _ooxml_parts(src)
        return
    if name == "text-visible":
        yield _text_visible(handler, src)
        return
    for offset, length in selected_ranges(handler, src, cnt_sel):
        src.seek(offset)
        left = length
        while left > 0:
            block = src.read(min(1 << 20, left))
            if not block:
                break
            yield block
            left -= len(block)


# ----------------------------------------------------------------------------------- range selections


def _jpeg(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .jpeg import walk_header

    _, sos = walk_header(src)
    return [(sos, src.size - sos)]


def _png(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .png import walk_chunks

    return [(c.offset, 8 + c.length) for c in walk_chunks(src) if c.type in _PNG_IMAGE_CHUNKS]


def _bmff(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from ._bmff import iter_boxes

    return [(b.payload_offset, b.payload_size) for b in iter_boxes(src, 0, src.size) if b.type == b"mdat"]


def _wav(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .wav import _Layout as WavLayout

    data = WavLayout(src).data
    return [(data.data_offset, min(data.size, src.size - data.data_offset))]


def _aiff(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .aiff import _Layout as AiffLayout

    ssnd = AiffLayout(src).ssnd
    return [] if ssnd is None else [(ssnd.data_offset, min(ssnd.size, src.size - ssnd.data_offset))]


def _mp3(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from ._mp3_frames import trailing_tags
    from .mp3 import _head_tags

    _, start = _head_tags(src)
    tail_at = max(start, src.size - _TAIL)
    tail = src.read_at(tail_at, src.size - tail_at)
    return [(start, tail_at + trailing_tags(tail, 0) - start)]


def _pdf(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    if not param:
        return [(0, src.size)]
    if not param.isdigit() or int(param) > src.size:
        raise SelectionMismatch(f"'pdf-prefix:{param}': the file is shorter than the signed prefix "
                                "(it was truncated or rewritten)")
    return [(0, int(param))]


def _gif(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .gif import IMAGE, walk_blocks

    layout = walk_blocks(src)
    return [(6, layout.header_end - 6)] + [(b.offset, b.end - b.offset) for b in layout.blocks if b.kind == IMAGE]


def _webp(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .webp import _walk

    chunks, _ = _walk(src)
    return [(c.data_offset, c.size) for c in chunks if c.fourcc in _WEBP_BITSTREAM]


def _tiff(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .tiff import TiffFile

    return TiffFile(src).check_image_data()


def _heif(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .heif import HeifFile

    f = HeifFile.parse(src)
    if f.iloc is None:
        return _bmff(handler, src, param)
    metadata = {i.item_id for i in f.items if i.is_xmp or i.is_exif or i.item_type in (b"mime", b"uri ")}
    idat_at = f.idat.payload_offset if f.idat is not None else 0
    idat_size = f.idat.payload_size if f.idat is not None else 0
    out: list[tuple[int, int]] = []
    for loc in f.iloc.items:
        if loc.item_id in metadata:
            continue
        base = 0 if loc.construction_method == 0 else idat_at  # idat extents count from idat's payload
        out += [(base + s, n) for s, n in f.extent_ranges(loc, src.size, idat_size)]
    return out


def _flac(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .flac import _walk

    _, audio, _ = _walk(src)
    return [(audio, src.size - audio)]


def _ogg(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    """Packet bytes, page by page: the lacing values say where each packet's segments lie in a page body."""
    from .ogg import _read_page

    headers = _OGG_HEADERS.get(handler.name, 2)
    first = _read_page(src, 0, body=False)
    out: list[tuple[int, int]] = []
    packets = 0  # completed packets of the first stream so far
    pos = pages = 0
    while pos < src.size:
        page = _read_page(src, pos, body=False)
        pages += 1
        if pages % 4096 == 0:
            limits.check_count(pages, "Ogg pages")
        if page.serial == first.serial:
            at = pos + 27 + len(page.lacing)
            for lace in page.lacing:
                if packets >= headers and lace:
                    if out and out[-1][0] + out[-1][1] == at:
                        out[-1] = (out[-1][0], out[-1][1] + lace)
                    else:
                        out.append((at, lace))
                at += lace
                if lace < 255:
                    packets += 1
            if page.flags & 0x04:  # end of the first stream: a chained stream after it is not ours
                break
        pos += page.size
    if packets < headers:
        raise CorruptFile("truncated Ogg stream: it ends inside its header packets")
    return out


def _mkv(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .matroska import CLUSTER, CLUSTER_POSITION, CRC32, VOID, MatroskaFile, _header

    skipped = {CLUSTER_POSITION, CRC32, VOID}
    out: list[tuple[int, int]] = []
    count = 0
    for el in MatroskaFile(src).of(CLUSTER):
        pos, end = el.data_offset, el.end
        while pos < end:
            kid = _header(src, pos, end, str(el))
            if kid.unknown:
                raise CorruptFile(f"corrupt: {kid} inside {el} has an unknown size")
            if kid.id not in skipped:
                if out and out[-1][0] + out[-1][1] == kid.offset:
                    out[-1] = (out[-1][0], out[-1][1] + kid.size)
                else:
                    out.append((kid.offset, kid.size))
            pos = kid.end
            count += 1
            if count % 4096 == 0:
                limits.check_count(count, "Matroska Cluster children")
    return out


def _avi(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    from .riff_avi import _parse

    movi = _parse(src).movi
    if movi is None:
        raise CorruptFile("corrupt AVI: no 'movi' list")
    return [(movi.data_offset + 4, min(movi.size - 4, src.size - movi.data_offset - 4))]


def _flv(handler: FormatHandler, src: CountingReader, param: str) -> list[tuple[int, int]]:
    head = src.read_at(0, 9)
    if len(head) < 9 or head[:3] != b"FLV":
        raise CorruptFile("not an FLV file (bad header)")
    pos = int.from_bytes(head[5:9], "big") + 4  # after PreviousTagSize0
    out: list[tuple[int, int]] = []
    count = 0
    while pos + 11 <= src.size:
        th = src.read_at(pos, 11)
        ttype, size = th[0] & 0x1F, int.from_bytes(th[1:4], "big")
        if pos + 11 + size > src.size:
            raise CorruptFile(f"truncated: the FLV tag at offset {pos} claims {size} bytes, past the end of the file")
        if ttype in (8, 9) and size:
            out.append((pos + 11, size))
        elif ttype != 18:
            raise CorruptFile(f"corrupt FLV: unknown tag type {th[0]} at offset {pos}")
        pos += 11 + size + 4
        count += 1
        if count % 4096 == 0:
            limits.check_count(count, "FLV tags")
    return out


_RANGES: dict[str, Callable[[FormatHandler, CountingReader, str], list[tuple[int, int]]]] = {
    "jpeg-scan": _jpeg, "png-image": _png, "bmff-mdat": _bmff, "wav-data": _wav, "aiff-ssnd": _aiff,
    "mp3-frames": _mp3, "pdf-prefix": _pdf, "gif-image": _gif, "webp-bitstream": _webp, "tiff-strips": _tiff,
    "heif-items": _heif, "flac-frames": _flac, "ogg-packets": _ogg, "mkv-clusters": _mkv, "avi-movi": _avi,
    "flv-tags": _flv,
}


# --------------------------------------------------------------------------------- derived selections


def ooxml_part_names(names: list[str], family: str, main_part: str) -> list[str]:
    """The parts ``ooxml-parts`` hashes, in name order (also for an independent check with zipfile)."""
    def wanted(name: str) -> bool:
        if name == main_part:
            return True
        folder, _, leaf = name.rpartition("/")
        if not leaf.endswith(".xml"):
            return False
        if family == "xlsx":
            return folder == "xl/worksheets" or name == "xl/sharedStrings.xml"
        if family == "pptx":
            return folder == "ppt/slides"
        return False
    return sorted(n for n in names if wanted(n))


def _ooxml_parts(src: CountingReader) -> Iterator[bytes]:
    from ._ooxml import Package

    pkg = Package.open(src)
    for name in ooxml_part_names(pkg.archive.names(), pkg.family, pkg.main_part):
        data = pkg.part(name)  # inflated under the archive's own inflate limit
        if data is None:
            raise CorruptFile(f"the part {name} could not be read")
        yield data


def _text_visible(handler: FormatHandler, src: CountingReader) -> bytes:
    from ..explicit.text import remove_notices
    from .text import visible_blocks

    text = handler.document_access(src).doc.text  # type: ignore[attr-defined]  # a text handler's TextAccess
    text = remove_notices(text, fmt=handler.name)
    return "".join(block + "\n" for block, _ in visible_blocks(text, handler.name)).encode("utf-8")


def _hash(handler: FormatHandler, src: CountingReader, cnt_sel: str) -> tuple[str, int]:
    from ..security.crypto import Sm3

    h = Sm3()
    total = 0
    for block in selected_bytes(handler, src, cnt_sel):
        h.update(block)
        total += len(block)
    return h.hexdigest(), total


def binding_digest(handler: FormatHandler, src: CountingReader) -> ContentDigest | None:
    """SM3 over this format's selection of *src* (before the record goes in), or None when not bound yet."""
    sel = selection_for(handler)
    if sel is None:
        return None
    if sel == "pdf-prefix":
        sel = f"pdf-prefix:{src.size}"
    value, length = _hash(handler, src, sel)
    return ContentDigest(sel, value, length)


def recompute(handler: FormatHandler, src: CountingReader, cnt_sel: str) -> ContentDigest:
    """SM3 over *cnt_sel* in *src* as it is now (ValueError: the selection does not apply)."""
    value, length = _hash(handler, src, cnt_sel)
    return ContentDigest(cnt_sel, value, length)


def checker(handler: FormatHandler | None,
            src: CountingReader | None) -> Callable[[BindingEntry], tuple[str | None, str]]:
    """A content check for :func:`aigclabel.security.verify_field`: recompute a binding from *src*.

    The check returns (hex, "") when recomputed, ("", why) when the selection cannot fit this file (the
    record was made for another one: a mismatch), (None, why) when it cannot be checked."""
    def check(entry: BindingEntry) -> tuple[str | None, str]:
        if handler is None or src is None:
            return None, "the content was not available to recompute the binding"
        try:
            return recompute(handler, src, entry.cnt_sel).value, ""
        except SelectionMismatch as exc:
            return "", str(exc)
        except ValueError as exc:
            return None, str(exc)
        except AigcLabelError as exc:
            return None, f"the selected content could not be read ({exc})"
    return check
