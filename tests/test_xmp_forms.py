"""XMP serialisations real files use besides the normative ``TC260:AIGC`` in an iTXt/APP1 packet (issue 13).

Each form must be read -- record fields exact, IPTC source type found -- and reported by a finding
naming what is not normative, never as "no record":

* PNG XMP in ``tEXt`` / ``zTXt`` chunks (Exiv2 and Midjourney write ``tEXt``) -> ``format.png.xmp-chunk``;
* one ``TC260:`` property per field -> ``format.xmp.per-field``;
* the ``TC260`` prefix bound to a wrong URI -> ``format.xmp.namespace``; the TC260 URI under another
  prefix -> ``format.xmp.prefix``; an undeclared prefix -> ``format.xmp.undeclared-prefix``;
* bytes that are not UTF-8 inside a packet -> ``format.xmp.encoding`` (naming the byte offset).

How the files are made (independent writers wherever one exists):

* Pillow ``PngInfo.add_text(key, value)`` writes the ``tEXt`` chunk and ``add_text(..., zip=True)`` the
  ``zTXt`` one (the packet starts ``begin=""``: with a U+FEFF in it Pillow would switch to iTXt);
* exiftool with a ``-config`` file that defines the TC260 namespace (:func:`tc260_config`) writes the
  per-field properties into JPEG, PNG, TIFF, WebP and GIF files made by Pillow, and -- with the namespace
  bound to a near-miss URI or to another prefix -- the mis-declared records;
* forms no tool writes (attribute-form per-field properties, an undeclared prefix, invalid UTF-8, UTF-8 bytes
  in a tEXt chunk) are written by hand with the conftest chunk/segment writers.

exiftool (``-j -G1 -a``) reads every file back, so each test also shows that an independent reader sees
the same XMP we do.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest
from PIL import Image, PngImagePlugin

import aigclabel
from aigclabel.errors import CorruptFile, LimitExceeded
from aigclabel.formats._xmp import XmpPacket
from aigclabel.limits import Limits, use_limits
from aigclabel.platform import PlatformConfig, review
from aigclabel.report import Level, Report, Verdict
from conftest import (DST_TRAINED, PRODUCER, TC260_NS, XMP_KEYWORD, make_jpeg, make_png, png_chunk, png_chunks,
                      png_insert, record_json, tool_get)

PLATFORM = PlatformConfig(code="00119144030008867405X220001", detect_explicit="never")
IPTC_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#: seven fields with a value each: exiftool cannot write an empty property (an empty value deletes it)
SEVEN = {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "pf-0001", "ReservedCode1": "rc1",
         "ContentPropagator": "00119144030008867405X220001", "PropagateID": "pp-0001", "ReservedCode2": "rc2"}


def packet(body: str, *, ns: str = "", attrs: str = "", begin: str = "") -> str:
    """A packet with one rdf:Description; *ns* and *attrs* go on it, *body* inside it."""
    return (f'<?xpacket begin="{begin}" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
            f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
            f'  <rdf:Description rdf:about=""{ns}{attrs}>\n{body}  </rdf:Description>\n'
            ' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>')


def midjourney_packet(record: str | None = None) -> str:
    """What Midjourney puts in its tEXt XMP: IPTC source type and a description (plus, if asked, a record)."""
    body = '   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">a lighthouse --v 6.1</rdf:li></rdf:Alt>' \
           "</dc:description>\n"
    ns = f'\n    xmlns:Iptc4xmpExt="{IPTC_NS}"\n    xmlns:dc="http://purl.org/dc/elements/1.1/"'
    if record is not None:
        ns += f'\n    xmlns:TC260="{TC260_NS}"'
        body += f"   <TC260:AIGC>{record}</TC260:AIGC>\n"
    return packet(body, ns=ns, attrs=f'\n    Iptc4xmpExt:DigitalSourceType="{DST_TRAINED}"')


def pillow_png(key: str, value: str, *, zip: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value, zip=zip)
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (40, 90, 160)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def implicit(data: bytes | Path) -> Report:
    return aigclabel.verify(data, scope="implicit")


def by_rule(report: Report, rule: str) -> list:
    return [f for f in report.findings if f.rule == rule]


def chunk_types(data: bytes) -> list[bytes]:
    return [c.type for c in png_chunks(data)]


# ------------------------------------------------------------------------------------ exiftool as a writer


def tc260_config(tmp_path: Path, *, prefix: str = "TC260", uri: str = TC260_NS) -> Path:
    """An exiftool config that defines the namespace *uri* under *prefix*, with AIGC and the seven fields."""
    tags = " ".join(f"{name} => {{ }}," for name in ("AIGC", *SEVEN))
    path = tmp_path / f"{prefix}-{abs(hash(uri))}.config"
    path.write_text(
        "%Image::ExifTool::UserDefined = (\n"
        "  'Image::ExifTool::XMP::Main' => {\n"
        f"    {prefix} => {{ SubDirectory => {{ TagTable => 'Image::ExifTool::UserDefined::{prefix}' }} }},\n"
        "  },\n);\n"
        f"%Image::ExifTool::UserDefined::{prefix} = (\n"
        f"  GROUPS => {{ 0 => 'XMP', 1 => 'XMP-{prefix}', 2 => 'Image' }},\n"
        f"  NAMESPACE => {{ '{prefix}' => '{uri}' }},\n"
        "  WRITABLE => 'string',\n"
        f"  {tags}\n);\n1;\n")
    return path


@pytest.fixture()
def exiftool_write(exiftool: Callable[[Path | bytes], dict[str, Any]]) -> Callable[..., None]:
    """Write tags with exiftool (the read fixture is requested first, so a missing exiftool skips)."""

    def run(path: Path, config: Path, tags: dict[str, str]) -> None:
        args = ["exiftool", "-config", str(config), "-overwrite_original", "-m"]
        args += [f"-{tag}={value}" for tag, value in tags.items()]
        proc = subprocess.run(args + [str(path)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "1 image files updated" in proc.stdout, proc.stderr + proc.stdout

    return run


def pillow_file(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / f"base.{fmt}"
    im = Image.new("RGB", (24, 16), (200, 120, 40))
    im.convert("P").save(path) if fmt == "gif" else im.save(path)
    return path


# =========================================================================== 1. PNG XMP in tEXt / zTXt chunks


@pytest.mark.parametrize("zip_, ctype", [(False, b"tEXt"), (True, b"zTXt")])
def test_midjourney_text_chunk_xmp_reaches_tier_3(zip_: bool, ctype: bytes, exiftool, tmp_path: Path) -> None:
    data = pillow_png("XML:com.adobe.xmp", midjourney_packet(), zip=zip_)
    assert ctype in chunk_types(data) and b"iTXt" not in chunk_types(data)  # Pillow wrote the variant chunk
    # exiftool finds the IPTC source type in that chunk...
    assert exiftool(data)["XMP-iptcExt:DigitalSourceType"] == DST_TRAINED
    # ... and so do we, with a warning that names the chunk
    report = implicit(data)
    assert [t.detail for t in report.traces if t.kind == "iptc-digital-source-type"] == [DST_TRAINED]
    (warning,) = by_rule(report, "format.png.xmp-chunk")
    assert warning.level is Level.WARNING and ctype.decode() in warning.message and "iTXt" in warning.message
    # the platform gets the tier an iTXt packet gets (tier 3: an AI trace, no record)
    path = tmp_path / "mj.png"
    path.write_bytes(data)
    r = review(path, platform=PLATFORM)
    itxt = review(make_png(xmp=midjourney_packet().encode()), platform=PLATFORM)
    assert r.tier == itxt.tier == 3 and "iptc-digital-source-type" in r.relied_on


@pytest.mark.parametrize("zip_, ctype", [(False, "tEXt"), (True, "zTXt")])
def test_text_chunk_xmp_record_is_read_like_itxt(zip_: bool, ctype: str, exiftool) -> None:
    record = record_json("mj-0001")
    data = pillow_png("XML:com.adobe.xmp", midjourney_packet(record), zip=zip_)
    assert tool_get(exiftool(data), "XMP-TC260:AIGC") == record
    report = implicit(data)
    (label,) = report.labels
    assert label.fields == json.loads(record) and label.raw == record
    assert label.carrier == f"png:{ctype}:xmp:TC260:AIGC" and not label.normative
    assert [f.level for f in by_rule(report, "implicit.carrier")] != [Level.PASS]
    assert by_rule(report, "implicit.record-present")[0].level is Level.PASS
    # the same packet in the normative iTXt chunk: the same record, normative, no chunk finding
    normal = implicit(make_png(xmp=midjourney_packet(record).encode()))
    assert normal.labels[0].fields == label.fields and normal.labels[0].normative
    assert not by_rule(normal, "format.png.xmp-chunk")


def test_text_chunk_xmp_is_decoded_as_utf8(exiftool) -> None:
    # Exiv2 writes the packet's UTF-8 bytes into tEXt (whose own encoding is Latin-1); XMP is UTF-8 whatever
    # the chunk, so a non-ASCII title must neither become mojibake nor count as an encoding error.
    title = "灯塔 at dusk"
    xmp = packet(f'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>\n'
                 f"   <TC260:AIGC>{record_json('u8-0001')}</TC260:AIGC>\n",
                 ns=f'\n    xmlns:dc="http://purl.org/dc/elements/1.1/"\n    xmlns:TC260="{TC260_NS}"')
    data = png_insert(make_png(), [png_chunk(b"tEXt", XMP_KEYWORD + b"\x00" + xmp.encode("utf-8"))])
    assert exiftool(data)["XMP-dc:Title"] == title
    report = implicit(data)
    assert not by_rule(report, "format.xmp.encoding")
    assert report.labels[0].fields == json.loads(record_json("u8-0001"))


def test_marking_moves_a_text_chunk_packet_into_itxt(exiftool) -> None:
    data = pillow_png("XML:com.adobe.xmp", midjourney_packet())
    marked = aigclabel.mark(data, producer=PRODUCER, produce_id="mj-0002", explicit=False)
    types = chunk_types(marked)
    xmp_chunks = [c for c in png_chunks(marked) if c.data.startswith(XMP_KEYWORD + b"\x00")]
    assert [c.type for c in xmp_chunks] == [b"iTXt"], "one packet, in the normative chunk"
    assert types.index(b"iTXt") < types.index(b"IDAT")
    tags = exiftool(marked)
    assert tags["XMP-iptcExt:DigitalSourceType"] == DST_TRAINED  # the packet's own metadata kept
    assert tags["XMP-dc:Description"] == "a lighthouse --v 6.1"
    assert json.loads(tool_get(tags, "XMP-TC260:AIGC"))["ProduceID"] == "mj-0002"
    report = implicit(marked)
    assert report.verdict is Verdict.COMPLIANT and not by_rule(report, "format.png.xmp-chunk")


def test_text_chunk_packet_beside_itxt_packet_is_not_merged() -> None:
    data = png_insert(make_png(xmp=midjourney_packet().encode()),
                      [png_chunk(b"tEXt", XMP_KEYWORD + b"\x00" + midjourney_packet().encode())])
    with pytest.raises(CorruptFile, match="two XMP chunks"):
        aigclabel.mark(data, producer=PRODUCER, produce_id="mj-0003", explicit=False)


def _zeros_stream(total: int, block: int = 1 << 20) -> bytes:
    """A zlib stream of *total* zero bytes, built without compressing them all (see test_bad_input._bomb)."""
    c = zlib.compressobj(9)
    first = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(block)) + c.flush(zlib.Z_FULL_FLUSH)
    adler = ((total % 65521) << 16) | 1
    return first + again * (total // block - 1) + b"\x03\x00" + adler.to_bytes(4, "big")


def test_ztxt_packet_bomb_is_refused_in_bounded_memory() -> None:
    bomb = _zeros_stream(1 << 30)  # 1 GiB of output from ~1 MB
    data = png_insert(make_png(), [png_chunk(b"zTXt", XMP_KEYWORD + b"\x00\x00" + bomb)])
    tracemalloc.start()
    try:
        start = time.monotonic()
        with pytest.raises(CorruptFile, match="zip bomb"):
            implicit(data)
        elapsed = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5 and peak < 40 << 20, (elapsed, peak)


def test_ztxt_packet_honours_the_allocation_budget() -> None:
    # 2 MiB once inflated (a packet with padding): read under the default budget, refused under a 1 MiB one
    xmp = midjourney_packet().replace('<?xpacket end="w"?>', " " * (2 << 20) + '<?xpacket end="w"?>')
    data = pillow_png("XML:com.adobe.xmp", xmp, zip=True)
    assert len(data) < 64 << 10
    assert [t.detail for t in implicit(data).traces if t.kind == "iptc-digital-source-type"] == [DST_TRAINED]
    with use_limits(Limits(max_allocation=1 << 20)):
        with pytest.raises(LimitExceeded, match="max_allocation"):
            implicit(data)


# ====================================================================== 2. one TC260 property per field


@pytest.mark.parametrize("fmt", ["jpg", "png", "tif", "webp", "gif"])
def test_per_field_properties_written_by_exiftool(fmt: str, tmp_path: Path, exiftool, exiftool_write) -> None:
    path = pillow_file(tmp_path, fmt)
    exiftool_write(path, tc260_config(tmp_path), {f"XMP-TC260:{k}": v for k, v in SEVEN.items()})
    tags = exiftool(path)
    assert {k: str(tool_get(tags, f"XMP-TC260:{k}")) for k in SEVEN} == SEVEN
    report = implicit(path)
    (label,) = report.labels
    assert label.fields == SEVEN, "the seven fields, exact"
    assert label.carrier == "xmp:TC260:per-field" and not label.normative
    assert by_rule(report, "implicit.record-present")[0].level is Level.PASS
    (warning,) = by_rule(report, "format.xmp.per-field")
    assert warning.level is Level.WARNING and "TC260:AIGC" in warning.message and "TC260:Label" in warning.message


def test_per_field_attribute_form_keeps_empty_fields(exiftool) -> None:
    # Hand-written: attribute form, the unused fields empty as Annex E asks (exiftool writes neither).
    fields = dict(SEVEN, ReservedCode1="", ContentPropagator="", PropagateID="", ReservedCode2="")
    attrs = "".join(f'\n    TC260:{k}="{v}"' for k, v in fields.items())
    data = make_jpeg(xmp=packet("", ns=f'\n    xmlns:TC260="{TC260_NS}"', attrs=attrs).encode())
    tags = exiftool(data)
    assert str(tool_get(tags, "XMP-TC260:Label")) == "1" and tool_get(tags, "XMP-TC260:ProduceID") == "pf-0001"
    report = implicit(data)
    assert report.labels[0].fields == fields and list(report.labels[0].fields) == list(fields)
    assert by_rule(report, "format.xmp.per-field")[0].level is Level.WARNING
    # the record itself is valid: only where it is stored is wrong
    assert all(f.level is not Level.ERROR for f in by_rule(report, "implicit.record-fields"))


def test_per_field_with_missing_fields_is_still_a_record() -> None:
    attrs = f'\n    TC260:Label="1"\n    TC260:ContentProducer="{PRODUCER}"'
    report = implicit(make_jpeg(xmp=packet("", ns=f'\n    xmlns:TC260="{TC260_NS}"', attrs=attrs).encode()))
    assert report.labels[0].fields == {"Label": "1", "ContentProducer": PRODUCER}
    assert "ProduceID" in by_rule(report, "format.xmp.per-field")[0].message
    assert [f.level for f in by_rule(report, "implicit.record-present")] == [Level.PASS]
    assert any(f.level is Level.ERROR for f in by_rule(report, "implicit.record-fields"))


@pytest.mark.parametrize("produce_id, level", [("vx-0001", Level.WARNING), ("vx-9999", Level.ERROR)])
def test_per_field_properties_beside_a_record(produce_id: str, level: Level, exiftool) -> None:
    # The shape a public generator writes: tc260:AIGC with the JSON, then Label/ContentProducer/ProduceID again.
    record = record_json("vx-0001")
    attrs = (f'\n    tc260:AIGC="{record.replace(chr(34), "&quot;")}"\n    tc260:Label="1"'
             f'\n    tc260:ContentProducer="{PRODUCER}"\n    tc260:ProduceID="{produce_id}"')
    data = make_jpeg(xmp=packet("", ns=f'\n    xmlns:tc260="{TC260_NS}"', attrs=attrs).encode())
    assert tool_get(exiftool(data), "XMP-tc260:AIGC") == record
    report = implicit(data)
    (label,) = report.labels  # the per-field copy is not a second record
    assert label.fields == json.loads(record) and label.normative
    (finding,) = by_rule(report, "format.xmp.per-field")
    assert finding.level is level
    if level is Level.ERROR:
        assert "disagree" in finding.message and "ProduceID" in finding.message
    # lower-case prefix with the right URI: still the record, with a prefix warning
    assert by_rule(report, "format.xmp.prefix")[0].level is Level.WARNING


# ===================================================================== 3. mis-declared TC260 namespace


def test_tc260_prefix_bound_to_a_wrong_uri(tmp_path: Path, exiftool, exiftool_write) -> None:
    wrong = "http://www.tc260.org.cn/ns/AIGC/1.0"  # the near miss seen in the wild: no trailing slash
    path = pillow_file(tmp_path, "jpg")
    record = record_json("ns-0001")
    exiftool_write(path, tc260_config(tmp_path, uri=wrong), {"XMP-TC260:AIGC": record})
    assert tool_get(exiftool(path), "XMP-TC260:AIGC") == record  # a prefix-keyed reader sees it
    report = implicit(path)
    (label,) = report.labels
    assert label.fields == json.loads(record) and not label.normative
    assert label.carrier == f"xmp:{{{wrong}}}AIGC"
    (finding,) = by_rule(report, "format.xmp.namespace")
    assert finding.level is Level.ERROR and finding.expected == TC260_NS and finding.actual == wrong
    assert wrong in finding.message and TC260_NS in finding.message
    assert report.verdict is Verdict.NONCOMPLIANT


def test_tc260_uri_under_another_prefix(tmp_path: Path, exiftool, exiftool_write) -> None:
    path = pillow_file(tmp_path, "png")
    record = record_json("ns-0002")
    exiftool_write(path, tc260_config(tmp_path, prefix="aigc"), {"XMP-aigc:AIGC": record})
    assert tool_get(exiftool(path), "XMP-aigc:AIGC") == record
    report = implicit(path)
    (label,) = report.labels
    assert label.fields == json.loads(record) and label.normative  # the same property to XMP
    (finding,) = by_rule(report, "format.xmp.prefix")
    assert finding.level is Level.WARNING and "'aigc'" in finding.message and finding.actual == "aigc:AIGC"
    assert report.verdict is Verdict.COMPLIANT


def test_undeclared_tc260_prefix(exiftool) -> None:
    record = record_json("ns-0003")
    xmp = packet(f"   <TC260:AIGC>{record}</TC260:AIGC>\n").encode()  # no xmlns:TC260 anywhere
    with pytest.raises(CorruptFile, match="well-formed"):
        XmpPacket.parse(xmp)  # strict parsing (used for merging) still refuses it
    data = make_jpeg(xmp=xmp)
    assert tool_get(exiftool(data), "XMP-TC260:AIGC") == record  # exiftool reads it regardless
    report = implicit(data)
    assert report.labels[0].fields == json.loads(record)
    (finding,) = by_rule(report, "format.xmp.undeclared-prefix")
    assert finding.level is Level.ERROR and "'TC260'" in finding.message and TC260_NS in finding.message
    assert report.verdict is Verdict.NONCOMPLIANT and report.outcome == "non-compliant"


# ============================================================================= 4. invalid UTF-8 in a packet


def _latin1_packet(record: str) -> bytes:
    """A packet whose dc:title is Latin-1 ("café" as 63 61 66 E9): not UTF-8."""
    return packet('   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">caf\xe9</rdf:li></rdf:Alt></dc:title>\n'
                  f"   <TC260:AIGC>{record}</TC260:AIGC>\n",
                  ns=f'\n    xmlns:dc="http://purl.org/dc/elements/1.1/"\n    xmlns:TC260="{TC260_NS}"'
                  ).encode("latin-1")


@pytest.mark.parametrize("carrier", ["jpeg", "png-iTXt", "png-tEXt"])
def test_invalid_utf8_in_packet_is_an_error(carrier: str, exiftool) -> None:
    record = record_json("u8-0002")
    xmp = _latin1_packet(record)
    if carrier == "jpeg":
        data = make_jpeg(xmp=xmp)
    else:
        ctype = b"iTXt" if carrier == "png-iTXt" else b"tEXt"
        head = b"\x00\x00\x00\x00\x00" if ctype == b"iTXt" else b"\x00"
        data = png_insert(make_png(), [png_chunk(ctype, XMP_KEYWORD + head + xmp)])
    # exiftool cannot decode the title as text either: with -b it prints the raw bytes as base64
    assert exiftool(data)["XMP-dc:Title"] == "base64:" + base64.b64encode(b"caf\xe9").decode()
    report = implicit(data)
    (finding,) = by_rule(report, "format.xmp.encoding")
    offset = xmp.index(b"\xe9")
    assert finding.level is Level.ERROR and f"byte offset {offset} " in finding.message and "0xe9" in finding.message
    assert report.labels[0].fields == json.loads(record), "the record is still read"
    assert report.verdict is Verdict.NONCOMPLIANT


def test_invalid_utf8_inside_the_record_value() -> None:
    record = record_json("u8-0003").replace("u8-0003", "u8-\xff03")
    xmp = packet(f"   <TC260:AIGC>{record}</TC260:AIGC>\n", ns=f'\n    xmlns:TC260="{TC260_NS}"').encode("latin-1")
    report = implicit(make_jpeg(xmp=xmp))
    assert by_rule(report, "format.xmp.encoding")[0].level is Level.ERROR
    assert report.labels[0].fields is not None and report.labels[0].fields["ProduceID"] == "u8-\ufffd03"
    assert report.verdict is Verdict.NONCOMPLIANT


def test_encoding_offset_counts_the_bom() -> None:
    raw = b"\xef\xbb\xbf" + packet("   <dc:x>\x80</dc:x>\n", ns=' xmlns:dc="urn:dc"').encode("latin-1")
    parsed = XmpPacket.parse(raw, recover=True)
    (issue,) = parsed.issues
    assert issue.kind == "encoding" and issue.offset == raw.index(b"\x80")
    assert parsed.get("urn:dc", "x")[0].value == "\ufffd"
    with pytest.raises(CorruptFile, match="not valid UTF-8"):
        XmpPacket.parse(raw)  # strict parsing is unchanged
