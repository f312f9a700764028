"""The stamp as an incremental update: a shared Form XObject placed on each stamped page.

The page's existing content is wrapped between a leading ``q`` stream and the stamp's stream
``Q q <matrix> cm /AigcStamp Do Q``, so its graphics state cannot leak into the stamp.  Re-marking
replaces an earlier stamp of ours (recognised by :data:`OUR_KEY`) and removes it from pages not
stamped now.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import CorruptFile, LabelError, UnsupportedOperation
from ...foreign import pypdf_errors as foreign_pypdf_errors
from ...formats._sfnt import FontProgram
from ...formats.pdf_content import Box, page_geometry
from .. import ExplicitOptions, ExplicitResult
from ..fonts import FontChoice, resolve_font
from .font import embed_font, load_font_program
from .placement import PAD_EM, REF_SIZE, SCANS_PER_GROUP, Placement, choose, obstacles, overlaps, page_frame, sample

if TYPE_CHECKING:  # pragma: no cover
    from ..._io import CountingReader
    from ...formats.base import FormatHandler
    from ...formats.pdf import PdfDocument

__all__ = ["PdfStampMarker", "PAGE_CHOICES", "STAMP_NAME", "OUR_KEY"]

PAGE_CHOICES = ("first", "last", "all")
#: the resource name of the stamp form, and the key that marks our objects for re-marking
STAMP_NAME = "/AigcStamp"
OUR_KEY = "/AigclabelStamp"
_TEXT_GREY = 0.1

def _fmt(v: float) -> bytes:
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("-0", "") else "0").encode()


def _form_content(program: FontProgram, text: str, w: float, h: float) -> bytes:
    pad = PAD_EM * REF_SIZE
    baseline = pad - program.descent / 1000.0 * REF_SIZE
    return b"".join([
        b"q 1 1 1 rg 0 0 ", _fmt(w), b" ", _fmt(h), b" re f Q\n",
        b"BT /F0 ", _fmt(REF_SIZE), b" Tf ", _fmt(_TEXT_GREY), b" g ",
        _fmt(pad), b" ", _fmt(baseline), b" Td <", program.encode(text).hex().upper().encode(), b"> Tj ET\n",
    ])


def _is_ours(obj: Any) -> bool:
    try:
        with foreign_pypdf_errors("reading a page resource"):
            return OUR_KEY in obj.get_object()
    except CorruptFile:  # an unreadable object is not one of ours
        return False


@dataclass
class _PageParts:
    """A page's own dictionary, its (possibly inherited) resources and content streams, and the
    stamps of ours already on it (by resource name)."""

    own: Any
    resources: Any
    xobjects: Any
    ours: list[str]

    def streams(self) -> list[Any]:
        """The page's content streams (references), read only when the page is rewritten."""
        from pypdf.generic import ArrayObject

        raw = self.own.raw_get("/Contents") if "/Contents" in self.own else None
        if raw is None:
            return []
        resolved = raw.get_object()
        return list(resolved) if isinstance(resolved, ArrayObject) else [raw]

    @classmethod
    def of(cls, doc: PdfDocument, page: Any) -> _PageParts:
        from pypdf.generic import DictionaryObject, IndirectObject

        ref = page.indirect_reference
        own = doc.reader.get_object(ref) if isinstance(ref, IndirectObject) else page
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        if not isinstance(resources, DictionaryObject):
            resources = DictionaryObject()
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else DictionaryObject()
        if not isinstance(xobjects, DictionaryObject):
            xobjects = DictionaryObject()
        ours = [k for k in xobjects if k.startswith(STAMP_NAME) and _is_ours(xobjects.raw_get(k))]
        return cls(own, resources, xobjects, ours)

    def free_name(self) -> str:
        """The resource name for the stamp: ours again, or /AigcStamp, /AigcStamp1... not taken by others."""
        name, n = STAMP_NAME, 0
        while name in self.xobjects and name not in self.ours:
            n += 1
            name = f"{STAMP_NAME}{n}"
        return name

    def rebuilt(self, wrap: tuple[Any, Any] | None, stamp: tuple[str, Any] | None) -> Any:
        """The page dictionary without our earlier stamps, wrapped and stamped anew when asked."""
        from pypdf.generic import ArrayObject, DictionaryObject, NameObject

        streams = [s for s in self.streams() if not _is_ours(s)] if self.ours else self.streams()
        xobjects = DictionaryObject()
        for key, value in self.xobjects.items():
            if key not in self.ours:
                xobjects[NameObject(key)] = value
        if stamp is not None:
            xobjects[NameObject(stamp[0])] = stamp[1]
        resources = DictionaryObject()
        for key, value in self.resources.items():
            resources[NameObject(key)] = value
        resources[NameObject("/XObject")] = xobjects
        page = DictionaryObject()
        for key, value in self.own.items():
            page[NameObject(key)] = value
        page[NameObject("/Contents")] = ArrayObject([wrap[0], *streams, wrap[1]] if wrap else streams)
        page[NameObject("/Resources")] = resources
        return page


