"""Broken audio files: truncations, byte flips and overwrites of small real files (one per format,
carrying records in several places) raise only aigclabel errors -- never IndexError, struct.error,
a raw mutagen exception or a hang -- and marking never produces a file that fails its own read-back.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import aigclabel

from conftest import PRODUCER, record_json

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (apt-get install ffmpeg)")

CODECS = {"mp3": ("libmp3lame", ".mp3"), "wav": ("pcm_s16le", ".wav"), "flac": ("flac", ".flac"),
          "ogg": ("libvorbis", ".ogg"), "opus": ("libopus", ".opus"), "aiff": ("pcm_s16be", ".aiff")}


def _encode(tmp: Path, fmt: str) -> bytes:
    codec, suffix = CODECS[fmt]
    out = tmp / f"base{suffix}"
    extra = ["-write_id3v2", "1"] if fmt == "aiff" else []
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=0.1", "-c:a", codec, *extra,
                    "-metadata", "title=T", "-metadata", f"AIGC={record_json('old')}", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def _riff_chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("audiofuzz")
    out = {fmt: _encode(tmp, fmt) for fmt in CODECS}
    # WAV: records in the three places a reader looks
    wav = out["wav"]
    data_at = wav.index(b"data")
    info = b"INFO" + _riff_chunk(b"AIGC", record_json("info").encode())
    extra = _riff_chunk(b"AIGC", record_json("chunk").encode()) + _riff_chunk(b"LIST", info)
    from mutagen.id3 import ID3, TXXX

    tag = ID3()
    tag.add(TXXX(encoding=3, desc="AIGC", text=[record_json("id3")]))
    buf = io.BytesIO()
    tag.save(buf, padding=lambda info: 0)
    extra += _riff_chunk(b"id3 ", buf.getvalue())
    wav = wav[:data_at] + extra + wav[data_at:]
    out["wav"] = wav[:4] + struct.pack("<I", len(wav) - 8) + wav[8:]
    return out


FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("fmt", list(CODECS))
def test_bases_are_valid_and_carry_records(fmt, bases):
    labels = aigclabel.inspect(bases[fmt]).labels
    assert len(labels) == (3 if fmt == "wav" else 1)
    marked = aigclabel.mark(bases[fmt], producer=PRODUCER, produce_id="fuzz", explicit=False)
    assert [lab.raw for lab in aigclabel.inspect(marked).labels] == [record_json("fuzz")]


