"""What every benchmark in this folder shares: the argument parser, A/B pairs, the clocks, baselines, the verdict.

The scripts run as ``python3 bench/bench_x.py [--quick]`` from the repository root and import this module after
putting their own folder on ``sys.path``.  Each one:

* runs its two sides **interleaved** (baseline, ours, baseline, ours, ...), after one warm-up of each, and judges
  the **median of the per-pair ratios** of at least 5 pairs, so a busy moment on a shared machine hurts the two
  sides of one pair alike instead of one whole series;
* says which clock it judges: ``cpu`` (user + system time of this process and of the child processes it waited
  for, from :func:`os.times` or :func:`os.wait4`: what a loaded machine distorts least) or ``wall`` (only where
  the point is parallelism or throughput, e.g. ``--jobs 2``, the HTTP service);
* prints the machine's load average and CPU count at the start and the end;
* states every target as an upper bound (a "3x faster" target is ``ours / baseline <= 0.333``), so
  ``--target-scale F`` multiplies every target alike (``0.001`` makes every one impossible: the benches' own test);
* ends with one Markdown table (bench, metric, ours, baseline, ratio, target, PASS/FAIL/INCONCLUSIVE/INFO) and exits
  1 if a target was missed (or the bench broke), 2 if a target could not be judged for a measured reason
  (INCONCLUSIVE; 0 with ``--allow-inconclusive``), 0 otherwise.  ``--json FILE`` appends the rows as JSON lines
  (what ``run_all.py`` reads).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

MIN_PAIRS = 5
PRODUCER = "001191110102MACQD9K64010000"
#: the namespace the AIGC record lives in (TC260 image guide); exiftool must be told about it with -config
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
PASS, FAIL, INCONCLUSIVE, INFO, ERROR = "PASS", "FAIL", "INCONCLUSIVE", "INFO", "ERROR"


# ------------------------------------------------------------------------------------------------ clocks


@dataclass(frozen=True)
class Sample:
    """One timed run: wall seconds, CPU seconds (self + waited children), peak memory in MB if known."""

    wall: float
    cpu: float
    peak_mb: float | None = None

    def get(self, clock: str) -> float:
        return self.cpu if clock == "cpu" else self.wall


def _cpu_now() -> float:
    # process_time is the kernel's exact per-process clock (os.times() ticks in 10 ms steps, too coarse for a
    # 2 ms copy); the children's share comes from getrusage, in microseconds, once they have been waited for
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measure(fn: Callable[[], object]) -> Sample:
    """Time ``fn()`` in this process (child processes it starts and waits for are counted in the CPU time)."""
    c0, t0 = _cpu_now(), time.perf_counter()
    fn()
    return Sample(time.perf_counter() - t0, _cpu_now() - c0)


def _session_rss_mb(sid: int) -> float:
    """Resident memory of every process in session *sid* (the child and whatever it started), summed."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) == sid:  # field 6 of stat, the session id (after pid and comm)
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e6


