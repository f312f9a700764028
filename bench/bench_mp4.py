"""Benchmark: metadata marking of ~200 MB and ~800 MB MP4s, moov first and moov last, against a copy and exiftool.

The sources are genuine movies made by ffmpeg (noisy 720p MPEG-4 at top quality plus AAC, ~42 MB per second, so
the mdat is real media); moov first is ``-movflags +faststart`` (moov grows, every chunk offset moves).
Sides, run as interleaved pairs and judged on CPU time (user + system, the process and its children):
* in-process: ``aigclabel.mark(src, dest, explicit=False)`` against ``shutil.copyfile`` (the physical limit);
* whole process (reported): ``aigclabel mark --no-explicit`` against exiftool writing the same XMP tag
  (``-config`` first) into a new file;
* ``verify --scope implicit`` of the marked file: the bytes it reads.

Targets (issue 15 "Speed and memory targets"; issue #8):
  MP4 mark(explicit=False), 200 MB and 800 MB, moov first and last   <= 1.5x a plain copy
  verify --scope implicit of the marked file reads                   < 1 MiB, one label found

--quick: the 200 MB files only.  Run: python3 bench/bench_mp4.py [--quick] [--pairs N] [--dir D] [--target-scale F]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, aigclabel_argv, exiftool_argv, exiftool_config, main, need, pairs,  # noqa: E402
                     parser, process, record_json, to_fresh_output)

MAX_VERIFY_BYTES = 1 << 20
MB_PER_SECOND = 42.0


def make_source(path: Path, seconds: float, faststart: bool) -> None:
    flags = ["-movflags", "+faststart"] if faststart else []
    subprocess.run([need("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30,noise=alls=100:allf=t", "-f", "lavfi", "-i",
                    "sine=frequency=440", "-t", str(seconds), "-c:v", "mpeg4", "-q:v", "1", "-c:a", "aac",
                    "-metadata", "title=bench", *flags, str(path)], check=True)


def one(bench: Bench, d: Path, megabytes: int, faststart: bool) -> None:
    import aigclabel

    layout = "moov first" if faststart else "moov last"
    src = d / f"src-{megabytes}-{int(faststart)}.mp4"
    make_source(src, megabytes / MB_PER_SECOND, faststart)
    size = src.stat().st_size
    print(f"{layout}: {size / 1e6:.0f} MB MP4")
    name = f"{megabytes} MB MP4 {layout}"
    copy = to_fresh_output(lambda dest: shutil.copyfile(src, dest), d, ".mp4")
    mark = to_fresh_output(lambda dest: aigclabel.mark(src, dest, producer=PRODUCER, explicit=False), d, ".mp4")
    base, ours = pairs(copy, mark, bench.n)
    bench.ratio(f"{name}: mark(explicit=False), in-process", base, ours, 1.5, baseline="copy")

    config, cli = exiftool_config(d), aigclabel_argv()
    exiftool = process(lambda dest: exiftool_argv(config, "-q", f"-XMP-TC260:AIGC={record_json()}", "-o",
                                                  str(dest), str(src)), d, ".mp4")
    ours_cli = process(lambda dest: [*cli, "mark", str(src), "-o", str(dest), "--producer", PRODUCER,
                                     "--no-explicit"], d, ".mp4")
    base, ours = pairs(exiftool, ours_cli, bench.n)
    bench.ratio(f"{name}: mark --no-explicit, whole process", base, ours, None, baseline="exiftool")

    out = d / "marked.mp4"
    aigclabel.mark(src, out, producer=PRODUCER, explicit=False)
    report = aigclabel.verify(out, scope="implicit")
    found = [lab.carrier for lab in report.labels]
    bench.limit(f"{name}: verify --scope implicit bytes read", float(report.bytes_read or 0),
                MAX_VERIFY_BYTES - 1, "B", baseline=float(size), note=f"labels {found}")
    bench.check(f"{name}: one label found", len(found) == 1, f"labels {found}")
    out.unlink()
    src.unlink()


def body(bench: Bench) -> None:
    sizes = [200] if bench.quick else [200, 800]
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-", dir=bench.args.dir) as tmp:
        for megabytes in sizes:
            for faststart in (True, False):
                one(bench, Path(tmp), megabytes, faststart)


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--dir", type=Path, default=None, help="scratch directory (default: the system temporary one)")
    sys.exit(main("mp4", ap, body))
