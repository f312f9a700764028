"""The fast Info-dictionary reader (formats/_pdf_dict.py) builds what pypdf builds, or leaves the object to pypdf."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import IndirectObject, NameObject, TextStringObject

from aigclabel._io import open_source
from aigclabel.formats._pdf_dict import read_simple_dictionary
from aigclabel.formats.pdf import open_document, text_string


def _pdf_with_info(tmp_path: Path, info_body: bytes) -> Path:
    """A one-page PDF whose Info dictionary (object 4) is *info_body* verbatim, with a correct xref table."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>", info_body]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    path = tmp_path / "info.pdf"
    path.write_bytes(bytes(out))
    return path


def _fast(path: Path) -> object:
    with open_source(str(path)) as src:
        doc = open_document(src)
        return read_simple_dictionary(doc.reader, 4, 0)


def _same_as_pypdf(path: Path, fast: object) -> None:
    ref = PdfReader(str(path)).get_object(IndirectObject(4, 0, None))  # type: ignore[arg-type]
    assert isinstance(fast, dict) and list(fast) == list(ref)
    for key in ref:
        a, b = fast.raw_get(key), ref.raw_get(key)  # type: ignore[attr-defined]
        assert type(a) is type(b), key
        if isinstance(a, IndirectObject):  # (its reader is closed here: compare the numbers)
            assert (a.idnum, a.generation) == (b.idnum, b.generation)
            continue
        assert a == b and getattr(a, "__dict__", {}) == getattr(b, "__dict__", {}), key


@pytest.mark.parametrize("body", [
    rb'<< /Producer (pypdf) /AIGC ({"Label":"1","ReservedCode1":"{\\"SecurityData\\":1}"}) >>',
    rb"<< /Title (a\(b\)c \\ d\n\t) /Nested (x (y) z) /Oct (\101\102\0) /Empty () >>",
    rb"<< /Title <FEFF004100420043> /Odd <41424> /Name /Value /N 12 /M -3 /Ref 3 0 R /T true /F false >>",
    rb"<</Creator(Word)/CreationDate(D:20240101000000+08'00')/Trapped/False>>",
    rb"<< /Latin (caf\351) /Raw (\377\376) >>",
])
def test_fast_reader_equals_pypdf(tmp_path: Path, body: bytes) -> None:
    path = _pdf_with_info(tmp_path, body)
    fast = _fast(path)
    assert fast is not None, "this plain dictionary should take the fast path"
    _same_as_pypdf(path, fast)


@pytest.mark.parametrize("body", [
    rb"<< /Title (line \
continued) >>",  # a line continuation: pypdf's own handling
    rb"<< /Title (\q) >>",  # a rare escape (pypdf warns)
    rb"<< /Title (\777) >>",  # an octal escape over 255
    rb"<< /Keys [1 2] >>",  # an array
    rb"<< /Real 1.5 >>",
    rb"<< /A (x) /A (y) >>",  # a duplicate key
    rb"<< /N#20x (x) >>",  # a name escape
    rb"<< % a comment\n /A (x) >>",
    rb"<< /A (unclosed >>",
])
def test_fast_reader_leaves_the_rest_to_pypdf(tmp_path: Path, body: bytes) -> None:
    path = _pdf_with_info(tmp_path, body)
    assert _fast(path) is None


def test_literal_text_string_is_pypdfs_text_string() -> None:
    """Our fast constructor gives the object pypdf's constructor gives, and writes a plain literal."""
    record = '{"Label":"1","ReservedCode1":"{\\"SecurityData\\":{}}"}'
    ours, theirs = text_string(record), TextStringObject(record)
    assert ours == theirs and isinstance(ours, TextStringObject)
    assert {k: v for k, v in vars(ours).items()} == vars(theirs)
    out = io.BytesIO()
    ours.write_to_stream(out)
    assert out.getvalue() == b'({"Label":"1","ReservedCode1":"{\\\\"SecurityData\\\\":{}}"})'
    assert vars(text_string("caf\u00e9")) == vars(TextStringObject("caf\u00e9"))  # not ASCII: pypdf's path


def test_signed_record_reads_back_through_pypdf(tmp_path: Path) -> None:
    """The Info dictionary written with the record reads back the same through pypdf and through the fast path."""
    w = PdfWriter()
    w.add_blank_page(100, 100)
    record = '{"Label":"1","ReservedCode1":"' + '{\\"SecurityData\\":\\"' + "AB" * 600 + '\\"}"}'
    w.add_metadata({"/Producer": "test"})
    w._info.get_object()[NameObject("/AIGC")] = text_string(record)  # type: ignore[union-attr]
    path = tmp_path / "rec.pdf"
    with open(path, "wb") as fh:
        w.write(fh)
    with open_source(str(path)) as src:
        doc = open_document(src)
        _, info = doc.info()
    assert str(info["/AIGC"]) == record
    assert str(PdfReader(str(path)).metadata["/AIGC"]) == record  # type: ignore[index]
