"""The local process pool of a batch (``--jobs N``; see :mod:`aigclabel.batch` for what a run is).

Kept apart from :mod:`aigclabel.batch` so a run in this process (``--jobs 1``, every single-file command) never
imports multiprocessing or concurrent.futures.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

from .batch import BadPath, FileLimits, Outcome, chunk_size_for, process_chunk, take_paths
from .formats import _BUILTIN as _FORMAT_MODULES

__all__ = ["pool_run", "forkserver_preload", "PRELOAD", "WorkerTerminated"]

_worker_task: Callable[[str], Any] | None = None
_worker_limits: FileLimits | None = None
#: the worker is inside a chunk (SIGTERM may interrupt it) / was told to stop while outside one
_in_chunk = False
_stop_requested = False


class WorkerTerminated(SystemExit):
    """Raised in a worker by SIGTERM, so its ``finally`` blocks (temp-file clean-up) run before it exits."""


def _terminate_worker(signum: int, frame: object) -> None:
    """SIGTERM: interrupt the chunk being worked on; between chunks, only note it.

    Between chunks the worker is waiting for work or sending a result back. An exception raised there can cut
    a result message short on the pipe all workers share, and the pool's reader thread then waits forever for
    the rest of it (seen once as a command that never exited after ``| head -1``). A worker told to stop
    outside a chunk does no more work (:func:`_run_chunk`) and leaves at the pool's shutdown sentinel.
    """
    global _stop_requested
    if _in_chunk:
        raise WorkerTerminated(128 + signum)
    _stop_requested = True


def _init_worker(task: Callable[[str], Any], limits: FileLimits | None = None) -> None:
    global _worker_task, _worker_limits
    _worker_task, _worker_limits = task, limits
    signal.signal(signal.SIGTERM, _terminate_worker)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the workers now (SIGTERM: each removes its temp files), not after their current chunk."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public API for this in concurrent.futures
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _run_chunk(chunk: list[tuple[int, str]]) -> list[Outcome]:
    global _in_chunk
    assert _worker_task is not None
    _in_chunk = True
    try:
        if _stop_requested:
            raise WorkerTerminated(128 + signal.SIGTERM)
        return process_chunk(_worker_task, chunk, _worker_limits)
    finally:
        _in_chunk = False




#: modules the fork server imports once, so each worker starts with them loaded -- the format
#: handlers too: otherwise every worker pays for importing them on its first file
PRELOAD = ["aigclabel.batch", "aigclabel._pool", "aigclabel.platform", "aigclabel.verifier", "aigclabel.formats",
            *(f"aigclabel.formats.{name}" for name in _FORMAT_MODULES)]


def _context(start_method: str | None) -> Any:
    """The multiprocessing context of the pool (see :func:`_default_start_method`)."""
    ctx = multiprocessing.get_context(start_method or _default_start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(forkserver_preload())
    return ctx


def forkserver_preload(*extra: str) -> list[str]:
    """What a fork server imports before forking workers: *extra*, the modules of :data:`PRELOAD`, and first
    the caller's main script (``__main__``; multiprocessing only runs it when it is a script, such as the
    ``aigclabel`` console script): a worker forked from a server that has not run it runs it itself, which for
    the command line imports click and the CLI again in every worker."""
    return ["__main__", *extra, *PRELOAD]


def _default_start_method() -> str | None:
    """``fork`` while this process runs a single thread, else ``forkserver``; elsewhere the platform default.

    A plain ``fork`` is what makes a pool pay off on small files: a worker starts in milliseconds with every
    module and cache of this process, where a fork server first starts an interpreter and imports aigclabel
    (about half a second of CPU on this 2-core machine, more than a whole ``--jobs 1`` run of 1,000 small
    JPEGs spends verifying).  It is unsafe only when another thread exists: a native library's thread (the
    C2PA SDK once used, fsspec's I/O loop, Dask) may hold a lock at the moment of the fork, and the child
    would then deadlock on it.  Counting the kernel's threads (``/proc/self/task``), not :mod:`threading`'s,
    sees native threads too; with any, workers come from a fork server, a clean interpreter.  (The pool
    started again after a worker crash finds the old pool's threads and uses the fork server.)
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _single_threaded():
        return "fork"
    return "forkserver" if "forkserver" in methods else None


def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no procfs: cannot tell, assume threads
        return False


def _new_pool(task: Callable[[str], Any], jobs: int, start_method: str | None,
              file_limits: FileLimits | None = None) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(task, file_limits),
                               mp_context=_context(start_method))


