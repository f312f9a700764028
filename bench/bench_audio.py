"""Benchmark: the audible label on MP3 - marking and detecting - against baselines measured in the same run.

Marking a 5-minute 128 kbit/s MP3 with the rhythm prompt (prompt frames spliced in, original frames
copied) is timed against a plain copy of the file and against a full decode + re-encode with the
same encoder (PyAV decode, LAME via lameenc), which is what a naive implementation would do.
Detection (`verify --scope explicit`: start, middle and end windows) is timed on a 5- and a
10-minute file against decoding the whole file, and as a fraction of real time.

Targets: issue #4 - Morse detection on a 10-minute file <= 0.05x real time; metadata-only marking
<= 3x a plain copy (printed for reference: the explicit=False path belongs to the metadata step).
Ours - marking with the prompt >= 10x faster than a full decode + re-encode.

Run: python3 bench/bench_audio.py [--repeat N]   (needs numpy, lameenc, av; ffmpeg makes the sources
if present). Prints medians, ratios and PASS/FAIL; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

import aigclabel
from aigclabel.explicit.audio import PromptPlan, mark_mp3, prompt_samples

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import fresh_output_median, verdict  # noqa: E402

PRODUCER = "001191110102MACQD9K64010000"
RATE = 44100


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo-ish synthetic music (chords of harmonic notes, a beat, some noise), float32 mono."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n, np.float32)
    beat = 0.5
    for k, start in enumerate(np.arange(0, seconds, beat)):
        f = 220 * 2 ** (rng.integers(0, 12) / 12)
        a, b = int(start * RATE), min(n, int((start + beat) * RATE))
        tt = t[a:b] - start
        env = np.exp(-3 * tt)
        out[a:b] += (0.2 * env * (np.sin(2 * np.pi * f * tt) + 0.5 * np.sin(4 * np.pi * f * tt)
                                  + 0.25 * np.sin(6 * np.pi * f * tt))).astype(np.float32)
        if k % 2:
            m = min(b - a, int(0.1 * RATE))
            out[a:a + m] += (0.1 * rng.standard_normal(m) * np.exp(-30 * tt[:m])).astype(np.float32)
    return out


def make_mp3(path: Path, seconds: float) -> None:
    x = np.tile(music(30), int(np.ceil(seconds / 30)))[:int(seconds * RATE)]
    pcm = np.repeat((np.clip(x, -1, 1) * 32767).astype("<i2"), 2)
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm.tobytes())
        subprocess.run([ffmpeg, "-v", "error", "-y", "-i", "pipe:", "-c:a", "libmp3lame", "-b:a", "128k",
                        "-metadata", "title=bench", str(path)], input=buf.getvalue(), check=True)
    else:
        import lameenc

        enc = lameenc.Encoder()
        enc.set_bit_rate(128)
        enc.set_in_sample_rate(RATE)
        enc.set_channels(2)
        path.write_bytes(bytes(enc.encode(pcm.tobytes())) + bytes(enc.flush()))


def full_reencode(src: Path, dest: Path) -> None:
    """The naive baseline: decode everything, insert the prompt, encode everything with LAME."""
    import av
    import lameenc

    with av.open(str(src)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        parts = []
        for frame in container.decode(stream):
            parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    pcm = np.concatenate(parts)
    prompt = np.repeat((prompt_samples(PromptPlan(), RATE) * 32767).astype("<i2"), 2)
    enc = lameenc.Encoder()
    enc.set_bit_rate(128)
    enc.set_in_sample_rate(RATE)
    enc.set_channels(2)
    enc.set_quality(2)
    dest.write_bytes(bytes(enc.encode(np.concatenate([prompt, pcm]).tobytes())) + bytes(enc.flush()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        five, ten = d / "five.mp3", d / "ten.mp3"
        make_mp3(five, 300)
        make_mp3(ten, 600)
        size = five.stat().st_size
        print(f"source: 5-minute MP3, 128 kbit/s stereo 44.1 kHz, {size / 1e6:.1f} MB; 10-minute: "
              f"{ten.stat().st_size / 1e6:.1f} MB")

        copy = fresh_output_median(lambda p: shutil.copyfile(five, p), args.repeat, d, ".mp3")
        marked = fresh_output_median(lambda p: aigclabel.mark(five, p, producer=PRODUCER), args.repeat, d, ".mp3")
        meta = fresh_output_median(lambda p: aigclabel.mark(five, p, producer=PRODUCER, explicit=False),
                                   args.repeat, d, ".mp3")
        data = five.read_bytes()
        step = fresh_output_median(lambda p: mark_mp3(data, PromptPlan()), args.repeat, d, ".mp3")
        naive = fresh_output_median(lambda p: full_reencode(five, p), max(1, args.repeat // 2), d, ".mp3")

        print("\nmarking (median wall time)")
        print(f"  plain copy                              {copy * 1000:9.1f} ms")
        print(f"  mark, rhythm prompt + record            {marked * 1000:9.1f} ms  = {marked / copy:6.1f}x copy, "
              f"{naive / marked:6.1f}x faster than re-encoding")
        print(f"    of which the prompt splice (in memory){step * 1000:9.1f} ms")
        print(f"  mark, record only (explicit=False)      {meta * 1000:9.1f} ms  = {meta / copy:6.1f}x copy")
        print(f"  full decode + prompt + LAME re-encode   {naive * 1000:9.1f} ms  = {naive / copy:6.1f}x copy")
        ok = naive / marked >= 10
        failed |= not ok
        print(f"  {verdict(ok)}: prompt marking >= 10x faster than a full re-encode (ours): {naive / marked:.1f}x")
        ok = meta / copy <= 3
        print(f"  {verdict(ok)}: metadata-only marking <= 3x a plain copy (issue #4, metadata step; reference): "
              f"{meta / copy:.1f}x")

        from aigclabel.explicit import audio_detect

        print("\ndetection (verify --scope explicit: start, middle, end windows of 20 s)")
        for path, minutes in ((five, 5), (ten, 10)):
            m = d / f"marked-{minutes}.mp3"
            aigclabel.mark(path, m, producer=PRODUCER, explicit=True)
            seconds = minutes * 60
            det = fresh_output_median(lambda p: aigclabel.verify(m, scope="explicit"), args.repeat, d, ".mp3")
            with aigclabel._io.open_source(m) as src:
                t0 = time.perf_counter()
                audio_detect.decode_all(src)
                whole = time.perf_counter() - t0
                t0 = time.perf_counter()
                full = audio_detect.detect(src, "mp3", {"full_scan": True})
                scan = time.perf_counter() - t0
            report = aigclabel.verify(m, scope="explicit")
            finding = next(f for f in report.findings if f.rule == "explicit.audio")
            print(f"  {minutes:2d}-minute file: {det * 1000:7.1f} ms = {det / seconds:.4f}x real time, "
                  f"{det / whole:.2f}x a whole-file decode ({whole * 1000:.0f} ms); read "
                  f"{report.bytes_read / m.stat().st_size * 100:.0f} % of the file; {finding.level.value}")
            print(f"      full scan (decode + search everything): {scan * 1000:7.1f} ms = {scan / seconds:.4f}x real "
                  f"time, {len(full.rhythm)} prompt(s)")
            if minutes == 10:
                ok = det / seconds <= 0.05
                failed |= not ok
                print(f"  {verdict(ok)}: Morse detection on a 10-minute file <= 0.05x real time (issue #4): "
                      f"{det / seconds:.4f}x")
                ok = scan / seconds <= 0.05
                print(f"  {verdict(ok)}: even a full scan of it <= 0.05x real time: {scan / seconds:.4f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
