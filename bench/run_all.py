"""Run every benchmark in this folder, each in its own process, and print one Markdown table of all their rows.

Each ``bench_*.py`` runs as ``python3 bench/bench_x.py --json FILE`` (plus ``--quick``, ``--target-scale`` and
``--allow-inconclusive`` when given here), so one bench's imports, caches and memory never colour another's.
Exit code: 1 if any bench missed a target or broke (or died without a table), 2 if the only misses are
INCONCLUSIVE (0 with ``--allow-inconclusive``), 0 if every target was met.

Run: python3 bench/run_all.py [--quick] [--only startup,jpeg] [--skip video] [--target-scale F]
     [--allow-inconclusive] [--timeout SECONDS] [--bench-args '--pairs 9']
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import ERROR, FAIL, INCONCLUSIVE, Result, load_text, table  # noqa: E402


def benches() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every bench (smaller inputs)")
    ap.add_argument("--only", default="", help="comma-separated bench names (e.g. startup,jpeg)")
    ap.add_argument("--skip", default="", help="comma-separated bench names to leave out")
    ap.add_argument("--target-scale", type=float, default=None, metavar="F", help="passed to every bench")
    ap.add_argument("--allow-inconclusive", action="store_true", help="passed to every bench; exit 0 on those")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per bench")
    ap.add_argument("--bench-args", default="", metavar="ARGS",
                    help="more arguments for every bench, as one shell-quoted string (e.g. '--pairs 9')")
    args = ap.parse_args()
    names = [n for n in benches() if not args.only or n in args.only.split(",")]
    names = [n for n in names if n not in args.skip.split(",")]
    unknown = set(filter(None, (args.only + "," + args.skip).split(","))) - set(benches())
    if unknown:
        ap.error(f"no such bench: {', '.join(sorted(unknown))} (have: {', '.join(benches())})")
    rows: list[Result] = []
    started = load_text()
    with tempfile.TemporaryDirectory(prefix="aigclabel-runall-") as tmp:
        for name in names:
            out = Path(tmp) / f"{name}.jsonl"
            argv = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(out)]
            argv += ["--quick"] if args.quick else []
            argv += ["--target-scale", str(args.target_scale)] if args.target_scale is not None else []
            argv += ["--allow-inconclusive"] if args.allow_inconclusive else []
            argv += shlex.split(args.bench_args)
            print(f"\n===== {name}: {' '.join(argv[1:])}  ({load_text()})", flush=True)
            t0 = time.perf_counter()
            try:
                code = subprocess.run(argv, timeout=args.timeout).returncode
            except subprocess.TimeoutExpired:
                code = None
            got = [Result(**json.loads(line)) for line in out.read_text("utf-8").splitlines()] if out.exists() else []
            rows += got
            if code is None or not got or (code == 1 and not any(r.status in (FAIL, ERROR) for r in got)):
                why = "timed out" if code is None else f"exited {code} without a judged table"
                rows.append(Result(name, "benchmark ran", None, None, None, "—", ERROR, "", "", why))
            print(f"===== {name}: exit {code}, {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"\nall benches: {started} at the start, {load_text()} at the end\n")
    print(table(rows))
    statuses = {r.status for r in rows}
    if statuses & {FAIL, ERROR}:
        return 1
    if INCONCLUSIVE in statuses and not args.allow_inconclusive:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
