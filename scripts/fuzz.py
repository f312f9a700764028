#!/usr/bin/env python3
"""Fuzz aigclabel's entry points with mutated labelled files (issue 12, item 3).

Examples:

    python3 scripts/fuzz.py --budget 300 --out /tmp/fuzz                 # every format, every entry point
    python3 scripts/fuzz.py --budget 100000 --formats tiff,mp3 --entry mark,verify-all --check-outputs
    python3 scripts/fuzz.py --replay /tmp/fuzz/failures/<hash>/minimised.tif --entry mark
    python3 scripts/fuzz.py --coverage label --runs 200000                # atheris, if installed

``--budget`` is the number of mutated inputs per format, spread round-robin over the entry points.
The results table goes to stdout (Markdown) and to OUT/results.json; each new failure signature
to OUT/failures/<hash>/ (input, minimised reproducer, README.txt).  Exit code 1 when any untyped
exception, hang, worker crash or broken output was found.  The code lives in tests/fuzz/.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import warnings
from pathlib import Path

# tests/fuzz is the package; it must come before scripts/ on the path (this file is also called fuzz)
_TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(_TESTS))

from fuzz import campaign, seeds  # noqa: E402
from fuzz.worker import ENTRIES, Task, run_one  # noqa: E402


def _csv(value: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    if value == "all":
        return list(allowed)
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad:
        raise SystemExit(f"unknown {what} {', '.join(bad)} (choose from: {', '.join(allowed)}, or all)")
    return items


def _replay(path: Path, entries: list[str], limit_s: float, independent: bool) -> int:
    """Run one file through the entry points in this process and print each outcome (with its traceback)."""
    from fuzz.worker import preload

    preload()
    from fuzz.worker import _on_alarm

    signal.signal(signal.SIGALRM, _on_alarm)
    warnings.simplefilter("ignore")
    fmt = next((name for name, s in seeds.SPECS.items() if s.suffix == path.suffix), "unknown")
    kind = seeds.SPECS[fmt].kind if fmt in seeds.SPECS else "document"
    bad = 0
    with tempfile.TemporaryDirectory(prefix="aigclabel-fuzz-replay-") as tmp:
        for entry in entries:
            out = run_one(Task(fmt, path.suffix, kind, entry, path.read_bytes()), Path(tmp), limit_s, independent)
            print(f"{entry}: {out['status']} {out.get('sig') or out.get('detail') or ''} "
                  f"({out['elapsed']:.2f} s, peak {out['rss_mb']:.0f} MB)")
            if out.get("tb"):
                print(out["tb"])
            bad += out["status"] in campaign.FAILING
    return 1 if bad else 0


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=int, default=300, help="mutated inputs per format (default 300)")
    ap.add_argument("--formats", default="all", help=f"comma list of {', '.join(seeds.SPECS)} (default all)")
    ap.add_argument("--entry", default="all", help=f"comma list of {', '.join(ENTRIES)} (default all)")
    ap.add_argument("--out", type=Path, default=Path("fuzz-out"), help="output directory (seeds, failures, results)")
    ap.add_argument("--seed", type=int, default=1, help="run seed: the same seed gives the same inputs")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--mem-cap", type=float, default=2.0, help="RLIMIT_AS of each worker in GiB (default 2)")
    ap.add_argument("--time-limit", type=float, default=2.0, help="wall-time limit per input in s (default 2)")
    ap.add_argument("--check-outputs", action="store_true",
                    help="check mark's outputs with independent readers (Pillow, mutagen, ffprobe, qpdf, zipfile)")
    ap.add_argument("--minimise-seconds", type=float, default=30.0,
                    help="time to minimise each new failure (0: keep the input only)")
    ap.add_argument("--no-confirm-hangs", action="store_true", help="count a hang without retrying it once")
    ap.add_argument("--replay", type=Path, help="run this one file through --entry in-process and print outcomes")
    ap.add_argument("--coverage", choices=("label", "xmp", "read"),
                    help="coverage-guided run of a pure parser with atheris (needs `pip install atheris`)")
    ap.add_argument("--runs", type=int, default=100000, help="atheris runs for --coverage")
    ap.add_argument("--progress", type=int, default=1000, help="a progress line on stderr every N calls (0: none)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of Markdown")
    args = ap.parse_args(argv)

    entries = _csv(args.entry, ENTRIES, "entry point")
    if args.replay is not None:
        return _replay(args.replay, entries, args.time_limit, args.check_outputs)
    if args.coverage is not None:
        from fuzz import coverage

        formats = _csv(args.formats, list(seeds.SPECS), "format")
        return coverage.main(args.coverage, args.out, formats, args.runs, args.seed)
    cfg = campaign.Config(out=args.out, budget=args.budget, formats=_csv(args.formats, list(seeds.SPECS), "format"),
                          entries=entries, seed=args.seed, workers=args.workers, mem_cap=int(args.mem_cap * (1 << 30)),
                          limit_s=args.time_limit, check_outputs=args.check_outputs,
                          minimise_s=args.minimise_seconds, confirm_hangs=not args.no_confirm_hangs,
                          progress=args.progress)
    # SIGTERM stops a long run like ^C does: the table so far is written (workers reset it to the default)
    signal.signal(signal.SIGTERM, _stop)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, _stop)
    results = campaign.run(cfg)
    print(json.dumps(results.to_dict(), indent=1) if args.json else results.markdown())
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
