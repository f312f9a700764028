"""``mark --watermark`` on compressed audio (issue 17, item 3): FLAC re-encoded losslessly, MP3 once with LAME,
Ogg Vorbis/Opus once.

Every source is made by ffmpeg with tags; the results are read back with independent readers: mutagen for the
tags and the record, ffmpeg's decoder for the samples (a clean decode, the length, the SNR of the mark), ffprobe
for the stream parameters, ffmpeg's LAME for a further 128k re-encode the mark must survive.  M4A is refused
with one line naming the format.  A ten-minute FLAC is marked in a child process whose peak resident
size (``VmHWM``) must stay under 200 MB: the FLAC is marked in stretches, never held as samples.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
mutagen = pytest.importorskip("mutagen")
pytest.importorskip("av")

import aigclabel  # noqa: E402
from aigclabel import watermark  # noqa: E402
from aigclabel.errors import UnsupportedOperation  # noqa: E402

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="needs ffmpeg and ffprobe")
PRODUCER = "001191110102MACQD9K64010000"
RATE = 44100


def _ffmpeg(*args: str) -> bytes:
    assert FFMPEG is not None
    done = subprocess.run([FFMPEG, "-v", "error", "-y", *args], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout


def _host(seconds: float, *inputs: str) -> list[str]:
    """ffmpeg input arguments (*inputs* after ours): a stereo host, a tone on the left and pink noise on the right."""
    return ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate={RATE}",
            "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:r={RATE}:a=0.1", *inputs,
            "-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo[a]", "-map", "[a]"]


def _pcm(path: Path) -> np.ndarray:
    """Frames x 2 float samples decoded by ffmpeg (s32: a 24-bit stream keeps every bit); stderr must stay empty."""
    assert FFMPEG is not None
    done = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-f", "s32le", "-ac", "2", "-"], capture_output=True,
                          timeout=120)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode(errors="replace")
    return np.frombuffer(done.stdout, "<i4").reshape(-1, 2).astype(np.float64) / 2.0 ** 31


def _probe(path: Path) -> dict:
    assert FFPROBE is not None
    out = subprocess.run([FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)


def _watermark_finding(path: Path) -> aigclabel.Finding:
    report = aigclabel.verify(str(path), profile="eu-ai-act-art50", scope="implicit")
    (f,) = [f for f in report.findings if f.rule == "implicit.watermark"]
    return f


def _mark(src: Path, out: Path, produce_id: str) -> aigclabel.MarkResult:
    return aigclabel.mark(str(src), str(out), producer=PRODUCER, produce_id=produce_id, explicit=False,
                          watermark=True)


def _cover(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "cover.png"
    Image.new("RGB", (32, 32), (200, 40, 40)).save(path)
    return path


def _id3_tag(tmp_path: Path) -> bytes:
    """An ID3v2 tag as mutagen writes it (some taggers put one in front of ``fLaC``)."""
    from mutagen.id3 import ID3, TIT2

    path = tmp_path / "tag.id3"
    path.write_bytes(b"")
    tag = ID3()
    tag.add(TIT2(encoding=3, text="id3 title"))
    tag.save(str(path))
    return path.read_bytes()


@pytest.mark.parametrize("bits, id3", [(16, False), (24, False), (16, True)])
def test_flac_marked_losslessly_keeps_tags_and_length(tmp_path: Path, bits: int, id3: bool) -> None:
    src = tmp_path / f"src{bits}.flac"
    fmt = "s16" if bits == 16 else "s32"
    _ffmpeg(*_host(14, "-i", str(_cover(tmp_path))), "-map", "2:v", "-c:v", "copy", "-disposition:v", "attached_pic",
            "-c:a", "flac", "-sample_fmt", fmt, "-metadata", "artist=Test Artist", "-metadata", "title=Voice 1",
            str(src))
    prefix = _id3_tag(tmp_path) if id3 else b""
    if id3:
        src.write_bytes(prefix + src.read_bytes())
    before = mutagen.File(str(src))
    assert before.pictures and before.info.bits_per_sample == bits  # the source really has what we keep
    out = tmp_path / f"marked{bits}.flac"
    result = _mark(src, out, f"flac-{bits}")
    assert any("re-encoded losslessly" in n for n in result.notes)

    after = mutagen.File(str(out))
    assert after.tags["artist"] == ["Test Artist"] and after.tags["title"] == ["Voice 1"]
    assert [p.data for p in after.pictures] == [p.data for p in before.pictures]
    assert f"flac-{bits}" in after.tags["aigc"][0]  # the metadata step wrote the record after the watermark step
    assert after.info.bits_per_sample == bits and after.info.sample_rate == RATE and after.info.channels == 2
    assert after.info.total_samples == before.info.total_samples
    assert out.read_bytes()[:len(prefix)] == prefix  # the ID3v2 tag in front, byte for byte

    a, b = _pcm(src), _pcm(out)
    assert a.shape == b.shape
    snr = 10 * np.log10((a ** 2).sum() / ((b - a) ** 2).sum())
    assert snr >= 30, snr
    if bits == 24:  # the mark is written at full 24-bit resolution, not rounded to 16 bits
        ints = np.round(b * 2.0 ** 31).astype(np.int64)
        assert not np.any(ints % 256) and np.any(ints % 65536)

    f = _watermark_finding(out)
    assert f.level is aigclabel.Level.PASS and "matches the record" in f.message
    assert f.data["payload"] == watermark.payload_for((PRODUCER, f"flac-{bits}"))
    g = _watermark_finding(src)
    assert g.level is not aigclabel.Level.PASS and "no watermark found" in g.message


def test_mp3_marked_once_keeps_tags_and_survives_a_128k_reencode(tmp_path: Path) -> None:
    src = tmp_path / "src.mp3"
    _ffmpeg(*_host(14), "-c:a", "libmp3lame", "-b:a", "128k", "-metadata", "artist=Test Artist",
            "-metadata", "comment=kept", "-write_id3v1", "1", str(src))
    raw = src.read_bytes()
    out = tmp_path / "marked.mp3"
    result = _mark(src, out, "mp3-1")
    assert any("one lossy generation" in n and "128 kbit/s CBR" in n for n in result.notes)
    new = out.read_bytes()
    assert new[-128:] == raw[-128:] and new[-128:-125] == b"TAG"  # the ID3v1 trailer, byte for byte

    tags = mutagen.File(str(out)).tags
    assert str(tags["TPE1"]) == "Test Artist"
    assert "mp3-1" in str(tags["TXXX:AIGC"])
    (stream,) = _probe(out)["streams"]
    (orig,) = _probe(src)["streams"]
    assert stream["codec_name"] == "mp3" and stream["sample_rate"] == str(RATE) and stream["channels"] == 2
    assert stream["bit_rate"] == "128000"
    assert abs(float(stream["duration"]) - float(orig["duration"])) < 0.03  # the gapless length kept
    a, b = _pcm(src), _pcm(out)
    assert abs(len(a) - len(b)) <= 1152

    ident = watermark.payload_for((PRODUCER, "mp3-1"))
    f = _watermark_finding(out)
    assert f.level is aigclabel.Level.PASS and f.data["payload"] == ident and "matches the record" in f.message
    again = tmp_path / "again.mp3"
    _ffmpeg("-i", str(out), "-c:a", "libmp3lame", "-b:a", "128k", str(again))
    g = _watermark_finding(again)
    assert g.level is aigclabel.Level.PASS and g.data["payload"] == ident
    h = _watermark_finding(src)  # the unmarked source through the same encoder
    assert h.level is aigclabel.Level.ERROR and "no watermark found" in h.message


def test_flac_of_undeclared_length_is_marked(tmp_path: Path) -> None:
    # written to a pipe, the encoder cannot go back to fill in STREAMINFO's total: 0 ("unknown")
    src = tmp_path / "piped.flac"
    src.write_bytes(_ffmpeg(*_host(12), "-c:a", "flac", "-f", "flac", "pipe:1"))
    assert mutagen.File(str(src)).info.total_samples == 0
    out = tmp_path / "marked.flac"
    _mark(src, out, "piped")
    assert mutagen.File(str(out)).info.total_samples == len(_pcm(src)) == 12 * RATE
    f = _watermark_finding(out)
    assert f.level is aigclabel.Level.PASS and f.data["payload"] == watermark.payload_for((PRODUCER, "piped"))


def test_truncated_mp3_and_flac_give_a_typed_error(tmp_path: Path) -> None:
    for suffix, codec in ((".mp3", "libmp3lame"), (".flac", "flac")):
        src = tmp_path / f"src{suffix}"
        _ffmpeg(*_host(12), "-c:a", codec, str(src))
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(src.read_bytes()[:2000])
        with pytest.raises(aigclabel.AigcLabelError):
            _mark(cut, tmp_path / f"out{suffix}", "cut")


def test_vbr_mp3_is_marked_at_its_average_bitrate(tmp_path: Path) -> None:
    src = tmp_path / "vbr.mp3"
    _ffmpeg(*_host(12), "-c:a", "libmp3lame", "-q:a", "4", "-metadata", "artist=Test Artist", str(src))
    out = tmp_path / "marked.mp3"
    result = _mark(src, out, "vbr-1")
    assert any("nearest the VBR source's average" in n for n in result.notes)
    assert str(mutagen.File(str(out)).tags["TPE1"]) == "Test Artist"
    f = _watermark_finding(out)
    assert f.level is aigclabel.Level.PASS and f.data["payload"] == watermark.payload_for((PRODUCER, "vbr-1"))


@pytest.mark.parametrize("suffix, codec, label", [(".opus", "libopus", "Opus"), (".ogg", "libvorbis", "Vorbis")])
def test_ogg_marked_once_keeps_its_comment(tmp_path: Path, suffix: str, codec: str, label: str) -> None:
    src = tmp_path / f"src{suffix}"
    _ffmpeg(*_host(12), "-c:a", codec, "-b:a", "128k", "-metadata", "artist=Test Artist", str(src))
    out = tmp_path / f"marked{suffix}"
    result = _mark(src, out, f"ogg-{codec}")
    assert any(f"the {label} audio was decoded, marked" in n and "one lossy generation" in n for n in result.notes)
    tags = mutagen.File(str(out)).tags
    assert tags["artist"] == ["Test Artist"] and f"ogg-{codec}" in tags["aigc"][0]
    (stream,) = _probe(out)["streams"]
    assert stream["codec_name"] == ("opus" if codec == "libopus" else "vorbis") and stream["channels"] == 2
    assert abs(len(_pcm(out)) - len(_pcm(src))) < 0.05 * len(_pcm(src))
    f = _watermark_finding(out)
    assert f.level is aigclabel.Level.PASS and f.data["payload"] == watermark.payload_for((PRODUCER, f"ogg-{codec}"))


def test_m4a_is_refused_naming_the_format(tmp_path: Path) -> None:
    src = tmp_path / "src.m4a"
    _ffmpeg(*_host(12), "-c:a", "aac", "-b:a", "128k", str(src))
    with pytest.raises(UnsupportedOperation) as err:
        _mark(src, tmp_path / "out.m4a", "refused")
    message = str(err.value)
    assert "\n" not in message and "not into M4A (aac)" in message and "FLAC, MP3 and Ogg" in message
    assert not (tmp_path / "out.m4a").exists()


_CHILD = textwrap.dedent("""
    import json, sys
    import aigclabel
    aigclabel.mark(sys.argv[1], sys.argv[2], producer=%r, produce_id="long-1", explicit=False, watermark=True)
    with open("/proc/self/status") as fh:  # VmHWM: ru_maxrss would carry the forking pytest's peak over exec
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print(json.dumps({"rss_mb": hwm / 1024}))
""") % PRODUCER


def test_ten_minute_flac_is_marked_in_bounded_memory(tmp_path: Path) -> None:
    src = tmp_path / "long.flac"
    _ffmpeg(*_host(600), "-c:a", "flac", str(src))
    out = tmp_path / "marked.flac"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = json.loads(done.stdout.strip().splitlines()[-1])["rss_mb"]
    assert peak < 200.0, f"watermarking 10 minutes of FLAC peaked at {peak:.0f} MB"
    assert mutagen.File(str(out)).info.total_samples == mutagen.File(str(src)).info.total_samples
    f = _watermark_finding(out)
    assert f.level is aigclabel.Level.PASS and f.data["payload"] == watermark.payload_for((PRODUCER, "long-1"))
