"""Benchmark: the invisible image watermark (aigclabel.watermark) - robustness, false positives, PSNR, speed.

Robustness: >= 200 generated pictures (gradients, blurred noise, text on white and on colour, photo-like
blobs with grain; 400-1280 px, landscape and portrait) plus the JPEGs in samples/, each marked with a random
40-bit id, then attacked: JPEG q90/q70/q50, WebP q75, resize to 50 % and 25 %, crop 10 % and 25 % (centre,
each side), a screenshot-like rescale (67 %, bilinear) + JPEG q80, brightness and contrast +-20 %.  Per
attack: bit accuracy (share of the 64 bits read right) and detection rate (the word found and equal to the
one embedded).  Reported, not judged: the issue sets no robustness target; the crop rows show the scheme's
known limit (the grid moves).

Targets (issue 17 "Must show"):
  false positives on >= 1000 unmarked pictures           <= 1 in 1000 (the measured rate is printed)
  PSNR of the marked picture                              >= 38 dB (the worst picture)
  embed on a 12 MP JPEG (decode, mark, re-encode)         <= 2x a bare Pillow decode + encode   (cpu)
  detect on a 12 MP JPEG                                  <= 1x a bare Pillow decode + encode   (cpu)

--quick: 40 marked pictures, 200 unmarked, 5 pairs.

Run: python3 bench/bench_watermark.py [--quick] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Bench, in_process, main, make_photo_jpeg, pairs, parser  # noqa: E402

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
        bench.limit(f"detection rate after {name}", 100 * float(np.mean(found[name])), None, "%",
                    note=f"{sum(found[name])} of {len(found[name])}")
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


def body(bench: Bench) -> None:
    from aigclabel import watermark

    if not watermark.available():
        raise RuntimeError(f"the watermark needs numpy: {watermark.EXTRA_HINT}")
    robustness(bench, 40 if bench.quick else 200)
    false_positives(bench, 200 if bench.quick else 1000)
    speed(bench)


if __name__ == "__main__":
    sys.exit(main("watermark", parser(__doc__), body))
