"""Real-file tests of Office labelling (DOCX, XLSX, PPTX): the custom property, the visible notice,
the raw-copy ZIP rewrite, and hostile archives -- read back with independent readers.

Readers: python-docx, openpyxl and python-pptx (they open every output; openpyxl also reads the
custom properties), :mod:`zipfile` (``testzip`` on every output; custom.xml, [Content_Types].xml
and _rels/.rels read back with ElementTree), exiftool (prints the property as ``XML:AIGC``),
LibreOffice (converts the marked files to PDF) with poppler's ``pdftotext`` (the notice shows).
Test documents are made here with python-docx, openpyxl and python-pptx; hostile archives with
zipfile and a few byte patches.  Nothing is mocked.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

import aigclabel
from aigclabel._io import CountingReader, open_source
from aigclabel.errors import AigcLabelError, CorruptFile, LabelError, UnsupportedFormat, UnsupportedOperation
from aigclabel.explicit import marker_for
from aigclabel.explicit.office import OfficeNoticeMarker
from aigclabel.explicit.pdf import PdfStampMarker
from aigclabel.formats import detect, handler_for
from aigclabel.formats import _zip
from aigclabel.formats.office import FMTID, DocxHandler, PptxHandler, XlsxHandler, header_footer_text
from aigclabel.report import Level, Verdict

from conftest import PRODUCER, record_json

docx = pytest.importorskip("docx", reason="python-docx is a test dependency (the [test] extra)")
openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is a test dependency (the [test] extra)")
pptx = pytest.importorskip("pptx", reason="python-pptx is a test dependency (the [test] extra)")

NOTICE = "本内容由人工智能生成"
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CUSTOM_CT = "application/vnd.openxmlformats-officedocument.custom-properties+xml"


# ------------------------------------------------------------------------------------ factories


def make_docx(paragraphs: int = 3, *, header: str | None = None) -> bytes:
    doc = docx.Document()
    doc.add_heading("A generated report", 1)
    for i in range(paragraphs):
        doc.add_paragraph(f"Paragraph {i + 1}: the body text of the report.")
    if header is not None:
        doc.sections[0].header.paragraphs[0].text = header
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def make_xlsx(sheets: int = 2, *, custom: dict[str, str] | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in range(1, 6):
        ws.append([f"row {r}", r, r * 1.5])
    ws["E1"] = "=SUM(B1:B5)"
    for n in range(1, sheets):
        other = wb.create_sheet(f"Sheet{n + 1}")
        other["A1"] = f"sheet {n + 1}"
    wb.defined_names["total"] = openpyxl.workbook.defined_name.DefinedName("total", attr_text="Data!$B$1:$B$5")
    if custom:
        from openpyxl.packaging.custom import StringProperty

        for name, value in custom.items():
            wb.custom_doc_props.append(StringProperty(name=name, value=value))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_pptx(slides: int = 3) -> bytes:
    prs = pptx.Presentation()
    for i in range(slides):
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = f"Slide {i + 1}"
        slide.placeholders[1].text = f"Point {i + 1}"
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


MAKERS = {"docx": make_docx, "xlsx": make_xlsx, "pptx": make_pptx}


def mark(data: bytes, produce_id: str = "office-0001", **kwargs: Any) -> bytes:
    result = aigclabel.mark_file(data, producer=PRODUCER, produce_id=produce_id, **kwargs)
    assert isinstance(result.data, bytes)
    return result.data


def mark_file(data: bytes, tmp: Path, suffix: str, **kwargs: Any) -> tuple[bytes, Any]:
    src = tmp / f"in-{time.monotonic_ns()}.{suffix}"
    src.write_bytes(data)
    dest = tmp / f"out-{time.monotonic_ns()}.{suffix}"
    result = aigclabel.mark_file(src, dest, producer=PRODUCER, produce_id=kwargs.pop("produce_id", "office-0001"),
                                 **kwargs)
    return dest.read_bytes(), result


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {info.filename: zf.read(info) for info in zf.infolist()}


def raw_members(data: bytes) -> dict[str, tuple[bytes, bytes, Any]]:
    """name -> (local header + compressed data, central record fields, ZipInfo) read independently."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            off = info.header_offset
            nlen, xlen = struct.unpack_from("<HH", data, off + 26)
            end = off + 30 + nlen + xlen + info.compress_size
            out[info.filename] = (data[off:end], (info.date_time, info.extra, info.comment, info.external_attr,
                                                  info.compress_type, info.flag_bits), info)
    return out


def custom_props(data: bytes) -> list[dict[str, str]]:
    root = ET.fromstring(members(data)["docProps/custom.xml"])
    out = []
    for prop in root.findall(f"{{{CUSTOM_NS}}}property"):
        value = prop[0]
        out.append({"name": prop.get("name"), "pid": prop.get("pid"), "fmtid": prop.get("fmtid"),
                    "type": value.tag.split("}")[1], "value": value.text or ""})
    return out


