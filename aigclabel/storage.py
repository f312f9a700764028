"""Files behind URLs: object storage (``s3://``) and anything else fsspec knows (``file://``, ``gs://`` ...).

Local paths never come here: they keep their fast path (``os.scandir``, ``open``, ``os.sendfile``).

* :func:`is_url` tells a URL from a path; :func:`configure` sets the fsspec storage options
  (``--storage-option k=v``) for this process -- a batch task carries them to its workers
  (:class:`StorageTask`).
* :func:`list_files` lists a prefix lazily: on S3 one ``ListObjectsV2`` page (1,000 keys) at a time,
  so a prefix of millions of objects never sits in memory; elsewhere one directory at a time.
* :func:`open_remote` gives a seekable binary file whose reads are *ranged requests* of
  :data:`BLOCK` bytes, so the handlers (through :class:`~aigclabel._io.CountingReader`) fetch only
  what they read -- a JPEG verify requests about what it reads locally, not the whole object.
* :func:`atomic_upload` writes an object all-or-nothing: on S3 the multipart upload is completed
  only when the block ends without an error (else aborted), so an interrupted write leaves no object.
* :class:`StorageTask` runs a batch task on a URL: read-only tasks read the object directly;
  tasks that write stage the file in a local scratch directory and upload the result atomically.

fsspec and its backends (s3fs) are the ``[cluster]`` extra; they are imported only when a URL is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from .errors import OutputError, SourceError

__all__ = ["is_url", "configure", "current_options", "parse_options", "list_files", "is_dir", "open_remote",
           "RemoteFile", "atomic_upload", "size_seen", "download", "exists", "url_join", "StorageTask", "BLOCK"]

#: bytes per ranged request: small enough that a metadata read fetches little more than it reads
BLOCK = 64 * 1024

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]+)://")
_options: dict[str, Any] = {}


def is_url(value: object) -> bool:
    """``scheme://...`` with a scheme of two characters or more (so ``C://`` stays a Windows path)."""
    return isinstance(value, str) and _SCHEME.match(value) is not None


def configure(options: dict[str, Any]) -> None:
    """Set the fsspec storage options of this process (credentials come from the backend's usual chain)."""
    _options.clear()
    _options.update(options)


def current_options() -> dict[str, Any]:
    """The fsspec storage options set by :func:`configure` (a copy)."""
    return dict(_options)


