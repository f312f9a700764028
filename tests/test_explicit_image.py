"""Real-file tests of the visible (explicit) image label.

Every picture is made here with Pillow; every check reads the result back with an independent reader:
Pillow for pixels, quantisation tables, frames and timings; our own byte walkers in conftest for JPEG
segments and PNG chunks; exiftool for the implicit record; RapidOCR (the ``[ocr]`` extra) for reading
the label.  The label's size is measured from the pixels (the marked picture diffed against the
source), never taken from what the marker reports.  Nothing is mocked.
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageOps, ImageStat, JpegImagePlugin

import aigclabel
from aigclabel._io import CountingReader
from aigclabel.errors import LabelError, UnsupportedOperation
from aigclabel.explicit import POSITIONS, ExplicitOptions, marker_for
from aigclabel.explicit import fonts as fontmod
from aigclabel.explicit.image import ImageMarker, stored_box, TO_DISPLAY
from aigclabel.formats._webp_bits import estimate_webp_quality, riff_chunks
from aigclabel.explicit.render import Sizing, plan_label, render_label
from aigclabel.formats import handler_for
from aigclabel.profiles import load_profile

from conftest import (
    PRODUCER,
    jpeg_segments,
    make_exif,
    make_jpeg,
    make_png,
    picture,
    png_chunk,
    png_chunks,
    png_insert,
    raw_png,
    srgb_icc,
    tool_get,
    xmp_packet,
)

ROOT = Path(__file__).resolve().parent.parent
CJK_NOTICES = ("作品含AI生成内容", "疑似使用了AI生成技术，请谨慎甄别", "内容由AI生成", "可能为AI生成",
               "本内容由人工智能生成合成", "人工智能生成", "由人工智能生成")
LABEL_WORDS = ("标识", "合成", "生成", "人工智能", "本", "内容", "由", "图", "片", "视", "频", "音")


# ----------------------------------------------------------------------------------------- helpers


def explicit(data: bytes, text: str = "AI生成", **kw: Any) -> Any:
    """Run only the explicit step (ImageMarker.apply) on *data*, with the format's real handler."""
    src = CountingReader(io.BytesIO(data), "<test>", len(data))
    handler = handler_for(src)
    return ImageMarker().apply(src, handler, ExplicitOptions(text=text, **kw))


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def blank_box(im: Image.Image, box: tuple[int, int, int, int] | list[int]) -> bytes:
    """Pixel bytes of *im* with *box* filled with zeros (to compare everything outside it)."""
    im = im.copy()
    im.paste(0 if len(im.getbands()) == 1 else (0,) * len(im.getbands()), tuple(box))
    return im.tobytes()


def gradient(size: tuple[int, int], dark: bool = False) -> Image.Image:
    """A smooth picture (compresses cleanly, so JPEG differences come from the label only)."""
    w, h = size
    g = Image.linear_gradient("L").resize((w, h))
    g2 = Image.linear_gradient("L").rotate(90).resize((w, h))
    if dark:
        g, g2 = g.point(lambda v: v // 5), g2.point(lambda v: v // 6)
    return Image.merge("RGB", (g, g2, Image.blend(g, g2, 0.5)))


def measure_label(before: Image.Image, after: Image.Image, threshold: int = 40) -> dict[str, Any]:
    """Find the label by diffing *after* against *before* (both as displayed) and measure its ink.

    The plate is the bounding box of clearly changed pixels; inside it the text is the set of pixels
    near the text colour (white on a dark plate, black on a light one).  Ink height is the number of
    rows from the first to the last row holding text pixels.
    """
    a, b = before.convert("RGB"), after.convert("RGB")
    changed = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > threshold else 0)
    plate = changed.getbbox()
    assert plate is not None, "no label found: the picture did not change"
    crop = b.crop(plate).convert("L")
    dark_plate = ImageStat.Stat(crop).median[0] < 128
    text = crop.point(lambda v: 255 if (v >= 200 if dark_plate else v <= 55) else 0)
    ink = text.getbbox()
    assert ink is not None, "no text pixels inside the label plate"
    return {"plate": plate, "ink_height": ink[3] - ink[1], "ink_width": ink[2] - ink[0],
            "ink": (plate[0] + ink[0], plate[1] + ink[1], plate[0] + ink[2], plate[1] + ink[3])}


def assert_at(position: str, plate: tuple[int, int, int, int], size: tuple[int, int]) -> None:
    """The plate sits at *position*: within 4 % of the shortest side from the named edges, centred else."""
    w, h = size
    tol = max(4, round(0.04 * min(w, h)))
    x0, y0, x1, y1 = plate
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    horizontal = "left" if "left" in position else "right" if "right" in position else "centre"
    vertical = "top" if "top" in position else "bottom" if "bottom" in position else "centre"
    if horizontal == "left":
        assert x0 <= tol, (position, plate)
    elif horizontal == "right":
        assert x1 >= w - tol, (position, plate)
    else:
        assert abs(cx - w / 2) <= 3, (position, plate)
    if vertical == "top":
        assert y0 <= tol, (position, plate)
    elif vertical == "bottom":
        assert y1 >= h - tol, (position, plate)
    else:
        assert abs(cy - h / 2) <= 3, (position, plate)
    assert x0 >= 1 and y0 >= 1 and x1 <= w - 1 and y1 <= h - 1, "the label touches the edge (no margin)"


