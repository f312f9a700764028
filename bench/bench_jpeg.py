"""Benchmark: metadata marking of a 12-megapixel JPEG against two baselines measured in the same run.

Targets (issue #2): mark <= 3x a plain file copy, and >= 20x faster than a Pillow decode + re-encode;
`verify --scope implicit` reads <= 128 KiB of the file. Run: python3 bench/bench_jpeg.py [--repeat N]
Prints the medians, the ratios and whether each target is met; exits 1 if one is not.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image

import aigclabel

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import fresh_output_median, make_photo_jpeg, verdict  # noqa: E402

PRODUCER = "001191110102MACQD9K64010000"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src, out = d / "src.jpg", d / "out.jpg"
        make_photo_jpeg(src)
        size = src.stat().st_size

        def copy(dest: Path) -> None:
            shutil.copyfile(src, dest)

        def mark(dest: Path) -> None:
            aigclabel.mark_file(src, dest, producer=PRODUCER, explicit=False)

        def reencode(dest: Path) -> None:
            with Image.open(src) as im:
                im.save(dest, "JPEG", quality=90, exif=im.info.get("exif", b""))

        t_copy = fresh_output_median(copy, args.repeat, d, ".jpg")
        t_mark = fresh_output_median(mark, args.repeat, d, ".jpg")
        t_re = fresh_output_median(reencode, max(3, args.repeat // 2), d, ".jpg")
        aigclabel.mark_file(src, out, producer=PRODUCER, explicit=False)
        report = aigclabel.verify(out, scope="implicit")
        t_verify = fresh_output_median(lambda _unused: aigclabel.verify(out, scope="implicit"), args.repeat, d, ".jpg")

    ratio_copy = t_mark / t_copy
    speedup = t_re / t_mark
    kib = report.bytes_read / 1024
    ok_copy, ok_re, ok_read = ratio_copy <= 3.0, speedup >= 20.0, report.bytes_read <= 128 * 1024
    print(f"source: 4000x3000 JPEG, {size / 1e6:.2f} MB")
    print(f"plain copy            {t_copy * 1e3:8.2f} ms  (baseline)")
    print(f"aigclabel mark        {t_mark * 1e3:8.2f} ms  = {ratio_copy:.2f}x copy        target <= 3x   "
          f"{verdict(ok_copy)}")
    print(f"Pillow decode+encode  {t_re * 1e3:8.2f} ms  = {speedup:.1f}x slower than mark  target >= 20x  "
          f"{verdict(ok_re)}")
    print(f"verify --scope implicit {t_verify * 1e3:6.2f} ms, read {kib:.1f} KiB of {size / 1024:.0f} KiB "
          f"({report.bytes_read / size:.2%})      target <= 128 KiB {verdict(ok_read)}")
    print(f"verdict of the marked file: {report.verdict.value}")
    return 0 if (ok_copy and ok_re and ok_read and report.ok) else 1


if __name__ == "__main__":
    sys.exit(main())
