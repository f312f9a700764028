"""Reading sources and writing outputs safely.

* :func:`open_source` turns a path, ``bytes`` or a binary file object into a seekable
  :class:`CountingReader` that counts the bytes actually read (seeks are free), so the verifier
  can prove it reads "as little of a file as it can".
* :func:`atomic_output` writes to a temporary file beside the target and renames it into place,
  so an interrupted run never leaves a partial file and an existing file is never clobbered
  unless the caller asked for it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Union

from .errors import OutputError, SourceError

__all__ = ["SourceLike", "CountingReader", "open_source", "atomic_output", "describe_source"]

#: what the library accepts as input: a path, the bytes themselves, or a binary file object
SourceLike = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


class CountingReader:
    """A seekable binary reader that counts bytes read. Handlers read only through this."""

    def __init__(self, raw: BinaryIO, name: str, size: int) -> None:
        self._raw = raw
        self.name = name
        self.size = size
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.bytes_read += len(data)
        return data

    def read_exact(self, n: int, what: str) -> bytes:
        """Read exactly *n* bytes or raise :class:`~aigclabel.errors.CorruptFile` naming *what*."""
        from .errors import CorruptFile

        data = self.read(n)
        if len(data) != n:
            raise CorruptFile(f"truncated: file ends inside {what}")
        return data

    def read_at(self, offset: int, n: int) -> bytes:
        self.seek(offset)
        return self.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def copy_to(self, dst: BinaryIO, length: int | None = None, chunk: int = 1 << 20) -> int:
        """Copy *length* bytes (or the rest) from the current position to *dst*.

        File to file, the kernel copies (``os.sendfile``), as ``shutil.copyfile`` does: the payload
        never passes through Python.
        """
        if length is None:
            length = max(0, self.size - self.tell())
        fast = _sendfile(self._raw, dst, self.tell(), length)
        if fast is not None:
            self.seek(self.tell() + fast)
            self.bytes_read += fast
            return fast
        copied = 0
        while length is None or copied < length:
            want = chunk if length is None else min(chunk, length - copied)
            block = self.read(want)
            if not block:
                break
            dst.write(block)
            copied += len(block)
        return copied


def _sendfile(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> int | None:
    """Copy with ``os.sendfile`` when both ends are regular files; ``None`` when not possible."""
    if not hasattr(os, "sendfile") or length <= 0:
        return None
    try:
        in_fd, out_fd = src.fileno(), dst.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if not (stat.S_ISREG(os.fstat(in_fd).st_mode) and stat.S_ISREG(os.fstat(out_fd).st_mode)):
        return None
    dst.flush()
    out_start = dst.tell()
    os.lseek(out_fd, out_start, os.SEEK_SET)
    done = 0
    try:
        while done < length:
            sent = os.sendfile(out_fd, in_fd, offset + done, min(length - done, 1 << 30))
            if sent == 0:
                break
            done += sent
    except OSError:
        if done:
            raise
        return None  # e.g. a file system without sendfile support: fall back to read/write
    dst.seek(out_start + done)
    return done


def describe_source(source: SourceLike) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)  # type: ignore[return-value]
    return str(getattr(source, "name", "<stream>"))


@contextlib.contextmanager
def open_source(source: SourceLike) -> Iterator[CountingReader]:
    """Open *source* for reading as a :class:`CountingReader`; raise :class:`SourceError` if impossible."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        yield CountingReader(io.BytesIO(data), "<bytes>", len(data))
        return
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise SourceError(f"{path}: no such file") from None
        except OSError as exc:
            raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
        if stat.S_ISDIR(st.st_mode):
            raise SourceError(f"{path}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise SourceError(f"{path}: not a regular file")
        try:
            fh = open(path, "rb")
        except OSError as exc:
            raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
        with fh:
            yield CountingReader(fh, path, st.st_size)  # type: ignore[arg-type]
        return
    if hasattr(source, "read"):
        name = describe_source(source)
        probe = source.read(0)
        if not isinstance(probe, bytes):
            raise SourceError(f"{name}: not a binary stream (open the file with 'rb')")
        seekable = getattr(source, "seekable", lambda: False)()
        if seekable:
            start = source.tell()
            end = source.seek(0, os.SEEK_END)
            source.seek(start)
            # Handlers address the stream from offset 0, so present the remainder as its own stream.
            if start == 0:
                yield CountingReader(source, name, end)
                return
            data = source.read()
        else:
            data = source.read()
        yield CountingReader(io.BytesIO(data), name, len(data))
        return
    raise SourceError(f"unsupported source type {type(source).__name__}: give a path, bytes or a binary file")


@dataclass
class _Pending:
    fh: BinaryIO
    tmp: str


@contextlib.contextmanager
def atomic_output(destination: str | os.PathLike, *, overwrite: bool = False,
                  mode_from: str | None = None, durable: bool = False) -> Iterator[BinaryIO]:
    """Yield a file to write; on success it replaces *destination* atomically.

    The rename makes the result all-or-nothing against interruption. *durable* also fsyncs the
    data before the rename, so it survives a power loss; it costs about as much as the whole
    metadata write, so pipelines choose it.

    Without *overwrite*, an existing destination is an :class:`OutputError` — checked up front and
    again at the final link, so a file that appears meanwhile is not clobbered either.
    """
    dest = Path(destination)
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{dest}: output directory {parent} does not exist")
    if dest.is_dir():
        raise OutputError(f"{dest}: is a directory")
    if dest.exists() and not overwrite:
        raise OutputError(f"{dest}: already exists (use --force to overwrite)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".aigctmp", dir=parent)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write in {parent} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if mode_from is not None:
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(os.stat(mode_from).st_mode))
        else:
            # mkstemp creates 0600; give the new file the usual umask-based permissions.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: never clobber
            except FileExistsError:
                raise OutputError(f"{dest}: already exists (use --force to overwrite)") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                    raise
                if dest.exists():  # file system without hard links: best effort
                    raise OutputError(f"{dest}: already exists (use --force to overwrite)") from None
                os.replace(tmp, dest)
            else:
                os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
