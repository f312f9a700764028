"""Real-world serialisations of the AIGC record that are not our own (issue 13), and two writer bugs
independent readers saw.

* Markdown front matter as other tools write it: PyYAML (an independent YAML writer) dumps the
  record with sorted keys, in flow style, and with long values folded over lines; PyYAML reads every
  such file back and its fields must equal ours exactly.  Misspelt keys are passed on as found.
* WAV with the record in ``LIST/INFO``: ffmpeg writes it as ``ICMT`` (``-metadata comment=``); no tool
  writes a custom ``AIGC`` INFO id, so that one is built by hand (RIFF chunk bytes, below).
* MP4 with a literal ``moov/udta/aigc`` box (built by hand: no tool writes it) and with an XMP
  ``uuid`` box (written by exiftool with a user-defined TC260 namespace).
* HTML: a record value with ``<``, ``>``, ``&``, ``'`` and ``"`` must survive exiftool's reader.
* AIFF: exiftool must not warn "Invalid ID3 frame size" on our ``ID3 `` chunk, and mutagen reads it.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigclabel
from aigclabel._io import CountingReader
from aigclabel.errors import LimitExceeded
from aigclabel.formats.base import ImplicitLabel
from aigclabel.formats.text import HtmlHandler, read_labels
from aigclabel.label import AigcRecord
from aigclabel.report import Level, Verdict

from conftest import PRODUCER

yaml = pytest.importorskip("yaml")

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
EXIFTOOL = shutil.which("exiftool")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="ffmpeg/ffprobe not installed")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed")

PROPAGATOR = "00119144030008867405X220001"
#: a SecurityData value as signed real files carry it in ReservedCode1 (quotes, nesting, long hex)
SECURITY_DATA = json.dumps({"SecurityData": {"Type": "TC260PG", "Version": "1.0", "PubSD": [
    {"Type": "PubKey", "AlgID": "1.2.156.10197.1.501", "KeyValue": "04" + "a1b2c3d4" * 16},
    {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "Signature": "3045" + "0f1e2d3c" * 17}]}},
    separators=(",", ":"))


def record(produce_id: str = "ser-0001", **kw: str) -> AigcRecord:
    return AigcRecord(label="1", content_producer=PRODUCER, produce_id=produce_id,
                      content_propagator=PROPAGATOR, propagate_id=produce_id + "-p", **kw)


def run(*args: str) -> bytes:
    proc = subprocess.run(args, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def rules(report: aigclabel.Report, rule: str) -> list[aigclabel.Finding]:
    return [f for f in report.findings if f.rule == rule]


# ================================================================================= Markdown front matter


def front_matter_yaml(text: str) -> Any:
    """The front matter as PyYAML (the independent reader) reads it."""
    assert text.startswith("---\n")
    return yaml.safe_load(text[4:text.index("\n---\n", 4)])


def md_with(yaml_text: str) -> str:
    return "---\ntitle: A generated note\n" + yaml_text + "---\n\n# Note\n\nBody text.\n"


DUMPS = {
    # what Hugo / Jekyll tooling and Python exporters write: keys sorted (alphabetical)
    "block-sorted": dict(sort_keys=True, default_flow_style=False),
    # flow style (None: a mapping of scalars in flow, the rest block), folded over lines at a width of 80
    "flow-yaml": dict(sort_keys=True, default_flow_style=None),
    # every scalar double-quoted; long values are broken with escaped line breaks
    "block-double-quoted": dict(sort_keys=False, default_flow_style=False, default_style='"'),
    "flow-single-line": dict(sort_keys=False, default_flow_style=None, width=100_000),
}


@pytest.mark.parametrize("style", sorted(DUMPS))
@pytest.mark.parametrize("reserved", ["", SECURITY_DATA, " ".join(["folded 'words' and: colons #x"] * 8)])
def test_front_matter_written_by_pyyaml_reads_exact(style: str, reserved: str) -> None:
    rec = record("md-" + style, reserved_code1=reserved)
    text = md_with(yaml.safe_dump({"AIGC": rec.to_dict()}, allow_unicode=True, **DUMPS[style]))
    assert front_matter_yaml(text)["AIGC"] == rec.to_dict()  # the independent reader agrees with the file
    report = aigclabel.verify_text(text, fmt="markdown", scope="implicit")
    (lab,) = report.labels
    assert lab.fields == rec.to_dict()  # every value exact, SecurityData's quotes and folded lines included
    assert list(lab.fields) == list(rec.to_dict())  # read in Annex E order, whatever the file's order
    assert lab.normative and lab.carrier == "front-matter:AIGC"
    assert not rules(report, "implicit.record-fields") or all(
        f.level in (Level.PASS, Level.WARNING) for f in rules(report, "implicit.record-fields"))
    assert not [f for f in report.findings if "order" in f.message and f.level is not Level.INFO]
    notes = [f.message for f in rules(report, "format.markdown")]
    if style.startswith("flow"):
        assert any("flow style" in n for n in notes)
    if style == "block-sorted" or style == "flow-yaml":
        assert any("another order" in n for n in notes)  # said, but not held against the file
    if not reserved:
        assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]


def test_front_matter_flow_mapping_in_json_and_yaml_quoting() -> None:
    rec = record("md-flow")
    d = rec.to_dict()
    as_json = "AIGC: " + json.dumps(d) + "\n"
    as_yaml = "AIGC: {" + ", ".join(f"{k}: '{v}'" for k, v in d.items()) + "}\n"
    wrapped = "AIGC: {\n  " + ",\n  ".join(f'"{k}": "{v}"' for k, v in d.items()) + "\n}\n"
    for yaml_text in (as_json, as_yaml, wrapped):
        text = md_with(yaml_text)
        assert front_matter_yaml(text)["AIGC"] == d, yaml_text
        (lab,) = aigclabel.verify_text(text, fmt="markdown", scope="implicit").labels
        assert lab.fields == d and lab.normative, yaml_text


def test_front_matter_misspelt_keys_pass_through_as_found() -> None:
    # the keys of a real export: ReserveCode1/2 for ReservedCode1/2
    yaml_text = ('AIGC:\n  Label: "1"\n  ContentProducer: ' + PRODUCER + '\n  ProduceID: md-typo\n'
                 '  ReserveCode1: ""\n  ContentPropagator: ""\n  PropagateID: ""\n  ReserveCode2: ""\n')
    text = md_with(yaml_text)
    report = aigclabel.verify_text(text, fmt="markdown", scope="implicit")
    (lab,) = report.labels
    assert list(lab.fields) == list(front_matter_yaml(text)["AIGC"])  # as found, in the order found
    assert lab.fields["ReserveCode1"] == "" and "ReservedCode1" not in lab.fields
    messages = " ".join(f.message for f in report.findings if f.level is Level.ERROR)
    assert "ReserveCode1" in messages and "ReservedCode1" in messages
    assert report.verdict is Verdict.NONCOMPLIANT


@pytest.mark.parametrize("yaml_text", [
    "AIGC: {Label: '1', ContentProducer: P",  # unclosed
    "AIGC: {Label: {nested: 1}}",
    "AIGC: {Label: '1', # comment\n  ProduceID: x}",
    "AIGC: {: x}",
    "AIGC: {'unterminated: 1}",
    "AIGC:\n  Label: \"1\n  ProduceID: x\n",  # an unclosed double-quoted value
    "AIGC: |-\n",
    "AIGC:\n  - a\n  - b\n",
    "AIGC: {" + "a: b, " * 50 + "}",
])
def test_front_matter_oddities_are_findings_not_crashes(yaml_text: str) -> None:
    report = aigclabel.verify_text(md_with(yaml_text + "\n"), fmt="markdown", scope="implicit")
    assert report.verdict is not Verdict.COMPLIANT
    assert report.labels  # a record key was there: reported as a broken record, never "no record"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{}[],:'\"\\#|>- \t\nabAIGCLl01", max_size=80))
def test_front_matter_reader_never_raises(value: str) -> None:
    text = md_with("AIGC:" + value + "\n")
    labels, _traces, _findings = read_labels(text, "markdown")  # bad YAML is a finding, never an exception
    assert all(lab.form in ("bare", "wrapped", "invalid", "legacy-2023") for lab in labels)


def test_front_matter_key_count_is_bounded() -> None:
    text = md_with("AIGC: {" + ", ".join(f"k{i}: v" for i in range(500)) + "}\n")
    with aigclabel.use_limits(aigclabel.Limits(max_structures=100)):
        with pytest.raises(LimitExceeded):
            read_labels(text, "markdown")
    (lab,) = read_labels(text, "markdown")[0]  # within the default limits: read (and invalid)
    assert lab.fields is not None and len(lab.fields) == 500


def test_marking_replaces_a_foreign_front_matter_record_with_ours(tmp_path: Path) -> None:
    old = record("md-old", reserved_code1=SECURITY_DATA)
    src = tmp_path / "note.md"
    src.write_text(md_with(yaml.safe_dump({"AIGC": old.to_dict()}, sort_keys=True, default_flow_style=None)),
                   encoding="utf-8")
    out = tmp_path / "out.md"
    aigclabel.mark(src, out, producer=PRODUCER, produce_id="md-new", explicit=False)
    text = out.read_text(encoding="utf-8")
    fm = front_matter_yaml(text)
    assert fm["title"] == "A generated note"  # the other keys are kept
    assert fm["AIGC"]["ProduceID"] == "md-new" and text.count("AIGC") == 1
    (lab,) = aigclabel.verify(out, scope="implicit").labels
    assert lab.fields == fm["AIGC"] and lab.normative


# ================================================================================= WAV: LIST/INFO


def riff_chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        cid, size = struct.unpack("<4sI", data[pos:pos + 8])
        out.append((cid, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def with_chunks(wav: bytes, extra: list[bytes]) -> bytes:
    """*wav* with *extra* chunks (whole, by hand) inserted before its data chunk, the RIFF size fixed."""
    pos = 12
    while wav[pos:pos + 4] != b"data":
        pos += 8 + struct.unpack("<I", wav[pos + 4:pos + 8])[0]
        pos += pos & 1
    body = wav[12:pos] + b"".join(extra) + wav[pos:]
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serialisations")


def ffmpeg_wav(scratch: Path, name: str, *meta: str) -> bytes:
    out = scratch / name
    run(FFMPEG or "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.2",
        "-ar", "8000", *meta, str(out))
    return out.read_bytes()


def ffprobe_tags(path: Path) -> dict[str, str]:
    out = json.loads(run(FFPROBE or "ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)))
    return {k.lower(): v for k, v in out["format"].get("tags", {}).items()}


@needs_ffmpeg
def test_wav_record_only_in_list_info_icmt_written_by_ffmpeg(scratch: Path) -> None:
    rec = record("wav-icmt")
    src = ffmpeg_wav(scratch, "icmt.wav", "-metadata", f"comment={rec.to_json()}", "-metadata", "title=Tone")
    assert any(cid == b"LIST" and b"ICMT" in body for cid, body in riff_chunks(src))  # ffmpeg's own INFO
    report = aigclabel.verify(src, scope="implicit")
    (lab,) = report.labels
    assert (lab.carrier, lab.normative, lab.fields) == ("riff:LIST/INFO:ICMT", False, rec.to_dict())
    assert any(f.level is Level.INFO and "only in LIST/INFO" in f.message for f in rules(report, "format.wav"))
    assert all(f.level is not Level.PASS for f in rules(report, "implicit.carrier"))  # a variant, said so


@needs_ffmpeg
@pytest.mark.parametrize("agree", [True, False])
def test_wav_chunk_and_list_info_copy(scratch: Path, agree: bool) -> None:
    rec = record("wav-both")
    copy = rec if agree else record("wav-other")
    base = ffmpeg_wav(scratch, "both.wav", "-metadata", "title=Tone")
    # by hand: no tool writes a custom INFO id; the sub-chunk holds the JSON and a NUL, as INFO strings do
    info = b"INFO" + riff_chunk(b"INAM", b"Tone\x00") + riff_chunk(b"AIGC", copy.to_json().encode() + b"\x00")
    src = with_chunks(base, [riff_chunk(b"LIST", info), riff_chunk(b"AIGC", rec.to_json().encode())])
    report = aigclabel.verify(src, scope="implicit")
    carriers = {lab.carrier: lab for lab in report.labels}
    assert set(carriers) == {"riff:AIGC", "riff:LIST/INFO:AIGC"}
    assert carriers["riff:AIGC"].normative and carriers["riff:AIGC"].fields == rec.to_dict()
    assert carriers["riff:LIST/INFO:AIGC"].fields == copy.to_dict()
    (note,) = rules(report, "format.wav")
    if agree:
        assert note.level is Level.INFO and "agrees" in note.message
    else:
        assert note.level is Level.ERROR and "ProduceID" in note.message and "PropagateID" in note.message
        assert "disagree" in " ".join(f.message for f in rules(report, "implicit.single-record"))
    assert report.verdict is Verdict.NONCOMPLIANT  # two records in one file, either way


@needs_ffmpeg
def test_wav_marking_keeps_the_other_info_fields_byte_for_byte(scratch: Path) -> None:
    base = ffmpeg_wav(scratch, "keep.wav", "-metadata", "title=Tone", "-metadata", "artist=Someone")
    (ffmpeg_info,) = [body for cid, body in riff_chunks(base) if cid == b"LIST"]
    copy = riff_chunk(b"AIGC", record("wav-old").to_json().encode() + b"\x00")
    # the record copy sits between ffmpeg's fields: cutting it must leave their bytes as they were
    src = with_chunks(base, [riff_chunk(b"LIST", ffmpeg_info[:4] + copy + ffmpeg_info[4:])])
    src = src.replace(riff_chunk(b"LIST", ffmpeg_info), b"", 1)
    src = b"RIFF" + struct.pack("<I", len(src) - 8) + src[8:]
    out = aigclabel.mark(src, producer=PRODUCER, produce_id="wav-new", explicit=False)
    lists = [body for cid, body in riff_chunks(out) if cid == b"LIST"]
    assert lists == [ffmpeg_info]
    assert [cid for cid, _ in riff_chunks(out)].count(b"AIGC") == 1
    path = scratch / "keep-out.wav"
    path.write_bytes(out)
    tags = ffprobe_tags(path)
    assert tags["title"] == "Tone" and tags["artist"] == "Someone"
    (lab,) = aigclabel.verify(out, scope="implicit").labels
    assert lab.carrier == "riff:AIGC" and lab.fields["ProduceID"] == "wav-new"


# ================================================================================= MP4: udta/aigc, uuid XMP


def box(btype: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), btype) + body


def top_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    out, pos, end = [], start, len(data) if end is None else end
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((btype, pos, size))
        pos += size
    return out


def with_udta_box(mp4: bytes, extra: bytes) -> bytes:
    """*mp4* (moov after mdat, so no chunk offset moves) with *extra* added to moov/udta (by hand)."""
    (moov,) = [b for b in top_boxes(mp4) if b[0] == b"moov"]
    assert moov[1] > [b for b in top_boxes(mp4) if b[0] == b"mdat"][0][1]
    kids = []
    for btype, pos, size in top_boxes(mp4, moov[1] + 8, moov[1] + moov[2]):
        raw = mp4[pos:pos + size]
        kids.append(box(b"udta", raw[8:] + extra) if btype == b"udta" else raw)
    if not any(k[4:8] == b"udta" for k in kids):
        kids.append(box(b"udta", extra))
    return mp4[:moov[1]] + box(b"moov", b"".join(kids)) + mp4[moov[1] + moov[2]:]


def ffmpeg_mp4(scratch: Path, name: str) -> bytes:
    out = scratch / name
    run(FFMPEG or "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=0.2:size=64x48:rate=10",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata", "title=Clip", str(out))
    return out.read_bytes()


def exiftool_json(path: Path, *extra: str) -> dict[str, Any]:
    (tags,) = json.loads(run(EXIFTOOL or "exiftool", *extra, "-j", "-a", "-G1", "-u", str(path)))
    return tags


@needs_ffmpeg
@pytest.mark.parametrize("btype", [b"aigc", b"AIGC"])
def test_mp4_literal_udta_aigc_box(scratch: Path, btype: bytes) -> None:
    rec = record("mp4-box", reserved_code1=SECURITY_DATA)
    src = with_udta_box(ffmpeg_mp4(scratch, "box.mp4"), box(btype, rec.to_json().encode()))
    report = aigclabel.verify(src, scope="implicit")
    (lab,) = report.labels
    assert (lab.carrier, lab.normative) == (f"mp4:moov/udta:{btype.decode()}", False)
    assert lab.fields == rec.to_dict()
    assert all(f.level is not Level.PASS for f in rules(report, "implicit.carrier"))

    out = aigclabel.mark(src, producer=PRODUCER, produce_id="mp4-new", explicit=False)
    assert box(btype, rec.to_json().encode()) not in out  # one record per file: the box gave way to ours
    (lab,) = aigclabel.verify(out, scope="implicit").labels
    assert lab.normative and lab.fields["ProduceID"] == "mp4-new"
    path = scratch / "box-out.mp4"
    path.write_bytes(out)
    assert json.loads(ffprobe_tags(path)["aigc"])["ProduceID"] == "mp4-new"  # ffprobe reads the normative key
    assert ffprobe_tags(path)["title"] == "Clip"


@needs_ffmpeg
def test_mp4_oversized_udta_aigc_box_is_a_finding(scratch: Path) -> None:
    src = with_udta_box(ffmpeg_mp4(scratch, "bigbox.mp4"), box(b"aigc", b"{" + b" " * (1 << 20) + b"}"))
    report = aigclabel.verify(src, scope="implicit")
    assert not report.labels
    assert any(f.level is Level.WARNING and "too large" in f.message for f in rules(report, "format.mp4"))


TC260_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        TC260 => { SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::TC260' } },
    },
);
%Image::ExifTool::UserDefined::TC260 = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-TC260', 2 => 'Image' },
    NAMESPACE => { 'TC260' => 'http://www.tc260.org.cn/ns/AIGC/1.0/' },
    WRITABLE => 'string',
    AIGC => { },
);
1;
"""


