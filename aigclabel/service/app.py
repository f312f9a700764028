"""The ASGI app: FastAPI routes over :func:`aigclabel.platform.review` and :func:`aigclabel.verify`.

How an upload is handled:

1. the body is streamed (never held whole in memory) into a private temporary file under
   ``tmp_dir``: a multipart form's ``file`` part, or a raw body; the file gets a random name
   (``aigclabel-XXXX``) plus the client's extension when it is a plain one (``.png``), so no client
   path ever reaches the file system; ``Content-Length`` over the limit is refused before reading, a body that grows over
   it while streaming is cut off, both with 413;
2. the review or verification runs in a worker thread (the event loop stays free), with at most
   ``max_concurrency`` at once and a time limit;
3. the request's files are removed when the response has been sent; if the time limit fired, the
   abandoned work removes them when it ends.

Errors are JSON ``{"error": {"kind", "message"}}``: 400 bad request, 408 upload too slow, 409
``return_file`` with nothing written, 413 too large, 415 unsupported format or body type, 422
corrupt file, 503 time limit.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.background import BackgroundTask

from .. import __version__
from ..errors import AigcLabelError, InputError, LabelError, ProfileError, UnsupportedFormat, UnsupportedOperation
from ..platform import PlatformConfig, review
from ..profiles import list_profiles
from ..verifier import SCOPES, verify
from . import ServiceConfig

__all__ = ["create_app", "app_from_env"]

_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
_MAX_FIELDS = 32
_MAX_FIELD_BYTES = 16 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class HttpError(Exception):
    def __init__(self, status: int, kind: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"kind": self.kind, "message": self.message}, **self.extra},
                            status_code=self.status)


# ----------------------------------------------------------------------------------- scratch space


class _Scratch:
    """The temporary files of one request, removed when the last user releases them.

    Plain files (``mkstemp``) rather than a directory per request: creating and removing a directory
    costs milliseconds on some file systems, a file a fraction of that.
    """

    def __init__(self, root: str | None) -> None:
        self.root = root or tempfile.gettempdir()
        self.paths: list[str] = []
        self._users = 1
        self._lock = threading.Lock()

    def create(self, suffix: str) -> tuple[Any, str]:
        """A new private file (0600, unique name): its binary handle and path."""
        fd, path = tempfile.mkstemp(prefix="aigclabel-", suffix=suffix, dir=self.root)
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


@dataclass
class _Upload:
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

    def __init__(self, scratch: _Scratch, limit: int) -> None:
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
                raise HttpError(400, "bad-request", f"form field {self._part!r} is longer than {_MAX_FIELD_BYTES} bytes")

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


async def _receive(request: Request, scratch: _Scratch, cfg: ServiceConfig) -> _Upload:
    limit = cfg.max_upload_bytes
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise HttpError(400, "bad-request", "Content-Length is not a number") from None
        if declared > limit:
            raise HttpError(413, "too-large", f"the upload is {declared} bytes, over the limit of {limit} bytes")
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
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


async def _receive_raw(request: Request, scratch: _Scratch, limit: int) -> _Upload:
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
    return _Upload(path, name)


async def _receive_form(request: Request, scratch: _Scratch, limit: int, boundary: bytes) -> _Upload:
    from python_multipart.exceptions import MultipartParseError

    if not boundary:
        raise HttpError(400, "bad-request", "multipart/form-data without a boundary")
    sink = _FormSink(scratch, limit)
    total = 0
    try:
        parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit + 64 * 1024:  # the form's own bytes on top of the file
                raise HttpError(413, "too-large", f"the upload is larger than the limit of {limit} bytes")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise HttpError(400, "bad-request", f"malformed multipart body ({exc})") from None
    finally:
        sink.close()
    if sink.file_path is None:
        raise HttpError(400, "bad-request", "no 'file' field in the form")
    if os.path.getsize(sink.file_path) == 0:
        raise HttpError(400, "bad-request", "the uploaded file is empty")
    return _Upload(sink.file_path, sink.file_name, sink.fields)


# ----------------------------------------------------------------------------------- options


def _options(request: Request, upload: _Upload) -> dict[str, str]:
    """Query parameters, then form fields (a form field wins)."""
    return {**dict(request.query_params), **upload.fields}


def _flag(opts: dict[str, str], name: str) -> bool:
    value = opts.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise HttpError(400, "bad-request", f"{name} must be true or false, not {value!r}")


def _scrub(value: Any, replace: dict[str, str]) -> Any:
    """Server paths out of a result: the scratch files become the client's names."""
    if isinstance(value, str):
        for old, new in replace.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, replace) for v in value]
    return value


