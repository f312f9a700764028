"""The review page in a real headless Chromium driven by Selenium: `aigclabel serve`'s page and `review --html`.

Chromium and its driver are the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
Selenium is pointed at /usr/bin/chromedriver, so Selenium Manager never runs and nothing is downloaded.  Chromium's
performance log (``goog:loggingPrefs``) lists every request the page made: none may leave 127.0.0.1.

Five files, as the issue asks -- a labelled JPEG, an OCR-tier-3 PNG, an MP3 with a Morse prompt, a PDF and a
C2PA-signed image (an edit of an AI-generated picture: the active manifest with the AI one as its ingredient) --
plus one whose record holds markup.  What the page draws is checked against independent readers: where the label
really is (Pillow's measure of the text we drew, the marker's reported box), where the prompt is (the marker's
report), the PDF's text (pypdf), the C2PA chain (the c2pa SDK's own Reader).  The server runs with an API key,
so every request the page makes carries it.  Also: keyboard operation, no horizontal scroll at 640 px (1280 px at
200 % zoom), and the time to the first view of a 12 MP JPEG against the /v1/review call for the same file.

Screenshots go to ``$AIGCLABEL_SCREENSHOTS`` (``docs/screenshots`` for the README) or ``$AIGCLABEL_ARTIFACTS``
(CI uploads it), else the test's temp dir.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx", reason="the service tests need the service extra: "
                            "pip install 'aigclabel[service]'")
pytest.importorskip("fastapi", reason="pip install 'aigclabel[service]'")
pytest.importorskip("selenium", reason="the browser tests need Selenium: pip install 'aigclabel[test]'")
pytest.importorskip("rapidocr_onnxruntime", reason="the OCR boxes need the OCR extra: pip install 'aigclabel[ocr]'")
pytest.importorskip("numpy", reason="the waveform needs the audio extra")
pytest.importorskip("lameenc", reason="the MP3 prompt needs the audio extra")
c2pa_sdk = pytest.importorskip("c2pa", reason="the C2PA file needs the c2pa extra")

from PIL import Image  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

import aigclabel  # noqa: E402
from aigclabel import c2pa as prov  # noqa: E402
from aigclabel.keys import init_keys  # noqa: E402
from aigclabel.marking import mark_file  # noqa: E402

# the files and their truths, shared with the Firefox test (tests/ is no package: loaded by path)
_spec = importlib.util.spec_from_file_location("_review_files", Path(__file__).with_name("_review_files.py"))
assert _spec is not None and _spec.loader is not None
_rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rf)
PLATFORM, PRODUCER, SAMPLES, FONT, OCR_TEXT_AT = _rf.PLATFORM, _rf.PRODUCER, _rf.SAMPLES, _rf.FONT, _rf.OCR_TEXT_AT
_scene, _ocr_png, _marked_box = _rf.scene, _rf.ocr_png, _rf.marked_box

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(not (os.path.isfile(CHROMIUM) and os.path.isfile(CHROMEDRIVER) and FFMPEG),
                                reason="needs Chromium, its driver and ffmpeg (Debian: apt-get install chromium "
                                       "chromium-driver ffmpeg)")

API_KEY = "test-key-0f3a9c"
HOSTILE = "<img/src=x/onerror=alert(1)>"
COMPOSITE = "compositeWithTrainedAlgorithmicMedia"
NAMES = ("labelled.jpg", "ocr.png", "prompt.mp3", "report.pdf", "c2pa-edited.jpg", "hostile.png")
SHOT_LIMIT = 200 * 1024


# ------------------------------------------------------------------------------------------ files


def _c2pa_edit(d: Path) -> dict[str, Any]:
    """An AI-generated JPEG signed by our marker, then an edit of it signed with the c2pa SDK itself: the active
    manifest (opened + edited with a composite source type) names the generated one as its parent ingredient.
    The development CA of `aigclabel keys init` signs both."""
    keys = init_keys(d / "keys")
    buf = io.BytesIO()
    _scene((480, 320), 1).save(buf, "JPEG", quality=88)
    parent = mark_file(buf.getvalue(), producer=PRODUCER, explicit=False,
                       c2pa=prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key, system_name="Seedream",
                                             system_version="3.0", title="generated.jpg")).data
    assert parent is not None
    manifest = {"claim_generator_info": [{"name": "photo-editor-test", "version": "1.0"}], "title": "edited.jpg",
                "format": "image/jpeg", "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
                    {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
                    {"action": "c2pa.edited",
                     "digitalSourceType": f"http://cv.iptc.org/newscodes/digitalsourcetype/{COMPOSITE}"}]}}]}
    info = c2pa_sdk.C2paSignerInfo(b"es256", keys.chain.read_bytes(), keys.key.read_bytes(), None)
    ctx = c2pa_sdk.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    edited = io.BytesIO()
    _scene((480, 320), 2).save(edited, "JPEG", quality=88)
    edited.seek(0)
    out = io.BytesIO()
    with c2pa_sdk.Signer.from_info(info) as signer, c2pa_sdk.Builder(manifest, context=ctx) as builder:
        builder.add_ingredient({"title": "generated.jpg", "relationship": "parentOf", "label": "parent"},
                               "image/jpeg", io.BytesIO(parent))
        builder.sign(signer, "image/jpeg", edited, out)
    (d / "c2pa-edited.jpg").write_bytes(out.getvalue())
    # the independent reading of the chain: the SDK's Reader, our development CA trusted
    trust = {"trust": {"user_anchors": keys.ca.read_text()}, "verify": {"remote_manifest_fetch": False,
                                                                         "ocsp_fetch": False}}
    reader = c2pa_sdk.Reader("image/jpeg", io.BytesIO(out.getvalue()), None, c2pa_sdk.Context.from_dict(trust))
    store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    return {"active": store["active_manifest"], "ingredient": active["ingredients"][0]["active_manifest"]}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("page-files")
    _scene((800, 600)).save(d / "plain.jpg", quality=90)
    jpg = aigclabel.mark(d / "plain.jpg", d / "labelled.jpg", producer=PRODUCER)
    ocr_box = _ocr_png(d / "ocr.png")
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(SAMPLES / "voice.wav"), "-ac", "1", "-ar", "16000",
                    "-b:a", "32k", str(d / "voice.mp3")], check=True, timeout=60)
    mp3 = aigclabel.mark(d / "voice.mp3", d / "prompt.mp3", producer=PRODUCER)
    pdf = aigclabel.mark(SAMPLES / "report.pdf", d / "report.pdf", producer=PRODUCER)
    chain = _c2pa_edit(d)
    buf = io.BytesIO()
    Image.new("RGB", (200, 120), (200, 220, 240)).save(buf, "PNG")
    aigclabel.mark(buf.getvalue(), d / "hostile.png", producer=HOSTILE, explicit=False)
    # the 12 MP JPEG of the timing check: no record, so its review reads the picture's visible text (OCR)
    _scene((4000, 3000), 3).save(d / "big-12mp.jpg", quality=85)
    return {"dir": d, "jpg": jpg, "ocr_box": ocr_box, "mp3": mp3, "pdf": pdf, "chain": chain,
            "paths": [d / n for n in NAMES], "big": d / "big-12mp.jpg"}


def _prompt_span(result: Any) -> tuple[float, float]:
    """Where the marker inserted the prompt (its note: 'inserted at the start (0.00 s, 1.36 s long)')."""
    note = next(n for n in result.notes if "audible label" in n)
    inside = note.split("inserted at the start (", 1)[1]
    at, length = inside.split(" s, ", 1)
    return float(at), float(at) + float(length.split(" s long", 1)[0])


# ------------------------------------------------------------------------------------------ browser, server


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                "--disable-extensions", "--mute-audio", "--window-size=1280,2000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # the Debian driver, named: Selenium Manager (which would download one) is skipped
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    drv.set_script_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "AIGCLABEL_API_KEY": API_KEY}  # the key from the environment, as a service manager sets it
    proc = subprocess.Popen([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "serve",
                             "--port", str(port), "--platform-code", PLATFORM, "--jobs", "2", "--quiet",
                             "--tmp-dir", str(tmp_path_factory.mktemp("uploads"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
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


def _shots(tmp_path: Path, docs: bool = True) -> Path:
    """Where screenshots go: the documentation's (the five views and the batch) or the run's artifacts."""
    artifacts = Path(os.environ.get("AIGCLABEL_ARTIFACTS") or tmp_path) / "review-page"
    where = Path(os.environ["AIGCLABEL_SCREENSHOTS"]) if docs and os.environ.get("AIGCLABEL_SCREENSHOTS") else artifacts
    where.mkdir(parents=True, exist_ok=True)
    return where


def _save_shot(png: bytes, path: Path) -> None:
    """A screenshot kept small (<= 200 KB): at most 1000 px wide, then fewer colours if still too big."""
    im = Image.open(io.BytesIO(png)).convert("RGB")
    if im.width > 1000:
        im = im.resize((1000, round(im.height * 1000 / im.width)), Image.Resampling.LANCZOS)
    for colours in (None, 128, 48):
        out = io.BytesIO()
        (im if colours is None else im.quantize(colours, dither=Image.Dither.NONE)).save(out, "PNG", optimize=True)
        if out.tell() <= SHOT_LIMIT:
            break
    path.write_bytes(out.getvalue())
    assert path.stat().st_size <= SHOT_LIMIT and Image.open(path).size[0] > 200


def _requests(drv: Any) -> list[str]:
    """Every URL the page requested since the last call (Chromium's performance log)."""
    urls = []
    for entry in drv.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _problems(drv: Any) -> list[Any]:
    """Console errors (CSP violations included) and an open dialog (an injected alert()).  The 401s of the
    page's key check (no key yet, then a wrong one, on purpose) are the answers the page expects."""
    out: list[Any] = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE" and not (
        e.get("source") == "network" and "/v1/profiles - " in e["message"] and "status of 401" in e["message"])]
    try:
        out.append(f"dialog: {drv.switch_to.alert.text}")
    except NoAlertPresentException:
        pass
    return out