def run_process(argv: Sequence[str], *, env: dict[str, str] | None = None, ok_codes: Sequence[int] = (0,),
                sample_memory: bool = False, stdin: bytes | None = None, leftovers: list[int] | None = None) -> Sample:
    """Run *argv* as a whole process (as a user runs it) and return its own wall and CPU time.

    The CPU time and peak RSS come from :func:`os.wait4` of that one child (its waited children included), so
    other work on the machine does not leak in.  With *sample_memory* the summed RSS of its whole session is
    also sampled every 20 ms, and the peak is the larger of the two: a child running at the same time as its
    parent counts in full.  An exit code outside *ok_codes* raises: a benchmark of a failing command is void.
    With *leftovers* (a list), the processes of its session still alive 0.5 s after it exited are appended to it
    and then killed (they are ours: the session was started here).
    """
    # stderr goes to a file, not a pipe: a worker left behind would hold a pipe open and hang the read
    errfile = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=errfile, env=env, start_new_session=True)
    peak = [0.0]
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _session_rss_mb(proc.pid))

    thread = threading.Thread(target=sampler, daemon=True) if sample_memory else None
    if thread:
        thread.start()
    if stdin is not None and proc.stdin:
        proc.stdin.write(stdin)
        proc.stdin.close()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stop.set()
    if thread:
        thread.join()
    proc.returncode = code = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
    if leftovers is not None:
        time.sleep(0.5)
        left = leftover_processes(proc.pid)
        leftovers += left
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    errfile.seek(0)
    err = errfile.read()
    errfile.close()
    if code not in ok_codes:
        raise RuntimeError(f"{' '.join(map(str, argv))[:200]} exited {code}: {err.decode(errors='replace')[-600:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, max(usage.ru_maxrss / 1024 * 1.048576, peak[0]))


def leftover_processes(sid: int) -> list[int]:
    """Processes still alive in session *sid* (e.g. workers a command left behind when it exited)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if int(fields[3]) == sid and fields[0] != b"Z":
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def median_ratio(base: Sequence[Sample], ours: Sequence[Sample], clock: str = "cpu") -> float:
    """The median of the per-pair ratios ``ours / baseline`` on *clock* (what :meth:`Bench.ratio` judges)."""
    ratios = [o.get(clock) / b.get(clock) for b, o in zip(base, ours, strict=True) if b.get(clock) > 0]
    return statistics.median(ratios) if ratios else float("inf")


def pairs(baseline: Callable[[], Sample], ours: Callable[[], Sample], n: int, *,
          warmup: int = 1) -> tuple[list[Sample], list[Sample]]:
    """Run baseline, ours, baseline, ours, ... *n* times (after *warmup* uncounted runs of each)."""
    base, mine = rounds([baseline, ours], n, warmup=warmup)
    return base, mine


def rounds(sides: Sequence[Callable[[], Sample]], n: int, *, warmup: int = 1) -> list[list[Sample]]:
    """Each side once per round, in turn, *n* rounds (after *warmup* uncounted ones): one list of samples per
    side, so a busy moment of the machine hits a round's sides alike."""
    for _ in range(warmup):
        for side in sides:
            side()
    out: list[list[Sample]] = [[] for _ in sides]
    for _ in range(n):
        for samples, side in zip(out, sides, strict=True):
            samples.append(side())
    return out


def in_process(fn: Callable[[], object], inner: int = 1) -> Callable[[], Sample]:
    """A side that calls ``fn()`` *inner* times per sample (short calls: fewer clock-resolution effects)."""
    def run() -> Sample:
        s = measure(lambda: [fn() for _ in range(inner)])
        return Sample(s.wall / inner, s.cpu / inner)
    return run


def to_fresh_output(fn: Callable[[Path], object], out_dir: Path, suffix: str, inner: int = 1) -> Callable[[], Sample]:
    """A side that writes a new output file every call (as a pipeline does), *inner* calls per sample; the
    outputs are removed after the clock stops."""
    counter = [0]

    def run() -> Sample:
        dests = [out_dir / f"out-{counter[0] + i}{suffix}" for i in range(inner)]
        counter[0] += inner
        sample = measure(lambda: [fn(dest) for dest in dests])
        for dest in dests:
            dest.unlink(missing_ok=True)
        return Sample(sample.wall / inner, sample.cpu / inner)
    return run


def process(argv_for: Callable[[Path], Sequence[str]], out_dir: Path, suffix: str,
            **kw: object) -> Callable[[], Sample]:
    """A side that runs a whole command writing a fresh output (``argv_for(dest)``), removed afterwards."""
    counter = [0]

    def run() -> Sample:
        counter[0] += 1
        dest = out_dir / f"proc-{counter[0]}{suffix}"
        sample = run_process(argv_for(dest), **kw)  # type: ignore[arg-type]
        if dest.is_dir():
            shutil.rmtree(dest)
        else:
            dest.unlink(missing_ok=True)
        return sample
    return run


# ------------------------------------------------------------------------------------------------ tools


def aigclabel_argv() -> list[str]:
    """The command a user runs: the installed ``aigclabel`` console script next to this interpreter (not a
    version-manager shim, whose own start-up would be counted), else ``python3 -m`` of the CLI module."""
    script = Path(sys.executable).parent / "aigclabel"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from aigclabel.cli.main import main; sys.exit(main())"]


def need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise RuntimeError(f"{tool} is not installed (the baseline of this benchmark)")
    return exe


def exiftool_config(directory: Path) -> Path:
    """An exiftool config defining the TC260 XMP namespace with its AIGC property, so exiftool can write and
    read the same tag aigclabel does.  It only works given as exiftool's *first* argument (see
    :func:`exiftool_argv`): anywhere else exiftool silently ignores it and writes nothing."""
    path = directory / "tc260.exiftool-config"
    path.write_text("%Image::ExifTool::UserDefined = (\n"
                    "  'Image::ExifTool::XMP::Main' => {\n"
                    "    TC260 => { SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::TC260' } },\n"
                    "  },\n);\n"
                    "%Image::ExifTool::UserDefined::TC260 = (\n"
                    "  GROUPS => { 0 => 'XMP', 1 => 'XMP-TC260', 2 => 'Image' },\n"
                    f"  NAMESPACE => {{ 'TC260' => '{TC260_NS}' }},\n"
                    "  WRITABLE => 'string',\n  AIGC => { },\n);\n1;\n")
    return path


def exiftool_argv(config: Path, *args: str) -> list[str]:
    return [need("exiftool"), "-config", str(config), *args]


def record_json() -> str:
    """An AIGC record like the one aigclabel writes (what the exiftool baselines write)."""
    return json.dumps({"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "bench-0001",
                       "ReservedCode1": "", "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""},
                      separators=(",", ":"))


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def two_process_ceiling(rounds: int = 3, n: int = 2_000_000) -> float:
    """How much faster two processes run two equal pure-Python loops than one process runs both (median of
    *rounds*): ~2.0 on two idle cores, less when the cores are shared.  It bounds any two-process speed-up, so a
    ``--jobs 2`` target below it is judged, above it only reported."""
    results = []
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [1, 1]))
        for _ in range(rounds):
            t0 = time.perf_counter()
            _spin(n)
            _spin(n)
            serial = time.perf_counter() - t0
            t0 = time.perf_counter()
            list(pool.map(_spin, [n, n]))
            results.append(serial / (time.perf_counter() - t0))
    return statistics.median(results)


