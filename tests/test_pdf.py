"""Real-file tests of PDF labelling: the Info record, the XMP source type, the visible stamp, the
incremental update, and the explicit check — read back with independent readers.

Readers: poppler's ``pdfinfo`` (custom Info keys), ``pdftotext`` (the stamp's text, per page),
``pdftoppm`` (where the stamp lands as displayed), ``pdfsig`` (a signature made before marking is
still valid), ``qpdf --check`` (structure of every output), exiftool (``PDF:AIGC``, the XMP source
type), pypdf (outline, form fields, annotations, attachments).  Debian packages: poppler-utils, qpdf,
libimage-exiftool-perl.  Test files are made here with pypdf, qpdf, a small raw writer for shapes
pypdf will not write, and ``cryptography`` for the signed file.  Nothing is mocked except the
absence of fontTools and of OCR, which are optional.
"""

from __future__ import annotations

import datetime
import io
import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

import aigclabel
from aigclabel._io import CountingReader, open_source
from aigclabel.errors import AigcLabelError, CorruptFile, LabelError, UnsupportedFormat, UnsupportedOperation
from aigclabel.explicit import ExplicitOptions, marker_for
from aigclabel.explicit import pdf as stamp_mod
from aigclabel.explicit.pdf import PdfStampMarker, content_boxes
from aigclabel.formats import handler_for
from aigclabel.formats.base import OpenOptions
from aigclabel.formats.pdf import PasswordRequired, PdfHandler
from aigclabel.report import Level, Verdict

from conftest import DST_TRAINED, PRODUCER, record_json, xmp_packet

NOTICE = "本内容由人工智能生成"
RECORD = record_json("pdf-0001")  # what mark() below writes
DOC_CLAUSE = "Measures Art. 4; GB 45438-2025 explicit labelling (text-type content: notice at the start or end)"


# ------------------------------------------------------------------------------------------- tools


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        package = {"qpdf": "qpdf", "exiftool": "libimage-exiftool-perl"}.get(name, "poppler-utils")
        pytest.skip(f"{name} is not installed (Debian/Ubuntu: apt-get install {package})")
    return exe


def run(args: list[str], data: bytes | None = None, tmp: Path | None = None, *, suffix: str = ".pdf",
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tool on *data* written to a temporary file (its path replaces ``{}`` in *args*)."""
    if data is not None:
        assert tmp is not None
        path = tmp / f"in-{time.monotonic_ns()}{suffix}"
        path.write_bytes(data)
        args = [str(path) if a == "{}" else a for a in args]
    proc = subprocess.run([tool(args[0]), *args[1:]], capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout}\n{proc.stderr}"
    return proc


def qpdf_check(data: bytes, tmp: Path, password: str | None = None) -> None:
    args = ["qpdf", "--check"] + ([f"--password={password}"] if password else []) + ["{}"]
    proc = run(args, data, tmp, check=False)
    assert proc.returncode == 0, f"qpdf --check: {proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "No syntax or stream encoding errors found" in proc.stdout


def pdftotext(data: bytes, tmp: Path, page: int | None = None, password: str | None = None) -> str:
    args = ["pdftotext", "-enc", "UTF-8"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    if password is not None:
        args += ["-upw", password]
    return run(args + ["{}", "-"], data, tmp).stdout


def pdfinfo(data: bytes, tmp: Path, *flags: str) -> str:
    return run(["pdfinfo", *flags, "{}"], data, tmp).stdout


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ----------------------------------------------------------------------------------------- writers

LOREM = "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"


def text_content(lines: int = 30, *, x: float = 72, top: float = 760, size: float = 11, label: str = "") -> bytes:
    out = [b"BT /F1 %g Tf %g TL %g %g Td" % (size, size * 1.2, x, top)]
    for i in range(lines):
        out.append(b"(" + f"{label}{i:02d} {LOREM}".encode() + b") Tj T*")
    out.append(b"ET")
    return b"\n".join(out)


def make_pdf(pages: int = 1, *, size: tuple[float, float] = (595, 842), rotate: int = 0,
             media: list[float] | None = None, crop: list[float] | None = None,
             content: bytes | None = None, contents: list[bytes] | None = None,
             info: dict[str, str] | None = None, xmp: bytes | None = None) -> bytes:
    """A PDF with Helvetica text pages, written by pypdf (classic cross-reference table)."""
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

    w = PdfWriter()
    font = w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                           NameObject("/Subtype"): NameObject("/Type1"),
                                           NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for n in range(pages):
        page = w.add_blank_page(*size)
        stream = DecodedStreamObject()
        data = contents[n] if contents else content if content is not None else text_content(label=f"p{n + 1} ")
        stream.set_data(data)
        page[NameObject("/Contents")] = w._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        if media:
            page[NameObject("/MediaBox")] = ArrayObject([FloatObject(v) for v in media])
        if crop:
            page[NameObject("/CropBox")] = ArrayObject([FloatObject(v) for v in crop])
        if rotate:
            page.rotate(rotate)
    if info:
        w.add_metadata(info)
    if xmp is not None:
        meta = DecodedStreamObject()
        meta.set_data(xmp)
        meta[NameObject("/Type")] = NameObject("/Metadata")
        meta[NameObject("/Subtype")] = NameObject("/XML")
        w._root_object[NameObject("/Metadata")] = w._add_object(meta)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def raw_pdf(objects: dict[int, bytes], *, root: int = 1, info: bytes | None = None,
            trailer_extra: bytes = b"") -> bytes:
    """A PDF from object bodies, with a correct classic cross-reference table (for shapes pypdf
    will not write: inherited page attributes, a direct Info dictionary, hostile objects)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num] if num in offsets else b"0000000000 00000 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R " % (size, root)
    if info is not None:
        out += b"/Info " + info + b" "
    out += trailer_extra + b">>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def qpdf_convert(data: bytes, tmp: Path, *args: str) -> bytes:
    src = tmp / f"conv-{time.monotonic_ns()}.pdf"
    dst = src.with_suffix(".out.pdf")
    src.write_bytes(data)
    run(["qpdf", *args, str(src), str(dst)])
    return dst.read_bytes()


