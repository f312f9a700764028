"""What a worker process does with one input: run one entry point and classify the outcome.

Outcomes:

``ok``        the call returned (a report, an inspection, a review, marked bytes that check out)
``typed``     it raised :class:`aigclabel.errors.AigcLabelError` -- the expected, typed refusal
``untyped``   any other exception: a bug, reported with a signature (type + innermost aigclabel frame)
``hang``      it ran past the wall-time limit (SIGALRM here; the parent kills a worker stuck in C code)
``broken``    ``mark`` succeeded but our own ``verify(scope="implicit")`` or an independent reader
              rejects the output (and, for the independent reader, accepted the input)

The worker runs under ``RLIMIT_AS`` (set by :func:`serve`), so a runaway allocation is a
``MemoryError`` -- untyped, as issue 12 counts it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
import traceback
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import aigclabel

PRODUCER = "001191110102MACQD9K64010000"
PLATFORM = "002291110102MACQD9K64020000"

#: entry point name -> what it runs
ENTRIES = ("verify-implicit", "verify-explicit", "verify-all", "inspect", "review", "review-write", "mark",
           "mark-noexplicit", "mark-watermark", "inspect-watermark", "carry")

#: labelled originals ``carry`` takes its record from, by ProduceID (the fuzzed input is the derivative)
_carry_originals: dict[str, Path] = {}


def carry_produce_id(fmt: str) -> str:
    """The seed of *fmt* is labelled with this ProduceID (``seeds.py``); an original with the same record lets
    ``carry`` get past its refusal of another producer's record and on to writing the fuzzed file."""
    return f"fuzz-seed-{fmt}"


def _original_for_carry(produce_id: str) -> Path:
    """A labelled JPEG, made once per ProduceID and worker: the bundled photo marked (implicit label only)."""
    original = _carry_originals.get(produce_id)
    if original is None:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="aigclabel-fuzz-carry-"))
        original = folder / "original.jpg"
        aigclabel.mark(Path(_ROOT) / "samples" / "photo.jpg", original, producer=PRODUCER, produce_id=produce_id,
                       explicit=False)
        _carry_originals[produce_id] = original
    return original

_PKG = os.path.dirname(os.path.abspath(aigclabel.__file__))
_ROOT = os.path.dirname(_PKG)


class Hang(BaseException):
    """Raised by SIGALRM when an input runs past the limit (a BaseException: no ``except Exception`` eats it)."""


@dataclass
class Task:
    fmt: str
    suffix: str
    kind: str  # image | audio | video | document | text
    entry: str
    data: bytes
    desc: str = ""
    index: int = -1


def _frame_where(tb: Any, with_line: bool = True) -> str:
    """The innermost frame inside the aigclabel package, as ``aigclabel/x.py:LINE`` (or ``:function``)."""
    where = "<outside aigclabel>"
    for frame in traceback.extract_tb(tb):
        path = os.path.abspath(frame.filename)
        if path.startswith(_PKG + os.sep):
            rel = os.path.relpath(path, _ROOT)
            where = f"{rel}:{frame.lineno}" if with_line else f"{rel}:{frame.name}"
    return where


def signature(exc: BaseException) -> str:
    return f"{type(exc).__name__} at {_frame_where(exc.__traceback__)}"


# ------------------------------------------------------------------------------------------ entries