def assert_registered(data: bytes) -> None:
    parts = members(data)
    types = ET.fromstring(parts["[Content_Types].xml"])
    overrides = [o for o in types.findall(f"{{{CT_NS}}}Override") if o.get("PartName") == "/docProps/custom.xml"]
    assert [o.get("ContentType") for o in overrides] == [CUSTOM_CT]
    rels = ET.fromstring(parts["_rels/.rels"])
    custom = [r for r in rels.findall(f"{{{REL_NS}}}Relationship") if r.get("Type") == CUSTOM_REL]
    assert [r.get("Target").lstrip("/") for r in custom] == ["docProps/custom.xml"]
    ids = [r.get("Id") for r in rels.findall(f"{{{REL_NS}}}Relationship")]
    assert len(ids) == len(set(ids))


def open_with_reader(kind: str, data: bytes) -> Any:
    if kind == "docx":
        return docx.Document(io.BytesIO(data))
    if kind == "xlsx":
        return openpyxl.load_workbook(io.BytesIO(data))
    return pptx.Presentation(io.BytesIO(data))


def explicit_findings(data: bytes) -> list:
    report = aigclabel.verify(data, scope="explicit")
    return [f for f in report.findings if f.rule == "explicit.document"]


def reader(data: bytes, name: str = "<office>") -> CountingReader:
    return CountingReader(io.BytesIO(data), name, len(data))


def rebuild(data: bytes, transform: Any = None, *, order: list[str] | None = None,
            add: dict[str, bytes] | None = None, **writer_kwargs: Any) -> bytes:
    """The same package rewritten with zipfile (optionally changing or adding parts, order or options)."""
    parts = {**members(data), **(add or {})}
    names = order or list(parts)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, **writer_kwargs) as zf:
        for name in names:
            content = parts[name]
            if transform is not None:
                content = transform(name, content)
                if content is None:
                    continue
            zf.writestr(name, content)
    return buf.getvalue()


# =============================================================================== detection


@pytest.mark.parametrize("kind, handler", [("docx", DocxHandler), ("xlsx", XlsxHandler), ("pptx", PptxHandler)])
def test_detected_by_content_not_name(tmp_path: Path, kind: str, handler: type) -> None:
    data = MAKERS[kind]()
    path = tmp_path / "no-extension.bin"
    path.write_bytes(data)
    with open_source(path) as src:
        assert type(handler_for(src)) is handler
    assert aigclabel.inspect(path).format == kind
    # members in another order (no [Content_Types].xml first): still found
    names = list(members(data))
    shuffled = rebuild(data, order=sorted(names, reverse=True))
    assert not shuffled[30:60].startswith(b"[Content_Types]")
    assert type(handler_for(reader(shuffled))) is handler


