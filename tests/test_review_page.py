"""The review page in a real headless Chromium: `aigclabel serve`'s page at / and `aigclabel review --html`.

Chromium is driven over its DevTools protocol (a websocket; the `websockets` client comes with the service
extra's uvicorn[standard]), not Selenium: no extra package, and the protocol's own network log sees every
request the page makes (the no-external-request assertion) and its console and exception events.

Real files, read back independently: where the label really is comes from Pillow (the text we drew, the
marker's reported box), the prompt's place from the marker's report, the PDF notice from pypdf; the page's
DOM must put its boxes, segments and highlights there.  Screenshots are kept under the test's temp dir (or
``$AIGCLABEL_ARTIFACTS`` when set, for CI to upload).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx", reason="the service tests need the service extra: "
                            "pip install 'aigclabel[service]'")
pytest.importorskip("fastapi", reason="pip install 'aigclabel[service]'")
ws_client = pytest.importorskip("websockets.sync.client", reason="pip install 'aigclabel[service]' (uvicorn[standard])")
pytest.importorskip("rapidocr_onnxruntime", reason="the OCR boxes need the OCR extra: pip install 'aigclabel[ocr]'")
pytest.importorskip("numpy", reason="the waveform needs the audio extra")

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

import aigclabel  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")

PLATFORM = "00119144030008867405X220001"
PRODUCER = "001191110102MACQD9K64010000"
HOSTILE = "<img/src=x/onerror=alert(1)>"
SAMPLES = Path(aigclabel.__file__).resolve().parent.parent / "samples"
FONT = Path(aigclabel.__file__).resolve().parent / "explicit" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"
OCR_TEXT_AT = (24, 400)


# ------------------------------------------------------------------------------------------ files


def _ocr_png(path: Path) -> tuple[int, int, int, int]:
    """An unlabelled picture showing 'AI生成' bottom-left; the ink's true box (Pillow's own measure)."""
    im = Image.new("RGB", (640, 480), (232, 236, 240))
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(FONT), 44)
    draw.text(OCR_TEXT_AT, "AI生成", font=font, fill=(12, 12, 12))
    im.save(path)
    x0, y0, x1, y1 = draw.textbbox(OCR_TEXT_AT, "AI生成", font=font)
    return int(x0), int(y0), int(x1), int(y1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("page-files")
    rng_pixels = Image.effect_noise((800, 600), 40).convert("RGB")
    rng_pixels.save(d / "plain.jpg", quality=90)
    jpg = aigclabel.mark(d / "plain.jpg", d / "labelled.jpg", producer=PRODUCER)
    ocr_box = _ocr_png(d / "ocr.png")
    wav = aigclabel.mark(SAMPLES / "voice.wav", d / "prompt.wav", producer=PRODUCER)
    pdf = aigclabel.mark(SAMPLES / "report.pdf", d / "report.pdf", producer=PRODUCER)
    buf = io.BytesIO()
    Image.new("RGB", (200, 120), (200, 220, 240)).save(buf, "PNG")
    aigclabel.mark(buf.getvalue(), d / "hostile.png", producer=HOSTILE, explicit=False)
    return {"dir": d, "jpg": jpg, "ocr_box": ocr_box, "wav": wav, "pdf": pdf,
            "paths": [d / n for n in ("labelled.jpg", "ocr.png", "prompt.wav", "report.pdf", "hostile.png")]}


def _marked_box(result: Any) -> list[int]:
    """The box the marker says it drew the visible label in (its note: 'box [x0, y0, x1, y1]')."""
    note = next(n for n in result.notes if "visible label" in n)
    return json.loads(note.split("box ", 1)[1].split("]", 1)[0] + "]")


def _prompt_span(result: Any) -> tuple[float, float]:
    """Where the marker inserted the prompt (its note: 'inserted at the start (0.00 s, 1.36 s long)')."""
    note = next(n for n in result.notes if "audible label" in n)
    inside = note.split("inserted at the start (", 1)[1]
    at, length = inside.split(" s, ", 1)
    return float(at), float(at) + float(length.split(" s long", 1)[0])


# ------------------------------------------------------------------------------------------ browser


class Cdp:
    """A minimal Chrome DevTools protocol client over one page target's websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def drain(self) -> None:
        try:
            while True:
                self.events.append(json.loads(self.ws.recv(timeout=0.05)))
        except TimeoutError:
            pass

    def js(self, expression: str) -> Any:
        out = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in out:
            raise AssertionError(f"{expression}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def wait(self, expression: str, timeout: float = 45.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def requests(self) -> list[str]:
        self.drain()
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def problems(self) -> list[Any]:
        """Console errors, uncaught exceptions, dialogs (an injected alert()) and CSP violations."""
        self.drain()
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown" or m == "Page.javascriptDialogOpening":
                out.append(p)
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(p)
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"])
        return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdp]:
    profile = tempfile.mkdtemp(prefix="aigclabel-chromium-")
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--disable-default-apps", "--disable-extensions", "--mute-audio",
                             "--window-size=1280,2000", f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        with ws_client.connect(page["webSocketDebuggerUrl"], max_size=64 << 20, open_timeout=10) as ws:
            cdp = Cdp(ws)
            for domain in ("Page", "Runtime", "Network", "Log", "DOM"):
                cdp.call(f"{domain}.enable")
            yield cdp
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "serve",
                             "--port", str(port), "--platform-code", PLATFORM, "--jobs", "2", "--quiet",
                             "--tmp-dir", str(tmp_path_factory.mktemp("uploads"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
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
    proc.terminate()
    proc.wait(15)


def _artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("AIGCLABEL_ARTIFACTS") or tmp_path) / "review-page"
    where.mkdir(parents=True, exist_ok=True)
    return where


# ------------------------------------------------------------------------------------------ assertions

_VIEW = "document.querySelector('.file-view[data-name$=\"{name}\"]')"


def _text(cdp: Cdp, name: str, selector: str) -> list[str]:
    return cdp.js(f"Array.from({_VIEW.format(name=name)}.querySelectorAll({json.dumps(selector)}))"
                  ".map(e => e.textContent)")


def _check_views(cdp: Cdp, files: dict[str, Any], allowed: tuple[str, ...]) -> None:
    # verdicts and tiers in plain words, both languages
    assert _text(cdp, "labelled.jpg", ".tier")[0].startswith("Tier 1: AI-generated")
    assert _text(cdp, "labelled.jpg", ".tier")[1].startswith("第1级：作品含AI生成内容")
    assert _text(cdp, "ocr.png", ".tier")[0].startswith("Tier 3: suspected AI-generated")
    assert "疑似使用了AI生成技术，请谨慎甄别" in _text(cdp, "ocr.png", ".notice")
    assert _text(cdp, "prompt.wav", ".tier")[0].startswith("Tier 1")
    # the record's producer code decoded
    producer = _text(cdp, "labelled.jpg", ".record dd[data-field='ContentProducer']")[0]
    assert PRODUCER in producer and "USCC 91110102MACQD9K640" in producer and "service type: generation" in producer

    # OCR boxes: drawn where the reported box is, and where the label really is
    for name, truth in (("labelled.jpg", _marked_box(files["jpg"])), ("ocr.png", list(files["ocr_box"]))):
        geo = cdp.js(f"""(() => {{ const v = {_VIEW.format(name=name)};
            const img = v.querySelector('.preview img').getBoundingClientRect();
            const fig = v.querySelector('.preview');
            return Array.from(v.querySelectorAll('.ocr-box')).map(b => {{ const r = b.getBoundingClientRect();
              return {{box: b.dataset.box.split(',').map(Number), q: b.dataset.qualifies, pct: +b.dataset.heightPct,
                W: +fig.dataset.width, H: +fig.dataset.height,
                rel: [r.left - img.left, r.top - img.top, r.right - img.left, r.bottom - img.top],
                img: [img.width, img.height]}}; }}); }})()""")
        label = next(g for g in geo if g["q"] == "true")
        kx, ky = label["img"][0] / label["W"], label["img"][1] / label["H"]
        x0, y0, x1, y1 = label["box"]
        for got, want in zip(label["rel"], (x0 * kx, y0 * ky, x1 * kx, y1 * ky), strict=True):
            assert abs(got - want) <= 1.5, (name, label)
        drawn = [label["rel"][0] / kx, label["rel"][1] / ky, label["rel"][2] / kx, label["rel"][3] / ky]
        assert _iou(drawn, truth) > 0.5, (name, drawn, truth)
        short = min(label["W"], label["H"])
        assert 4.0 < label["pct"] < 100 * (truth[3] - truth[1]) / short + 1.0
        assert cdp.js(f"!!{_VIEW.format(name=name)}.querySelector('.edge-band')")

    # waveform: the marked segment lies where the prompt was inserted, drawn at its time
    seg = cdp.js(f"""(() => {{ const v = {_VIEW.format(name='prompt.wav')}; const svg = v.querySelector('svg.wave');
        const r = v.querySelector('rect.segment.rhythm'); const box = svg.getBoundingClientRect();
        const rr = r.getBoundingClientRect();
        return {{start: +r.dataset.start, end: +r.dataset.end, duration: +svg.dataset.duration,
                 x: (rr.left - box.left) / box.width, w: rr.width / box.width}}; }})()""")
    at, until = _prompt_span(files["wav"])
    assert at - 0.05 <= seg["start"] < seg["end"] <= until + 0.05
    assert abs(seg["x"] - seg["start"] / seg["duration"]) < 0.01
    assert abs(seg["w"] - (seg["end"] - seg["start"]) / seg["duration"]) < 0.01

    # the PDF's notice highlighted in its page's text (pypdf reads the same text from the file)
    from pypdf import PdfReader

    marked = _text(cdp, "report.pdf", ".passage mark")
    assert marked and marked[0] in PdfReader(str(files["dir"] / "report.pdf")).pages[0].extract_text()
    assert "人工智能" in marked[0] and "生成" in marked[0]

    # a hostile record field is shown as text, never parsed
    assert HOSTILE in _text(cdp, "hostile.png", ".record dd[data-field='ContentProducer']")[0]
    assert cdp.js("document.querySelectorAll('.record img, .file-view img[src=\"x\"]').length") == 0

    # the batch table sorts
    cdp.js("document.querySelector('#table th button[data-key=\"tier\"]').click()")
    tiers = cdp.js("Array.from(document.querySelectorAll('#table tbody .tier-cell')).map(e => e.textContent)")
    assert tiers == sorted(tiers, key=lambda t: 9 if t == "none" else int(t)) and len(tiers) == 5

    outside = [u for u in cdp.requests() if not u.startswith(allowed)]
    assert not outside, outside
    assert not cdp.problems()


def _iou(a: list[float], b: list[int]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# ------------------------------------------------------------------------------------------ tests


def test_served_page_uploads_and_shows_evidence(browser: Cdp, server: str, files: dict[str, Any],
                                                 tmp_path: Path) -> None:
    browser.events.clear()
    browser.call("Page.navigate", url=f"{server}/")
    browser.wait("document.readyState === 'complete' && !document.getElementById('pick').hidden")
    root = browser.call("DOM.getDocument")["root"]["nodeId"]
    node = browser.call("DOM.querySelector", nodeId=root, selector="#files")["nodeId"]
    started = time.monotonic()
    browser.call("DOM.setFileInputFiles", nodeId=node, files=[str(p) for p in files["paths"]])
    browser.wait("document.querySelectorAll('.file-view .tier').length >= 5")
    first_views = time.monotonic() - started
    browser.wait("document.querySelectorAll('.file-view[data-loaded]').length === 5")
    print(f"first views of 5 files {first_views:.2f} s, all evidence {time.monotonic() - started:.2f} s")
    browser.screenshot(_artifacts(tmp_path) / "served.png")
    _check_views(browser, files, (f"{server}/", "data:", "blob:"))
    # the page's own headers: a strict policy
    csp = httpx.get(f"{server}/").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_html_report_opens_from_disk(browser: Cdp, files: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "review",
                          *map(str, files["paths"]), "--platform-code", PLATFORM, "--html", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    html = out.read_text("utf-8")
    assert "http://" not in html.split("<body", 1)[0] and 'src="ui/' not in html and 'href="ui/' not in html
    browser.events.clear()
    browser.call("Page.navigate", url=out.as_uri())
    browser.wait("document.querySelectorAll('.file-view[data-loaded]').length === 5")
    browser.screenshot(_artifacts(tmp_path) / "report-html.png")
    assert browser.js("document.getElementById('pick').hidden") is True
    _check_views(browser, files, (out.as_uri(), "data:", "blob:"))
