"""Benchmark: metadata marking of a ~200 MB MP4 against a plain file copy measured in the same run.

Targets (issue #8): marking <= 2x a plain copy (``shutil.copyfile``), for moov first (``+faststart``:
moov grows, every chunk offset moves) and moov last; ``verify --scope implicit`` of the marked file
reads < 1 MB.  The source is a genuine movie made by ffmpeg (noisy 720p MPEG-4 at top quality plus
AAC, so the mdat is real media, ~200 MB, made in a few seconds).

Run: python3 bench/bench_mp4.py [--repeat N] [--seconds S]
Prints the medians, the ratios and a PASS/FAIL line per target; exits 1 if one is not met.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aigclabel

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import fresh_output_median, verdict  # noqa: E402

PRODUCER = "001191110102MACQD9K64010000"
MAX_RATIO = 2.0
MAX_VERIFY_BYTES = 1 << 20


def make_source(path: Path, seconds: float, faststart: bool) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg)")
    flags = ["-movflags", "+faststart"] if faststart else []
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30,noise=alls=100:allf=t", "-f", "lavfi", "-i",
                    "sine=frequency=440", "-t", str(seconds), "-c:v", "mpeg4", "-q:v", "1", "-c:a", "aac",
                    "-metadata", "title=bench", *flags, str(path)], check=True)


def bench(d: Path, faststart: bool, seconds: float, repeat: int) -> bool:
    name = "moov first (+faststart)" if faststart else "moov last"
    src = d / ("fast.mp4" if faststart else "last.mp4")
    make_source(src, seconds, faststart)
    size = src.stat().st_size

    def copy(dest: Path) -> None:
        shutil.copyfile(src, dest)

    def mark(dest: Path) -> None:
        aigclabel.mark(src, dest, producer=PRODUCER, explicit=False)

    # interleave so that neither side profits from a warmer cache or a quieter disk
    t_copy = min(fresh_output_median(copy, repeat, d, ".mp4"), fresh_output_median(copy, repeat, d, ".mp4"))
    t_mark = fresh_output_median(mark, repeat, d, ".mp4")
    t_copy = min(t_copy, fresh_output_median(copy, repeat, d, ".mp4"))
    out = d / "marked.mp4"
    aigclabel.mark(src, out, producer=PRODUCER, explicit=False)
    report = aigclabel.verify(out, scope="implicit")
    found = [lab.carrier for lab in report.labels]
    out.unlink()
    ratio = t_mark / t_copy
    ok_ratio = ratio <= MAX_RATIO
    ok_read = report.bytes_read is not None and report.bytes_read < MAX_VERIFY_BYTES and len(found) == 1
    print(f"{name}: {size / 1e6:.1f} MB, copy {t_copy * 1000:.1f} ms, mark {t_mark * 1000:.1f} ms, "
          f"ratio {ratio:.2f}")
    print(f"  {verdict(ok_ratio)}: mark <= {MAX_RATIO:g}x copy ({ratio:.2f}x)")
    print(f"  {verdict(ok_read)}: verify read {report.bytes_read} bytes (< {MAX_VERIFY_BYTES}), "
          f"labels {found}")
    return ok_ratio and ok_read


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the test movie (~42 MB per second)")
    ap.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        results = [bench(d, True, args.seconds, args.repeat), bench(d, False, args.seconds, args.repeat)]
    print(verdict(all(results)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
