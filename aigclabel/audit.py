"""The marking audit log: what Measures Art. 9 asks a provider to keep (>= 6 months).

When a user asks for output without the explicit label, the provider must keep a log of it.  The
library writes that log, not the command line: :func:`aigclabel.mark_file` takes ``audit_log=``
(a path, or an :class:`AuditLog`), opens it before any work starts (an unwritable log stops the run
with nothing written) and appends the entry *before* the output is renamed into place, so there is
never a waived output without its log line.
"""

from __future__ import annotations

import json
import os
import threading
from typing import IO, Any

from .errors import OutputError

__all__ = ["AuditLog", "open_audit_log"]


class AuditLog:
    """An append-only JSON Lines file; one line per marked file, flushed (and fsynced) at once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._fh: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write the audit log ({exc.strerror}); nothing was marked") from None
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                self._fh.write(line)
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot write the audit log ({exc.strerror}); "
                                  "the output was not written") from None

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_audit_log(log: str | os.PathLike[str] | AuditLog | None) -> tuple[AuditLog | None, bool]:
    """(the log, whether the caller must close it): a path is opened here, an AuditLog is used as is."""
    if log is None or isinstance(log, AuditLog):
        return log, False
    return AuditLog(log), True
