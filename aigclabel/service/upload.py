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
* garbage multipart is a 400.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from .._io import aigclabel_tempfile
from . import ServiceConfig
from .errors import HttpError

__all__ = ["Scratch", "Upload", "receive", "FORM_OVERHEAD"]

_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
_MAX_FIELDS = 32
_MAX_FIELD_BYTES = 16 * 1024
#: bytes a multipart form may carry on top of its file (boundaries, part headers, the small fields)
FORM_OVERHEAD = 64 * 1024


class Scratch:
    """The temporary files of one request, removed when the last user releases them.

    Plain files (``mkstemp``) rather than a directory per request: creating and removing a directory
    costs milliseconds on some file systems, a file a fraction of that.
    """

    def __init__(self, root: str | None) -> None:
        self.root = root  # None: the system temporary directory
        self.paths: list[str] = []
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
        return path

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._users == 0
        if last:
            for path in self.paths:
                with contextlib.suppress(OSError):
                    os.unlink(path)
                # a writer stopped mid-write (its worker killed) leaves atomic_output's temp file beside it
                for tmp in glob.glob(glob.escape(os.path.join(os.path.dirname(path), "." + os.path.basename(path)))
                                     + ".p*.aigctmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            self.paths.clear()


@dataclass
class Upload:
    path: str
    name: str  # what the client called it (display only), or "upload"
    fields: dict[str, str] = field(default_factory=dict)


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


async def receive(request: Request, scratch: Scratch, cfg: ServiceConfig) -> Upload:
    limit = cfg.max_upload_bytes
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise HttpError(400, "bad-request", "Content-Length is not a number") from None
        allowed = limit + FORM_OVERHEAD if ctype == b"multipart/form-data" else limit
        if declared > allowed or declared < 0:
            raise HttpError(413, "too-large", f"the upload is {declared} bytes, over the limit of {limit} bytes")
    try:
        with anyio.fail_after(cfg.upload_timeout_s):
            if ctype == b"multipart/form-data":
                return await _receive_form(request, scratch, limit, options.get(b"boundary", b""))
            if ctype == b"application/x-www-form-urlencoded":
                raise HttpError(415, "unsupported-media-type", "send the file as multipart/form-data (field 'file') "
                                "or as a raw application/octet-stream body")
            return await _receive_raw(request, scratch, limit)
    except TimeoutError:
        raise HttpError(408, "timeout", f"the upload took longer than {cfg.upload_timeout_s:g} s") from None
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
