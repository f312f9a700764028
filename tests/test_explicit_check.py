"""Checking visible labels by OCR (rule ``explicit.image``, module ``aigclabel.explicit.ocr``).

Every picture here is drawn with Pillow and the bundled CJK font subset, with a known ink height
(the glyphs' extent as Pillow reports it), then read back by the rule: corners and edges of three
image sizes pass at 5 %, a 3 % label fails with its measured size, "AI" alone lacks the generation
element, a label in the centre is not at an edge, an unlabelled picture has no label, and the 2023
TC260 sizing (20 px) is honoured. Without the OCR extra the check is *not checked*, never a pass.
"""

from __future__ import annotations

import io
import math
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

import aigclabel
from aigclabel import Level, Verdict
from aigclabel.explicit import ocr
from aigclabel.profiles import load_profile
from aigclabel.rules import explicit_image as rule

needs_ocr = pytest.mark.skipif(not ocr.available(), reason="OCR extra not installed (pip install 'aigclabel[ocr]')")

POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "bottom", "top", "left", "right")
SIZES = ((300, 600), (1600, 900), (4000, 3000))
GB = "cn-gb45438-2025"
TC260 = "cn-tc260-2023"


# ------------------------------------------------------------------------------------------ drawing


def font_path() -> str:
    """The bundled CJK subset (so CI needs no system fonts)."""
    try:
        from aigclabel.explicit.fonts import BUNDLED_FONT

        if Path(BUNDLED_FONT).is_file():
            return str(BUNDLED_FONT)
    except ImportError:  # pragma: no cover - the font module arrives with the marking work
        pass
    found = sorted((Path(ocr.__file__).parent / "fonts").glob("*.[ot]t[fc]"))
    if found:  # pragma: no cover
        return str(found[0])
    pytest.skip("the bundled CJK font subset is not present")  # pragma: no cover


_FONTS: dict[int, ImageFont.FreeTypeFont] = {}


def _font(size: int) -> ImageFont.FreeTypeFont:
    if size not in _FONTS:
        _FONTS[size] = ImageFont.truetype(font_path(), size)
    return _FONTS[size]


def font_for_ink(text: str, ink: int) -> ImageFont.FreeTypeFont:
    """The smallest font size whose rendered ink is at least *ink* px high."""
    size = max(4, ink)
    for _ in range(6):
        size = max(4, round(size * ink / max(1, _ink(text, size))))
    while _ink(text, size) < ink:
        size += 1
    while size > 4 and _ink(text, size - 1) >= ink:
        size -= 1
    return _font(size)


def _ink(text: str, size: int) -> int:
    return ink_box(text, _font(size))[3] - ink_box(text, _font(size))[1]


_INK: dict[tuple[str, int], tuple[int, int, int, int]] = {}


def ink_box(text: str, font: ImageFont.FreeTypeFont) -> tuple[int, int, int, int]:
    """Where *text* drawn at (0, 0) puts ink: the rows and columns at least half covered (the
    glyphs' solid extent; Pillow's text bbox is font metrics and can be a few pixels larger)."""
    key = (text, font.size)
    if key not in _INK:
        x0, y0, x1, y1 = font.getbbox(text)
        canvas = Image.new("L", (x1 + 4, y1 + 4), 0)
        ImageDraw.Draw(canvas).text((0, 0), text, font=font, fill=255)
        _INK[key] = canvas.point([0] * 128 + [255] * 128).getbbox() or (0, 0, 0, 0)
    return _INK[key]


def background(size: tuple[int, int], kind: str) -> Image.Image:
    w, h = size
    if kind == "noisy":  # seeded, so every run sees the same picture
        import numpy as np

        rng = np.random.default_rng(w * 7919 + h)
        noise = rng.integers(0, 256, (h, w), dtype=np.uint8)
        grad = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, axis=0)
        rgb = np.stack([noise, ((grad + noise) / 2).astype(np.uint8), (255 - grad).astype(np.uint8)], axis=2)
        return Image.fromarray(rgb, "RGB")
    colour = {"plain": (96, 128, 160), "dark": (12, 12, 16), "light": (248, 248, 244)}[kind]
    return Image.new("RGB", (w, h), colour)


