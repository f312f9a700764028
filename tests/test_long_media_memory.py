"""Long media in bounded memory (issue 15, item 4): the audible label on a 10-minute WAV or FLAC streams.

Each file is made by ffmpeg; ``aigclabel.mark`` (the audible label and the record) runs in a child process whose
peak resident size (``VmHWM``) is read at the end.  Held in memory, the 10-minute stereo FLAC peaked at 387 MB
(decoded samples, the spliced copy, the encoded result); streamed it stays under 100 MB here, so the bound of 200 MB
fails if the insertion goes back to holding the samples.  The result is checked with independent readers: mutagen
for the sample counts, ffmpeg's decoder for the audio (every original sample bit-exact after the prompt: the MD5 of
the decoded stream), exiftool for the record.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

mutagen = pytest.importorskip("mutagen")
pytest.importorskip("av")

FFMPEG = shutil.which("ffmpeg")
EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(FFMPEG is None or EXIFTOOL is None,
                                reason="ffmpeg and exiftool are needed (apt-get install ffmpeg libimage-exiftool-perl)")
PRODUCER = "001191110102MACQD9K64010000"
MINUTES = 10
BOUND_MB = 200.0

_CHILD = textwrap.dedent("""
    import json, sys
    import aigclabel
    aigclabel.mark(sys.argv[1], sys.argv[2], producer=%r, explicit=True)
    with open("/proc/self/status") as fh:  # VmHWM: ru_maxrss would carry the forking pytest's peak over exec
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print(json.dumps({"rss_mb": hwm / 1024}))
""") % PRODUCER


def _ffmpeg(*args: str) -> str:
    assert FFMPEG is not None
    return subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True, capture_output=True, text=True,
                          timeout=300).stdout


def _decoded_md5(path: Path, skip_samples: int = 0) -> str:
    trim = ["-af", f"atrim=start_sample={skip_samples}"] if skip_samples else []
    return _ffmpeg("-i", str(path), *trim, "-f", "md5", "-").strip()


def _samples(path: Path) -> int:
    audio = mutagen.File(str(path))
    info = audio.info
    total = getattr(info, "total_samples", None)
    return int(total) if total is not None else round(info.length * info.sample_rate)


@pytest.mark.parametrize("suffix, codec", [(".flac", "flac"), (".wav", "pcm_s16le")])
def test_audible_label_on_ten_minutes_streams(tmp_path: Path, suffix: str, codec: str) -> None:
    src = tmp_path / f"long{suffix}"
    # two tones on two channels (not one copied): a stereo stream the encoder cannot fold to one
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={MINUTES * 60}:sample_rate=44100",
            "-f", "lavfi", "-i", f"sine=frequency=660:duration={MINUTES * 60}:sample_rate=44100",
            "-filter_complex", "[0:a][1:a]join=inputs=2:channel_layout=stereo", "-c:a", codec, str(src))
    out = tmp_path / f"marked{suffix}"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = json.loads(done.stdout.strip().splitlines()[-1])["rss_mb"]
    assert peak < BOUND_MB, f"marking {MINUTES} minutes of {suffix} peaked at {peak:.0f} MB"

    inserted = _samples(out) - _samples(src)
    assert 0.5 * 44100 < inserted < 10 * 44100  # the prompt (and its pauses), seconds long
    # the prompt goes first (the default position): every original sample follows it unchanged
    assert _decoded_md5(out, inserted) == _decoded_md5(src)
    assert EXIFTOOL is not None
    tags = json.loads(subprocess.run([EXIFTOOL, "-j", "-u", "-b", str(out)], capture_output=True, text=True,
                                     check=True, timeout=60).stdout)[0]
    # FLAC: the Vorbis comment Aigc; WAV: the RIFF chunk exiftool lists as Unknown_AIGC (its body, maybe base64)
    record = next(v for k, v in tags.items() if k.lower() in ("aigc", "unknown_aigc"))
    if record.startswith("base64:"):
        record = base64.b64decode(record[7:]).decode()
    assert json.loads(record.rstrip("\x00"))["ContentProducer"] == PRODUCER


_DETECT_CHILD = textwrap.dedent("""
    import json, sys
    import aigclabel
    got = aigclabel.inspect(sys.argv[1], watermark=True).watermark
    with open("/proc/self/status") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    print(json.dumps({"rss_mb": hwm / 1024, "watermark": got}))
""")


def test_watermark_detection_on_ten_minutes_is_bounded(tmp_path: Path) -> None:
    """Detection folds the stream onto one 6.4 s period and correlates it one symbol at a time: 10 minutes of
    stereo FLAC are read under the same bound (the (64 x period) correlation tables alone were ~170 MB)."""
    pytest.importorskip("numpy")
    src = tmp_path / "long.flac"
    _ffmpeg("-f", "lavfi", "-i", f"anoisesrc=duration={MINUTES * 60}:sample_rate=48000:amplitude=0.2",
            "-ac", "2", "-c:a", "flac", str(src))
    done = subprocess.run([sys.executable, "-c", _DETECT_CHILD, str(src)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["watermark"]["status"] == "not-found"
    assert result["rss_mb"] < BOUND_MB, f"detection peaked at {result['rss_mb']:.0f} MB"