def parse_options(pairs: Iterable[str]) -> dict[str, Any]:
    """``k=v`` pairs to fsspec options: ``a.b=v`` nests (``client_kwargs.region_name=...``); ``true``/
    ``false``/integers become booleans/integers, since backends expect typed options."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r}: expected KEY=VALUE")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif re.fullmatch(r"-?[0-9]+", raw):
            value = int(raw)
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{pair!r}: {part} is both a value and a group")
        node[leaf] = value
    return out


def _fs(url: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs  # type: ignore[import-untyped]
    except ImportError:
        raise SourceError(f"{url}: URLs need fsspec: pip install 'aigclabel[cluster]'") from None
    try:
        return url_to_fs(url, **_options)
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its backend not installed
        raise SourceError(f"{url}: {exc}") from None


def _url(fs: Any, path: str) -> str:
    return str(fs.unstrip_protocol(path))


def exists(url: str) -> bool:
    fs, path = _fs(url)
    return bool(fs.exists(path))


def is_dir(url: str) -> bool:
    """A URL ending in "/" is a prefix; otherwise ask the file system whether objects live under it.

    Only file systems with a real listing are asked (object stores, local files): on others (http)
    "is it a directory" means fetching the resource itself, which an input file must never cost.
    """
    if url.endswith("/"):
        return True
    fs, path = _fs(url)
    if not set(_protocols(fs)) & _LISTABLE:
        return False
    try:
        return bool(fs.isdir(path))
    except Exception:  # noqa: BLE001 - backends raise their own errors; reading the file will say what is wrong
        return False


#: protocols whose isdir() is one cheap listing request
_LISTABLE = {"s3", "s3a", "gs", "gcs", "abfs", "az", "adl", "oss", "file", "local", "memory", "hdfs", "webhdfs"}


def url_join(base: str, relative: str) -> str:
    return base.rstrip("/") + "/" + relative.lstrip("/")


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def list_files(url: str, *, recursive: bool = False, include_hidden: bool = False) -> Iterator[str]:
    """The file URLs under *url* (a prefix/directory), lazily, in key order; :class:`SourceError` if unlistable.

    Names starting with "." (at any level below *url*) are skipped unless *include_hidden*;
    without *recursive* only the top level is listed.
    """
    fs, path = _fs(url)
    root = path.rstrip("/")
    try:
        if "s3" in _protocols(fs):
            yield from _list_s3(fs, root, recursive, include_hidden)
            return
        for top, dirs, files in fs.walk(root, maxdepth=None if recursive else 1, detail=False):
            dirs.sort()
            if not include_hidden:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in sorted(files):
                if include_hidden or not name.startswith("."):
                    yield _url(fs, f"{top.rstrip('/')}/{name}")
    except (OSError, ValueError) as exc:
        raise SourceError(f"{url}: cannot list ({exc})") from None


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _list_s3(fs: Any, root: str, recursive: bool, include_hidden: bool) -> Iterator[str]:
    # ListObjectsV2 page by page through s3fs's own client (its credentials, endpoint and retries):
    # fs.find()/walk() would gather the whole prefix first.
    bucket, _, key = root.partition("/")
    prefix = key + "/" if key else ""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
    if not recursive:
        kwargs["Delimiter"] = "/"
    while True:
        page = fs.call_s3("list_objects_v2", **kwargs)
        for obj in page.get("Contents", ()):
            relative = obj["Key"][len(prefix):]
            if not relative or relative.endswith("/"):  # the prefix itself, or a "directory" marker
                continue
            if include_hidden or not _hidden(relative):
                yield f"s3://{bucket}/{obj['Key']}"
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return
        kwargs["ContinuationToken"] = token


class RemoteFile:
    """A read-only seekable binary file over an fsspec file, named by its URL (the name reports show)."""

    def __init__(self, raw: Any, name: str, size: int) -> None:
        self._raw = raw
        self.name = name
        self.size = size

    def read(self, n: int = -1) -> bytes:
        return bytes(self._raw.read(n))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._raw.seek(offset, whence))

    def tell(self) -> int:
        return int(self._raw.tell())

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


@contextlib.contextmanager
def open_remote(url: str, *, block_size: int = BLOCK) -> Iterator[RemoteFile]:
    """Open the object at *url* for ranged reading; :class:`SourceError` when it is missing or a prefix."""
    fs, path = _fs(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise SourceError(f"{url}: no such file") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"{url}: cannot read ({exc})") from None
    if info.get("type") == "directory":
        raise SourceError(f"{url}: is a directory")
    _remember_size(url, info.get("size"))
    try:
        # blockcache: aligned blocks, kept for seeks back (a reader that checks the trailer then the header)
        raw = fs.open(path, "rb", block_size=block_size, cache_type="blockcache", size=info.get("size"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{url}: cannot read ({exc})") from None
    with contextlib.closing(RemoteFile(raw, url, int(info.get("size") or 0))) as fh:
        yield fh


#: object sizes seen by open_remote, until the batch takes them (results carry each file's size without
#: another request per object); a few entries at a time, since each is taken as its file finishes
_sizes: dict[str, int] = {}


def _remember_size(url: str, size: Any) -> None:
    if len(_sizes) > 1024:  # sizes of objects a task opened besides its input (an --original): never taken
        _sizes.clear()
    if isinstance(size, int):
        _sizes[url] = size


def size_seen(url: str) -> int | None:
    """The size of the object at *url* if this process opened it since the last call (and forget it)."""
    return _sizes.pop(url, None)


def download(url: str, local: str) -> str:
    """Copy the object at *url* to the local path *local* (for tasks that rewrite a file)."""
    with open_remote(url, block_size=8 << 20) as src, open(local, "wb") as dst:
        import shutil  # here: only a download needs it (and it imports zlib, bz2 and lzma)

        shutil.copyfileobj(src, dst, 1 << 20)  # type: ignore[misc]
    return local


@contextlib.contextmanager
def atomic_upload(url: str, *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Yield a file to write; the object appears at *url* only if the block completes.

    fsspec's non-autocommit mode: S3 parts are uploaded as the buffer fills and the multipart upload
    is completed by ``commit()`` (aborted by ``discard()``); local files go to a temporary name that
    ``commit()`` moves into place.
    """
    fs, path = _fs(url)
    if not overwrite and fs.exists(path):
        raise OutputError(f"{url}: already exists (use --force to overwrite)")
    try:
        fs.makedirs(fs._parent(path), exist_ok=True)
        fh = fs.open(path, "wb", autocommit=False)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{url}: cannot write ({exc})") from None
    try:
        yield fh
        fh.close()
    except BaseException:
        with contextlib.suppress(Exception):
            fh.discard()
        raise
    try:
        fh.commit()
    except (OSError, ValueError) as exc:
        with contextlib.suppress(Exception):
            fh.discard()
        raise OutputError(f"{url}: upload failed ({exc})") from None


