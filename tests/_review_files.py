"""What the review page's browser tests share: the files they upload, where the labels truly are, the server.

Used by ``test_review_page.py`` (Chromium, Selenium) and ``test_review_page_firefox.py`` (Firefox, WebDriver
BiDi); each loads this module by path (the suite imports in ``importlib`` mode, so tests/ is not a package).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from PIL import Image, ImageDraw, ImageFont

import aigclabel

__all__ = ["PLATFORM", "PRODUCER", "FONT", "OCR_TEXT_AT", "SAMPLES", "scene", "ocr_png", "marked_box", "serve",
           "OCR_GEOMETRY_JS", "assert_label_box"]

PLATFORM = "00119144030008867405X220001"
PRODUCER = "001191110102MACQD9K64010000"
SAMPLES = Path(aigclabel.__file__).resolve().parent.parent / "samples"
FONT = Path(aigclabel.__file__).resolve().parent / "explicit" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
OCR_TEXT_AT = (24, 400)


def scene(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A picture with smooth areas and edges (compresses like a photo, unlike noise)."""
    w, h = size
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    im = Image.merge("RGB", (im.getchannel(0), im.getchannel(0).rotate(90, expand=False).resize(size),
                             Image.new("L", size, 150 + seed * 20)))
    draw = ImageDraw.Draw(im)
    for i in range(6):
        x, y = (w * (i + 1)) // 8, (h * ((i * 3) % 5 + 1)) // 7
        r = max(8, min(w, h) // (6 + i))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((40 * i + 60) % 255, 90 + 20 * i, 200 - 25 * i))
    return im


def ocr_png(path: Path) -> tuple[int, int, int, int]:
    """An unlabelled picture showing 'AI生成' bottom-left; the ink's true box (Pillow's own measure)."""
    im = Image.new("RGB", (640, 480), (232, 236, 240))
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(FONT), 44)
    draw.text(OCR_TEXT_AT, "AI生成", font=font, fill=(12, 12, 12))
    im.save(path)
    x0, y0, x1, y1 = draw.textbbox(OCR_TEXT_AT, "AI生成", font=font)
    return int(x0), int(y0), int(x1), int(y1)


def marked_box(result: Any) -> list[int]:
    """The box the marker says it drew the visible label in (its note: 'box [x0, y0, x1, y1]')."""
    note = next(n for n in result.notes if "visible label" in n)
    return json.loads(note.split("box ", 1)[1].split("]", 1)[0] + "]")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(upload_dir: Path, api_key: str, jobs: int = 2) -> Iterator[str]:
    """The real ``aigclabel serve`` on 127.0.0.1 (its key from the environment, as a service manager sets it);
    yields its base URL and stops it at the end."""
    import httpx

    port = _free_port()
    env = {**os.environ, "AIGCLABEL_API_KEY": api_key}
    proc = subprocess.Popen([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "serve",
                             "--port", str(port), "--platform-code", PLATFORM, "--jobs", str(jobs), "--quiet",
                             "--tmp-dir", str(upload_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("server did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(15)


#: a function body (Selenium's execute_script shape): the OCR boxes of the view of file ``arguments[0]``,
#: each with its reported box (original pixels) and where it is drawn relative to the preview picture (CSS px)
OCR_GEOMETRY_JS = """const v = document.querySelector(`.file-view[data-name$="${arguments[0]}"]`);
    const img = v.querySelector('.preview img').getBoundingClientRect();
    const fig = v.querySelector('.preview');
    return Array.from(v.querySelectorAll('.ocr-box')).map(b => { const r = b.getBoundingClientRect();
      return {box: b.dataset.box.split(',').map(Number), q: b.dataset.qualifies, pct: +b.dataset.heightPct,
        W: +fig.dataset.width, H: +fig.dataset.height,
        rel: [r.left - img.left, r.top - img.top, r.right - img.left, r.bottom - img.top],
        img: [img.width, img.height]}; });"""


def _iou(a: list[float], b: list[int]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def assert_label_box(name: str, geometry: list[dict[str, Any]], truth: list[int]) -> None:
    """The compliant label's box is drawn where the server reported it (within 1.5 CSS px, scaled to the
    preview) and where the label really is (overlap > 0.5 with ``truth``); its height % is plausible."""
    label = next((g for g in geometry if g["q"] == "true"), None)
    assert label is not None, (name, geometry)
    kx, ky = label["img"][0] / label["W"], label["img"][1] / label["H"]
    x0, y0, x1, y1 = label["box"]
    for got, want in zip(label["rel"], (x0 * kx, y0 * ky, x1 * kx, y1 * ky), strict=True):
        assert abs(got - want) <= 1.5, (name, label)
    drawn = [label["rel"][0] / kx, label["rel"][1] / ky, label["rel"][2] / kx, label["rel"][3] / ky]
    assert _iou(drawn, truth) > 0.5, (name, drawn, truth)
    short = min(label["W"], label["H"])
    assert 4.0 < label["pct"] < 100 * (truth[3] - truth[1]) / short + 1.0, (name, label)