def test_other_zips_are_not_claimed() -> None:
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("notes.txt", "hello")
        zf.writestr("data/x.csv", "1,2,3")
    epub = io.BytesIO()
    with zipfile.ZipFile(epub, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        zf.writestr("META-INF/container.xml", "<container/>")
    odt = io.BytesIO()
    with zipfile.ZipFile(odt, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", "<office:document-content/>")
    visio = rebuild(make_docx(), lambda n, c: c.replace(
        b"wordprocessingml.document.main+xml", b"ms-visio.drawing.main+xml") if n == "[Content_Types].xml" else c)
    for data in (plain.getvalue(), epub.getvalue(), odt.getvalue(), visio):
        with pytest.raises(UnsupportedFormat):
            aigclabel.verify(data)
        with pytest.raises(UnsupportedFormat):
            aigclabel.mark(data, producer=PRODUCER)


def test_score_sees_only_the_zip_head() -> None:
    data = make_docx()
    assert detect(data[:64]).name in ("docx", "pptx", "xlsx")  # refined later, with the whole file
    assert DocxHandler.score(data[:64]) == 90
    assert DocxHandler.score(b"PK\x03\x04" + bytes(60)) == 20
    assert DocxHandler.score(b"%PDF-1.7\n" + bytes(55)) == 0


def test_marker_dispatch_per_handler() -> None:
    assert isinstance(marker_for(DocxHandler()), OfficeNoticeMarker)
    assert isinstance(marker_for(PptxHandler()), OfficeNoticeMarker)
    from aigclabel.formats.pdf import PdfHandler

    assert isinstance(marker_for(PdfHandler()), PdfStampMarker)


# ================================================================================= implicit


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_custom_property_written_and_registered(tmp_path: Path, kind: str) -> None:
    original = MAKERS[kind]()
    marked = mark(original, explicit=False)
    props = custom_props(marked)
    assert props == [{"name": "AIGC", "pid": "2", "fmtid": FMTID, "type": "lpwstr",
                      "value": record_json("office-0001")}]
    assert_registered(marked)
    open_with_reader(kind, marked)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.message for f in report.findings]
    assert [lab.carrier for lab in report.labels] == ["docProps/custom.xml:AIGC"]
    assert report.labels[0].normative
    # unchanged members: the same local header and compressed bytes, order, times, extra fields
    before, after = raw_members(original), raw_members(marked)
    changed = {"[Content_Types].xml", "_rels/.rels", "docProps/custom.xml"}
    assert [n for n in after if n != "docProps/custom.xml"] == list(before)
    for name, (raw, meta, _info) in before.items():
        if name not in changed:
            assert after[name][0] == raw, name
            assert after[name][1] == meta, name
    for name in changed & set(before):
        assert after[name][1][0] == before[name][1][0], "the timestamp of a changed member is kept"


def test_exiftool_reads_the_property(tmp_path: Path) -> None:
    exe = shutil.which("exiftool")
    if exe is None:
        pytest.skip("exiftool is not installed (Debian: libimage-exiftool-perl)")
    path = tmp_path / "m.docx"
    path.write_bytes(mark(make_docx(), explicit=False))
    out = subprocess.run([exe, "-s", "-XML:AIGC", "-b", str(path)], capture_output=True, timeout=60)
    assert out.stdout.decode() == record_json("office-0001")


def test_openpyxl_reads_the_property_and_merging_keeps_user_properties() -> None:
    original = make_xlsx(custom={"Project": "Apollo & <Luna>", "AIGCProject": "not a record"})
    before = members(original)["docProps/custom.xml"]
    marked = mark(original, explicit=False)
    wb = openpyxl.load_workbook(io.BytesIO(marked))
    props = {p.name: p.value for p in wb.custom_doc_props}
    assert props == {"Project": "Apollo & <Luna>", "AIGCProject": "not a record", "AIGC": record_json("office-0001")}
    after = members(marked)["docProps/custom.xml"]
    for element in re.findall(rb"<(?:\w+:)?property .*?</(?:\w+:)?property>", before):
        assert element in after, "other properties are kept byte for byte"
    pids = [p["pid"] for p in custom_props(marked)]
    assert len(pids) == len(set(pids)) and min(int(p) for p in pids) >= 2


def test_remarking_replaces_the_record_never_two() -> None:
    once = mark(make_docx(), "first-0001", explicit=False)
    twice = mark(once, "second-0002", explicit=False)
    props = custom_props(twice)
    assert [p["value"] for p in props if p["name"] == "AIGC"] == [record_json("second-0002")]
    assert_registered(twice)
    # a record under another AIGC name is replaced too; a record-looking property of another name is read
    legacy = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="' + CUSTOM_NS.encode()
              + b'" xmlns:vt="' + VT_NS.encode() + b'"><property fmtid="' + FMTID.encode()
              + b'" pid="2" name="Keep"><vt:i4>7</vt:i4></property><property fmtid="' + FMTID.encode()
              + b'" pid="5" name="AIGC_label"><vt:lpwstr>' + record_json("old-0001").encode()
              + b"</vt:lpwstr></property></Properties>")
    data = _register_custom(rebuild(make_docx(), add={"docProps/custom.xml": legacy}))
    found = aigclabel.inspect(data).labels
    assert [(lab.carrier, lab.normative) for lab in found] == [("docProps/custom.xml:AIGC_label", False)]
    marked = mark(data, explicit=False)
    assert [(p["name"], p["pid"]) for p in custom_props(marked)] == [("Keep", "2"), ("AIGC", "3")]


def _register_custom(data: bytes) -> bytes:
    def fix(name: str, content: bytes) -> bytes:
        if name == "[Content_Types].xml" and b"custom.xml" not in content:
            return content.replace(b"</Types>", b'<Override PartName="/docProps/custom.xml" ContentType="'
                                   + CUSTOM_CT.encode() + b'"/></Types>')
        if name == "_rels/.rels" and CUSTOM_REL.encode() not in content:
            return content.replace(b"</Relationships>", b'<Relationship Id="rId99" Type="' + CUSTOM_REL.encode()
                                   + b'" Target="docProps/custom.xml"/></Relationships>')
        return content
    return rebuild(data, fix)


def test_unregistered_custom_part_is_reported_and_registered_on_marking() -> None:
    marked = mark(make_docx(), explicit=False)
    unregistered = rebuild(marked, lambda n, c: c.replace(CUSTOM_REL.encode(), b"urn:x-nothing")
                           if n == "_rels/.rels" else c)
    ev = aigclabel.inspect(unregistered)
    assert [lab.normative for lab in ev.labels] == [False]
    assert any(f.rule == "format.ooxml" and "not registered" in f.message for f in ev.findings)
    again = mark(unregistered, explicit=False)
    assert aigclabel.inspect(again).labels[0].normative


