"""Make the golden corpus: small files of every format aigclabel reads, positive and negative.

Run ``python3 tests/corpus/make.py`` to (re)write ``tests/corpus/files/``, ``tests/corpus/index.json`` and
the table in ``tests/corpus/README.md``.  The files are checked in and the regression test never runs
this script, so an upgrade of exiftool, ffmpeg, Pillow or mutagen cannot silently change the inputs;
rerun it only to add or deliberately change a case, then ``python3 scripts/corpus.py --update`` and review
both diffs.  ``--only NAME`` (repeatable) rewrites just those files, ``--index`` only ``index.json`` and
the README table, ``--out DIR`` writes a fresh copy elsewhere (a rerun gives the same bytes today, but for
the three signed cases: an SM2 signature takes a random nonce).

Each case is one function that writes one file, registered with :func:`case` together with how the file
is made, what it tests and the verdict we believe is *right* (``expect``), which may differ from what
the code says today.  Files are written with an independent tool wherever one writes that form
(exiftool with a ``-config`` that defines the XMP TC260 namespace, ffmpeg ``-metadata``, mutagen, pypdf,
Pillow, openpyxl, zipfile); forms no tool writes (RIFF chunks, literal boxes, broken CRCs, invalid
UTF-8, truncations, polyglots) are built or patched by hand here, byte by byte.  Nothing here calls
aigclabel's writer except the few ``full``-scope cases that show our own marked output.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
INDEX = HERE / "index.json"
README = HERE / "README.md"

PRODUCER = "001191110102MACQD9K64010000"  # Doubao's provider code (labelling-rules.md §3)
PROPAGATOR = "00119144030008867405X220001"  # Jimeng's propagator code
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
          "ReservedCode2")
MIDJOURNEY_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: SecurityData as MiniMax/StepFun files carry it in ReservedCode1 (TC260-PG-202511A shape; the key and
#: signature are made-up hex, so the signature cannot verify -- the point is the escaped quotes)
SECURITY_DATA = json.dumps({"SecurityData": {
    "Type": "TC260PG", "Version": "1.0",
    "PubSD": [{"Type": "PubKey", "AlgID": "1.2.156.10197.1.501", "KeyValue": "04" + "a1b2c3d4" * 16},
              {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "Signature": "3044" + "0f1e2d3c" * 16}],
    "Bindings": []}}, separators=(",", ":"))


# ------------------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class Case:
    file: str  # name under files/
    how: str  # how the file was made
    tests: str  # what it tests
    expect: str  # the verdict we believe is right (may differ from today's behaviour)
    make: Callable[[Path], None]
    full: bool = False  # also check with scope "all" (the explicit label is the point; OCR is deterministic)


CASES: dict[str, Case] = {}


def case(file: str, how: str, tests: str, expect: str, full: bool = False) -> Callable[[Callable[[Path], None]],
                                                                                       Callable[[Path], None]]:
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        if file in CASES:
            raise ValueError(f"duplicate corpus file {file}")
        CASES[file] = Case(file, how, tests, expect, fn, full)
        return fn
    return register


# ------------------------------------------------------------------------------------------ helpers


def record(pid: str, **changes: str) -> dict[str, str]:
    """A valid GB 45438 record (producer and propagator codes of real services) with *changes*."""
    rec = {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": pid, "ReservedCode1": "",
           "ContentPropagator": PROPAGATOR, "PropagateID": f"{pid}-p", "ReservedCode2": ""}
    rec.update(changes)
    return rec


def js(obj: Any) -> str:
    """Compact JSON, ASCII-escaped only where the case asks for it (ensure_ascii off keeps UTF-8 as is)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def run(*cmd: str) -> None:
    exe = shutil.which(cmd[0])
    if exe is None:
        raise SystemExit(f"{cmd[0]} is not installed; the corpus generator needs it")
    proc = subprocess.run([exe, *cmd[1:]], capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode(errors='replace')}")


#: exiftool config files: the TC260 namespace with the AIGC property; one property per field; and the
#: same prefix bound to a wrong URI (the trailing slash and "ns/" missing, as seen in a public test suite)
_EXIFTOOL_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {{
        TC260 => {{ SubDirectory => {{ TagTable => 'Image::ExifTool::UserDefined::TC260' }} }},
    }},
);
%Image::ExifTool::UserDefined::TC260 = (
    GROUPS => {{ 0 => 'XMP', 1 => 'XMP-TC260', 2 => 'Image' }},
    NAMESPACE => {{ 'TC260' => '{uri}' }},
    WRITABLE => 'string',
{tags}
);
1;
"""
WRONG_NS = "http://www.tc260.org.cn/AIGC/1.0"


def exiftool(path: Path, *args: str, uri: str = TC260_NS) -> None:
    """exiftool, with the XMP-TC260 group defined (AIGC and the seven per-field properties) under *uri*."""
    tags = "\n".join(f"    {name} => {{ }}," for name in ("AIGC", *FIELDS))
    with tempfile.TemporaryDirectory(prefix="corpus-exiftool-") as tmp:
        cfg = Path(tmp) / "tc260.config"
        cfg.write_text(_EXIFTOOL_CONFIG.format(uri=uri, tags=tags))
        run("exiftool", "-config", str(cfg), "-q", "-q", "-m", "-overwrite_original", *args, str(path))


def xmp_packet(*args: str, uri: str = TC260_NS) -> bytes:
    """An XMP packet written by exiftool (``-o x.xmp``) with *args* as tag assignments."""
    with tempfile.TemporaryDirectory(prefix="corpus-xmp-") as tmp:
        out = Path(tmp) / "out.xmp"
        tags = "\n".join(f"    {name} => {{ }}," for name in ("AIGC", *FIELDS))
        cfg = Path(tmp) / "tc260.config"
        cfg.write_text(_EXIFTOOL_CONFIG.format(uri=uri, tags=tags))
        run("exiftool", "-config", str(cfg), "-q", "-q", *args, "-o", str(out))
        return out.read_bytes()


def picture(size: tuple[int, int] = (24, 16)):  # type: ignore[no-untyped-def]
    from PIL import Image

    w, h = size
    im = Image.new("RGB", size)
    im.putdata([((x * 255) // (w - 1), (y * 255) // (h - 1), ((x ^ y) * 9) & 0xFF) for y in range(h) for x in range(w)])
    return im


def save_image(path: Path, fmt: str, frames: int = 1, **kw: Any) -> None:
    if fmt in ("HEIF", "AVIF"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    im = picture()
    if frames > 1:
        seq = [im.rotate(90 * i) for i in range(frames)]
        seq[0].save(path, fmt, save_all=True, append_images=seq[1:], duration=100, loop=0, **kw)
    else:
        im.save(path, fmt, **kw)


_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]
_AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.2:sample_rate=8000"]
_AUDIO48 = ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.2:sample_rate=48000"]
_VIDEO = ["-f", "lavfi", "-i", "testsrc=size=32x24:rate=5:duration=0.4",
          "-f", "lavfi", "-i", "sine=frequency=440:duration=0.4:sample_rate=8000", "-shortest"]
_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "16k"]
_CODECS: dict[str, list[str]] = {
    ".mp3": [*_AUDIO, "-c:a", "libmp3lame", "-b:a", "32k"],
    ".wav": [*_AUDIO, "-c:a", "pcm_s16le"],
    ".flac": [*_AUDIO, "-c:a", "flac"],
    ".ogg": [*_AUDIO, "-c:a", "libvorbis"],
    ".opus": [*_AUDIO48, "-c:a", "libopus", "-b:a", "16k"],
    ".aiff": [*_AUDIO, "-c:a", "pcm_s16be"],
    ".m4a": [*_AUDIO, "-c:a", "aac", "-b:a", "16k"],
    ".mp4": [*_VIDEO, *_H264],
    ".mov": [*_VIDEO, *_H264],
    ".mkv": [*_VIDEO, *_H264],
    ".webm": [*_VIDEO, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus",
              "-b:a", "16k", "-ar", "48000"],
    ".avi": [*_VIDEO, "-c:v", "mpeg4", "-c:a", "libmp3lame", "-ar", "22050"],
    ".flv": [*_VIDEO, "-c:v", "flv1", "-c:a", "libmp3lame", "-ar", "22050"],
}


def ffmpeg(path: Path, *extra: str, suffix: str | None = None) -> None:
    """A tiny lavfi clip of *path*'s kind (0.2 s tone / 0.4 s 32x24 test pattern), *extra* before the output."""
    run("ffmpeg", "-v", "error", "-y", *_CODECS[suffix or path.suffix], *_BITEXACT, *extra, str(path))


