"""The fast paths of issue 15 keep their results: streamed audio splices, aligned copies, the manifest guard read
from the header walk, one PDF parse per mark, the cheap page count.

Each test reads the output back with an independent reader (the ``wave`` module, Pillow, exiftool, pypdf,
qpdf, the C2PA SDK) and names the behaviour that would break.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from conftest import PRODUCER, make_jpeg, make_png

import aigclabel
from aigclabel._io import COPY_ALIGN, SPOOL_MAX, CountingReader
from aigclabel.errors import UnsupportedOperation
from aigclabel.marking import mark_file

FFMPEG = shutil.which("ffmpeg")
QPDF = shutil.which("qpdf")
np = pytest.importorskip("numpy", reason="numpy is needed for audible labels (aigclabel[audio])")


# ------------------------------------------------------------------------------------------ audio: streaming


def write_wav(path: Path, seconds: float, rate: int = 44100, channels: int = 2, seed: int = 1) -> None:
    """Noise in 10 s blocks (the test's own memory stays small however long the file is)."""
    rng = np.random.default_rng(seed)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        left = int(seconds * rate)
        while left:
            n = min(left, 10 * rate)
            w.writeframes((rng.standard_normal((n, channels)) * 2000).astype("<i2").tobytes())
            left -= n


def frames(path: Path) -> tuple[int, int, bytes]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())


PEAK_SCRIPT = """
import sys, aigclabel
aigclabel.mark_file(sys.argv[1], sys.argv[2], producer=sys.argv[3], audio_positions=["start", "middle", "end"])
status = open("/proc/self/status").read()
print(next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for the peak memory")
def test_audible_label_on_a_long_wav_streams_within_the_default_limits(tmp_path: Path) -> None:
    """5 minutes of 44.1 kHz stereo (53 MB): the splice held ~6 copies (over 300 MB) and the default allocation
    budget refused an hour; streamed, the peak stays near the interpreter's own, and the samples around the
    three prompts are the original's, bit for bit."""
    src, out = tmp_path / "long.wav", tmp_path / "long-marked.wav"
    write_wav(src, 300)
    size = src.stat().st_size
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(src), str(out), PRODUCER], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    peak_mb = int(run.stdout.split()[-1]) / 1024
    assert peak_mb < 150, f"peak {peak_mb:.0f} MB for a {size / 1e6:.0f} MB WAV"
    rate, channels, before = frames(src)
    rate2, channels2, after = frames(out)
    assert (rate2, channels2) == (rate, channels)
    block = 2 * channels
    added = len(after) - len(before)
    assert added > 0 and added % (3 * block) == 0
    plen = added // 3
    report = aigclabel.verify(out, scope="implicit")
    assert report.ok, report.verdict
    # where the prompts went: the start, the (quiet) middle, the end; the rest is the source
    assert after[plen:plen + len(before) // 2 - 10 * rate * block] == before[:len(before) // 2 - 10 * rate * block]
    assert after[-plen - 10 * rate * block:-plen] == before[-10 * rate * block:]


@pytest.mark.parametrize("seconds", [3, SPOOL_MAX / (44100 * 4) + 5])
def test_spliced_wav_keeps_every_chunk_and_sample(tmp_path: Path, seconds: float) -> None:
    """Below SPOOL_MAX the result is built in memory, above it in a temporary file: either way the samples
    around the prompt are the source's, the fact count grows by the prompt, and an odd-sized chunk after the
    data keeps its bytes and pad (a wrong chunk size or pad byte breaks all three)."""
    src = tmp_path / "a.wav"
    write_wav(src, seconds, seed=3)
    data = src.read_bytes()
    riff = data[12:] + b"fact" + struct.pack("<II", 4, 12345) + b"junk" + struct.pack("<I", 3) + b"abc\x00"
    src.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(riff)) + b"WAVE" + riff)
    result = mark_file(src, tmp_path / "m.wav", producer=PRODUCER, audio_positions=["middle"])
    assert result.explicit == "added"
    (spot,) = result.explicit_details["inserted"]
    at, plen = spot["source_at_frame"], spot["frames"]
    _, channels, before = frames(src)
    _, _, after = frames(tmp_path / "m.wav")
    block = 2 * channels
    assert len(after) == len(before) + plen * block
    assert after[:at * block] == before[:at * block] and after[(at + plen) * block:] == before[at * block:]
    marked = (tmp_path / "m.wav").read_bytes()
    fact = marked.index(b"fact")
    assert struct.unpack("<I", marked[fact + 8:fact + 12]) == (12345 + plen,)
    assert b"junk\x03\x00\x00\x00abc\x00" in marked
    (riff_size,) = struct.unpack("<I", marked[4:8])
    assert riff_size == len(marked) - 8