def test_archive_comment_member_comments_extra_fields_and_descriptors_are_kept() -> None:
    parts = members(make_docx())
    buf = io.BytesIO()

    class Unseekable(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            return buf.write(b)

    with zipfile.ZipFile(Unseekable(), "w", zipfile.ZIP_DEFLATED) as zf:  # writes data descriptors
        zf.comment = b"archive comment"
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2021, 5, 6, 7, 8, 10))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.comment = f"comment of {name}".encode()
            info.extra = struct.pack("<HHBI", 0x5455, 5, 1, 1_600_000_000)  # extended timestamp
            zf.writestr(info, content)
    original = buf.getvalue()
    assert any(i.flag_bits & 0x08 for i in zipfile.ZipFile(io.BytesIO(original)).infolist())
    marked = mark(original)
    with zipfile.ZipFile(io.BytesIO(marked)) as zf:
        assert zf.testzip() is None
        assert zf.comment == b"archive comment"
        for info in zf.infolist():
            if info.filename != "docProps/custom.xml":
                assert info.comment == f"comment of {info.filename}".encode()
                assert info.date_time == (2021, 5, 6, 7, 8, 10)
                assert info.extra == struct.pack("<HHBI", 0x5455, 5, 1, 1_600_000_000)
    before, after = raw_members(original), raw_members(marked)
    for name in ("word/styles.xml", "docProps/core.xml", "word/settings.xml"):
        assert after[name][0] == before[name][0]
    docx.Document(io.BytesIO(marked))


def test_big_member_is_neither_inflated_nor_read_when_verifying() -> None:
    big = bytes(range(256)) * 40_000 + __import__("os").urandom(6 << 20)
    data = rebuild(make_docx(), order=None)
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as zf:
        zf.writestr("word/media/big.bin", big)
    data = buf.getvalue()
    marked = mark(data, explicit=False)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < 128 * 1024, report.bytes_read
    assert raw_members(marked)["word/media/big.bin"][0] == raw_members(data)["word/media/big.bin"][0]


def test_unsupported_method_in_an_unchanged_member_is_copied_raw() -> None:
    data = make_pptx(1)
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr(zipfile.ZipInfo("ppt/media/notes.bin"), b"x" * 5000, compress_type=zipfile.ZIP_BZIP2)
    data = buf.getvalue()
    marked = mark(data)
    assert raw_members(marked)["ppt/media/notes.bin"][0] == raw_members(data)["ppt/media/notes.bin"][0]
    assert members(marked)["ppt/media/notes.bin"] == b"x" * 5000


# ===================================================================================== DOCX


def body_children(data: bytes) -> list[str]:
    body = ET.fromstring(members(data)["word/document.xml"]).find(f"{{{W_NS}}}body")
    return [child.tag.split("}")[1] for child in body]


@pytest.mark.parametrize("pages, expected", [(None, "start"), ("first", "start"), ("last", "end"),
                                             ("all", "both")])
def test_docx_notice_paragraph(tmp_path: Path, pages: str | None, expected: str) -> None:
    original = make_docx()
    marked, result = mark_file(original, tmp_path, "docx", pages=pages)
    texts = [p.text for p in docx.Document(io.BytesIO(marked)).paragraphs]
    originals = [p.text for p in docx.Document(io.BytesIO(original)).paragraphs]
    want = ([NOTICE] if expected in ("start", "both") else []) + originals + \
        ([NOTICE] if expected in ("end", "both") else [])
    assert texts == want
    assert body_children(marked)[-1] == "sectPr", "the section properties stay the body's last child"
    assert result.explicit_details["position"] == expected
    (finding,) = explicit_findings(marked)
    count = len(texts)
    assert finding.level is Level.PASS
    assert finding.location == ("word/document.xml, paragraph 1 of %d (the first)" % count if expected != "end"
                                else "word/document.xml, paragraph %d of %d (the last)" % (count, count))
    assert finding.clause.startswith("Measures Art. 4")
    report = aigclabel.verify(marked)
    assert report.verdict is not Verdict.NONCOMPLIANT, [f.message for f in report.findings if f.level is Level.ERROR]


def test_docx_remarking_replaces_the_notice() -> None:
    once = mark(make_docx(), explicit_extra={"text_position": "both"})
    again = mark(once, "office-0002", text="AI生成", explicit_extra={"text_position": "end"})
    texts = [p.text for p in docx.Document(io.BytesIO(again)).paragraphs]
    assert NOTICE not in texts and texts[-1] == "AI生成" and texts.count("AI生成") == 1
    xml = members(again)["word/document.xml"]
    assert xml.count(b"_AigcNotice") == 1
    assert len(set(re.findall(rb'bookmarkStart w:id="(\d+)"', xml))) == len(re.findall(rb"bookmarkStart", xml))


def test_docx_other_prefix_and_empty_body() -> None:
    def prefix_x(name: str, content: bytes) -> bytes:
        if name != "word/document.xml":
            return content
        return (content.replace(b"<w:", b"<x:").replace(b"</w:", b"</x:").replace(b" w:", b" x:")
                .replace(b"xmlns:w=", b"xmlns:x="))
    data = rebuild(make_docx(), prefix_x)
    marked = mark(data)
    assert [p.text for p in docx.Document(io.BytesIO(marked)).paragraphs][0] == NOTICE
    empty = rebuild(make_docx(), lambda n, c: re.sub(rb"<w:body>.*</w:body>", b"<w:body/>", c, flags=re.S)
                    if n == "word/document.xml" else c)
    marked = mark(empty)
    assert [p.text for p in docx.Document(io.BytesIO(marked)).paragraphs] == [NOTICE]