def png_chunk(ctype: bytes, data: bytes, crc: int | None = None) -> bytes:
    value = zlib.crc32(ctype + data) if crc is None else crc
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", value & 0xFFFFFFFF)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((ctype, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(t, d) for t, d in chunks)


def riff_chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def riff_top(data: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """(form type, top-level chunks) of a RIFF file."""
    form, chunks, pos = data[8:12], [], 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.append((cid, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return form, chunks


def riff_bytes(form: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = form + b"".join(riff_chunk(c, d) for c, d in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def info_list(**items: str) -> bytes:
    """A LIST/INFO chunk body with NUL-terminated UTF-8 values."""
    return b"INFO" + b"".join(riff_chunk(k.encode(), v.encode() + b"\0") for k, v in items.items())


def box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def mp4_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, btype = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((btype, data[pos + 8:pos + size]))
        pos += size
    return out


def add_to_udta(src: bytes, extra: bytes) -> bytes:
    """*src* (moov after mdat, so no chunk offset moves) with *extra* appended inside ``moov/udta``."""
    top = mp4_boxes(src)
    kinds = [t for t, _ in top]
    if kinds.index(b"moov") < kinds.index(b"mdat"):
        raise SystemExit("add_to_udta needs moov after mdat (chunk offsets would move)")
    out = b""
    for btype, payload in top:
        if btype == b"moov":
            children = mp4_boxes(payload)
            if not any(t == b"udta" for t, _ in children):
                children.append((b"udta", b""))
            payload = b"".join(box(t, p + extra if t == b"udta" else p) for t, p in children)
        out += box(btype, payload)
    return out


def zip_with(src: bytes, replace: dict[str, bytes]) -> bytes:
    """A copy of the ZIP *src* with members replaced or added (deflated, fixed timestamps)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        names = [i.filename for i in zin.infolist()]
        for name in names + [n for n in replace if n not in names]:
            body = replace[name] if name in replace else zin.read(name)
            zout.writestr(zipfile.ZipInfo(name, date_time=(2025, 9, 1, 0, 0, 0)), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def custom_xml(*props: tuple[str, str]) -> bytes:
    from xml.sax.saxutils import escape

    items = "".join(f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{i + 2}" name="{name}">'
                    f"<vt:lpwstr>{escape(value)}</vt:lpwstr></property>" for i, (name, value) in enumerate(props))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
            'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            f"{items}</Properties>").encode()


def office_with_custom(src: bytes, *props: tuple[str, str]) -> bytes:
    """An OOXML package with ``docProps/custom.xml`` added and registered (content type and package rel)."""
    with zipfile.ZipFile(io.BytesIO(src)) as z:
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("_rels/.rels").decode()
    types = types.replace("</Types>", '<Override PartName="/docProps/custom.xml" ContentType="application/'
                          'vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>')
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdCorpus1" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/>'
                        "</Relationships>")
    return zip_with(src, {"[Content_Types].xml": types.encode(), "_rels/.rels": rels.encode(),
                          "docProps/custom.xml": custom_xml(*props)})


def docx_bytes() -> bytes:
    import docx

    doc = docx.Document()
    doc.add_paragraph("A generated note.")
    buf = io.BytesIO()
    doc.save(buf)
    return zip_with(buf.getvalue(), {})  # fixed member timestamps: a rerun of make.py gives the same bytes


def pptx_bytes() -> bytes:
    import pptx

    prs = pptx.Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "A generated slide"
    buf = io.BytesIO()
    prs.save(buf)
    return zip_with(buf.getvalue(), {})


def xlsx_bytes(*props: tuple[str, str]) -> bytes:
    import openpyxl
    from openpyxl.packaging.custom import StringProperty

    wb = openpyxl.Workbook()
    wb.active.append(["generated", 1])
    for name, value in props:
        wb.custom_doc_props.append(StringProperty(name=name, value=value))
    wb.properties.created = datetime.datetime(2025, 9, 1)
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl writes "now" as the modification time on save: pin it, so a rerun gives the same bytes
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        core = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2025-09-01T00:00:00Z", z.read("docProps/core.xml"))
    return zip_with(buf.getvalue(), {"docProps/core.xml": core})


def pdf_bytes(info: dict[str, str] | None = None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=72, height=72)
    writer.add_metadata({"/Title": "Corpus page", **(info or {})})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def mark_ours(src: Path, dst: Path, **kw: Any) -> None:
    """Our own writer (only for the full-scope cases: they show what aigclabel itself produces)."""
    import aigclabel

    aigclabel.mark_file(src, dst, producer=PRODUCER, produce_id=f"corpus-{dst.stem}", overwrite=True, **kw)


#: a published SM2 test key (keys/README.md): the signed cases' SecurityData is signed with it
TEST_KEY = HERE / "keys" / "sm2-test-key.pem"


def signed_record(p: Path, pid: str) -> dict[str, str]:
    """``record(pid)`` with ``ReservedCode1`` = SecurityData signed by the corpus test key over *p* as it is now:
    the label signature and the content binding of *p*'s format (aigclabel's selection, hashed before the record
    goes in; the tool that then writes the record - exiftool, mutagen - leaves the selected bytes alone).
    SM2 signatures take a random nonce, so a rerun writes other signature bytes (then ``corpus.py --update``)."""
    from aigclabel._io import CountingReader
    from aigclabel.formats import handler_for
    from aigclabel.formats.binding import binding_digest
    from aigclabel.security import load_signing_key, sign_fields

    rec = record(pid)
    with p.open("rb") as fh:
        src = CountingReader(fh, p.name, p.stat().st_size)
        digest = binding_digest(handler_for(src), src)
    rec["ReservedCode1"] = sign_fields(rec, load_signing_key(TEST_KEY), digest)
    return rec


def tc260(rec: Any) -> str:
    return f"-XMP-TC260:AIGC={js(rec)}"


# ================================================================================================ cases
# ---------------------------------------------------------------------------------------------- JPEG


@case("jpeg-bare.jpg", "Pillow JPEG; exiftool -config (TC260 ns) writes XMP-TC260:AIGC = bare record",
      "normative carrier, bare seven-field object", "compliant")
def _jpeg_bare(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-bare")))


@case("jpeg-wrapped.jpg", "as jpeg-bare, value {\"AIGC\": {...}} (Annex E b) literal form)",
      "wrapped form", "compliant (form wrapped)")
def _jpeg_wrapped(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260({"AIGC": record("jpeg-wrapped")}))


@case("jpeg-doubao-empty-propagator.jpg", "exiftool XMP-TC260:AIGC, ContentPropagator/PropagateID empty",
      "first write by a generator leaves the propagator fields empty (real Doubao files)",
      "compliant, warning implicit.record-fields")
def _jpeg_doubao(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-doubao", ContentPropagator="", PropagateID="")))


@case("jpeg-none.jpg", "Pillow JPEG with EXIF Software, no record", "empty shell: no label at all",
      "not-labelled (noncompliant), tier none")
def _jpeg_none(p: Path) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0131] = "corpus camera 1.0"
    picture().save(p, "JPEG", quality=70, exif=exif.tobytes())


@case("jpeg-exif-usercomment.jpg", "exiftool -UserComment='{\"AIGC\":{...}}' (image guide Annex B), no XMP",
      "EXIF UserComment carrier (non-normative)", "compliant, warning implicit.carrier")
def _jpeg_usercomment(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, f"-EXIF:UserComment={js({'AIGC': record('jpeg-usercomment')})}")


@case("jpeg-sd-usercomment.jpg", "exiftool -UserComment = A1111 Stable Diffusion parameters text",
      "AI trace in a JPEG (the PNG twin is found)", "not-labelled, tier 3 (generator-metadata)")
def _jpeg_sd(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, "-EXIF:UserComment=a lighthouse at dusk\nNegative prompt: blurry\n"
             "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: sd_xl_base_1.0")


@case("jpeg-legacy-2023.jpg", "exiftool XMP-TC260:AIGC = 2023 schema {ServiceProvider, Time, ContentID}",
      "legacy TC260-PG-20233A record", "noncompliant (implicit.schema error: 2023 schema), tier 1")
def _jpeg_legacy(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260({"ServiceProvider": "ExampleAI", "Time": "2024-05-01 12:00:00.000", "ContentID": "legacy-1"}))


@case("jpeg-nonascii.jpg", "exiftool XMP-TC260:AIGC, ContentProducer = a Chinese company name (UTF-8)",
      "a non-ASCII value (Annex E j) 'mainly' ASCII)", "compliant, warning (character rule), tier 1")
def _jpeg_nonascii(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-nonascii", ContentProducer="北京某某科技有限公司")))


@case("jpeg-securitydata.jpg", "exiftool XMP-TC260:AIGC, ReservedCode1 = SecurityData JSON (escaped quotes)",
      "escaped \\\" inside ReservedCode1 (every signed real file)",
      "compliant; security-data not verified (info/not-checked), tier 1")
def _jpeg_security(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-security", ReservedCode1=SECURITY_DATA)))


@case("jpeg-signed.jpg", "Pillow JPEG; SecurityData signed with the corpus test key (keys/) over the label and the "
      "jpeg-scan binding; exiftool XMP-TC260:AIGC writes the record",
      "a genuinely signed label: SM3withSM2 verifies, content binding matches after another tool wrote the record",
      "compliant; security-data valid (binding bound, key unpinned), tier 1")
def _jpeg_signed(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(signed_record(p, "jpeg-signed")))


@case("jpeg-signed-tampered.jpg", "jpeg-signed with one byte of the entropy-coded scan changed by hand",
      "content changed after signing", "noncompliant: security-data invalid (content binding mismatch)")
def _jpeg_signed_tampered(p: Path) -> None:
    _jpeg_signed(p)
    data = bytearray(p.read_bytes())
    sos = data.index(b"\xff\xda")
    at = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big") + 10
    while data[at] in (0xFF, 0x00):  # a data byte, never a marker or a stuffed zero
        at += 1
    data[at] ^= 0x01
    p.write_bytes(bytes(data))


@case("jpeg-duplicate.jpg", "exiftool: the same record in XMP-TC260:AIGC and in EXIF UserComment",
      "two identical records", "noncompliant (implicit.single-record error), tier 1")
def _jpeg_duplicate(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    rec = record("jpeg-duplicate")
    exiftool(p, tc260(rec), f"-EXIF:UserComment={js(rec)}")


@case("jpeg-disagree.jpg", "exiftool: XMP-TC260:AIGC Label 1 and EXIF UserComment Label 3, other ProduceID",
      "disagreeing copies", "noncompliant (implicit.single-record error); review refuses to write")
def _jpeg_disagree(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-disagree-a")),
             f"-EXIF:UserComment={js(record('jpeg-disagree-b', Label='3'))}")


@case("jpeg-per-field.jpg", "exiftool -config defining TC260:Label, TC260:ContentProducer, ... (one property each)",
      "XMP with one TC260: property per field (two public test suites)",
      "compliant with a warning naming the per-field form, fields exact")
def _jpeg_per_field(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    rec = record("jpeg-per-field")
    # "-TAG^=" is exiftool's way to write an empty value ("-TAG=" would delete the property)
    exiftool(p, *[f"-XMP-TC260:{k}={v}" if v else f"-XMP-TC260:{k}^=" for k, v in rec.items()])


@case("jpeg-wrong-ns.jpg", f"exiftool -config binding prefix TC260 to {WRONG_NS} (wrong URI)",
      "TC260 prefix bound to a wrong namespace URI",
      "record read; finding (error or warning) naming the URI")
def _jpeg_wrong_ns(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-wrong-ns")), uri=WRONG_NS)


@case("jpeg-xmp-bad-utf8.jpg", "exiftool XMP-TC260:AIGC + XMP-dc:Description 'QQQQ', then by hand 'QQQQ' -> "
      "bytes ff fe c3 28 (same length, segment length unchanged)",
      "invalid UTF-8 inside the XMP packet", "noncompliant or warning: a finding naming invalid UTF-8")
def _jpeg_bad_utf8(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-bad-utf8")), "-XMP-dc:Description=QQQQ")
    data = p.read_bytes()
    assert data.count(b"QQQQ") == 1
    p.write_bytes(data.replace(b"QQQQ", b"\xff\xfe\xc3\x28"))


@case("jpeg-missing-field.jpg", "exiftool XMP-TC260:AIGC with ProduceID removed (six keys)",
      "a required field missing", "noncompliant (implicit.record-fields error), tier 3 (malformed record)")
def _jpeg_missing(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    rec = record("jpeg-missing")
    del rec["ProduceID"]
    exiftool(p, tc260(rec))


@case("jpeg-bad-label.jpg", "exiftool XMP-TC260:AIGC with Label \"4\"", "Label outside 1/2/3",
      "noncompliant (implicit.record-fields error)")
def _jpeg_bad_label(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, tc260(record("jpeg-bad-label", Label="4")))


@case("jpeg-bad-json.jpg", "exiftool XMP-TC260:AIGC = '{\"Label\":\"1\",' (cut JSON)", "record that is not JSON",
      "noncompliant (invalid record), tier 3 (malformed record)")
def _jpeg_bad_json(p: Path) -> None:
    save_image(p, "JPEG", quality=70)
    exiftool(p, '-XMP-TC260:AIGC={"Label":"1","ContentProducer":')


@case("jpeg-truncated.jpg", "jpeg-bare cut to 60 % (inside the entropy-coded scan)",
      "truncation after the header: the record is intact", "record read (compliant) or a corrupt-file finding/error")
def _jpeg_truncated(p: Path) -> None:
    _jpeg_bare(p)
    data = p.read_bytes()
    p.write_bytes(data[:int(len(data) * 0.6)])


@case("jpeg-header-only.jpg", "the first 300 bytes of jpeg-none (inside the EXIF segment)",
      "truncation inside a segment", "could not check: CorruptFile")
def _jpeg_header_only(p: Path) -> None:
    _jpeg_none(p)
    p.write_bytes(p.read_bytes()[:300])


@case("jpeg-zip-polyglot.jpg", "jpeg-bare + a DOCX (zipfile, custom.xml AIGC with another ProduceID) appended",
      "polyglot JPEG/ZIP: read as JPEG by its first bytes", "JPEG, compliant (the ZIP tail is not a carrier)")
def _jpeg_zip(p: Path) -> None:
    _jpeg_bare(p)
    tail = office_with_custom(docx_bytes(), ("AIGC", js(record("zip-tail"))))
    p.write_bytes(p.read_bytes() + tail)


@case("jpeg-ours-visible.jpg", "aigclabel mark (explicit + implicit) of a 320x240 Pillow picture",
      "our own output: visible label found by OCR, record in XMP", "compliant (full scope)", full=True)
def _jpeg_ours(p: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="corpus-ours-") as tmp:
        src = Path(tmp) / "src.jpg"
        picture((320, 240)).save(src, "JPEG", quality=80)
        mark_ours(src, p)


# ----------------------------------------------------------------------------------------------- PNG


@case("png-itxt-xmp.png", "Pillow PNG; exiftool writes XMP-TC260:AIGC (iTXt XML:com.adobe.xmp)",
      "normative PNG carrier", "compliant")
def _png_itxt(p: Path) -> None:
    save_image(p, "PNG")
    exiftool(p, tc260(record("png-itxt")))


@case("png-text-xmp.png", "exiftool -o makes the XMP packet; Pillow PngInfo.add_text stores it in tEXt "
      "XML:com.adobe.xmp (as Exiv2 does)", "XMP in tEXt (not the normative iTXt)",
      "compliant with a warning (non-normative chunk), fields exact")
def _png_text(p: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("XML:com.adobe.xmp", xmp_packet(tc260(record("png-text-xmp"))).decode("latin-1"))
    picture().save(p, "PNG", pnginfo=info)


@case("png-ztxt-xmp.png", "as png-text-xmp, Pillow add_text(zip=True): zTXt XML:com.adobe.xmp",
      "XMP in zTXt", "compliant with a warning (non-normative chunk), fields exact")
def _png_ztxt(p: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("XML:com.adobe.xmp", xmp_packet(tc260(record("png-ztxt-xmp"))).decode("latin-1"), zip=True)
    picture().save(p, "PNG", pnginfo=info)


@case("png-midjourney.png", "exiftool -o: XMP with only Iptc4xmpExt:DigitalSourceType trainedAlgorithmicMedia; "
      "Pillow stores it in tEXt XML:com.adobe.xmp (as Midjourney does)",
      "IPTC AI source type in a tEXt XMP packet, no AIGC record", "not-labelled, tier 3")
def _png_midjourney(p: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    packet = xmp_packet(f"-XMP-iptcExt:DigitalSourceType={MIDJOURNEY_SOURCE}", "-XMP-dc:Creator=corpus")
    info.add_text("XML:com.adobe.xmp", packet.decode("latin-1"))
    info.add_text("Description", "a lighthouse at dusk --ar 3:2 --v 6 Job ID: 00000000-corpus")
    picture().save(p, "PNG", pnginfo=info)


@case("png-text-aigc.png", "Pillow PngInfo.add_text('AIGC', bare record): tEXt keyword AIGC",
      "tEXt AIGC variant carrier", "compliant, warning implicit.carrier")
def _png_text_aigc(p: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", js(record("png-text-aigc")))
    picture().save(p, "PNG", pnginfo=info)


@case("png-sd-parameters.png", "Pillow tEXt 'parameters' (A1111 Stable Diffusion)", "generator chunk trace",
      "not-labelled, tier 3")
def _png_sd(p: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42")
    picture().save(p, "PNG", pnginfo=info)


@case("png-none.png", "Pillow PNG, no metadata", "empty shell", "not-labelled, tier none")
def _png_none(p: Path) -> None:
    save_image(p, "PNG")


@case("png-bad-crc.png", "png-itxt-xmp with the iTXt chunk's CRC-32 inverted by hand", "bad CRC on the carrier",
      "a finding on the CRC (or CorruptFile); the record is not trusted silently")
def _png_bad_crc(p: Path) -> None:
    _png_itxt(p)
    chunks = png_chunks(p.read_bytes())
    out = b"\x89PNG\r\n\x1a\n"
    for ctype, data in chunks:
        out += png_chunk(ctype, data, crc=~zlib.crc32(ctype + data) if ctype == b"iTXt" else None)
    p.write_bytes(out)


@case("png-truncated.png", "png-itxt-xmp without its last 20 bytes (IDAT end and IEND cut)",
      "truncation after the record", "record read; a truncation finding or CorruptFile")
def _png_truncated(p: Path) -> None:
    _png_itxt(p)
    p.write_bytes(p.read_bytes()[:-20])


@case("png-after-idat.png", "png-itxt-xmp with the iTXt chunk moved after IDAT by hand",
      "record not in the header", "compliant with a warning implicit.in-header (or error)")
def _png_after_idat(p: Path) -> None:
    _png_itxt(p)
    chunks = png_chunks(p.read_bytes())
    itxt = [c for c in chunks if c[0] == b"iTXt"]
    rest = [c for c in chunks if c[0] != b"iTXt"]
    p.write_bytes(png_bytes(rest[:-1] + itxt + rest[-1:]))


@case("png-two-carriers.png", "exiftool iTXt XMP record + Pillow-written tEXt AIGC with the same record "
      "(Pillow first, exiftool second)", "duplicate across carriers", "noncompliant (implicit.single-record)")
def _png_two(p: Path) -> None:
    from PIL import PngImagePlugin

    rec = record("png-two")
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", js(rec))
    picture().save(p, "PNG", pnginfo=info)
    exiftool(p, tc260(rec))


@case("apng-bare.png", "Pillow APNG (2 frames); exiftool XMP-TC260:AIGC", "animated PNG, normative carrier",
      "compliant")
def _apng_bare(p: Path) -> None:
    save_image(p, "PNG", frames=2)
    exiftool(p, tc260(record("apng-bare")))


@case("apng-none.png", "Pillow APNG (2 frames), no metadata", "empty shell", "not-labelled")
def _apng_none(p: Path) -> None:
    save_image(p, "PNG", frames=2)


# -------------------------------------------------------------------------------------- WebP GIF TIFF


@case("webp-bare.webp", "Pillow WebP; exiftool XMP-TC260:AIGC (XMP chunk + VP8X flag)", "normative WebP carrier",
      "compliant")
def _webp_bare(p: Path) -> None:
    save_image(p, "WEBP", quality=60)
    exiftool(p, tc260(record("webp-bare")))


@case("webp-none.webp", "Pillow WebP", "empty shell", "not-labelled")
def _webp_none(p: Path) -> None:
    save_image(p, "WEBP", quality=60)


@case("webp-exif-usercomment.webp", "Pillow WebP; exiftool -UserComment='{...}' (EXIF chunk)",
      "EXIF UserComment in WebP (listed variant)", "compliant, warning implicit.carrier")
def _webp_usercomment(p: Path) -> None:
    save_image(p, "WEBP", quality=60)
    exiftool(p, f"-EXIF:UserComment={js(record('webp-usercomment'))}")


@case("webp-truncated.webp", "webp-bare with the RIFF size kept but the last 40 bytes cut",
      "truncated RIFF", "CorruptFile or a truncation finding")
def _webp_truncated(p: Path) -> None:
    _webp_bare(p)
    p.write_bytes(p.read_bytes()[:-40])


@case("gif-bare.gif", "Pillow GIF; exiftool XMP-TC260:AIGC (XMP application extension)", "normative GIF carrier",
      "compliant")
def _gif_bare(p: Path) -> None:
    save_image(p, "GIF")
    exiftool(p, tc260(record("gif-bare")))


@case("gif-none.gif", "Pillow GIF, 2 frames", "empty shell", "not-labelled")
def _gif_none(p: Path) -> None:
    save_image(p, "GIF", frames=2)


@case("gif-wrapped.gif", "Pillow GIF; exiftool XMP-TC260:AIGC = wrapped form", "wrapped form in GIF", "compliant")
def _gif_wrapped(p: Path) -> None:
    save_image(p, "GIF")
    exiftool(p, tc260({"AIGC": record("gif-wrapped")}))


@case("tiff-bare.tif", "Pillow TIFF; exiftool XMP-TC260:AIGC (tag 700)", "normative TIFF carrier", "compliant")
def _tiff_bare(p: Path) -> None:
    save_image(p, "TIFF")
    exiftool(p, tc260(record("tiff-bare")))


@case("tiff-none.tif", "Pillow TIFF", "empty shell", "not-labelled")
def _tiff_none(p: Path) -> None:
    save_image(p, "TIFF")


@case("tiff-truncated.tif", "tiff-bare cut to its first 200 bytes (IFD0 points past the end)", "truncated TIFF",
      "CorruptFile")
def _tiff_truncated(p: Path) -> None:
    _tiff_bare(p)
    p.write_bytes(p.read_bytes()[:200])


# ------------------------------------------------------------------------------------------ HEIF AVIF


@case("heic-bare.heic", "pillow-heif HEIC; exiftool XMP-TC260:AIGC (mime XMP item)", "normative HEIF carrier",
      "compliant")
def _heic_bare(p: Path) -> None:
    save_image(p, "HEIF", quality=40)
    exiftool(p, tc260(record("heic-bare")))


@case("heic-none.heic", "pillow-heif HEIC", "empty shell", "not-labelled")
def _heic_none(p: Path) -> None:
    save_image(p, "HEIF", quality=40)


@case("avif-bare.avif", "pillow-heif AVIF; exiftool XMP-TC260:AIGC", "normative AVIF carrier", "compliant")
def _avif_bare(p: Path) -> None:
    save_image(p, "AVIF", quality=40)
    exiftool(p, tc260(record("avif-bare")))


@case("avif-none.avif", "pillow-heif AVIF", "empty shell", "not-labelled")
def _avif_none(p: Path) -> None:
    save_image(p, "AVIF", quality=40)


# ---------------------------------------------------------------------------------------------- audio


def _mp3_with(p: Path, *frames: Any) -> None:
    from mutagen.id3 import ID3

    ffmpeg(p)
    tags = ID3()
    for frame in frames:
        tags.add(frame)
    tags.save(p, v2_version=4)


@case("mp3-bare.mp3", "ffmpeg libmp3lame 0.2 s; mutagen ID3v2.4 TXXX:AIGC = bare record",
      "normative MP3 carrier", "compliant")
def _mp3_bare(p: Path) -> None:
    from mutagen.id3 import TXXX

    _mp3_with(p, TXXX(encoding=3, desc="AIGC", text=[js(record("mp3-bare"))]))


@case("mp3-wrapped.mp3", "as mp3-bare, wrapped form", "wrapped form in ID3", "compliant")
def _mp3_wrapped(p: Path) -> None:
    from mutagen.id3 import TXXX

    _mp3_with(p, TXXX(encoding=3, desc="AIGC", text=[js({"AIGC": record("mp3-wrapped")})]))


@case("mp3-securitydata.mp3", "mutagen TXXX:AIGC, ReservedCode1 = SecurityData JSON (as MiniMax MP3s)",
      "escaped quotes in ReservedCode1", "compliant; security data not verified")
def _mp3_security(p: Path) -> None:
    from mutagen.id3 import TXXX

    _mp3_with(p, TXXX(encoding=3, desc="AIGC", text=[js(record("mp3-security", ReservedCode1=SECURITY_DATA))]))


@case("mp3-signed.mp3", "ffmpeg libmp3lame; SecurityData signed with the corpus test key (keys/) over the label "
      "and the mp3-frames binding; mutagen ID3v2.4 TXXX:AIGC writes the record",
      "a genuinely signed audio label (as MiniMax MP3s carry, in the guide's spellings)",
      "compliant; security-data valid (binding bound, key unpinned)")
def _mp3_signed(p: Path) -> None:
    from mutagen.id3 import ID3, TXXX

    ffmpeg(p)
    tags = ID3()
    tags.add(TXXX(encoding=3, desc="AIGC", text=[js(signed_record(p, "mp3-signed"))]))
    tags.save(p, v2_version=4)


@case("mp3-disagree.mp3", "mutagen TXXX:AIGC (Label 1) and TXXX:AIGC_copy (Label 2, other ProduceID)",
      "two disagreeing ID3 records (both keys contain AIGC)", "noncompliant (implicit.single-record)")
def _mp3_disagree(p: Path) -> None:
    from mutagen.id3 import TXXX

    _mp3_with(p, TXXX(encoding=3, desc="AIGC", text=[js(record("mp3-a"))]),
              TXXX(encoding=3, desc="AIGC_copy", text=[js(record("mp3-b", Label="2"))]))


@case("mp3-none.mp3", "ffmpeg libmp3lame, no tags", "empty shell", "not-labelled")
def _mp3_none(p: Path) -> None:
    ffmpeg(p)


@case("mp3-truncated.mp3", "mp3-bare cut in the middle of its last MPEG frame", "truncated audio after the tag",
      "record read, compliant (or a truncation note)")
def _mp3_truncated(p: Path) -> None:
    _mp3_bare(p)
    p.write_bytes(p.read_bytes()[:-50])


def _wav_with(p: Path, *extra: tuple[bytes, bytes], info_first: bool = False) -> None:
    ffmpeg(p)
    form, chunks = riff_top(p.read_bytes())
    data_at = [c for c, _ in chunks].index(b"data")
    chunks[data_at:data_at] = list(extra)
    p.write_bytes(riff_bytes(form, chunks))


@case("wav-chunk.wav", "ffmpeg pcm_s16le 0.2 s; by hand a top-level RIFF 'AIGC' chunk before 'data' "
      "(no tool writes it)", "normative WAV carrier", "compliant")
def _wav_chunk(p: Path) -> None:
    _wav_with(p, (b"AIGC", js(record("wav-chunk")).encode()))


@case("wav-listinfo.wav", "ffmpeg WAV; by hand LIST/INFO with sub-chunk 'AIGC' (NUL-terminated)",
      "record only in LIST/INFO", "compliant with a warning implicit.carrier")
def _wav_listinfo(p: Path) -> None:
    _wav_with(p, (b"LIST", info_list(AIGC=js(record("wav-listinfo")))))


@case("wav-both.wav", "by hand: the same record in the RIFF 'AIGC' chunk and in LIST/INFO 'AIGC'",
      "record in both places (the chunk is normative, LIST/INFO a variant)",
      "compliant (one record, the copy noted) — the issue says keep both")
def _wav_both(p: Path) -> None:
    rec = js(record("wav-both"))
    _wav_with(p, (b"AIGC", rec.encode()), (b"LIST", info_list(AIGC=rec)))


@case("wav-none.wav", "ffmpeg WAV", "empty shell", "not-labelled")
def _wav_none(p: Path) -> None:
    ffmpeg(p)


@case("wav-truncated.wav", "wav-chunk with the last 1000 bytes of PCM cut (data size larger than the file)",
      "truncated data chunk", "record read, compliant or a truncation finding")
def _wav_truncated(p: Path) -> None:
    _wav_chunk(p)
    p.write_bytes(p.read_bytes()[:-1000])


@case("wav-odd-chunk.wav", "by hand: RIFF 'AIGC' chunk of odd length, pad byte missing (the next chunk is shifted)",
      "a chunk without its pad byte", "a finding or CorruptFile, never a traceback")
def _wav_odd(p: Path) -> None:
    ffmpeg(p)
    form, chunks = riff_top(p.read_bytes())
    rec = js(record("wav-odd1")).encode()
    if len(rec) % 2 == 0:
        rec = js(record("wav-odd12")).encode()
    body = form
    for cid, data in chunks:
        if cid == b"data":
            body += b"AIGC" + struct.pack("<I", len(rec)) + rec  # no pad byte
        body += riff_chunk(cid, data)
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _vorbis(p: Path, suffix: str, *pairs: tuple[str, str]) -> None:
    import mutagen

    ffmpeg(p, suffix=suffix)
    f = mutagen.File(p)
    assert f is not None
    if f.tags is None:
        f.add_tags()
    for key, value in pairs:
        f[key] = value
    f.save()


@case("flac-bare.flac", "ffmpeg flac 0.2 s; mutagen Vorbis comment AIGC=<record>", "normative FLAC carrier",
      "compliant")
def _flac_bare(p: Path) -> None:
    _vorbis(p, ".flac", ("AIGC", js(record("flac-bare"))))


@case("flac-none.flac", "ffmpeg flac", "empty shell", "not-labelled")
def _flac_none(p: Path) -> None:
    ffmpeg(p)


@case("flac-truncated.flac", "flac-bare cut to 150 bytes (inside the Vorbis comment block)",
      "truncation inside the carrier", "CorruptFile")
def _flac_truncated(p: Path) -> None:
    _flac_bare(p)
    p.write_bytes(p.read_bytes()[:150])


@case("ogg-bare.ogg", "ffmpeg libvorbis 0.2 s; mutagen Vorbis comment AIGC=<record>", "normative Ogg carrier",
      "compliant")
def _ogg_bare(p: Path) -> None:
    _vorbis(p, ".ogg", ("AIGC", js(record("ogg-bare"))))


@case("ogg-none.ogg", "ffmpeg libvorbis", "empty shell", "not-labelled")
def _ogg_none(p: Path) -> None:
    ffmpeg(p)


@case("ogg-bad-crc.ogg", "ogg-bare with the CRC of the comment page (page 2) inverted by hand",
      "bad Ogg page CRC on the carrier page", "a CRC finding or CorruptFile")
def _ogg_bad_crc(p: Path) -> None:
    _ogg_bare(p)
    data = bytearray(p.read_bytes())
    second = data.index(b"OggS", 4)
    crc = struct.unpack("<I", data[second + 22:second + 26])[0]
    data[second + 22:second + 26] = struct.pack("<I", crc ^ 0xFFFFFFFF)
    p.write_bytes(bytes(data))


@case("opus-bare.opus", "ffmpeg libopus 0.2 s; mutagen OpusTags AIGC=<record>", "normative Opus carrier",
      "compliant")
def _opus_bare(p: Path) -> None:
    _vorbis(p, ".opus", ("AIGC", js(record("opus-bare"))))


@case("opus-none.opus", "ffmpeg libopus", "empty shell", "not-labelled")
def _opus_none(p: Path) -> None:
    ffmpeg(p)


@case("aiff-bare.aiff", "ffmpeg pcm_s16be 0.2 s; mutagen.aiff ID3 chunk TXXX:AIGC (mutagen appends it after SSND)",
      "normative AIFF carrier, after the payload", "compliant, warning implicit.in-header")
def _aiff_bare(p: Path) -> None:
    from mutagen.aiff import AIFF
    from mutagen.id3 import TXXX

    ffmpeg(p)
    f = AIFF(p)
    f.add_tags()
    assert f.tags is not None
    f.tags.add(TXXX(encoding=3, desc="AIGC", text=[js(record("aiff-bare"))]))
    f.save()


@case("aiff-none.aiff", "ffmpeg pcm_s16be", "empty shell", "not-labelled")
def _aiff_none(p: Path) -> None:
    ffmpeg(p)


@case("m4a-mdta.m4a", "ffmpeg aac 0.2 s, -metadata AIGC=<record> -movflags +faststart+use_metadata_tags",
      "normative M4A carrier (mdta key)", "compliant")
def _m4a_mdta(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('m4a-mdta'))}", "-movflags", "+faststart+use_metadata_tags")


@case("m4a-itunes.m4a", "ffmpeg aac; mutagen MP4 freeform ----:com.apple.iTunes:AIGC", "iTunes freeform variant",
      "compliant, warning implicit.carrier")
def _m4a_itunes(p: Path) -> None:
    from mutagen.mp4 import MP4, MP4FreeForm

    ffmpeg(p, "-movflags", "+faststart")
    f = MP4(p)
    f["----:com.apple.iTunes:AIGC"] = [MP4FreeForm(js(record("m4a-itunes")).encode())]
    f.save()


@case("m4a-none.m4a", "ffmpeg aac", "empty shell", "not-labelled")
def _m4a_none(p: Path) -> None:
    ffmpeg(p, "-movflags", "+faststart")


# ---------------------------------------------------------------------------------------------- video


@case("mp4-mdta.mp4", "ffmpeg libx264+aac 0.4 s 32x24, -metadata AIGC=<record> -movflags +faststart+use_metadata_tags",
      "normative MP4 carrier", "compliant")
def _mp4_mdta(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('mp4-mdta'))}", "-movflags", "+faststart+use_metadata_tags")


@case("mp4-moov-last.mp4", "as mp4-mdta without +faststart (moov after mdat)", "record after the payload",
      "compliant, warning implicit.in-header")
def _mp4_moov_last(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('mp4-moov-last'))}", "-movflags", "use_metadata_tags")


@case("mp4-none.mp4", "ffmpeg libx264+aac, faststart, no metadata", "empty shell", "not-labelled")
def _mp4_none(p: Path) -> None:
    ffmpeg(p, "-movflags", "+faststart")


@case("mp4-uuid-xmp.mp4", "ffmpeg MP4; exiftool XMP-TC260:AIGC (exiftool writes the XMP uuid box)",
      "XMP uuid box variant", "compliant, warning implicit.carrier")
def _mp4_uuid(p: Path) -> None:
    ffmpeg(p, "-movflags", "+faststart")
    exiftool(p, tc260(record("mp4-uuid-xmp")))


@case("mp4-udta-aigc.mp4", "ffmpeg MP4 (moov last); by hand a literal box 'aigc' with the JSON inside moov/udta",
      "literal udta/aigc box", "compliant, warnings implicit.carrier and implicit.in-header (moov last), fields exact")
def _mp4_udta_aigc(p: Path) -> None:
    ffmpeg(p)
    p.write_bytes(add_to_udta(p.read_bytes(), box(b"aigc", js(record("mp4-udta-aigc")).encode())))


@case("mp4-truncated.mp4", "mp4-mdta (faststart) cut to 70 % (inside mdat)", "truncated payload, moov intact",
      "record read; a truncation finding or CorruptFile")
def _mp4_truncated(p: Path) -> None:
    _mp4_mdta(p)
    data = p.read_bytes()
    p.write_bytes(data[:int(len(data) * 0.7)])


@case("mov-mdta.mov", "ffmpeg MOV libx264+aac, -metadata AIGC -movflags +faststart+use_metadata_tags",
      "normative MOV carrier", "compliant")
def _mov_mdta(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('mov-mdta'))}", "-movflags", "+faststart+use_metadata_tags")


@case("mov-none.mov", "ffmpeg MOV", "empty shell", "not-labelled")
def _mov_none(p: Path) -> None:
    ffmpeg(p, "-movflags", "+faststart")


@case("mkv-simpletag.mkv", "ffmpeg Matroska libx264+aac, -metadata AIGC=<record> (global SimpleTag)",
      "normative MKV carrier", "compliant")
def _mkv_tag(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('mkv-simpletag'))}")


@case("mkv-none.mkv", "ffmpeg Matroska", "empty shell", "not-labelled")
def _mkv_none(p: Path) -> None:
    ffmpeg(p)


@case("mkv-wrapped.mkv", "ffmpeg Matroska, -metadata AIGC=<wrapped record>", "wrapped form in a SimpleTag",
      "compliant")
def _mkv_wrapped(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js({'AIGC': record('mkv-wrapped')})}")


@case("webm-simpletag.webm", "ffmpeg WebM vp9+opus, -metadata AIGC=<record>", "normative WebM carrier", "compliant")
def _webm_tag(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('webm-simpletag'))}")


@case("webm-none.webm", "ffmpeg WebM", "empty shell", "not-labelled")
def _webm_none(p: Path) -> None:
    ffmpeg(p)


@case("avi-listinfo.avi", "ffmpeg AVI mpeg4+mp3 0.4 s; by hand a top-level LIST/INFO with sub-chunk 'AIGC' "
      "before LIST movi (ffmpeg writes only the INFO ids it knows)", "normative AVI carrier", "compliant")
def _avi_info(p: Path) -> None:
    ffmpeg(p)
    form, chunks = riff_top(p.read_bytes())
    movi = next(i for i, (c, d) in enumerate(chunks) if c == b"LIST" and d[:4] == b"movi")
    chunks.insert(movi, (b"LIST", info_list(AIGC=js(record("avi-listinfo")))))
    p.write_bytes(riff_bytes(form, chunks))


@case("avi-none.avi", "ffmpeg AVI", "empty shell", "not-labelled")
def _avi_none(p: Path) -> None:
    ffmpeg(p)


@case("flv-onmetadata.flv", "ffmpeg FLV flv1+mp3, -metadata AIGC=<record> (onMetaData string property)",
      "normative FLV carrier", "compliant")
def _flv_meta(p: Path) -> None:
    ffmpeg(p, "-metadata", f"AIGC={js(record('flv-onmetadata'))}")


@case("flv-none.flv", "ffmpeg FLV", "empty shell", "not-labelled")
def _flv_none(p: Path) -> None:
    ffmpeg(p)


# -------------------------------------------------------------------------------------------- documents


@case("pdf-info.pdf", "pypdf: one blank page, add_metadata({'/AIGC': record})", "normative PDF carrier (Info /AIGC)",
      "compliant")
def _pdf_info(p: Path) -> None:
    p.write_bytes(pdf_bytes({"/AIGC": js(record("pdf-info"))}))


@case("pdf-none.pdf", "pypdf blank page with a Title", "empty shell", "not-labelled")
def _pdf_none(p: Path) -> None:
    p.write_bytes(pdf_bytes())


@case("pdf-xmp.pdf", "pypdf blank page; exiftool XMP-TC260:AIGC (XMP metadata stream, incremental update)",
      "PDF XMP variant", "compliant, warning implicit.carrier")
def _pdf_xmp(p: Path) -> None:
    p.write_bytes(pdf_bytes())
    exiftool(p, tc260(record("pdf-xmp")))


@case("pdf-disagree.pdf", "pypdf Info /AIGC (Label 1); exiftool XMP TC260:AIGC (Label 2, other ProduceID)",
      "disagreeing copies in one PDF", "noncompliant (implicit.single-record)")
def _pdf_disagree(p: Path) -> None:
    p.write_bytes(pdf_bytes({"/AIGC": js(record("pdf-a"))}))
    exiftool(p, tc260(record("pdf-b", Label="2")))


@case("pdf-truncated.pdf", "pdf-info cut before its xref table and trailer", "truncated PDF (no xref)",
      "record read by pypdf's recovery, or CorruptFile")
def _pdf_truncated(p: Path) -> None:
    data = pdf_bytes({"/AIGC": js(record("pdf-truncated"))})
    p.write_bytes(data[:data.rindex(b"xref")])


@case("pdf-ours-stamp.pdf", "aigclabel mark (stamp on the first page + Info /AIGC) of a pypdf blank page",
      "our own output: visible stamp found by text extraction", "compliant (full scope)", full=True)
def _pdf_ours(p: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="corpus-ours-") as tmp:
        src = Path(tmp) / "src.pdf"
        from pypdf import PdfWriter

        writer = PdfWriter()
        writer.add_blank_page(width=300, height=200)
        writer.write(src)
        mark_ours(src, p)


@case("html-pdf-polyglot.pdf", "by hand: an HTML head with <meta name=\"AIGC\"> (record A) followed by pdf-info "
      "(record B)", "polyglot HTML/PDF: %PDF- within the first bytes",
      "one format chosen by content; its record read; never a traceback")
def _html_pdf(p: Path) -> None:
    head = f"<html><head><meta name=\"AIGC\" content='{js(record('polyglot-html'))}'></head><!--\n".encode()
    p.write_bytes(head + pdf_bytes({"/AIGC": js(record("polyglot-pdf"))}))


@case("docx-custom.docx", "python-docx; zipfile adds docProps/custom.xml (property AIGC, lpwstr) + content type + rel",
      "normative DOCX carrier", "compliant")
def _docx_custom(p: Path) -> None:
    p.write_bytes(office_with_custom(docx_bytes(), ("AIGC", js(record("docx-custom")))))


@case("docx-none.docx", "python-docx", "empty shell", "not-labelled")
def _docx_none(p: Path) -> None:
    p.write_bytes(docx_bytes())


@case("docx-bad-crc.docx", "docx-custom with custom.xml stored (no compression) and a byte of custom.xml changed "
      "by hand (CRC-32 no longer matches)", "bad ZIP member CRC on the carrier", "CorruptFile or a CRC finding")
def _docx_bad_crc(p: Path) -> None:
    data = office_with_custom(docx_bytes(), ("AIGC", js(record("docx-bad-crc"))))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            method = zipfile.ZIP_STORED if info.filename == "docProps/custom.xml" else zipfile.ZIP_DEFLATED
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=(2025, 9, 1, 0, 0, 0)), zin.read(info), method)
    raw = out.getvalue()
    at = raw.index(b"docx-bad-crc")
    p.write_bytes(raw[:at] + b"X" + raw[at + 1:])


@case("docx-truncated.docx", "docx-custom without its central directory (last 400 bytes cut)",
      "truncated ZIP", "CorruptFile")
def _docx_truncated(p: Path) -> None:
    data = office_with_custom(docx_bytes(), ("AIGC", js(record("docx-truncated"))))
    p.write_bytes(data[:-400])


@case("xlsx-custom.xlsx", "openpyxl Workbook.custom_doc_props StringProperty AIGC", "normative XLSX carrier",
      "compliant")
def _xlsx_custom(p: Path) -> None:
    p.write_bytes(xlsx_bytes(("AIGC", js(record("xlsx-custom")))))


@case("xlsx-none.xlsx", "openpyxl", "empty shell", "not-labelled")
def _xlsx_none(p: Path) -> None:
    p.write_bytes(xlsx_bytes())


@case("pptx-custom.pptx", "python-pptx; zipfile adds docProps/custom.xml AIGC + content type + rel",
      "normative PPTX carrier", "compliant")
def _pptx_custom(p: Path) -> None:
    p.write_bytes(office_with_custom(pptx_bytes(), ("AIGC", js(record("pptx-custom")))))


@case("pptx-none.pptx", "python-pptx", "empty shell", "not-labelled")
def _pptx_none(p: Path) -> None:
    p.write_bytes(pptx_bytes())


# ------------------------------------------------------------------------------------------------ text


def _front_matter(p: Path, lines: list[str], body: str = "# A generated note\n\nSome text.\n") -> None:
    p.write_text("---\n" + "".join(line + "\n" for line in lines) + "---\n\n" + body, encoding="utf-8")


def _yaml_block(rec: dict[str, str], keys: list[str] | None = None) -> list[str]:
    return ["AIGC:"] + [f"  {k}: {json.dumps(rec[k])}" for k in (keys or list(rec))]


@case("md-front-matter.md", "by hand: YAML front matter AIGC: mapping, the seven keys in Annex E order",
      "normative Markdown carrier", "compliant")
def _md_fm(p: Path) -> None:
    _front_matter(p, _yaml_block(record("md-front-matter")))


@case("md-alphabetical.md", "PyYAML safe_dump(sort_keys=True) of {'AIGC': record} as front matter "
      "(real exports sort keys)", "front matter keys in alphabetical order", "compliant (order is free)")
def _md_alpha(p: Path) -> None:
    import yaml

    p.write_text("---\n" + yaml.safe_dump({"AIGC": record("md-alphabetical")}, sort_keys=True) + "---\n\n"
                 "# A generated note\n", encoding="utf-8")


@case("md-flow.md", "by hand: front matter in flow style, AIGC: {\"Label\": \"1\", ...}",
      "flow-style front matter", "compliant, fields exact")
def _md_flow(p: Path) -> None:
    rec = record("md-flow")
    _front_matter(p, ["AIGC: {" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in rec.items()) + "}"])


@case("md-misspelt.md", "by hand: front matter with ReserveCode1/ReserveCode2 (as a real export)",
      "misspelt keys ReserveCode1/2", "a finding naming the misspelling (error or warning), fields otherwise exact")
def _md_misspelt(p: Path) -> None:
    rec = record("md-misspelt")
    lines = ["AIGC:"] + [f"  {k.replace('ReservedCode', 'ReserveCode')}: {json.dumps(v)}" for k, v in rec.items()]
    _front_matter(p, lines)


@case("md-title-first.md", "by hand: front matter with title: and date: before AIGC: (block style)",
      "other keys around the record", "compliant")
def _md_title(p: Path) -> None:
    _front_matter(p, ["title: A generated note", "date: 2025-09-01"] + _yaml_block(record("md-title-first")))


@case("md-securitydata.md", "by hand: front matter, ReservedCode1 = SecurityData JSON as a YAML double-quoted "
      "string (as StepFun exports)", "escaped quotes in ReservedCode1 in Markdown", "compliant")
def _md_security(p: Path) -> None:
    _front_matter(p, _yaml_block(record("md-security", ReservedCode1=SECURITY_DATA)))


@case("md-none.md", "by hand: Markdown without front matter", "empty shell", "not-labelled")
def _md_none(p: Path) -> None:
    p.write_text("# A generated note\n\nSome text, no label.\n", encoding="utf-8")


@case("md-ours-notice.md", "aigclabel mark (front matter + notice at the start) of a short note",
      "our own output: record and visible notice", "compliant (full scope)", full=True)
def _md_ours(p: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="corpus-ours-") as tmp:
        src = Path(tmp) / "src.md"
        src.write_text("# Harbour at dusk\n\nA short generated note.\n", encoding="utf-8")
        mark_ours(src, p)


@case("html-meta.html", "by hand: <meta name=\"AIGC\" content='record'> in <head>",
      "our HTML convention", "compliant")
def _html_meta(p: Path) -> None:
    p.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 f"<meta name=\"AIGC\" content='{js(record('html-meta'))}'><title>Note</title></head>\n"
                 "<body><p>A generated note.</p></body></html>\n", encoding="utf-8")


@case("html-none.html", "by hand: HTML without a record", "empty shell", "not-labelled")
def _html_none(p: Path) -> None:
    p.write_text("<!DOCTYPE html>\n<html><head><title>Note</title></head><body><p>A note.</p></body></html>\n",
                 encoding="utf-8")


@case("txt-none.txt", "by hand: two lines of UTF-8 text", "plain text, no carrier exists",
      "compliant under scope implicit (no carrier is defined for TXT: record-present info), tier none")
def _txt_none(p: Path) -> None:
    p.write_text("A short generated note.\nA second line.\n", encoding="utf-8")


@case("txt-notice.txt", "by hand: text starting with the notice 本内容由人工智能生成",
      "explicit text notice at the start", "explicit.text pass (full scope); implicit not applicable", full=True)
def _txt_notice(p: Path) -> None:
    p.write_text("本内容由人工智能生成\n\nA short generated note.\nA second line.\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------ main


README_START = "<!-- corpus-table:start (written by make.py) -->"
README_END = "<!-- corpus-table:end -->"


def _table() -> str:
    rows = ["| file | how it was made | what it tests | expect (what we believe is right) |", "|---|---|---|---|"]
    for c in sorted(CASES.values(), key=lambda c: c.file):
        cells = [f"`{c.file}`" + (" (full scope)" if c.full else ""), c.how, c.tests, c.expect]
        rows.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(rows)


def write_index() -> None:
    index = {c.file: {"how": c.how, "tests": c.tests, "expect": c.expect, "full": c.full}
             for c in sorted(CASES.values(), key=lambda c: c.file)}
    INDEX.write_text(json.dumps(index, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    if README.exists():
        text = README.read_text(encoding="utf-8")
        head, _, rest = text.partition(README_START)
        _, _, tail = rest.partition(README_END)
        README.write_text(f"{head}{README_START}\n{_table()}\n{README_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], help="rewrite only this file (repeatable)")
    ap.add_argument("--index", action="store_true", help="rewrite only index.json and the README table")
    ap.add_argument("--out", type=Path, help="write the files into this directory instead (to compare a rerun)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.only if n not in CASES]
    if unknown:
        ap.error(f"unknown corpus file(s): {', '.join(unknown)}")
    if args.index:
        write_index()
        return 0
    out_dir: Path = args.out or FILES
    out_dir.mkdir(parents=True, exist_ok=True)
    names = args.only or list(CASES)
    if not args.only and args.out is None:
        for stale in out_dir.iterdir():
            if stale.name not in CASES:
                stale.unlink()
    for name in names:
        target = out_dir / name
        target.unlink(missing_ok=True)
        CASES[name].make(target)
        print(f"{target.stat().st_size:8d}  {name}")
    if args.out is None:
        write_index()
    total = sum(f.stat().st_size for f in out_dir.iterdir())
    print(f"{len(names)} files written, {total} bytes in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