def test_aiff_splice_streams_and_keeps_the_samples(tmp_path: Path) -> None:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not installed")
    src = tmp_path / "a.aiff"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "anoisesrc=d=4:a=0.2", "-ac", "2", "-ar", "22050",
                    str(src)], check=True, timeout=60)
    out = tmp_path / "m.aiff"
    mark_file(src, out, producer=PRODUCER, audio_positions=["end"])
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                                       str(out)], capture_output=True, check=True, timeout=60).stdout)
    before = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(src)],
                                       capture_output=True, check=True, timeout=60).stdout)
    assert float(probe["streams"][0]["duration"]) > float(before["streams"][0]["duration"]) + 0.5
    pcm = subprocess.run([FFMPEG, "-v", "error", "-i", str(src), "-f", "s16le", "-"], capture_output=True,
                         check=True, timeout=60).stdout
    pcm2 = subprocess.run([FFMPEG, "-v", "error", "-i", str(out), "-f", "s16le", "-"], capture_output=True,
                          check=True, timeout=60).stdout
    assert pcm2[:len(pcm)] == pcm  # the prompt went after the last original sample


# ------------------------------------------------------------------------------------------ aligned copies


def test_jpeg_image_data_moves_by_a_multiple_of_the_copy_alignment(exiftool) -> None:  # type: ignore[no-untyped-def]
    src = make_jpeg(size=(640, 480))
    out = aigclabel.mark(src, producer=PRODUCER, explicit=False)
    sos_in, sos_out = src.index(b"\xff\xda"), out.index(b"\xff\xda")
    assert (sos_out - sos_in) % COPY_ALIGN == 0
    assert out[sos_out:] == src[sos_in:]
    tags = exiftool(out)
    assert json.loads(tags["XMP-TC260:Aigc"])["ContentProducer"] == PRODUCER
    from PIL import Image

    assert Image.open(io.BytesIO(out)).tobytes() == Image.open(io.BytesIO(src)).tobytes()
    again = aigclabel.mark(out, producer=PRODUCER, explicit=False)  # the padding does not pile up
    assert abs(len(again) - len(out)) < COPY_ALIGN


def test_png_image_data_moves_by_a_multiple_of_the_copy_alignment() -> None:
    src = make_png(size=(300, 200))
    out = aigclabel.mark(src, producer=PRODUCER, explicit=False)
    assert (out.index(b"IDAT") - src.index(b"IDAT")) % COPY_ALIGN == 0
    from PIL import Image

    im = Image.open(io.BytesIO(out))
    im.load()
    assert im.tobytes() == Image.open(io.BytesIO(src)).tobytes()
    assert aigclabel.verify(out, scope="implicit").ok


@pytest.mark.parametrize("shift", [1, 7, 64, 4096 + 3])
def test_shifted_kernel_copy_is_exact(tmp_path: Path, shift: int) -> None:
    """A copy moved by any amount (the mapped path) gives the source's bytes, across window boundaries."""
    data = np.random.default_rng(shift).integers(0, 256, (5 << 20) + 12345, dtype=np.uint8).tobytes()
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    with open(path, "rb") as fh, open(tmp_path / "out.bin", "w+b") as dst:
        src = CountingReader(fh, "src", len(data))
        dst.write(b"h" * (1000 + shift))
        src.seek(1000)
        assert src.copy_to(dst) == len(data) - 1000
        dst.write(b"tail")
    got = (tmp_path / "out.bin").read_bytes()
    assert got == b"h" * (1000 + shift) + data[1000:] + b"tail"


