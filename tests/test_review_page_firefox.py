"""The review page in a real headless Firefox, driven over WebDriver BiDi: `aigclabel serve`'s page and
`review --html` (issue 19: "works in the current Chromium and Firefox").

Debian has ``firefox-esr`` but no geckodriver, and the tests download nothing, so Firefox is driven over the
BiDi protocol it speaks itself (``tests/_bidi.py``, a small client on the ``websockets`` package).  Firefox runs
with a fresh profile in a temporary directory; at the end the browser and all its processes are gone (read from
/proc) and the profile removed.

Three files go through the page's own file input (BiDi ``input.setFiles``: the page's change handler uploads
them): a labelled JPEG, an unlabelled PNG showing "AI生成" (tier 3 by OCR) and a PNG whose record holds markup.
What the page draws is checked against the truth, not against itself: the box the marker says it drew the label
in, and Pillow's measure of the text drawn on the PNG.  Every request the page made (``network.beforeRequestSent``)
went to the test's server on 127.0.0.1, the console stayed free of errors, no Content-Security-Policy violation
was reported, no dialog opened.  The same view then renders from the ``review --html`` file opened as file://.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx", reason="the service tests need the service extra: "
                            "pip install 'aigclabel[service]'")
pytest.importorskip("fastapi", reason="pip install 'aigclabel[service]'")
pytest.importorskip("websockets", reason="the Firefox test's BiDi client needs websockets: "
                    "pip install 'aigclabel[service]' (uvicorn[standard] brings it)")
pytest.importorskip("rapidocr_onnxruntime", reason="the OCR boxes need the OCR extra: pip install 'aigclabel[ocr]'")

import aigclabel  # noqa: E402


def _load(name: str) -> ModuleType:
    """A helper module next to this file (tests/ is no package; the suite imports in importlib mode)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bidi = _load("_bidi")
rf = _load("_review_files")

FIREFOX = bidi.find_firefox()
pytestmark = pytest.mark.skipif(FIREFOX is None, reason="needs Firefox (Debian: apt-get install firefox-esr)")