def make_photo_jpeg(path: Path, size: tuple[int, int] = (4000, 3000)) -> None:
    """A photo-like JPEG (12 MP by default) - noise plus gradients, so it compresses like a real photo - with
    EXIF: the source the JPEG benchmarks share."""
    from PIL import Image

    w, h = size
    noise = Image.effect_noise((w, h), 40).convert("L")
    grad = Image.linear_gradient("L").resize((w, h))
    im = Image.merge("RGB", (noise, grad, Image.blend(noise, grad, 0.5)))
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0110] = "Model 12MP"
    im.save(path, "JPEG", quality=90, exif=exif.tobytes())


# ------------------------------------------------------------------------------------------------ verdicts


def load_text() -> str:
    cpus = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {cpus} CPUs ({usable} usable)"


@dataclass
class Result:
    bench: str
    metric: str
    ours: float | None
    baseline: float | None
    ratio: float | None
    target: str
    status: str
    unit: str = "s"
    clock: str = "cpu"
    note: str = ""


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "B":
        return f"{value:,.0f} B" if value < 1000 else f"{value / 1024:,.1f} KiB"
    return f"{value:,.1f} {unit}" if value >= 100 else f"{value:.4g} {unit}"


def table(rows: Sequence[Result]) -> str:
    lines = ["| bench | metric | ours | baseline | ratio | target | result |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        clock = f" ({r.clock})" if r.unit == "s" else ""
        note = f" — {r.note}" if r.note and r.status != PASS else ""
        lines.append(f"| {r.bench} | {r.metric}{clock} | {_fmt(r.ours, r.unit)} | {_fmt(r.baseline, r.unit)} | "
                     f"{ratio} | {r.target} | {r.status}{note} |")
    return "\n".join(lines)


@dataclass
class Bench:
    """One benchmark run: its options, the rows it judged, and the exit code they give."""

    name: str
    args: argparse.Namespace
    rows: list[Result] = field(default_factory=list)

    @property
    def quick(self) -> bool:
        return bool(self.args.quick)

    @property
    def n(self) -> int:
        return int(self.args.pairs)

    def _bound(self, target: float) -> float:
        return target * float(self.args.target_scale)

    def ratio(self, metric: str, base: Sequence[Sample], ours: Sequence[Sample], target: float | None, *,
              baseline: str, clock: str = "cpu", inconclusive: str | None = None, target_text: str = "") -> bool:
        """Judge ``ours / baseline`` (median of the per-pair ratios on *clock*) against ``<= target``.

        *inconclusive* is a measured reason why a miss says nothing about our code (e.g. the machine's own
        two-process ceiling); then a miss is INCONCLUSIVE instead of FAIL.  ``target=None``: reported only.
        """
        ratios = [o.get(clock) / b.get(clock) for b, o in zip(base, ours, strict=True) if b.get(clock) > 0]
        ratio = statistics.median(ratios) if ratios else float("inf")
        mine = statistics.median(s.get(clock) for s in ours)
        theirs = statistics.median(s.get(clock) for s in base)
        spread = f"pairs {min(ratios):.2f}–{max(ratios):.2f}×" if ratios else ""
        if target is None:
            status, shown = INFO, "—"
        else:
            bound = self._bound(target)
            shown = f"≤ {bound:.3g}× {baseline}" + (f" ({target_text})" if target_text else "")
            status = PASS if ratio <= bound else (INCONCLUSIVE if inconclusive else FAIL)
        note = "; ".join(filter(None, [spread, inconclusive if status == INCONCLUSIVE else ""]))
        self.rows.append(Result(self.name, metric, mine, theirs, ratio, shown, status, "s", clock, note))
        print(f"  {status:<12} {metric} [{clock}]: ours {_fmt(mine, 's')}, {baseline} {_fmt(theirs, 's')}, "
              f"ratio {ratio:.3f} ({len(ratios)} pairs, {spread})  target {shown}", flush=True)
        return status == PASS

    def limit(self, metric: str, value: float, target: float | None, unit: str, *, baseline: float | None = None,
              inconclusive: str | None = None, note: str = "") -> bool:
        """Judge an absolute figure (bytes read, peak MB, a count) against ``<= target`` (None: reported only)."""
        if target is None:
            status, shown = INFO, "—"
        else:
            bound = self._bound(target)
            shown = f"≤ {_fmt(bound, unit)}"
            status = PASS if value <= bound else (INCONCLUSIVE if inconclusive else FAIL)
        note = "; ".join(filter(None, [note, inconclusive if status == INCONCLUSIVE else ""]))
        ratio = value / baseline if baseline else None
        self.rows.append(Result(self.name, metric, value, baseline, ratio, shown, status, unit, "", note))
        print(f"  {status:<12} {metric}: {_fmt(value, unit)}  target {shown}" + (f"  ({note})" if note else ""),
              flush=True)
        return status == PASS

    def check(self, metric: str, ok: bool, note: str) -> bool:
        """A yes/no requirement (e.g. no process left behind, the output verifies)."""
        self.rows.append(Result(self.name, metric, None, None, None, "yes", PASS if ok else FAIL, "", "", note))
        print(f"  {PASS if ok else FAIL:<12} {metric}: {note}", flush=True)
        return ok

    def finish(self) -> int:
        print(f"\n{self.name}: {load_text()} at the end; judged on the clock named per row "
              "(cpu: user+system of the process and its children; wall: elapsed)\n")
        print(table(self.rows))
        if self.args.json:
            with open(self.args.json, "a", encoding="utf-8") as fh:
                for row in self.rows:
                    fh.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
        statuses = {r.status for r in self.rows}
        if not self.rows:
            return 1  # a benchmark that judged nothing has not shown anything
        if statuses & {FAIL, ERROR}:
            return 1
        if INCONCLUSIVE in statuses and not self.args.allow_inconclusive:
            return 2
        return 0


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes; a bench adds its own before calling :func:`main`."""
    text = doc or ""
    ap = argparse.ArgumentParser(description=text.splitlines()[0] if text else None, epilog=_targets(text),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller inputs, the minimum number of pairs")
    ap.add_argument("--pairs", type=int, default=None,
                    help=f"interleaved A/B pairs per comparison (at least {MIN_PAIRS}; default 5 quick, 7 full)")
    ap.add_argument("--target-scale", type=float, default=1.0, metavar="F",
                    help="multiply every target (all are upper bounds) by F: 0.001 makes each impossible")
    ap.add_argument("--allow-inconclusive", action="store_true",
                    help="exit 0 when a target could only be judged INCONCLUSIVE (for a measured reason)")
    ap.add_argument("--json", metavar="FILE", default=None, help="append the result rows to FILE as JSON lines")
    return ap


def _targets(doc: str) -> str:
    """The docstring's 'Targets' paragraph, shown by --help."""
    out, on = [], False
    for line in doc.splitlines():
        if line.startswith("Targets"):
            on = True
        elif on and not line.strip():
            break
        if on:
            out.append(line)
    return "\n".join(out)


def bytecode_as_installed() -> str:
    """Let benchmark child processes use byte-compiled modules, as a pip-installed wheel does, and say so.

    A shell that exports ``PYTHONDONTWRITEBYTECODE`` (as this workplace's does) makes every process compile our
    sources again (~60 ms of a 120 ms verify): a start-up cost no installed copy pays, because pip byte-compiles a
    wheel on install.  So the variable is dropped for the children and the package compiled once, beforehand."""
    if not os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        return "bytecode: as this shell has it (writes .pyc)"
    import compileall
    import importlib.util

    roots = set()
    for pkg in ("aigclabel", "aigclabel.cli"):
        spec = importlib.util.find_spec(pkg)
        if spec and spec.submodule_search_locations:
            roots.update(spec.submodule_search_locations)
    for root in sorted(roots):
        compileall.compile_dir(root, quiet=1)
    return ("bytecode: PYTHONDONTWRITEBYTECODE dropped for the child processes and the package byte-compiled "
            "first, as pip does when it installs a wheel")


def main(name: str, ap: argparse.ArgumentParser, body: Callable[[Bench], None]) -> int:
    """Parse the options, print the load, run *body*, print the table; the exit code as the module says.

    A benchmark that breaks (a baseline tool missing, a command failing) is an ERROR row and exit 1: it has
    not shown that the targets are met."""
    args = ap.parse_args()
    if args.pairs is None:
        args.pairs = MIN_PAIRS if args.quick else 7
    if args.pairs < MIN_PAIRS:
        ap.error(f"--pairs must be at least {MIN_PAIRS}")
    bench = Bench(name, args)
    print(f"{name}: {load_text()} at the start; {args.pairs} interleaved pairs per comparison"
          + (" (--quick)" if args.quick else ""), flush=True)
    print(f"{name}: {bytecode_as_installed()}", flush=True)
    try:
        body(bench)
    except Exception as exc:  # noqa: BLE001 - any breakage is reported as a row, with its traceback
        traceback.print_exc()
        bench.rows.append(Result(name, "benchmark ran", None, None, None, "—", ERROR, "", "",
                                 f"{type(exc).__name__}: {exc}"[:300]))
    return bench.finish()
