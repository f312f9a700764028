"""The handler contract, generated over every (format handler x sample) pair, as mutagen's tests are.

For each of the 28 sample kinds (the fuzzing seeds' content makers in ``tests/fuzz/seeds.py``: small
files made by Pillow, ffmpeg, pypdf, python-docx/openpyxl/python-pptx, plain text):

1. **read**: the content is detected by its bytes as the expected handler and carries no record;
2. **write**: the implicit record is written (metadata only; formats we cannot write say so with a
   typed error);
3. **re-read**: our reader finds exactly that record, once, and ``verify --scope implicit`` passes;
4. **independent reader**: a reader that is not ours accepts the output and sees the same content:
   decoded pixels identical (Pillow), decoded audio/video identical (ffmpeg's md5 muxer), the same
   pages and text (qpdf, pypdf), every ZIP member we do not own byte for byte (zipfile), the text
   kept (codecs); and exiftool finds the record where it reads that carrier.

A new format is covered by adding its seed to ``tests/fuzz/seeds.py``: nothing here names a format
except the expectations below, which must be stated for it (an unlisted format fails).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import aigclabel
from aigclabel.errors import UnsupportedOperation

sys.path.insert(0, str(Path(__file__).parent))
from fuzz import seeds  # noqa: E402 - tests/ is not a package (pytest --import-mode=importlib)

PRODUCER = "001191110102MACQD9K64010000"

#: sample -> (handler name, writable?)
EXPECTED: dict[str, tuple[str, bool]] = {
    "jpeg": ("jpeg", True), "png": ("png", True), "apng": ("png", True), "webp": ("webp", True),
    "gif": ("gif", True), "tiff": ("tiff", True), "heic": ("heif", True), "avif": ("heif", True),
    "mp3": ("mp3", True), "wav": ("wav", True), "flac": ("flac", True), "ogg": ("ogg", True),
    "opus": ("opus", True), "aiff": ("aiff", True), "m4a": ("m4a", True),
    "mp4": ("mp4", True), "mov": ("mp4", True), "mkv": ("mkv", True), "webm": ("webm", True),
    "avi": ("avi", True), "flv": ("flv", False),
    "pdf": ("pdf", True), "docx": ("docx", True), "xlsx": ("xlsx", True), "pptx": ("pptx", True),
    "txt": ("txt", False), "markdown": ("markdown", True), "html": ("html", True),
}
#: samples whose carrier exiftool reads (it has no tag for the RIFF 'AIGC' chunk of WAV nor for an
#: unknown id in AVI's LIST INFO; Vorbis/Opus comments and the Matroska SimpleTag it reads)
EXIFTOOL_SEES = {"jpeg", "png", "apng", "webp", "gif", "tiff", "heic", "avif", "mp3", "flac", "ogg", "opus",
                 "aiff", "m4a", "mp4", "mov", "mkv", "webm", "pdf", "docx", "xlsx", "pptx"}


#: the sample kinds (the fuzzer's C2PA-signed and watermark-sized variants have the content of their plain twins)
KINDS = sorted(name for name, spec in seeds.SPECS.items() if not spec.c2pa and not spec.watermark_size)


def test_every_sample_kind_has_an_expectation() -> None:
    assert set(EXPECTED) == set(KINDS)
    from aigclabel.formats import handlers

    # the built-in handlers (a test elsewhere may register a third-party one)
    handler_names = {h.name for h in handlers() if h.__module__.startswith("aigclabel.formats.")}
    assert {name for name, _ in EXPECTED.values()} <= handler_names
    # every registered handler is exercised by at least one sample
    assert handler_names <= {name for name, _ in EXPECTED.values()}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


def _ffmpeg_md5(path: Path) -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.fail("ffmpeg is not installed (Debian: ffmpeg); the contract's independent audio/video reader")
    out = subprocess.run([exe, "-v", "error", "-i", str(path), "-map", "0", "-f", "md5", "-"],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode().strip()


def _pixels(data: bytes) -> list[bytes]:
    from PIL import Image, ImageSequence

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - the [heif] extra is installed under CI
        pytest.fail("pillow-heif is not installed (pip install 'aigclabel[heif]')")
    with Image.open(io.BytesIO(data)) as im:
        return [frame.convert("RGBA").tobytes() for frame in ImageSequence.Iterator(im)]


def _same_content(kind: str, name: str, before: Path, after: Path) -> None:
    """The independent reader accepts *after* and sees the content of *before* unchanged."""
    a, b = before.read_bytes(), after.read_bytes()
    if kind == "image":
        assert _pixels(a) == _pixels(b), "metadata marking changed the decoded pixels"
    elif kind in ("audio", "video"):
        assert _ffmpeg_md5(before) == _ffmpeg_md5(after), "metadata marking changed the decoded streams"
    elif name == "pdf":
        from pypdf import PdfReader

        qpdf = shutil.which("qpdf")
        if qpdf is None:
            pytest.fail("qpdf is not installed (Debian: qpdf)")
        rc = subprocess.run([qpdf, "--check", str(after)], capture_output=True, timeout=60).returncode
        assert rc in (0, 3), f"qpdf --check rejects the output (rc {rc})"
        ra, rb = PdfReader(io.BytesIO(a)), PdfReader(io.BytesIO(b))
        assert len(ra.pages) == len(rb.pages)
        assert [p.extract_text() for p in ra.pages] == [p.extract_text() for p in rb.pages]
    elif kind == "document":
        za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
        assert zb.testzip() is None
        owned = {"docProps/custom.xml", "[Content_Types].xml", "_rels/.rels"}
        for info in za.infolist():
            if info.filename not in owned:
                assert za.read(info) == zb.read(info.filename), info.filename
    else:
        text_a, text_b = a.decode("utf-8"), b.decode("utf-8")
        body = text_a.split("</head>")[-1] if name == "html" else text_a
        assert body.strip() in text_b


@pytest.mark.parametrize("name", KINDS)
def test_handler_contract(name: str, scratch: Path) -> None:
    spec = seeds.SPECS[name]
    handler_name, writable = EXPECTED[name]
    src = scratch / f"{name}{spec.suffix}"
    content = spec.make(scratch)
    src.write_bytes(content)

    # 1. read: detected by content, nothing found yet
    found = aigclabel.inspect(src)
    assert found.format == handler_name
    assert found.labels == []

    # 2. write (metadata only)
    out = scratch / f"{name}.marked{spec.suffix}"
    produce_id = f"contract-{name}"
    if not writable:
        with pytest.raises(UnsupportedOperation):
            aigclabel.mark_file(src, out, producer=PRODUCER, produce_id=produce_id, explicit=False)
        assert not out.exists()
        return
    result = aigclabel.mark_file(src, out, producer=PRODUCER, produce_id=produce_id, explicit=False)
    assert result.format == handler_name

    # 3. re-read: exactly this record, once; compliant on the implicit scope
    again = aigclabel.inspect(out)
    assert [lab.raw for lab in again.labels if lab.normative] == [result.record_json]
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is aigclabel.Verdict.COMPLIANT, [f.message for f in report.findings]

    # 4. independent readers
    _same_content(spec.kind, name, src, out)
    if name in EXIFTOOL_SEES:
        exe = shutil.which("exiftool")
        if exe is None:
            pytest.fail("exiftool is not installed (Debian: libimage-exiftool-perl)")
        dump = subprocess.run([exe, "-a", "-u", "-G1", "-s", str(out)], capture_output=True, timeout=60)
        assert produce_id.encode() in dump.stdout, f"exiftool does not see the record in {name}"
    assert src.read_bytes() == content  # the input was never touched
