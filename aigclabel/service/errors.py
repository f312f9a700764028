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

__all__ = ["HttpError", "ERROR_SCHEMA", "REVIEW_ERRORS", "VERIFY_ERRORS"]

#: the JSON body of every error answer (OpenAPI 3.0 schema; ``components/schemas/Error``)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"], "title": "Error",
    "properties": {"error": {"type": "object", "required": ["kind", "message"], "properties": {
        "kind": {"type": "string", "description": "machine-readable cause, e.g. too-large, corrupt-file, "
                                                  "limit-exceeded, unsupported-format, profile-error, timeout"},
        "message": {"type": "string", "description": "what went wrong, for a person"},
        "limit": {"type": "string", "description": "422 limit-exceeded only: the resource limit reached"},
    }}, "review": {"type": "object", "description": "409 only: the review of the upload"}},
}

_WHY = {
    400: "bad request: an option is invalid (a flag not true/false, an unknown profile or scope, platform_code "
         "missing on a server without a default platform, a bad label field), a malformed or empty body",
    408: "the upload did not arrive within the body time limit",
    409: "return_file=true, but nothing was written (no tier, or the file could not be rewritten); the review "
         "is in the body",
    413: "the upload is over the size limit (checked against Content-Length first, then while streaming)",
    415: "the body type is not accepted (send multipart/form-data or a raw body), or the file's format is not "
         "supported",
    422: "the file could not be checked: corrupt, a resource limit exceeded ('limit' names it), or the worker "
         "reading it stopped",
    503: "the time limit was reached or the server is overloaded (Retry-After says when to try again), or the "
         "upload could not be stored",
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    ref = {"$ref": "#/components/schemas/Error"}
    return {status: {"description": _WHY[status], "content": {"application/json": {"schema": ref}}}
            for status in statuses}


#: the error answers of POST /v1/review and POST /v1/verify, as they happen (see :mod:`.app`, :mod:`.upload`)
REVIEW_ERRORS = _responses(400, 408, 409, 413, 415, 422, 503)
VERIFY_ERRORS = _responses(400, 408, 413, 415, 422, 503)


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
