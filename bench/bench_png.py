"""Benchmark: metadata marking of a 24 MB PNG in-process against a plain copy, and as a whole process vs exiftool.

Sides, run as interleaved pairs and judged on CPU time (user + system, the process and its children):
* in-process: ``aigclabel.mark_file(..., explicit=False)`` against ``shutil.copyfile`` (the physical limit);
* whole process (reported): ``aigclabel mark --no-explicit`` against exiftool writing the same XMP tag
  (``-config`` first) into a new file;
* ``aigclabel.verify(out, scope="implicit")``: the bytes it reads (reported; the IDAT need not be read).

The PNG is 2830x2830 RGB noise at zlib level 1 (noise does not compress, so the file is ~24 MB of IDAT).

Targets (issue 15 "Speed and memory targets"):
  24 MB PNG mark_file(explicit=False), in-process   <= 1.5x a plain copy

Run: python3 bench/bench_png.py [--quick] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, aigclabel_argv, exiftool_argv, exiftool_config, main, pairs,  # noqa: E402
                     parser, process, record_json, to_fresh_output)

SIDE = 2830


def body(bench: Bench) -> None:
    import aigclabel
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)
        src, out = d / "src.png", d / "out.png"
        Image.frombytes("RGB", (SIDE, SIDE), os.urandom(SIDE * SIDE * 3)).save(src, compress_level=1)
        size = src.stat().st_size
        print(f"source: {SIDE}x{SIDE} PNG, {size / 1e6:.1f} MB")

        copy = to_fresh_output(lambda dest: shutil.copyfile(src, dest), d, ".png")
        mark = to_fresh_output(lambda dest: aigclabel.mark_file(src, dest, producer=PRODUCER, explicit=False),
                               d, ".png")
        base, ours = pairs(copy, mark, bench.n)
        bench.ratio("24 MB PNG mark_file(explicit=False), in-process", base, ours, 1.5, baseline="copy")

        config, cli = exiftool_config(d), aigclabel_argv()
        exiftool = process(lambda dest: exiftool_argv(config, "-q", f"-XMP-TC260:AIGC={record_json()}", "-o",
                                                      str(dest), str(src)), d, ".png")
        ours_cli = process(lambda dest: [*cli, "mark", str(src), "-o", str(dest), "--producer", PRODUCER,
                                         "--no-explicit"], d, ".png")
        base, ours = pairs(exiftool, ours_cli, bench.n)
        bench.ratio("24 MB PNG mark --no-explicit, whole process", base, ours, None, baseline="exiftool")

        aigclabel.mark_file(src, out, producer=PRODUCER, explicit=False)
        report = aigclabel.verify(out, scope="implicit")
        bench.limit("verify --scope implicit: bytes read", float(report.bytes_read or 0), None, "B",
                    baseline=float(size), note=f"of {size / 1024:.0f} KiB (as the library counts it)")
        bench.check("marked file verifies (implicit)", report.ok, f"verdict {report.verdict.value}")


if __name__ == "__main__":
    sys.exit(main("png", parser(__doc__), body))
