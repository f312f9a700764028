"""Timing helpers shared by the benchmark scripts in this folder.

The scripts run as ``python3 bench/bench_x.py`` from the repository root, so they import this module
after putting their own folder on ``sys.path``::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _timing import fresh_output_median, verdict  # noqa: E402
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable


def median_seconds(fn: Callable[[], object], repeat: int, *, warmup: int = 1) -> float:
    """Median wall time of *repeat* calls of ``fn()``, after *warmup* calls that are not counted."""
    times = []
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        if i >= warmup:
            times.append(elapsed)
    return statistics.median(times)


def fresh_output_median(fn: Callable[[Path], object], repeat: int, out_dir: Path, suffix: str, *,
                        warmup: int = 1) -> float:
    """Median wall time of ``fn(dest)``, each call given a fresh output path ``out_dir/out-<i><suffix>``.

    Every call writes a new file (as a pipeline does), so no call pays for freeing an old one; the
    output is removed after the clock stops.  The first *warmup* calls (imports, page cache) are run
    the same way but not counted.
    """
    times = []
    for i in range(warmup + repeat):
        dest = out_dir / f"out-{i}{suffix}"
        t0 = time.perf_counter()
        fn(dest)
        elapsed = time.perf_counter() - t0
        dest.unlink(missing_ok=True)
        if i >= warmup:
            times.append(elapsed)
    return statistics.median(times)


def verdict(ok: bool) -> str:
    """``"PASS"`` or ``"FAIL"``."""
    return "PASS" if ok else "FAIL"


def make_photo_jpeg(path: Path) -> None:
    """A 4000x3000 (12 MP) photo-like JPEG - noise plus gradients, so it compresses like a real photo -
    with EXIF: the source the JPEG benchmarks share."""
    from PIL import Image

    w, h = 4000, 3000
    noise = Image.effect_noise((w, h), 40).convert("L")
    grad = Image.linear_gradient("L").resize((w, h))
    im = Image.merge("RGB", (noise, grad, Image.blend(noise, grad, 0.5)))
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0110] = "Model 12MP"
    im.save(path, "JPEG", quality=90, exif=exif.tobytes())
