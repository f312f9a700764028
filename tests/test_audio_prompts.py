"""The audible label: rhythm (Morse "AI" ·− ··) and voice prompts, inserted and detected.

Test audio is generated here with numpy (tones, synthetic music, speech-like material cut from
the shipped voice clip, beeps, sweeps, noise) and encoded with ffmpeg; results are checked with
independent tools: ffmpeg decodes the marked files (no errors, sample arrays compared), ffprobe
reads the MP3 LAME tag (it only reports the encoder when the tag's CRC is right), our byte
walkers compare MP3 frames.  espeak-ng is not needed: the voice clip ships with the package.
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

np = pytest.importorskip("numpy")

import aigclabel  # noqa: E402
from aigclabel.errors import CorruptFile, LabelError  # noqa: E402
from aigclabel.explicit import audio_detect, morse  # noqa: E402
from aigclabel.explicit.audio import (VOICE_CLIP, PromptPlan, mark_aiff, mark_flac, mark_mp3,  # noqa: E402
                                      mark_pcm_wav, mark_reencode, prompt_samples, resample, voice_clip)
from aigclabel.formats._crc16 import CRC_TABLE as _CRC_T  # noqa: E402
from aigclabel.formats._crc16 import crc16, crc_shift, crc_unshift  # noqa: E402
from aigclabel.formats._mp3_frames import id3v2_end as _id3v2_end, walk_mp3 as _walk_mp3  # noqa: E402
from aigclabel.explicit.audio_detect import find_rhythm, find_voice, speech_segments, to_detect_rate  # noqa: E402
from aigclabel.report import Level  # noqa: E402

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or FFPROBE is None,
                                  reason="ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg)")
PRODUCER = "001191110102MACQD9K64010000"
RATE = 44100


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


needs_lame = pytest.mark.skipif(not _has("lameenc"), reason="lameenc is not installed (pip install 'aigclabel[audio]')")
needs_av = pytest.mark.skipif(not _has("av"), reason="PyAV is not installed (pip install 'aigclabel[audio]')")


# ---------------------------------------------------------------------------------------- material


def music(seconds: float, rate: int, seed: int = 0, rms: float = 0.1):
    """Synthetic music: a melody of harmonic notes, bass and chords per bar, kick, snare and hi-hat."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    beat = 60 / rng.uniform(80, 150)

    def add(at: float, sig) -> None:
        i = int(at * rate)
        if i < n:
            sig = sig[:n - i]
            out[i:i + len(sig)] += sig

    def note(f0: float, dur: float, amp: float, harmonics: int, decay: float):
        t = np.arange(int(dur * rate)) / rate
        env = np.minimum(1, t / 0.01) * np.exp(-decay * t / dur)
        sig = sum((1 / k) * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28))
                  for k in range(1, harmonics + 1) if f0 * k < rate / 2)
        return amp * env * sig

    root = rng.uniform(180, 400)
    t = 0.0
    while t < seconds:
        d = beat * rng.choice([0.25, 0.5, 0.5, 1, 1, 2])
        if rng.random() < 0.85:
            f = root * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11, 12]) / 12) * rng.choice([1, 2])
            add(t, note(f, d, 0.5, int(rng.integers(2, 8)), 3.0))
        t += d
    t = 0.0
    while t < seconds:
        f = root / 2 * 2 ** (rng.choice([0, 5, 7, 9]) / 12)
        for mult, amp in ((1, 0.4), (1.25, 0.12), (1.5, 0.12), (2, 0.1)):
            add(t, note(f * mult, beat * 4, amp, 4, 1.0))
        t += beat * 4
    t, k = 0.0, 0
    while t < seconds:
        tt = np.arange(int(0.15 * rate)) / rate
        if k % 2 == 0:
            add(t, 0.6 * np.sin(2 * np.pi * (60 + 80 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 20))
        else:
            add(t, 0.3 * rng.standard_normal(len(tt)) * np.exp(-tt * 30))
        m = int(0.03 * rate)
        add(t + beat / 2, 0.08 * np.diff(rng.standard_normal(m + 1)) * np.exp(-np.arange(m) / rate * 100))
        t += beat
        k += 1
    return (out * rms / np.sqrt(np.mean(out ** 2))).astype(np.float32)


def speechlike(seconds: float, rate: int, seed: int = 0, rms: float = 0.1):
    """Speech material that is not our prompt: pieces of the shipped clip, mostly reversed, pitch-shifted
    by ±25 %, in random order with pauses."""
    rng = np.random.default_rng(seed)
    clip = voice_clip(rate, None).astype(np.float64)
    n = int(seconds * rate)
    out = np.zeros(n)
    i = 0
    while i < n:
        a = int(rng.integers(0, len(clip) - rate // 2))
        seg = clip[a:a + int(rng.integers(rate // 4, rate))]
        seg = seg[::-1] if rng.random() < 0.7 else seg
        seg = resample(seg, rate, int(rate * rng.uniform(0.8, 1.25)))[:n - i]
        out[i:i + len(seg)] += seg
        i += len(seg) + int(rng.uniform(0.05, 0.5) * rate)
    return (out * rms / np.sqrt(np.mean(out ** 2))).astype(np.float32)


def pattern(rate: int, units: list[tuple[bool, int]], unit_ms: float = 80, f: float = 800, amp: float = 0.5):
    """A tone pattern like the prompt's, from (on, length in units) pairs, 5 ms fades."""
    u = unit_ms / 1000 * rate
    out = np.zeros(int(round(sum(n for _, n in units) * u)))
    at = 0.0
    for on, n in units:
        a, b = int(round(at * u)), int(round((at + n) * u))
        at += n
        if on:
            s = amp * np.sin(2 * np.pi * f * np.arange(b - a) / rate)
            r = int(0.005 * rate)
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
            s[:r] *= ramp
            s[-r:] *= ramp[::-1]
            out[a:b] = s
    return out.astype(np.float32)


def beeps(seconds: float, rate: int, seed: int = 0):
    """Random beeps: 30-600 ms, half of them at 800 Hz, random gaps."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    t = 0.1
    while t < seconds - 1:
        d = rng.uniform(0.03, 0.6)
        f = 800.0 if rng.random() < 0.5 else rng.uniform(300, 3000)
        i = int(t * rate)
        s = pattern(rate, [(True, 1)], unit_ms=d * 1000, f=f)[:n - i]
        out[i:i + len(s)] += s
        t += d + rng.uniform(0.03, 0.6)
    return out.astype(np.float32)


def sweeps(seconds: float, rate: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    i = 0
    while i < n:
        d = rng.uniform(0.05, 2)
        t = np.arange(int(d * rate)) / rate
        f0, f1 = rng.uniform(200, 3500, 2)
        s = 0.5 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * d)))[:n - i]
        out[i:i + len(s)] += s
        i += len(t) + int(rng.uniform(0, 0.3) * rate)
    return out.astype(np.float32)


def noise_bursts(seconds: float, rate: int, seed: int = 0):
    """White noise bursts with Morse-like lengths (1 and 3 units of 40-120 ms)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    i = 0
    while i < n:
        m = int(rng.choice([0.04, 0.08, 0.12, 0.24, 0.36]) * rate)
        s = 0.3 * rng.standard_normal(m)[:n - i]
        out[i:i + len(s)] += s
        i += m + int(rng.choice([0.04, 0.08, 0.24]) * rate)
    return out.astype(np.float32)


def with_prompt(background, rate: int, at_s: float, spec: morse.RhythmSpec, below_db: float = 10.0):
    """*background* scaled to *below_db* under the prompt's tone level, the prompt mixed in at *at_s*."""
    p = morse.rhythm_samples(rate, spec)
    tone_rms = np.sqrt(np.mean(p[p != 0] ** 2))
    x = background / np.sqrt(np.mean(background ** 2)) * tone_rms * 10 ** (-below_db / 20)
    x = x.astype(np.float32)
    i = int(at_s * rate)
    x[i:i + len(p)] += p
    return x


# ----------------------------------------------------------------------------------------- helpers


def run(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), input=data, capture_output=True, timeout=300)


def wav_bytes(x, rate: int, channels: int = 1, width: int = 2) -> bytes:
    """A plain PCM WAV (stdlib ``wave``) of float *x* copied to every channel."""
    scale = (1 << (8 * width - 1)) - 1
    ints = np.round(np.clip(x, -1, 1) * scale).astype(np.int64)
    if width == 1:
        raw = (ints + 128).astype(np.uint8)
    elif width == 3:
        raw = (ints & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
    else:
        raw = ints.astype(f"<i{width}")
    frames = np.repeat(raw.reshape(len(x), -1), channels, axis=0)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(frames).tobytes())
    return buf.getvalue()


def ffmpeg_encode(tmp: Path, wav: bytes, args: list[str], suffix: str) -> bytes:
    src = tmp / "in.wav"
    src.write_bytes(wav)
    out = tmp / f"out{suffix}"
    proc = run(FFMPEG, "-v", "error", "-y", "-i", str(src), *args, str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    return out.read_bytes()


def ffmpeg_decode(tmp: Path, data: bytes, suffix: str, fmt: str = "s32le", extra: list[str] | None = None):
    """(raw samples, stderr) from ffmpeg decoding *data* (written to a file, so gapless info applies)."""
    path = tmp / f"dec{suffix}"
    path.write_bytes(data)
    proc = run(FFMPEG, "-v", "error", "-i", str(path), *(extra or []), "-f", fmt, "-")
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout, proc.stderr.decode()


def decode_8k(tmp: Path, data: bytes, suffix: str):
    raw, _ = ffmpeg_decode(tmp, data, suffix, "f32le", ["-ac", "1", "-ar", "8000"])
    return np.frombuffer(raw, "<f4")


def plan(**extra) -> PromptPlan:
    return PromptPlan.from_options(extra)


def assert_spliced_bit_exact(before, after, inserted, channels: int) -> None:
    """*after* = *before* with the prompt frames inserted at each recorded source frame; every
    original sample bit-exact."""
    a = before.reshape(-1, channels)
    b = after.reshape(-1, channels)
    assert len(b) == len(a) + sum(i["frames"] for i in inserted)
    last = shift = 0
    for item in inserted:
        at = item["source_at_frame"]
        assert np.array_equal(a[last:at], b[last + shift:at + shift])
        shift += item["frames"]
        last = at
    assert np.array_equal(a[last:], b[last + shift:])


# ------------------------------------------------------------------------------------------- Morse


def test_rhythm_prompt_timing_level_and_fades():
    spec = morse.RhythmSpec()
    x = morse.rhythm_samples(48000, spec)
    unit = 48000 * 0.080
    assert len(x) == round(17 * unit)  # 3 + 11 + 3 units
    on = np.convolve(np.abs(x), np.ones(61), "same") > 1e-4  # the envelope (a period is 60 samples)
    edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
    runs = np.diff(np.concatenate([[0], edges, [len(x)]])) / unit
    # silence 3, dot 1, gap 1, dash 3, letter gap 3, dot 1, gap 1, dot 1, silence 3 (±1 sample of the fades)
    assert np.allclose(runs, [3, 1, 1, 3, 3, 1, 1, 1, 3], atol=0.02)  # the envelope smears edges by 30 samples
    assert np.abs(x).max() == pytest.approx(10 ** (-6 / 20), rel=1e-3)
    # raised-cosine fades: no step at any tone edge, a smooth start
    assert np.abs(np.diff(x)).max() < 2 * np.pi * 800 / 48000 * 0.51
    for start in edges[::2]:
        assert abs(x[start]) < 0.01
    spectrum = np.abs(np.fft.rfft(x))
    assert np.argmax(spectrum) * 48000 / len(x) == pytest.approx(800, abs=2)


@pytest.mark.parametrize("bad", [{"unit_ms": 30}, {"unit_ms": 250}, {"frequency": 200}, {"level_db": 3},
                                 {"fade_ms": 60}])
def test_rhythm_spec_validates(bad):
    with pytest.raises(ValueError):
        morse.RhythmSpec(**bad)


def test_prompt_plan_options():
    p = plan(prompt="both", positions=["end", "start", "end"], rhythm_unit_ms=120, rhythm_frequency=1000)
    assert p.kind == "both" and p.positions == ("end", "start")
    assert p.rhythm.unit_ms == 120 and p.rhythm.frequency == 1000
    assert PromptPlan.from_options({}).positions == ("start",) and PromptPlan.from_options({}).kind == "rhythm"
    for bad in ({"prompt": "beep"}, {"positions": ["top-left"]}, {"rhythm_unit_ms": 500}):
        with pytest.raises(LabelError):
            PromptPlan.from_options(bad)


# ------------------------------------------------------------------------------------------- voice


def test_shipped_voice_clip_is_normal_speech_rate():
    with wave.open(str(VOICE_CLIP), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        seconds = w.getnframes() / w.getframerate()
    # 人工智能生成: 6 characters at 120-160 per minute = 2.25-3.0 s
    assert 6 / 160 * 60 <= seconds <= 6 / 120 * 60
    readme = (VOICE_CLIP.parent / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "espeak-ng" in readme and VOICE_CLIP.name in readme


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_voice_clip_resampled_keeps_duration_and_level(rate):
    clip = voice_clip(rate, -6.0)
    assert len(clip) / rate == pytest.approx(56000 / 22050, abs=1 / rate + 1e-6)
    assert np.abs(clip).max() == pytest.approx(10 ** (-6 / 20), rel=1e-3)


def test_resampler_keeps_a_tone():
    t = np.arange(22050) / 22050
    y = resample(np.sin(2 * np.pi * 1000 * t), 22050, 48000)
    assert len(y) == 48000
    core = y[1000:-1000]
    ref = np.sin(2 * np.pi * 1000 * np.arange(48000) / 48000)[1000:-1000]
    assert np.abs(core - ref).max() < 0.01


def test_prompt_kinds_and_lengths():
    r, v, b = (prompt_samples(plan(prompt=k), 16000) for k in ("rhythm", "voice", "both"))
    assert len(r) == round(17 * 0.08 * 16000)
    assert len(v) == len(voice_clip(16000)) + 2 * 4000
    assert len(b) == len(r) + len(voice_clip(16000)) + 4000


# ------------------------------------------------------------------------------------ WAV and AIFF


@needs_ffmpeg
@pytest.mark.parametrize("width,channels", [(2, 2), (3, 2), (1, 1), (2, 6)])
@pytest.mark.parametrize("positions", [["start"], ["end"], ["middle"], ["start", "middle", "end"]])
def test_wav_prompt_keeps_original_samples_bit_exact(tmp_path, width, channels, positions):
    x = music(6, RATE, seed=1)
    data = wav_bytes(x, RATE, channels, width)
    result = mark_pcm_wav(data, plan(positions=positions))
    before, _ = ffmpeg_decode(tmp_path, data, ".wav")
    after, err = ffmpeg_decode(tmp_path, result.data, ".wav")
    assert err == ""
    inserted = result.details["inserted"]
    assert [i["position"] for i in inserted] == sorted(positions, key=["start", "middle", "end"].index)
    assert_spliced_bit_exact(np.frombuffer(before, "<i4"), np.frombuffer(after, "<i4"), inserted, channels)
    # and the prompt itself is there, where the details say
    det = audio_detect.detect(_reader(result.data), "wav")
    assert len(det.rhythm) == len(positions)
    for hit, item in zip(det.rhythm, inserted, strict=True):
        assert hit.start_s == pytest.approx(item["at_s"] + 0.24, abs=0.02)  # 3 units of lead-in silence
        assert hit.unit_ms == pytest.approx(80, abs=3)


def test_wav_float_extensible_and_other_chunks_kept():
    x = music(3, 48000, seed=2)
    # float32 WAV with a LIST/INFO chunk, a custom chunk after the data and a fact chunk
    samples = np.repeat(x[:, None], 2, axis=1).astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 2, 48000, 48000 * 8, 8, 32)
    info = b"INFO" + b"INAM" + struct.pack("<I", 6) + b"Title\x00"
    chunks = [(b"fmt ", fmt), (b"fact", struct.pack("<I", len(x))), (b"LIST", info), (b"data", samples),
              (b"zzzz", b"kept!")]
    body = b"".join(c + struct.pack("<I", len(d)) + d + (b"\x00" if len(d) & 1 else b"") for c, d in chunks)
    data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body
    result = mark_pcm_wav(data, plan(positions=["end"]))
    out = result.data
    assert out.count(b"LIST" + struct.pack("<I", len(info)) + info) == 1
    assert out.endswith(b"zzzz" + struct.pack("<I", 5) + b"kept!\x00")
    added = result.details["added_frames"]
    fact = out.index(b"fact")
    assert struct.unpack("<I", out[fact + 8:fact + 12])[0] == len(x) + added
    assert struct.unpack("<I", out[4:8])[0] == len(out) - 8
    start = out.index(b"data") + 8
    assert out[start:start + len(samples)] == samples  # the prompt went after the original samples


@needs_ffmpeg
@pytest.mark.parametrize("codec,suffix", [("pcm_s16be", ".aiff"), ("pcm_s24be", ".aiff"), ("pcm_s16le", ".aifc")])
def test_aiff_prompt_keeps_original_samples_bit_exact(tmp_path, codec, suffix):
    data = ffmpeg_encode(tmp_path, wav_bytes(music(4, RATE, seed=3), RATE, 2), ["-c:a", codec], suffix)
    result = mark_aiff(data, plan(positions=["start", "middle"]))
    before, _ = ffmpeg_decode(tmp_path, data, suffix)
    after, err = ffmpeg_decode(tmp_path, result.data, suffix)
    assert err == ""
    assert_spliced_bit_exact(np.frombuffer(before, "<i4"), np.frombuffer(after, "<i4"), result.details["inserted"], 2)
    comm = result.data.index(b"COMM")
    frames = struct.unpack(">I", result.data[comm + 10:comm + 14])[0]
    assert frames == len(np.frombuffer(after, "<i4")) // 2


# -------------------------------------------------------------------------------------------- FLAC


@needs_ffmpeg
@needs_av
@pytest.mark.parametrize("args,fmt,bits", [(["-c:a", "flac"], "s16le", 16),
                                           (["-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24"],
                                            "s24le", 24)])
def test_flac_prompt_is_lossless_and_keeps_tags(tmp_path, args, fmt, bits):
    import hashlib

    data = ffmpeg_encode(tmp_path, wav_bytes(music(4, RATE, seed=4), RATE, 2),
                         args + ["-metadata", "artist=Li Wei"], ".flac")
    result = mark_flac(data, plan(positions=["start", "end"]))
    before, _ = ffmpeg_decode(tmp_path, data, ".flac")
    after, err = ffmpeg_decode(tmp_path, result.data, ".flac")
    assert err == ""
    assert_spliced_bit_exact(np.frombuffer(before, "<i4"), np.frombuffer(after, "<i4"), result.details["inserted"], 2)
    # STREAMINFO: same depth, the MD5 of the new samples (FLAC's own integrity check)
    info = result.data[8:8 + 34]
    assert ((struct.unpack(">Q", info[10:18])[0] >> 36) & 31) + 1 == bits
    raw, _ = ffmpeg_decode(tmp_path, result.data, ".flac", fmt)
    assert info[18:34] == hashlib.md5(raw).digest()
    tags = json.loads(run(FFPROBE, "-v", "error", "-show_format", "-of", "json", str(tmp_path / "dec.flac")).stdout)
    assert {k.lower(): v for k, v in tags["format"]["tags"].items()}.get("artist") == "Li Wei"


# --------------------------------------------------------------------------------------------- MP3


def _frames(data: bytes) -> tuple[list[bytes], bytes, bytes]:
    """(every MPEG frame's bytes, bytes before the first frame, bytes after the last)."""
    layout = _walk_mp3(data, _id3v2_end(data))
    frames = [data[o:o + h.size] for o, h in zip(layout.offsets, layout.headers, strict=True)]
    return frames, data[:layout.offsets[0]], data[layout.end:]


MP3_CASES = {
    "cbr-stereo": (["-c:a", "libmp3lame", "-b:a", "128k", "-ac", "2"], RATE),
    "vbr-stereo": (["-c:a", "libmp3lame", "-q:a", "2", "-ac", "2"], RATE),
    "mpeg2-mono": (["-c:a", "libmp3lame", "-b:a", "48k", "-ac", "1", "-ar", "22050"], 22050),
    "id3v1-48k": (["-c:a", "libmp3lame", "-b:a", "192k", "-ac", "2", "-ar", "48000", "-write_id3v1", "1",
                   "-metadata", "title=Harbour"], 48000),
}


@needs_ffmpeg
@needs_lame
@pytest.mark.parametrize("case", list(MP3_CASES))
@pytest.mark.parametrize("positions", [["start"], ["end"], ["middle"], ["start", "middle", "end"]])
def test_mp3_prompt_frames_spliced_without_reencoding(tmp_path, case, positions):
    args, rate = MP3_CASES[case]
    data = ffmpeg_encode(tmp_path, wav_bytes(music(8, rate, seed=5), rate, 1), args, ".mp3")
    result = mark_mp3(data, plan(positions=positions))
    old_frames, old_head, old_tail = _frames(data)
    new_frames, new_head, new_tail = _frames(result.data)
    assert new_head == old_head and new_tail == old_tail  # ID3v2 / ID3v1 untouched
    # drop the inserted frames: the original frames remain, byte for byte (the Info frame is updated)
    inserted = result.details["inserted"]
    spf = 1152 if rate >= 32000 else 576
    kept = list(new_frames[1:])
    for item in reversed(inserted):
        at = 1 + item["source_at_frame"] // spf + sum(i["mpeg_frames"] for i in inserted if i is not item
                                                      and i["source_at_frame"] < item["source_at_frame"])
        del kept[at - 1:at - 1 + item["mpeg_frames"]]
    assert kept == old_frames[1:]
    # ffmpeg decodes it all without a complaint, and it grew by the prompt (± one frame)
    before, _ = ffmpeg_decode(tmp_path, data, ".mp3", "f32le")
    after, err = ffmpeg_decode(tmp_path, result.data, ".mp3", "f32le")
    assert err == ""
    channels = 1 if "mono" in case else 2
    grew = (len(after) - len(before)) // (4 * channels)
    prompt = len(prompt_samples(plan(), rate))
    assert abs(grew - prompt * len(positions)) <= spf * len(positions)
    # the LAME tag stays consistent: ffprobe only reports the encoder when the tag CRC is right
    probe = json.loads(run(FFPROBE, "-v", "error", "-show_entries", "stream_tags=encoder:stream=duration",
                           "-of", "json", str(tmp_path / "dec.mp3")).stdout)["streams"][0]
    if case != "mpeg2-mono":  # ffmpeg writes a tag CRC it cannot verify itself for MPEG-2 mono
        assert probe.get("tags", {}).get("encoder", "").startswith("Lavc")
    assert float(probe["duration"]) == pytest.approx(len(after) / (4 * channels) / rate, abs=0.1)
    _check_xing(result.data)


def _check_xing(data: bytes) -> None:
    layout = _walk_mp3(data, _id3v2_end(data))
    h, base = layout.headers[0], layout.offsets[0]
    x = base + 4 + h.side
    assert data[x:x + 4] in (b"Info", b"Xing")
    frames, size = struct.unpack(">II", data[x + 8:x + 16])
    assert frames == len(layout.offsets) - 1
    assert size == layout.end - base
    toc = data[x + 16:x + 116]
    assert all(toc[i] <= toc[i + 1] for i in range(99))
    lame = x + 116 + (4 if struct.unpack(">I", data[x + 4:x + 8])[0] & 8 else 0)
    assert struct.unpack(">I", data[lame + 28:lame + 32])[0] == layout.end - base  # music length
    assert struct.unpack(">H", data[lame + 32:lame + 34])[0] == crc16(data[layout.offsets[1]:layout.end])


@needs_ffmpeg
@needs_lame
def test_mp3_start_insertion_leaves_the_decoded_original_identical(tmp_path):
    data = ffmpeg_encode(tmp_path, wav_bytes(music(5, RATE, seed=6), RATE, 2), ["-c:a", "libmp3lame", "-b:a", "128k"],
                         ".mp3")
    result = mark_mp3(data, plan(positions=["start"]))
    before = np.frombuffer(ffmpeg_decode(tmp_path, data, ".mp3", "f32le")[0], "<f4")
    after = np.frombuffer(ffmpeg_decode(tmp_path, result.data, ".mp3", "f32le")[0], "<f4")
    added = len(after) - len(before)
    assert np.array_equal(after[added:], before)


@needs_ffmpeg
@needs_lame
def test_mp3_middle_splice_keeps_the_bit_reservoir(tmp_path):
    """The frame after the prompt takes its first bytes from the silent frames (main_data_begin): it
    decodes as before except for the MDCT overlap with the frame before it (about one frame)."""
    data = ffmpeg_encode(tmp_path, wav_bytes(music(6, RATE, seed=7), RATE, 2), ["-c:a", "libmp3lame", "-q:a", "2"],
                         ".mp3")
    result = mark_mp3(data, plan(positions=["middle"]))
    item = result.details["inserted"][0]
    before = np.frombuffer(ffmpeg_decode(tmp_path, data, ".mp3", "f32le", ["-ac", "1"])[0], "<f4")
    after = np.frombuffer(ffmpeg_decode(tmp_path, result.data, ".mp3", "f32le", ["-ac", "1"])[0], "<f4")
    cut = item["source_at_frame"] - 1105  # LAME's encoder delay + decoder delay are trimmed at the start
    assert np.array_equal(before[:cut], after[:cut])
    tail_before, tail_after = before[cut:], after[cut + item["frames"]:]
    differ = np.flatnonzero(np.abs(tail_before - tail_after) > 1e-4)
    assert differ.size and differ.max() < 1152  # the transition lasts less than one frame


def test_crc16_arithmetic():
    import os

    def slow(data: bytes) -> int:
        c = 0
        for b in data:
            c = (c >> 8) ^ _CRC_T[(c ^ b) & 0xFF]
        return c

    for n in (0, 1, 255, 256, 1000, 70001, (1 << 20) + 3):
        data = os.urandom(n)
        assert crc16(data) == slow(data)
    for v, n in ((1, 1), (0x1234, 999), (0xFFFF, 123456)):
        assert crc_unshift(crc_shift(v, n), n) == v
    a, b = os.urandom(3000), os.urandom(5000)
    assert crc16(a + b) == crc_shift(crc16(a), len(b)) ^ crc16(b)


# ---------------------------------------------------------------------------------- re-encoded ones


@needs_ffmpeg
@needs_av
@pytest.mark.parametrize("name,args,suffix", [("ogg", ["-c:a", "libvorbis", "-b:a", "128k"], ".ogg"),
                                              ("opus", ["-c:a", "libopus", "-b:a", "96k"], ".opus"),
                                              ("m4a", ["-c:a", "aac", "-b:a", "128k"], ".m4a")])
def test_lossy_containers_are_reencoded_and_say_so(tmp_path, name, args, suffix):
    x = music(6, RATE, seed=8)
    data = ffmpeg_encode(tmp_path, wav_bytes(x, RATE, 2), args + ["-metadata", "artist=Li Wei"], suffix)
    result = mark_reencode(data, plan(positions=["start", "end"]), name)
    assert "audio was re-encoded" in result.notes
    assert any("re-encoded" in n and "kbit/s" in n for n in result.notes)
    out = tmp_path / f"marked{suffix}"
    out.write_bytes(result.data)
    proc = run(FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(out))
    info = json.loads(proc.stdout)
    tags = {**info["format"].get("tags", {}), **info["streams"][0].get("tags", {})}
    assert {k.lower(): v for k, v in tags.items()}.get("artist") == "Li Wei"
    assert float(info["format"]["duration"]) == pytest.approx(6 + 2 * 1.36, abs=0.1)
    hits = find_rhythm(decode_8k(tmp_path, result.data, suffix), 8000)
    # the tones start 3 units (0.24 s) into each prompt: at 0.24 s and at 6 + 1.36 + 0.24 s
    assert [h.start_s for h in hits] == [pytest.approx(0.24, abs=0.05), pytest.approx(7.6, abs=0.05)]


# --------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize("unit", [40, 60, 80, 120, 200])
@pytest.mark.parametrize("freq", [300, 600, 800, 1200, 3000])
@pytest.mark.parametrize("background", ["music", "noise"])
def test_rhythm_found_at_any_unit_and_frequency_under_music_at_minus_10_db(unit, freq, background):
    rate = 16000
    bg = music(6, rate, seed=unit + freq) if background == "music" else \
        np.random.default_rng(unit).standard_normal(6 * rate).astype(np.float32)
    x = with_prompt(bg, rate, 2.0, morse.RhythmSpec(frequency=freq, unit_ms=unit))
    hits = find_rhythm(to_detect_rate(x, rate), 8000)
    assert len(hits) == 1, hits
    assert hits[0].unit_ms == pytest.approx(unit, rel=0.1)
    assert hits[0].frequency_hz == pytest.approx(freq, rel=0.03)
    assert hits[0].start_s == pytest.approx(2.0 + 3 * unit / 1000, abs=0.02)


CODECS = {"mp3": (["-c:a", "libmp3lame", "-b:a", "128k"], ".mp3"),
          "ogg": (["-c:a", "libvorbis", "-b:a", "96k"], ".ogg"),
          "m4a": (["-c:a", "aac", "-b:a", "128k"], ".m4a"),
          "opus": (["-c:a", "libopus", "-b:a", "64k"], ".opus")}


@needs_ffmpeg
@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("unit,freq", [(60, 600), (80, 800), (120, 1200), (40, 3000), (200, 300)])
def test_rhythm_found_after_lossy_coding_with_music(tmp_path, codec, unit, freq):
    x = with_prompt(music(8, RATE, seed=unit), RATE, 3.0, morse.RhythmSpec(frequency=freq, unit_ms=unit))
    args, suffix = CODECS[codec]
    coded = ffmpeg_encode(tmp_path, wav_bytes(x, RATE, 2), args, suffix)
    hits = find_rhythm(decode_8k(tmp_path, coded, suffix), 8000)
    assert len(hits) == 1, hits
    assert hits[0].unit_ms == pytest.approx(unit, rel=0.1)
    assert hits[0].frequency_hz == pytest.approx(freq, rel=0.03)


@pytest.mark.parametrize("name,make", [("music", music), ("speech", speechlike)])
def test_no_rhythm_in_ten_minutes_of_music_or_speech(name, make):
    rate = 8000
    x = np.concatenate([make(60, rate, seed=s) for s in range(10)])
    assert find_rhythm(x, rate) == []


@pytest.mark.parametrize("make", [sweeps, noise_bursts, beeps])
def test_no_rhythm_in_sweeps_noise_bursts_or_random_beeps(make):
    for seed in range(5):
        assert find_rhythm(make(60, 8000, seed=seed), 8000) == []


@pytest.mark.parametrize("label,units,found", [
    ("AI ·− ··", [(True, 1), (False, 1), (True, 3), (False, 3), (True, 1), (False, 1), (True, 1)], True),
    ("U ··− (short short long)", [(True, 1), (False, 1), (True, 1), (False, 1), (True, 3)], False),
    ("L ·−·· (no letter gap)", [(True, 1), (False, 1), (True, 3), (False, 1), (True, 1), (False, 1), (True, 1)],
     False),
    ("N I −· ··", [(True, 3), (False, 1), (True, 1), (False, 3), (True, 1), (False, 1), (True, 1)], False),
    ("dash 2 units", [(True, 1), (False, 1), (True, 2), (False, 3), (True, 1), (False, 1), (True, 1)], False),
    ("a dot right before it", [(True, 1), (False, 1), (True, 1), (False, 1), (True, 3), (False, 3), (True, 1),
                               (False, 1), (True, 1)], False),
    ("a dot right after it", [(True, 1), (False, 1), (True, 3), (False, 3), (True, 1), (False, 1), (True, 1),
                              (False, 1), (True, 1)], False),
])
def test_patterns_that_are_not_the_prompt(label, units, found):
    rate = 8000
    x = np.concatenate([np.zeros(rate), pattern(rate, units), np.zeros(rate)])
    assert bool(find_rhythm(x, rate)) is found, label


def test_letter_gap_option_accepts_l():
    x = np.concatenate([np.zeros(8000), pattern(8000, [(True, 1), (False, 1), (True, 3), (False, 1), (True, 1),
                                                        (False, 1), (True, 1)]), np.zeros(8000)])
    assert find_rhythm(x, 8000, require_letter_gap=False)


def test_voice_clip_recognised_and_other_speech_is_not():
    rate = 16000
    clip = voice_clip(rate)
    x = np.zeros(10 * rate, np.float32)
    x[3 * rate:3 * rate + len(clip)] += clip
    bg = music(10, rate, seed=9)
    x += (bg / np.sqrt(np.mean(bg ** 2)) * np.sqrt(np.mean(clip ** 2)) * 10 ** (-10 / 20)).astype(np.float32)
    hits = find_voice(to_detect_rate(x, rate), 8000)
    assert len(hits) == 1 and hits[0].start_s == pytest.approx(3.0, abs=0.05) and hits[0].score > 0.8
    other = speechlike(60, 8000, seed=1)
    assert find_voice(other, 8000) == []
    assert sum(b - a for _, a, b in speech_segments(other, 8000)) > 30  # it does sound like speech
    for make in (music, sweeps, beeps, noise_bursts):
        assert speech_segments(make(30, 8000, seed=2), 8000) == [], make.__name__


# ------------------------------------------------------------------------------------ the rule


def _reader(data: bytes) -> aigclabel._io.CountingReader:
    return aigclabel._io.CountingReader(io.BytesIO(data), "<test>", len(data))


def _finding(data: bytes):
    report = aigclabel.verify(data, scope="explicit")
    (finding,) = [f for f in report.findings if f.rule == "explicit.audio"]
    return finding, report


@needs_ffmpeg
@needs_lame
def test_verify_passes_a_marked_file_and_fails_a_plain_one(tmp_path):
    x = music(150, 22050, seed=10)
    plain = ffmpeg_encode(tmp_path, wav_bytes(x, 22050, 1), ["-c:a", "libmp3lame", "-b:a", "64k"], ".mp3")
    finding, _ = _finding(plain)
    assert finding.level is Level.ERROR
    assert finding.message.startswith("no audible label found at the start, end or middle")
    marked = aigclabel.mark(plain, producer=PRODUCER, produce_id="audio-prompt-1")
    finding, report = _finding(marked)
    assert finding.level is Level.PASS, finding.message
    assert finding.message.startswith("rhythm prompt ·− ·· found at 0.2")
    assert "(unit 80 ms" in finding.message
    # only the windows were decoded: start, middle and end of a 151 s file
    assert "searched start 0." in finding.message and "middle" in finding.message and "end" in finding.message
    assert report.bytes_read < 0.6 * len(marked)


@needs_ffmpeg
def test_verify_reads_only_the_windows_of_a_long_wav(tmp_path):
    x = music(90, 16000, seed=11)
    data = mark_pcm_wav(wav_bytes(x, 16000, 1), plan(positions=["middle"])).data
    finding, report = _finding(data)
    assert finding.level is Level.PASS and "found at 45." in finding.message
    assert report.bytes_read < 0.75 * len(data)


def test_speech_without_a_known_prompt_is_not_checked_never_passed():
    data = wav_bytes(speechlike(30, 16000, seed=3), 16000)
    finding, _ = _finding(data)
    assert finding.level is Level.NOT_CHECKED
    assert "needs speech recognition" in finding.message


def test_voice_prompt_marked_and_recognised():
    data = mark_pcm_wav(wav_bytes(music(20, 22050, seed=12), 22050, 2), plan(prompt="voice", positions=["end"])).data
    finding, _ = _finding(data)
    assert finding.level is Level.PASS and "voice prompt '人工智能生成'" in finding.message


def test_missing_decoder_is_not_checked(monkeypatch):
    data = wav_bytes(music(5, 16000), 16000)
    monkeypatch.setitem(sys.modules, "numpy", None)
    finding, _ = _finding(data)
    assert finding.level is Level.NOT_CHECKED and "pip install 'aigclabel[audio]'" in finding.message


@needs_ffmpeg
def test_missing_pyav_is_not_checked_for_compressed_audio(tmp_path, monkeypatch):
    data = ffmpeg_encode(tmp_path, wav_bytes(music(5, 16000), 16000), ["-c:a", "libvorbis"], ".ogg")
    monkeypatch.setitem(sys.modules, "av", None)
    finding, _ = _finding(data)
    assert finding.level is Level.NOT_CHECKED and "PyAV" in finding.message


# ----------------------------------------------------------------------------- the whole pipeline


@needs_ffmpeg
@needs_lame
@needs_av
@pytest.mark.parametrize("suffix,args", [(".wav", ["-c:a", "pcm_s16le"]), (".mp3", ["-c:a", "libmp3lame"]),
                                         (".flac", ["-c:a", "flac"]), (".ogg", ["-c:a", "libvorbis"]),
                                         (".opus", ["-c:a", "libopus"]), (".aiff", ["-c:a", "pcm_s16be"]),
                                         (".m4a", ["-c:a", "aac"])])
def test_mark_adds_prompt_then_record_and_verifies_compliant(tmp_path, suffix, args):
    src = tmp_path / f"song{suffix}"
    src.write_bytes(ffmpeg_encode(tmp_path, wav_bytes(music(8, RATE, seed=13), RATE, 2), args, suffix))
    out = tmp_path / f"marked{suffix}"
    result = aigclabel.mark(src, out, producer=PRODUCER, produce_id="prompt-pipeline")
    assert result.explicit == "added"
    assert result.explicit_details["prompt"] == "rhythm"
    report = aigclabel.verify(out)
    levels = {f.rule: f.level for f in report.findings}
    assert levels["explicit.audio"] is Level.PASS
    assert len(report.labels) == 1
    assert run(FFMPEG, "-v", "error", "-i", str(out), "-f", "null", "-").stderr == b""
    if suffix == ".m4a":  # re-encoded with moov first, so the record sits in the file header
        head = out.read_bytes()
        assert head.find(b"moov") < head.find(b"mdat")
        assert levels.get("implicit.in-header", Level.PASS) is Level.PASS


def test_lying_wav_chunk_is_a_typed_error_and_input_untouched(tmp_path):
    data = bytearray(wav_bytes(music(1, 8000), 8000))
    data[40:44] = struct.pack("<I", 10 ** 8)  # the data chunk claims far more than the file holds
    path = tmp_path / "liar.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFile):
        mark_pcm_wav(bytes(data), plan())
    with pytest.raises(aigclabel.errors.InputError):
        aigclabel.mark(path, tmp_path / "out.wav", producer=PRODUCER)
    assert path.read_bytes() == bytes(data)
    assert not (tmp_path / "out.wav").exists()


@needs_ffmpeg
@needs_lame
def test_truncated_mp3_is_marked_with_the_partial_frame_kept_last(tmp_path):
    data = ffmpeg_encode(tmp_path, wav_bytes(music(3, RATE), RATE, 2), ["-c:a", "libmp3lame"], ".mp3")
    cut = data[:-300]
    result = mark_mp3(cut, plan(positions=["end"]))
    frames, _, tail = _frames(cut)
    assert result.data.endswith(tail) and tail  # the broken frame stays at the very end
    _, err = ffmpeg_decode(tmp_path, result.data, ".mp3", "f32le")


@needs_ffmpeg
@needs_lame
@pytest.mark.parametrize("unit", [80, 200])
def test_mp3_both_prompts_in_the_middle_are_found(tmp_path, unit):
    data = ffmpeg_encode(tmp_path, wav_bytes(music(20, RATE, seed=14), RATE, 2), ["-c:a", "libmp3lame"], ".mp3")
    result = mark_mp3(data, plan(prompt="both", positions=["middle"], rhythm_unit_ms=unit))
    finding, _ = _finding(result.data)
    assert finding.level is Level.PASS
    assert f"(unit {unit} ms" in finding.message and "voice prompt '人工智能生成'" in finding.message


@needs_ffmpeg
@needs_av
@pytest.mark.parametrize("sample_fmt", ["s16p", "s32p"])
def test_alac_m4a_stays_lossless(tmp_path, sample_fmt):
    data = ffmpeg_encode(tmp_path, wav_bytes(music(4, RATE, seed=15), RATE, 2, width=3),
                         ["-c:a", "alac", "-sample_fmt", sample_fmt], ".m4a")
    result = mark_reencode(data, plan(positions=["start", "middle"]), "m4a")
    assert any("re-encoded losslessly (ALAC" in n for n in result.notes)
    before, _ = ffmpeg_decode(tmp_path, data, ".m4a")
    after, err = ffmpeg_decode(tmp_path, result.data, ".m4a")
    assert err == ""
    assert_spliced_bit_exact(np.frombuffer(before, "<i4"), np.frombuffer(after, "<i4"), result.details["inserted"], 2)
