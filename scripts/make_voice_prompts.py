#!/usr/bin/env python3
"""Rebuild the shipped voice prompt clip(s) in ``aigclabel/explicit/prompts/``.

The clip says 人工智能生成 ("rén gōng zhì néng shēng chéng": an AI element and a generation element,
as GB 45438-2025 asks of a voice prompt).  It is synthesised by **espeak-ng** from Debian
(``apt-get install espeak-ng``; made with 1.51+dfsg-10+deb12u2, bookworm) with its Mandarin voice
``cmn-latn-pinyin`` from **pinyin with tone numbers**, which espeak-ng pronounces correctly (its
Hanzi dictionary reads several of these characters wrongly).

Steps, all deterministic: espeak-ng at ``--speed`` words per minute writes a 22 050 Hz mono WAV;
leading and trailing silence (below -40 dBFS) is trimmed; the peak is normalised to -3 dBFS;
10 ms raised-cosine fades are applied; the result is written as 16-bit PCM WAV (stdlib ``wave``).
The script checks the speech rate GB 45438 calls normal (120-160 Chinese characters per minute)
and prints each clip's duration, rate and SHA-256.

Run from the repository root::

    python3 scripts/make_voice_prompts.py           # writes aigclabel/explicit/prompts/*.wav
    python3 scripts/make_voice_prompts.py --check   # rebuild in memory and compare with the shipped files

Needs numpy.  The clips are ours, released under CC0-1.0 (see the README beside them).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "aigclabel" / "explicit" / "prompts"

#: file name -> (espeak-ng voice, pinyin text, Hanzi it says, number of characters, speed in wpm)
CLIPS = {
    "voice-cmn-rengongzhineng-shengcheng.wav": (
        "cmn-latn-pinyin", "ren2 gong1 zhi4 neng2 sheng1 cheng2", "人工智能生成", 6, 130),
}
RATE_RANGE = (120.0, 160.0)  # characters per minute, GB 45438-2025 "normal speech rate"
SILENCE_DB = -40.0
PEAK_DB = -3.0
FADE_MS = 10.0


def synthesise(voice: str, text: str, speed: int) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                sys.exit("unexpected espeak-ng output format")
            rate = w.getframerate()
            samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768.0
    return samples, rate


def finish(samples: np.ndarray, rate: int) -> np.ndarray:
    """Trim silence, normalise the peak, fade in and out; 16-bit integers."""
    level = np.abs(samples)
    loud = np.nonzero(level > 10 ** (SILENCE_DB / 20) * level.max())[0]
    samples = samples[loud[0]:loud[-1] + 1]
    samples = samples * (10 ** (PEAK_DB / 20) / np.abs(samples).max())
    n = int(round(FADE_MS / 1000 * rate))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    samples[:n] *= ramp
    samples[-n:] *= ramp[::-1]
    return np.round(samples * 32767).astype("<i2")


def to_wav(pcm: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped clips, write nothing")
    args = parser.parse_args()
    status = 0
    for name, (voice, text, hanzi, chars, speed) in CLIPS.items():
        raw, rate = synthesise(voice, text, speed)
        pcm = finish(raw, rate)
        seconds = len(pcm) / rate
        per_minute = chars / seconds * 60
        data = to_wav(pcm, rate)
        digest = hashlib.sha256(data).hexdigest()
        print(f"{name}: {hanzi} ({text}), espeak-ng -v {voice} -s {speed}, {rate} Hz, {seconds:.3f} s, "
              f"{per_minute:.0f} characters/minute, {len(data)} bytes, SHA-256 {digest}")
        if not RATE_RANGE[0] <= per_minute <= RATE_RANGE[1]:
            print(f"  speech rate {per_minute:.0f}/min is outside {RATE_RANGE[0]:g}-{RATE_RANGE[1]:g}: "
                  "adjust the speed", file=sys.stderr)
            status = 1
        target = OUT_DIR / name
        if args.check:
            if not target.exists() or target.read_bytes() != data:
                print(f"  {target} differs from the rebuilt clip (another espeak-ng version?)", file=sys.stderr)
                status = 1
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return status


if __name__ == "__main__":
    sys.exit(main())
