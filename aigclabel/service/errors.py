"""The service's error answers: JSON ``{"error": {"kind", "message"[, "limit"]}}`` with a status.

400 bad request, 408 upload too slow, 409 ``return_file`` with nothing written, 413 too large, 415
unsupported format or body type, 422 the file could not be checked (corrupt, a resource limit
exceeded -- ``limit`` names it --, or the worker stopped on it), 503 time limit or overload (with
``Retry-After``).  No answer about an upload is a 500: a bug of ours met while reading the upload is
a 422 of kind ``internal-error`` (logged with its traceback by the worker), as the CLI's exit 3;
the worker computes the status (:func:`aigclabel.service.jobs.error_payload`).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["HttpError"]


class HttpError(Exception):
    def __init__(self, status: int, kind: str, message: str, extra: dict[str, Any] | None = None, *,
                 limit: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra or {}
        self.limit, self.retry_after = limit, retry_after

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.limit:
            error["limit"] = self.limit
        headers = {"Retry-After": str(max(1, round(self.retry_after)))} if self.retry_after is not None else None
        return JSONResponse({"error": error, **self.extra}, status_code=self.status, headers=headers)
