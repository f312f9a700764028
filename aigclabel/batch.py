"""Batch runs over many files: discovery, worker processes, streamed results, a summary.

* :func:`discover` expands directories (``recursive`` walks the tree) lazily and in a stable order,
  so a run over millions of files starts at once and never holds the whole list.
* :func:`run` applies a picklable *task* (``task(path) -> result``) to each path, in this process
  (``jobs=1``) or in ``jobs`` worker processes, and yields one :class:`Outcome` per file, in input
  order (``ordered=True``) or as each finishes.  A file whose task raises is an outcome with an
  ``error``, never the end of the run; a file that kills its worker process (a crash in a native
  library) is retried alone in a fresh pool and, if it kills that one too, reported as
  ``worker-crashed``.
* With *scheduler* the same chunks go to a Dask cluster instead (:mod:`aigclabel.cluster`).
* *file_timeout* / *file_memory* bound each file: it runs in a sandbox process (one per worker,
  kept between files) with an address-space cap, and one that runs too long is killed and
  reported as ``timeout`` (too much memory: ``memory``) while the rest carry on.
* Inputs may be URLs (``s3://bucket/prefix/``): :mod:`aigclabel.storage` lists and reads them.
* :class:`Summary` counts verdicts and error kinds.
* :func:`load_done` reads a JSON Lines log of an earlier run, for resuming: paths whose line has no
  ``error`` are done.

Nothing here knows about verify or review; the command line passes :func:`verify_task` or
:func:`review_task`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import resource
import select
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from . import storage
from .errors import SourceError
from .limits import Limits
from .report import EXIT_POLICY, error_dict
from .formats import _BUILTIN as _FORMAT_MODULES

__all__ = ["discover", "pending", "jobs_count", "run", "Outcome", "Summary", "BadPath", "load_done", "error_dict",
           "error_exit_code", "verify_task", "review_task", "mark_task", "output_for"]



def error_exit_code(error: dict[str, str]) -> int:
    return EXIT_POLICY.for_error_kind(error.get("kind"))


# ------------------------------------------------------------------------------------------ discovery


@dataclass(frozen=True)
class BadPath:
    """An input that could not be listed (an unreadable directory); it becomes an error outcome."""

    path: str
    error: dict[str, str]


def discover(inputs: Iterable[str | os.PathLike], *, recursive: bool = False,
             include_hidden: bool = False) -> Iterator[str | BadPath]:
    """Yield the files to process: each input file as given, and the files of each input directory.

    Directory entries come sorted by name; subdirectories are entered only with *recursive*
    (depth first, in name order) and symbolic links to directories are not followed (no loops).
    Names starting with "." inside a directory are skipped unless *include_hidden* (this also
    skips the ``.name.aigctmp`` files of writes in progress); inputs named explicitly are always
    kept.  A path that does not exist is yielded as is: processing it reports the error.  A directory
    with no files is a :class:`BadPath` (an input that names nothing is more likely a mistake).
    """
    for item in inputs:
        path = os.fspath(item)
        if storage.is_url(path):
            yield from _discover_url(path, recursive, include_hidden)
            continue
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            is_dir = False
        if not is_dir:
            yield path
            continue
        found = False
        for entry in _walk(path, recursive, include_hidden):
            found = True
            yield entry
        if not found:
            where = "in its tree" if recursive else "at its top level (add --recursive to walk subdirectories)"
            yield BadPath(path, error_dict(SourceError(f"{path}: is a directory with no files {where}")))


def _discover_url(url: str, recursive: bool, include_hidden: bool) -> Iterator[str | BadPath]:
    try:
        if not storage.is_dir(url):
            yield url
            return
        found = False
        for entry in storage.list_files(url, recursive=recursive, include_hidden=include_hidden):
            found = True
            yield entry
    except SourceError as exc:
        yield BadPath(url, error_dict(exc))
        return
    if not found:
        where = "in its tree" if recursive else "at its top level (add --recursive to walk subdirectories)"
        yield BadPath(url, error_dict(SourceError(f"{url}: is a prefix with no objects {where}")))


def _walk(top: str, recursive: bool, include_hidden: bool) -> Iterator[str | BadPath]:
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield BadPath(top, error_dict(SourceError(f"{top}: cannot list directory ({exc.strerror})")))
        return
    for entry in entries:
        if not include_hidden and entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    yield from _walk(entry.path, recursive, include_hidden)
                continue
            if entry.is_file():  # follows a symlink to a file
                yield entry.path
        except OSError:
            continue


# ------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    """One file's result: *value* is what the task returned, or *error* says why there is none."""

    index: int
    path: str
    value: Any = None
    error: dict[str, str] | None = None
    seconds: float = 0.0
    #: the file's size in bytes, when known (results record it)
    size: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return error_exit_code(self.error)
        return int(getattr(self.value, "exit_code", 0))

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "error"
        verdict = getattr(self.value, "verdict", "done")
        return str(getattr(verdict, "value", verdict))