def upload(local: str, url: str, *, overwrite: bool = False) -> None:
    with open(local, "rb") as src, atomic_upload(url, overwrite=overwrite) as dst:
        import shutil

        shutil.copyfileobj(src, dst, 8 << 20)


# ------------------------------------------------------------------------------------------ batch tasks

#: keyword arguments of the batch tasks (review_task, mark_task, carry_task) that name outputs
_OUTPUT_KEYS = ("output", "out_dir")


def _destination(path: str, keywords: dict[str, Any]) -> str | None:
    from .batch import output_for

    if keywords.get("out_dir") is not None:
        return output_for(path, keywords["out_dir"], keywords.get("roots", ()))
    return keywords.get("output")


def _rename(value: Any, names: dict[str, str]) -> Any:
    """*value* (a result dataclass) with local stand-in paths replaced by the URLs they stand for."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    changes = {f.name: names[v] for f in dataclasses.fields(value)
               if isinstance(v := getattr(value, f.name), str) and v in names}
    if hasattr(value, "notes") and isinstance(value.notes, list):
        value.notes[:] = [_replace_all(n, names) if isinstance(n, str) else n for n in value.notes]
    return dataclasses.replace(value, **changes) if changes else value


def _replace_all(text: str, names: dict[str, str]) -> str:
    for local, url in names.items():
        text = text.replace(local, url)
    return text


class StorageTask:
    """A batch task that also works on URLs; picklable, so it travels to pool and Dask workers.

    Local paths go straight to *task*. A URL source of a read-only task (verify, a review that
    writes nothing) is read in place with ranged requests. A task that writes (an output, ``-o``
    under a URL, or in place) runs on a local copy in a scratch directory; its output is then
    uploaded atomically, and the result names the URLs, not the scratch files.
    """

    # a plain class, not a dataclass: it is built on the start-up path of every command, where a frozen
    # dataclass costs ~1 ms to create at import (issue 15)
    __slots__ = ("task", "options")

    def __init__(self, task: Callable[[Any], Any], options: dict[str, Any]) -> None:
        self.task = task
        self.options = options

    def __repr__(self) -> str:
        return f"StorageTask({self.task!r}, {self.options!r})"

    def __call__(self, path: str) -> Any:
        configure(self.options)
        keywords = dict(getattr(self.task, "keywords", {}) or {})
        urls = is_url(path) or any(is_url(keywords.get(k)) for k in (*_OUTPUT_KEYS, "original"))
        if not urls:
            return self.task(path)
        in_place = bool(keywords.get("write") or keywords.get("in_place"))
        destination = _destination(path, keywords)
        if destination is None and not in_place and not is_url(keywords.get("original")):
            with open_remote(path) as fh:
                return self.task(fh)
        return self._staged(path, keywords, destination, in_place)

    def _staged(self, path: str, keywords: dict[str, Any], destination: str | None, in_place: bool) -> Any:
        from ._io import temp_directory

        func = getattr(self.task, "func", self.task)
        args = tuple(getattr(self.task, "args", ()))
        with temp_directory("stage") as tmp:
            names: dict[str, str] = {}
            local_src = path
            if is_url(path):
                local_src = download(path, os.path.join(tmp, "src-" + _base(path)))
                names[local_src] = path
            if is_url(keywords.get("original")):
                keywords["original"] = download(keywords["original"], os.path.join(tmp, "orig-" + _base(
                    keywords["original"])))
            local_out = destination
            overwrite = bool(keywords.get("overwrite"))
            if destination is not None and is_url(destination):
                if not overwrite and exists(destination):
                    raise OutputError(f"{destination}: already exists (use --force to overwrite)")
                local_out = os.path.join(tmp, "out-" + _base(destination))
                names[local_out] = destination
            elif destination is not None:
                parent = os.path.dirname(destination)
                if parent:
                    os.makedirs(parent, exist_ok=True)
            keywords.update(out_dir=None, output=local_out)
            before = _stamp(local_src)
            result = func(local_src, *args, **keywords)
            if local_out is not None and local_out != destination and os.path.exists(local_out):
                upload(local_out, destination, overwrite=True)  # type: ignore[arg-type]  # set with local_out
            elif in_place and local_src != path and _stamp(local_src) != before:
                upload(local_src, path, overwrite=True)
            return _rename(result, names)


def _base(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] or "file"


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def wrap(task: Callable[[Any], Any], options: dict[str, Any]) -> Callable[[Any], Any]:
    """*task* made URL-aware (see :class:`StorageTask`)."""
    return StorageTask(task, dict(options))

