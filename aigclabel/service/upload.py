"""Receiving an upload: the body streamed to a private temporary file, never held whole in memory.

* a multipart form's ``file`` part, or a raw body, goes to ``aigclabel-upload-<pid>-XXXXXXXX[.ext]``
  under ``tmp_dir`` (the client's extension kept when it is a plain one, so no client path ever
  reaches the file system);
* **one size limit** for every body form: the *file's* bytes.  A raw body of exactly the limit is
  accepted and one byte more is not; a form whose ``file`` part is exactly the limit is accepted too
  (the form's own bytes -- boundaries, part headers, small fields -- are allowed on top, up to
  :data:`FORM_OVERHEAD`).  A ``Content-Length`` that is over is refused with 413 before a byte is
  read; a body that grows over it while streaming is cut off with 413;
* the whole body must arrive within ``upload_timeout_s`` (408), so a slow client cannot hold a
  request open;
* garbage multipart is a 400;
* a raw body that declares a ``Content-Length`` of at most ``memory_upload_bytes`` is kept in memory instead
  (:class:`MemoryBudget`: at most ``memory_uploads_total`` bytes so held across all requests, the rest goes to
  disk) and handed to the worker as bytes: for a 50 KB photo, creating, writing and removing a file in the
  front end and opening it again in the worker cost more than reading its label.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from .._io import aigclabel_tempfile
from . import ServiceConfig
from .errors import HttpError
from .pool import deadline_scope

__all__ = ["Scratch", "Upload", "MemoryBudget", "receive", "FORM_OVERHEAD"]

_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
_MAX_FIELDS = 32
_MAX_FIELD_BYTES = 16 * 1024
#: bytes a multipart form may carry on top of its file (boundaries, part headers, the small fields)
FORM_OVERHEAD = 64 * 1024


class MemoryBudget:
    """Bytes of upload bodies held in memory at once, across the requests of one server process."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self._lock = threading.Lock()  # released from the thread pool too (a response's background task)

    def take(self, n: int) -> bool:
        with self._lock:
            if self.held + n > self.total:
                return False
            self.held += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.held -= n


