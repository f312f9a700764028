"""FLAC with an ID3v2 tag in front of ``fLaC`` (what the C2PA SDK writes): detected, read, marked.

The FLAC files are made by ffmpeg, the ID3 tags by mutagen; ffprobe must still decode the result,
and the ID3 prefix must come out byte for byte.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import aigclabel
from aigclabel._io import CountingReader
from aigclabel.errors import CorruptFile, UnsupportedOperation
from aigclabel.formats import detect, handler_for
from aigclabel.formats.flac import FlacHandler
from aigclabel.formats.mp3 import Mp3Handler
from aigclabel.report import Verdict

from conftest import PRODUCER

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(FFMPEG is None or FFPROBE is None,
                                reason="ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg)")


def reader(data: bytes) -> CountingReader:
    return CountingReader(io.BytesIO(data), "<mem>", len(data))


def run(*args: str) -> bytes:
    proc = subprocess.run(list(args), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def flac(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("flac_id3") / "a.flac"
    run(FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-c:a", "flac",
        "-metadata", "title=Harbour at dusk", str(out))
    return out.read_bytes()


def id3_tag(*frames, footer: bool = False) -> bytes:
    """A real ID3v2.4 tag rendered by mutagen (no padding), optionally with a footer."""
    from mutagen.id3 import ID3

    tag = ID3()
    for frame in frames:
        tag.add(frame)
    buf = io.BytesIO()
    tag.save(buf, padding=lambda info: 0)
    data = buf.getvalue()
    if footer:  # same size field, flags bit 4 set; the footer repeats the header as "3DI"
        header = data[:5] + bytes([data[5] | 0x10]) + data[6:10]
        data = header + data[10:] + b"3DI" + header[3:]
    return data


def title(text: str):
    from mutagen.id3 import TIT2

    return TIT2(encoding=3, text=text)


def record(produce_id: str) -> str:
    return aigclabel.AigcRecord(label="1", content_producer=PRODUCER, produce_id=produce_id).to_json()


def probe(tmp_path: Path, data: bytes) -> dict:
    path = tmp_path / "probe.flac"
    path.write_bytes(data)
    return json.loads(run(FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)))


def pcm(tmp_path: Path, data: bytes) -> bytes:
    path = tmp_path / "pcm.flac"
    path.write_bytes(data)
    return run(FFMPEG, "-v", "error", "-i", str(path), "-f", "s16le", "-")


SHORT = {"short tag": lambda: id3_tag(title("T")),  # fLaC within the first 64 bytes
         "long tag": lambda: id3_tag(title("x" * 300)),  # the MP3 handler refines to FLAC
         "footer": lambda: id3_tag(title("T"), footer=True)}


@pytest.mark.parametrize("kind", list(SHORT))
def test_id3_prefixed_flac_is_marked_and_the_prefix_kept(kind: str, flac: bytes, tmp_path: Path) -> None:
    prefix = SHORT[kind]()
    src = prefix + flac
    if kind != "long tag":
        assert detect(src[:64]) is FlacHandler
    else:
        assert detect(src[:64]) is Mp3Handler  # 64 bytes cannot tell; refine() does
    assert type(handler_for(reader(src))) is FlacHandler
    assert aigclabel.inspect(src).format == "flac"
    assert aigclabel.verify(src, scope="implicit").verdict is Verdict.NONCOMPLIANT

    out = aigclabel.mark(src, producer=PRODUCER, produce_id=f"flac-id3-{kind.replace(' ', '-')}", explicit=False)
    assert out[:len(prefix)] == prefix and out[len(prefix):len(prefix) + 4] == b"fLaC"
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    (lab,) = report.labels
    assert lab.raw == record(f"flac-id3-{kind.replace(' ', '-')}") and lab.normative and lab.carrier == "vorbiscomment:AIGC"

    # ffmpeg still decodes it (it skips the ID3 tag), to the same audio, and sees the record
    info = probe(tmp_path, out)
    assert info["format"]["format_name"] == "flac" and info["streams"][0]["codec_name"] == "flac"
    assert info["format"]["tags"]["AIGC"] == lab.raw
    assert pcm(tmp_path, out) == pcm(tmp_path, flac)

    # marking again replaces the record, the prefix still untouched
    again = aigclabel.mark(out, producer=PRODUCER, produce_id="second", explicit=False)
    assert again[:len(prefix)] == prefix
    assert [lab.raw for lab in aigclabel.verify(again, scope="implicit").labels] == [record("second")]


def test_a_record_in_the_id3_prefix_is_not_normative(flac: bytes) -> None:
    from mutagen.id3 import TXXX

    old = record("in-id3")
    prefix = id3_tag(TXXX(encoding=3, desc="AIGC", text=[old]))
    src = prefix + flac
    (lab,) = aigclabel.inspect(src).labels
    assert lab.raw == old and not lab.normative and lab.carrier == "id3:TXXX:AIGC"
    # the prefix is kept byte for byte, so its old record could not be replaced: marking refuses
    with pytest.raises(UnsupportedOperation, match="ID3v2 tag in front"):
        aigclabel.mark(src, producer=PRODUCER, produce_id="new", explicit=False)


def test_bad_prefixes(flac: bytes) -> None:
    prefix = id3_tag(title("T"))
    truncated = prefix[:6] + bytes([0, 0, 0x7F, 0x7F]) + prefix[10:] + flac[:100]
    with pytest.raises(CorruptFile):
        aigclabel.inspect(truncated)
    # an ID3 tag followed by neither fLaC nor MPEG audio stays the MP3 handler's business
    assert type(handler_for(reader(id3_tag(title("x" * 300)) + b"junk" * 50))) is Mp3Handler