def _error_for(exc: BaseException, replace: dict[str, str]) -> HttpError:
    message = _scrub(str(exc), replace)
    if isinstance(exc, UnsupportedFormat):
        return HttpError(415, exc.kind, message)
    if isinstance(exc, (InputError, UnsupportedOperation)):
        return HttpError(422, exc.kind, message)
    if isinstance(exc, (LabelError, ProfileError)):
        return HttpError(400, exc.kind, message)
    if isinstance(exc, AigcLabelError):
        return HttpError(422, exc.kind, message)
    return HttpError(500, "internal-error", f"internal error ({type(exc).__name__}); please report it")


# ----------------------------------------------------------------------------------- app


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"},
                "platform_code": {"type": "string"}, "declared_ai": {"type": "boolean"},
                "return_file": {"type": "boolean"}, "propagate_id": {"type": "string"},
                "reserved_code2": {"type": "string"}, "language": {"type": "string", "enum": ["zh", "en"]},
                "detect_explicit": {"type": "string", "enum": ["auto", "always", "never"]},
                "profile": {"type": "string"}, "scope": {"type": "string", "enum": list(SCOPES)},
            }}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": kind}}


_REVIEW_PARAMS = [
    _query("platform_code", "ContentPropagator: the platform's provider code (default: the server's platform)"),
    _query("declared_ai", "the uploader declared the content AI-generated (tier 2)", "boolean"),
    _query("return_file", "answer with the propagated file instead of the JSON review", "boolean"),
    _query("propagate_id", "PropagateID (default: kept if this platform wrote one, else fresh)"),
    _query("reserved_code2", "ReservedCode2: the platform's security data"),
    _query("language", "language of 'notice' (zh or en)"),
    _query("detect_explicit", "auto (default: OCR / audio detection only when metadata decides nothing), "
           "always, or never (metadata only, fastest)"),
    _query("filename", "raw bodies: the file's name (only its extension is used, to tell text formats apart)"),
]


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    cfg = config or ServiceConfig()
    limiter = anyio.CapacityLimiter(max(1, cfg.max_concurrency))
    profiles = {p.id: p for p in list_profiles()}
    mimes = _mimes()
    app = FastAPI(title="aigclabel", version=__version__,
                  description="Upload review (Measures Art. 6 tiers and propagation fields) and GB 45438-2025 "
                              "label verification.")
    app.state.config = cfg

    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> JSONResponse:
        return exc.response()

    async def run_job(scratch: _Scratch, job: Callable[[], Any]) -> Any:
        """*job* in a worker thread with the time limit; the thread keeps the scratch alive."""
        scratch.acquire()

        def guarded() -> Any:
            try:
                return job()
            finally:
                scratch.release()

        try:
            with anyio.fail_after(cfg.timeout_s):
                return await anyio.to_thread.run_sync(guarded, limiter=limiter, abandon_on_cancel=True)
        except TimeoutError:
            raise HttpError(503, "timeout", f"the file took longer than {cfg.timeout_s:g} s to process; "
                            "try again later or with a smaller file") from None

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/profiles", tags=["verify"])
    async def get_profiles() -> list[dict[str, Any]]:
        return [{"id": p.id, "title": p.title, "status": p.status, "jurisdiction": p.jurisdiction,
                 "description": p.description} for p in profiles.values()]

    async def do_review(request: Request) -> Any:
        scratch = _Scratch(cfg.tmp_dir)
        handed_off = False
        try:
            upload = await _receive(request, scratch, cfg)
            opts = _options(request, upload)
            platform = _platform(cfg, opts)
            declared = _flag(opts, "declared_ai")
            return_file = _flag(opts, "return_file")
            out = (scratch.reserve(upload.path + ".out" + os.path.splitext(upload.path)[1]) if return_file
                   else None)
            replace = {upload.path: upload.name}
            if out:
                replace[out] = upload.name
            job = _review_job(upload.path, platform, declared, out, opts)
            try:
                result = await run_job(scratch, job)
            except HttpError:
                raise
            except Exception as exc:  # noqa: BLE001 - every error is a JSON answer
                raise _error_for(exc, replace) from None
            body = _scrub(result.to_dict(), replace)
            body["path"] = upload.name
            if not return_file:
                return JSONResponse(body)
            if result.output is None:
                raise HttpError(409, "not-written", "return_file: nothing was written ("
                                + (body.get("write_refused") or "no tier: nothing to propagate") + ")",
                                {"review": body})
            headers = {"X-AIGC-Tier": str(result.tier),
                       "X-AIGC-Record": result.record.to_json() if result.record is not None else "",
                       "X-AIGC-Notice": quote(result.notice or ""),
                       "Content-Disposition": f"attachment; filename*=UTF-8''{quote(upload.name)}"}
            if any(e.kind == "c2pa-hard-binding" for e in result.evidence):
                headers["X-AIGC-C2PA"] = "hard-binding-broken"
            handed_off = True
            return FileResponse(result.output, media_type=mimes.get(result.format, "application/octet-stream"),
                                headers=headers, background=BackgroundTask(scratch.release))
        finally:
            if not handed_off:
                scratch.release()

    async def do_verify(request: Request) -> Any:
        scratch = _Scratch(cfg.tmp_dir)
        try:
            upload = await _receive(request, scratch, cfg)
            opts = _options(request, upload)
            profile = opts.get("profile") or cfg.profile
            if profile not in profiles:
                raise HttpError(400, "profile-error", f"unknown profile {profile!r}; see GET /v1/profiles "
                                f"(shipped: {', '.join(profiles)})")
            scope = opts.get("scope") or "all"
            if scope not in SCOPES:
                raise HttpError(400, "bad-request", f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
            password = opts.get("password")
            path = upload.path
            replace = {path: upload.name}
            try:
                report = await run_job(scratch, lambda: verify(path, profile=profile, scope=scope, password=password))
            except HttpError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise _error_for(exc, replace) from None
            body = _scrub(report.to_dict(), replace)
            body["path"] = upload.name
            return JSONResponse(body)
        finally:
            scratch.release()

    review_doc = ("Review one upload as a platform: tier (1/2/3/null), notice, evidence, and the record with this "
                  "platform's propagation fields; with return_file=true, the propagated file itself (headers "
                  "X-AIGC-Tier, X-AIGC-Record). Multipart form (field 'file' plus options) or a raw body with "
                  "options as query parameters.")
    verify_doc = "Verify one upload against a shipped profile (query or form: profile, scope); the report JSON."
    for prefix, include in (("/v1", True), ("", False)):
        app.add_api_route(f"{prefix}/review", do_review, methods=["POST"], tags=["review"], summary="Review an upload",
                          description=review_doc, include_in_schema=include,
                          openapi_extra={**_UPLOAD_BODY, "parameters": _REVIEW_PARAMS})
        app.add_api_route(f"{prefix}/verify", do_verify, methods=["POST"], tags=["verify"], summary="Verify an upload",
                          description=verify_doc, include_in_schema=include,
                          openapi_extra={**_UPLOAD_BODY, "parameters": [
                              _query("profile", "profile id (GET /v1/profiles)"),
                              _query("scope", "implicit, explicit or all")]})
    return app


def _platform(cfg: ServiceConfig, opts: dict[str, str]) -> PlatformConfig:
    code = opts.get("platform_code") or None
    base = cfg.platform
    if base is None and code is None:
        raise HttpError(400, "bad-request", "platform_code is required (this server has no default platform)")
    changes = {k: opts[k] for k in ("language", "detect_explicit") if opts.get(k)}
    if code is not None:
        changes["code"] = code
    try:
        if base is None:
            return PlatformConfig(**changes)
        if not changes:
            return base
        from dataclasses import replace

        return replace(base, **changes)
    except (LabelError, ProfileError) as exc:
        raise HttpError(400, exc.kind, str(exc)) from None


def _review_job(path: str, platform: PlatformConfig, declared: bool, out: str | None,
                opts: dict[str, str]) -> Callable[[], Any]:
    propagate_id = opts.get("propagate_id") or None
    reserved_code2 = opts.get("reserved_code2")
    password = opts.get("password")

    def job() -> Any:
        return review(path, platform=platform, declared_ai=declared, output=out, propagate_id=propagate_id,
                      reserved_code2=reserved_code2, password=password)

    return job


def _mimes() -> dict[str, str]:
    from ..formats import handlers

    return {h.name: h.mime for h in handlers()}


def app_from_env() -> FastAPI:
    """The app for uvicorn's worker processes (``aigclabel serve --workers N``): config from the environment."""
    from . import ENV_CONFIG

    text = os.environ.get(ENV_CONFIG)
    return create_app(ServiceConfig.from_json(text) if text else None)
