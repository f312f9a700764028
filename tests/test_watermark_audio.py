"""The invisible audio watermark (aigclabel.watermark, audio layer): WAV round trip, an ffmpeg MP3 128k
re-encode, a cut of the first seconds, the rule on audio, ``mark --watermark`` on a WAV, review tier 3.

Independent readers: Python's own ``wave`` module reads the samples back, ffmpeg re-encodes and cuts,
exiftool reads the record the metadata step wrote after the watermark step.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")

import aigclabel  # noqa: E402
from aigclabel import watermark  # noqa: E402
from aigclabel.platform import PlatformConfig, review  # noqa: E402

PRODUCER = "001191110102MACQD9K64010000"
FFMPEG = shutil.which("ffmpeg")
RATE = 44100


def voice(seconds: float = 12.0, rate: int = RATE, seed: int = 4) -> np.ndarray:
    """A speech-like mono signal: a gliding harmonic voice in syllables, with pauses of digital silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    f0 = 130 + 25 * np.sin(2 * np.pi * 0.6 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 25))
    syllables = rng.random(int(seconds * 4) + 1)[(t * 4).astype(int)] > 0.3
    env = np.clip(np.sin(2 * np.pi * 2 * t), 0, 1) ** 2 * syllables
    return 0.4 * x * env / np.abs(x).max()


def tones(seed: int, seconds: float = 12.0, rate: int = 48000) -> np.ndarray:
    """One to three steady sines between 200 Hz and 3 kHz (the bench's "tones" family)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(200, 3000, size=rng.integers(1, 4)))
    return 0.4 * x / np.abs(x).max()


def write_wav(path: Path, frames: np.ndarray, rate: int = RATE) -> None:
    """A plain 16-bit PCM WAV (the stdlib writer: no metadata of any kind)."""
    frames = frames[:, None] if frames.ndim == 1 else frames
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(frames x channels float, rate), read by the stdlib ``wave`` module."""
    with wave.open(str(path), "rb") as w:
        raw = w.readframes(w.getnframes())
        return np.frombuffer(raw, "<i2").reshape(-1, w.getnchannels()) / 32768.0, w.getframerate()


def _findings(path: Path, profile: str = "eu-ai-act-art50") -> list:
    report = aigclabel.verify(str(path), profile=profile, scope="implicit")
    return [f for f in report.findings if f.rule == "implicit.watermark"]


def test_samples_round_trip_snr_and_refusals() -> None:
    x = np.stack([voice(), 0.7 * voice(seed=5)], axis=1)
    ident = watermark.payload_for(("P1", "a-1"))
    marked = watermark.embed(x, ident, rate=RATE)
    assert marked.shape == x.shape
    snr = 10 * np.log10((x ** 2).sum() / ((marked - x) ** 2).sum())
    assert snr >= 30
    found = watermark.detect(marked, rate=RATE)
    assert found.found and found.payload == ident
    assert not watermark.detect(x, rate=RATE).found
    # too short, and a rate off the symbol grid: a clear refusal, not a silent weak mark
    with pytest.raises(aigclabel.errors.UnsupportedOperation, match=r"too short .* at least 10 s"):
        watermark.embed(voice(8.0), ident, rate=RATE)
    with pytest.raises(aigclabel.errors.UnsupportedOperation, match="multiple of 10 Hz"):
        watermark.embed(voice(12.0, 11025), ident, rate=11025)


def test_wav_file_round_trip_keeps_every_other_byte(tmp_path: Path) -> None:
    from aigclabel._io import CountingReader
    from aigclabel.formats import handler_for

    src = tmp_path / "in.wav"
    write_wav(src, np.stack([voice(), voice(seed=6)], axis=1))
    src.write_bytes(src.read_bytes() + b"LIST\x04\x00\x00\x00INFO")  # a chunk after the samples
    before = src.read_bytes()
    ident = watermark.payload_for((PRODUCER, "w-1"))
    with open(src, "rb") as fh:
        reader = CountingReader(fh, "in.wav", len(before))
        after = watermark.embed_file(handler_for(reader), reader, ident).data
    start = before.index(b"data") + 8
    end = start + int.from_bytes(before[start - 4:start], "little")
    # the watermark step changes sample values only: header, chunks and sizes are the original's bytes
    assert len(after) == len(before) and after[:start] == before[:start] and after[end:] == before[end:]
    assert after[start:end] != before[start:end]
    (tmp_path / "marked.wav").write_bytes(after)
    marked, rate = read_wav(tmp_path / "marked.wav")  # the stdlib reader: the samples as any player sees them
    assert rate == RATE and marked.shape == read_wav(src)[0].shape
    got = watermark.detect(marked.mean(axis=1), rate=rate)
    assert got.found and got.payload == ident
    # through mark: the metadata step writes the record after the watermark step, and the rule matches it
    out = tmp_path / "out.wav"
    aigclabel.mark_file(str(src), str(out), producer=PRODUCER, produce_id="w-1", explicit=False, watermark=True)
    (f,) = _findings(out)
    assert f.level is aigclabel.Level.PASS and "matches the record" in f.message


@pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg")
def test_survives_mp3_128k_and_a_cut_of_the_first_seconds(tmp_path: Path) -> None:
    ident = watermark.payload_for((PRODUCER, "m-1"))
    wav = tmp_path / "marked.wav"
    write_wav(wav, watermark.embed(voice(14.0), ident, rate=RATE))
    mp3 = tmp_path / "marked.mp3"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", str(mp3)],
                   check=True, timeout=60)
    (f,) = _findings(mp3)
    assert f.level is aigclabel.Level.PASS and "watermark found" in f.message
    assert f.data["payload"] == ident and "no record in the file" in f.message
    cut = tmp_path / "cut.wav"
    subprocess.run([FFMPEG, "-v", "error", "-ss", "1.3", "-i", str(wav), "-c:a", "pcm_s16le", str(cut)],
                   check=True, timeout=60)
    (g,) = _findings(cut)
    assert g.level is aigclabel.Level.PASS and g.data["payload"] == ident
    # the unmarked voice through the same encoder: "no watermark found", never "not AI-generated"
    plain = tmp_path / "plain.wav"
    write_wav(plain, voice(14.0))
    plain_mp3 = tmp_path / "plain.mp3"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(plain), "-c:a", "libmp3lame", "-b:a", "128k",
                    str(plain_mp3)], check=True, timeout=60)
    (h,) = _findings(plain_mp3)
    assert h.level is aigclabel.Level.ERROR and "no watermark found" in h.message
    assert "not AI-generated" not in h.message


def test_rule_on_short_audio_and_chinese_profile(tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    write_wav(short, voice(4.0))
    (f,) = _findings(short)
    assert f.level is aigclabel.Level.NOT_CHECKED and "too short" in f.message
    (g,) = _findings(short, "cn-gb45438-2025")  # the default profile does not pay for a decode
    assert g.level is aigclabel.Level.NOT_CHECKED and "detect = false" in g.message


def test_mark_cli_watermark_on_a_wav(tmp_path: Path) -> None:
    src = tmp_path / "voice.wav"
    write_wav(src, voice(11.0))
    out = tmp_path / "out.wav"
    run = subprocess.run(["aigclabel", "mark", str(src), "-o", str(out), "--producer", PRODUCER, "--produce-id",
                          "cli-1", "--watermark", "--no-explicit"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "invisible watermark embedded" in run.stdout and "rewritten in place" in run.stdout
    exif = subprocess.run(["exiftool", "-a", "-u", "-b", "-RIFF:all", str(out)], capture_output=True, text=True)
    assert "cli-1" in exif.stdout  # the metadata step still wrote the record after the watermark step
    marked, rate = read_wav(out)
    assert watermark.detect(marked.mean(axis=1), rate=rate).payload == watermark.payload_for((PRODUCER, "cli-1"))
    # too short: a clear refusal through the command, no traceback
    short = tmp_path / "short.wav"
    write_wav(short, voice(5.0))
    bad = subprocess.run(["aigclabel", "mark", str(short), "-o", str(tmp_path / "s.wav"), "--producer", PRODUCER,
                          "--produce-id", "cli-2", "--watermark", "--no-explicit"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "too short" in bad.stderr + bad.stdout and "Traceback" not in bad.stderr


def test_review_tier3_on_watermark_only_audio(tmp_path: Path) -> None:
    path = tmp_path / "reupload.wav"
    write_wav(path, watermark.embed(voice(12.0), watermark.payload_for((PRODUCER, "gone")), rate=RATE))
    cfg = PlatformConfig(code="PLATFORM1", profile="eu-ai-act-art50")
    r = review(str(path), platform=cfg)
    assert r.tier == 3
    assert any(e.kind == "watermark" and "watermark found" in e.detail for e in r.evidence)
    plain = tmp_path / "plain.wav"
    write_wav(plain, voice(12.0))
    assert review(str(plain), platform=cfg).tier is None


@pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg")
@pytest.mark.parametrize("seed", [8, 11, 13])
def test_steady_tones_survive_mp3_and_aac_128k(tmp_path: Path, seed: int) -> None:
    # These hosts' tones correlate with some symbols far more than the mark does: the embedder's
    # cancellation once wrote those bits with the wrong sign (read at |z| ~ 19, so no correction could
    # help), and the word was lost even unattacked.
    rate = 48000
    x = tones(seed, rate=rate)
    host = np.stack([x, 0.8 * x], axis=1)
    ident = watermark.payload_for((PRODUCER, f"tone-{seed}"))
    marked = watermark.embed(host, ident, rate=rate)
    assert 10 * np.log10((host ** 2).sum() / ((marked - host) ** 2).sum()) >= 30
    write_wav(tmp_path / "marked.wav", marked, rate)
    write_wav(tmp_path / "plain.wav", host, rate)
    samples, _ = read_wav(tmp_path / "marked.wav")
    want = np.array(watermark.payload.to_bits(watermark.word_for(ident))) * 2 - 1
    assert (np.array(watermark.detect(samples.mean(axis=1), rate=rate).z) * want).min() > 0  # every bit right
    for name in ("marked", "plain"):
        for ext, codec in (("mp3", "libmp3lame"), ("m4a", "aac")):
            out = tmp_path / f"{name}.{ext}"
            subprocess.run([FFMPEG, "-v", "error", "-i", str(tmp_path / f"{name}.wav"), "-c:a", codec, "-b:a", "128k",
                            str(out)], check=True, timeout=60)
            probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                                    "stream=codec_name,bit_rate", "-of", "csv=p=0", str(out)], capture_output=True,
                                   text=True, check=True).stdout
            assert probe.startswith({"mp3": "mp3", "m4a": "aac"}[ext]), probe
            (f,) = _findings(out)
            if name == "marked":
                assert f.level is aigclabel.Level.PASS and f.data["payload"] == ident, f.message
            else:
                assert f.level is aigclabel.Level.ERROR and "no watermark found" in f.message