def test_docx_check_near_miss_hidden_text_and_header() -> None:
    doc = docx.Document()
    doc.add_paragraph("Powered by AI")
    for i in range(6):
        doc.add_paragraph(f"Body {i}")
    buf = io.BytesIO()
    doc.save(buf)
    (finding,) = explicit_findings(buf.getvalue())
    assert finding.level is Level.ERROR and "lacks a generation element" in finding.message
    # a hidden (w:vanish) notice is not visible
    doc = docx.Document()
    run = doc.add_paragraph().add_run(NOTICE)
    run.font.hidden = True
    doc.add_paragraph("Body")
    buf = io.BytesIO()
    doc.save(buf)
    (finding,) = explicit_findings(buf.getvalue())
    assert finding.level is Level.ERROR
    # long prose mentioning AI generation is not a notice
    doc = docx.Document()
    doc.add_paragraph("In this long essay about AI we discuss how generation works in practice " * 2)
    buf = io.BytesIO()
    doc.save(buf)
    assert explicit_findings(buf.getvalue())[0].level is Level.ERROR
    # a notice in the page header is on the first page
    (finding,) = explicit_findings(make_docx(10, header="AI生成"))
    assert finding.level is Level.PASS and "page header" in finding.message
    # unlabelled
    (finding,) = explicit_findings(make_docx(10))
    assert finding.level is Level.ERROR and "no visible notice" in finding.message


# ===================================================================================== PPTX


@pytest.mark.parametrize("pages, slides", [(None, {0}), ("last", {2}), ("all", {0, 2})])
def test_pptx_notice_text_box(pages: str | None, slides: set[int]) -> None:
    original = make_pptx(3)
    marked = mark(original, explicit_extra={"pages": pages} if pages else None)
    prs = pptx.Presentation(io.BytesIO(marked))
    width, height = prs.slide_width, prs.slide_height
    found = set()
    for index, slide in enumerate(prs.slides):
        notes = [s for s in slide.shapes if s.name == "AIGC Notice"]
        if not notes:
            continue
        found.add(index)
        (shape,) = notes
        assert shape.text_frame.text == NOTICE
        assert shape == list(slide.shapes)[-1], "on top of the other shapes"
        assert 0 <= shape.left and shape.left + shape.width <= width
        assert 0 <= shape.top and shape.top + shape.height <= height
        assert shape.top + shape.height >= height * 0.9, "at the bottom edge"
        size = shape.text_frame.paragraphs[0].runs[0].font.size.pt
        assert size >= 12 and size >= height / 12700 * 0.025
        ids = [s.shape_id for s in slide.shapes]
        assert len(ids) == len(set(ids))
    assert found == slides
    (finding,) = explicit_findings(marked)
    assert finding.level is Level.PASS


def test_pptx_remarking_moves_the_notice_and_check() -> None:
    once = mark(make_pptx(3))
    again = mark(once, "office-0002", explicit_extra={"pages": "last"})
    prs = pptx.Presentation(io.BytesIO(again))
    counts = [sum(1 for s in slide.shapes if s.name == "AIGC Notice") for slide in prs.slides]
    assert counts == [0, 0, 1]
    (finding,) = explicit_findings(make_pptx(3))
    assert finding.level is Level.ERROR
    with pytest.raises(LabelError):
        mark(make_pptx(0))


# ===================================================================================== XLSX


def test_xlsx_notice_sheet_last_and_user_sheets_untouched() -> None:
    original = make_xlsx(2)
    marked = mark(original, explicit_extra={"pages": "first"})
    wb = openpyxl.load_workbook(io.BytesIO(marked))
    assert wb.sheetnames == ["Data", "Sheet2", "AI生成声明"]
    assert wb["AI生成声明"]["A1"].value == NOTICE
    assert wb["AI生成声明"].oddHeader.center.text == NOTICE
    assert wb.active.title == "Data", "the active sheet stays the user's"
    assert "total" in wb.defined_names
    assert wb["Data"]["E1"].value == "=SUM(B1:B5)"
    before, after = raw_members(original), raw_members(marked)
    for name in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/styles.xml"):
        assert after[name][0] == before[name][0]
    (finding,) = explicit_findings(marked)
    assert finding.level is Level.PASS and "last sheet" in finding.message
    again = mark(marked, "office-0002", text="AI生成")
    wb = openpyxl.load_workbook(io.BytesIO(again))
    assert wb.sheetnames == ["Data", "Sheet2", "AI生成声明"]
    assert wb["AI生成声明"]["A1"].value == "AI生成"