# ---------------------------------------------------------------------------------------- marking


def mark(data: bytes, *, explicit: bool = True, produce_id: str = "pdf-0001", **kw: Any) -> bytes:
    return aigclabel.mark(data, producer=PRODUCER, produce_id=produce_id, explicit=explicit, **kw)


def stamp(data: bytes, *, text: str = NOTICE, position: str = "bottom-right", font: str | None = None,
          password: str | None = None, **extra: Any) -> Any:
    """The explicit step alone (the password reaches the marker through the handler's OpenOptions)."""
    with open_source(data) as src:
        handler = handler_for(src, OpenOptions(password=password))
        return PdfStampMarker().apply(src, handler, ExplicitOptions(text=text, position=position, font=font,
                                                                    extra=extra))


def mark_pdf(data: bytes, *, pages: str = "first", password: str | None = None, produce_id: str = "pdf-0001") -> bytes:
    """Both steps through the library, with pages and password."""
    result = aigclabel.mark_file(data, producer=PRODUCER, produce_id=produce_id, pages=pages, password=password)
    assert result.data is not None
    return result.data


def labels(data: bytes, password: str | None = None) -> list:
    with open_source(data) as src:
        return PdfHandler(OpenOptions(password=password)).read(src).labels


@pytest.fixture(scope="session")
def doc_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default profile plus the explicit.document rule (until the shipped profile has it)."""
    path = tmp_path_factory.mktemp("profiles") / "doc.toml"
    path.write_text('id = "test-doc"\nextends = "cn-gb45438-2025"\n\n[rules."explicit.document"]\n'
                    f'clause = "{DOC_CLAUSE}"\nlevel = "error"\n', encoding="utf-8")
    return path


def explicit_findings(data: bytes, profile: Path) -> list:
    report = aigclabel.verify(data, profile=str(profile), scope="explicit")
    return [f for f in report.findings if f.rule == "explicit.document"]


# ============================================================================= detection and reading


def test_detected_by_content_not_name(tmp_path: Path) -> None:
    data = make_pdf()
    assert handler_for(CountingReader(io.BytesIO(data), "x", len(data))).name == "pdf"
    junk = b"%!PS-Adobe-3.0\n" + b"x" * 100
    with pytest.raises(UnsupportedFormat):
        aigclabel.verify(junk)
    named = tmp_path / "not-really.pdf"
    named.write_bytes(b"GIF89a" + b"\x00" * 10)
    with pytest.raises(AigcLabelError):
        aigclabel.verify(named)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedFormat):
        aigclabel.verify(empty)
    with pytest.raises(UnsupportedFormat):
        aigclabel.mark(empty, producer=PRODUCER)


def test_unlabelled_pdf_is_a_report_not_an_exception() -> None:
    report = aigclabel.verify(make_pdf(), scope="implicit")
    assert report.verdict is Verdict.NONCOMPLIANT
    assert report.format == "pdf"
    assert any(f.rule == "implicit.record-present" and f.level is Level.ERROR for f in report.findings)


def test_reads_variant_carriers_as_non_normative() -> None:
    xmp = xmp_packet(record=record_json("xmp-0001"))
    data = make_pdf(info={"/AIGCLabel": record_json("info-0001")}, xmp=xmp)
    found = labels(data)
    carriers = sorted(lab.carrier for lab in found)
    assert carriers == ["pdf:Info:AIGCLabel", "xmp:TC260:AIGC"]
    assert not any(lab.normative for lab in found)
    report = aigclabel.verify(data, scope="implicit")
    assert any(f.rule == "implicit.single-record" and f.level is Level.ERROR for f in report.findings)
    assert any(f.rule == "implicit.carrier" and "pdf:Info:AIGC" in (f.expected or "") for f in report.findings)


def test_verify_reads_little_of_a_big_file() -> None:
    image = b"q 400 0 0 400 100 300 cm /Im0 Do Q"
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject, StreamObject

    w = PdfWriter()
    for _ in range(4):
        img = StreamObject()
        img.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                    NameObject("/Width"): NumberObject(1000), NameObject("/Height"): NumberObject(1000),
                    NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                    NameObject("/BitsPerComponent"): NumberObject(8)})
        img.set_data(bytes(range(256)) * 3907)
        page = w.add_blank_page(595, 842)
        content = DecodedStreamObject()
        content.set_data(image)
        page[NameObject("/Contents")] = w._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): w._add_object(img)})})
    buf = io.BytesIO()
    w.write(buf)
    marked = mark(buf.getvalue(), explicit=False)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.message for f in report.findings]
    assert len(marked) > 4_000_000
    assert report.bytes_read < 256 * 1024, report.bytes_read


# ====================================================================================== implicit


def test_implicit_record_in_info_and_source_type_in_xmp(tmp_path: Path, exiftool: Any) -> None:
    original = make_pdf(info={"/Title": "A generated report", "/Author": "pipeline"})
    marked = mark(original, explicit=False)
    assert marked.startswith(original), "the original bytes must stay the file's prefix"
    qpdf_check(marked, tmp_path)
    custom = pdfinfo(marked, tmp_path, "-custom")
    assert re.search(r"^AIGC:\s+" + re.escape(RECORD) + r"$", custom, re.M), custom
    assert "Title:           A generated report" in custom
    path = tmp_path / "marked.pdf"
    path.write_bytes(marked)
    tags = exiftool(path)
    assert tags.get("PDF:AIGC") == RECORD
    assert tags.get("XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert tags.get("PDF:Title") == "A generated report"
    assert not [k for k in tags if k.startswith("XMP-TC260")], "the XMP must not hold a second copy"
    # the record is readable in the file as it is (a plain literal string)
    assert b"/AIGC (" + RECORD.encode() + b")" in marked
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [(f.rule, f.message) for f in report.findings]
    (label,) = report.labels
    assert label.carrier == "pdf:Info:AIGC" and label.normative


def test_existing_xmp_is_merged_and_its_record_removed(tmp_path: Path, exiftool: Any) -> None:
    xmp = xmp_packet(record=record_json("old-0001"))
    original = make_pdf(xmp=xmp)
    assert b"<dc:title>" in xmp or b"dc:" in xmp
    marked = mark(original, explicit=False)
    assert marked.startswith(original)
    path = tmp_path / "m.pdf"
    path.write_bytes(marked)
    tags = exiftool(path)
    assert tags.get("PDF:AIGC") == RECORD
    assert tags.get("XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    assert not [k for k in tags if "TC260" in k]
    assert any(k.startswith("XMP-dc:") for k in tags), "the user's XMP properties are kept"
    found = labels(marked)
    assert [lab.carrier for lab in found] == ["pdf:Info:AIGC"]
    qpdf_check(marked, tmp_path)


def test_remarking_replaces_the_record_and_the_stamp(tmp_path: Path) -> None:
    original = make_pdf(pages=2)
    first = mark(original, produce_id="first-0001")
    second = mark(first, produce_id="second-0002")
    assert second.startswith(first) and first.startswith(original)
    found = labels(second)
    assert [lab.fields["ProduceID"] for lab in found] == ["second-0002"]
    assert pdftotext(second, tmp_path, page=1).count(NOTICE) == 1, "the stamp is replaced, not stacked"
    from pypdf import PdfReader

    page = PdfReader(io.BytesIO(second)).pages[0]
    contents = page["/Contents"]
    ours = [c for c in contents if "/AigclabelStamp" in c.get_object()]
    assert len(ours) == 2  # one opening "q" and one stamp, as after the first marking
    qpdf_check(second, tmp_path)
    # a re-mark without a change writes no second XMP stream
    assert second[len(first):].count(b"/Type /Metadata") == 0


def test_info_as_direct_dictionary_and_missing_info(tmp_path: Path) -> None:
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] >>"}
    for info in (b"<< /Title (direct) /AIGC (stale) >>", None):
        original = raw_pdf(objects, info=info)
        marked = mark(original, explicit=False)
        assert marked.startswith(original)
        qpdf_check(marked, tmp_path)
        assert [lab.raw for lab in labels(marked)] == [RECORD]


def test_xref_stream_original_gets_an_xref_stream_update(tmp_path: Path) -> None:
    original = qpdf_convert(make_pdf(pages=3), tmp_path, "--object-streams=generate")
    assert b"/Type /XRef" in original and b"/ObjStm" in original
    marked = mark(original)
    assert marked.startswith(original)
    tail = marked[len(original):]
    assert b"/Type /XRef" in tail and b"\nxref\n" not in tail
    qpdf_check(marked, tmp_path)
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1))
    assert "AIGC:" in pdfinfo(marked, tmp_path, "-custom")


def test_linearized_original(tmp_path: Path) -> None:
    original = qpdf_convert(make_pdf(pages=3), tmp_path, "--linearize")
    marked = mark(original)
    assert marked.startswith(original)
    qpdf_check(marked, tmp_path)
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1))


@pytest.mark.parametrize("damage", ["offsets", "startxref", "junk-before-header", "objstm-startxref"])
def test_damaged_cross_reference_is_rebuilt_in_the_update(tmp_path: Path, damage: str) -> None:
    good = make_pdf(pages=2)
    if damage == "offsets":
        at = good.rindex(b"\nxref") + 1
        table = re.sub(rb"(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7), good[at:])
        original = good[:at] + table
    elif damage == "startxref":
        original = re.sub(rb"startxref\s+\d+", b"startxref\n99", good)
    elif damage == "junk-before-header":
        original = b"JUNK" * 10 + b"\n" + good
    else:
        original = re.sub(rb"startxref\s+\d+", b"startxref\n99",
                          qpdf_convert(good, tmp_path, "--object-streams=generate"))
    report = aigclabel.verify(original, scope="implicit")
    assert any(f.rule == "format.pdf" and "damaged" in f.message for f in report.findings)
    marked = mark(original)
    assert marked.startswith(original)
    qpdf_check(marked, tmp_path)  # the update's complete cross-reference section is what readers use
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1))
    assert "AIGC:" in pdfinfo(marked, tmp_path, "-custom")
    assert [lab.raw for lab in labels(marked)] == [RECORD]


# ========================================================================== signatures, structures


def _signed_pdf() -> tuple[bytes, list[int]]:
    """A PDF signed (adbe.pkcs7.detached, self-signed EC key) before any marking."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID
    from pypdf import PdfWriter
    from pypdf.generic import (ArrayObject, ByteStringObject, DictionaryObject, NameObject, NumberObject,
                               TextStringObject)

    room = 8192
    w = PdfWriter()
    page = w.add_blank_page(595, 842)
    sig = DictionaryObject({
        NameObject("/Type"): NameObject("/Sig"), NameObject("/Filter"): NameObject("/Adobe.PPKLite"),
        NameObject("/SubFilter"): NameObject("/adbe.pkcs7.detached"),
        NameObject("/ByteRange"): ArrayObject([NumberObject(0), NumberObject(1111111111),
                                              NumberObject(2222222222), NumberObject(3333333333)]),
        NameObject("/Contents"): ByteStringObject(b"\x00" * room),
        NameObject("/M"): TextStringObject("D:20250101000000Z")})
    widget = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/FT"): NameObject("/Sig"), NameObject("/T"): TextStringObject("Signature1"),
        NameObject("/V"): w._add_object(sig), NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
        NameObject("/F"): NumberObject(132), NameObject("/P"): page.indirect_reference})
    widget_ref = w._add_object(widget)
    page[NameObject("/Annots")] = ArrayObject([widget_ref])
    w._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject([widget_ref]), NameObject("/SigFlags"): NumberObject(3)})
    buf = io.BytesIO()
    w.write(buf)
    data = bytearray(buf.getvalue())
    hex_start = data.index(b"<" + b"00" * room + b">")
    hex_end = hex_start + 2 * room + 2
    placeholder = re.search(rb"/ByteRange \[ 0 1111111111 2222222222 3333333333 \]", data)
    assert placeholder is not None
    ranges = [0, hex_start, hex_end, len(data) - hex_end]
    data[placeholder.start():placeholder.end()] = (b"/ByteRange [ %d %d %d %d ]" % tuple(ranges)).ljust(
        placeholder.end() - placeholder.start(), b" ")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aigclabel test signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    signed = bytes(data[:hex_start]) + bytes(data[hex_end:])
    der = (pkcs7.PKCS7SignatureBuilder().set_data(signed).add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
    data[hex_start + 1:hex_start + 1 + 2 * len(der)] = der.hex().encode()
    return bytes(data), ranges


def test_signature_made_before_marking_stays_valid(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    original, ranges = _signed_pdf()
    before = run(["pdfsig", "{}"], original, tmp_path, check=False).stdout
    assert "Signature is Valid" in before, before
    marked = mark(original)  # stamp and record: two incremental updates
    assert marked.startswith(original)
    covered = marked[ranges[0]:ranges[0] + ranges[1]] + marked[ranges[2]:ranges[2] + ranges[3]]
    assert covered == original[:ranges[1]] + original[ranges[2]:], "the signed byte ranges are unchanged"
    after = run(["pdfsig", "{}"], marked, tmp_path, check=False).stdout
    assert "Signature is Valid" in after, after
    assert "Not total document signed" in after  # the marks are later revisions, as they should be
    qpdf_check(marked, tmp_path)
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1))