def _call(task: Callable[[str], Any], index: int, path: str) -> Outcome:
    t0 = time.perf_counter()
    try:
        value = task(path)
    except MemoryError as exc:  # an allocation refused under --file-memory (or by the system)
        error = {"kind": "memory", "type": "MemoryError",
                 "message": f"{path}: out of memory while processing this file ({exc or 'allocation refused'})"}
        return Outcome(index, path, error=error, seconds=time.perf_counter() - t0, size=_size(path))
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
        return Outcome(index, path, error=error_dict(exc), seconds=time.perf_counter() - t0, size=_size(path))
    return Outcome(index, path, value=value, seconds=time.perf_counter() - t0, size=_size(path))


def _size(path: str) -> int | None:
    """The input's size: a stat on the worker for a local file; for a URL, what reading it learnt (no request)."""
    if storage.is_url(path):
        return storage.size_seen(path)
    try:
        return os.stat(path).st_size
    except OSError:
        return None


@dataclass(frozen=True)
class FileLimits:
    """Per-file bounds of a batch: wall-clock seconds and bytes of address space (``None``: unbounded)."""

    timeout: float | None = None
    memory: int | None = None

    def __bool__(self) -> bool:
        return self.timeout is not None or self.memory is not None


# ------------------------------------------------------------------------------------------ sandbox
#
# A file under --file-timeout/--file-memory runs in a sandbox: a child interpreter started with
# subprocess (Dask workers are daemonic processes, which multiprocessing forbids to have children),
# fed one path at a time over a pipe. A file that overruns is cut off by killing the sandbox (a
# decoder stuck in C never returns to Python, so no signal handler could stop it); the next file gets a
# fresh one. The memory cap is RLIMIT_AS set, before each file, to the sandbox's size plus the cap: an
# allocation past it fails with MemoryError.

_FRAME = struct.Struct(">Q")


def _send(fh: Any, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_FRAME.pack(len(data)) + data)
    fh.flush()