def draw_label(size: tuple[int, int], text: str = "AI生成", ratio: float = 0.05, position: str = "bottom-right",
               kind: str = "plain", *, ink_px: int | None = None, gap_em: float | None = None,
               ) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A picture with *text* whose ink height is ceil(ratio x shortest side) (or *ink_px*), at *position*
    ("centre" too), 3 % of the shortest side from the edges. Returns the picture and the ink box.

    Light text on dark backgrounds and dark on light; on a noisy background white text on a dark plate.
    With *gap_em*, "AI" and the rest are drawn apart by that many line heights.
    """
    w, h = size
    short = min(w, h)
    ink = ink_px if ink_px is not None else math.ceil(ratio * short - 1e-9)
    font = font_for_ink(text, ink)
    im = background(size, kind)
    draw = ImageDraw.Draw(im)
    parts = [text] if gap_em is None else [text[:2], text[2:]]
    boxes = [ink_box(p, font) for p in parts]
    widths = [b[2] - b[0] for b in boxes]
    gap = 0 if gap_em is None else round(gap_em * ink)
    tw = sum(widths) + gap * (len(parts) - 1)
    x0t, y0t, x1t, y1t = ink_box(text, font)
    th = y1t - y0t
    m = round(0.03 * short)
    xs = {"left": m, "right": w - m - tw, "c": (w - tw) // 2}
    ys = {"top": m, "bottom": h - m - th, "c": (h - th) // 2}
    v, hz = {"centre": ("c", "c"), "bottom": ("bottom", "c"), "top": ("top", "c"), "left": ("c", "left"),
             "right": ("c", "right")}.get(position, tuple(position.split("-")))  # type: ignore[arg-type]
    x, y = xs[hz], ys[v]
    fill = {"dark": (255, 255, 255), "light": (10, 10, 10), "plain": (255, 255, 255), "noisy": (255, 255, 255)}[kind]
    if kind == "noisy":  # a dark plate, 78 % opaque, padded 0.35/0.25 ink heights (as the marker draws it)
        px, py = max(3, round(0.35 * ink)), max(2, round(0.25 * ink))
        plate = (x - px, y - py, x + tw + px, y + th + py)
        region = im.crop(plate)
        im.paste(Image.blend(region, Image.new("RGB", region.size, (0, 0, 0)), 200 / 255), plate[:2])
    cx = x
    for part, box, pw in zip(parts, boxes, widths):
        draw.text((cx - box[0], y - y0t), part, font=font, fill=fill)
        cx += pw + gap
    return im, (x, y, x + tw, y + th)


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def run(im: Image.Image, profile: str = GB, **options: object) -> rule.Finding:  # type: ignore[name-defined]
    prof = load_profile(profile)
    opts = dict(prof.rules[rule.ID].options, **options)
    (finding,) = rule.assess(rule.Decoded(im, *im.size), prof, opts)
    return finding


def measured_ratio(finding) -> float:  # type: ignore[no-untyped-def]
    m = re.search(r"ink height \d+ px = ([\d.]+) % of the shortest side", finding.message)
    assert m, finding.message
    return float(m.group(1)) / 100


# ------------------------------------------------------------------------------------ no OCR


def test_without_ocr_the_check_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "available", lambda: False)
    im, _ = draw_label((160, 120), ratio=0.1)
    report = aigclabel.verify(png_bytes(im), scope="explicit")
    (f,) = report.findings
    assert f.rule == "explicit.image" and f.level is Level.NOT_CHECKED
    assert "OCR is not installed" in f.message and "pip install 'aigclabel[ocr]'" in f.message
    assert report.verdict is Verdict.INCONCLUSIVE and report.exit_code == 3


def test_a_broken_ocr_import_is_not_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "available", lambda: True)
    monkeypatch.setattr(ocr, "_engine", None)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # makes the import fail
    im, _ = draw_label((160, 120), ratio=0.1)
    (f,) = aigclabel.verify(png_bytes(im), scope="explicit").findings
    assert f.level is Level.NOT_CHECKED and "pip install 'aigclabel[ocr]'" in f.message


def test_importing_the_library_does_not_load_ocr() -> None:
    code = ("import sys, aigclabel, aigclabel.rules.explicit_image, aigclabel.explicit.ocr\n"
            "heavy = [m for m in ('rapidocr_onnxruntime', 'onnxruntime', 'cv2', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------ unit parts


def tb(text: str, x0: float, y0: float, x1: float, y1: float, conf: float = 0.9) -> ocr.TextBox:
    return ocr.TextBox(text, (x0, y0, x1, y1), conf, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_merge_lines_joins_split_label_and_keeps_other_lines() -> None:
    merged = ocr.merge_lines([tb("生成", 160, 100, 240, 140), tb("AI", 100, 102, 150, 139),
                              tb("AI", 100, 300, 150, 340), tb("2024", 900, 100, 1000, 140)])
    texts = sorted(m.text for m in merged)
    assert texts == ["2024", "AI", "AI生成"]
    joined = next(m for m in merged if m.text == "AI生成")
    assert joined.box == (100, 100, 240, 140) and joined.confidence == 0.9


def test_dedupe_keeps_the_longer_reading() -> None:
    kept = ocr.dedupe([tb("AI生", 100, 100, 200, 140), tb("AI生成", 98, 99, 240, 141)])
    assert [k.text for k in kept] == ["AI生成"]


@pytest.mark.parametrize("box,where", [
    ((1450, 800, 1570, 870), "bottom-right"), ((30, 800, 150, 870), "bottom-left"),
    ((1450, 20, 1570, 80), "top-right"), ((20, 20, 150, 80), "top-left"),
    ((740, 820, 860, 870), "bottom"), ((740, 20, 860, 70), "top"),
    ((20, 420, 140, 470), "left"), ((1460, 420, 1580, 470), "right"),
    ((740, 420, 860, 470), "centre"), ((300, 300, 420, 350), "centre"),
])
def test_position_names(box: tuple[int, int, int, int], where: str) -> None:
    assert rule.position_of(box, 1600, 900, 0.1) == where


def test_edge_regions_cover_every_border_pixel() -> None:
    w, h = 560, 320
    regions = ocr.edge_regions(w, h, 0.15)
    assert regions[0].name == "bottom-right" and [r.name for r in regions[:4]] == list(POSITIONS[:4])

    def covered(x: int, y: int) -> bool:
        return any(r.box[0] <= x < r.box[2] and r.box[1] <= y < r.box[3] for r in regions)

    border = [(x, y) for x in range(0, w, 7) for y in (0, h - 1)] + [(x, y) for y in range(0, h, 7) for x in (0, w - 1)]
    assert all(covered(x, y) for x, y in border)
    # the bands are a small part of the picture: that is where the speed comes from
    assert sum(r.area for r in regions[:4]) < 0.3 * w * h


def test_ocr_text_normalisation() -> None:
    assert rule._normalise("Al生成") == "AI生成" and rule._normalise("ＡＩ生成") == "AI生成"
    assert rule._normalise("ai合成") == "AI合成" and rule._normalise("ALL") == "ALL"


def test_ocr_scale_follows_the_thresholds() -> None:
    gb = load_profile(GB).rules[rule.ID].options
    tc = load_profile(TC260).rules[rule.ID].options
    # a label at half the required height is read at about 20 px
    assert rule.ocr_scale(2048, 2048, gb) == pytest.approx(20 / (0.5 * 0.05 * 2048))
    assert rule.ocr_scale(600, 600, gb) == pytest.approx(40 / 30)  # small pictures grow ...
    assert rule.ocr_scale(300, 600, gb) == 2.0  # ... at most twice
    assert rule.ocr_scale(1600, 900, tc) == 2.0  # 20 px labels need detail
    assert rule.ocr_scale(8000, 6000, tc) ** 2 * 8000 * 6000 <= 8_000_000 * 1.0001  # bounded work


def test_new_options_validate_in_profiles(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('id = "x"\nextends = "cn-gb45438-2025"\n[rules."explicit.image"]\nband_ratio = 0.2\n'
                 "full_image_fallback = false\nocr_min_confidence = 0.6\nrequire_edge = false\n")
    opts = load_profile(p).rules[rule.ID].options
    assert opts["band_ratio"] == 0.2 and opts["full_image_fallback"] is False and opts["require_edge"] is False


# ----------------------------------------------------------------------------- OCR: positions


@needs_ocr
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("position", POSITIONS)
def test_label_at_5_percent_passes_at_every_position(size: tuple[int, int], position: str) -> None:
    im, ink = draw_label(size, ratio=0.05, position=position)
    f = run(im)
    assert f.level is Level.PASS, f.message
    assert f.location is not None and f.location.endswith(f"({position})")
    assert "'AI生成'" in f.message and "both elements present" in f.message
    assert measured_ratio(f) == pytest.approx((ink[3] - ink[1]) / min(size), abs=0.0035)
    assert "ink height is the stricter reading" in f.message  # the assumption is stated


@needs_ocr
@pytest.mark.parametrize("kind", ["dark", "light", "noisy"])
def test_backgrounds(kind: str) -> None:
    im, _ = draw_label((1200, 800), ratio=0.05, position="bottom-right", kind=kind)
    f = run(im)
    assert f.level is Level.PASS, f.message


@needs_ocr
def test_label_at_3_percent_fails_with_measured_ratio() -> None:
    im, (x0, y0, x1, y1) = draw_label((1600, 900), ratio=0.03)
    f = run(im)
    assert f.level is Level.ERROR and "too small" in f.message, f.message
    assert measured_ratio(f) == pytest.approx((y1 - y0) / 900, abs=0.0015)
    assert measured_ratio(f) == pytest.approx(0.03, abs=0.002)
    assert "required ink height >= 5 % of the shortest side (45 px)" in f.message
    assert re.search(r"ink height \d+ px \(3\.\d % of the shortest side\)", f.actual or "")


@needs_ocr
def test_a_label_just_under_5_percent_fails() -> None:
    im, (x0, y0, x1, y1) = draw_label((1600, 900), ratio=0.045, kind="noisy")
    f = run(im)
    assert f.level is Level.ERROR and "too small" in f.message, f.message
    assert measured_ratio(f) == pytest.approx((y1 - y0) / 900, abs=0.0015)


@needs_ocr
@pytest.mark.parametrize("position", ["left", "bottom"])
def test_long_label_across_band_seams(position: str) -> None:
    """A long notice is wider than the bands: they grow until the line is read whole."""
    im, (x0, y0, x1, y1) = draw_label((1600, 900), text="本内容由人工智能生成合成", ratio=0.05, position=position,
                                      kind="noisy")
    f = run(im)
    assert f.level is Level.PASS and "'本内容由人工智能生成合成'" in f.message, f.message
    assert f.location is not None and f.location.endswith(f"({position})")
    assert measured_ratio(f) == pytest.approx((y1 - y0) / 900, abs=0.002)


@needs_ocr
def test_panorama_edge_label() -> None:
    im, _ = draw_label((6000, 500), ratio=0.06, position="bottom", kind="noisy")
    f = run(im)
    assert f.level is Level.PASS and f.location is not None and f.location.endswith("(bottom)"), f.message


@needs_ocr
@pytest.mark.parametrize("size", [(24, 16), (1, 1), (3, 500)])
def test_tiny_images_are_checked_without_errors(size: tuple[int, int]) -> None:
    report = aigclabel.verify(png_bytes(background(size, "plain")), scope="explicit")
    (f,) = report.findings
    assert f.level is Level.ERROR and "no visible label found" in f.message


@needs_ocr
def test_ai_alone_lacks_generation_element() -> None:
    im, _ = draw_label((1200, 800), text="AI", ratio=0.06)
    f = run(im)
    assert f.level is Level.ERROR and "lacks a generation element" in f.message, f.message
    assert "too small" not in f.message and "not at an edge" not in f.message


@needs_ocr
def test_label_in_the_centre_is_not_at_an_edge() -> None:
    im, _ = draw_label((1200, 800), ratio=0.06, position="centre")
    f = run(im)
    assert f.level is Level.ERROR and "not at an edge or corner" in f.message, f.message
    assert f.location is not None and f.location.endswith("(centre)")
    # without the whole-image fallback the bands are all that is read
    f2 = run(im, full_image_fallback=False)
    assert f2.level is Level.ERROR and "no visible label found" in f2.message


@needs_ocr
def test_unlabelled_image_fails() -> None:
    f = run(background((1200, 800), "noisy"))
    assert f.level is Level.ERROR and f.message.startswith("no visible label found"), f.message


@needs_ocr
def test_other_text_is_not_a_label() -> None:
    im, _ = draw_label((1200, 800), text="Harbour 2024", ratio=0.06)
    f = run(im)
    assert f.level is Level.ERROR and "no visible label found" in f.message and "Harbour" in f.message


@needs_ocr
def test_split_boxes_on_one_line_count_as_one_label() -> None:
    im, _ = draw_label((1200, 800), ratio=0.06, gap_em=1.0)
    f = run(im)
    assert f.level is Level.PASS and "'AI生成'" in f.message.replace(" ", ""), f.message


@needs_ocr
def test_tc260_sizing_passes_a_22px_label_on_a_large_image() -> None:
    im, _ = draw_label((2400, 1800), ink_px=22)
    data = png_bytes(im)
    tc = aigclabel.verify(data, profile=TC260, scope="explicit")
    assert tc.verdict is Verdict.COMPLIANT, tc.findings[0].message
    assert "ink height >= 20 px" in tc.findings[0].message
    gb = aigclabel.verify(data, profile=GB, scope="explicit")
    assert gb.verdict is Verdict.NONCOMPLIANT and "too small" in gb.findings[0].message


@needs_ocr
def test_calibration_ocr_box_versus_ink() -> None:
    """OCR boxes are padded around the glyphs; the rule measures the ink inside them.

    Under the rule's own OCR scaling, records the OCR box height / drawn ink height and the error of
    the measured ink, and checks that the fallback factor ``box_to_ink`` (used only when the ink
    cannot be told from the background) lies within what the engine does.
    """
    ratios, errors = [], []
    cases = [((300, 600), 0.05, "plain"), ((1600, 900), 0.05, "light"), ((1600, 900), 0.1, "dark"),
             ((1200, 1200), 0.03, "noisy"), ((2048, 2048), 0.06, "noisy"), ((800, 600), 0.2, "plain")]
    for size, r, kind in cases:
        im, (x0, y0, x1, y1) = draw_label(size, ratio=r, kind=kind)
        f = run(im)
        m = re.search(r"ink height (\d+) px = .*?measured inside the OCR box of (\d+) px", f.message)
        assert m, f.message
        ratios.append(int(m.group(2)) / (y1 - y0))
        errors.append(int(m.group(1)) - (y1 - y0))
    print(f"OCR box / ink height: {', '.join(f'{r:.2f}' for r in ratios)}; "
          f"ink measured - drawn (px): {errors}")
    assert all(1.02 <= r <= 1.7 for r in ratios)
    assert min(ratios) <= rule.OPTIONS["box_to_ink"] <= max(ratios)
    # half-covered rows are the drawn ink; the rule also counts one fainter anti-aliased row a side
    assert all(-1 <= e <= 2 for e in errors)


# ------------------------------------------------------------------------------------ end to end


@needs_ocr
def test_verify_end_to_end_verdicts() -> None:
    good, _ = draw_label((1600, 900), ratio=0.05)
    report = aigclabel.verify(png_bytes(good), scope="explicit")
    (f,) = report.findings
    assert report.verdict is Verdict.COMPLIANT and f.level is Level.PASS
    assert f.clause.startswith("Measures Art. 4") and f.expected and f.actual
    small, _ = draw_label((1600, 900), ratio=0.03)
    assert aigclabel.verify(png_bytes(small), scope="explicit").verdict is Verdict.NONCOMPLIANT
    bare = background((800, 600), "plain")
    report = aigclabel.verify(png_bytes(bare), scope="explicit")
    assert report.verdict is Verdict.NONCOMPLIANT and report.exit_code == 1
    assert "no visible label found" in report.findings[0].message


@needs_ocr
def test_jpeg_exif_orientation_is_applied() -> None:
    shown, _ = draw_label((900, 600), ratio=0.06, position="bottom-right")
    stored = shown.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back for display
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    (f,) = aigclabel.verify(buf.getvalue(), scope="explicit").findings
    assert f.level is Level.PASS and f.location is not None and f.location.endswith("(bottom-right)"), f.message
    assert "EXIF orientation 6 applied" in f.message


@needs_ocr
def test_large_jpeg_decoded_reduced_still_measures_in_original_pixels() -> None:
    im, (x0, y0, x1, y1) = draw_label((3400, 3400), ratio=0.05, position="top-left")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    decoded = rule.decode(io.BytesIO(buf.getvalue()), load_profile(GB).rules[rule.ID].options)
    assert decoded.image.size == (1700, 1700) and (decoded.width, decoded.height) == (3400, 3400)
    (f,) = aigclabel.verify(buf.getvalue(), scope="explicit").findings
    assert f.level is Level.PASS, f.message
    assert measured_ratio(f) == pytest.approx((y1 - y0) / 3400, abs=0.002)


@needs_ocr
def test_animated_image_checks_the_first_frame() -> None:
    first, _ = draw_label((480, 320), ratio=0.08, kind="dark")
    second = background((480, 320), "light")
    buf = io.BytesIO()
    first.save(buf, "GIF", save_all=True, append_images=[second], duration=[500, 500], loop=0)
    decoded = rule.decode(io.BytesIO(buf.getvalue()), load_profile(GB).rules[rule.ID].options)
    assert "checked the first of 2 frames" in decoded.notes[0]
    (f,) = rule.assess(decoded, load_profile(GB), load_profile(GB).rules[rule.ID].options)
    assert f.level is Level.PASS and "first of 2 frames" in f.message, f.message


# ------------------------------------------------------------------------------ decompression bombs


def _png_claiming(width: int, height: int) -> bytes:
    """A valid little PNG stream whose header claims *width* x *height* (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("limit,size", [(10_000, (150, 100)), (10_000, (400, 400))],
                         ids=["over-limit", "over-twice-limit"])
def test_images_over_the_pixel_limit_are_not_checked(monkeypatch: pytest.MonkeyPatch, limit: int,
                                                     size: tuple[int, int]) -> None:
    monkeypatch.setattr(ocr, "available", lambda: True)
    data = png_bytes(Image.new("RGB", size, (1, 2, 3)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    report = aigclabel.verify(data, scope="explicit")
    (f,) = report.findings
    assert f.level is Level.NOT_CHECKED and "decompression" in f.message, f.message
    assert report.verdict is Verdict.INCONCLUSIVE


def test_png_claiming_billions_of_pixels_is_not_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "available", lambda: True)
    monkeypatch.setattr(ocr, "engine", lambda: pytest.fail("OCR must not run"))
    (f,) = aigclabel.verify(_png_claiming(60_000, 60_000), scope="explicit").findings
    assert f.level is Level.NOT_CHECKED and "decompression" in f.message and "60000x60000" in f.message


def test_undecodable_pixels_are_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "available", lambda: True)
    data = png_bytes(background((64, 64), "noisy"))
    cut = data[: len(data) // 2] + data[-12:]  # IDAT cut short, IEND kept
    try:
        report = aigclabel.verify(cut, scope="explicit")
    except aigclabel.AigcLabelError:
        return  # the handler already refused it: a typed error is fine
    (f,) = report.findings
    assert f.level is Level.NOT_CHECKED and "could not be decoded" in f.message, f.message