def has_format_handler(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"aigclabel.formats.{name}") is not None


def require_handler(name: str) -> None:
    """End-to-end tests of a format need its implicit handler (written in parallel, issue #3)."""
    if not has_format_handler(name):
        pytest.skip(f"aigclabel.formats.{name} is not in this tree yet: the implicit {name.upper()} handler "
                    "arrives with issue #3's 'Implicit labels' part; ImageMarker.apply is tested directly")


# ----------------------------------------------------------------------------------------- fonts


def profile_strings() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        import tomli as tomllib  # type: ignore[no-redef]
    out = []
    for path in sorted((ROOT / "profiles").glob("*.toml")):
        marking = tomllib.loads(path.read_text("utf-8")).get("marking", {})
        out += [marking[k] for k in ("image_text", "text_notice") if k in marking]
    return out


def test_bundled_font_is_small_licensed_and_covers_every_default_string() -> None:
    font = fontmod.BUNDLED_FONT
    assert font.is_file() and font.stat().st_size < 200_000
    licence = (font.parent / "OFL.txt").read_text("utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Adobe" in licence
    readme = (font.parent / "README.md").read_text("utf-8")
    assert "fonts-noto-cjk" in readme and "make_font_subset.py" in readme
    wanted = "".join(chr(c) for c in range(0x20, 0x7F)) + "".join(profile_strings()) + "".join(CJK_NOTICES) \
        + "".join(LABEL_WORDS)
    assert profile_strings(), "no profile strings found"
    assert fontmod.missing_glyphs(font, wanted) == []
    for text in (*profile_strings(), *CJK_NOTICES):
        assert fontmod.resolve_font(text, use_system=False).source == "bundled"


def test_cmap_reader_agrees_with_fonttools() -> None:
    ttlib = pytest.importorskip("fontTools.ttLib", reason="fontTools cross-checks our cmap reader")
    fonts = [(fontmod.BUNDLED_FONT, 0)]
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"):
        if Path(path).is_file():
            fonts.append((Path(path), 2 if path.endswith(".ttc") else 0))
    for path, index in fonts:
        cmap = ttlib.TTFont(path, fontNumber=index).getBestCmap()
        expected = {c for c, g in cmap.items() if g != ".notdef"}
        assert set(fontmod.font_coverage(path, index)) == expected, path


def test_missing_glyphs_are_named_never_drawn() -> None:
    # 鑫 is not in the bundled subset; without system fonts nothing can draw it
    with pytest.raises(LabelError, match=r"glyphs missing for '鑫' \(U\+946B\)"):
        fontmod.resolve_font("AI生成鑫", use_system=False)
    # a font given explicitly is never silently replaced
    with pytest.raises(LabelError, match=r"glyphs missing for '鑫' \(U\+946B\)"):
        fontmod.resolve_font("AI生成鑫", fontmod.BUNDLED_FONT)
    # ... and the pipeline stops before writing anything
    with pytest.raises(LabelError, match="U\\+946B"):
        aigclabel.mark(make_png(size=(200, 120)), producer=PRODUCER, text="AI生成鑫",
                       font=str(fontmod.BUNDLED_FONT))


def latin_font(tmp_path: Path) -> Path:
    """Pillow's own default font (Aileron, Latin only), written to a file."""
    from PIL import ImageFont

    default = ImageFont.load_default(12)
    data = getattr(default, "path", None)
    if not hasattr(data, "getvalue"):
        pytest.skip("this Pillow has no FreeType default font")
    path = tmp_path / "latin-only.otf"
    path.write_bytes(data.getvalue())  # type: ignore[union-attr]
    return path


def test_font_without_cjk_glyphs_is_refused(tmp_path: Path) -> None:
    latin = latin_font(tmp_path)
    with pytest.raises(LabelError, match=r"'生成' \(U\+751F, U\+6210\)"):
        explicit(make_png(size=(200, 120)), font=str(latin))
    with pytest.raises(LabelError, match=r"'生成' \(U\+751F, U\+6210\)"):
        aigclabel.mark(make_jpeg(size=(200, 120)), producer=PRODUCER, font=str(latin))
    # the same font is fine for text it covers
    assert explicit(make_png(size=(200, 120)), text="AI generated", font=str(latin)).details["font_path"] \
        == str(latin)


def test_system_font_fallback_for_text_outside_the_subset() -> None:
    found = fontmod.system_fonts("AI生成鑫")
    if not found:
        pytest.skip("no system CJK font with 鑫 installed (Debian: fonts-noto-cjk)")
    choice = fontmod.resolve_font("AI生成鑫")
    assert choice.source == "system" and fontmod.missing_glyphs(choice.path, "AI生成鑫", choice.index) == []
    result = explicit(make_png(size=(400, 300)), text="AI生成鑫")
    assert result.details["font_path"] == choice.path


# ----------------------------------------------------------------------------------------- sizing


@pytest.mark.parametrize("size", [(300, 600), (1600, 900), (4000, 3000)])
@pytest.mark.parametrize("position", POSITIONS)
def test_every_position_and_size_meets_five_percent_ink_height(size: tuple[int, int], position: str) -> None:
    before = gradient(size, dark=position in ("top", "left"))
    after = before.copy()
    _im, layout = render_label(after, "AI生成", position)
    found = measure_label(before, after)
    short = min(size)
    assert found["ink_height"] / short >= 0.05, found
    assert_at(position, found["plate"], size)
    # the reported box holds everything that changed, and its numbers match the measurement
    x0, y0, x1, y1 = layout.box
    p = found["plate"]
    assert x0 <= p[0] and y0 <= p[1] and p[2] <= x1 and p[3] <= y1
    assert abs(layout.ink_height - found["ink_height"]) <= 1 and layout.height_ratio >= 0.05


@pytest.mark.parametrize("size", [(300, 600), (1600, 900), (4000, 3000)])
def test_jpeg_end_to_end_ink_ratio_from_pixels(size: tuple[int, int]) -> None:
    src_im = gradient(size)
    src = make_jpeg(image=src_im, quality=92)
    out = aigclabel.mark(src, producer=PRODUCER)
    found = measure_label(decode(src), decode(out))
    assert found["ink_height"] / min(size) >= 0.05, found
    assert_at("bottom-right", found["plate"], size)
    assert aigclabel.verify(out, scope="implicit").ok


def test_tc260_2023_sizing_meets_20_px_or_area() -> None:
    prof = load_profile("cn-tc260-2023")
    rule = prof.rules["explicit.image"].options
    size = (1200, 800)
    before = gradient(size)
    after = before.copy()
    sizing = Sizing(float(rule["min_height_ratio"]), int(rule["min_height_px"]), float(rule["min_area_ratio"]))
    render_label(after, prof.marking.image_text, "bottom-right", sizing)
    found = measure_label(before, after)
    area = found["ink_width"] * found["ink_height"] / (size[0] * size[1])
    assert found["ink_height"] >= 20 or area >= 0.003, (found, area)
    # end to end through the profile
    out = aigclabel.mark(make_png(image=before), producer=PRODUCER, profile="cn-tc260-2023")
    found = measure_label(before, decode(out))
    assert found["ink_height"] >= 20 or found["ink_width"] * found["ink_height"] >= 0.003 * 1200 * 800


def test_text_too_wide_for_the_picture_is_refused_not_clipped() -> None:
    with pytest.raises(LabelError, match="does not fit"):
        plan_label((300, 600), "疑似使用了AI生成技术，请谨慎甄别" * 2)
    with pytest.raises(LabelError, match="does not fit"):
        explicit(make_png(size=(120, 400)), text="本内容由人工智能生成合成" * 2)


def test_small_pictures_get_a_legible_label_not_just_five_percent() -> None:
    layout = plan_label((160, 120), "AI生成")
    assert layout.ink_height >= 12 and layout.height_ratio >= 0.05


# ----------------------------------------------------------------------------------------- wording


def test_text_without_generation_element_is_refused_before_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = ImageMarker.apply
    monkeypatch.setattr(ImageMarker, "apply", lambda self, *a: calls.append(a) or original(self, *a))
    with pytest.raises(LabelError, match="generation element"):
        aigclabel.mark(make_jpeg(size=(200, 150)), producer=PRODUCER, text="AI图片")
    with pytest.raises(LabelError, match="AI element"):
        aigclabel.mark(make_jpeg(size=(200, 150)), producer=PRODUCER, text="内容生成")
    assert calls == []


# ----------------------------------------------------------------------------------------- OCR


@pytest.fixture(scope="module")
def ocr() -> Any:
    rapid = pytest.importorskip("rapidocr_onnxruntime", reason="OCR read-back needs the [ocr] extra")
    np = pytest.importorskip("numpy")
    engine = rapid.RapidOCR()

    def read(im: Image.Image) -> list[str]:
        result, _elapsed = engine(np.asarray(im.convert("RGB"))[:, :, ::-1])
        return [line[1] for line in (result or [])]

    return read


def background(kind: str, size: tuple[int, int] = (800, 600)) -> Image.Image:
    if kind == "dark":
        return Image.new("RGB", size, (12, 14, 20))
    if kind == "light":
        return Image.new("RGB", size, (246, 246, 240))
    if kind == "noisy":
        noise = Image.effect_noise(size, 90).convert("L")
        return Image.merge("RGB", (noise, noise.rotate(180), noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    if kind == "busy":  # white text-like strokes and dark blocks under the label
        im = Image.new("RGB", size, (128, 128, 128))
        d = ImageDraw.Draw(im)
        for i in range(0, size[0], 14):
            d.line((i, 0, i + 80, size[1]), fill=(255, 255, 255) if i % 28 else (0, 0, 0), width=4)
        return im
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["dark", "light", "noisy", "busy"])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_ocr_reads_the_label_on_any_background(ocr: Any, kind: str, fmt: str) -> None:
    bg = background(kind)
    src = make_jpeg(image=bg, quality=90) if fmt == "JPEG" else make_png(image=bg)
    result = aigclabel.mark_file(src, producer=PRODUCER)
    out = result.data
    box = result.explicit_details["box"]
    pad = 10
    crop = decode(out).crop((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad))
    texts = ocr(crop)
    assert any("AI生成" in t.replace(" ", "") for t in texts), texts


def test_ocr_reads_a_long_notice(ocr: Any) -> None:
    im = background("noisy", (1200, 800))
    marked, layout = render_label(im.copy(), "本内容由人工智能生成合成", "top")
    texts = ocr(marked.crop(layout.box))
    assert any("人工智能生成合成" in t for t in texts), texts


# ----------------------------------------------------------------------------------------- JPEG


def app_segments(data: bytes, *, adobe: bool = False) -> list[bytes]:
    segs, _sos = jpeg_segments(data)
    return [s.raw for s in segs if (0xE0 <= s.marker <= 0xEF or s.marker == 0xFE)
            and (adobe or not (s.marker == 0xEE and s.payload.startswith(b"Adobe")))]


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_keeps_quantisation_subsampling_mode_and_segments(mode: str, progressive: bool) -> None:
    xmp = xmp_packet()
    src = make_jpeg(mode, (640, 480), progressive=progressive, quality=83, exif=make_exif(),
                    icc=srgb_icc() if mode == "RGB" else None, comment=b"made by a test", xmp=xmp,
                    image=gradient((640, 480)).convert(mode),
                    extra_segments=[struct.pack(">BBH", 0xFF, 0xEB, 10) + b"JP\x00\x01rest"])
    result = explicit(src)
    a, b = decode(src), decode(result.data)
    assert b.mode == mode and b.size == a.size
    assert b.quantization == a.quantization
    assert JpegImagePlugin.get_sampling(b) == JpegImagePlugin.get_sampling(a)
    assert bool(b.info.get("progressive")) == progressive
    # every APPn/COM segment of the source (Adobe APP14 aside: it describes the new encoding) byte for byte
    assert app_segments(result.data) == app_segments(src)
    # quality: outside the label the re-encode is close to the source
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    diff.paste((0, 0, 0), tuple(result.details["stored_box"]))
    assert max(ImageStat.Stat(diff).mean) < 1.5
    # and the label is there
    assert measure_label(a, b)["ink_height"] / 480 >= 0.05


def test_jpeg_end_to_end_keeps_exif_icc_and_is_compliant(exiftool: Any) -> None:
    exif, icc = make_exif(), srgb_icc()
    src = make_jpeg(size=(800, 600), exif=exif, icc=icc, image=gradient((800, 600)), comment=b"note")
    result = aigclabel.mark_file(src, producer=PRODUCER, produce_id="vis-1")
    out = result.data
    assert result.explicit == "added" and result.explicit_details["height_ratio"] >= 0.05
    b = decode(out)
    assert b.info["exif"] == decode(src).info["exif"] and b.info["icc_profile"] == icc
    assert b.info.get("comment") == b"note"
    report = aigclabel.verify(out, scope="implicit")
    assert report.ok, [f.message for f in report.findings]
    tags = exiftool(out)
    assert '"ProduceID":"vis-1"' in tool_get(tags, "XMP-TC260:AIGC")
    assert tool_get(tags, "IFD0:Make") == "ExampleCam"


def test_jpeg_orientation_6_label_at_displayed_bottom_right() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = gradient((800, 600))
    src = make_jpeg(image=stored, exif=exif.tobytes(), quality=92)
    result = explicit(src)
    out = decode(result.data)
    assert out.getexif()[0x0112] == 6 and out.size == (800, 600)
    shown_before, shown_after = ImageOps.exif_transpose(decode(src)), ImageOps.exif_transpose(out)
    assert shown_after.size == (600, 800)
    found = measure_label(shown_before, shown_after)
    assert_at("bottom-right", found["plate"], (600, 800))
    assert found["ink_height"] / 600 >= 0.05
    # the text reads upright as displayed: wider than tall
    assert found["ink_width"] > found["ink_height"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_stored_box_matches_pillow_transposes(orientation: int) -> None:
    w, h = 9, 5
    im = Image.new("L", (w, h))
    im.putdata(range(w * h))
    shown = im.transpose(TO_DISPLAY[orientation]) if orientation in TO_DISPLAY else im
    for box in ((0, 0, 2, 3), (1, 1, 4, 2), (shown.width - 3, shown.height - 2, shown.width, shown.height)):
        sb = stored_box(box, orientation, (w, h))
        assert sorted(shown.crop(box).tobytes()) == sorted(im.crop(sb).tobytes())


def test_jpeg_mpo_secondary_image_and_trailer_survive() -> None:
    first, second = gradient((640, 480)), picture("RGB", (320, 240))
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[second])
    src = buf.getvalue()
    out = aigclabel.mark(src, producer=PRODUCER)
    b = Image.open(io.BytesIO(out))
    assert b.n_frames == 2
    b.seek(1)
    s = Image.open(io.BytesIO(src))
    s.seek(1)
    assert b.convert("RGB").tobytes() == s.convert("RGB").tobytes()
    assert aigclabel.verify(out, scope="implicit").ok
    # a plain trailer after EOI is kept too
    src2 = make_jpeg(size=(300, 200)) + b"TRAILER-DATA"
    assert explicit(src2).data.endswith(b"\xff\xd9TRAILER-DATA")


# ----------------------------------------------------------------------------------------- PNG


def ancillary(data: bytes) -> list[bytes]:
    return [c.raw for c in png_chunks(data) if c.type not in (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND")]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"])
def test_png_lossless_same_mode_pixels_outside_unchanged_chunks_kept(mode: str) -> None:
    im = picture(mode, (320, 240))
    src = make_png(image=im, exif=make_exif(), icc=srgb_icc() if mode in ("RGB", "RGBA") else None,
                   text=[("Comment", "hello")], ztext=[("Description", "zipped")], itext=[("Title", "标题")],
                   xmp=xmp_packet())
    src = png_insert(src, [png_chunk(b"prVt", b"private data"), png_chunk(b"tIME", b"\x07\xe9\x01\x02\x03\x04\x05")],
                     after_idat=True)
    result = explicit(src)
    a, b = decode(src), decode(result.data)
    assert b.mode == a.mode == im.mode and b.size == a.size
    box = result.details["stored_box"]
    if mode == "P":
        assert b.getpalette()[:len(a.getpalette())] == a.getpalette()  # indices keep their colours
    assert blank_box(b, box) == blank_box(a, box)
    assert b.tobytes() != a.tobytes()
    assert ancillary(result.data) == ancillary(src)  # same chunks, same bytes, same order
    # after IDAT stays after IDAT
    types = [c.type for c in png_chunks(result.data)]
    assert types.index(b"prVt") > types.index(b"IDAT")


def test_png_palette_with_transparency_and_low_contrast_palette() -> None:
    im = Image.new("P", (300, 200), 1)
    im.putpalette([120, 120, 120, 130, 128, 125, 140, 140, 140, 100, 110, 120])
    ImageDraw.Draw(im).rectangle((20, 20, 120, 120), fill=2)
    buf = io.BytesIO()
    im.save(buf, "PNG", transparency=0)
    src = buf.getvalue()
    result = explicit(src)
    b = decode(result.data)
    assert b.mode == "P" and b.info.get("transparency") == 0
    pal = b.getpalette()
    assert pal[:12] == im.getpalette()[:12]
    used = {pal[3 * i:3 * i + 3] and tuple(pal[3 * i:3 * i + 3]) for i in set(b.crop(result.details["box"]).tobytes())}
    assert (0, 0, 0) in used and (255, 255, 255) in used  # black and white were added for the label
    assert blank_box(b, result.details["box"]) == blank_box(decode(src), result.details["box"])


def test_png_colour_key_transparency_never_swallows_label_pixels() -> None:
    im = Image.new("RGB", (300, 200), (250, 250, 250))
    buf = io.BytesIO()
    im.save(buf, "PNG", transparency=(255, 255, 255))
    result = explicit(buf.getvalue())
    b = decode(result.data)
    assert b.info.get("transparency") == (255, 255, 255)
    region = b.crop(result.details["box"])
    assert (255, 255, 255) not in {c for _n, c in region.getcolors(1 << 16)}


def test_png_16_bit_colour_is_refused_rather_than_degraded() -> None:
    with pytest.raises(UnsupportedOperation, match="16-bit"):
        explicit(raw_png(200, 120, bit_depth=16, color_type=2))
    out = explicit(raw_png(200, 120, bit_depth=16, color_type=0))  # 16-bit grey is kept exactly
    assert decode(out.data).mode == "I;16"


def test_png_exif_orientation_honoured() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    stored = gradient((400, 300))
    src = make_png(image=stored, exif=exif.tobytes())
    result = explicit(src)
    shown = ImageOps.exif_transpose(decode(result.data))
    found = measure_label(ImageOps.exif_transpose(decode(src)), shown)
    assert_at("bottom-right", found["plate"], (300, 400))
    assert blank_box(decode(result.data), result.details["stored_box"]) == blank_box(decode(src),
                                                                                      result.details["stored_box"])


# Pillow cannot write a disposing APNG in P or L mode, so those two combinations are not generated.
@pytest.mark.parametrize("mode, variant", [
    (mode, variant)
    for variant in ("sub-rectangles", "separate-default-image", "clearing-disposal")
    for mode in ("RGBA", "RGB", "P", "L")
    if not (variant == "clearing-disposal" and mode in ("P", "L"))
])
def test_apng_label_on_every_frame(mode: str, variant: str) -> None:
    seq = moving_ball(4, alpha=variant == "clearing-disposal")
    if mode == "P":  # a few more colours, so the palette is 4-bit with room for black and white
        for f in seq:
            for i, colour in enumerate([(200, 0, 0, 255), (0, 160, 0, 255), (90, 90, 90, 255)]):
                ImageDraw.Draw(f).rectangle((4 * i, 150, 4 * i + 3, 159), fill=colour)
        seq = [f.convert("RGB").quantize(8) for f in seq]
    else:
        seq = [f.convert(mode) for f in seq]
    kw: dict[str, Any] = {"default_image": True} if variant == "separate-default-image" else {}
    if variant == "clearing-disposal":
        kw["disposal"] = 1
    buf = io.BytesIO()
    seq[0].save(buf, "PNG", save_all=True, append_images=seq[1:], duration=[50, 60, 70, 80], loop=2, **kw)
    src = buf.getvalue()
    result = explicit(src)
    assert decode(result.data).mode == mode
    assert_label_on_every_frame(src, result.data, result.details["box"], lossless=True)
    if variant == "sub-rectangles":
        assert result.details["frames_changed"] == 1
    # sequence numbers of fcTL/fdAT still run 0, 1, 2...
    seqs = [struct.unpack(">I", c.data[:4])[0] for c in png_chunks(result.data) if c.type in (b"fcTL", b"fdAT")]
    assert seqs == list(range(len(seqs)))
    assert all(c.crc_ok for c in png_chunks(result.data))


def test_png_end_to_end_is_compliant_and_keeps_text(exiftool: Any) -> None:
    icc = srgb_icc()  # (each call stamps the current time into the profile)
    src = make_png(size=(500, 400), text=[("Author", "someone")], icc=icc)
    out = aigclabel.mark(src, producer=PRODUCER, produce_id="png-vis")
    assert aigclabel.verify(out, scope="implicit").ok
    tags = exiftool(out)
    assert '"ProduceID":"png-vis"' in tool_get(tags, "XMP-TC260:AIGC")
    assert tool_get(tags, "PNG:Author") == "someone"
    assert decode(out).info["icc_profile"] == icc


# ----------------------------------------------------------------------------------------- WebP


def webp(im: Image.Image, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "WEBP", **kw)
    return buf.getvalue()


def chunk_bytes(data: bytes, skip: tuple[bytes, ...] = (b"VP8 ", b"VP8L", b"ALPH", b"VP8X", b"ANMF")) -> list:
    return [c.raw(data) for c in riff_chunks(data) if c.fourcc not in skip]


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_webp_lossless_stays_lossless_with_metadata(mode: str) -> None:
    im = picture(mode, (320, 240))
    src = webp(im, lossless=True, exact=True, exif=make_exif(), icc_profile=srgb_icc(), xmp=xmp_packet())
    result = explicit(src)
    a, b = decode(src), decode(result.data)
    assert b.mode == a.mode
    assert any(c.fourcc == b"VP8L" for c in riff_chunks(result.data))
    assert blank_box(b, result.details["box"]) == blank_box(a, result.details["box"])
    assert chunk_bytes(result.data) == chunk_bytes(src)  # ICCP, EXIF, XMP byte for byte, in order


@pytest.mark.parametrize("quality", [40, 75, 92])
def test_webp_lossy_matches_source_quality(quality: int) -> None:
    photo = Image.open(ROOT / "samples" / "photo.jpg").convert("RGB").resize((640, 480))
    src = webp(photo, quality=quality)
    result = explicit(src)
    assert abs(result.details["quality"] - quality) <= 3
    vp8 = lambda d: next(c.payload(d) for c in riff_chunks(d) if c.fourcc == b"VP8 ")  # noqa: E731
    assert abs(estimate_webp_quality(vp8(result.data), decode(result.data)) - quality) <= 4
    assert measure_label(decode(src), decode(result.data))["ink_height"] / 480 >= 0.05


def frames(data: bytes) -> tuple[int, Any, list[tuple[Any, Image.Image]]]:
    im = Image.open(io.BytesIO(data))
    out = []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        out.append((im.info.get("duration"), im.convert("RGBA").copy()))
    return getattr(im, "n_frames", 1), im.info.get("loop"), out


def moving_ball(n: int = 6, size: tuple[int, int] = (240, 160), *, changing_background: bool = False,
                alpha: bool = False) -> list[Image.Image]:
    out = []
    for k in range(n):
        bg = (20 * k, 90, 200, 255) if changing_background else (40, 100, 200, 255)
        f = Image.new("RGBA", size, (0, 0, 0, 0) if alpha else bg)
        ImageDraw.Draw(f).ellipse((10 + 20 * k, 10, 50 + 20 * k, 50), fill=(255, 220, 0, 255))
        out.append(f)
    return out


def assert_label_on_every_frame(src: bytes, marked: bytes, box: list[int], *, lossless: bool) -> None:
    n0, loop0, f0 = frames(src)
    n1, loop1, f1 = frames(marked)
    assert (n1, loop1) == (n0, loop0) and [d for d, _ in f1] == [d for d, _ in f0]
    for (_d, a), (_d2, b) in zip(f0, f1):
        if lossless:
            assert blank_box(b, box) == blank_box(a, box)
        found = measure_label(a, b)
        assert found["ink_height"] / min(a.size) >= 0.05


@pytest.mark.parametrize("lossless", [True, False])
@pytest.mark.parametrize("changing", [False, True])
def test_animated_webp_label_on_every_frame(lossless: bool, changing: bool) -> None:
    seq = moving_ball(changing_background=changing)
    buf = io.BytesIO()
    seq[0].save(buf, "WEBP", save_all=True, append_images=seq[1:], duration=[50, 60, 70, 80, 90, 100], loop=3,
                lossless=lossless, quality=80)
    src = buf.getvalue()
    result = explicit(src)
    assert result.details["frames"] == 6
    if not changing:  # frames that never touch the label keep their bytes
        assert result.details["frames_changed"] < 6
    assert_label_on_every_frame(src, result.data, result.details["box"], lossless=lossless)


# ----------------------------------------------------------------------------------------- GIF


def gif(seq: list[Image.Image], **kw: Any) -> bytes:
    buf = io.BytesIO()
    seq[0].save(buf, "GIF", save_all=len(seq) > 1, append_images=seq[1:], **kw)
    return buf.getvalue()


def gif_disposals(data: bytes) -> list[int]:
    im = Image.open(io.BytesIO(data))
    out = []
    for i in range(im.n_frames):
        im.seek(i)
        out.append(im.disposal_method)
    return out


def test_static_gif_keeps_palette_pixels_and_mode() -> None:
    src = gif([picture("P", (300, 200))])
    result = explicit(src)
    a, b = decode(src), decode(result.data)
    assert b.mode == "P" and b.size == a.size
    box = result.details["box"]
    assert blank_box(b.convert("RGB"), box) == blank_box(a.convert("RGB"), box)
    assert measure_label(a, b)["ink_height"] / 200 >= 0.05


@pytest.mark.parametrize("kind", ["full-frames", "sub-rectangles", "transparent-sprite"])
def test_animated_gif_label_on_every_frame_timing_kept(kind: str) -> None:
    if kind == "full-frames":
        src = gif([f.convert("RGB") for f in moving_ball(changing_background=True)],
                  duration=[100, 120, 140, 160, 180, 200], loop=0, optimize=False)
    elif kind == "sub-rectangles":  # Pillow writes only the changed rectangle of later frames
        src = gif([f.convert("RGB") for f in moving_ball()], duration=90, loop=2)
    else:  # transparent background, each frame cleared ("restore to background")
        src = gif(moving_ball(alpha=True), duration=80, loop=0, disposal=2)
    result = explicit(src)
    assert_label_on_every_frame(src, result.data, result.details["box"], lossless=True)
    assert gif_disposals(result.data) == gif_disposals(src)
    if kind == "sub-rectangles":
        assert result.details["frames_changed"] == 1  # later frames keep their bytes


def gif_image_data(im: Image.Image) -> bytes:
    """LZW minimum code size + data sub-blocks of a one-frame GIF written by Pillow (walked here by hand)."""
    buf = io.BytesIO()
    im.save(buf, "GIF", interlace=False, optimize=False)
    d = buf.getvalue()
    pos = 13 + (3 << ((d[10] & 7) + 1) if d[10] & 0x80 else 0)
    while d[pos] == 0x21:  # skip extensions
        pos += 2
        while d[pos]:
            pos += 1 + d[pos]
        pos += 1
    assert d[pos] == 0x2C and not d[pos + 9] & 0x80
    start = pos = pos + 10
    pos += 1
    while d[pos]:
        pos += 1 + d[pos]
    return d[start:pos + 1]


def handmade_gif(size: tuple[int, int], palette: list[int],
                 frames: list[tuple[Image.Image, tuple[int, int], int, int, int | None]]) -> bytes:
    """A GIF89a of sub-rectangle frames: (indices, (x, y), disposal, delay, transparent index)."""
    w, h = size
    out = b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF7, 0, 0) + bytes(palette + [0] * (768 - len(palette)))
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for im, (x, y), disposal, delay, transparent in frames:
        packed = (disposal << 2) | (1 if transparent is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, transparent or 0) + b"\x00"
        out += b"\x2c" + struct.pack("<HHHHB", x, y, im.width, im.height, 0) + gif_image_data(im)
    return out + b"\x3b"


def test_gif_frames_after_a_clearing_disposal_are_grown_to_redraw_the_label() -> None:
    palette = [255, 255, 255, 200, 30, 30, 30, 30, 200, 10, 10, 10]
    full = Image.new("P", (240, 160), 0)
    full.putpalette(palette)
    ball = Image.new("P", (30, 30), 3)
    ball.putpalette(palette)
    ImageDraw.Draw(ball).ellipse((0, 0, 29, 29), fill=1)
    src = handmade_gif((240, 160), palette, [
        # full picture, then "restore to background": clears the label too.  (Its transparent index makes
        # Pillow clear to transparent, as browsers always do, so the grown frames' wider clearing shows
        # no difference in Pillow's rendering either.)
        (full, (0, 0), 2, 10, 3),
        (ball, (20, 20), 2, 11, 3),   # far from the label, cleared again
        (ball, (60, 20), 1, 12, 3),   # far from the label, kept
        (ball, (100, 20), 0, 13, None),
    ])
    n, _loop, before = frames(src)
    assert n == 4
    result = explicit(src)
    assert result.details["frames_changed"] == 3  # frame 0 touches the label; 1 and 2 follow a clearing disposal
    assert any("grown" in note for note in result.notes)
    n2, _loop2, after = frames(result.data)
    assert n2 == 4 and [d for d, _ in after] == [d for d, _ in before]
    assert gif_disposals(result.data) == gif_disposals(src)
    box = result.details["box"]
    for (_d, a), (_d2, b) in zip(before, after):
        assert blank_box(b, box) == blank_box(a, box)
        assert measure_label(a, b)["ink_height"] >= 12


def test_gif_end_to_end_when_the_handler_exists() -> None:
    require_handler("gif")
    src = gif([f.convert("RGB") for f in moving_ball()], duration=90, loop=0)
    result = aigclabel.mark_file(src, producer=PRODUCER)
    assert result.explicit == "added"
    assert aigclabel.verify(result.data, scope="implicit").ok
    assert frames(result.data)[0] == 6


# ----------------------------------------------------------------------------------------- TIFF


def tiff(im: Image.Image, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "TIFF", **kw)
    return buf.getvalue()


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16", "CMYK"])
def test_tiff_lossless_only_label_strips_change(mode: str, compression: str) -> None:
    im = picture(mode, (320, 240))
    src = tiff(im, compression=compression, icc_profile=srgb_icc() if mode == "RGB" else None,
               description="a TIFF", software="test-suite")
    result = explicit(src)
    a, b = decode(src), decode(result.data)
    assert b.mode == a.mode and b.size == a.size
    box = result.details["stored_box"]
    assert blank_box(b, box) == blank_box(a, box) and b.tobytes() != a.tobytes()
    skip = {273, 279}  # strip offsets and byte counts are the only tags that may change
    assert {k: v for k, v in b.tag_v2.items() if k not in skip} == {k: v for k, v in a.tag_v2.items()
                                                                    if k not in skip}


def test_tiff_end_to_end_when_the_handler_exists(tmp_path: Path, exiftool: Any) -> None:
    require_handler("tiff")
    src = tiff(gradient((400, 300)), exif=make_exif(), software="x")  # Pillow writes EXIF only uncompressed
    out = aigclabel.mark(src, producer=PRODUCER, produce_id="tif-vis")
    assert aigclabel.verify(out, scope="implicit").ok
    path = tmp_path / "out.tif"
    path.write_bytes(out)
    tags = exiftool(path)
    assert '"ProduceID":"tif-vis"' in tool_get(tags, "XMP-TC260:AIGC")
    assert tool_get(tags, "IFD0:Make") == "ExampleCam" and tool_get(tags, "IFD0:Software") == "x"
    assert measure_label(decode(src), decode(out))["ink_height"] / 300 >= 0.05


def test_webp_end_to_end_when_the_handler_exists() -> None:
    require_handler("webp")
    src = webp(gradient((400, 300)), quality=85, exif=make_exif())
    out = aigclabel.mark(src, producer=PRODUCER)
    assert aigclabel.verify(out, scope="implicit").ok
    assert decode(out).info["exif"] == decode(src).info["exif"]


# ----------------------------------------------------------------------------------------- pipeline


def test_marker_is_registered_for_images() -> None:
    src = CountingReader(io.BytesIO(make_png()), "<t>", 0)
    assert isinstance(marker_for(handler_for(src)), ImageMarker)


def test_waiver_leaves_pixels_untouched() -> None:
    src = make_png(size=(300, 200))
    result = aigclabel.mark_file(src, producer=PRODUCER, explicit=False)
    assert result.explicit == "waived"
    assert decode(result.data).tobytes() == decode(src).tobytes()


def test_unsupported_format_says_so() -> None:
    class Fake:
        name, kind = "heif", "image"

    with pytest.raises(UnsupportedOperation, match="--no-explicit"):
        ImageMarker().apply(CountingReader(io.BytesIO(b"x"), "<t>", 1), Fake(), ExplicitOptions(text="AI生成"))


def test_details_describe_the_label() -> None:
    result = aigclabel.mark_file(make_png(size=(600, 400)), producer=PRODUCER, position="top-left",
                                 text="人工智能生成")
    d = result.explicit_details
    assert d["text"] == "人工智能生成" and d["position"] == "top-left"
    x0, y0, x1, y1 = d["box"]
    assert 0 < x0 < x1 <= 600 and 0 < y0 < y1 <= 400 and x0 < 30 and y0 < 30
    assert d["ink_height_px"] >= 20 and d["height_ratio"] >= 0.05 and "Noto Sans CJK SC" in d["font"]
    assert re.search(r"drawn at top-left", result.notes[0])