def _wait(drv: Any, expression: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = drv.execute_script(f"return {expression}")
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expression}")


# ------------------------------------------------------------------------------------------ assertions

_VIEW = "document.querySelector('.file-view[data-name$=\"{name}\"]')"


def _text(drv: Any, name: str, selector: str) -> list[str]:
    return drv.execute_script(f"return Array.from({_VIEW.format(name=name)}.querySelectorAll("
                              f"{json.dumps(selector)})).map(e => e.textContent)")


def _check_views(drv: Any, files: dict[str, Any], allowed: tuple[str, ...]) -> None:
    # verdicts and tiers in plain words, both languages
    assert _text(drv, "labelled.jpg", ".tier")[0].startswith("Tier 1: AI-generated")
    assert _text(drv, "labelled.jpg", ".tier")[1].startswith("第1级：作品含AI生成内容")
    assert _text(drv, "ocr.png", ".tier")[0].startswith("Tier 3: suspected AI-generated")
    assert "疑似使用了AI生成技术，请谨慎甄别" in _text(drv, "ocr.png", ".notice")
    assert _text(drv, "prompt.mp3", ".tier")[0].startswith("Tier 1")
    # the record's producer code decoded
    producer = _text(drv, "labelled.jpg", ".record dd[data-field='ContentProducer']")[0]
    assert PRODUCER in producer and "USCC 91110102MACQD9K640" in producer and "service type: generation" in producer

    # OCR boxes: drawn where the reported box is, and where the label really is
    for name, truth in (("labelled.jpg", _marked_box(files["jpg"])), ("ocr.png", list(files["ocr_box"]))):
        geo = drv.execute_script(f"""return (() => {{ const v = {_VIEW.format(name=name)};
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
        assert drv.execute_script(f"return !!{_VIEW.format(name=name)}.querySelector('.edge-band')")

    # waveform: the Morse segment lies where the prompt was inserted, drawn at its time.  An MP3 decoder's
    # output starts with the encoder's delay (about one frame), hence the wider margin than for PCM.
    seg = drv.execute_script(f"""return (() => {{ const v = {_VIEW.format(name='prompt.mp3')};
        const svg = v.querySelector('svg.wave'); const r = v.querySelector('rect.segment.rhythm');
        const box = svg.getBoundingClientRect(); const rr = r.getBoundingClientRect();
        return {{start: +r.dataset.start, end: +r.dataset.end, duration: +svg.dataset.duration,
                 from: +svg.dataset.from, to: +svg.dataset.to,
                 x: (rr.left - box.left) / box.width, w: rr.width / box.width}}; }})()""")
    at, until = _prompt_span(files["mp3"])
    assert at - 0.1 <= seg["start"] < seg["end"] <= until + 0.1, (seg, at, until)
    # the strip spans the decoded samples (from the encoder delay on; ffprobe's duration is the whole stream)
    shown = seg["to"] - seg["from"]
    assert 0 <= seg["from"] < 0.1 and abs(seg["to"] - _ffprobe_duration(files["dir"] / "prompt.mp3")) < 0.1, seg
    assert abs(seg["x"] - (seg["start"] - seg["from"]) / shown) < 0.01
    assert abs(seg["w"] - (seg["end"] - seg["start"]) / shown) < 0.01
    assert "Morse" in " ".join(_text(drv, "prompt.mp3", ".segment-note"))

    # the PDF's notice highlighted in its page's text (pypdf reads the same text from the file)
    from pypdf import PdfReader

    marked = _text(drv, "report.pdf", ".passage mark")
    assert marked and marked[0] in PdfReader(str(files["dir"] / "report.pdf")).pages[0].extract_text()
    assert "人工智能" in marked[0] and "生成" in marked[0]

    # the C2PA chain: active manifest -> its ingredient, each with its actions and source types, the manifest
    # labels those the c2pa SDK's Reader names
    chain = drv.execute_script(f"""return (() => {{ const v = {_VIEW.format(name='c2pa-edited.jpg')};
        const item = (li) => ({{manifest: li.dataset.manifest, title: li.dataset.title || null,
          actions: Array.from(li.querySelectorAll('.action'))
            .map(a => [a.dataset.action, a.dataset.sourceType || null])}});
        return Array.from(v.querySelectorAll('.chain > li')).map(li => [li.className, item(li)]); }})()""")
    assert [kind for kind, _ in chain] == ["active", "ingredient"], chain
    active, ingredient = chain[0][1], chain[1][1]
    assert active["manifest"] == files["chain"]["active"]
    assert active["actions"] == [["c2pa.opened", None], ["c2pa.edited", COMPOSITE]]
    assert ingredient["manifest"] == files["chain"]["ingredient"] and ingredient["title"] == "generated.jpg"
    assert ["c2pa.created", "trainedAlgorithmicMedia"] in ingredient["actions"]
    assert _text(drv, "c2pa-edited.jpg", ".tier")[0].startswith("Tier 3")

    # a hostile record field is shown as text, never parsed
    assert HOSTILE in _text(drv, "hostile.png", ".record dd[data-field='ContentProducer']")[0]
    assert drv.execute_script("return document.querySelectorAll('.record img, .file-view img[src=\"x\"]').length") == 0

    # the batch table sorts
    drv.execute_script("document.querySelector('#table th button[data-key=\"tier\"]').click()")
    tiers = drv.execute_script("return Array.from(document.querySelectorAll('#table tbody .tier-cell'))"
                               ".map(e => e.textContent)")
    assert tiers == sorted(tiers, key=lambda t: 9 if t == "none" else int(t)) and len(tiers) == len(NAMES)

    outside = [u for u in _requests(drv) if not u.startswith(allowed)]
    assert not outside, outside
    assert not _problems(drv)


def _ffprobe_duration(path: Path) -> float:
    out = subprocess.run([FFMPEG.replace("ffmpeg", "ffprobe") if FFMPEG else "ffprobe", "-v", "error",
                          "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30, check=True)
    return float(out.stdout.strip())


def _iou(a: list[float], b: list[int]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _no_horizontal_scroll(drv: Any) -> None:
    """1280 px at 200 % zoom is a 640 CSS px viewport: nothing may make the page scroll sideways."""
    size = drv.get_window_size()
    try:
        drv.set_window_size(640, 1000)
        _wait(drv, "window.innerWidth <= 640", 10)
        widths = drv.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        # on failure: what sticks out (tag, class, right edge, scroll width)
        wide = drv.execute_script("""return Array.from(document.querySelectorAll('body *')).filter(e =>
            e.getBoundingClientRect().right > window.innerWidth + 1 || e.scrollWidth > window.innerWidth)
            .slice(0, 12).map(e => [e.tagName, String(e.className.baseVal ?? e.className),
              Math.round(e.getBoundingClientRect().right), e.scrollWidth])""")
        assert widths[0] <= widths[1], json.dumps([widths, wide])
    finally:
        drv.set_window_size(size["width"], size["height"])


def _open_page(drv: Any, server: str) -> None:
    drv.get(f"{server}/")
    _wait(drv, "document.readyState === 'complete' && !document.getElementById('key-form').hidden")
    # the key is asked once, kept in this tab's sessionStorage
    drv.find_element(By.ID, "key").send_keys("wrong-key", Keys.ENTER)
    _wait(drv, "document.getElementById('key-error').textContent.includes('refused')")
    drv.find_element(By.ID, "key").send_keys(API_KEY, Keys.ENTER)
    _wait(drv, "!document.getElementById('pick').hidden && document.getElementById('key-form').hidden")
    assert drv.execute_script("return sessionStorage.getItem('aigclabel-api-key')") == API_KEY
    assert API_KEY not in drv.current_url


# ------------------------------------------------------------------------------------------ tests


def test_api_key_is_required(server: str) -> None:
    """401 with the Error body without a key (also one in the query string); Bearer and X-API-Key work; the
    page shell, /healthz and the docs are open; the OpenAPI document declares the schemes and the 401."""
    png = (SAMPLES / "render.png").read_bytes()
    for headers, params in (({}, {}), ({"Authorization": "Bearer nope"}, {}), ({"X-API-Key": "nope"}, {}),
                            ({}, {"api_key": API_KEY}), ({"Authorization": f"Basic {API_KEY}"}, {})):
        r = httpx.post(f"{server}/v1/review", files={"file": ("a.png", png)}, headers=headers, params=params)
        assert r.status_code == 401 and r.json()["error"]["kind"] == "unauthorized", (headers, params)
        assert r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/v1/profiles", "/review"):
        assert httpx.get(f"{server}{path}").status_code in (401,), path
    for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}):
        r = httpx.post(f"{server}/v1/review", files={"file": ("a.png", png)}, headers=headers, timeout=60)
        assert r.status_code == 200 and r.json()["path"] == "a.png"
    for path in ("/", "/ui/page.js", "/healthz", "/docs", "/openapi.json"):
        assert httpx.get(f"{server}{path}").status_code == 200, path
    api = httpx.get(f"{server}/openapi.json").json()
    assert set(api["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for path in ("/v1/review", "/v1/verify", "/v1/inspect"):
        op = api["paths"][path]["post"]
        assert op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
        assert {"bearer": []} in op["security"]
    assert "security" not in api["paths"]["/healthz"]["get"]


def test_served_page_uploads_and_shows_evidence(driver: Any, server: str, files: dict[str, Any],
                                                 tmp_path: Path) -> None:
    _requests(driver), _problems(driver)  # start both logs afresh
    _open_page(driver, server)

    # keyboard: the drop area is the first stop and opens the picker on Enter and on Space
    driver.execute_script("window.__picks = 0; document.getElementById('files').addEventListener('click', "
                          "(e) => { e.preventDefault(); window.__picks += 1; })")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert driver.execute_script("return document.activeElement.id") == "drop"
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    driver.switch_to.active_element.send_keys(Keys.SPACE)
    assert driver.execute_script("return window.__picks") == 2

    started = time.monotonic()
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in files["paths"]))
    _wait(driver, f"document.querySelectorAll('.file-view .tier').length >= {len(NAMES)}")
    first_views = time.monotonic() - started
    _wait(driver, f"document.querySelectorAll('.file-view[data-loaded]').length === {len(NAMES)}")
    print(f"first views of {len(NAMES)} files {first_views:.2f} s, all evidence {time.monotonic() - started:.2f} s")
    _check_views(driver, files, (f"{server}/", "data:", "blob:"))

    # keyboard: Tab reaches the sort buttons, a file's open button, and the opened view's summary
    stops = []
    driver.execute_script("document.getElementById('platform').focus()")
    for _ in range(12):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        stops.append(driver.execute_script("const a = document.activeElement; "
                                           "return [a.tagName, a.dataset.key || a.className || a.id]"))
    assert ["BUTTON", "name"] in stops and ["BUTTON", "tier"] in stops and ["BUTTON", "open"] in stops, stops
    while driver.execute_script("return document.activeElement.className") != "open":
        driver.switch_to.active_element.send_keys(Keys.TAB)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert driver.execute_script("const a = document.activeElement; return a.tagName === 'SUMMARY' && "
                                 "a.parentElement.classList.contains('file-view')")
    driver.execute_script("document.querySelector('#table th button[data-key=\"name\"]').focus()")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert driver.execute_script("return document.querySelector('#table th button[data-key=\"name\"]')"
                                 ".parentElement.getAttribute('aria-sort')") == "ascending"

    _no_horizontal_scroll(driver)

    shots = _shots(tmp_path)
    _save_shot(driver.get_screenshot_as_png(), shots / "batch.png")
    for name in NAMES[:5]:
        view = driver.find_element(By.CSS_SELECTOR, f".file-view[data-name='{name}']")
        driver.execute_script("arguments[0].scrollIntoView()", view)
        _save_shot(view.screenshot_as_png, shots / f"view-{name.rsplit('.', 1)[0]}.png")
    # the page's own headers: a strict policy
    csp = httpx.get(f"{server}/").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not [u for u in _requests(driver) if not u.startswith((f"{server}/", "data:", "blob:"))]


def test_first_view_of_a_12mp_jpeg_is_as_fast_as_the_api(driver: Any, server: str, files: dict[str, Any]) -> None:
    """Time to the first view (verdict, tier, notice) of a 12 MP JPEG < 1.5 x the /v1/review call, same run."""
    big = files["big"]
    data = big.read_bytes()
    auth = {"Authorization": f"Bearer {API_KEY}"}

    def api() -> float:
        t = time.perf_counter()
        r = httpx.post(f"{server}/v1/review", files={"file": (big.name, data)}, headers=auth, timeout=120)
        assert r.status_code == 200, r.text
        return time.perf_counter() - t

    api()  # a worker warm (the OCR's models loaded); the page's runs below use the same pool

    def page() -> tuple[float, str]:
        driver.get(f"{server}/")  # the key is still in this tab's sessionStorage: not asked again
        _wait(driver, "!document.getElementById('pick').hidden")
        # the clock starts when the page sees the file chosen, and stops when its verdict is drawn
        driver.execute_script("""window.__t = {}; const input = document.getElementById('files');
            input.addEventListener('change', () => { window.__t.start = performance.now(); }, {capture: true});
            new MutationObserver(() => { if (!window.__t.first && document.querySelector('.file-view .tier'))
              window.__t.first = performance.now(); }).observe(document.getElementById('views'),
              {childList: true, subtree: true});""")
        driver.find_element(By.ID, "files").send_keys(str(big))
        _wait(driver, "window.__t.first")
        seconds = driver.execute_script("return (window.__t.first - window.__t.start) / 1000")
        tier = driver.execute_script("return document.querySelector('.file-view .tier').textContent")
        _wait(driver, "document.querySelector('.file-view[data-loaded]')", 120)  # the evidence follows
        return seconds, tier

    # interleaved, the best of each: the machine's load (shared CI runners) hits both alike
    apis, pages = [], []
    for _ in range(2):
        apis.append(api())
        seconds, tier = page()
        pages.append(seconds)
    api_s, page_s = min(apis), min(pages)
    print(f"12 MP JPEG: /v1/review {api_s * 1000:.0f} ms, first view {page_s * 1000:.0f} ms (best of "
          f"{', '.join(f'{a * 1000:.0f}' for a in apis)} / {', '.join(f'{p * 1000:.0f}' for p in pages)}), "
          f"ratio {page_s / api_s:.2f}; {tier}")
    assert page_s < 1.5 * api_s, (page_s, api_s)


def test_html_report_opens_from_disk(driver: Any, files: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "review",
                          *map(str, files["paths"]), "--platform-code", PLATFORM, "--html", str(out)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    html = out.read_text("utf-8")
    assert "http://" not in html.split("<body", 1)[0] and 'src="ui/' not in html and 'href="ui/' not in html
    _requests(driver), _problems(driver)
    driver.get(out.as_uri())
    _wait(driver, f"document.querySelectorAll('.file-view[data-loaded]').length === {len(NAMES)}")
    _save_shot(driver.get_screenshot_as_png(), _shots(tmp_path, docs=False) / "report-html.png")
    assert driver.execute_script("return document.getElementById('pick').hidden") is True
    _check_views(driver, files, (out.as_uri(), "data:", "blob:"))
    _no_horizontal_scroll(driver)


def test_an_empty_api_key_is_a_usage_error() -> None:
    """`--api-key ''` must never mean "no key needed": the server refuses to start (exit 2)."""
    from click.testing import CliRunner

    from aigclabel.cli.main import cli

    for key in ("", "   ", "two words"):
        res = CliRunner().invoke(cli, ["serve", "--port", "0", "--api-key", key])
        assert res.exit_code == 2 and "--api-key" in res.output, (key, res.output)
