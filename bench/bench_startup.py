"""Benchmark: start-up of the command a user runs, as a whole process, against the interpreter and exiftool.

Both sides are whole processes, timed by the CPU time (user + system) of that one process from ``os.wait4``;
the CLI is the installed ``aigclabel`` console script run by this interpreter (no version-manager shim).
The JPEG is the bundled ``samples/photo.jpg`` marked by ``aigclabel mark --no-explicit``; exiftool reads the same
tag (``-config`` as its first argument, or it ignores the namespace and prints nothing).

Targets (issue 15, "Speed and memory targets"):
  aigclabel --help                              <= 2x  python3 -c pass
  aigclabel verify one.jpg --scope implicit     <= 4x  python3 -c pass
  aigclabel verify one.jpg --scope implicit     <= 1x  exiftool -config tc260 -XMP-TC260:AIGC one.jpg

Run: python3 bench/bench_startup.py [--quick] [--pairs N] [--case help,verify,exiftool] [--target-scale F]
Prints the medians of interleaved pairs, the load and a Markdown table; exits 1 if a target is missed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, Sample, aigclabel_argv, exiftool_argv, exiftool_config, main,  # noqa: E402
                     pairs, parser, run_process)

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "photo.jpg"


def body(bench: Bench) -> None:
    cli = aigclabel_argv()
    cases = bench.args.case.split(",")
    print(f"CLI: {' '.join(cli)}")
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)
        one = d / "one.jpg"
        config = exiftool_config(d)
        if "verify" in cases or "exiftool" in cases:
            subprocess.run([*cli, "mark", str(SAMPLE), "-o", str(one), "--producer", PRODUCER, "--no-explicit"],
                           check=True, capture_output=True)
            read = subprocess.run(exiftool_argv(config, "-s3", "-XMP-TC260:AIGC", str(one)), capture_output=True,
                                  text=True, check=True)
            if PRODUCER not in read.stdout:
                raise RuntimeError(f"exiftool does not read the record aigclabel wrote: {read.stdout!r}")
            print(f"{one.stat().st_size / 1024:.0f} KiB JPEG, exiftool reads its record")

        def python_pass() -> Sample:
            return run_process([sys.executable, "-c", "pass"])

        def help_() -> Sample:
            return run_process([*cli, "--help"])

        def verify() -> Sample:
            return run_process([*cli, "verify", str(one), "--scope", "implicit"])

        def exiftool() -> Sample:
            return run_process(exiftool_argv(config, "-s3", "-XMP-TC260:AIGC", str(one)))

        # What the interpreter's site step (and any .pth file of this installation) costs: both sides pay it, so a
        # heavy site (an editable install's finder, a certificate hook) flatters the ratios against python3 -c pass;
        # a clean virtualenv is the honest setting for those two targets.
        bare, full = pairs(lambda: run_process([sys.executable, "-S", "-c", "pass"]), python_pass, bench.n)
        bare_ms = sorted(b.cpu for b in bare)[len(bare) // 2] * 1000
        full_ms = sorted(f.cpu for f in full)[len(full) // 2] * 1000
        print(f"interpreter: python3 -S -c pass {bare_ms:.1f} ms, python3 -c pass {full_ms:.1f} ms "
              f"(site and .pth files: {full_ms - bare_ms:.1f} ms)"
              + ("; that is heavy -- run this benchmark from a clean virtualenv to judge the python3 -c pass targets"
                 if full_ms - bare_ms > 8 else ""))
        if "help" in cases:
            base, ours = pairs(python_pass, help_, bench.n)
            bench.ratio("aigclabel --help vs python3 -c pass", base, ours, 2.0, baseline="python3 -c pass")
        if "verify" in cases:
            base, ours = pairs(python_pass, verify, bench.n)
            bench.ratio("verify one.jpg --scope implicit vs python3 -c pass", base, ours, 4.0,
                        baseline="python3 -c pass")
        if "exiftool" in cases:
            base, ours = pairs(exiftool, verify, bench.n)
            bench.ratio("verify one.jpg --scope implicit vs exiftool", base, ours, 1.0, baseline="exiftool")


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--case", default="help,verify,exiftool",
                    help="which comparisons, comma-separated (help, verify, exiftool; default all)")
    sys.exit(main("startup", ap, body))