def _run_entry(task: Task, path: Path, out_path: Path) -> bytes | None:
    """Run the entry point on the input at *path*; returns marked bytes for ``mark``."""
    entry = task.entry
    if entry.startswith("verify-"):
        report = aigclabel.verify(path, scope=entry.split("-", 1)[1])
        json.dumps(report.to_dict(), ensure_ascii=False)  # rendering is part of the contract
        _ = report.verdict, report.exit_code
        return None
    if entry in ("inspect", "inspect-watermark"):  # -watermark: the detector decodes the picture or audio too
        json.dumps(aigclabel.inspect(path, watermark=entry == "inspect-watermark").to_dict(), ensure_ascii=False)
        return None
    if entry == "review":
        result = aigclabel.review(path, platform=PLATFORM)
        json.dumps(result.to_dict(), ensure_ascii=False)
        return None
    if entry == "review-write":  # the platform's write: its propagation fields added to a copy
        result = aigclabel.review(path, platform=PLATFORM, output=out_path, overwrite=True)
        json.dumps(result.to_dict(), ensure_ascii=False)
        return out_path.read_bytes() if result.output is not None else None
    if entry == "carry":  # the record of a labelled original written into the fuzzed file (a derivative)
        carried = aigclabel.carry(_original_for_carry(carry_produce_id(task.fmt)), path)
        json.dumps(carried.to_dict(), ensure_ascii=False)
        return carried.data
    if entry in ("mark", "mark-noexplicit", "mark-watermark"):
        # mark-watermark: the invisible watermark embedded (a decode and a re-encode of images and audio)
        marked = aigclabel.mark_file(path, producer=PRODUCER, produce_id="fuzz-0001",
                                     explicit=entry == "mark", watermark=entry == "mark-watermark")
        json.dumps(marked.to_dict(), ensure_ascii=False)
        assert marked.data is not None
        return marked.data
    raise ValueError(f"unknown entry point {entry!r}")


# ------------------------------------------------------------------------------------------ readers


def _pillow(path: Path) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            for i in range(min(getattr(im, "n_frames", 1), 4)):
                im.seek(i)
                im.load()
    except Exception as exc:  # noqa: BLE001 - the independent reader's verdict, whatever it raises
        return f"Pillow: {type(exc).__name__}: {exc}"[:300]
    return None


def _mutagen(path: Path) -> str | None:
    import mutagen

    try:
        f = mutagen.File(path)
    except Exception as exc:  # noqa: BLE001
        return f"mutagen: {type(exc).__name__}: {exc}"[:300]
    return None if f is not None else "mutagen: not recognised"


def _ffprobe(path: Path) -> str | None:
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", str(path)],
                          capture_output=True, timeout=20)
    return None if proc.returncode == 0 else f"ffprobe rc {proc.returncode}: {proc.stderr[-300:]!r}"


def _document(path: Path) -> str | None:
    head = path.read_bytes()[:4]
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except Exception as exc:  # noqa: BLE001
            return f"zipfile: {type(exc).__name__}: {exc}"[:300]
        return None if bad is None else f"zipfile: bad CRC in {bad}"
    proc = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, timeout=20)
    # qpdf: 0 = fine, 3 = warnings (recovered), 2 = errors
    return None if proc.returncode in (0, 3) else f"qpdf --check rc {proc.returncode}: {proc.stdout[-300:]!r}"


def _text(path: Path) -> str | None:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"utf-8: {exc}"
    return None


READERS: dict[str, Callable[[Path], str | None]] = {"image": _pillow, "audio": _mutagen, "video": _ffprobe,
                                                    "document": _document, "text": _text}


def _check_output(task: Task, in_path: Path, out_path: Path, marked: bytes, independent: bool) -> dict[str, Any] | None:
    """None when the marked output checks out, else a ``broken`` (or ``untyped``) outcome."""
    out_path.write_bytes(marked)
    try:
        report = aigclabel.verify(out_path, scope="implicit")
    except aigclabel.AigcLabelError as exc:
        return {"status": "broken", "sig": f"broken output: our verify rejects it ({type(exc).__name__}) [{task.fmt}]",
                "detail": f"{type(exc).__name__}: {exc}", "tb": traceback.format_exc()}
    # mark writes the record with its ProduceID; review-write the propagator's fields with the platform code
    needle = {"review-write": PLATFORM, "carry": carry_produce_id(task.fmt)}.get(task.entry, "fuzz-0001")
    if task.fmt != "txt" and not any(lab.raw and needle in lab.raw for lab in report.labels):
        return {"status": "broken", "sig": f"broken output: our verify finds no record [{task.fmt}]",
                "detail": f"labels: {[lab.raw for lab in report.labels]!r}", "tb": ""}
    if independent:
        reader = READERS[task.kind]
        problem = reader(out_path)
        if problem is not None and reader(in_path) is None:
            name = problem.split(":", 1)[0].split(" rc")[0]
            return {"status": "broken", "sig": f"broken output: {name} rejects it [{task.fmt}]",
                    "detail": problem, "tb": ""}
    return None