#: a chunk of paths sent to a worker should take about this long ...
_CHUNK_SECONDS = 0.05
#: ... but never hold more paths than this
_MAX_CHUNK = 256


def pool_run(items: Iterable[str | BadPath], task: Callable[[str], Any], jobs: int,
              chunk_size: int, start_method: str | None, file_limits: FileLimits | None = None) -> Iterator[Outcome]:
    source = enumerate(items)
    exhausted = False
    pool = _new_pool(task, jobs, start_method, file_limits)
    running: dict[Future[list[Outcome]], list[tuple[int, str]]] = {}
    retry: list[list[tuple[int, str]]] = []  # chunks to resubmit after a crash, one path each
    suspects: set[int] = set()  # indexes that were running when a worker died
    # Chunks grow until one takes about _CHUNK_SECONDS: fast files (metadata-only reviews take well
    # under a millisecond) would otherwise spend more time in inter-process traffic than in work.
    size, spent, finished = chunk_size, 0.0, 0
    completed = False
    # A broken pool does not say which worker died, so a suspect runs alone: nothing else is in flight
    # while it does, and a pool that breaks then was broken by it (innocent files that merely ran beside
    # a crashing one are tried again, never blamed).
    isolating = False
    try:
        while True:
            ready: list[Outcome] = []
            while not isolating and (retry or not exhausted):
                if retry:
                    if running:
                        break  # the pool drains first
                    chunk = retry.pop()
                    isolating = True
                else:
                    if len(running) >= 2 * jobs:
                        break
                    chunk, exhausted = take_paths(source, size, ready)
                    if not chunk:
                        continue
                running[pool.submit(_run_chunk, chunk)] = chunk
            yield from ready
            if not running:
                if exhausted and not retry:
                    completed = True
                    return
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken: list[list[tuple[int, str]]] = []
            isolating = False  # a suspect, when one ran, ran alone: it is among what is done
            for fut in done:
                chunk = running.pop(fut)
                try:
                    outcomes = fut.result()
                except BrokenProcessPool:
                    broken.append(chunk)
                    continue
                for outcome in outcomes:
                    spent += outcome.seconds
                    finished += 1
                yield from outcomes
            if finished:
                size = chunk_size_for(spent, finished, floor=chunk_size, seconds=_CHUNK_SECONDS, cap=_MAX_CHUNK)
            if broken:
                # Every chunk still running died with the pool; the culprit is among them. Run each of
                # their paths alone in a fresh pool; a path that breaks a pool while alone is the cause.
                broken += list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _new_pool(task, jobs, start_method, file_limits)
                if len(broken) == 1 and len(broken[0]) == 1 and broken[0][0][0] in suspects:
                    index, path = broken[0][0]
                    yield Outcome(index, path, error={
                        "kind": "worker-crashed", "type": "BrokenProcessPool",
                        "message": f"{path}: the worker process died while processing this file, also when "
                                   "it ran alone (a crash in a decoder or native library, or out of memory)"})
                    continue
                for chunk in broken:
                    for pair in chunk:
                        suspects.add(pair[0])
                        retry.append([pair])
    finally:
        if completed:
            pool.shutdown(wait=True)
        else:  # interrupted (SIGINT/SIGTERM, a closed pipe, the caller stopped reading): stop now
            _stop_workers(pool)