def _rich_pdf() -> bytes:
    """Outline, an AcroForm text field, a link annotation and an embedded file."""
    from pypdf import PdfWriter
    from pypdf.annotations import Link
    from pypdf.generic import (ArrayObject, DictionaryObject, FloatObject, NameObject, NumberObject,
                               TextStringObject)

    w = PdfWriter(clone_from=io.BytesIO(make_pdf(pages=3)))
    w.add_outline_item(title="Chapter 1", page_number=0)
    chapter2 = w.add_outline_item(title="Chapter 2", page_number=1)
    w.add_outline_item(title="Section 2.1", page_number=2, parent=chapter2)
    w.add_annotation(0, Link(rect=(72, 100, 200, 120), target_page_index=2))
    field = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject("reviewer"),
        NameObject("/V"): TextStringObject("Zhang San"),
        NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (300, 100, 500, 120)]),
        NameObject("/F"): NumberObject(4), NameObject("/P"): w.pages[0].indirect_reference})
    field_ref = w._add_object(field)
    w.pages[0][NameObject("/Annots")].append(field_ref)
    w._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([field_ref])})
    w.add_attachment("data.csv", b"a,b\n1,2\n")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_outline_form_annotations_attachments_are_kept(tmp_path: Path) -> None:
    from pypdf import PdfReader

    original = _rich_pdf()
    marked = mark_pdf(original, pages="all")
    assert marked.startswith(original)
    qpdf_check(marked, tmp_path)
    reader = PdfReader(io.BytesIO(marked))
    titles = [o.title for o in reader.outline if not isinstance(o, list)]
    assert titles == ["Chapter 1", "Chapter 2"]
    assert [o.title for o in reader.outline[2]] == ["Section 2.1"]
    assert reader.get_fields()["reviewer"]["/V"] == "Zhang San"
    subtypes = [a.get_object()["/Subtype"] for a in reader.pages[0]["/Annots"]]
    assert subtypes == ["/Link", "/Widget"]
    assert reader.attachments == {"data.csv": [b"a,b\n1,2\n"]}
    for n in (1, 2, 3):
        assert NOTICE in compact(pdftotext(marked, tmp_path, page=n))