class Scratch:
    """The temporary files of one request, removed when the last user releases them.

    Plain files (``mkstemp``) rather than a directory per request: creating and removing a directory
    costs milliseconds on some file systems, a file a fraction of that.
    """

    def __init__(self, root: str | None) -> None:
        self.root = root  # None: the system temporary directory
        self.paths: list[str] = []
        self.outputs: list[str] = []  # the reserved paths: a writer may leave its temp file beside one
        self._held: tuple[MemoryBudget, int] | None = None  # a body kept in memory: given back on release
        self._users = 1
        self._lock = threading.Lock()

    def create(self, suffix: str) -> tuple[Any, str]:
        """A new private file (0600, unique name): its binary handle and path."""
        fd, path = aigclabel_tempfile("upload", suffix, self.root)
        self.paths.append(path)
        return os.fdopen(fd, "wb"), path

    def reserve(self, path: str) -> str:
        """A path a writer will create (removed with the rest)."""
        self.paths.append(path)
        self.outputs.append(path)
        return path

    def hold(self, budget: MemoryBudget, n: int) -> bool:
        """Take *n* bytes of *budget* for a body kept in memory until :meth:`release`; False if it has none."""
        if not budget.take(n):
            return False
        self._held = (budget, n)
        return True

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            if self._held is not None:
                self._held[0].give(self._held[1])
                self._held = None
            for path in self.paths:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            # A writer stopped mid-write (its worker killed) leaves atomic_output's temp file beside its output.
            # Only outputs can have one: globbing beside every upload listed the whole (shared) temporary
            # directory per request, two thirds of the front end's time on small files.
            for path in self.outputs:
                for tmp in glob.glob(glob.escape(os.path.join(os.path.dirname(path), "." + os.path.basename(path)))
                                     + ".p*.aigctmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            self.paths.clear()
            self.outputs.clear()


@dataclass
class Upload:
    """An uploaded body: its scratch file or bytes, the client's name for it, and the form fields."""
    path: str | None  # the scratch file, or None when the body is kept in memory (``data``)
    name: str  # what the client called it (display only), or "upload"
    fields: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None

    def source(self) -> dict[str, Any]:
        """The job's arguments naming the file: its path, or its bytes and name."""
        return {"path": self.path} if self.data is None else {"data": self.data, "name": self.name}

    def on_disk(self) -> str:
        """The scratch file (for a job that needs a path beside which it writes)."""
        assert self.path is not None, "received with in_memory=False"
        return self.path


def _display_name(filename: str | None) -> tuple[str, str]:
    """(a name to show, a safe suffix): the base name without controls; the extension if plain."""
    if not filename:
        return "upload", ""
    base = re.split(r"[\\/]", filename)[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:255] or "upload"
    suffix = os.path.splitext(base)[1]
    return base, suffix if _SAFE_SUFFIX.fullmatch(suffix) else ""


class _FormSink:
    """Callbacks for python-multipart's streaming parser: the ``file`` part to disk, small fields kept."""

    def __init__(self, scratch: Scratch, limit: int) -> None:
        self.scratch, self.limit = scratch, limit
        self.fields: dict[str, str] = {}
        self.file_path: str | None = None
        self.file_name = "upload"
        self._fh: Any = None
        self._size = 0
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._part: str | None = None
        self._buf = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end}

    def part_begin(self) -> None:
        self._headers, self._hname, self._hvalue, self._part, self._buf = {}, b"", b"", None, bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def header_end(self) -> None:
        self._headers[self._hname.strip().lower()] = self._hvalue.strip()
        self._hname, self._hvalue = b"", b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name == "file":
            if self.file_path is not None:
                raise HttpError(400, "bad-request", "more than one 'file' part; send one file per request")
            raw_name = options.get(b"filename")
            self.file_name, suffix = _display_name(raw_name.decode("utf-8", "replace") if raw_name else None)
            self._fh, self.file_path = self.scratch.create(suffix)
            self._part = "file"
        else:
            if len(self.fields) >= _MAX_FIELDS:
                raise HttpError(400, "bad-request", f"more than {_MAX_FIELDS} form fields")
            self._part = name

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            self._size += end - start
            if self._size > self.limit:
                raise HttpError(413, "too-large", f"the file is larger than the limit of {self.limit} bytes")
            self._fh.write(data[start:end])
        elif self._part is not None:
            self._buf += data[start:end]
            if len(self._buf) > _MAX_FIELD_BYTES:
                raise HttpError(400, "bad-request",
                                f"form field {self._part!r} is longer than {_MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self._part == "file":
            self._fh.close()
            self._fh = None
        elif self._part:
            self.fields[self._part] = self._buf.decode("utf-8", "replace")
        self._part = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


async def receive(request: Request, scratch: Scratch, cfg: ServiceConfig,
                  budget: MemoryBudget | None = None) -> Upload:
    """The request's file; with *budget*, a small raw body with a ``Content-Length`` stays in memory."""
    limit = cfg.max_upload_bytes
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    length = request.headers.get("content-length")
    declared: int | None = None
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise HttpError(400, "bad-request", "Content-Length is not a number") from None
        allowed = limit + FORM_OVERHEAD if ctype == b"multipart/form-data" else limit
        if declared > allowed or declared < 0:
            raise HttpError(413, "too-large", f"the upload is {declared} bytes, over the limit of {limit} bytes")
    try:
        with deadline_scope(cfg.upload_timeout_s):  # a bare scope: fail_after's wrapper costs a small request much
            if ctype == b"multipart/form-data":
                return await _receive_form(request, scratch, limit, options.get(b"boundary", b""))
            if ctype == b"application/x-www-form-urlencoded":
                raise HttpError(415, "unsupported-media-type", "send the file as multipart/form-data (field 'file') "
                                "or as a raw application/octet-stream body")
            if (budget is not None and declared is not None and 0 < declared <= cfg.memory_upload_bytes
                    and scratch.hold(budget, declared)):
                return await _receive_raw_in_memory(request, limit)
            return await _receive_raw(request, scratch, limit)
        raise HttpError(408, "timeout", f"the upload took longer than {cfg.upload_timeout_s:g} s")
    except ClientDisconnect:
        raise HttpError(400, "client-closed", "the client closed the connection during the upload") from None
    except OSError as exc:  # the server's disk (full, read-only): not the client's fault, and passing
        raise HttpError(503, "server-storage", f"the upload could not be stored ({exc.strerror or exc}); "
                        "try again later", retry_after=30) from None


async def _receive_raw(request: Request, scratch: Scratch, limit: int) -> Upload:
    name, suffix = _display_name(request.query_params.get("filename"))
    fh, path = scratch.create(suffix)
    size = 0
    with fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, "too-large", f"the upload is larger than the limit of {limit} bytes")
            fh.write(chunk)
    if size == 0:
        raise HttpError(400, "bad-request", "empty body: send the file as the body or as the form field 'file'")
    return Upload(path, name)


async def _receive_raw_in_memory(request: Request, limit: int) -> Upload:
    name, _suffix = _display_name(request.query_params.get("filename"))
    chunks = []
    size = 0
    more = True
    while more:  # the ASGI messages read directly: Starlette's stream() adds a generator per chunk
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:  # the server checks the body against its Content-Length; the limit is ours to keep
            raise HttpError(413, "too-large", f"the upload is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    if size == 0:
        raise HttpError(400, "bad-request", "empty body: send the file as the body or as the form field 'file'")
    return Upload(None, name, data=b"".join(chunks))


async def _receive_form(request: Request, scratch: Scratch, limit: int, boundary: bytes) -> Upload:
    from python_multipart.exceptions import MultipartParseError

    if not boundary:
        raise HttpError(400, "bad-request", "multipart/form-data without a boundary")
    sink = _FormSink(scratch, limit)
    total = 0
    try:
        parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit + FORM_OVERHEAD:  # the form's own bytes on top of the file
                raise HttpError(413, "too-large", f"the upload is larger than the limit of {limit} bytes")
            parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError) as exc:  # ValueError: e.g. a boundary over 70 bytes
        raise HttpError(400, "bad-request", f"malformed multipart body ({exc})") from None
    finally:
        sink.close()
    if sink.file_path is None:
        raise HttpError(400, "bad-request", "no 'file' field in the form")
    if os.path.getsize(sink.file_path) == 0:
        raise HttpError(400, "bad-request", "the uploaded file is empty")
    return Upload(sink.file_path, sink.file_name, sink.fields)
