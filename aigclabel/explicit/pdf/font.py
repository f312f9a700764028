"""The notice's font in the PDF: subset with fontTools when installed, embedded as a Type0 font
(Identity-H encoding, ToUnicode CMap) so text extraction reads the notice back."""

from __future__ import annotations

import functools
import hashlib
import io
import os
from typing import TYPE_CHECKING, Any

from ...errors import CorruptFile, LabelError
from ...foreign import fonttools_errors
from ...formats._sfnt import FONT_ERRORS, FontProgram, parse_font_program
from ..fonts import FontChoice

if TYPE_CHECKING:  # pragma: no cover
    from ...formats.pdf import IncrementalUpdate

__all__ = ["load_font_program", "embed_font"]

#: fonts embedded whole (no fontTools) must be smaller than this
_MAX_WHOLE_FONT = 4 << 20
_LOAD_ERRORS: tuple[type[Exception], ...] = (OSError, *FONT_ERRORS)


def _fonttools_subset(path: str, index: int, text: str) -> bytes | None:
    """The font reduced to *text*'s glyphs with fontTools, or None when fontTools is not installed."""
    try:
        from fontTools import subset as ft_subset
        from fontTools.ttLib import TTFont
    except ImportError:
        return None
    opts = ft_subset.Options()
    opts.layout_features = []
    opts.name_IDs = [1, 2, 3, 4, 6]
    opts.name_languages = [0x0409]
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    opts.drop_tables += ["VORG", "vhea", "vmtx", "DSIG"]
    font = TTFont(path, fontNumber=index, lazy=True)
    try:
        sub = ft_subset.Subsetter(opts)
        sub.populate(text=text)
        sub.subset(font)
        out = io.BytesIO()
        font.save(out)
    finally:
        font.close()
    return out.getvalue()


@functools.lru_cache(maxsize=16)
def _program_cached(path: str, index: int, text: str, _mtime: float) -> FontProgram:
    try:
        with fonttools_errors("subsetting the font"):
            data = _fonttools_subset(path, index, text)
    except CorruptFile as exc:  # fontTools on an odd font: fall back to whole embedding
        data = None
        reason = f"fontTools could not subset it ({exc})"
    else:
        reason = "fontTools is not installed"
    if data is not None:
        return parse_font_program(data, text, subset=True)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head == b"ttcf":
            raise ValueError(f"a font collection cannot be embedded without subsetting ({reason}; "
                             "pip install fonttools)")
        if size > _MAX_WHOLE_FONT:
            raise ValueError(f"the font is {size >> 20} MB, too large to embed whole ({reason}; "
                             "pip install fonttools)")
        fh.seek(0)
        return parse_font_program(fh.read(), text)


def load_font_program(choice: FontChoice, text: str) -> FontProgram:
    """The font program for *text* from the resolved font; :class:`LabelError` if it cannot be used."""
    needed = "".join(sorted(set(text)))
    try:
        return _program_cached(choice.path, choice.index, needed, os.stat(choice.path).st_mtime)
    except _LOAD_ERRORS as exc:
        raise LabelError(f"font {choice.describe()} cannot be embedded in a PDF: {exc}") from None


def _subset_tag(program: FontProgram) -> str:
    digest = hashlib.sha1(program.data + repr(sorted(program.codes.items())).encode()).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def _to_unicode(program: FontProgram) -> bytes:
    pairs = sorted((code, ch) for ch, code in program.codes.items())
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def",
             b"1 begincodespacerange", b"<0000> <FFFF>", b"endcodespacerange"]
    for i in range(0, len(pairs), 100):
        chunk = pairs[i:i + 100]
        lines.append(b"%d beginbfchar" % len(chunk))
        for code, ch in chunk:
            lines.append(b"<%04X> <%s>" % (code, ch.encode("utf-16-be").hex().upper().encode()))
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    return b"\n".join(lines) + b"\n"


def embed_font(update: IncrementalUpdate, program: FontProgram) -> Any:
    """Append the Type0 font (and its descendant, descriptor, program and ToUnicode); its reference."""
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject, TextStringObject

    def name(v: str) -> NameObject:
        return NameObject(v)

    def num(v: float) -> Any:
        return NumberObject(int(v)) if float(v).is_integer() else FloatObject(v)

    base = f"{_subset_tag(program)}+{program.ps_name}"
    file_entries: dict[str, Any]
    if program.kind == "cid-cff":
        file_key, file_entries = "/FontFile3", {"/Subtype": name("/CIDFontType0C")}
    elif program.kind == "cff":
        file_key, file_entries = "/FontFile3", {"/Subtype": name("/OpenType")}
    else:
        file_key, file_entries = "/FontFile2", {"/Length1": NumberObject(len(program.data))}
    file_ref = update.add(update.stream(program.data, file_entries, compress=True))
    descriptor = DictionaryObject({
        name("/Type"): name("/FontDescriptor"), name("/FontName"): name("/" + base),
        name("/Flags"): NumberObject(4), name("/FontBBox"): ArrayObject([num(v) for v in program.bbox]),
        name("/ItalicAngle"): NumberObject(0), name("/Ascent"): num(program.ascent),
        name("/Descent"): num(program.descent), name("/CapHeight"): num(program.cap_height),
        name("/StemV"): NumberObject(80), name(file_key): file_ref})
    descriptor_ref = update.add(descriptor)
    w = ArrayObject()
    for code in sorted(program.widths):
        w += [NumberObject(code), ArrayObject([NumberObject(program.widths[code])])]
    registry, ordering, supplement = program.ros
    cidfont = DictionaryObject({
        name("/Type"): name("/Font"),
        name("/Subtype"): name("/CIDFontType2" if program.kind == "truetype" else "/CIDFontType0"),
        name("/BaseFont"): name("/" + base),
        name("/CIDSystemInfo"): DictionaryObject({name("/Registry"): TextStringObject(registry),
                                                  name("/Ordering"): TextStringObject(ordering),
                                                  name("/Supplement"): NumberObject(supplement)}),
        name("/FontDescriptor"): descriptor_ref, name("/DW"): NumberObject(1000), name("/W"): w})
    if program.kind == "truetype":
        cidfont[name("/CIDToGIDMap")] = name("/Identity")
    cidfont_ref = update.add(cidfont)
    tounicode_ref = update.add(update.stream(_to_unicode(program), compress=True))
    type0 = DictionaryObject({
        name("/Type"): name("/Font"), name("/Subtype"): name("/Type0"), name("/BaseFont"): name("/" + base),
        name("/Encoding"): name("/Identity-H"), name("/DescendantFonts"): ArrayObject([cidfont_ref]),
        name("/ToUnicode"): tounicode_ref})
    return update.add(type0)
