"""Batch results as a Parquet dataset (``--results DIR|URL --results-format parquet``), and reading one back.

The dataset is Hive-partitioned by the day a result was written (UTC) and by its verdict::

    DIR/date=2025-09-01/verdict=noncompliant/part-<run>-<n>.parquet

so an archive scan is queryable by any Parquet reader (pyarrow, DuckDB, Spark, Athena) without
reading the rest.  One row per file: path, size, format, verdict (in the partition), outcome, tier
and notice (review), the seven record fields as columns, the findings as a list of structs, the
error if any, and the seconds the file took.

Written incrementally, so a run over ten million files holds at most one row group per partition:

* rows are buffered per partition and written as a row group every :data:`ROWS_PER_GROUP` rows;
* a part file is closed after :data:`GROUPS_PER_FILE` row groups and a new one started, so a killed
  run keeps all but its open part files;
* a part file appears only when complete (a hidden ``.NAME...aigctmp`` name renamed into place, or an
  S3 multipart upload completed on close), so a reader never sees a file without its footer.

:func:`load_done` reads the paths a dataset holds without an error, for ``--skip-done``.

Needs pyarrow (the ``[cluster]`` extra); imported only when Parquet results are asked for.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import uuid
from typing import Any, Iterator

from . import storage
from .errors import OutputError

__all__ = ["ParquetResults", "JsonlResults", "read_rows", "row_for", "load_done", "is_dataset", "RECORD_FIELDS",
           "ROWS_PER_GROUP", "GROUPS_PER_FILE"]

#: rows per row group (per partition) ...
ROWS_PER_GROUP = 10_000
#: ... and row groups per part file
GROUPS_PER_FILE = 10

#: the Annex E record fields, one column each
RECORD_FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
                 "ReservedCode2")
_FINDING_KEYS = ("rule", "level", "clause", "message", "location", "expected", "actual")
#: partition columns: in the directory names, not in the files
PARTITIONS = ("date", "verdict")


def _pyarrow() -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: F401 - the submodule writes
    except ImportError:
        raise OutputError("--results-format parquet needs pyarrow: pip install 'aigclabel[cluster]'") from None
    return pyarrow


def schema() -> Any:
    pa = _pyarrow()
    finding = pa.struct([(k, pa.string()) for k in _FINDING_KEYS])
    return pa.schema([
        ("path", pa.string()), ("size", pa.int64()), ("command", pa.string()), ("format", pa.string()),
        ("profile", pa.string()), ("outcome", pa.string()), ("tier", pa.int8()), ("notice", pa.string()),
        ("destination", pa.string()), ("records", pa.int32()),
        *((name, pa.string()) for name in RECORD_FIELDS),
        ("findings", pa.list_(finding)),
        ("error_kind", pa.string()), ("error_message", pa.string()), ("seconds", pa.float64()),
    ])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def row_for(outcome: Any, obj: dict[str, Any] | None, command: str) -> dict[str, Any]:
    """The row of one :class:`~aigclabel.batch.Outcome`; *obj* is its JSON Lines object when the command made one.

    The row says what the JSON Lines object says (same verdict, record, findings), in typed columns.
    """
    if obj is None:
        value = outcome.value
        obj = value.to_dict() if outcome.error is None and hasattr(value, "to_dict") else {}
    record = obj.get("record")
    labels = obj.get("labels") or []
    if not isinstance(record, dict):  # verify: the first record found that parsed
        parsed = (lab["fields"] for lab in labels if isinstance(lab, dict) and isinstance(lab.get("fields"), dict))
        record = next(parsed, None)
    error = outcome.error or {}
    tier = obj.get("tier")
    row: dict[str, Any] = {
        "path": outcome.path, "size": getattr(outcome, "size", None), "command": command,
        "format": _text(obj.get("format")), "profile": _text(obj.get("profile")), "outcome": _text(obj.get("outcome")),
        "tier": tier if isinstance(tier, int) else None, "notice": _text(obj.get("notice")),
        "destination": _text(obj.get("destination") or obj.get("output")),
        "records": len(labels) if labels else (1 if record else 0),
        "findings": [{k: _text(f.get(k)) for k in _FINDING_KEYS} for f in obj.get("findings") or ()
                     if isinstance(f, dict)],
        "error_kind": _text(error.get("kind")), "error_message": _text(error.get("message")),
        "seconds": float(getattr(outcome, "seconds", 0.0)),
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(), "verdict": outcome.verdict,
    }
    for name in RECORD_FIELDS:
        row[name] = _text(record.get(name)) if isinstance(record, dict) else None
    return row


class _Part:
    """One part file being written: its row groups go out as they fill; it appears only on :meth:`close`."""

    def __init__(self, url: str, arrow_schema: Any) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self._stack = contextlib.ExitStack()
        if storage.is_url(url):
            fh = self._stack.enter_context(storage.atomic_upload(url))
        else:
            from ._io import atomic_output

            fh = self._stack.enter_context(atomic_output(url))
        self._fh = fh
        self.writer = pq.ParquetWriter(fh, arrow_schema, compression="zstd")
        self.groups = 0

    def write(self, table: Any) -> None:
        self.writer.write_table(table, row_group_size=table.num_rows)
        self._fh.flush()  # the row group leaves this process (on S3: a part once the buffer holds 5 MiB)
        self.groups += 1

    def close(self) -> None:
        try:
            self.writer.close()  # the footer
        finally:
            self._stack.close()  # rename into place / complete the multipart upload


class ParquetResults:
    """Rows of a batch run, written to the Parquet dataset at *root* (a directory or URL prefix).

    Use as a context manager; :meth:`add` one outcome at a time.  Each run writes its own part
    files (named by a run id), so runs appending to one dataset never collide.
    """

    def __init__(self, root: str, command: str, *, rows_per_group: int = ROWS_PER_GROUP,
                 groups_per_file: int = GROUPS_PER_FILE) -> None:
        pa = _pyarrow()
        self._pa = pa
        self.root = root.rstrip("/") if storage.is_url(root) else root
        self.command = command
        self.rows_per_group = max(1, rows_per_group)
        self.groups_per_file = max(1, groups_per_file)
        self.schema = schema()
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        self.run_id = f"{started}-{uuid.uuid4().hex[:8]}"
        self._buffers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._parts: dict[tuple[str, str], _Part] = {}
        self._serial = 0
        self.rows = 0
        if not storage.is_url(self.root):
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{root}: cannot create the results directory ({exc.strerror})") from None

    def __enter__(self) -> ParquetResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, outcome: Any, obj: dict[str, Any] | None = None) -> None:
        row = row_for(outcome, obj, self.command)
        key = (row.pop("date"), row.pop("verdict"))
        buffer = self._buffers.setdefault(key, [])
        buffer.append(row)
        self.rows += 1
        if len(buffer) >= self.rows_per_group:
            self._flush(key)

    def _flush(self, key: tuple[str, str]) -> None:
        rows = self._buffers.pop(key, None)
        if not rows:
            return
        part = self._parts.get(key)
        if part is None:
            self._serial += 1
            date, verdict = key
            name = f"date={date}/verdict={verdict}/part-{self.run_id}-{self._serial:05d}.parquet"
            if storage.is_url(self.root):
                url = storage.url_join(self.root, name)
            else:
                url = os.path.join(self.root, *name.split("/"))
                os.makedirs(os.path.dirname(url), exist_ok=True)
            part = self._parts[key] = _Part(url, self.schema)
        part.write(self._pa.Table.from_pylist(rows, schema=self.schema))
        if part.groups >= self.groups_per_file:
            del self._parts[key]
            part.close()

    def close(self) -> None:
        """Write what is buffered and complete every part file (also after an interruption: those rows are whole)."""
        try:
            for key in list(self._buffers):
                self._flush(key)
        finally:
            parts, self._parts = list(self._parts.values()), {}
            for part in parts:
                part.close()


class JsonlResults:
    """``--results FILE`` in the default format: the JSON Lines objects, one line per file, appended.

    A URL is written as one object that appears when the run ends (object stores have no append).
    """

    def __init__(self, dest: str) -> None:
        self._stack = contextlib.ExitStack()
        try:
            if storage.is_url(dest):
                self._fh: Any = self._stack.enter_context(storage.atomic_upload(dest, overwrite=True))
            else:
                self._fh = self._stack.enter_context(open(dest, "ab"))
        except OSError as exc:
            raise OutputError(f"{dest}: cannot write the results ({exc.strerror or exc})") from None

    def add(self, outcome: Any, obj: dict[str, Any] | None = None) -> None:
        import json

        if obj is None:
            obj = (outcome.value.to_dict() if outcome.error is None and hasattr(outcome.value, "to_dict")
                   else {"path": outcome.path, "verdict": outcome.verdict, "error": outcome.error})
        # one write per line, flushed: a killed run leaves whole lines (and at most one cut-off last line)
        self._fh.write((json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))
        self._fh.flush()

    def close(self) -> None:
        self._stack.close()


def is_dataset(path: str) -> bool:
    """Whether *path* names a Parquet dataset (a directory or URL prefix, or a ``.parquet`` file), not a JSONL log."""
    if path.endswith(".parquet"):
        return True
    if storage.is_url(path):
        try:
            return storage.is_dir(path)
        except Exception:  # noqa: BLE001 - unreachable: not a dataset we can read
            return False
    return os.path.isdir(path)


def load_done(path: str) -> set[str]:
    """Paths the dataset at *path* holds a row for without an error (for ``--skip-done``).

    Reads only the ``path`` and ``error_kind`` columns, one record batch at a time; part files still
    being written (hidden names, uncompleted uploads) are not part of the dataset.  A missing
    dataset is an empty one (the first run of a resumable job).
    """
    _pyarrow()
    import pyarrow.dataset as ds  # type: ignore[import-untyped]

    done: set[str] = set()
    if storage.is_url(path):
        from fsspec.core import url_to_fs  # type: ignore[import-untyped]

        fs, root = url_to_fs(path, **storage.current_options())
        if not fs.exists(root):
            return done
    else:
        fs, root = None, path
        if not os.path.exists(root):
            return done
    try:
        dataset = ds.dataset(root, filesystem=fs, format="parquet", partitioning="hive")
        if not dataset.files:  # an empty directory: the first run of a resumable job
            return done
        for batch in dataset.to_batches(columns=["path", "error_kind"]):
            paths, errors = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            done.update(p for p, e in zip(paths, errors, strict=True) if p is not None and e is None)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise OutputError(f"{path}: cannot read the Parquet results ({exc})") from None
    return done


def read_rows(path: str) -> Iterator[dict[str, Any]]:
    """Every row of the dataset at *path*, as dicts with the partition columns (for tests and small datasets)."""
    _pyarrow()
    import pyarrow.dataset as ds  # type: ignore[import-untyped]

    for batch in ds.dataset(path, format="parquet", partitioning="hive").to_batches():
        yield from batch.to_pylist()