def test_xlsx_user_sheet_with_our_name_is_kept_and_check() -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "AI生成声明"
    for r in range(10):
        wb.active.append([f"user data {r}", r])
    buf = io.BytesIO()
    wb.save(buf)
    (finding,) = explicit_findings(buf.getvalue())
    assert finding.level is Level.ERROR
    marked = mark(buf.getvalue())
    wb = openpyxl.load_workbook(io.BytesIO(marked))
    assert wb.sheetnames == ["AI生成声明", "AI生成声明 (2)"]
    assert wb["AI生成声明"]["A10"].value == "user data 9"
    # a notice in the first sheet's header counts (shared strings and header codes are read)
    wb = openpyxl.Workbook()
    wb.active.oddFooter.center.text = "AI生成"
    wb.active["A1"] = "data"
    buf = io.BytesIO()
    wb.save(buf)
    (finding,) = explicit_findings(buf.getvalue())
    assert finding.level is Level.PASS and "header/footer" in finding.message
    assert header_footer_text('&L&"Arial,Bold"&12Left&C&KFF0000AI && 生成&R&P of &N') == ["Left", "AI & 生成", "of"]


# ============================================================================ other readers


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_libreoffice_converts_and_shows_the_notice(tmp_path: Path, kind: str) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftotext = shutil.which("pdftotext")
    if soffice is None or pdftotext is None:
        pytest.skip("LibreOffice and poppler-utils are needed (Debian: libreoffice-writer-nogui "
                    "libreoffice-calc-nogui libreoffice-impress-nogui fonts-noto-cjk poppler-utils)")
    src = tmp_path / f"marked.{kind}"
    src.write_bytes(mark(MAKERS[kind]()))
    profile_dir = tmp_path / "lo-profile"
    proc = subprocess.run([soffice, f"-env:UserInstallation=file://{profile_dir}", "--headless", "--convert-to",
                           "pdf", "--outdir", str(tmp_path), str(src)], capture_output=True, timeout=240)
    pdf = tmp_path / "marked.pdf"
    assert pdf.exists(), proc.stdout + proc.stderr
    text = subprocess.run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, timeout=60).stdout
    assert NOTICE in re.sub(r"\s+", "", text.decode())


# ================================================================================= bad input


def patch_member(data: bytes, name: str, *, flags: int | None = None, usize: int | None = None,
                 central_name: bytes | None = None) -> bytes:
    """Patch *name*'s local header and central record."""
    blob = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
        cd_offset = zf.start_dir
    local = info.header_offset
    cd = blob.find(b"PK\x01\x02" + bytes(blob[cd_offset + 4:cd_offset + 4]), cd_offset)
    raw = name.encode()
    pos = cd_offset
    while True:
        pos = blob.find(b"PK\x01\x02", pos)
        nlen = struct.unpack_from("<H", blob, pos + 28)[0]
        if bytes(blob[pos + 46:pos + 46 + nlen]) == raw:
            cd = pos
            break
        pos += 4
    if flags is not None:
        struct.pack_into("<H", blob, local + 6, flags)
        struct.pack_into("<H", blob, cd + 8, flags)
    if usize is not None:
        struct.pack_into("<I", blob, local + 22, usize)
        struct.pack_into("<I", blob, cd + 24, usize)
    if central_name is not None:
        assert len(central_name) == len(raw)
        blob[cd + 46:cd + 46 + len(raw)] = central_name
    return bytes(blob)