API_KEY = "test-key-ff-7d21"
HOSTILE = "<img/src=x/onerror=alert(1)>"
NAMES = ("labelled.jpg", "ocr.png", "hostile.png")
# every page load records Content-Security-Policy violations before the page's own script runs
CSP_WATCH = """() => { window.__csp = [];
  document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`)); }"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("ff-files")
    rf.scene((800, 600)).save(d / "plain.jpg", quality=90)
    jpg = aigclabel.mark(d / "plain.jpg", d / "labelled.jpg", producer=rf.PRODUCER)
    ocr_box = rf.ocr_png(d / "ocr.png")
    from PIL import Image

    Image.new("RGB", (200, 120), (200, 220, 240)).save(d / "plain.png")
    aigclabel.mark(d / "plain.png", d / "hostile.png", producer=HOSTILE, explicit=False)
    return {"dir": d, "truth": {"labelled.jpg": rf.marked_box(jpg), "ocr.png": list(ocr_box)},
            "paths": [d / n for n in NAMES]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with rf.serve(tmp_path_factory.mktemp("ff-uploads"), API_KEY) as base:
        yield base


@pytest.fixture(scope="module")
def firefox() -> Iterator[Any]:
    ff = bidi.Firefox(FIREFOX)
    profile, group = str(ff.profile), ff.proc.pid
    assert len(bidi.processes_using(profile, group)) > 1  # the main process and its content processes
    try:
        ff.command("script.addPreloadScript", {"functionDeclaration": CSP_WATCH})
        yield ff
    finally:
        ff.close()
    # nothing left behind: no process naming the profile or in the browser's process group, no profile
    assert not bidi.processes_using(profile, group), bidi.processes_using(profile, group)
    assert not Path(profile).exists()


# ------------------------------------------------------------------------------------------ checks

_VIEW = "document.querySelector('.file-view[data-name$=\"' + arguments[0] + '\"]')"


def _text(ff: Any, name: str, selector: str) -> list[str]:
    return ff.run(f"return Array.from({_VIEW}.querySelectorAll(arguments[1])).map(e => e.textContent)",
                  name, selector)


def _problems(ff: Any) -> list[Any]:
    """Console errors (a script error included), CSP violations the page saw, dialogs (an injected alert())."""
    errors = [(e.get("type"), e.get("text")) for e in ff.drain("log.entryAdded") if e.get("level") == "error"]
    prompts = [("dialog", p.get("message")) for p in ff.drain("browsingContext.userPromptOpened")]
    return errors + prompts + [("csp", v) for v in ff.run("return window.__csp || []")]


def _outside(ff: Any, allowed: tuple[str, ...]) -> list[str]:
    urls = [e["request"]["url"] for e in ff.drain("network.beforeRequestSent")]
    assert urls, "no request recorded: the network events are not arriving"
    return [u for u in urls if not u.startswith(allowed)]


def _check_views(ff: Any, files: dict[str, Any]) -> None:
    # verdicts and tiers in plain words, both languages, and the notice
    assert _text(ff, "labelled.jpg", ".tier")[0].startswith("Tier 1: AI-generated")
    assert _text(ff, "labelled.jpg", ".tier")[1].startswith("第1级：作品含AI生成内容")
    assert _text(ff, "ocr.png", ".tier")[0].startswith("Tier 3: suspected AI-generated")
    assert "疑似使用了AI生成技术，请谨慎甄别" in _text(ff, "ocr.png", ".notice")
    producer = _text(ff, "labelled.jpg", ".record dd[data-field='ContentProducer']")[0]
    assert rf.PRODUCER in producer and "USCC 91110102MACQD9K640" in producer
    # the OCR boxes: drawn where the server reported them, and where the label really is
    for name, truth in files["truth"].items():
        rf.assert_label_box(name, ff.run(rf.OCR_GEOMETRY_JS, name), truth)
        assert ff.run(f"return !!{_VIEW}.querySelector('.edge-band')", name)
    # a hostile record field is text, never markup
    assert HOSTILE in _text(ff, "hostile.png", ".record dd[data-field='ContentProducer']")[0]
    assert ff.run("return document.querySelectorAll('.record img, .file-view img[src=\"x\"]').length") == 0


def _no_horizontal_scroll(ff: Any) -> None:
    """A 640 CSS px viewport (1280 px at 200 % zoom): nothing makes the page scroll sideways."""
    ff.command("browsingContext.setViewport", {"context": ff.context, "viewport": {"width": 640, "height": 1000}})
    try:
        ff.wait("window.innerWidth <= 640", 10)
        widths = ff.run("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths
    finally:
        ff.command("browsingContext.setViewport", {"context": ff.context, "viewport": None})


# ------------------------------------------------------------------------------------------ tests


def test_served_page_in_firefox(firefox: Any, server: str, files: dict[str, Any]) -> None:
    ff = firefox
    ff.drain("network.beforeRequestSent"), _problems(ff)
    ff.navigate(f"{server}/")
    ff.wait("document.readyState === 'complete' && !document.getElementById('key-form').hidden")
    # the key, typed (the page focuses its field): a wrong one first, then the right one, each with Enter
    assert ff.run("return document.activeElement.id") == "key"
    ff.keys("wrong-key\ue007")
    ff.wait("document.getElementById('key-error').textContent.includes('refused')")
    ff.keys(API_KEY + "\ue007")
    ff.wait("!document.getElementById('pick').hidden && document.getElementById('key-form').hidden")
    # the drop area is the first keyboard stop and opens the file picker on Enter and on Space (the picker
    # itself is held back: a headless browser has no dialog to show)
    ff.run("window.__picks = 0; document.getElementById('files').addEventListener('click', "
           "(e) => { e.preventDefault(); window.__picks += 1; }); document.activeElement.blur()")
    ff.keys("\ue004")
    assert ff.run("return document.activeElement.id") == "drop"
    ff.keys("\ue007 ")
    assert ff.run("return window.__picks") == 2

    ff.set_files("#files", files["paths"])
    ff.wait(f"document.querySelectorAll('.file-view[data-loaded]').length === {len(NAMES)}", 40)
    _check_views(ff, files)
    # Tab reaches the table's sort buttons.  The button is then pressed from script: a synthesized Enter or
    # Space activates no <button> in headless Firefox over BiDi (not even on a bare page, its window never
    # having the system focus), while links and forms do react; Chromium's test presses Enter for real.
    ff.run("document.getElementById('platform').focus()")
    stops = []
    while "tier" not in stops and len(stops) < 10:
        ff.keys("\ue004")
        stops.append(ff.run("return document.activeElement.dataset.key || document.activeElement.id"))
    assert stops[-1] == "tier", stops
    ff.run("document.activeElement.click()")
    assert ff.run("return document.querySelector('#table th button[data-key=\"tier\"]')"
                  ".parentElement.getAttribute('aria-sort')") == "ascending"
    tiers = ff.run("return Array.from(document.querySelectorAll('#table tbody .tier-cell')).map(e => e.textContent)")
    assert tiers == sorted(tiers, key=lambda t: 9 if t == "none" else int(t)) and len(tiers) == len(NAMES), tiers
    _no_horizontal_scroll(ff)

    assert not _outside(ff, (f"{server}/", "data:", "blob:"))
    # the 401s of the key check are answers the page expects, not console errors
    assert not _problems(ff)


def test_html_report_in_firefox(firefox: Any, files: dict[str, Any], tmp_path: Path) -> None:
    ff = firefox
    out = tmp_path / "report.html"
    run = subprocess.run([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "review",
                          *map(str, files["paths"]), "--platform-code", rf.PLATFORM, "--html", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    ff.drain("network.beforeRequestSent"), _problems(ff)
    ff.navigate(out.as_uri())
    ff.wait(f"document.querySelectorAll('.file-view[data-loaded]').length === {len(NAMES)}", 20)
    assert ff.run("return document.getElementById('pick').hidden") is True
    _check_views(ff, files)
    assert not _outside(ff, (out.as_uri(), "data:", "blob:"))
    assert not _problems(ff)