class PdfStampMarker:
    """Stamps the notice on PDF pages (kind "document"; other document formats are not handled here)."""

    def supports(self, handler: FormatHandler) -> bool:
        return handler.name == "pdf"

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        if not self.supports(handler):
            raise UnsupportedOperation(f"visible labels for {handler.name.upper()} are not available in this "
                                       "version; mark it with --no-explicit (explicit=False)")
        from ...formats.pdf import PasswordRequired, pypdf_errors

        which = options.extra.get("pages", "first")
        if which not in PAGE_CHOICES:
            raise LabelError(f"pages must be one of {', '.join(PAGE_CHOICES)}, not {which!r}")
        text = options.text.strip()
        if not text or "\n" in text or "\r" in text:
            raise LabelError("the PDF stamp is one line of text: give a non-empty notice without line breaks")
        access = handler.document_access(src)
        password = access.password
        doc = access.document(for_write=True)
        if doc.encrypted and password is None:
            raise PasswordRequired("the PDF is encrypted: give its password to mark it (--password / "
                                   "password=...); it stays encrypted")
        font = resolve_font(text, options.font)
        program = load_font_program(font, text)
        with pypdf_errors("stamping the PDF"):
            return self._stamp(doc, program, font, text, which, options)

    def _stamp(self, doc: PdfDocument, program: FontProgram, font: FontChoice, text: str, which: str,
               options: ExplicitOptions) -> ExplicitResult:
        from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

        from ...formats.pdf import IncrementalUpdate

        pages = doc.pages()
        if not pages:
            raise LabelError("the PDF has no pages to stamp")
        indices = {"first": [0], "last": [len(pages) - 1], "all": list(range(len(pages)))}[which]
        update = IncrementalUpdate(doc)
        notes: list[str] = []
        font_ref = embed_font(update, program)
        text_em = program.text_width(text)
        pad = PAD_EM * REF_SIZE
        form_w = text_em * REF_SIZE + 2 * pad
        form_h = (program.ascent - program.descent) / 1000.0 * REF_SIZE + 2 * pad
        form = update.stream(_form_content(program, text, form_w, form_h), {
            "/Type": NameObject("/XObject"), "/Subtype": NameObject("/Form"),
            "/BBox": ArrayObject([_num(0), _num(0), _num(form_w), _num(form_h)]),
            "/Resources": DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F0"): font_ref})}),
            OUR_KEY: NameObject("/Form")})
        form_ref = update.add(form)
        opener_ref = update.add(update.stream(b"q\n", {OUR_KEY: NameObject("/Open")}))
        _, catalog = doc.catalog()
        mark_info = catalog.get("/MarkInfo")
        tagged = bool(mark_info is not None and mark_info.get_object().get("/Marked", False))
        # one placement per page geometry, chosen from a sample of that geometry's pages (the stamp
        # sits at the same place on every page, and 500 pages cost a few content scans, not 500)
        frames = {index: page_frame(pages[index], form_w, form_h, options, text_em) for index in indices}
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index in indices:
            groups.setdefault(frames[index].key, []).append(index)
        scans: dict[int, list[Box] | None] = {}
        chosen: dict[tuple[Any, ...], Placement] = {}
        for key, members in groups.items():
            for index in sample(members, SCANS_PER_GROUP):
                scans[index] = obstacles(pages[index], frames[index].visible)
            chosen[key] = choose(frames[members[0]], [scans[i] for i in members if i in scans])
        stamp_streams: dict[bytes, Any] = {}
        shared_resources: dict[bytes, list[Any]] = {}  # identical new resource dicts: written once
        placed = []
        overlapping = []
        replaced = removed = 0
        selected = set(indices)
        for index, page in enumerate(pages):
            ref = page.indirect_reference
            parts = _PageParts.of(doc, page)
            if index not in selected:
                if parts.ours and isinstance(ref, IndirectObject):  # an earlier stamp on a page not asked for now
                    update.put(ref, parts.rebuilt(None, None))
                    removed += 1
                continue
            if not isinstance(ref, IndirectObject):
                notes.append(f"page {index + 1} is not an indirect object and was not stamped")
                continue
            placement = chosen[frames[index].key]
            clear: bool | None = None
            if scans.get(index) is not None:
                clear = not any(overlaps(placement.box, ob) for ob in scans[index] or ())
            name = parts.free_name()
            draw = name.encode() + b" Do"
            if tagged:
                draw = b"/Artifact <</Type /Pagination /Subtype /Watermark>> BDC " + draw + b" EMC"
            content = b"Q\nq " + b" ".join(_fmt(v) for v in placement.matrix) + b" cm " + draw + b" Q\n"
            if content not in stamp_streams:
                stamp_streams[content] = update.add(update.stream(content, {OUR_KEY: NameObject("/Stamp")}))
            new_page = parts.rebuilt((opener_ref, stamp_streams[content]), (name, form_ref))
            update.put(ref, new_page)
            replaced += 1 if parts.ours else 0
            buf = io.BytesIO()
            new_page["/Resources"].write_to_stream(buf)
            shared_resources.setdefault(buf.getvalue(), []).append(new_page)
            placed.append({"page": index + 1, "position": placement.position,
                           "box": [round(v, 2) for v in placement.box],
                           "font_size": round(placement.font_size, 2),
                           "rotate": page_geometry(page)[1], "clear_of_content": clear})
            if clear is False:
                overlapping.append(index + 1)
        for same in shared_resources.values():
            if len(same) > 1:
                resources_ref = update.add(same[0]["/Resources"])
                for new_page in same:
                    new_page[NameObject("/Resources")] = resources_ref
        if program.kind == "cff" and _version_below(doc.header_version, "1.6"):
            new_catalog = DictionaryObject()
            for key, value in catalog.items():
                new_catalog[NameObject(key)] = value
            new_catalog[NameObject("/Version")] = NameObject("/1.6")
            update.put(doc.catalog()[0], new_catalog)
            notes.append("the catalog's /Version was raised to 1.6 (an OpenType font is embedded)")
        out = io.BytesIO()
        update.write(out)
        where = ", ".join(str(p["page"]) for p in placed)
        embedded = "subset to the notice's glyphs" if program.subset else "embedded whole"
        summary = (f"PDF stamp '{text}' on page {where} of {len(pages)} ({which}), font {font.describe()} "
                   f"{embedded}; appended as an incremental update (the original bytes are unchanged)")
        notes.insert(0, summary)
        if replaced:
            notes.append(f"an earlier stamp was replaced on {replaced} page(s)")
        if removed:
            notes.append(f"an earlier stamp was removed from {removed} page(s) not stamped now")
        if overlapping:
            notes.append(f"no free margin found on page(s) {', '.join(map(str, overlapping))}: the stamp sits on "
                         "a white box over the page content there")
        details = {"format": "pdf", "text": text, "pages": which, "placements": placed,
                   "font": font.describe(), "font_subset": program.subset,
                   "font_bytes": len(program.data), "page_count": len(pages)}
        return ExplicitResult(out.getvalue(), notes, details)


def _num(v: float) -> Any:
    from pypdf.generic import FloatObject, NumberObject

    return NumberObject(int(v)) if float(v).is_integer() else FloatObject(round(v, 4))


def _version_below(version: str, wanted: str) -> bool:
    try:
        return tuple(int(p) for p in version.split(".")[:2]) < tuple(int(p) for p in wanted.split("."))
    except ValueError:
        return True