def expect_refusal(data: bytes, error: type = AigcLabelError, match: str | None = None, *,
                   verify: bool = True) -> None:
    calls = [lambda d: mark(d)]
    if verify:
        calls.append(lambda d: aigclabel.verify(d))
    for fn in calls:
        with pytest.raises(error, match=match):
            fn(data)


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A ZIP written by hand: (name, data as stored, method, crc, declared size) per member."""
    out = bytearray()
    central = bytearray()
    for name, body, method, crc, usize in entries:
        raw = name.encode()
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(body), usize, len(raw), 0)
        out += raw + body
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(body),
                               usize, len(raw), 0, 0, 0, 0, 0, offset) + raw
    cd = len(out)
    out += central + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), cd, 0)
    return bytes(out)


def deflated(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@functools.lru_cache(maxsize=4)
def _bomb_stream(inflated: int) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 20)
    out = [c.compress(b"<" + chunk[:(1 << 20) - 1])]
    out += [c.compress(chunk) for _ in range(inflated // (1 << 20) - 1)]
    return b"".join(out) + c.flush()


def bomb_package(part: str, inflated: int, declared: int) -> bytes:
    """A registered DOCX whose *part* inflates to *inflated* bytes but declares *declared*."""
    parts = members(_register_custom(make_docx()))
    bomb = _bomb_stream(inflated)
    entries = []
    for name, content in parts.items():
        if name == part:
            entries.append((name, bomb, 8, 0, declared))
        else:
            entries.append((name, deflated(content), 8, zlib.crc32(content), len(content)))
    if part not in parts:
        entries.append((part, bomb, 8, 0, declared))
    return raw_zip(entries)


def test_zip_bombs_are_refused_quickly() -> None:
    cases = {(part, declared): bomb_package(part, 300 << 20, declared)
             for part, declared in (("docProps/custom.xml", 300 << 20), ("docProps/custom.xml", 1000),
                                    ("word/document.xml", 300 << 20), ("word/document.xml", 5000))}
    t0 = time.perf_counter()
    # custom.xml: 300 MB of spaces from ~300 KB, declared honestly (over the cap) or as 1000 bytes
    for declared in (300 << 20, 1000):
        data = cases["docProps/custom.xml", declared]
        with pytest.raises(CorruptFile, match="zip bomb|inflates beyond"):
            mark(data, explicit=False)
        ev = aigclabel.inspect(data)  # reading reports the part as ignored, it does not stop
        assert ev.labels == [] and any("zip bomb" in f.message or "inflates beyond" in f.message
                                       for f in ev.findings)
    # the main document: marking refuses, the explicit check is not done
    for declared in (300 << 20, 5000):
        data = cases["word/document.xml", declared]
        with pytest.raises(CorruptFile, match="zip bomb|inflates beyond"):
            mark(data)
        (finding,) = explicit_findings(data)
        assert finding.level is Level.NOT_CHECKED
    assert time.perf_counter() - t0 < 5
    # a high ratio below the absolute cap (50 MB from 50 KB) is refused too
    data = bomb_package("[Content_Types].xml", 50 << 20, 50 << 20)
    expect_refusal(data, CorruptFile, "zip bomb")


def test_raw_zip_helper_and_sizes_checked() -> None:
    parts = members(_register_custom(make_docx()))
    entries = [(n, deflated(c), 8, zlib.crc32(c), len(c)) for n, c in parts.items()]
    assert aigclabel.inspect(raw_zip(entries)).format == "docx"
    broken = [(n, b, m, crc ^ 1 if n == "_rels/.rels" else crc, u) for n, b, m, crc, u in entries]
    expect_refusal(raw_zip(broken), CorruptFile, "CRC")
    short = [(n, b, m, crc, u + 7 if n == "_rels/.rels" else u) for n, b, m, crc, u in entries]
    expect_refusal(raw_zip(short), CorruptFile, "inflates to")


def test_document_part_bomb_and_hostile_xml() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><Properties xmlns="' + CUSTOM_NS.encode()
              + b'"><property name="AIGC" pid="2" fmtid="x"><vt:lpwstr xmlns:vt="' + VT_NS.encode()
              + b'">&lol3;</vt:lpwstr></property></Properties>')
    data = _register_custom(rebuild(make_docx(), add={"docProps/custom.xml": laughs}))
    ev = aigclabel.inspect(data)
    assert ev.labels == [] and any("DTD" in f.message for f in ev.findings)
    with pytest.raises(CorruptFile, match="cannot be merged"):
        mark(data, explicit=False)
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<w:document xmlns:w="' + W_NS.encode() + b'"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body>'
           b"</w:document>")
    data = rebuild(make_docx(), lambda n, c: xxe if n == "word/document.xml" else c)
    with pytest.raises(CorruptFile, match="DTD"):
        mark(data)
    (finding,) = explicit_findings(data)
    assert finding.level is Level.NOT_CHECKED and "DTD" in finding.message
    with pytest.raises(CorruptFile):
        mark(rebuild(make_docx(), lambda n, c: laughs.replace(b"Properties", b"Types") if n == "[Content_Types].xml"
                     else c))


def test_structural_attacks_are_refused() -> None:
    base = make_docx()
    # path traversal and other unsafe names
    for bad in ("../evil.xml", "/abs/evil.xml", "word\\evil.xml", "C:/evil.xml", "word/./x.xml", "word//x.xml"):
        buf = io.BytesIO(base)
        with zipfile.ZipFile(buf, "a") as zf:
            zf.writestr(zipfile.ZipInfo(bad), b"x")
        expect_refusal(buf.getvalue(), CorruptFile, "unsafe")
    # duplicate names (also differing in case only)
    for dup in ("word/styles.xml", "WORD/Styles.xml"):
        buf = io.BytesIO(base)
        with pytest.warns(UserWarning) if dup == "word/styles.xml" else _nullcontext():
            with zipfile.ZipFile(buf, "a") as zf:
                zf.writestr(dup, b"<x/>")
        expect_refusal(buf.getvalue(), CorruptFile, "duplicate")
    # two central entries sharing one local header: overlapping members
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        target = zf.getinfo("word/styles.xml").header_offset
        victim = zf.getinfo("word/settings.xml")
    blob = bytearray(base)
    eocd = blob.rfind(b"PK\x05\x06")
    pos = struct.unpack_from("<I", blob, eocd + 16)[0]
    while True:
        pos = blob.find(b"PK\x01\x02", pos)
        if struct.unpack_from("<I", blob, pos + 42)[0] == victim.header_offset:
            struct.pack_into("<I", blob, pos + 42, target)
            break
        pos += 4
    expect_refusal(bytes(blob), CorruptFile, "overlap")
    # a local header naming another file than its central entry
    swapped = patch_member(base, "word/styles.xml", central_name=b"word/stylez.xml")
    for fn in (lambda d: mark(d),):
        with pytest.raises(CorruptFile):
            fn(swapped)
    # encrypted member
    expect_refusal(patch_member(base, "[Content_Types].xml", flags=0x0001), UnsupportedOperation, "encrypted")
    # ZIP64
    z64 = rebuild(base, allowZip64=True)
    blob = bytearray(z64)
    eocd = blob.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", blob, eocd + 8, 0xFFFF, 0xFFFF)
    expect_refusal(bytes(blob), UnsupportedOperation, "ZIP64")
    forced = io.BytesIO()
    parts = members(base)
    with zipfile.ZipFile(forced, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            with zf.open(name, "w", force_zip64=True) as fh:
                fh.write(content)
    expect_refusal(forced.getvalue(), UnsupportedOperation, "ZIP64")
    # an unsupported method where a part must be read
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in parts.items():
            zf.writestr(name, content, compress_type=zipfile.ZIP_BZIP2 if name == "[Content_Types].xml"
                        else zipfile.ZIP_DEFLATED)
    expect_refusal(buf.getvalue(), UnsupportedOperation, "compression method")


def _nullcontext() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_too_many_members() -> None:
    buf = io.BytesIO(make_docx())
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as zf:
        for i in range(_zip.MAX_MEMBERS + 1):
            zf.writestr(f"customXml/x{i}.xml", b"")
    expect_refusal(buf.getvalue(), CorruptFile, "members")


def test_truncated_archives_fail_cleanly() -> None:
    good = mark(make_docx())
    for cut in (10, 64, 200, len(good) // 3, len(good) // 2, len(good) - 100, len(good) - 23, len(good) - 1):
        for fn in (lambda d: aigclabel.verify(d), lambda d: aigclabel.inspect(d), lambda d: mark(d)):
            try:
                fn(good[:cut])
            except AigcLabelError:
                pass


def _small_stored_docx() -> bytes:
    """A small package with its XML parts stored (uncompressed), so byte flips hit the XML too."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("[Content_Types].xml", members(make_docx())["[Content_Types].xml"])
        zf.writestr("_rels/.rels", members(make_docx())["_rels/.rels"])
        zf.writestr("word/document.xml", b'<?xml version="1.0"?><w:document xmlns:w="' + W_NS.encode()
                    + b'"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p><w:sectPr/></w:body></w:document>')
        zf.writestr("docProps/custom.xml", b'<Properties xmlns="' + CUSTOM_NS.encode() + b'" xmlns:vt="'
                    + VT_NS.encode() + b'"><property fmtid="' + FMTID.encode() + b'" pid="2" name="AIGC">'
                    b"<vt:lpwstr>" + record_json().encode() + b"</vt:lpwstr></property></Properties>")
    return _register_custom(buf.getvalue())


