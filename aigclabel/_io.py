"""Reading sources and writing outputs safely.

* :func:`open_source` turns a path, ``bytes`` or a binary file object into a seekable
  :class:`CountingReader` that counts the bytes actually read (seeks are free), so the verifier
  can prove it reads "as little of a file as it can".
* :func:`atomic_output` writes to a temporary file beside the target and renames it into place,
  so an interrupted run never leaves a partial file and an existing file is never clobbered
  unless the caller asked for it.
* :func:`aigclabel_tempdir` / :func:`temp_directory` make scratch directories whose names say they
  are ours and which process made them (``aigclabel-<kind>-<pid>-XXXXXXXX``), so ``aigclabel clean``
  can find what a killed run left behind and never touch anything else.

Every temporary name we create matches one of :func:`temp_patterns`:

* ``.NAME.p<pid>.XXXXXXXX.aigctmp`` -- a file :func:`atomic_output` is writing beside its target
  (``.NAME.XXXXXXXX.aigctmp`` from older versions, without the pid);
* ``aigclabel-<kind>-<pid>-XXXXXXXX[.ext]`` -- a scratch directory or file (uploads of the service);
* ``aigclabel-video-XXXXXXXX`` -- video scratch directories of older versions.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import re
import stat
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Union

from .errors import OutputError, SourceError
from .limits import current as current_limits

__all__ = ["SourceLike", "CountingReader", "open_source", "atomic_output", "describe_source", "spool", "COPY_ALIGN",
           "buffered", "aigclabel_tempdir", "aigclabel_tempfile", "temp_directory", "temp_patterns", "temp_owner"]

#: what the library accepts as input: a path, the bytes themselves, or a binary file object
SourceLike = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


class CountingReader:
    """A seekable binary reader that counts bytes read. Handlers read only through this."""

    def __init__(self, raw: BinaryIO, name: str, size: int) -> None:
        self._raw = raw
        self.name = name
        self.size = size
        self.bytes_read = 0
        self._pread_fd: int | None = None

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.bytes_read += len(data)
        if self.bytes_read > _max_bytes_read():
            from .errors import LimitExceeded

            raise LimitExceeded("max_bytes_read", f"{self.name}: reading stopped after {self.bytes_read:,} bytes")
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

    def pread(self, offset: int, n: int) -> bytes:
        """*n* bytes at *offset* (fewer at the end), counted like :meth:`read`; the position afterwards is
        unspecified.  From a file, one ``pread``: a walker that hops over hundreds of chunks (PNG IDAT) pays a
        seek, a refill of the read buffer and its copy per hop through :meth:`read_at`."""
        fd = self._pread_fd
        if fd is None:
            fd = self._pread_fd = self._fd()
        if fd < 0:
            return self.read_at(offset, n)
        try:
            data = os.pread(fd, n, offset)
        except OSError:  # a descriptor without positional reads (ESPIPE...): the plain way from now on
            self._pread_fd = -1
            return self.read_at(offset, n)
        self.bytes_read += len(data)
        if self.bytes_read > _max_bytes_read():
            from .errors import LimitExceeded

            raise LimitExceeded("max_bytes_read", f"{self.name}: reading stopped after {self.bytes_read:,} bytes")
        return data

    def _fd(self) -> int:
        """The descriptor to ``pread`` from (-1: none): a plain or buffered file, flushed once (a read-back of
        an output; nothing writes through a reader)."""
        raw = self._raw
        if not isinstance(raw, (io.FileIO, io.BufferedReader, io.BufferedRandom)):
            return -1
        try:
            if isinstance(raw, io.BufferedRandom):
                raw.flush()
            return raw.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation is both: a buffer over a stream of no file
            return -1

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


#: a kernel copy whose source and destination offsets differ by a multiple of this runs at a plain copy's speed;
#: other shifts (an inserted metadata record of any length) measured 1.5-2.2x slower on x86-64 Linux, so writers
#: pad what they insert (XMP whitespace, a ``free`` box) to keep the payload's shift a multiple of it
COPY_ALIGN = 64


#: a whole new file an explicit step writes is kept in memory up to this size, in a temporary file beyond it
SPOOL_MAX = 32 << 20


def spool(expected: int) -> BinaryIO:
    """Where a step writes a new whole file of about *expected* bytes: memory when small, else an anonymous
    temporary file (gone when closed or when the process ends), so long media never sit in memory whole and
    the next step still copies them with the kernel."""
    if expected <= SPOOL_MAX:
        return io.BytesIO()
    import tempfile  # not at module level: a verify never spools, and start-up pays for every import

    return tempfile.TemporaryFile(prefix=_temp_prefix("spool"))  # unnamed (O_TMPFILE) or unlinked at once


class _RawView(io.RawIOBase):
    """A :class:`CountingReader` as a raw stream with its own position (what :func:`buffered` wraps)."""

    def __init__(self, src: CountingReader) -> None:
        self._src, self._pos = src, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._src.size}[whence]
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buf: Any) -> int:
        data = self._src.read_at(self._pos, len(buf))
        buf[:len(data)] = data
        self._pos += len(data)
        return len(data)


def buffered(src: CountingReader, size: int = 1 << 13) -> BinaryIO:
    """*src* behind a read buffer, for a parser that reads a byte at a time (pypdf): each small read is then a
    slice of the buffer instead of a system call, and *src* counts (and limits) the blocks really read."""
    return io.BufferedReader(_RawView(src), buffer_size=size)  # type: ignore[return-value]


def _max_bytes_read() -> int:
    return current_limits().max_bytes_read


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
    if out_start != offset and length >= _MAPPED_MIN:
        done = _mapped_copy(in_fd, out_fd, offset, length)
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


#: shifted copies at least this long go through :func:`_mapped_copy`
_MAPPED_MIN = 1 << 20
#: bytes of the source mapped at a time (the mapping's resident pages stay bounded by this)
_MAPPED_WINDOW = 2 << 20


def _mapped_copy(in_fd: int, out_fd: int, offset: int, length: int) -> int:
    """Copy from a read-only mapping of the source, a window at a time; returns the bytes copied, the output's
    position just past them (whatever fails - no mmap, a source truncated meanwhile - leaves the rest to sendfile).

    ``sendfile`` runs at a plain copy's speed only when the bytes keep their offset; moved by an inserted record
    it measured 1.3-1.4x slower (12 MP JPEG, 24 MB PNG, 200 MB MP4), ``write`` from a pre-faulted mapping
    ~1.05x.  The mapping is only ever read by the kernel (``write``), never by Python: a source truncated
    meanwhile gives a short or failed write (EFAULT), not a SIGBUS.
    """
    import mmap

    done = 0
    with contextlib.suppress(OSError, ValueError, OverflowError):
        end = min(offset + length, os.fstat(in_fd).st_size)
        while offset + done < end:
            pos = offset + done
            base = pos - pos % mmap.ALLOCATIONGRANULARITY
            view = mmap.mmap(in_fd, min(_MAPPED_WINDOW, end - base), prot=mmap.PROT_READ, offset=base,
                             flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0))
            try:
                with memoryview(view) as whole, whole[pos - base:] as piece:
                    written = 0
                    while written < len(piece):
                        n = os.write(out_fd, piece[written:])
                        written += n
                        done += n
            finally:
                view.close()
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
    import tempfile  # see spool

    try:
        # the pid in the name lets `aigclabel clean` tell a live write from one a SIGKILL left behind
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.p{os.getpid()}.", suffix=".aigctmp", dir=parent)
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


# ----------------------------------------------------------------------------------- temporary names

_KIND = re.compile(r"[a-z][a-z0-9]{0,15}")
#: mkstemp/mkdtemp's random part: 8 characters of this alphabet
_RANDOM = r"[a-z0-9_]{8}"

@functools.cache
def temp_patterns() -> tuple[re.Pattern[str], ...]:
    """Every name of a temporary file or directory aigclabel creates; group ``pid`` when the name has it.

    Compiled on first use: only ``clean`` asks, and compiling them cost every command ~1 ms at start-up
    (issue 15)."""
    return (
        re.compile(rf"\..+\.p(?P<pid>[0-9]+)\.{_RANDOM}\.aigctmp"),
        re.compile(rf"\..+\.{_RANDOM}\.aigctmp"),
        re.compile(rf"aigclabel-[a-z][a-z0-9]{{0,15}}-(?P<pid>[0-9]+)-{_RANDOM}(\.[A-Za-z0-9]{{1,10}})?"),
        re.compile(rf"aigclabel-video-{_RANDOM}"),
    )


def temp_owner(name: str) -> tuple[bool, int | None]:
    """(is *name* one of our temporary names, the pid that made it if the name says)."""
    for pattern in temp_patterns():
        match = pattern.fullmatch(name)
        if match:
            pid = match.groupdict().get("pid")
            return True, int(pid) if pid else None
    return False, None


def _temp_prefix(kind: str) -> str:
    if not _KIND.fullmatch(kind):
        raise ValueError(f"temporary kind {kind!r} must be a short lower-case word")
    return f"aigclabel-{kind}-{os.getpid()}-"


def aigclabel_tempdir(kind: str, dir: str | os.PathLike[str] | None = None) -> str:
    """A new private directory ``aigclabel-<kind>-<pid>-XXXXXXXX`` (in *dir* or the system temp dir).

    The caller removes it; if the process is killed first, ``aigclabel clean`` recognises it.
    """
    import tempfile

    return tempfile.mkdtemp(prefix=_temp_prefix(kind), dir=dir)


def aigclabel_tempfile(kind: str, suffix: str = "", dir: str | os.PathLike[str] | None = None) -> tuple[int, str]:
    """A new private file ``aigclabel-<kind>-<pid>-XXXXXXXX<suffix>``: (open fd, path), like ``mkstemp``."""
    import tempfile

    return tempfile.mkstemp(prefix=_temp_prefix(kind), suffix=suffix, dir=dir)


@contextlib.contextmanager
def temp_directory(kind: str, dir: str | os.PathLike[str] | None = None) -> Iterator[str]:
    """:func:`aigclabel_tempdir` removed when the block ends (also on SIGTERM: the CLI turns it into an exception)."""
    path = aigclabel_tempdir(kind, dir)
    try:
        yield path
    finally:
        import shutil

        shutil.rmtree(path, ignore_errors=True)
