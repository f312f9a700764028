"""Benchmark: checking a visible label in a 2048x2048 JPEG (decode included) against rapidocr on the same file.

Sides (interleaved pairs; CPU time = user + system of all threads, OCR engines are multi-threaded):
* ours: ``aigclabel.verify(photo.jpg, scope="explicit")`` - decode (reduced, JPEG draft mode) then OCR of the
  corner and edge bands first, stopping at the first qualifying label;
* rapidocr alone, as a user would run it: ``RapidOCR()("photo.jpg")`` with its defaults - it decodes the file and
  reads the whole picture (the strongest plain baseline);
* issue #3's comparison, now with the decode on both sides: our band-first check against the same check reading the
  whole image (same engine, same OCR scale, same decoded pixels).

The picture is photo-like noise and gradients with "AI生成" in the bottom-right corner, ink 5.5 % of the side,
white on a translucent dark plate (as ``aigclabel mark`` draws it), saved as a quality-90 JPEG.

Targets (issue #3, and the same ratio against rapidocr alone, issue 15):
  explicit check of the JPEG, decode included      <= 0.25x rapidocr on the file (decode included)
  band-first check, decode included                <= 0.25x the whole-image check, decode included (issue #3)

Run: python3 bench/bench_ocr.py [--quick] [--pairs N] [--target-scale F]   (needs the [ocr] extra)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import Bench, in_process, main, pairs, parser  # noqa: E402

SIZE = 2048


def font_path() -> str:
    """The bundled CJK font subset (aigclabel/explicit/fonts/)."""
    from aigclabel.explicit.fonts import BUNDLED_FONT

    return str(BUNDLED_FONT)


def make_image() -> Image.Image:
    """A photo-like 2048x2048 picture (noise and gradients) with "AI生成" in the bottom-right corner,
    ink height 5.5 % of the side, white on a translucent dark plate (as `aigclabel mark` draws it)."""
    noise = Image.effect_noise((SIZE, SIZE), 50).convert("L")
    grad = Image.linear_gradient("L").resize((SIZE, SIZE))
    im = Image.merge("RGB", (noise, grad.transpose(Image.Transpose.ROTATE_90), Image.blend(noise, grad, 0.5)))
    draw = ImageDraw.Draw(im)
    ink = round(0.055 * SIZE)
    font = ImageFont.truetype(font_path(), ink)
    for _ in range(4):  # font size giving the wanted ink height
        x0, y0, x1, y1 = draw.textbbox((0, 0), "AI生成", font=font)
        font = ImageFont.truetype(font_path(), max(4, round(font.size * ink / (y1 - y0))))
    x0, y0, x1, y1 = draw.textbbox((0, 0), "AI生成", font=font)
    margin = round(0.02 * SIZE)
    px, py = round(0.35 * ink), round(0.25 * ink)
    plate = (SIZE - margin - (x1 - x0) - 2 * px, SIZE - margin - (y1 - y0) - 2 * py, SIZE - margin, SIZE - margin)
    region = im.crop(plate)
    im.paste(Image.blend(region, Image.new("RGB", region.size, (0, 0, 0)), 200 / 255), (int(plate[0]), int(plate[1])))
    draw.text((plate[0] + px - x0, plate[1] + py - y0), "AI生成", font=font, fill=(255, 255, 255))
    return im


def body(bench: Bench) -> None:
    import aigclabel
    from aigclabel.explicit import ocr
    from aigclabel.profiles import load_profile
    from aigclabel.report import Level
    from aigclabel.rules import explicit_image

    if not ocr.available():
        raise RuntimeError("the OCR extra is not installed: pip install 'aigclabel[ocr]'")
    from rapidocr_onnxruntime import RapidOCR

    profile = load_profile("cn-gb45438-2025")
    options = profile.rules[explicit_image.ID].options
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        path = Path(tmp) / "photo.jpg"
        make_image().save(path, "JPEG", quality=90)
        print(f"{SIZE}x{SIZE} JPEG, {path.stat().st_size / 1e6:.2f} MB, label in the bottom-right corner")
        rapid = RapidOCR()

        def ours() -> object:
            return aigclabel.verify(path, profile=profile, scope="explicit")

        def rapidocr_alone() -> object:
            return rapid(str(path))

        def check(bands: bool) -> object:
            with open(path, "rb") as fh:
                decoded = explicit_image.decode(fh, options)
            return list(explicit_image.assess(decoded, profile, options, bands=bands))

        report = ours()
        finding = next((f for f in report.findings if f.rule == explicit_image.ID), None)  # type: ignore[attr-defined]
        found = finding is not None and finding.level is Level.PASS
        bench.check("our check finds the label", found, f"{finding.level.value}: {finding.actual}" if finding else
                    "no explicit.image finding")
        result: Any = rapidocr_alone()
        texts = [r[1] for r in result[0] or []]
        print(f"  rapidocr alone read: {texts[:8]}")

        base, mine = pairs(in_process(rapidocr_alone), in_process(ours), bench.n)
        bench.ratio("2048² JPEG explicit check, decode included", base, mine, 0.25, baseline="rapidocr on the file")
        base, mine = pairs(in_process(lambda: check(False)), in_process(lambda: check(True)), bench.n)
        bench.ratio("band-first vs whole-image check, decode included", base, mine, 0.25,
                    baseline="whole-image check")


if __name__ == "__main__":
    sys.exit(main("ocr", parser(__doc__), body))
