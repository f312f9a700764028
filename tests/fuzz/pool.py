"""A pool of persistent worker processes under a memory cap, with a wall-time limit the parent enforces.

Work comes as *jobs*: generators that yield a :class:`~fuzz.worker.Task` and receive its outcome
(``gen.send(outcome)``), so a job may depend on earlier outcomes (confirming a hang, minimising a
reproducer) while other jobs keep the other workers busy.  Each worker is forked from the parent
(which has imported every handler, so a restart costs milliseconds), sets ``RLIMIT_AS`` and
serves tasks until told to stop.  A worker that dies (a signal, an abort in a C library) or
outlives the backstop (stuck in C code where SIGALRM cannot interrupt it) is killed by its pid
and replaced; the task gets a ``crash`` or ``hang`` outcome.  A worker whose input was stopped by its own
SIGALRM stays: the alarm is an exception raised between bytecodes, so no C call was cut in half.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Iterator

from .worker import Task, serve

Job = Generator[Task, "dict[str, Any]", None]


@dataclass
class _Slot:
    index: int
    process: Any
    conn: Connection
    job: Job | None = None
    task: Task | None = None
    started: float = 0.0


class Pool:
    def __init__(self, size: int = 2, *, mem_cap: int = 2 << 30, limit_s: float = 2.0, independent: bool = False,
                 scratch: Path) -> None:
        self.size = size
        self.mem_cap = mem_cap
        self.limit_s = limit_s
        self.independent = independent
        self.scratch = scratch
        # the parent kills a worker that has not answered by then (SIGALRM fires at limit_s inside it)
        self.backstop = limit_s * 4 + 5 + (20 if independent else 0)
        self._ctx = mp.get_context("fork")
        self._slots = [self._spawn(i) for i in range(size)]
        self.restarts = 0

    # ---------------------------------------------------------------------------------- processes

    def _spawn(self, index: int) -> _Slot:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=serve, name=f"aigclabel-fuzz-worker-{index}", daemon=True,
                                 args=(child, self.mem_cap, self.limit_s, self.independent,
                                       str(self.scratch / f"worker{index}")))
        proc.start()
        child.close()
        return _Slot(index, proc, parent)

    def _replace(self, slot: _Slot) -> None:
        """Kill (by its own pid) and replace the worker of *slot*; the job stays with the slot."""
        proc = slot.process
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(5)
        slot.conn.close()
        fresh = self._spawn(slot.index)
        slot.process, slot.conn = fresh.process, fresh.conn
        self.restarts += 1

    def close(self) -> None:
        for slot in self._slots:
            try:
                slot.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for slot in self._slots:
            slot.process.join(5)
            if slot.process.is_alive():
                os.kill(slot.process.pid, signal.SIGKILL)
                slot.process.join(5)
            slot.conn.close()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- scheduling

    def _advance(self, slot: _Slot, jobs: Iterator[Job], outcome: dict[str, Any] | None) -> None:
        """Give *slot* its next task: from its job (sending *outcome*), else from the next job."""
        while True:
            if slot.job is None:
                slot.job = next(jobs, None)
                if slot.job is None:
                    slot.task = None
                    return
                outcome = None
            try:
                task = slot.job.send(outcome) if outcome is not None else next(slot.job)
            except StopIteration:
                slot.job, outcome = None, None
                continue
            slot.task, slot.started = task, time.monotonic()
            try:
                slot.conn.send(task)
            except (BrokenPipeError, OSError):
                self._replace(slot)
                slot.conn.send(task)
            return

    def run(self, jobs: Iterable[Job], on_result: Callable[[Task, dict[str, Any]], None]) -> None:
        """Drive every job to its end; *on_result* sees every (task, outcome) pair as it arrives."""
        feed = iter(jobs)
        for slot in self._slots:
            self._advance(slot, feed, None)
        while True:
            busy = [s for s in self._slots if s.task is not None]
            if not busy:
                return
            now = time.monotonic()
            timeout = max(0.05, min(s.started + self.backstop - now for s in busy))
            ready = wait([s.conn for s in busy], timeout)
            for slot in busy:
                task = slot.task
                assert task is not None
                outcome: dict[str, Any] | None = None
                if slot.conn in ready:
                    try:
                        outcome = slot.conn.recv()
                    except (EOFError, OSError):
                        slot.process.join(5)
                        code = slot.process.exitcode
                        why = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                        outcome = {"status": "crash", "sig": f"worker died ({why}) [{task.fmt} {task.entry}]",
                                   "detail": f"the worker process ended ({why}) while running the input",
                                   "elapsed": time.monotonic() - slot.started, "rss_mb": None, "tb": ""}
                        self._replace(slot)
                elif time.monotonic() - slot.started > self.backstop:
                    outcome = {"status": "hang", "sig": f"hang over {self.limit_s:g} s, killed [{task.fmt} "
                               f"{task.entry}]", "detail": f"no answer in {self.backstop:g} s; killed",
                               "elapsed": time.monotonic() - slot.started, "rss_mb": None, "tb": ""}
                    self._replace(slot)
                if outcome is None:
                    continue
                on_result(task, outcome)
                self._advance(slot, feed, outcome)