def _recv(fh: Any) -> Any:
    head = fh.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError
    (size,) = _FRAME.unpack(head)
    data = fh.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _sandbox_main() -> None:
    """The sandbox's loop: receive (task, memory cap), then (index, path) pairs; answer with outcomes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a library that prints must not corrupt the result stream
    inp = sys.stdin.buffer
    task, memory = _recv(inp)
    _send(out, None)  # loaded (imports done): the parent's clock for the first file starts now
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    while True:
        try:
            index, path = _recv(inp)
        except EOFError:
            return
        if memory is not None:
            cap = _address_space() + memory
            resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
        try:
            outcome = _call(task, index, path)
        finally:
            if memory is not None:
                resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        error = outcome.error
        if memory is not None and error is not None and error.get("message", "").endswith("[max_allocation]"):
            # a decoder's MemoryError, which the handler words as a limit: here it is the --file-memory cap
            outcome.error = {**error, "kind": "memory", "message": error["message"] + " (--file-memory)"}
        try:
            _send(out, outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(out, Outcome(index, path, error=error_dict(exc), seconds=outcome.seconds))


class _Sandbox:
    def __init__(self, task: Callable[[str], Any], limits: FileLimits) -> None:
        self.task, self.limits = task, limits
        self.proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", "from aigclabel.batch import _sandbox_main; _sandbox_main()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        _send(proc.stdin, (self.task, self.limits.memory))
        _recv(proc.stdout)
        return proc

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()
            self.proc = None

    def call(self, index: int, path: str) -> Outcome:
        if self.proc is None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdout is not None
        t0 = time.perf_counter()
        try:
            _send(proc.stdin, (index, path))
            timeout = self.limits.timeout
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                self.stop()
                return Outcome(index, path, seconds=time.perf_counter() - t0, error={
                    "kind": "timeout", "type": "FileTimeout",
                    "message": f"{path}: still running after {timeout:g} s (--file-timeout); stopped"})
            outcome: Outcome = _recv(proc.stdout)
            return outcome
        except (EOFError, OSError):
            self.stop()
            return Outcome(index, path, seconds=time.perf_counter() - t0, error={
                "kind": "worker-crashed", "type": "SandboxDied",
                "message": f"{path}: the sandbox process died while processing this file "
                           "(a crash in a decoder or native library, or out of memory)"})


_sandboxes = threading.local()  # Dask runs tasks in threads: one sandbox per thread


def _limited_call(task: Callable[[str], Any], limits: FileLimits, index: int, path: str) -> Outcome:
    box: _Sandbox | None = getattr(_sandboxes, "box", None)
    if box is None or box.task is not task or box.limits != limits:
        if box is not None:
            box.stop()
        box = _sandboxes.box = _Sandbox(task, limits)
    return box.call(index, path)


def process_chunk(task: Callable[[str], Any], chunk: list[tuple[int, str]],
                  limits: FileLimits | None = None) -> list[Outcome]:
    """Outcomes of a chunk of (index, path), each file under *limits* when given (pool and Dask workers)."""
    if limits:
        return [_limited_call(task, limits, i, p) for i, p in chunk]
    return [_call(task, i, p) for i, p in chunk]


_worker_task: Callable[[str], Any] | None = None
_worker_limits: FileLimits | None = None


class WorkerTerminated(SystemExit):
    """Raised in a worker by SIGTERM, so its ``finally`` blocks (temp-file clean-up) run before it exits."""


def _terminate_worker(signum: int, frame: object) -> None:
    raise WorkerTerminated(128 + signum)


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
    assert _worker_task is not None
    return process_chunk(_worker_task, chunk, _worker_limits)


def run(items: Iterable[str | BadPath], task: Callable[[str], Any], *, jobs: int = 1, ordered: bool = True,
        chunk_size: int = 4, start_method: str | None = None, scheduler: str | None = None,
        file_limits: FileLimits | None = None) -> Iterator[Outcome]:
    """Apply *task* to each path of *items*; yield one :class:`Outcome` per item.

    With ``jobs > 1`` the task runs in that many worker processes (it must be picklable: a module
    function or a :func:`functools.partial` of one); paths are sent *chunk_size* at a time at first,
    then in chunks grown to take about 50 ms each (at most 256 paths), and at most ``2 * jobs``
    chunks are in flight, so *items* may be an endless generator.  *start_method* overrides the
    multiprocessing start method (default ``fork`` while this process has one thread, else ``forkserver``:
    see :func:`_default_start_method`).

    *scheduler* (a Dask scheduler address, or ``local[:N]``) sends the chunks to a Dask cluster
    instead of local processes (*jobs* is then unused); *file_limits* bounds each file.
    """
    if scheduler is not None:
        from .cluster import run_on_cluster

        stream = run_on_cluster(items, task, scheduler, file_limits=file_limits)
    elif jobs <= 1:
        stream = _serial(items, task, file_limits)
    else:
        stream = _pool_run(items, task, jobs, max(1, chunk_size), start_method, file_limits)
    if jobs <= 1 and scheduler is None:
        yield from stream  # already in input order
        return
    if not ordered:
        yield from stream
        return
    pending: dict[int, Outcome] = {}
    want = 0
    for outcome in stream:
        pending[outcome.index] = outcome
        while want in pending:
            yield pending.pop(want)
            want += 1
    for index in sorted(pending):  # pragma: no cover - every index arrives; kept for safety
        yield pending.pop(index)


def _serial(items: Iterable[str | BadPath], task: Callable[[str], Any],
            file_limits: FileLimits | None) -> Iterator[Outcome]:
    try:
        for index, item in enumerate(items):
            if isinstance(item, BadPath):
                yield Outcome(index, item.path, error=item.error)
            else:
                yield process_chunk(task, [(index, item)], file_limits)[0]
    finally:
        box = getattr(_sandboxes, "box", None)
        if box is not None:
            box.stop()
            _sandboxes.box = None


#: modules the fork server imports once, so each worker starts with them loaded -- the format
#: handlers too: otherwise every worker pays for importing them on its first file
_PRELOAD = ["aigclabel.batch", "aigclabel.platform", "aigclabel.verifier", "aigclabel.formats",
            *(f"aigclabel.formats.{name}" for name in _FORMAT_MODULES)]


def _context(start_method: str | None) -> Any:
    """The multiprocessing context of the pool (see :func:`_default_start_method`)."""
    ctx = multiprocessing.get_context(start_method or _default_start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(forkserver_preload())
    return ctx


def forkserver_preload(*extra: str) -> list[str]:
    """What a fork server imports before forking workers: *extra*, the modules of :data:`_PRELOAD`, and first
    the caller's main script (``__main__``; multiprocessing only runs it when it is a script, such as the
    ``aigclabel`` console script): a worker forked from a server that has not run it runs it itself, which for
    the command line imports click and the CLI again in every worker."""
    return ["__main__", *extra, *_PRELOAD]


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


def take_paths(source: Iterator[tuple[int, str | BadPath]], n: int,
               ready: list[Outcome]) -> tuple[list[tuple[int, str]], bool]:
    """Up to *n* (index, path) pairs from *source*, paths that could not be listed going to *ready* as error
    outcomes; and whether *source* has ended.  (The local pool and the Dask engine fill their chunks with it.)"""
    taken: list[tuple[int, str]] = []
    while len(taken) < n:
        try:
            index, item = next(source)
        except StopIteration:
            return taken, True
        if isinstance(item, BadPath):
            ready.append(Outcome(index, item.path, error=item.error))
        else:
            taken.append((index, item))
    return taken, False


def _pool_run(items: Iterable[str | BadPath], task: Callable[[str], Any], jobs: int,
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
    try:
        while True:
            ready: list[Outcome] = []
            while len(running) < 2 * jobs and (retry or not exhausted):
                if retry:
                    chunk = retry.pop()
                else:
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
                per_file = spent / finished
                size = max(chunk_size, min(_MAX_CHUNK, int(_CHUNK_SECONDS / per_file) if per_file > 0 else _MAX_CHUNK))
            if broken:
                # Every chunk still running died with the pool; the culprit is among them. Run each of
                # their paths alone in a fresh pool; a path that breaks a pool while alone is the cause.
                broken += list(running.values())
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _new_pool(task, jobs, start_method, file_limits)
                for chunk in broken:
                    if len(chunk) == 1 and chunk[0][0] in suspects:
                        index, path = chunk[0]
                        yield Outcome(index, path, error={
                            "kind": "worker-crashed", "type": "BrokenProcessPool",
                            "message": f"{path}: the worker process died while processing this file "
                                       "(a crash in a decoder or native library, or out of memory)"})
                        continue
                    for pair in chunk:
                        suspects.add(pair[0])
                        retry.append([pair])
    finally:
        if completed:
            pool.shutdown(wait=True)
        else:  # interrupted (SIGINT/SIGTERM, a closed pipe, the caller stopped reading): stop now
            _stop_workers(pool)


# ------------------------------------------------------------------------------------------ summary


@dataclass
class Summary:
    """Counts of a batch run: each verdict, and each error kind."""

    files: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    def add(self, outcome: Outcome) -> None:
        self.files += 1
        self.verdicts[outcome.verdict] += 1
        if outcome.error is not None:
            self.errors[outcome.error.get("kind", "error")] += 1
        self.seconds = time.perf_counter() - self.started

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "verdicts": dict(sorted(self.verdicts.items())),
                "errors": dict(sorted(self.errors.items())), "seconds": round(self.seconds, 3)}

    def line(self) -> str:
        rate = f", {self.files / self.seconds:.1f} files/s" if self.seconds > 0 else ""
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(self.verdicts.items())) or "nothing"
        text = f"{self.files} file{'s' if self.files != 1 else ''}: {verdicts} ({self.seconds:.1f} s{rate})"
        if self.errors:
            text += "; errors: " + ", ".join(f"{n} {k}" for k, n in sorted(self.errors.items()))
        return text


def load_done(path: str | os.PathLike) -> set[str]:
    """Paths finished in an earlier run's JSON Lines log (lines with a ``path`` and no ``error``).

    A cut-off last line (the run was killed mid-write) and other unreadable lines are ignored, so
    those files are simply done again.  Paths are compared after ``os.path.normpath``.
    """
    done: set[str] = set()
    try:
        fh = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return done
    with fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("path"), str) and not obj.get("error"):
                done.add(_done_key(obj["path"]))
    return done


def pending(files: Iterable[str], *, recursive: bool = False, skip_done: str | os.PathLike | None = None
            ) -> Iterator[str | BadPath]:
    """The inputs still to do: :func:`discover` minus the files an earlier run's log says are done.

    *skip_done* is a JSON Lines log, or a Parquet results dataset (a directory or URL prefix).
    """
    items = discover(files, recursive=recursive)
    if not skip_done:
        return iter(items)
    from . import results

    done = ({_done_key(p) for p in results.load_done(os.fspath(skip_done))} if results.is_dataset(os.fspath(skip_done))
            else load_done(skip_done))
    return (i for i in items if isinstance(i, BadPath) or _done_key(i) not in done)


def _done_key(path: str) -> str:
    return path if storage.is_url(path) else os.path.normpath(path)


def jobs_count(jobs: int) -> int:
    """``--jobs 0`` means one worker per CPU."""
    return jobs if jobs > 0 else (os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------ tasks


def verify_task(path: str, *, profile: str, scope: str = "all", password: str | None = None,
                limits: Limits | None = None, c2pa: Any = None) -> Any:
    """``verify`` for one path (module-level, so worker processes can receive it)."""
    from .verifier import verify

    return verify(path, profile=profile, scope=scope, password=password, limits=limits, c2pa=c2pa)


def output_for(path: str, out_dir: str, roots: Iterable[str] = ()) -> str:
    """Where the copy of *path* goes under *out_dir*: its path relative to the input directory it was
    found in (the tree is mirrored), or its base name for a file given by name."""
    if storage.is_url(path) or storage.is_url(out_dir):
        return _url_output_for(path, out_dir, roots)
    norm = os.path.normpath(path)
    for root in sorted((os.path.normpath(r) for r in roots), key=len, reverse=True):
        if norm.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.join(out_dir, os.path.relpath(norm, root))
    return os.path.join(out_dir, os.path.basename(norm))


def _url_output_for(path: str, out_dir: str, roots: Iterable[str]) -> str:
    """:func:`output_for` when the input or the output directory is a URL ("/" separates its parts)."""
    join = storage.url_join if storage.is_url(out_dir) else os.path.join
    for root in sorted(roots, key=len, reverse=True):
        if storage.is_url(root) and storage.is_url(path):
            prefix = root.rstrip("/") + "/"
            if path.startswith(prefix):
                return join(out_dir, path[len(prefix):])
        elif not storage.is_url(root) and not storage.is_url(path):
            norm, top = os.path.normpath(path), os.path.normpath(root)
            if norm.startswith(top.rstrip(os.sep) + os.sep):
                return join(out_dir, os.path.relpath(norm, top).replace(os.sep, "/"))
    return join(out_dir, path.rstrip("/").rsplit("/", 1)[-1] if storage.is_url(path) else os.path.basename(path))


def review_task(path: str, *, platform: Any, declared_ai: bool = False, write: bool = False,
                output: str | None = None, out_dir: str | None = None, roots: tuple[str, ...] = (),
                overwrite: bool = False, password: str | None = None, limits: Limits | None = None) -> Any:
    """``review`` for one path: written in place (*write*), to *output*, or to a mirror under *out_dir*."""
    from .platform import review

    if out_dir is not None:
        output = output_for(path, out_dir, roots)
        parent = os.path.dirname(output)
        if parent:
            os.makedirs(parent, exist_ok=True)
    return review(path, platform=platform, declared_ai=declared_ai, write=write, output=output,
                  overwrite=overwrite, password=password, limits=limits)


def mark_task(path: str, *, output: str | None = None, out_dir: str | None = None, roots: tuple[str, ...] = (),
              sidecar: bool = False, audit_log: str | None = None, **options: Any) -> Any:
    """``mark_file`` for one path: to *output*, to a mirror under *out_dir*, or in place (``in_place=True``).

    *audit_log* is a path (each worker appends its own lines; one ``write`` per line); *sidecar*
    also writes the record beside the output (plain text has no carrier).
    """
    from .marking import mark_file

    if out_dir is not None:
        output = output_for(path, out_dir, roots)
        parent = os.path.dirname(output)
        if parent:
            os.makedirs(parent, exist_ok=True)
    result = mark_file(path, output, audit_log=audit_log, **options)
    if sidecar:
        from .textlabel import write_sidecar

        written = write_sidecar(result.destination or path, result.record, overwrite=True)
        result.notes.append(f"record also written to {written}")
    return result