@needs_ffmpeg
@needs_exiftool
def test_mp4_uuid_xmp_written_by_exiftool(scratch: Path) -> None:
    rec = record("mp4-xmp")
    config = scratch / "tc260.config"
    config.write_text(TC260_CONFIG, encoding="utf-8")
    path = scratch / "xmp.mp4"
    path.write_bytes(ffmpeg_mp4(scratch, "xmp-src.mp4"))
    run(EXIFTOOL or "exiftool", "-config", str(config), "-q", "-overwrite_original",
        f"-XMP-TC260:AIGC={rec.to_json()}", "-XMP-dc:Title=Clip", str(path))
    src = path.read_bytes()
    assert any(b[0] == b"uuid" for b in top_boxes(src))  # exiftool's carrier for MP4 XMP
    report = aigclabel.verify(src, scope="implicit")
    (lab,) = report.labels
    assert (lab.carrier, lab.normative, lab.fields) == ("xmp:TC260:AIGC", False, rec.to_dict())
    assert "uuid" in lab.location
    assert all(f.level is not Level.PASS for f in rules(report, "implicit.carrier"))

    out = scratch / "xmp-out.mp4"
    aigclabel.mark(path, out, producer=PRODUCER, produce_id="mp4-xmp-new", explicit=False)
    tags = exiftool_json(out, "-config", str(config))
    assert "XMP-TC260:AIGC" not in tags and tags.get("XMP-dc:Title") == "Clip"  # the packet stays, minus ours
    (lab,) = aigclabel.verify(out, scope="implicit").labels
    assert lab.normative and lab.fields["ProduceID"] == "mp4-xmp-new"


