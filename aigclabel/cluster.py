"""Batch runs on a Dask cluster: the same per-file tasks as the local pool, in chunks, on many machines.

``scheduler`` is a Dask scheduler address (``tcp://host:8786``) or ``local[:N]``, which starts a
:class:`distributed.LocalCluster` of N worker processes (default: one per CPU) on 127.0.0.1 for the
run. Dask does the scheduling, data movement and worker supervision; this module only cuts the
input into chunks and streams the outcomes back:

* a chunk holds many files (it grows until one takes about :data:`CHUNK_SECONDS`, up to
  :data:`MAX_CHUNK` files), so per-task overhead of the scheduler is paid once per chunk, not per file;
  once the listing has ended, the last chunks shrink so that the workers finish together;
* at most two chunks per worker thread are in flight and at most :data:`LOOKAHEAD` paths are listed
  ahead, so the input may be an endless listing;
* the workers import the modules a task needs before their first chunk (a worker plugin; a
  ``local[:N]`` cluster's workers fork from a fork server that has them loaded, as the local pool's do);
* outcomes come back in completion order, chunk by chunk: a chunk's outcomes are yielded only once
  it has finished, so a worker that dies mid-chunk loses nothing that was reported -- Dask runs the
  chunk again elsewhere, and the caller never sees a file twice;
* a chunk that keeps killing workers (Dask gives up with ``KilledWorker``) is split into one-file
  tasks; a file that kills a worker on its own is reported as ``worker-crashed``.

Needs the ``[cluster]`` extra (``dask[distributed]``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import uuid
from typing import Any, Callable, Iterable, Iterator

from .batch import BadPath, FileLimits, Outcome, chunk_size_for, process_chunk, take_paths
from .errors import AigcLabelError

__all__ = ["run_on_cluster", "client_for", "parse_scheduler", "SchedulerError", "CHUNK_SECONDS", "MAX_CHUNK"]

#: a chunk should take about this long on a worker: long enough that the scheduler's few milliseconds per
#: task are a small share, short enough that at the end of a run no worker waits long on another's last chunk
CHUNK_SECONDS = 0.2
#: ... and hold at most this many files (the first chunks hold FIRST_CHUNK, until timings are known)
MAX_CHUNK = 1000
FIRST_CHUNK = 32
#: the last chunks of a run shrink down to this many files (see _stream)
TAIL_CHUNK = 8
#: at most this many listed paths are held ahead of the chunks (a listing may be endless)
LOOKAHEAD = 100_000


class SchedulerError(AigcLabelError):
    """The Dask scheduler cannot be reached, or the ``[cluster]`` extra is missing."""

    kind = "scheduler-error"


def parse_scheduler(value: str) -> tuple[str, int | None]:
    """``local`` / ``local:N`` -> ("local", N or None); anything else -> (address, None)."""
    if value == "local":
        return "local", None
    if value.startswith("local:"):
        count = value.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{value!r}: local:N needs a worker count N >= 1")
        return "local", int(count)
    return value, None


@contextlib.contextmanager
def client_for(scheduler: str) -> Iterator[Any]:
    """A :class:`distributed.Client` for *scheduler*; a ``local[:N]`` cluster lives as long as the block."""
    address, workers = parse_scheduler(scheduler)
    if address == "local":
        with _local_client(workers or os.cpu_count() or 1) as client:
            yield client
        return
    Client, _ = _import_distributed()
    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"{address}: cannot reach the Dask scheduler ({exc})") from None
    with client:
        yield client


def _import_distributed() -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError("--scheduler needs Dask: pip install 'aigclabel[cluster]'") from None
    return Client, LocalCluster


@contextlib.contextmanager
def _local_client(workers: int) -> Iterator[Any]:
    """A client of a ``LocalCluster`` of *workers* processes (one thread each: the work is CPU-bound Python,
    threads would share one GIL), whose start-up is kept short.

    Dask's default starts each worker with ``spawn``: a fresh interpreter that imports ``distributed`` and,
    on its first task, aigclabel -- on a 2-core machine seconds of CPU before the first file. Here the workers
    fork from multiprocessing's fork server (a clean interpreter, never this process and its threads), which
    imports ``distributed`` and the modules the local pool preloads once; it is started before this process
    imports ``distributed``, so the two imports run side by side. The nannies stay: a worker that dies is
    restarted (forked again, at once) and Dask reruns its chunk.
    """
    import multiprocessing

    from ._pool import forkserver_preload

    method = None
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        # only takes effect if no fork server runs yet in this process; one started by the local pool
        # (_pool._context) has preloaded the same aigclabel modules, and distributed is imported on demand
        multiprocessing.get_context("forkserver").set_forkserver_preload(forkserver_preload("distributed"))
        forkserver.ensure_running()
        method = "forkserver"
    Client, LocalCluster = _import_distributed()
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": method} if method else {}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()


def _crashed(index: int, path: str) -> Outcome:
    return Outcome(index, path, error={
        "kind": "worker-crashed", "type": "KilledWorker",
        "message": f"{path}: a Dask worker died while processing this file, each time it was tried "
                   "(a crash in a decoder or native library, or out of memory)"})


def run_on_cluster(items: Iterable[str | BadPath], task: Callable[[str], Any], scheduler: str | Any, *,
                   file_limits: FileLimits | None = None) -> Iterator[Outcome]:
    """Outcomes of *task* over *items*, computed on the Dask cluster *scheduler* (an address or a Client)."""
    if isinstance(scheduler, str):
        with client_for(scheduler) as client:
            yield from _stream(items, task, client, file_limits)
    else:
        yield from _stream(items, task, scheduler, file_limits)


def _stream(items: Iterable[str | BadPath], task: Callable[[str], Any], client: Any,
            file_limits: FileLimits | None) -> Iterator[Outcome]:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    from ._dask_preload import NAME, Preload
    from ._pool import PRELOAD as _PRELOAD

    # before the first chunk: otherwise each worker's first chunk also imports the format handlers
    client.register_plugin(Preload(_PRELOAD), name=NAME)
    run_id = uuid.uuid4().hex[:12]
    threads = max(1, sum(client.nthreads().values()))
    remote_task = client.scatter(task, broadcast=True) if _large(task) else task
    source = enumerate(items)
    exhausted = False
    # listed but not yet submitted: once the listing has ended inside this window, the number of files left is
    # known and the last chunks shrink, so the workers finish together instead of one waiting on a big chunk
    ahead: collections.deque[tuple[int, str]] = collections.deque()
    size, spent, finished, serial = FIRST_CHUNK, 0.0, 0, 0
    chunks: dict[Any, list[tuple[int, str]]] = {}
    retry: list[list[tuple[int, str]]] = []  # one-file chunks of a chunk that kept killing workers
    ready: list[Outcome] = []
    futures = as_completed()

    def submit(chunk: list[tuple[int, str]]) -> None:
        nonlocal serial
        serial += 1
        fut = client.submit(_process_boxed, remote_task, _Box(chunk), file_limits,
                            key=f"aigclabel-{run_id}-{serial}", pure=False, retries=1)
        chunks[fut] = chunk
        futures.add(fut)

    def look_ahead(window: int) -> None:
        nonlocal exhausted
        if not exhausted and len(ahead) < window:
            taken, exhausted = take_paths(source, window - len(ahead), ready)
            ahead.extend(taken)

    def fill() -> None:
        while len(chunks) < 2 * threads and (retry or ahead or not exhausted):
            if retry:
                submit(retry.pop())
                continue
            look_ahead(min(2 * threads * size, LOOKAHEAD))
            take = size if not exhausted else max(TAIL_CHUNK, min(size, -(-len(ahead) // (2 * threads))))
            chunk = [ahead.popleft() for _ in range(min(take, len(ahead)))]
            if chunk:
                submit(chunk)

    try:
        fill()
        yield from ready
        ready.clear()
        while chunks:
            fut = next(futures)
            chunk = chunks.pop(fut)
            try:
                outcomes: list[Outcome] = fut.result().items
            except KilledWorker:
                if len(chunk) == 1:
                    yield _crashed(*chunk[0])
                else:
                    retry.extend([pair] for pair in chunk)
                outcomes = []
            for outcome in outcomes:
                spent += outcome.seconds
                finished += 1
            yield from outcomes
            if finished:
                size = chunk_size_for(spent, finished, floor=1, seconds=CHUNK_SECONDS, cap=MAX_CHUNK)
            fill()
            yield from ready
            ready.clear()
    finally:
        if chunks:  # interrupted: do not leave the cluster working for nobody
            client.cancel(list(chunks))


class _Box:
    """A list handed to or from Dask as one object: a chunk's (index, path) pairs, or its outcomes.

    As a bare list, both directions cost more than the files' own work. ``Client.submit`` walks every
    list, tuple and dict among a task's arguments, element by element, for futures to depend on: for 3,000
    files in 29 chunks that was 0.36 of the client's 0.99 s of CPU, and the workers and scheduler spent
    another 0.7 s. And Dask serializes a list result item by item (a header and frames per outcome, each
    through its serializer chain): fetching the 300 outcomes of one chunk took 70-160 ms, against 6 ms for the
    same data pickled as one object, plus 17 ms to load it. A chunk never holds a future, and outcomes are
    plain picklable objects, so nothing is lost by hiding them.
    """

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


def _process_boxed(task: Callable[[str], Any], chunk: _Box, limits: FileLimits | None) -> _Box:
    return _Box(process_chunk(task, chunk.items, limits))


def _large(task: Any) -> bool:
    """Whether *task* is worth sending once per worker rather than with every chunk."""
    import pickle

    try:
        return len(pickle.dumps(task)) > 64 * 1024
    except Exception:  # noqa: BLE001 - unpicklable by pickle: cloudpickle sends it with each chunk
        return False
