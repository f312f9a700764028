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
* The pool lives in :mod:`aigclabel._pool` and the sandbox in :mod:`aigclabel._sandbox`, imported only when a
  run needs them: a single-file command loads none of multiprocessing, subprocess or pickle.
* Inputs may be URLs (``s3://bucket/prefix/``): :mod:`aigclabel.storage` lists and reads them.
* :class:`Summary` counts verdicts and error kinds.
* :func:`load_done` reads a JSON Lines log of an earlier run, for resuming: paths whose line has no
  ``error`` are done.

Nothing here knows about verify or review; the command line passes :func:`verify_task` or
:func:`review_task`.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from . import storage
from .errors import SourceError
from .limits import Limits
from .report import EXIT_POLICY, error_dict

__all__ = ["discover", "pending", "jobs_count", "run", "Outcome", "Summary", "BadPath", "load_done", "error_dict",
           "error_exit_code", "verify_task", "review_task", "mark_task", "output_for"]



def error_exit_code(error: dict[str, str]) -> int:
    return EXIT_POLICY.for_error_kind(error.get("kind"))


# ------------------------------------------------------------------------------------------ discovery


class BadPath(NamedTuple):
    """An input that could not be listed (an unreadable directory); it becomes an error outcome."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

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


class Rendered:
    """A task's result reduced, where the task ran, to what a JSON Lines consumer of the batch uses: the line
    (``json.dumps(value.to_dict())``), the verdict and the exit code.

    Why: every result of a run comes back to one process (the command, or a Dask client), which would
    otherwise unpickle the report object, convert it and serialise it again, about 0.05 ms per file; on a
    cluster that one process is what limits first (``bench/bench_cluster.py`` prints its CPU per file).
    A worker sends the finished line instead and the collector echoes it as it is.  (A plain class, as is
    :class:`RenderRows`: a dataclass costs every single-file command ~0.5 ms to create at import.)
    """

    __slots__ = ("line", "verdict", "exit_code")

    def __init__(self, line: str, verdict: str, exit_code: int = 0) -> None:
        self.line, self.verdict, self.exit_code = line, verdict, exit_code

    def to_dict(self) -> dict[str, Any]:
        """The object the line encodes (for a results dataset; the line is echoed as it is)."""
        obj: dict[str, Any] = json.loads(self.line)
        return obj


class RenderRows:
    """*task* returning :class:`Rendered` instead of its value (picklable, as pool and Dask workers need)."""

    __slots__ = ("task",)

    def __init__(self, task: Callable[[str], Any]) -> None:
        self.task = task

    def __call__(self, path: str) -> Rendered:
        value = self.task(path)
        verdict = getattr(value, "verdict", "done")
        return Rendered(json.dumps(value.to_dict(), ensure_ascii=False), str(getattr(verdict, "value", verdict)),
                        int(getattr(value, "exit_code", 0)))


class FileLimits(NamedTuple):
    """Per-file bounds of a batch: wall-clock seconds and bytes of address space (``None``: unbounded)."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    timeout: float | None = None
    memory: int | None = None

    def __bool__(self) -> bool:
        return self.timeout is not None or self.memory is not None


def process_chunk(task: Callable[[str], Any], chunk: list[tuple[int, str]],
                  limits: FileLimits | None = None) -> list[Outcome]:
    """Outcomes of a chunk of (index, path), each file under *limits* when given (pool and Dask workers)."""
    if limits:
        from ._sandbox import limited_call

        return [limited_call(task, limits, i, p) for i, p in chunk]
    return [_call(task, i, p) for i, p in chunk]


def run(items: Iterable[str | BadPath], task: Callable[[str], Any], *, jobs: int = 1, ordered: bool = True,
        chunk_size: int = 4, start_method: str | None = None, scheduler: str | None = None,
        file_limits: FileLimits | None = None) -> Iterator[Outcome]:
    """Apply *task* to each path of *items*; yield one :class:`Outcome` per item.

    With ``jobs > 1`` the task runs in that many worker processes (it must be picklable: a module
    function or a :func:`functools.partial` of one); paths are sent *chunk_size* at a time at first,
    then in chunks grown to take about 50 ms each (at most 256 paths), and at most ``2 * jobs``
    chunks are in flight, so *items* may be an endless generator.  *start_method* overrides the
    multiprocessing start method (default ``fork`` while this process has one thread, else ``forkserver``:
    see :func:`aigclabel._pool._default_start_method`).

    *scheduler* (a Dask scheduler address, or ``local[:N]``) sends the chunks to a Dask cluster
    instead of local processes (*jobs* is then unused); *file_limits* bounds each file.
    """
    if scheduler is not None:
        from .cluster import run_on_cluster

        stream = run_on_cluster(items, task, scheduler, file_limits=file_limits)
    elif jobs <= 1:
        stream = _serial(items, task, file_limits)
    else:
        from ._pool import pool_run  # (multiprocessing is imported only for a pool)

        stream = pool_run(items, task, jobs, max(1, chunk_size), start_method, file_limits)
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
        if file_limits:
            from ._sandbox import stop_thread_sandbox

            stop_thread_sandbox()


def chunk_size_for(spent: float, finished: int, *, floor: int, seconds: float, cap: int) -> int:
    """How many files the next chunk takes so that it runs about *seconds*, from the *spent* seconds of the
    *finished* files so far (between *floor* and *cap*).  (The local pool and the Dask engine size chunks alike.)"""
    per_file = spent / finished if finished else 0.0
    return max(floor, min(cap, int(seconds / per_file) if per_file > 0 else cap))


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