# ================================================================================= HTML writer escaping


class _Metas(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.metas: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and "name" in a:
            self.metas.append((a["name"] or "", a.get("content") or ""))


@needs_exiftool
def test_html_meta_value_with_markup_characters_survives_exiftool(tmp_path: Path) -> None:
    # A SecurityData-like ReservedCode1 with quotes, plus < > & ' in values (all in the Annex E range but ")
    rec = record("h<t>m&l'1", reserved_code1=SECURITY_DATA.replace("TC260PG", "TC260PG<&>'"))
    record_json = rec.to_json()
    assert all(c in record_json for c in "<>&'\"")
    page = "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Page</title>\n</head>\n" \
           "<body>\n<p>Text</p>\n</body>\n</html>\n"
    src = page.encode()
    dst = io.BytesIO()
    HtmlHandler().write_metadata(CountingReader(io.BytesIO(src), "page.html", len(src)), dst,
                                 ImplicitLabel(record_json))
    path = tmp_path / "out.html"
    path.write_bytes(dst.getvalue())
    tags = exiftool_json(path)
    assert tags.get("HTML:AIGC") == record_json, tags  # exiftool reads the whole record
    parser = _Metas()
    parser.feed(dst.getvalue().decode())
    assert ("AIGC", record_json) in parser.metas  # and so does Python's HTML parser
    (lab,) = aigclabel.verify(path, scope="implicit").labels
    assert lab.raw == record_json and lab.fields == rec.to_dict() and lab.normative


# ================================================================================= AIFF ID3 chunk padding


@needs_ffmpeg
@needs_exiftool
@pytest.mark.parametrize("with_tag", [False, True])
def test_aiff_id3_chunk_is_valid_for_exiftool_and_mutagen(scratch: Path, with_tag: bool) -> None:
    from mutagen.aiff import AIFF

    src_path = scratch / f"tone-{with_tag}.aiff"
    extra = ["-write_id3v2", "1", "-metadata", "title=Tone"] if with_tag else []
    run(FFMPEG or "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.2",
        "-ar", "8000", "-c:a", "pcm_s16be", *extra, str(src_path))
    out = scratch / f"tone-{with_tag}-out.aiff"
    aigclabel.mark(src_path, out, producer=PRODUCER, produce_id="aiff-pad", explicit=False)
    proc = subprocess.run([EXIFTOOL or "exiftool", "-validate", "-warning", "-a", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert "Invalid ID3 frame size" not in proc.stdout + proc.stderr, proc.stdout
    assert "Validate" in proc.stdout and ": OK" in proc.stdout.split("Validate", 1)[1].splitlines()[0]
    tags = AIFF(out).tags
    assert json.loads(tags["TXXX:AIGC"].text[0])["ProduceID"] == "aiff-pad"
    if with_tag:
        assert tags["TIT2"].text == ["Tone"]
    assert exiftool_json(out).get("ID3v2_4:UserDefinedText", "").startswith("(AIGC)")