# ------------------------------------------------------------------------------------------ one input


def _peak_reset() -> None:
    # Linux: writing 5 resets the peak RSS (VmHWM), so each input's peak is its own
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    t = os.times()  # every thread of this process (onnxruntime, libav and numpy run their own)
    return t.user + t.system


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise Hang()


def run_one(task: Task, scratch: Path, limit_s: float, independent: bool) -> dict[str, Any]:
    """Run *task* under the wall-time limit; the outcome as a small dict (sent back to the parent)."""
    in_path = scratch / f"input{task.suffix}"
    out_path = scratch / f"output{task.suffix}"
    in_path.write_bytes(task.data)
    _peak_reset()
    start = time.monotonic()
    cpu0 = _cpu()
    outcome: dict[str, Any]
    marked: bytes | None = None
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        try:
            marked = _run_entry(task, in_path, out_path)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        outcome = {"status": "ok"}
    except aigclabel.AigcLabelError as exc:
        outcome = {"status": "typed", "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}
    except Hang as exc:
        where = _frame_where(exc.__traceback__, with_line=False)
        cpu = _cpu() - cpu0
        outcome = {"status": "hang", "sig": f"hang over {limit_s:g} s in {where}", "tb": traceback.format_exc(),
                   "detail": f"stopped after {time.monotonic() - start:.2f} s ({cpu:.2f} s of CPU)", "cpu_s": cpu}
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - anything untyped is what we are looking for
        outcome = {"status": "untyped", "sig": signature(exc), "tb": traceback.format_exc(),
                   "detail": f"{type(exc).__name__}: {str(exc)[:300]}"}
    elapsed = time.monotonic() - start
    if outcome["status"] == "ok" and marked is not None:
        signal.setitimer(signal.ITIMER_REAL, limit_s * 2)  # the checks get their own bound
        try:
            try:
                bad = _check_output(task, in_path, out_path, marked, independent)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Hang as exc:
            where = _frame_where(exc.__traceback__, with_line=False)
            bad = {"status": "hang", "sig": f"hang over {limit_s:g} s verifying mark's output in {where}",
                   "tb": traceback.format_exc()}
        except BaseException as exc:  # noqa: BLE001
            bad = {"status": "untyped", "sig": signature(exc), "tb": traceback.format_exc(),
                   "detail": f"verifying mark's output: {type(exc).__name__}: {str(exc)[:300]}"}
        if bad is not None:
            outcome = bad
    outcome["elapsed"] = elapsed
    outcome["rss_mb"] = _peak_mb()
    return outcome


def serve(conn: Any, mem_cap: int, limit_s: float, independent: bool, scratch: str) -> None:
    """The worker loop: receive :class:`Task`, send back the outcome dict, until ``None`` arrives."""
    _die_with_parent()
    if mem_cap > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem_cap, mem_cap))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's "stop the run" handler
    warnings.simplefilter("ignore")  # Pillow and pypdf warn on every damaged file; the outcome is what counts
    path = Path(scratch)
    path.mkdir(parents=True, exist_ok=True)
    _warm_up()
    while True:
        task = conn.recv()
        if task is None:
            break
        conn.send(run_one(task, path, limit_s, independent))


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the parent dies (a killed run leaves no orphans)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _warm_up() -> None:
    """Load the OCR engine before the first input: a service loads it once, so its second of start-up is no
    input's fault (and the engine is made here, not in the parent, because onnxruntime's threads do not
    survive a fork)."""
    try:
        from aigclabel.explicit import ocr

        if ocr.available():
            ocr.engine()
    except Exception:  # noqa: BLE001 - without OCR the explicit rules report "not checked"; fuzzing goes on
        pass


def preload() -> None:
    """Import every handler and the heavy libraries once in the parent, so forked workers start warm."""
    from aigclabel import formats, platform, verifier  # noqa: F401

    formats.handlers()
    for name in ("aigclabel.marking", "aigclabel.explicit", "aigclabel.c2pa", "PIL.Image", "pillow_heif", "av",
                 "mutagen", "pypdf", "numpy"):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - an optional extra not installed: the worker imports lazily
            pass
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception:  # noqa: BLE001
        pass
