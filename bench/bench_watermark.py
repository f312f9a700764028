"""Benchmark: the invisible image watermark (aigclabel.watermark) - robustness, false positives, PSNR, speed.

Robustness: >= 200 generated pictures (gradients, blurred noise, text on white and on colour, photo-like
blobs with grain; 400-1280 px, landscape and portrait) plus the JPEGs in samples/, each marked with a random
40-bit id, then attacked: JPEG q90/q70/q50, WebP q75, resize to 50 % and 25 %, crop 10 % and 25 % (centre,
each side), a screenshot-like rescale (67 %, bilinear) + JPEG q80, brightness and contrast +-20 %.  Per
attack: bit accuracy (share of the 64 bits read right) and detection rate (the word found and equal to the
one embedded).  The issue sets no robustness target, so the misses are judged against floors of our own
(:data:`MISS_TARGETS`): the crop rows against 20 % (as well as the weakest re-encode row did before crops were
searched for), every other row against what it measured before crops were searched for (200 pictures: JPEG
q90/q70/q50 96/85.5/80 %, WebP q75 80 %, resize 50/25 % 93.5/81 %, screenshot 87 %), so that finding crops
cannot silently cost another row.

Targets (issue 17 "Must show"):
  false positives on >= 1000 unmarked pictures           <= 1 in 1000 (the measured rate is printed)
  PSNR of the marked picture                              >= 38 dB (the worst picture)
  embed on a 12 MP JPEG (decode, mark, re-encode)         <= 2x a bare Pillow decode + encode   (cpu)
  detect on a 12 MP JPEG                                  <= 1x a bare Pillow decode + encode   (cpu)

--quick: 40 marked pictures, 200 unmarked, 5 pairs.

--audio: the audio watermark instead (aigclabel.watermark._audio).  Marked: 40 clips of 12 s at 48 kHz
(music-like chords, speech-like voice with pauses, noise, tones; stereo and mono), each marked with a random
40-bit id, then: MP3 128k and AAC 128k (ffmpeg re-encode), a cut of the first 1.3 s, resample 48 -> 44.1
kHz (ffmpeg), volume -6 dB.  Per attack: bit accuracy and detection rate (the word found and equal).
Unmarked: 200 clips of 10 s of the same families (other seeds).  Speed: a 5-minute 48 kHz stereo WAV, the
watermark step (read, mark, write) and detection (read, fold, correlate) against ffmpeg decoding it and
encoding MP3 128k (reported, not judged: the issue sets no speed target for audio).

Targets (--audio; issue 17 "Must show"):
  misses after MP3 128k and after AAC 128k re-encode        <= 5 % of the marked clips
  false positives on >= 200 unmarked clips                  <= 1 in 200 (the measured rate is printed)
  SNR of the marked audio                                   >= 30 dB (the worst clip; segmental SNR reported)

--audio --quick: 12 marked clips, 200 unmarked, 5 pairs.

Run: python3 bench/bench_watermark.py [--audio] [--quick] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Bench, in_process, main, make_photo_jpeg, need, pairs, parser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def picture(i: int, rnd: random.Random) -> Any:
    """The *i*-th generated test picture: five families, varied sizes and orientations."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    w, h = rnd.randint(400, 1280), rnd.randint(400, 1024)
    if rnd.random() < 0.3:
        w, h = h, w
    rng = np.random.default_rng(i)
    kind = i % 5
    if kind == 0:  # smooth two-axis gradient with a colour cast
        x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
        a = np.stack([x * 200 + 30, y * 180 + 40, (1 - x) * 150 + y * 60], 2)
        return Image.fromarray(a.clip(0, 255).astype(np.uint8))
    if kind == 1:  # blurred colour noise (texture)
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        return im.filter(ImageFilter.GaussianBlur(rnd.uniform(0.5, 4)))
    if kind in (2, 3):  # text on white (a document screenshot) or on a colour
        bg = (255, 255, 255) if kind == 2 else tuple(rnd.randint(60, 220) for _ in range(3))
        im = Image.new("RGB", (w, h), bg)
        d = ImageDraw.Draw(im)
        for j in range(h // 18):
            d.text((rnd.randint(0, 40), j * 18), "Generated text line %d lorem ipsum dolor" % j,
                   fill=tuple(rnd.randint(0, 80) for _ in range(3)))
        return im
    base = rng.normal(0, 1, (h // 24 + 2, w // 24 + 2, 3))  # photo-like: smooth blobs + grain
    im = Image.fromarray(((base - base.min()) / np.ptp(base) * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC)
    a = np.asarray(im, dtype=np.float64) + rng.normal(0, rnd.uniform(2, 10), (h, w, 3))
    return Image.fromarray(a.clip(0, 255).astype(np.uint8))


def _reencode(im: Any, fmt: str, quality: int) -> Any:
    from PIL import Image

    buf = io.BytesIO()
    im.save(buf, fmt, quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(frac: float) -> Callable[[Any], Any]:
    def run(im: Any) -> Any:
        dx, dy = int(im.width * frac / 2), int(im.height * frac / 2)
        return im.crop((dx, dy, im.width - dx, im.height - dy))
    return run


def attacks() -> dict[str, Callable[[Any], Any]]:
    from PIL import Image, ImageEnhance

    def scale(f: float, how: Any = Image.Resampling.LANCZOS) -> Callable[[Any], Any]:
        return lambda im: im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), how)

    return {
        "none (PNG)": lambda im: im,
        "JPEG q90": lambda im: _reencode(im, "JPEG", 90),
        "JPEG q70": lambda im: _reencode(im, "JPEG", 70),
        "JPEG q50": lambda im: _reencode(im, "JPEG", 50),
        "WebP q75": lambda im: _reencode(im, "WEBP", 75),
        "resize 50 %": scale(0.5),
        "resize 25 %": scale(0.25),
        "crop 10 %": _crop(0.10),
        "crop 25 %": _crop(0.25),
        "screenshot (67 % bilinear + JPEG q80)": lambda im: _reencode(scale(0.67, Image.Resampling.BILINEAR)(im),
                                                                      "JPEG", 80),
        "brightness +20 %": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
        "brightness -20 %": lambda im: ImageEnhance.Brightness(im).enhance(0.8),
        "contrast +20 %": lambda im: ImageEnhance.Contrast(im).enhance(1.2),
        "contrast -20 %": lambda im: ImageEnhance.Contrast(im).enhance(0.8),
    }


#: the most misses (% of the marked pictures) each image attack may cost; rows not named are reported only
MISS_TARGETS = {
    "none (PNG)": 0.0, "JPEG q90": 4.0, "JPEG q70": 14.5, "JPEG q50": 20.0, "WebP q75": 20.0, "resize 50 %": 6.5,
    "resize 25 %": 19.0, "crop 10 %": 20.0, "crop 25 %": 20.0, "screenshot (67 % bilinear + JPEG q80)": 13.0,
}


def robustness(bench: Bench, n: int) -> None:
    import numpy as np
    from PIL import Image

    from aigclabel.watermark import detect, embed, word_for
    from aigclabel.watermark.payload import to_bits

    rnd = random.Random(17)
    sources = [picture(i, rnd) for i in range(n)]
    sources += [Image.open(p).convert("RGB") for p in sorted((ROOT / "samples").glob("*.jpg"))
                if min(Image.open(p).size) >= 256]
    table = attacks()
    bits_ok: dict[str, list[float]] = {name: [] for name in table}
    found: dict[str, list[bool]] = {name: [] for name in table}
    psnr: list[float] = []
    for im in sources:
        ident = rnd.getrandbits(40)
        want = np.array(to_bits(word_for(ident)))
        marked = embed(im, ident)
        diff = np.asarray(marked, dtype=np.float64) - np.asarray(im, dtype=np.float64)
        mse = float((diff ** 2).mean())
        psnr.append(99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse))
        for name, attack in table.items():
            got = detect(attack(marked))
            read = np.array([1 if z > 0 else 0 for z in got.z]) if got.z else np.zeros(64)
            bits_ok[name].append(float((read == want).mean()))
            found[name].append(got.found and got.payload == ident)
    print(f"  {len(sources)} marked pictures ({n} generated + {len(sources) - n} from samples/)")
    for name in table:
        bench.limit(f"bit accuracy after {name}", 100 * float(np.mean(bits_ok[name])), None, "%")
        missed = len(found[name]) - sum(found[name])
        bench.limit(f"misses after {name}", 100 * missed / len(found[name]), MISS_TARGETS.get(name), "%",
                    note=f"detection rate {100 * float(np.mean(found[name])):.1f} %: {sum(found[name])} of "
                         f"{len(found[name])}")
    worst = min(psnr)
    bench.check("PSNR of the marked picture >= 38 dB (worst picture)", worst >= 38.0,
                f"worst {worst:.1f} dB, median {float(np.median(psnr)):.1f} dB over {len(psnr)} pictures")


def false_positives(bench: Bench, n: int) -> None:
    from aigclabel.watermark import detect

    rnd = random.Random(1000)
    hits = 0
    for i in range(n):
        im = picture(10_000 + i, rnd)
        im = im.resize((max(64, im.width // 2), max(64, im.height // 2)))  # smaller: the count is what matters
        if detect(im).found:
            hits += 1
    bench.limit(f"false positives on {n} unmarked pictures", hits / n * 1000, 1.0, "per 1000",
                note=f"{hits} of {n}")


def speed(bench: Bench) -> None:
    from PIL import Image

    from aigclabel._io import CountingReader
    from aigclabel.formats import handler_for
    from aigclabel.watermark import detect_file, embed_file

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-wm-") as tmp:
        path = Path(tmp) / "photo.jpg"
        make_photo_jpeg(path)
        data = path.read_bytes()

    def bare() -> None:
        im = Image.open(io.BytesIO(data))
        im.load()
        im.save(io.BytesIO(), "JPEG", quality="keep")

    def reader() -> tuple[CountingReader, Any]:
        src = CountingReader(io.BytesIO(data), "photo.jpg", len(data))
        return src, handler_for(src)

    def mark() -> None:
        src, handler = reader()
        embed_file(handler, src, 0x123456789A)

    def look() -> None:
        src, handler = reader()
        detect_file(handler, src)

    base, ours = pairs(in_process(bare), in_process(mark), bench.n)
    bench.ratio("12 MP JPEG: embed (decode, mark, re-encode with its tables)", base, ours, 2.0,
                baseline="Pillow decode+encode")
    base, ours = pairs(in_process(bare), in_process(look), bench.n)
    bench.ratio("12 MP JPEG: detect (reduced decode, read)", base, ours, 1.0, baseline="Pillow decode+encode")


# ------------------------------------------------------------------------------------------------ audio

AUDIO_RATE = 48000


def clip(i: int, seconds: float, rate: int = AUDIO_RATE) -> Any:
    """The *i*-th generated test clip (frames x channels, full scale 1): four families, mono and stereo."""
    import numpy as np

    rng = np.random.default_rng(i)
    t = np.arange(int(rate * seconds)) / rate
    kind = i % 4
    if kind == 0:  # music-like: decaying chords with harmonics on a beat, a little noise
        x = np.zeros_like(t)
        beat = rng.uniform(0.3, 0.7)
        for j in range(int(seconds / beat) + 1):
            f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
            seg = (t >= j * beat) & (t < (j + 1) * beat)
            tt = t[seg] - j * beat
            for h, ratio in enumerate((1, 1.26, 1.5, 2, 3, 4)):
                x[seg] += np.exp(-tt * 3) * 0.1 / (h + 1) * np.sin(2 * np.pi * f0 * ratio * tt + rng.uniform(0, 6))
        x += 0.003 * rng.normal(size=len(t))
    elif kind == 1:  # speech-like: a gliding harmonic voice in syllables, pauses of digital silence
        f0 = rng.uniform(100, 220) + 30 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        x = sum(np.sin(k * phase) / k for k in range(1, 30))
        syll = rng.uniform(2.5, 5)
        x = x * np.clip(np.sin(2 * np.pi * syll / 2 * t), 0, 1) ** 2 * (
            rng.random(int(seconds * syll) + 2)[(t * syll).astype(int)] > 0.3)
    elif kind == 2:  # noise, white or brown-ish
        x = rng.normal(size=len(t))
        if i % 8 == 2:
            x = np.cumsum(x)
            x -= np.convolve(x, np.ones(64) / 64, "same")
    else:  # steady tones (the hardest host for a mark that hides under the music)
        x = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(200, 3000, size=rng.integers(1, 4)))
    x = rng.uniform(0.1, 0.6) * x / max(1e-9, float(np.abs(x).max()))
    if i % 3 == 0:  # stereo: the second channel a little quieter
        return np.stack([x, x * rng.uniform(0.5, 1.0)], axis=1)
    return x[:, None]


def _ffmpeg_pcm(frames: Any, rate: int, encode: list[str], fmt: str, out_rate: int | None = None) -> Any:
    """*frames* through ffmpeg: encoded with *encode* as *fmt*, decoded back to mono float (optionally resampled)."""
    import numpy as np

    ffmpeg = need("ffmpeg")
    pcm = np.round(np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes()
    coded = subprocess.run([ffmpeg, "-v", "error", "-f", "s16le", "-ar", str(rate), "-ac", str(frames.shape[1]),
                            "-i", "pipe:0", *encode, "-f", fmt, "pipe:1"], input=pcm, capture_output=True,
                           check=True).stdout
    back = subprocess.run([ffmpeg, "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
                           *(["-ar", str(out_rate)] if out_rate else []), "pipe:1"], input=coded,
                          capture_output=True, check=True).stdout
    return np.frombuffer(back, "<i2") / 32768.0


def audio_attacks() -> dict[str, Callable[[Any, int], tuple[Any, int]]]:
    """name -> attack(frames, rate) -> (mono samples, rate)."""
    return {
        "none": lambda x, r: (x.mean(axis=1), r),
        "MP3 128k (ffmpeg libmp3lame)": lambda x, r: (_ffmpeg_pcm(x, r, ["-c:a", "libmp3lame", "-b:a", "128k"],
                                                                  "mp3"), r),
        "AAC 128k (ffmpeg aac)": lambda x, r: (_ffmpeg_pcm(x, r, ["-c:a", "aac", "-b:a", "128k"], "adts"), r),
        "cut of the first 1.3 s": lambda x, r: (x[int(1.3 * r):].mean(axis=1), r),
        "resample 48 -> 44.1 kHz (ffmpeg)": lambda x, r: (_ffmpeg_pcm(x, r, ["-c:a", "pcm_s16le"], "wav", 44100),
                                                          44100),
        "volume -6 dB": lambda x, r: (x.mean(axis=1) * 10 ** (-6 / 20), r),
    }


def _segmental_snr(x: Any, y: Any, rate: int) -> float:
    """Mean per-frame SNR over 20 ms frames that carry sound, each clamped to [-10, 35] dB (the usual form)."""
    import numpy as np

    n = int(rate * 0.02)
    k = len(x) // n
    sig = (x[:k * n].reshape(k, n) ** 2).sum(axis=1)
    err = ((y - x)[:k * n].reshape(k, n) ** 2).sum(axis=1)
    loud = sig > 1e-6 * n  # frames above -60 dBFS RMS: a silent frame has no SNR to speak of
    if not loud.any():
        return float("nan")
    snr = 10 * np.log10(sig[loud] / np.maximum(err[loud], 1e-20))
    return float(np.clip(snr, -10, 35).mean())


def audio_robustness(bench: Bench, n: int) -> None:
    import numpy as np

    from aigclabel.watermark import detect, embed, word_for
    from aigclabel.watermark.payload import to_bits

    rnd = random.Random(170)
    table = audio_attacks()
    bits_ok: dict[str, list[float]] = {name: [] for name in table}
    found: dict[str, list[bool]] = {name: [] for name in table}
    snr: list[float] = []
    seg: list[float] = []
    for i in range(n):
        x = clip(i, 12.0)
        ident = rnd.getrandbits(40)
        want = np.array(to_bits(word_for(ident)))
        y = embed(x, ident, rate=AUDIO_RATE)
        snr.append(float(10 * np.log10((x ** 2).sum() / max(1e-30, float(((y - x) ** 2).sum())))))
        seg.append(_segmental_snr(x.mean(axis=1), y.mean(axis=1), AUDIO_RATE))
        for name, attack in table.items():
            mono, rate = attack(y, AUDIO_RATE)
            got = detect(mono, rate=rate)
            read = np.array([1 if z > 0 else 0 for z in got.z]) if got.z else np.zeros(64)
            bits_ok[name].append(float((read == want).mean()))
            found[name].append(got.found and got.payload == ident)
    print(f"  {n} marked clips of 12 s at {AUDIO_RATE} Hz (music-like, speech-like, noise, tones)")
    judged = {"MP3 128k (ffmpeg libmp3lame)", "AAC 128k (ffmpeg aac)"}
    for name in table:
        bench.limit(f"audio: bit accuracy after {name}", 100 * float(np.mean(bits_ok[name])), None, "%")
        missed = len(found[name]) - sum(found[name])
        bench.limit(f"audio: misses after {name}", 100 * missed / len(found[name]),
                    5.0 if name in judged else None, "%",
                    note=f"detected {sum(found[name])} of {len(found[name])}")
    worst = min(snr)
    bench.check("audio: SNR of the marked audio >= 30 dB (worst clip)", worst >= 30.0,
                f"worst {worst:.1f} dB, median {float(np.median(snr)):.1f} dB over {len(snr)} clips; segmental "
                f"SNR median {float(np.nanmedian(seg)):.1f} dB, worst {float(np.nanmin(seg)):.1f} dB")


def audio_false_positives(bench: Bench, n: int) -> None:
    from aigclabel.watermark import detect

    hits = 0
    for i in range(n):
        if detect(clip(50_000 + i, 10.0).mean(axis=1), rate=AUDIO_RATE).found:
            hits += 1
    bench.limit(f"audio: false positives on {n} unmarked clips", hits / n * 200, 1.0, "per 200",
                note=f"{hits} of {n}")


def audio_speed(bench: Bench) -> None:
    import wave

    import numpy as np

    from aigclabel._io import CountingReader
    from aigclabel.formats import handler_for
    from aigclabel.watermark import detect_file, embed_file

    ffmpeg = need("ffmpeg")
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-wm-audio-") as tmp:
        path = Path(tmp) / "five-minutes.wav"
        parts = [clip(i * 4, 30.0) for i in range(10)]  # ten 30 s music-like stretches
        x = np.concatenate([c if c.shape[1] == 2 else np.repeat(c, 2, axis=1) for c in parts])
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(AUDIO_RATE)
            w.writeframes(np.round(x * 32767).astype("<i2").tobytes())
        data = path.read_bytes()
        mp3 = Path(tmp) / "out.mp3"

        def bare() -> None:
            subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(path), "-c:a", "libmp3lame", "-b:a", "128k",
                            str(mp3)], check=True)

        def reader() -> tuple[CountingReader, Any]:
            src = CountingReader(io.BytesIO(data), "clip.wav", len(data))
            return src, handler_for(src)

        def mark() -> None:
            src, handler = reader()
            embed_file(handler, src, 0x123456789A)

        def look() -> None:
            src, handler = reader()
            detect_file(handler, src)

        base, ours = pairs(in_process(bare), in_process(mark), bench.n)
        bench.ratio("5-min 48 kHz stereo WAV: embed (read, mark, write the samples)", base, ours, None,
                    baseline="ffmpeg decode + MP3 128k encode")
        base, ours = pairs(in_process(bare), in_process(look), bench.n)
        bench.ratio("5-min 48 kHz stereo WAV: detect (read, fold, correlate)", base, ours, None,
                    baseline="ffmpeg decode + MP3 128k encode")


def body(bench: Bench) -> None:
    from aigclabel import watermark

    if not watermark.available():
        raise RuntimeError(f"the watermark needs numpy: {watermark.EXTRA_HINT}")
    if bench.args.audio:
        audio_robustness(bench, 12 if bench.quick else 40)
        audio_false_positives(bench, 200)
        audio_speed(bench)
        return
    robustness(bench, 40 if bench.quick else 200)
    false_positives(bench, 200 if bench.quick else 1000)
    speed(bench)


if __name__ == "__main__":
    _ap = parser(__doc__)
    _ap.add_argument("--audio", action="store_true", help="the audio watermark's rows instead of the image's")
    sys.exit(main("watermark" if "--audio" not in sys.argv else "watermark-audio", _ap, body))
