"""The per-file sandbox of a batch under ``--file-timeout`` / ``--file-memory`` (see :mod:`aigclabel.batch`).

Kept apart from :mod:`aigclabel.batch` so a run without per-file limits (every single-file command) never imports
subprocess, select, pickle or resource.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable

from .batch import FileLimits, Outcome, _call
from .report import error_dict

__all__ = ["limited_call", "stop_thread_sandbox", "sandbox_main"]

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


def sandbox_main() -> None:
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
        proc = subprocess.Popen([sys.executable, "-c", "from aigclabel._sandbox import sandbox_main; sandbox_main()"],
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
        except BaseException:
            # stopped while waiting (the worker's SIGTERM, Ctrl-C): the sandbox goes too; left alone it would
            # finish the file -- or stay stuck in it -- after the command has gone
            self.stop()
            raise


_sandboxes = threading.local()  # Dask runs tasks in threads: one sandbox per thread


def limited_call(task: Callable[[str], Any], limits: FileLimits, index: int, path: str) -> Outcome:
    box: _Sandbox | None = getattr(_sandboxes, "box", None)
    if box is None or box.task is not task or box.limits != limits:
        if box is not None:
            box.stop()
        box = _sandboxes.box = _Sandbox(task, limits)
    return box.call(index, path)




def stop_thread_sandbox() -> None:
    """Stop this thread's sandbox, if it has one (the end of a serial run)."""
    box = getattr(_sandboxes, "box", None)
    if box is not None:
        box.stop()
        _sandboxes.box = None
