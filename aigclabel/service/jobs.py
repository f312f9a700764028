"""The work a request hands to a pool worker: plain arguments in, plain (picklable) results out.

Runs in the worker process only (see :mod:`aigclabel.service.pool`); imports no web framework.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Callable

from ..errors import AigcLabelError, LabelError, ProfileError, UnsupportedFormat
from ..platform import PlatformConfig, review
from ..verifier import verify

__all__ = ["JOBS", "warm", "status_for", "error_payload", "scrub", "json_body"]


def scrub(value: Any, replace: dict[str, str]) -> Any:
    """Server paths out of a result: the scratch files become the client's names."""
    if not replace:
        return value
    if isinstance(value, str):
        for old, new in replace.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, replace) for v in value]
    return value


def json_body(body: Any) -> bytes:
    """*body* as the response sends it (the same bytes as Starlette's ``JSONResponse``)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


class _NamedBytes(io.BytesIO):
    """An upload kept in memory, under the client's name (the library takes a format hint from its extension)."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def _source(path: str | None, data: bytes | None, name: str) -> Any:
    return _NamedBytes(data, name) if data is not None else path


def review_job(path: str | None = None, *, platform: PlatformConfig, declared_ai: bool, output: str | None,
               propagate_id: str | None, reserved_code2: str | None, password: str | None,
               trusted_keys: str | None = None, data: bytes | None = None, name: str = "upload") -> dict[str, Any]:
    result = review(_source(path, data, name), platform=platform, declared_ai=declared_ai, output=output,
                    propagate_id=propagate_id, reserved_code2=reserved_code2, password=password,
                    trusted_keys=trusted_keys)
    return {"body": result.to_dict(), "output": result.output, "tier": result.tier, "format": result.format,
            "record": result.record.to_json() if result.record is not None else "", "notice": result.notice or "",
            "c2pa_broken": any(e.kind == "c2pa-hard-binding" for e in result.evidence)}


def verify_job(path: str | None = None, *, profile: str, scope: str, password: str | None,
               trusted_keys: str | None = None, data: bytes | None = None, name: str = "upload",
               replace: dict[str, str] | None = None) -> bytes:
    """The response body itself, made here: the front end, one process for every worker, only sends it."""
    # the trusted keys are read once per worker (cached by the file's mtime), not per request
    report = verify(_source(path, data, name), profile=profile, scope=scope, password=password,
                    trusted_keys=trusted_keys)
    body = scrub(report.to_dict(), replace or {})
    body["path"] = name
    return json_body(body)


def inspect_job(path: str, name: str, platform: PlatformConfig, declared_ai: bool,
                password: str | None) -> dict[str, Any]:
    from ..reviewpage import build_view

    return {"body": build_view(path, platform=platform, declared_ai=declared_ai, password=password, name=name)}


def ping_job() -> dict[str, Any]:
    return {"body": {"pong": True}}


def warm() -> None:
    """Import every format handler, and what a first review imports lazily, now: in the worker's start-up,
    not in the first request it serves (a fresh worker replaces every stopped one)."""
    import io
    import wave

    from PIL import Image

    from ..formats import handlers

    handlers()
    samples = []
    for kind in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, kind)
        samples.append(buf.getvalue())
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    samples.append(buf.getvalue())
    platform = PlatformConfig(code="0" * 27, detect_explicit="never")
    for data in samples:
        with contextlib.suppress(Exception):  # a warm-up: whatever it meets, the real requests will report
            review(data, platform=platform)
            verify(data, scope="implicit")


def status_for(exc: BaseException) -> int:
    """The HTTP status of an exception raised while reading an upload (computed in the worker)."""
    if isinstance(exc, UnsupportedFormat):
        return 415
    if isinstance(exc, (LabelError, ProfileError)):
        return 400
    return 422  # any other AigcLabelError, a MemoryError, or a bug of ours: the file could not be checked


def error_payload(exc: BaseException) -> dict[str, Any]:
    """A picklable description of *exc* for the worker's answer."""
    if isinstance(exc, AigcLabelError):
        return {"status": status_for(exc), "kind": exc.kind, "message": str(exc),
                "limit": getattr(exc, "limit", None)}
    if isinstance(exc, MemoryError):
        return {"status": 422, "kind": "limit-exceeded", "limit": "memory",
                "message": "the file needed more memory than a worker may use"}
    return {"status": 422, "kind": "internal-error", "limit": None,
            "message": f"internal error ({type(exc).__name__}) while reading the file; please report it"}


JOBS: dict[str, Callable[..., Any]] = {"review": review_job, "verify": verify_job, "inspect": inspect_job,
                                                  "ping": ping_job}