_FUZZ_BASE = _small_stored_docx()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_libreoffice_round_trip_keeps_the_labels_and_remarking_replaces_them(tmp_path: Path, kind: str) -> None:
    """A marked file saved again by another office suite (which renames and reorders parts, turns inline
    strings into shared ones) still verifies, and marking it again leaves one record and one notice."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is needed (Debian: libreoffice-writer-nogui libreoffice-calc-nogui "
                    "libreoffice-impress-nogui)")
    filters = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML",
               "pptx": "pptx:Impress MS PowerPoint 2007 XML"}
    src = tmp_path / f"marked.{kind}"
    src.write_bytes(mark(MAKERS[kind]()))
    out_dir = tmp_path / "saved"
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless", "--convert-to",
                    filters[kind], "--outdir", str(out_dir), str(src)], capture_output=True, timeout=240)
    saved = (out_dir / src.name).read_bytes()
    assert not saved[30:60].startswith(b"[Content_Types]"), "another member order than the original"
    report = aigclabel.verify(saved)
    assert [lab.raw for lab in report.labels] == [record_json("office-0001")]
    assert any(f.rule == "explicit.document" and f.level is Level.PASS for f in report.findings)
    again = mark(saved, "office-0002")
    assert [lab.raw for lab in aigclabel.inspect(again).labels] == [record_json("office-0002")]
    if kind == "docx":
        assert [p.text for p in docx.Document(io.BytesIO(again)).paragraphs].count(NOTICE) == 1
    elif kind == "pptx":
        shapes = [s.name for slide in pptx.Presentation(io.BytesIO(again)).slides for s in slide.shapes]
        assert shapes.count("AIGC Notice") == 1
    else:
        assert openpyxl.load_workbook(io.BytesIO(again)).sheetnames.count("AI生成声明") == 1