# ===================================================================================== explicit


def test_default_stamp_first_page_readable_by_pypdf_and_pdftotext(tmp_path: Path) -> None:
    from pypdf import PdfReader

    original = make_pdf(pages=3)
    result = aigclabel.mark(original, tmp_path / "out.pdf", producer=PRODUCER, produce_id="pdf-0001")
    marked = (tmp_path / "out.pdf").read_bytes()
    assert result.explicit == "added" and result.format == "pdf"
    assert marked.startswith(original)
    qpdf_check(marked, tmp_path)
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1))
    assert NOTICE not in compact(pdftotext(marked, tmp_path, page=2) + pdftotext(marked, tmp_path, page=3))
    reader = PdfReader(io.BytesIO(marked))
    assert NOTICE in compact(reader.pages[0].extract_text())
    assert NOTICE not in compact(reader.pages[1].extract_text())
    # the font is embedded: a Type0 font with a CFF program and a ToUnicode map
    fonts = run(["pdffonts", "{}"], marked, tmp_path).stdout
    line = next(ln for ln in fonts.splitlines() if "NotoSansCJK" in ln)
    assert "CID Type 0C" in line and re.search(r"\byes\s+yes\s+yes\b", line), fonts
    (placement,) = result.explicit_details["placements"]
    assert placement["page"] == 1 and placement["position"] == "bottom-right"
    assert placement["clear_of_content"] is True


