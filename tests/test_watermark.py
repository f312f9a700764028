"""The invisible image watermark (aigclabel.watermark): round trip, JPEG re-save, the rule, mark, review."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
from PIL import Image, ImageFilter  # noqa: E402

import aigclabel  # noqa: E402
from aigclabel import watermark  # noqa: E402
from aigclabel.platform import PlatformConfig, review  # noqa: E402

PRODUCER = "001191110102MACQD9K64010000"


def photo(size: tuple[int, int] = (640, 480), seed: int = 3) -> Image.Image:
    """A photo-like picture: smooth colour blobs with grain."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (size[1] // 24 + 2, size[0] // 24 + 2, 3))
    im = Image.fromarray(((base - base.min()) / np.ptp(base) * 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC)
    grain = np.asarray(im, dtype=np.float64) + rng.normal(0, 5, (size[1], size[0], 3))
    return Image.fromarray(grain.clip(0, 255).astype(np.uint8))


def textured(size: tuple[int, int] = (512, 512)) -> Image.Image:
    rng = np.random.default_rng(9)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).filter(
        ImageFilter.GaussianBlur(2))


def jpeg_bytes(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.parametrize("make", [photo, textured, lambda: photo((480, 800), 5)])
def test_round_trip_and_psnr(make) -> None:
    im = make()
    ident = watermark.payload_for(("P1", "id-1"))
    marked = watermark.embed(im, ident)
    assert marked.size == im.size and marked.mode == im.mode
    mse = ((np.asarray(marked, float) - np.asarray(im, float)) ** 2).mean()
    assert 10 * np.log10(255 ** 2 / mse) >= 38
    found = watermark.detect(marked)
    assert found.found and found.payload == ident and found.confidence > 0.9
    assert not watermark.detect(im).found  # the unmarked picture


def test_survives_jpeg_q70_resave_by_pillow() -> None:
    ident = 0x0123456789
    marked = watermark.embed(photo(), ident)
    again = Image.open(io.BytesIO(jpeg_bytes(marked, 70)))
    found = watermark.detect(again)
    assert found.found and found.payload == ident
    assert found.matches(ident) and not found.matches(ident ^ 0xFFFF)


@pytest.mark.parametrize("left, top, keep", [(37, 23, 0.9), (101, 59, 0.75)])
def test_survives_off_grid_crop_and_jpeg_resave(left: int, top: int, keep: float) -> None:
    """A crop by odd pixel counts from the left and top (the tile's origin moves off the block grid, and the
    working scale changes by 1 / keep), then a JPEG q85 re-save by Pillow: found, with the right payload."""
    ident = 0x5A5A0F0F33
    im = photo((900, 700), 11)
    marked = watermark.embed(im, ident)
    w, h = round(im.width * keep), round(im.height * keep)
    cropped = marked.crop((left, top, left + w, top + h))
    again = Image.open(io.BytesIO(jpeg_bytes(cropped, 85)))
    assert again.size == (w, h)
    found = watermark.detect(again)
    assert found.found and found.payload == ident
    # the same crop of the unmarked picture: not found
    assert not watermark.detect(Image.open(io.BytesIO(jpeg_bytes(im.crop((left, top, left + w, top + h)), 85)))).found


def test_unmarked_pictures_not_found() -> None:
    """The scale and shift search reads 22 words per picture: still no word on unmarked pictures."""
    for seed in range(12):
        assert not watermark.detect(photo((520 + 16 * seed, 400 + 8 * seed), 100 + seed)).found
    assert not watermark.detect(textured((600, 450))).found


def test_payload_is_keyed() -> None:
    rec = {"ContentProducer": PRODUCER, "ProduceID": "x1"}
    assert watermark.payload_for(rec) == watermark.payload_for((PRODUCER, "x1"))
    assert watermark.payload_for(rec, "secret") != watermark.payload_for(rec)
    assert watermark.payload_for(rec) < 1 << watermark.ID_BITS


def test_small_picture_refused() -> None:
    with pytest.raises(aigclabel.errors.UnsupportedOperation, match="too small"):
        watermark.embed(photo((200, 150)), 1)


def _findings(path: Path, profile: str) -> list:
    report = aigclabel.verify(str(path), profile=profile, scope="implicit")
    return [f for f in report.findings if f.rule == "implicit.watermark"]


def test_mark_cli_then_verify_and_exiftool(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes(photo((800, 600)), 88))
    out = tmp_path / "out.jpg"
    run = subprocess.run(["aigclabel", "mark", str(src), "-o", str(out), "--producer", PRODUCER, "--produce-id",
                          "wm-1", "--watermark", "--no-explicit"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "invisible watermark embedded" in run.stdout
    # independent readers: Pillow decodes the picture, exiftool still finds the record the metadata step wrote
    with Image.open(out) as im:
        assert im.size == (800, 600)
        assert watermark.detect(im).payload == watermark.payload_for((PRODUCER, "wm-1"))
    exif = subprocess.run(["exiftool", "-s", "-s", "-s", "-XMP:all", str(out)], capture_output=True, text=True)
    assert "wm-1" in exif.stdout
    (f,) = _findings(out, "eu-ai-act-art50")
    assert f.level is aigclabel.Level.PASS and "watermark found" in f.message and "matches the record" in f.message
    # the unmarked input: "no watermark found", never "not AI-generated"
    (g,) = _findings(src, "eu-ai-act-art50")
    assert g.level is aigclabel.Level.ERROR and "no watermark found" in g.message
    assert "not AI-generated" not in g.message and "says nothing about whether" in g.message
    # the default Chinese profile does not pay for a decode: not checked, cheaply
    (h,) = _findings(out, "cn-gb45438-2025")
    assert h.level is aigclabel.Level.NOT_CHECKED and "detect = false" in h.message


def test_library_mark_with_key_no_record_match(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    photo((600, 400)).save(src)
    out = tmp_path / "out.png"
    result = aigclabel.mark_file(str(src), str(out), producer=PRODUCER, produce_id="k-1", explicit=False,
                                 watermark="our-key")
    assert any("re-encoded" in n and "watermark" in n for n in result.notes)
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert watermark.detect(im).payload == watermark.payload_for((PRODUCER, "k-1"), "our-key")
    # the profile's key is the default one: the word is found but does not match the record under it
    (f,) = _findings(out, "eu-ai-act-art50")
    assert f.level is aigclabel.Level.PASS and "does not match the file's record" in f.message


def test_review_tier3_on_watermark_only_file(tmp_path: Path) -> None:
    marked = watermark.embed(photo((640, 480)), watermark.payload_for((PRODUCER, "gone")))
    path = tmp_path / "shot.jpg"
    path.write_bytes(jpeg_bytes(marked, 85))  # no metadata at all: a screenshot's fate
    cfg = PlatformConfig(code="PLATFORM1", profile="eu-ai-act-art50")
    r = review(str(path), platform=cfg)
    assert r.tier == 3
    assert any(e.kind == "watermark" and "watermark found" in e.detail for e in r.evidence)
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg_bytes(photo((640, 480)), 85))
    assert review(str(plain), platform=cfg).tier is None


def test_review_tier1_watermark_matches_record(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes(photo((640, 480)), 90))
    out = tmp_path / "out.jpg"
    aigclabel.mark_file(str(src), str(out), producer=PRODUCER, produce_id="t1", explicit=False, watermark=True,
                        profile="eu-ai-act-art50")
    r = review(str(out), platform=PlatformConfig(code="PLATFORM1", profile="eu-ai-act-art50"))
    assert r.tier == 1
    assert any(e.kind == "watermark" and "matches the relied-on record" in e.detail for e in r.evidence)


def test_inspect_watermark_library_and_cli(tmp_path: Path) -> None:
    """inspect --watermark: found and matching the record, found in a screenshot without metadata, not found in
    an unmarked picture (never "not AI-generated"), not checked for a document; --watermark-key matches under
    another key; off by default (no reading, no key in the JSON)."""
    src = tmp_path / "in.png"
    photo((700, 500), 5).save(src)
    out = tmp_path / "out.png"
    aigclabel.mark_file(str(src), str(out), producer=PRODUCER, produce_id="i-1", explicit=False, watermark=True)
    got = aigclabel.inspect(str(out), watermark=True).watermark
    assert got is not None and got["status"] == "found"
    assert int(got["payload"], 16) == watermark.payload_for((PRODUCER, "i-1"))
    assert got["record"].startswith(f"matches the record of {PRODUCER} / i-1")
    with Image.open(out) as im:  # a screenshot-like copy: cropped, scaled, JPEG - no metadata left
        shot = im.convert("RGB").crop((31, 17, 650, 480)).resize((413, 309), Image.Resampling.BILINEAR)
    shot_path = tmp_path / "shot.jpg"
    shot_path.write_bytes(jpeg_bytes(shot, 80))
    on_shot = aigclabel.inspect(str(shot_path), watermark=True)
    assert on_shot.labels == [] and on_shot.watermark is not None
    assert on_shot.watermark["status"] == "found" and on_shot.watermark["record"] == "no record in the file to match"
    plain = aigclabel.inspect(str(src), watermark=True).watermark
    assert plain is not None and plain["status"] == "not-found"
    assert "says nothing about whether the content is AI-generated" in plain["message"]
    assert aigclabel.inspect(str(src)).watermark is None and "watermark" not in aigclabel.inspect(str(src)).to_dict()
    keyed = tmp_path / "keyed.png"
    aigclabel.mark_file(str(src), str(keyed), producer=PRODUCER, produce_id="i-2", explicit=False, watermark="k9")
    default_key = aigclabel.inspect(str(keyed), watermark=True).watermark
    assert default_key is not None and "does not match the file's record under the published default key" in \
        default_key["record"]
    # the CLI, as a user runs it: text and JSON
    run = subprocess.run(["aigclabel", "inspect", str(keyed), "--watermark-key", "k9"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "watermark  found: watermark found (payload" in run.stdout and "matches the record of" in run.stdout
    run = subprocess.run(["aigclabel", "inspect", str(shot_path), str(src), "--watermark", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    import json

    states = [item["watermark"]["status"] for item in json.loads(run.stdout)]
    assert states == ["found", "not-found"]
    pdf = tmp_path / "doc.pdf"
    Image.new("RGB", (300, 300), "white").save(pdf, "PDF")
    doc = aigclabel.inspect(str(pdf), watermark=True).watermark
    assert doc is not None and doc["status"] == "not-checked" and "images and audio only" in doc["message"]


def test_not_checked_without_the_extra(tmp_path: Path) -> None:
    path = tmp_path / "in.jpg"
    path.write_bytes(jpeg_bytes(photo(), 90))
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import aigclabel\n"
        f"r = aigclabel.verify({str(path)!r}, profile='eu-ai-act-art50', scope='implicit')\n"
        "(f,) = [f for f in r.findings if f.rule == 'implicit.watermark']\n"
        "print(f.level.value, '|', f.message)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("not-checked |") and "aigclabel[watermark]" in run.stdout


def test_a_long_thin_picture_is_refused_before_its_working_picture_exists(tmp_path: Path) -> None:
    """Fuzz find (seed 20261215, png-c2pa, inspect-watermark): a header turned into a 64x16432 strip. The working
    picture's short side is 256 px, so its long side grew to 65728: ~0.8 GB of arrays, a MemoryError under the
    fuzzer's 2 GiB cap. The working size is now checked against max_allocation first."""
    path = tmp_path / "strip.png"
    Image.new("RGB", (64, 16432), "white").save(path)
    report = aigclabel.inspect(path, watermark=True).to_dict()
    assert report["watermark"]["status"] == "not-checked", report["watermark"]
    assert "working picture would be 256x65728" in report["watermark"]["message"]
    assert "[max_allocation]" in report["watermark"]["message"]
    from aigclabel.errors import LimitExceeded

    with pytest.raises(LimitExceeded):  # marking refuses it the same way, typed
        watermark.embed(Image.new("RGB", (256, 65728)), 1)
