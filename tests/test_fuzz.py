"""The fuzzing harness on a small fixed budget (issue 12, item 3): no untyped exception, hang or broken output.

Every format aigclabel reads gets a labelled seed (made by our own ``mark``); 54 mutations of each
(seeded, so every run sees the same inputs) go round-robin through ``verify`` in its three scopes,
``inspect`` (also with ``watermark=True``), ``review`` and ``mark`` with and without the explicit label and with the
invisible watermark, in two worker processes
capped at 2 GiB with a 2 s limit per input.  ``mark``'s outputs are re-read by our verifier and by an
independent reader (Pillow, mutagen, ffprobe, qpdf, zipfile).  On failure the message lists each
signature with the directory holding its input, minimised reproducer and traceback.

The long run is ``python3 scripts/fuzz.py --budget 100000 --check-outputs --out DIR``.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz import seeds  # noqa: E402
from fuzz.mutate import Mutator, find_fields  # noqa: E402

import aigclabel  # noqa: E402
from aigclabel._io import CountingReader  # noqa: E402
from aigclabel.formats import _BUILTIN, handler_for  # noqa: E402

#: inputs per format in CI: 6 per entry point (9 of them); 35 seeds (28 formats, 3 of them also at a size the
#: watermark needs, 4 also C2PA-signed)
CI_BUDGET = 54
CI_SEED = 20261206

#: the handler each seed must be read by
HANDLER = {"jpeg": "jpeg", "png": "png", "apng": "png", "webp": "webp", "gif": "gif", "tiff": "tiff", "heic": "heif",
           "avif": "heif", "mp3": "mp3", "wav": "wav", "flac": "flac", "ogg": "ogg", "opus": "opus", "aiff": "aiff",
           "m4a": "m4a", "mp4": "mp4", "mov": "mp4", "mkv": "mkv", "webm": "webm", "avi": "avi", "flv": "flv",
           "pdf": "pdf", "docx": "docx", "xlsx": "xlsx", "pptx": "pptx", "txt": "txt", "markdown": "markdown",
           "html": "html", "jpeg-wm": "jpeg", "flac-wm": "flac", "mp3-wm": "mp3", "jpeg-c2pa": "jpeg", "png-c2pa": "png", "mp4-c2pa": "mp4", "pdf-c2pa": "pdf"}

needs_tools = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("qpdf") is None,
                                 reason="ffmpeg and qpdf are needed (apt-get install ffmpeg qpdf)")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fuzz_run(out: Path) -> dict:
    """The CI budget, run by ``scripts/fuzz.py`` in a fresh interpreter.

    Not in this process, nor forked from it: earlier tests have loaded the C2PA SDK, PyAV and
    onnxruntime here, which start threads, and a process forked from one that ran them can deadlock
    on a lock one of those threads held (seen: a seed's C2PA signing hung in a forked child)."""
    if shutil.which("ffmpeg") is None or shutil.which("qpdf") is None:
        pytest.skip("ffmpeg and qpdf are needed (apt-get install ffmpeg qpdf)")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--budget", str(CI_BUDGET),
                           "--seed", str(CI_SEED), "--workers", "2", "--check-outputs", "--minimise-seconds", "5",
                           "--out", str(out), "--json"], capture_output=True, text=True, timeout=1200)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: something was found (asserted below)
    results: dict = json.loads(proc.stdout)
    return results


@pytest.fixture(scope="module")
def seed_files(out: Path, fuzz_run: dict) -> dict[str, bytes]:
    return seeds.load(out / "seeds", list(seeds.SPECS))


@needs_tools
def test_small_fixed_budget_finds_no_untyped_exception_hang_or_broken_output(out: Path, fuzz_run: dict) -> None:
    assert fuzz_run["calls"] == CI_BUDGET * len(seeds.SPECS)
    problems = [f"{x['status']}: {x['signature']} x{x['count']} (first {x['first']['format']} {x['first']['entry']}; "
                f"{out / x['reproducer']})" for x in fuzz_run["failures"]]
    table = (out / "results.md").read_text() if (out / "results.md").exists() else ""
    assert not problems, "fuzzing found:\n" + "\n".join(problems) + "\n\n" + table


@needs_tools
def test_a_labelled_seed_for_every_format_we_read(seed_files: dict[str, bytes]) -> None:
    names = set()
    for fmt, data in seed_files.items():
        src = CountingReader(io.BytesIO(data), f"seed{seeds.SPECS[fmt].suffix}", len(data))
        handler = handler_for(src)
        assert handler.name == HANDLER[fmt], fmt
        names.add(type(handler).__name__)
        if handler.can_write and getattr(handler, "implicit_carrier", True):
            report = aigclabel.verify(data, scope="implicit")
            assert any("fuzz-seed-" in (lab.raw or "") for lab in report.labels), f"{fmt} seed is not labelled"
    every = {name for classes in _BUILTIN.values() for name in classes}
    assert names == every, f"formats without a seed: {sorted(every - names)}"


@needs_tools
def test_mutations_are_deterministic_and_find_length_fields(seed_files: dict[str, bytes]) -> None:
    for fmt in ("png", "mp4", "wav", "jpeg", "docx"):
        one, two = Mutator(seed_files[fmt], 7, fmt), Mutator(seed_files[fmt], 7, fmt)
        assert [one.mutate(i) for i in range(30)] == [two.mutate(i) for i in range(30)]
        assert len({one.mutate(i)[0] for i in range(30)}) > 20  # and they differ from each other
    # the PNG seed: IHDR's length field sits at offset 8 and sizes a 25-byte chunk
    assert any(f.offset == 8 and f.width == 4 and f.big and f.end - f.start == 25
               for f in find_fields(seed_files["png"]))