@pytest.mark.parametrize("which, expected", [("first", {1}), ("last", {4}), ("all", {1, 2, 3, 4})])
def test_pages_option(tmp_path: Path, which: str, expected: set[int]) -> None:
    marked = mark_pdf(make_pdf(pages=4), pages=which)
    qpdf_check(marked, tmp_path)
    stamped = {n for n in range(1, 5) if NOTICE in compact(pdftotext(marked, tmp_path, page=n))}
    assert stamped == expected


def test_one_shared_form_xobject_and_wrapped_contents() -> None:
    from pypdf import PdfReader

    marked = mark_pdf(make_pdf(pages=3), pages="all")
    reader = PdfReader(io.BytesIO(marked))
    forms = {page["/Resources"]["/XObject"].raw_get("/AigcStamp").idnum for page in reader.pages}
    assert len(forms) == 1, "every page uses the same Form XObject"
    for page in reader.pages:
        streams = [c.get_object() for c in page["/Contents"]]
        assert streams[0].get_data().strip() == b"q"
        assert streams[-1].get_data().startswith(b"Q\nq ") and b"/AigcStamp Do" in streams[-1].get_data()


def _render(data: bytes, tmp: Path, page: int = 1, dpi: int = 72) -> Any:
    from PIL import Image

    prefix = tmp / f"r{time.monotonic_ns()}"
    src = prefix.with_suffix(".pdf")
    src.write_bytes(data)
    run(["pdftoppm", "-cropbox", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile", str(src),
         str(prefix)])
    return Image.open(prefix.with_suffix(".png")).convert("RGB")


def _changed_box(before: Any, after: Any) -> tuple[int, int, int, int]:
    from PIL import ImageChops

    assert before.size == after.size
    box = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 40 else 0).getbbox()
    assert box is not None, "the stamp changed no pixel"
    return box


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("boxes", ["plain", "offset"])
def test_stamp_upright_inside_cropbox_on_rotated_and_offset_pages(tmp_path: Path, rotate: int, boxes: str) -> None:
    if boxes == "offset":
        original = make_pdf(media=[100, 200, 700, 1042], crop=[150, 250, 650, 992], rotate=rotate,
                            content=text_content(lines=20, x=200, top=850, size=9))
    else:
        original = make_pdf(rotate=rotate)
    marked = mark_pdf(original)
    qpdf_check(marked, tmp_path)
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1))
    before, after = _render(original, tmp_path), _render(marked, tmp_path)
    width, height = after.size  # the CropBox as displayed (rotation applied)
    expected = (742, 500) if boxes == "offset" else (842, 595)
    assert sorted(after.size) == sorted(expected) and (after.size[0] > after.size[1]) == (rotate in (90, 270))
    x0, y0, x1, y1 = _changed_box(before, after)
    # bottom-right corner of the page as displayed, inside it, with a margin
    assert x0 > width / 2 and y0 > height * 0.85, (x0, y0, x1, y1, after.size)
    assert x1 <= width - 3 and y1 <= height - 3
    assert (x1 - x0) > 3 * (y1 - y0), "horizontal text line as displayed"
    from aigclabel.explicit import ocr

    if ocr.available():
        crop = _render(marked, tmp_path, dpi=216).crop((x0 * 3 - 6, y0 * 3 - 6, x1 * 3 + 6, y1 * 3 + 6))
        read = "".join(b.text for b in ocr.read_text(crop, min_confidence=0.5))
        assert compact(read) == NOTICE, f"the stamp does not read upright: {read!r}"


def test_stamp_avoids_content_in_the_requested_corner(tmp_path: Path) -> None:
    content = text_content(lines=3) + b"\nBT /F1 12 Tf 430 20 Td (Footer text on the right) Tj ET"
    result = stamp(make_pdf(content=content))
    (placement,) = result.details["placements"]
    assert placement["position"] != "bottom-right"
    assert placement["clear_of_content"] is True
    # a page with content in every candidate spot: the stamp goes where asked, on its white box
    full = b"\n".join(b"BT /F1 11 Tf 20 %d Td (%s) Tj ET" % (y, b"X" * 120) for y in range(10, 840, 12))
    result = stamp(make_pdf(content=full))
    (placement,) = result.details["placements"]
    assert placement["position"] == "bottom-right" and placement["clear_of_content"] is False
    assert any("no free margin" in n for n in result.notes)