def test_pread_sees_what_was_written_through_the_buffer(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w+b") as fh:
        fh.write(b"0123456789")
        reader = CountingReader(fh, "f", 10)
        assert reader.pread(3, 4) == b"3456" and reader.bytes_read == 4


# ------------------------------------------------------------------------------------------ the manifest guard


def test_plain_mark_needs_no_c2pa_module(tmp_path: Path) -> None:
    """Without --c2pa the guard is answered by the handler's own header walk (no byte scan, no C2PA import)."""
    src = tmp_path / "a.jpg"
    src.write_bytes(make_jpeg())
    code = ("import sys, aigclabel; aigclabel.mark_file(sys.argv[1], sys.argv[2], producer='P', explicit=False); "
            "print('aigclabel.c2pa' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "b.jpg")], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_uuid_bytes_in_image_data_are_not_a_manifest() -> None:
    """The C2PA UUID inside a comment is no manifest store (the byte scan refused such a file without the SDK)."""
    from aigclabel._c2pa_scan import C2PA_UUID

    src = make_jpeg(comment=b"x" + C2PA_UUID)
    out = aigclabel.mark(src, producer=PRODUCER, explicit=False)
    assert aigclabel.verify(out, scope="implicit").ok


def _signed(fmt: str, tmp_path: Path) -> bytes:
    pytest.importorskip("c2pa", reason="c2pa-python is not installed")
    from aigclabel import c2pa as prov
    from aigclabel.keys import init_keys

    keys = init_keys(tmp_path / "keys")
    if fmt == "jpeg":
        src = make_jpeg()
    elif fmt == "png":
        src = make_png()
    else:
        if FFMPEG is None:
            pytest.skip("ffmpeg is not installed")
        name = tmp_path / ("v.mp4" if fmt == "mp4" else "a.m4a")
        args = (["-f", "lavfi", "-i", "testsrc=size=64x48:duration=0.5:rate=10", "-pix_fmt", "yuv420p", "-c:v",
                 "libx264"] if fmt == "mp4" else ["-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac"])
        subprocess.run([FFMPEG, "-v", "error", "-y", *args, str(name)], check=True, timeout=60)
        src = name.read_bytes()
    opts = prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key)
    data = mark_file(src, producer=PRODUCER, explicit=False, c2pa=opts).data
    assert data is not None
    return data


@pytest.mark.parametrize("fmt", ["jpeg", "png", "mp4", "m4a"])
def test_signed_files_are_still_refused(fmt: str, tmp_path: Path) -> None:
    """The header walk finds the store where C2PA puts it (APP11, caBX, the top-level uuid box), so a signed
    file is refused as the byte scan refused it; the SDK says it is a manifest."""
    from aigclabel._c2pa_scan import STORE_INFO, find_manifest_store
    from aigclabel.reading import read_evidence

    data = _signed(fmt, tmp_path)
    with read_evidence(data, c2pa_mode="skip") as opened:
        at = opened.evidence.info.get(STORE_INFO)
    scanned = find_manifest_store(io.BytesIO(data))
    assert at is not None and scanned is not None and at <= scanned
    with pytest.raises(UnsupportedOperation, match="carries a C2PA manifest"):
        mark_file(data, producer=PRODUCER, explicit=False)


# ------------------------------------------------------------------------------------------ PDF


def text_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(200, 200)
    w.add_metadata({"/Title": "t"})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def pdf_pages(data: bytes) -> int | None:
    from aigclabel.reading import read_evidence

    with read_evidence(data, c2pa_mode="skip") as opened:
        pages = opened.evidence.info.get("pages")
    return pages


def test_pdf_page_count_from_the_root_bytes_matches_pypdf() -> None:
    from pypdf import PdfReader

    for n in (1, 10, 700):
        data = aigclabel.mark(text_pdf(n), producer=PRODUCER, explicit=False)
        assert aigclabel.verify(data, scope="implicit").ok
        assert pdf_pages(data) == n == len(PdfReader(io.BytesIO(data)).pages)


def test_pdf_page_count_falls_back_where_the_bytes_do_not_say() -> None:
    """A /Count after /Kids, an indirect /Count, a nested /Count in a sub-dictionary: each read right."""
    def pdf(pages_dict: bytes, extra: list[bytes]) -> bytes:
        objs = [b"<< /Type /Catalog /Pages 2 0 R >>", pages_dict,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>", *extra]
        out = bytearray(b"%PDF-1.4\n")
        offsets = []
        for i, body in enumerate(objs, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
        return bytes(out)

    cases = [
        (pdf(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", []), 1),
        (pdf(b"<< /Type /Pages /Kids [3 0 R] /Count 4 0 R >>", [b"1"]), 1),
        (pdf(b"<< /Type /Pages /X << /Count 9 >> /Kids [3 0 R] /Count 1 >>", []), 1),
        (pdf(b"<< /Type /Pages /T (/Count 9) /Kids [3 0 R] /Count 1 >>", []), 1),
        (pdf(b"<< /Type /Pages /Kids [" + b"3 0 R " * 600 + b"] /Count 1 >>", []), 1),  # past the first read
    ]
    for data, pages in cases:
        assert pdf_pages(data) == pages, data


def test_pdf_mark_parses_the_source_once(tmp_path: Path) -> None:
    """The write takes the parse the read made (a second parse was a third of a 1,000-page mark); the update
    is still a valid incremental one."""
    from aigclabel.formats import pdf as pdfmod

    calls: list[bool] = []
    real = pdfmod.open_document

    def counting(src, password=None, *, for_write=False):  # type: ignore[no-untyped-def]
        calls.append(for_write)
        return real(src, password, for_write=for_write)

    src = text_pdf(50)
    pdfmod.open_document = counting  # type: ignore[assignment]
    try:
        out = aigclabel.mark(src, producer=PRODUCER, explicit=False)
    finally:
        pdfmod.open_document = real  # type: ignore[assignment]
    assert calls == [False, False]  # the source (read, then reused for the write) and the read-back
    assert out[:len(src)] == src  # an incremental update: the original bytes are the prefix
    if QPDF is not None:
        path = tmp_path / "o.pdf"
        path.write_bytes(out)
        check = subprocess.run([QPDF, "--check", str(path)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    from pypdf import PdfReader

    assert json.loads(PdfReader(io.BytesIO(out)).metadata["/AIGC"])["ContentProducer"] == PRODUCER


def test_fast_xref_tables_equal_pypdfs_own() -> None:
    """The classic-table fast path enters what pypdf's own reader enters: the same offsets, the same answer to
    "is it free?", the same trailer - for a plain table, a twice-updated file, a generation-2 entry with CRLF
    ends, free entries, and a newer section freeing what an older one uses (pypdf's own rule then)."""
    import re

    from pypdf import PdfReader

    from aigclabel.formats.pdf import _reader_class

    def same(data: bytes) -> None:
        theirs, ours = PdfReader(io.BytesIO(data)), _reader_class()(io.BytesIO(data))
        assert theirs.xref == ours.xref
        for gen in set(theirs.xref_free_entry) | set(ours.xref_free_entry):
            a, b = theirs.xref_free_entry.get(gen, {}), ours.xref_free_entry.get(gen, {})
            assert all(a.get(n, False) == b.get(n, False) for n in set(a) | set(b)), gen

        def norm(reader: PdfReader) -> str:
            return re.sub(r", \d+\)", ")", repr(dict(reader.trailer)))
        assert norm(theirs) == norm(ours)

    plain = text_pdf(40)
    twice = aigclabel.mark(aigclabel.mark(plain, producer=PRODUCER, explicit=False), producer="P2", explicit=False)
    last = twice.rfind(b"xref\n")
    for data in (plain, twice, twice.replace(b"0000000015 00000 n \n", b"0000000015 00002 n\r\n", 1),
                 twice.replace(b" 00000 n \n", b" 00000 f \n", 2),
                 twice[:last] + twice[last:].replace(b" 00000 n", b" 00000 f", 1)):
        same(data)
    # a table pypdf has to repair (a 21-byte entry) still goes through pypdf's own reader
    bent = twice.replace(b"0000000015 00000 n \n", b"0000000015 00000 n  \n", 1)
    assert aigclabel.verify(bent, scope="implicit").verdict is not None


def test_pread_falls_back_for_a_buffer_over_no_file() -> None:
    """A caller's buffered stream over a raw stream with no descriptor is read the ordinary way."""
    class Raw(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data, self._pos = data, 0

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def seek(self, offset: int, whence: int = 0) -> int:
            self._pos = offset if whence == 0 else (self._pos + offset if whence == 1 else len(self._data) + offset)
            return self._pos

        def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
            chunk = self._data[self._pos:self._pos + len(b)]
            b[:len(chunk)] = chunk
            self._pos += len(chunk)
            return len(chunk)

    data = make_jpeg()
    out = aigclabel.mark(io.BufferedReader(Raw(data)), producer=PRODUCER, explicit=False)
    assert aigclabel.verify(out, scope="implicit").ok


# ------------------------------------------------------------------------------------- per-call costs (JM)

_OTHER_XMP = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
              b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Camera &amp; Co">'
              b'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour &lt;dawn&gt;</rdf:li></rdf:Alt></dc:title>'
              b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_mark_merges_into_the_packet_its_read_parsed(fmt: str, exiftool) -> None:  # type: ignore[no-untyped-def]
    """The existing XMP packet is parsed once per mark (the read's parse is merged into) plus once by the
    read-back of the output; the user's properties survive, as exiftool reads them."""
    from aigclabel.formats import _xmp

    src = make_jpeg(xmp=_OTHER_XMP) if fmt == "jpeg" else make_png(xmp=_OTHER_XMP)
    parses: list[bytes] = []
    real = _xmp.XmpPacket.parse.__func__  # type: ignore[attr-defined]

    def counting(cls, data, *, recover=False):  # type: ignore[no-untyped-def]
        parses.append(bytes(data) if not isinstance(data, str) else data.encode())
        return real(cls, data, recover=recover)

    _xmp.XmpPacket.parse = classmethod(counting)  # type: ignore[method-assign,assignment]
    try:
        out = aigclabel.mark(src, producer=PRODUCER, explicit=False)
    finally:
        _xmp.XmpPacket.parse = classmethod(real)  # type: ignore[method-assign,assignment]
    assert sum(b"Harbour" in p and b"TC260" not in p for p in parses) == 1  # the source's packet: once
    assert sum(b"TC260" in p for p in parses) == 1  # the output's packet: the read-back
    tags = exiftool(out)
    assert json.loads(tags["XMP-TC260:Aigc"])["ContentProducer"] == PRODUCER
    assert tags["XMP-dc:Title"] == "Harbour <dawn>"
    assert tags["XMP-xmp:CreatorTool"] == "Camera & Co"


def test_new_packet_from_the_template_equals_the_models_own() -> None:
    """A file without XMP gets its packet from a template; it must be byte-for-byte what the packet model
    writes, escaping and non-ASCII text included, and refuse what the model refuses."""
    from aigclabel.errors import LabelError
    from aigclabel.formats import _image_meta, _xmp
    from aigclabel.formats.base import ImplicitLabel

    def model(label: ImplicitLabel) -> bytes:
        packet = _xmp.XmpPacket.new()
        packet.set(_xmp.TC260_NS, _xmp.TC260_PREFIX, "AIGC", label.record_json)
        if label.digital_source_type:
            packet.set(_xmp.IPTC_EXT_NS, _xmp.IPTC_EXT_PREFIX, "DigitalSourceType", label.digital_source_type)
        return packet.serialize()

    for record in ('{"Label":"1"}', '{"a":"<&>\r\n]]>"}', '{"ServiceProvider":"某某公司"}', " ", ""):
        for source_type in (None, "", _xmp.DST_TRAINED, "http://x/?a=1&b=<2>"):
            label = ImplicitLabel(record, source_type)
            assert _image_meta.build_xmp(None, label) == model(label), (record, source_type)
    for bad in (ImplicitLabel("a\x01", None), ImplicitLabel("{}", "x\x02")):
        with pytest.raises(LabelError):
            _image_meta.build_xmp(None, bad)


def test_profile_cache_reloads_an_edited_profile_and_parent(tmp_path: Path) -> None:
    """Profiles are parsed once per path and modification time: an edit of the file, or of the profile it
    extends, is seen by the next load."""
    import os

    from aigclabel.profiles import load_profile

    parent, child = tmp_path / "parent.toml", tmp_path / "child.toml"
    parent.write_text('id = "parent"\nextends = "cn-gb45438-2025"\n[marking]\nimage_text = "AI生成 一"\n',
                      encoding="utf-8")
    child.write_text('id = "child"\nextends = "parent.toml"\n', encoding="utf-8")
    first = load_profile(child)
    assert first.marking.image_text == "AI生成 一"
    assert load_profile(child) is first  # cached
    parent.write_text('id = "parent"\nextends = "cn-gb45438-2025"\n[marking]\nimage_text = "AI生成 二"\n',
                      encoding="utf-8")
    stat = parent.stat()
    os.utime(parent, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a coarse clock still differs
    assert load_profile(child).marking.image_text == "AI生成 二"
    child.write_text('id = "child2"\nextends = "parent.toml"\n', encoding="utf-8")
    os.utime(child, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert load_profile(child).id == "child2"


def _os_bytes_read() -> int:
    with open("/proc/self/io", encoding="ascii") as fh:  # rchar: what read() and pread() returned to this process
        return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))


def _text_chunk(key: str, value: str) -> bytes:
    import zlib

    body = b"tEXt" + key.encode("latin-1") + b"\x00" + value.encode("latin-1")
    return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))


def _with_late_text(png: bytes, key: str, value: str, trailer: bytes = b"") -> bytes:
    """*png* with a tEXt chunk after the image data (before IEND), and *trailer* after IEND."""
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + _text_chunk(key, value) + png[iend:] + trailer


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_png_verify_counts_the_bytes_the_os_read(tmp_path: Path) -> None:
    """PNG verify reads chunk headers and metadata chunks with positional reads of exactly what it parses, so
    ``bytes_read`` is what the OS delivered; the only read it does not see is the format detection's buffered
    first block (one buffer, outside the PNG reader).  A buffered read of a small chunk after the image data
    fetched a whole buffer from the OS and counted only the chunk."""
    src = _with_late_text(make_png(size=(400, 300), text=[("Comment", "x" * 3000)], compress_level=0),
                          "Late", "a small chunk after IDAT", b"\x00" * 20000)
    path = tmp_path / "a.png"
    path.write_bytes(aigclabel.mark(src, producer=PRODUCER, explicit=False))
    aigclabel.verify(path, scope="implicit")  # imports and profile load outside the measurement
    before = _os_bytes_read()
    report = aigclabel.verify(path, scope="implicit")
    delivered = _os_bytes_read() - before - 200  # the /proc/self/io read itself (~100 bytes each)
    assert report.ok
    assert report.bytes_read is not None
    assert report.bytes_read >= 3000  # the text chunks and the XMP chunk were read whole
    assert delivered - 4096 - 100 <= report.bytes_read <= delivered + 200
    assert report.bytes_read < path.stat().st_size // 20  # the image data was not read


def test_png_read_back_checks_the_planned_layout(tmp_path: Path) -> None:
    """The read-back of a marked PNG checks the layout it wrote (headers up to the first IDAT and IEND) instead
    of walking every IDAT again; chunks after IDAT and a trailer still come out right (Pillow, exiftool-free)."""
    from PIL import Image

    from aigclabel.formats.png import walk_chunks

    # a text chunk after the image data, as some writers put it, and a trailer
    src = _with_late_text(make_png(size=(300, 300), compress_level=0, text=[("Comment", "before")]), "Late", "late",
                          b"TRAILER")
    out = aigclabel.mark(src, producer=PRODUCER, explicit=False)
    assert out.endswith(b"TRAILER")
    with aigclabel._io.open_source(out) as reader:
        types = [c.type for c in walk_chunks(reader)]
    assert types.count(b"tEXt") == 2 and types[-1] == b"IEND"
    im = Image.open(io.BytesIO(out))
    im.load()
    assert im.text.get("Late") == "late"
    assert aigclabel.verify(out, scope="implicit").ok
