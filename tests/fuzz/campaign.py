"""A fuzzing run: seeds -> mutations -> the pool -> signatures, reproducers and the results table.

Inputs are spread over the chosen entry points round-robin (input *i* of a format goes to entry
``i % len(entries)``), so ``--budget N`` means N calls per format.  A hang is retried once (on a
fresh worker when the first was killed) before it counts, because the machine may be loaded; a
hang whose retry used under half the limit in CPU time counts as ``slow`` (the machine was busy),
not as a failure.  Every new failure signature gets ``OUT/failures/<hash>/`` with the input, a
minimised reproducer (truncation, greedy chunk deletion, then zero-filling, while the signature
still reproduces, bounded in time) and a ``README.txt``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import seeds as seedlib
from .mutate import Mutator
from .pool import Job, Pool
from .worker import ENTRIES, Task, preload

FAILING = ("untyped", "hang", "broken", "crash")


@dataclass
class Cell:
    """The counts of one (format, entry point) pair."""

    tried: int = 0
    ok: int = 0
    typed: int = 0
    untyped: int = 0
    hangs: int = 0
    broken: int = 0
    crashes: int = 0
    #: over the wall-time limit twice, but with less than half the limit in CPU: the machine was busy
    slow: int = 0
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    #: how the typed refusals read (error type and the start of the message), to see how deep mutations get
    typed_kinds: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: dict[str, Any]) -> None:
        self.tried += 1
        status = outcome["status"]
        if status == "ok":
            self.ok += 1
        elif status == "typed":
            self.typed += 1
            what = str(outcome.get("detail", ""))[:70]
            if what in self.typed_kinds or len(self.typed_kinds) < 20:
                self.typed_kinds[what] = self.typed_kinds.get(what, 0) + 1
        elif status == "untyped":
            self.untyped += 1
        elif status == "hang":
            self.hangs += 1
        elif status == "broken":
            self.broken += 1
        elif status == "crash":
            self.crashes += 1
        elif status == "slow":
            self.slow += 1
        self.seconds += outcome.get("elapsed") or 0.0
        if outcome.get("rss_mb"):
            self.peak_rss_mb = max(self.peak_rss_mb, outcome["rss_mb"])


@dataclass
class Failure:
    signature: str
    status: str
    fmt: str
    entry: str
    desc: str
    detail: str
    tb: str
    data: bytes
    suffix: str
    kind: str
    count: int = 1
    seen_in: set[tuple[str, str]] = field(default_factory=set)
    minimised: bytes | None = None
    new: bool = True

    @property
    def key(self) -> str:
        return hashlib.sha1(self.signature.encode()).hexdigest()[:12]


@dataclass
class Config:
    out: Path
    budget: int = 40
    formats: list[str] = field(default_factory=lambda: list(seedlib.DEFAULT_FORMATS))
    entries: list[str] = field(default_factory=lambda: list(ENTRIES))
    seed: int = 1
    workers: int = 2
    mem_cap: int = 2 << 30
    limit_s: float = 2.0
    check_outputs: bool = False
    minimise_s: float = 30.0
    confirm_hangs: bool = True
    progress: int = 0  # print a progress line to stderr every N calls (0: quiet)


@dataclass
class Results:
    config: Config
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    seconds: float = 0.0
    seed_notes: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    interrupted: bool = False

    @property
    def calls(self) -> int:
        return sum(c.tried for c in self.cells.values())

    def failing(self) -> list[Failure]:
        return sorted(self.failures.values(), key=lambda f: (f.status, f.signature))

    # ---------------------------------------------------------------------------------- rendering

    def to_dict(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "config": {"budget": cfg.budget, "formats": cfg.formats, "entries": cfg.entries, "seed": cfg.seed,
                       "workers": cfg.workers, "mem_cap": cfg.mem_cap, "limit_s": cfg.limit_s,
                       "check_outputs": cfg.check_outputs},
            "seconds": round(self.seconds, 1), "calls": self.calls,
            "inputs_per_second": round(self.calls / self.seconds, 2) if self.seconds else None,
            "worker_restarts": self.restarts, "interrupted": self.interrupted, "seeds": self.seed_notes,
            "cells": [{"format": f, "entry": e, **{k: (round(v, 2) if isinstance(v, float) else v)
                                                   for k, v in vars(c).items()}}
                      for (f, e), c in sorted(self.cells.items())],
            "failures": [{"signature": x.signature, "status": x.status, "hash": x.key, "count": x.count,
                          "first": {"format": x.fmt, "entry": x.entry, "mutation": x.desc},
                          "seen_in": sorted(f"{a} {b}" for a, b in x.seen_in), "detail": x.detail,
                          "new": x.new, "reproducer": f"failures/{x.key}/"}
                         for x in self.failing()],
        }

    def markdown(self) -> str:
        lines = [f"Fuzz run: {self.calls} calls in {self.seconds:.0f} s "
                 f"({self.calls / self.seconds if self.seconds else 0:.1f} inputs/s, {self.config.workers} workers, "
                 f"limit {self.config.limit_s:g} s, cap {self.config.mem_cap >> 20} MiB, seed {self.config.seed})"
                 + (" -- INTERRUPTED" if self.interrupted else ""),
                 "",
                 "| format | entry point | inputs | ok | typed | untyped | hangs > limit | crashes | broken outputs "
                 "| slow (load) | peak RSS MB | ms/input |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (fmt, entry), c in sorted(self.cells.items()):
            lines.append(f"| {fmt} | {entry} | {c.tried} | {c.ok} | {c.typed} | {c.untyped} | {c.hangs} | "
                         f"{c.crashes} | {c.broken} | {c.slow} | {c.peak_rss_mb:.0f} | "
                         f"{1000 * c.seconds / c.tried if c.tried else 0:.0f} |")
        lines += ["", "| format | inputs | untyped | hangs | crashes | broken | slow (load) | peak RSS MB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for fmt in self.config.formats:
            cs = [c for (f, _e), c in self.cells.items() if f == fmt]
            lines.append(f"| {fmt} | {sum(c.tried for c in cs)} | {sum(c.untyped for c in cs)} | "
                         f"{sum(c.hangs for c in cs)} | {sum(c.crashes for c in cs)} | {sum(c.broken for c in cs)} | "
                         f"{sum(c.slow for c in cs)} | {max((c.peak_rss_mb for c in cs), default=0):.0f} |")
        lines += ["", f"Failure signatures: {len(self.failures)}", ""]
        for x in self.failing():
            lines.append(f"- `{x.status}` **{x.signature}** x{x.count} (first: {x.fmt} {x.entry}; "
                         f"`failures/{x.key}/`)")
        return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------- jobs


#: inputs of one format a job runs before the next format's turn (a stopped long run has touched every format)
SLICE = 250


def _fuzz_jobs(cfg: Config, mutators: dict[str, Mutator]) -> Iterator[Job]:
    for first in range(0, cfg.budget, SLICE):
        for fmt in cfg.formats:
            yield _fuzz_job(fmt, seedlib.SPECS[fmt], mutators[fmt], cfg, range(first, min(first + SLICE, cfg.budget)))


def _fuzz_job(fmt: str, spec: seedlib.SeedSpec, mutator: Mutator, cfg: Config, indices: range) -> Job:
    for i in indices:
        data, desc = mutator.mutate(i)
        task = Task(fmt, spec.suffix, spec.kind, cfg.entries[i % len(cfg.entries)], data, desc, i)
        outcome = yield task
        if outcome["status"] == "hang" and cfg.confirm_hangs:
            task.desc += " (hang retried)"
            yield task  # a second run decides; its outcome is the one counted


def _minimise_job(failure: Failure, cfg: Config) -> Job:
    """Truncation, then greedy chunk deletion: drop a slice whenever the same signature still comes out; halve
    the slice.  (The binary search assumes failing prefixes are contiguous; when not, it only finds a shorter one.)"""
    best = failure.data
    deadline = time.monotonic() + cfg.minimise_s
    # first the shortest prefix that still fails (binary search: a few tries, often most of the gain)
    lo, hi = 0, len(best)
    while lo < hi and time.monotonic() < deadline:
        mid = (lo + hi) // 2
        outcome = yield Task(failure.fmt, failure.suffix, failure.kind, failure.entry, best[:mid], "minimise")
        if outcome.get("sig") == failure.signature:
            hi = mid
        else:
            lo = mid + 1
    best = best[:hi]
    half = time.monotonic() + (deadline - time.monotonic()) / 2  # deletion gets half of what is left
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and time.monotonic() < half:
        i, changed = 0, False
        while i < len(best) and time.monotonic() < half:
            candidate = best[:i] + best[i + chunk:]
            outcome = yield Task(failure.fmt, failure.suffix, failure.kind, failure.entry, candidate, "minimise")
            if outcome.get("sig") == failure.signature:
                best, changed = candidate, True
            else:
                i += chunk
        if not changed:
            if chunk == 1:
                break
            chunk //= 2
    # then zero-fill what deletion could not drop (offset-based formats such as TIFF keep their layout):
    # the bytes left non-zero are the ones the failure needs
    chunk = max(1, len(best) // 8)
    while chunk >= 16 and time.monotonic() < deadline:
        for i in range(0, len(best), chunk):
            if time.monotonic() >= deadline:
                break
            if not any(best[i:i + chunk]):
                continue
            candidate = best[:i] + bytes(len(best[i:i + chunk])) + best[i + chunk:]
            outcome = yield Task(failure.fmt, failure.suffix, failure.kind, failure.entry, candidate, "minimise")
            if outcome.get("sig") == failure.signature:
                best = candidate
        chunk //= 2
    failure.minimised = best


# -------------------------------------------------------------------------------------------- the run


def _write_failure(out: Path, x: Failure) -> None:
    d = out / "failures" / x.key
    d.mkdir(parents=True, exist_ok=True)
    (d / f"input{x.suffix}").write_bytes(x.data)
    if x.minimised is not None:
        (d / f"minimised{x.suffix}").write_bytes(x.minimised)
    entry_call = {"verify-implicit": 'aigclabel.verify(path, scope="implicit")',
                  "verify-explicit": 'aigclabel.verify(path, scope="explicit")',
                  "verify-all": 'aigclabel.verify(path, scope="all")', "inspect": "aigclabel.inspect(path)",
                  "review": f'aigclabel.review(path, platform="{_platform()}")',
                  "review-write": f'aigclabel.review(path, platform="{_platform()}", output="out", overwrite=True)',
                  "mark": f'aigclabel.mark_file(path, producer="{seedlib.PRODUCER}", explicit=True)',
                  "mark-noexplicit": f'aigclabel.mark_file(path, producer="{seedlib.PRODUCER}", explicit=False)',
                  "mark-watermark": f'aigclabel.mark_file(path, producer="{seedlib.PRODUCER}", explicit=False, '
                                    'watermark=True)',
                  "inspect-watermark": "aigclabel.inspect(path, watermark=True)",
                  "carry": "aigclabel.carry(<samples/photo.jpg marked with the seed's ProduceID, fuzz-seed-FORMAT>, "
                           "path)"}
    (d / "README.txt").write_text(
        f"signature: {x.signature}\nstatus: {x.status}\nformat: {x.fmt}\nentry point: {x.entry}\n"
        f"call: {entry_call.get(x.entry, x.entry)}\nmutation: {x.desc}\n"
        f"input: input{x.suffix} ({len(x.data)} bytes)\n"
        + (f"minimised: minimised{x.suffix} ({len(x.minimised)} bytes)\n" if x.minimised is not None else "")
        + f"occurrences: {x.count} in {', '.join(sorted(f'{a} {b}' for a, b in x.seen_in))}\n"
        f"detail: {x.detail}\n\ntraceback:\n{x.tb}\n"
        "reproduce: python3 scripts/fuzz.py --replay " + str(d / f"input{x.suffix}") + f" --entry {x.entry}\n")


def _platform() -> str:
    from .worker import PLATFORM

    return PLATFORM


def _build_seeds(out: Path, formats: list[str]) -> None:
    seedlib.build(out, formats)


def run(cfg: Config) -> Results:
    """Make the seeds, fuzz every format through the pool, minimise new signatures, write the results."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    seed_dir = cfg.out / "seeds"
    # Seeds are made in a child (PyAV and ffmpeg threads stay out of the parent that forks the workers).
    ctx = mp.get_context("fork")
    maker = ctx.Process(target=_build_seeds, args=(seed_dir, cfg.formats))
    maker.start()
    maker.join()
    if maker.exitcode != 0:
        raise RuntimeError(f"making the seeds failed (exit {maker.exitcode})")
    seeds = seedlib.load(seed_dir, cfg.formats)
    index = json.loads((seed_dir / "seeds.json").read_text())
    results = Results(cfg, seed_notes={f: index[f]["how"] for f in cfg.formats})
    for fmt in cfg.formats:
        for entry in cfg.entries:
            results.cells[(fmt, entry)] = Cell()
    preload()
    existing = {p.name for p in (cfg.out / "failures").glob("*")} if (cfg.out / "failures").exists() else set()

    start = time.monotonic()

    def on_result(task: Task, outcome: dict[str, Any]) -> None:
        if task.desc == "minimise":
            return
        if outcome["status"] == "hang" and cfg.confirm_hangs:
            if not task.desc.endswith("(hang retried)"):
                return  # not counted until the retry decides
            cpu = outcome.get("cpu_s")
            if cpu is not None and cpu < cfg.limit_s / 2:
                # past the limit in wall time only: a loaded machine (the long run wants an idle one)
                outcome = {**outcome, "status": "slow"}
        results.cells[(task.fmt, task.entry)].add(outcome)
        done = results.calls
        if cfg.progress and done % cfg.progress == 0:
            rate = done / max(time.monotonic() - start, 1e-6)
            print(f"[fuzz] {done} calls, {rate:.1f}/s, {len(results.failures)} signatures, now {task.fmt}",
                  file=sys.stderr, flush=True)
        if outcome["status"] not in FAILING:
            return
        sig = outcome["sig"]
        known = results.failures.get(sig)
        if known is not None:
            known.count += 1
            known.seen_in.add((task.fmt, task.entry))
            return
        x = Failure(sig, outcome["status"], task.fmt, task.entry, task.desc, outcome.get("detail", ""),
                    outcome.get("tb", ""), task.data, task.suffix, task.kind, seen_in={(task.fmt, task.entry)})
        x.new = x.key not in existing
        results.failures[sig] = x
        if x.new:  # on disk at once: a long run's finding can be looked at (and fixed) while the run goes on
            _write_failure(cfg.out, x)

    mutators = {fmt: Mutator(seeds[fmt], cfg.seed, fmt) for fmt in cfg.formats}
    scratch = cfg.out / "scratch"
    with Pool(cfg.workers, mem_cap=cfg.mem_cap, limit_s=cfg.limit_s, independent=cfg.check_outputs,
              scratch=scratch) as pool:
        try:
            pool.run(_fuzz_jobs(cfg, mutators), on_result)
        except KeyboardInterrupt:
            results.interrupted = True  # ^C: keep what was found, skip minimising, write the table
            print("[fuzz] interrupted: writing the results so far", file=sys.stderr)
        results.seconds = time.monotonic() - start
        fresh = [x for x in results.failing() if x.new]
        if cfg.minimise_s > 0 and fresh and not results.interrupted:
            pool.run((_minimise_job(x, cfg) for x in fresh), on_result)
        results.restarts = pool.restarts
    for x in results.failing():
        if x.new:
            _write_failure(cfg.out, x)
    (cfg.out / "results.json").write_text(json.dumps(results.to_dict(), indent=1))
    (cfg.out / "results.md").write_text(results.markdown())
    return results