def test_inherited_page_attributes_and_missing_contents(tmp_path: Path) -> None:
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 400 300] /Rotate 90 "
                  b"/Resources << /Font << /F1 5 0 R >> >> >>",
               3: b"<< /Type /Page /Parent 2 0 R >>",
               4: b"<< /Type /Page /Parent 2 0 R /Contents 6 0 R >>",
               5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               6: b"<< /Length 34 >>\nstream\nBT /F1 12 Tf 50 150 Td (Hi) Tj ET\nendstream"}
    original = raw_pdf(objects)
    marked = mark_pdf(original, pages="all")
    assert marked.startswith(original)
    qpdf_check(marked, tmp_path)
    for page in (1, 2):
        assert NOTICE in compact(pdftotext(marked, tmp_path, page=page))
    assert "Hi" in pdftotext(marked, tmp_path, page=2)
    x0, y0, x1, y1 = _changed_box(_render(original, tmp_path, page=2), _render(marked, tmp_path, page=2))
    assert y0 > 300 * 0.8 and x0 > 400 / 2 - 200  # bottom of the displayed (rotated: 300 x 400) page


def test_tagged_pdf_stamp_is_an_artifact() -> None:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import BooleanObject, DictionaryObject, NameObject

    w = PdfWriter(clone_from=io.BytesIO(make_pdf()))
    w._root_object[NameObject("/MarkInfo")] = DictionaryObject({NameObject("/Marked"): BooleanObject(True)})
    buf = io.BytesIO()
    w.write(buf)
    marked = stamp(buf.getvalue()).data
    last = PdfReader(io.BytesIO(marked)).pages[0]["/Contents"][-1].get_object().get_data()
    assert b"/Artifact" in last and b"BDC" in last and b"EMC" in last


def test_font_embedded_whole_without_fonttools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aigclabel.explicit.pdf import font as font_mod

    # the environment without fontTools (an optional dependency), not our code, is simulated here
    monkeypatch.setattr(font_mod, "_fonttools_subset", lambda *a: None)
    font_mod._program_cached.cache_clear()
    try:
        result = stamp(make_pdf(), text="AI生成内容")
    finally:
        font_mod._program_cached.cache_clear()
    assert result.details["font_subset"] is False and result.details["font_bytes"] > 20_000
    qpdf_check(result.data, tmp_path)
    assert "AI生成内容" in compact(pdftotext(result.data, tmp_path))
    from pypdf import PdfReader

    assert "AI生成内容" in compact(PdfReader(io.BytesIO(result.data)).pages[0].extract_text())


def test_truetype_font_from_option(tmp_path: Path) -> None:
    """A glyf-outline (TrueType) font given with --font: embedded as CIDFontType2."""
    pytest.importorskip("fontTools")
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    from aigclabel.explicit.fonts import BUNDLED_FONT

    font = TTFont(str(BUNDLED_FONT))
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = font.getGlyphOrder()
    glyf.glyphs = {}
    for name in glyf.glyphOrder:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    font["maxp"].tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxPoints",
                 "maxContours", "maxCompositePoints", "maxCompositeContours", "maxComponentDepth"):
        setattr(font["maxp"], attr, 0)
    font["maxp"].maxZones = 1
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"
    path = tmp_path / "cjk.ttf"
    font.save(str(path))
    result = stamp(make_pdf(), font=str(path))
    qpdf_check(result.data, tmp_path)
    fonts = run(["pdffonts", "{}"], result.data, tmp_path).stdout
    assert "CID TrueType" in fonts, fonts
    assert NOTICE in compact(pdftotext(result.data, tmp_path))


def test_collection_font_is_subset(tmp_path: Path) -> None:
    """A .ttc given with --font (system CJK fonts usually are collections): its face is subset."""
    pytest.importorskip("fontTools")
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.ttCollection import TTCollection

    from aigclabel.explicit.fonts import BUNDLED_FONT

    collection = TTCollection()
    collection.fonts = [TTFont(str(BUNDLED_FONT)), TTFont(str(BUNDLED_FONT))]
    path = tmp_path / "cjk.ttc"
    collection.save(str(path))
    result = stamp(make_pdf(), font=str(path))
    assert result.details["font_subset"] is True and result.details["font_bytes"] < 20_000
    assert NOTICE in compact(pdftotext(result.data, tmp_path))


def test_bad_stamp_options() -> None:
    data = make_pdf()
    with pytest.raises(LabelError, match="pages"):
        stamp(data, pages="middle")
    with pytest.raises(LabelError, match="one line"):
        stamp(data, text="AI生成\n第二行")
    with pytest.raises(LabelError, match="glyphs missing|font"):
        stamp(data, text="AI生成\U0001F916", font=str(stamp_mod.__file__))


def test_marker_is_for_pdf_only() -> None:
    class Fake:
        name = "odt"  # a document format no marker covers (DOCX/XLSX/PPTX have the Office marker)
        kind = "document"

    assert marker_for(Fake()) is None  # type: ignore[arg-type]  # "not available": only the record is written
    assert not PdfStampMarker().supports(Fake())  # type: ignore[arg-type]
    with pytest.raises(UnsupportedOperation):
        PdfStampMarker().apply(CountingReader(io.BytesIO(b""), "x", 0), Fake(), ExplicitOptions(text=NOTICE))  # type: ignore


