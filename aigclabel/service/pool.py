"""A pool of worker processes where the service reads uploads: work that can be stopped and bounded.

A thread cannot be stopped, so a request that timed out used to leave its review running (and its
memory held) after the 503.  Each worker here is a process of its own:

* its address space is capped (``RLIMIT_AS``): an input that makes a decoder allocate without end
  gets a ``MemoryError`` in the worker (a 422 naming the limit), not a server at 8 GB;
* it runs every job under the service's :class:`~aigclabel.limits.Limits` (the same budget as the
  library and the CLI);
* a job whose request is answered first -- time limit, client gone, server shutting down -- is
  stopped by killing its worker (SIGKILL) and a fresh one takes its place;
* a worker is recycled after ``max_jobs`` jobs or when its resident memory stays over
  ``recycle_rss`` after a job, so fragmentation from one huge file does not stay for ever.

At most ``size`` jobs run at once; up to ``max_queue`` more wait (beyond that: :class:`Overloaded`,
a 503 with Retry-After).  The request handler owns the upload's files: a worker only reads them while
the request waits for it, so they can be removed as soon as the request ends, however it ends.

Workers are forked from a fork server (``multiprocessing`` ``forkserver``) that has imported the
library once: never from the server process itself, whose event loop and native libraries hold
threads and locks.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import struct
import resource
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import anyio

from .._io import aigclabel_tempdir
from ..formats import _BUILTIN as _FORMAT_MODULES
from ..limits import DEFAULT_LIMITS, Limits, use_limits

__all__ = ["WorkerPool", "JobTimeout", "Overloaded", "WorkerStopped", "JobFailed", "rss_bytes", "deadline_scope"]

#: modules the fork server imports once, so each worker starts with them loaded (the format handlers
#: too, as the batch pool does: otherwise every fresh worker pays for importing them)
_PRELOAD = ["aigclabel.service.pool", "aigclabel.service.jobs",
            *(f"aigclabel.formats.{m}" for m in _FORMAT_MODULES), "aigclabel.service.warmup"]


_PAGE = os.sysconf("SC_PAGE_SIZE")


class JobTimeout(Exception):
    def __init__(self, queued: bool) -> None:
        super().__init__("queued" if queued else "running")
        self.queued = queued


class Overloaded(Exception):
    pass


class WorkerStopped(Exception):
    """The worker ended during the job (a signal such as SIGSEGV, or the kernel's OOM killer)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"exit code {exitcode}")
        self.exitcode = exitcode


class JobFailed(Exception):
    """The job raised: ``payload`` is :func:`aigclabel.service.jobs.error_payload` of the exception."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("message", ""))
        self.payload = payload


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory (``VmRSS``) or its peak (``VmHWM``) from /proc; 0 where unknown."""
    if field == "VmRSS":  # after every job: statm is one short line, status a page of text to scan
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                return int(fh.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            return 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def deadline_scope(seconds: float) -> anyio.CancelScope:
    """A cancel scope that ends its block after *seconds* (check ``cancelled_caught``, or code after the block)."""
    return anyio.CancelScope(deadline=anyio.current_time() + seconds)


# ----------------------------------------------------------------------------------- the worker side


def _worker_main(conn: Any, limits: Limits, memory_bytes: int | None, tmp_root: str | None) -> None:
    """The loop of one worker process: (job name, kwargs) in, ("ok", result) or ("error", payload) out, each with
    the worker's resident memory after the job (read here, so the front end, one process for every worker, need
    not open a /proc file per request)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of `aigclabel serve`: the server shuts us down
    # Everything the job puts in the temporary directory (video and audio scratch, ...) goes to a
    # directory of this worker's own, which the server removes when it stops the worker.
    private = aigclabel_tempdir("worker", tmp_root)
    tempfile.tempdir = private
    from . import jobs
    from .jobs import error_payload  # not .errors: that imports the web framework, a second per worker

    if "aigclabel.service.warmup" not in sys.modules:  # not forked from a warm fork server
        jobs.warm()
    if memory_bytes:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(("ready", os.getpid(), private))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        name, kwargs = message
        try:
            with use_limits(limits):
                reply: tuple[str, Any] = ("ok", jobs.JOBS[name](**kwargs))
        except MemoryError:
            reply = ("error", error_payload(MemoryError()))
        except Exception as exc:  # noqa: BLE001 - every failure is an answer; a bug of ours is logged
            from ..errors import AigcLabelError

            if not isinstance(exc, AigcLabelError):
                print(f"aigclabel service worker: internal error in {name}:", file=sys.stderr)
                traceback.print_exception(exc, file=sys.stderr)
            reply = ("error", error_payload(exc))
        try:
            conn.send((*reply, rss_bytes(os.getpid())))
        except (OSError, EOFError):
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable result: a bug of ours, answered as such
            conn.send(("error", error_payload(exc), rss_bytes(os.getpid())))


# ----------------------------------------------------------------------------------- the server side


def _send_whole(conn: Any, message: Any) -> None:
    """``conn.send(message)`` in one write where it fits the pipe: ``Connection.send`` writes a message over
    16 KiB (an upload held in memory) as its length and then its bytes, and the worker, woken by the first
    write, sleeps again until the second -- two wake-ups per request."""
    data = ForkingPickler.dumps(message)
    if len(data) > 0x7FFFFFFF:  # Connection's longer header form
        conn.send_bytes(data)
        return
    view = memoryview(struct.pack("!i", len(data)) + data)
    fd = conn.fileno()
    while view:
        view = view[os.write(fd, view):]


@dataclass(eq=False)  # identity, so a set can hold workers
class _Worker:
    """One service worker process, its connection, scratch directory and job count."""
    proc: Any
    conn: Any
    tmp: str  # the worker's private temporary directory
    jobs: int = 0


class WorkerPool:
    def __init__(self, size: int, *, limits: Limits = DEFAULT_LIMITS, memory_bytes: int | None = None,
                 recycle_rss: int | None = None, max_jobs: int = 5000, max_queue: int = 64,
                 tmp_dir: str | None = None, start_method: str | None = None) -> None:
        self.size = max(1, size)
        self.limits = limits
        self.memory_bytes = memory_bytes
        self.recycle_rss = recycle_rss
        # A recycle leaves one worker fewer until its successor is up, a dip a small-file load felt every 500
        # jobs; a worker that grows is recycled by its RSS after any job anyway.
        self.max_jobs = max_jobs
        self.max_queue = max_queue
        self.tmp_dir = tmp_dir  # where the workers' private temporary directories go (None: the system's)
        if start_method is None:
            start_method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self._ctx: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # every live worker, idle or busy (for shutdown and RSS figures)
        self._lock = threading.Lock()
        self._slots: anyio.Semaphore | None = None
        self._waiting = 0
        self._spawning = 0
        self._closed = False

    # -- lifecycle

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, self.limits, self.memory_bytes, self.tmp_dir),
                                 name="aigclabel-service-worker", daemon=True)
        proc.start()
        child.close()
        if not parent.poll(60):
            proc.kill()
            raise RuntimeError("a service worker did not start within 60 s")
        try:
            _ready, _pid, tmp = parent.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise RuntimeError(f"a service worker stopped while starting (exit code {proc.exitcode})") from None
        worker = _Worker(proc, parent, tmp)
        with self._lock:
            self._all.add(worker)
        return worker

    def _spawn_idle(self) -> None:
        worker = self._spawn()
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                self._idle.append(worker)
        if closed:
            self._kill(worker)

    async def start(self) -> None:
        """Start every worker now (server start-up), so the first requests do not pay for it."""
        for _ in range(max(0, self.size - len(self._all))):
            await anyio.to_thread.run_sync(self._spawn_idle)

    def _kill(self, worker: _Worker, replace: bool = False) -> None:
        with self._lock:
            self._all.discard(worker)
        with contextlib.suppress(OSError, ValueError):
            worker.proc.kill()
        with contextlib.suppress(OSError, ValueError):
            worker.conn.close()
        worker.proc.join(5)
        shutil.rmtree(worker.tmp, ignore_errors=True)
        if replace and not self._closed:
            # Start the successor now, in the background: the next request should not pay for it.
            threading.Thread(target=self._replenish, name="aigclabel-pool-spawn", daemon=True).start()

    def _replenish(self) -> None:
        with self._lock:
            if self._closed or len(self._all) + self._spawning >= self.size:
                return
            self._spawning += 1
        try:
            self._spawn_idle()
        except Exception as exc:  # noqa: BLE001 - the next request spawns one itself (and reports the error)
            print(f"aigclabel service: could not start a worker: {exc}", file=sys.stderr)
        finally:
            with self._lock:
                self._spawning -= 1

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._idle.clear()
        for worker in workers:
            self._kill(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._all if w.proc.pid]

    # -- jobs

    async def _take(self) -> _Worker:
        while True:
            with self._lock:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.proc.is_alive():
                        return worker
                    self._all.discard(worker)
                spawn = len(self._all) + self._spawning < self.size
                if spawn:
                    self._spawning += 1
            if not spawn:  # a successor is being started already: wait for it rather than start another
                await anyio.sleep(0.01)
                continue
            try:
                # Spawned into the idle list, not returned: a request cancelled meanwhile loses no process.
                await anyio.to_thread.run_sync(self._spawn_idle)
            finally:
                with self._lock:
                    self._spawning -= 1

    def _give_back(self, worker: _Worker, rss: int) -> None:
        worker.jobs += 1
        tired = worker.jobs >= self.max_jobs
        fat = self.recycle_rss is not None and rss > self.recycle_rss
        if tired or fat or self._closed:
            self._kill(worker, replace=True)
            return
        with self._lock:
            self._idle.append(worker)

    async def run(self, name: str, kwargs: dict[str, Any], timeout: float) -> Any:
        """Run job *name* in a worker within *timeout* seconds (waiting included); its result.

        Raises :class:`Overloaded`, :class:`JobTimeout`, :class:`WorkerStopped` or :class:`JobFailed`.
        Cancelled (the request ended) or timed out while running, the worker is killed.
        """
        if self._slots is None:
            self._slots = anyio.Semaphore(self.size)
        slots = self._slots
        if slots.value == 0 and self._waiting >= self.max_queue:
            raise Overloaded()
        queued = True
        # One deadline for the wait and the work, as a bare cancel scope: anyio.fail_after's wrapper around the
        # same scope cost the front end more than the job's whole hand-off to a worker.
        with deadline_scope(timeout):
            self._waiting += 1
            try:
                await slots.acquire()
            finally:
                self._waiting -= 1
            queued = False
            try:
                return await self._run_in_worker(name, kwargs)
            finally:
                slots.release()
        raise JobTimeout(queued=queued)  # reached only when the deadline cancelled the block

    async def _run_in_worker(self, name: str, kwargs: dict[str, Any]) -> Any:
        """The job in an idle worker; cancelled (time limit, request gone) before its answer, the worker is killed."""
        worker: _Worker | None = None
        done = False
        try:
            worker = await self._take()
            try:
                _send_whole(worker.conn, (name, kwargs))
            except OSError:  # it died while idle (e.g. the kernel's OOM killer)
                worker.proc.join(5)
                raise WorkerStopped(worker.proc.exitcode) from None
            await anyio.wait_readable(worker.conn.fileno())
            # uvloop leaves the pipe non-blocking after waiting on it: a result larger than the pipe's buffer
            # (a review page's preview) would then fail half-read, so read it blocking (the worker sends it whole)
            os.set_blocking(worker.conn.fileno(), True)
            try:
                status, payload, rss = worker.conn.recv()
            except (EOFError, OSError):
                worker.proc.join(5)
                raise WorkerStopped(worker.proc.exitcode) from None
            # after a MemoryError the worker's heap may be in any state: a fresh one takes its place
            done = not (status == "error" and payload.get("limit") == "memory")
        finally:
            if worker is not None:
                if done:
                    self._give_back(worker, rss)
                else:
                    self._kill(worker, replace=True)  # stop the work: its request has been answered
        if status == "ok":
            return payload
        raise JobFailed(payload)
