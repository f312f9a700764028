"""Benchmark: metadata marking of a 12-megapixel JPEG, as a whole process and in-process, against exiftool and a copy.

Sides, run as interleaved pairs and judged on CPU time (user + system, the process and its children):
* whole process: ``aigclabel mark src.jpg -o out.jpg --producer P --no-explicit`` against exiftool writing the
  same XMP tag into a new file (``exiftool -config tc260 -XMP-TC260:AIGC=... -o out.jpg src.jpg``);
* in-process: ``aigclabel.mark_file(..., explicit=False)`` against ``shutil.copyfile`` (the physical limit) and
  against a Pillow decode + re-encode (what an image library would do);
* ``aigclabel.verify(out, scope="implicit")``: the bytes it reads.

Targets (issue 15 "Speed and memory targets"; issue #2):
  mark --no-explicit, whole process        <= 0.5x  exiftool's CPU
  mark_file(explicit=False), in-process    <= 1.5x  a plain copy
  mark_file(explicit=False), in-process    <= 0.05x a Pillow decode + re-encode (>= 20x faster; issue #2)
  verify --scope implicit reads            <= 128 KiB

Run: python3 bench/bench_jpeg.py [--quick] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, aigclabel_argv, exiftool_argv, exiftool_config, main, make_photo_jpeg,  # noqa: E402
                     pairs, parser, process, record_json, to_fresh_output)


def body(bench: Bench) -> None:
    import aigclabel
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)
        src, out = d / "src.jpg", d / "out.jpg"
        make_photo_jpeg(src)
        size = src.stat().st_size
        print(f"source: 4000x3000 JPEG, {size / 1e6:.2f} MB")
        config = exiftool_config(d)
        cli = aigclabel_argv()

        exiftool = process(lambda dest: exiftool_argv(config, "-q", f"-XMP-TC260:AIGC={record_json()}", "-o",
                                                      str(dest), str(src)), d, ".jpg")
        ours_cli = process(lambda dest: [*cli, "mark", str(src), "-o", str(dest), "--producer", PRODUCER,
                                         "--no-explicit"], d, ".jpg")
        base, ours = pairs(exiftool, ours_cli, bench.n)
        bench.ratio("12 MP JPEG mark --no-explicit, whole process", base, ours, 0.5, baseline="exiftool")

        copy = to_fresh_output(lambda dest: shutil.copyfile(src, dest), d, ".jpg", inner=5)
        mark = to_fresh_output(lambda dest: aigclabel.mark_file(src, dest, producer=PRODUCER, explicit=False),
                               d, ".jpg", inner=5)
        base, ours = pairs(copy, mark, bench.n)
        bench.ratio("12 MP JPEG mark_file(explicit=False), in-process", base, ours, 1.5, baseline="copy")

        def reencode(dest: Path) -> None:
            with Image.open(src) as im:
                im.save(dest, "JPEG", quality=90, exif=im.info.get("exif", b""))

        base, ours = pairs(to_fresh_output(reencode, d, ".jpg"), mark, bench.n)
        bench.ratio("12 MP JPEG mark_file(explicit=False) vs Pillow re-encode", base, ours, 0.05,
                    baseline="Pillow decode+encode", target_text=">= 20x faster")

        aigclabel.mark_file(src, out, producer=PRODUCER, explicit=False)
        report = aigclabel.verify(out, scope="implicit")
        bench.limit("verify --scope implicit: bytes read", float(report.bytes_read or 0), 128 * 1024, "B",
                    baseline=float(size), note=f"of {size / 1024:.0f} KiB; verdict {report.verdict.value}")
        bench.check("marked file verifies (implicit)", report.ok, f"verdict {report.verdict.value}")


if __name__ == "__main__":
    sys.exit(main("jpeg", parser(__doc__), body))