def test_content_scan_estimates_what_the_page_draws() -> None:
    from pypdf import PdfReader

    content = (b"q 2 0 0 2 10 10 cm 0 0 50 20 re f Q\n"
               b"BT /F1 10 Tf 100 700 Td (Hello \\(world\\)) Tj ET\n"
               b"0 0 595 842 re W n\n"  # a clip: draws nothing
               b"BI /W 1 /H 1 /BPC 8 /CS /G ID \x00 EI\n")
    page = PdfReader(io.BytesIO(make_pdf(content=content))).pages[0]
    scan = content_boxes(page)
    assert scan.complete
    boxes = [tuple(round(v) for v in b) for b in scan.boxes]
    assert (10, 10, 110, 50) in boxes
    text = next(b for b in boxes if b[1] < 700 < b[3])
    assert text[0] == 100 and 140 <= text[2] <= 170  # 14 bytes at ~half an em each
    assert (0, 0, 1, 1) in boxes  # the inline image's unit square


# ====================================================================================== encryption


def _encrypted(algorithm: str, user: str = "user-pw", owner: str = "owner-pw") -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter(clone_from=io.BytesIO(make_pdf(pages=2, info={"/Title": "secret report"})))
    w.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_encrypted_needs_the_password_and_stays_encrypted(tmp_path: Path, algorithm: str) -> None:
    if algorithm.startswith("AES"):
        pytest.importorskip("cryptography", reason="pypdf needs 'cryptography' for AES")
    original = _encrypted(algorithm)
    with pytest.raises(PasswordRequired):
        mark(original)
    with pytest.raises(PasswordRequired):
        aigclabel.verify(original)
    with pytest.raises(PasswordRequired):
        mark_pdf(original, password="wrong")
    marked = mark_pdf(original, password="user-pw")
    assert marked.startswith(original)
    tail = marked[len(original):]
    assert b"Label" not in tail and b"trainedAlgorithmicMedia" not in tail, "nothing new is in the clear"
    from pypdf import PdfReader

    assert PdfReader(io.BytesIO(marked)).is_encrypted
    qpdf_check(marked, tmp_path, password="user-pw")
    assert "Encrypted:       yes" in pdfinfo(marked, tmp_path, "-upw", "user-pw")
    assert re.search(r"^AIGC:\s+" + re.escape(RECORD), pdfinfo(marked, tmp_path, "-upw", "user-pw",
                                                                      "-custom"), re.M)
    assert NOTICE in compact(pdftotext(marked, tmp_path, page=1, password="user-pw"))
    assert [lab.raw for lab in labels(marked, password="user-pw")] == [RECORD]
    with pytest.raises(PasswordRequired):
        aigclabel.verify(marked)


def test_encrypted_with_empty_user_password(tmp_path: Path) -> None:
    """Owner-password-only files open for reading; marking them still needs the password given
    (the empty one), so encryption is never dropped or kept by accident."""
    original = _encrypted("RC4-128", user="")
    report = aigclabel.verify(original, scope="implicit")
    assert report.format == "pdf"
    with pytest.raises(PasswordRequired):
        mark(original)
    marked = mark_pdf(original, password="")
    qpdf_check(marked, tmp_path)
    assert "Encrypted:       yes" in pdfinfo(marked, tmp_path)
    report = aigclabel.verify(marked, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.message for f in report.findings]


# ============================================================================= explicit verification


def test_rule_passes_on_a_stamped_pdf(doc_profile: Path) -> None:
    (finding,) = explicit_findings(mark(make_pdf(pages=3)), doc_profile)
    assert finding.level is Level.PASS and finding.location == "page 1 (first page)"
    assert finding.clause == DOC_CLAUSE
    (finding,) = explicit_findings(mark_pdf(make_pdf(pages=3), pages="last"), doc_profile)
    assert finding.level is Level.PASS and finding.location == "page 3 (last page)"


def test_rule_fails_without_a_notice_and_names_the_missing_element(doc_profile: Path) -> None:
    (finding,) = explicit_findings(make_pdf(pages=2), doc_profile)
    assert finding.level is Level.ERROR and "no visible notice" in finding.message
    near = text_content(lines=3) + b"\nBT /F1 10 Tf 72 40 Td (Powered by AI) Tj ET"
    (finding,) = explicit_findings(make_pdf(content=near), doc_profile)
    assert finding.level is Level.ERROR and "lacks a generation element" in finding.message
    # prose that happens to mention AI and generation is not a notice
    prose = (b"BT /F1 10 Tf 72 700 Td (" + b"In this long essay about AI we discuss how generation works " * 2
             + b") Tj ET")
    (finding,) = explicit_findings(make_pdf(content=prose), doc_profile)
    assert finding.level is Level.ERROR


def _scan_pdf(picture: Any) -> bytes:
    """An image-only page (a "scan"): one full-page JPEG, no text."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject, StreamObject

    jpeg = io.BytesIO()
    picture.convert("RGB").save(jpeg, "JPEG", quality=92)
    w = PdfWriter()
    img = StreamObject()
    img.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(picture.width), NameObject("/Height"): NumberObject(picture.height),
                NameObject("/ColorSpace"): NameObject("/DeviceRGB"), NameObject("/BitsPerComponent"): NumberObject(8),
                NameObject("/Filter"): NameObject("/DCTDecode")})
    img.set_data(jpeg.getvalue())
    page = w.add_blank_page(595, 842)
    content = DecodedStreamObject()
    content.set_data(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    page[NameObject("/Contents")] = w._add_object(content)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): w._add_object(img)})})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _scanned_page(with_label: bool) -> Any:
    from PIL import Image, ImageDraw, ImageFont

    from aigclabel.explicit.fonts import BUNDLED_FONT

    im = Image.new("RGB", (1190, 1684), "white")
    draw = ImageDraw.Draw(im)
    body = ImageFont.truetype(str(BUNDLED_FONT), 28)
    for i in range(12):
        draw.text((120, 160 + 60 * i), f"Scanned line {i} of the report", fill="black", font=body)
    if with_label:
        draw.text((700, 1600), NOTICE, fill="black", font=ImageFont.truetype(str(BUNDLED_FONT), 40))
    return im


def test_rule_image_only_pages_not_checked_without_ocr(doc_profile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aigclabel.explicit import ocr

    monkeypatch.setattr(ocr, "available", lambda: False)
    (finding,) = explicit_findings(_scan_pdf(_scanned_page(True)), doc_profile)
    assert finding.level is Level.NOT_CHECKED and "OCR is not installed" in finding.message
    report = aigclabel.verify(_scan_pdf(_scanned_page(True)), profile=str(doc_profile), scope="explicit")
    assert report.verdict is Verdict.INCONCLUSIVE


def test_rule_image_only_pages_read_by_ocr(doc_profile: Path) -> None:
    from aigclabel.explicit import ocr

    if not ocr.available():
        pytest.skip(f"OCR is not installed ({ocr.INSTALL_HINT})")
    (finding,) = explicit_findings(_scan_pdf(_scanned_page(True)), doc_profile)
    assert finding.level is Level.PASS and "by OCR" in finding.message, finding.message
    (finding,) = explicit_findings(_scan_pdf(_scanned_page(False)), doc_profile)
    assert finding.level is Level.ERROR, finding.message
    # our stamp on the scan is found by text extraction, no OCR needed
    (finding,) = explicit_findings(mark(_scan_pdf(_scanned_page(False))), doc_profile)
    assert finding.level is Level.PASS and "text extraction" in finding.message


# ======================================================================================= bad input


def test_truncated_files_fail_cleanly(tmp_path: Path) -> None:
    good = mark(make_pdf(pages=3))
    for cut in (10, 100, len(good) // 3, len(good) // 2, len(good) - 200, len(good) - 20, len(good) - 1):
        data = good[:cut]
        for fn in (lambda d: aigclabel.verify(d), lambda d: aigclabel.inspect(d), lambda d: mark(d)):
            try:
                out = fn(data)
            except AigcLabelError:
                continue
            if isinstance(out, bytes):  # marked after a repair: still a prefix, still readable
                assert out.startswith(data)
                assert "AIGC:" in pdfinfo(out, tmp_path, "-custom")


def test_pdf_bombs_are_refused_quickly() -> None:
    cases = {}
    deep = b"[" * 200_000 + b"]" * 200_000
    cases["deep array"] = raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>",
                                   2: b"<< /Type /Pages /Kids [] /Count 0 >>",
                                   3: b"<< /Title " + deep + b" >>"}, info=b"3 0 R")
    xref_bomb = (b"%PDF-1.5\n1 0 obj\n<< /Type /XRef /Size 999999999 /W [1 4 2] /Index [0 999999999] "
                 b"/Root 2 0 R /Length 0 >>\nstream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n")
    cases["xref stream with a billion entries"] = xref_bomb
    deep_pages = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for n in range(2, 2002):
        deep_pages[n] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 1)
    deep_pages[2002] = b"<< /Type /Page /MediaBox [0 0 10 10] >>"
    cases["page tree 2000 deep"] = raw_pdf(deep_pages)
    loop = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"}
    cases["page tree cycle"] = raw_pdf(loop)
    for name, data in cases.items():
        t0 = time.perf_counter()
        for fn in (lambda d: aigclabel.verify(d), lambda d: mark(d)):
            try:
                fn(data)
            except AigcLabelError:
                pass
        assert time.perf_counter() - t0 < 20, f"{name} took too long"


def test_xmp_flate_bomb(tmp_path: Path) -> None:
    bomb = zlib.compress(b"<" + b" " * (64 << 20), 9)
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>",
               2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>",
               4: b"<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length %d >>\nstream\n" % len(bomb)
                  + bomb + b"\nendstream"}
    data = raw_pdf(objects)
    report = aigclabel.verify(data, scope="implicit")
    assert any(f.rule == "format.pdf" and "XMP" in f.message for f in report.findings)
    with pytest.raises(CorruptFile, match="XMP"):
        mark(data, explicit=False)


_FUZZ_BASE = make_pdf(pages=2, info={"/Title": "fuzz"}, content=text_content(lines=4))


def test_remarking_other_pages_removes_the_earlier_stamp(tmp_path: Path) -> None:
    once = mark_pdf(make_pdf(pages=3), pages="first")
    again = mark_pdf(once, pages="last", produce_id="pdf-0002")
    assert again.startswith(once)
    qpdf_check(again, tmp_path)
    stamped = {n for n in (1, 2, 3) if NOTICE in compact(pdftotext(again, tmp_path, page=n))}
    assert stamped == {3}
    assert "p1 00 Lorem" in pdftotext(again, tmp_path, page=1), "the page's own content is kept"
