"""The ASGI app: FastAPI routes over :func:`aigclabel.platform.review` and :func:`aigclabel.verify`.

How an upload is handled:

1. the body is streamed (never held whole in memory) into a private temporary file under
   ``tmp_dir`` (:mod:`.upload`: one size limit for every body form, 413 without buffering, a body
   deadline); a small raw body of ``/v1/verify`` or ``/v1/review`` is kept in memory instead, within a budget;
2. the review or verification runs in a worker process of :class:`.pool.WorkerPool` (capped
   address space, the service's :class:`~aigclabel.limits.Limits`), at most ``max_concurrency`` at
   once and ``max_queue`` waiting, within ``timeout_s``; a job whose request is answered first
   (time limit, client gone) is stopped by killing its worker;
3. the request's files are removed when the response has been sent, however the request ended.

Errors are JSON ``{"error": {"kind", "message"}}`` (see :mod:`.errors`): 400, 408, 409, 413, 415,
422 (the file could not be checked, with ``limit`` when a limit was exceeded), 503 (time limit or
overload, with Retry-After); the OpenAPI document declares them per endpoint (:data:`.errors.RESPONSES`).

``/docs`` is Swagger UI with its assets served by this app from the ``swagger-ui-bundle`` package
(no CDN: an intranet or air-gapped host shows it too); ReDoc, which has no packaged assets, is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import traceback
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import LabelError, ProfileError
from ..platform import PlatformConfig
from ..profiles import list_profiles
from ..verifier import SCOPES
from . import ServiceConfig
from .errors import ERROR_SCHEMA, REVIEW_ERRORS, VERIFY_ERRORS, HttpError
from .jobs import scrub as _scrub
from .pool import JobFailed, JobTimeout, Overloaded, WorkerPool, WorkerStopped
from .upload import MemoryBudget, Scratch, Upload, receive

__all__ = ["create_app", "app_from_env"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


# ----------------------------------------------------------------------------------- options


def _options(request: Request, upload: Upload) -> dict[str, str]:
    """Query parameters, then form fields (a form field wins)."""
    return {**dict(request.query_params), **upload.fields}


def _flag(opts: dict[str, str], name: str) -> bool:
    value = opts.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise HttpError(400, "bad-request", f"{name} must be true or false, not {value!r}")


def _job_error(exc: BaseException, replace: dict[str, str], cfg: ServiceConfig) -> HttpError:
    """The answer for a job that did not produce a result (never a 500: see :mod:`.errors`)."""
    if isinstance(exc, JobFailed):
        p = exc.payload
        return HttpError(p["status"], p["kind"], _scrub(p["message"], replace), limit=p.get("limit"))
    if isinstance(exc, JobTimeout):
        where = "waiting for a free worker" if exc.queued else "processing"
        return HttpError(503, "timeout", f"the file took longer than {cfg.timeout_s:g} s ({where}); "
                         "try again later or with a smaller file", retry_after=min(cfg.timeout_s, 30))
    if isinstance(exc, Overloaded):
        return HttpError(503, "overloaded", f"the server is busy ({cfg.max_queue} requests already waiting); "
                         "try again later", retry_after=5)
    if isinstance(exc, WorkerStopped):
        how = (f"signal {-exc.exitcode}" if exc.exitcode is not None and exc.exitcode < 0
               else f"exit code {exc.exitcode}")
        # Most often the address-space cap: a native decoder that cannot allocate may crash rather than raise.
        return HttpError(422, "worker-stopped", f"the file could not be checked: the worker reading it stopped "
                         f"({how}; e.g. over its memory cap)")
    raise exc


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


def _review_paths(scratch: Scratch, upload: Upload, return_file: bool) -> tuple[str | None, dict[str, str]]:
    """Where a review writes the file it sends back (beside the upload), and the server paths to scrub."""
    replace = {upload.path: upload.name} if upload.path is not None else {}
    if not return_file:
        return None, replace
    path = upload.on_disk()  # return_file kept the body out of memory (a form's field: forms go to disk)
    out = scratch.reserve(path + ".out" + os.path.splitext(path)[1])
    replace[out] = upload.name
    return out, replace


def _pool_for(cfg: ServiceConfig) -> WorkerPool:
    return WorkerPool(cfg.max_concurrency, limits=cfg.limits, memory_bytes=cfg.worker_memory_bytes,
                      recycle_rss=cfg.recycle_rss_bytes, max_queue=cfg.max_queue)


class _Direct:
    """ASGI middleware: the hot endpoints' handlers called directly, past FastAPI's per-request machinery.

    A ``/v1/verify`` of a small photo costs the worker about 0.3 ms; FastAPI's routing, dependency solving and
    response handling around the same handler cost the front end -- one process for all the workers -- about
    as much again.  The handler is the very one registered with FastAPI (which still documents it and answers
    every other method and path); it is added innermost, so the API keys and the access log apply as before,
    and an unexpected exception still reaches the app's error handler (a JSON 500).
    """

    def __init__(self, app: Any, routes: dict[tuple[str, str], Callable[[Request], Awaitable[Any]]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        handler = None
        if scope["type"] == "http":
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):  # behind a proxy that forwards the prefix (as Starlette's routing)
                path = path[len(root):]
            handler = self.routes.get((scope["method"], path))
        if handler is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except HttpError as exc:
            response = exc.response()
        await response(scope, receive, send)


async def _watch_disconnect(request: Request, scope: anyio.CancelScope) -> None:
    """Cancel *scope* when the client goes away (the body has been read: the next message is the end)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


async def _unless_disconnected(request: Request, job: Awaitable[Any]) -> Any:
    """*job*'s result, or None when the client went away first (then the job is cancelled: its worker killed).

    The watcher is one plain task, cancelled when the job ends: a task group with a task for each side cost
    the front end more than the rest of a small request's handling.
    """
    with anyio.CancelScope() as scope:
        watcher = asyncio.ensure_future(_watch_disconnect(request, scope))
        try:
            return await job
        finally:
            watcher.cancel()
    return None


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    cfg = config or ServiceConfig()
    pool = _pool_for(cfg)
    profiles = {p.id: p for p in list_profiles()}
    mimes = _mimes()
    budget = MemoryBudget(cfg.memory_uploads_total)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.start()
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="aigclabel", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None,
                  description="Upload review (Measures Art. 6 tiers and propagation fields) and GB 45438-2025 "
                              "label verification.")
    direct: dict[tuple[str, str], Callable[[Request], Awaitable[Any]]] = {}
    app.add_middleware(_Direct, routes=direct)  # first added: innermost, inside the keys and the log
    if cfg.api_keys:  # added before the access log, which wraps it and so also logs the 401s
        from .auth import ApiKeys

        app.add_middleware(ApiKeys, keys=cfg.api_keys)
    if cfg.access_log:
        from .access import AccessLog

        app.add_middleware(AccessLog)
    # OpenAPI 3.0.3: the packaged Swagger UI (4.x) renders 3.0 documents, and ours uses nothing of 3.1
    app.openapi_version = "3.0.3"
    _docs(app)
    app.state.config = cfg
    app.state.pool = pool

    @app.exception_handler(HttpError)
    async def _http_error(request: Request, exc: HttpError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _starlette_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "bad-request")
        return JSONResponse({"error": {"kind": kind, "message": str(exc.detail)}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": {"kind": "bad-request", "message": "malformed request"}}, status_code=400)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # a bug in the app itself (never in reading an upload: those are the worker's answers)
        traceback.print_exception(exc, file=sys.stderr)
        return JSONResponse({"error": {"kind": "internal-error", "message": "internal error; please report it"}},
                            status_code=500)

    async def run_job(name: str, kwargs: dict[str, Any], request: Request, replace: dict[str, str]) -> Any:
        """Job *name* in a pool worker; stopped if the client goes away first."""
        try:
            result = await _unless_disconnected(request, pool.run(name, kwargs, cfg.timeout_s))
        except (JobFailed, JobTimeout, Overloaded, WorkerStopped) as exc:
            raise _job_error(exc, replace, cfg) from None
        if result is None:  # the client went away: nobody to answer
            raise HttpError(499, "client-closed", "the client closed the connection")
        return result

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/profiles", tags=["verify"])
    async def get_profiles() -> list[dict[str, Any]]:
        return [{"id": p.id, "title": p.title, "status": p.status, "jurisdiction": p.jurisdiction,
                 "description": p.description} for p in profiles.values()]

    async def do_review(request: Request) -> Any:
        scratch = Scratch(cfg.tmp_dir)
        handed_off = False
        try:
            # the file to send back is written beside the upload: only then must the upload be on disk
            wants_file = request.query_params.get("return_file", "").strip().lower() in _TRUE
            upload = await receive(request, scratch, cfg, None if wants_file else budget)
            opts = _options(request, upload)
            platform = _platform(cfg, opts)
            declared = _flag(opts, "declared_ai")
            return_file = _flag(opts, "return_file")
            out, replace = _review_paths(scratch, upload, return_file)
            result = await run_job("review", {
                **upload.source(), "platform": platform, "declared_ai": declared, "output": out,
                "propagate_id": opts.get("propagate_id") or None, "reserved_code2": opts.get("reserved_code2"),
                "password": opts.get("password"), "trusted_keys": cfg.trusted_keys}, request, replace)
            body = _scrub(result["body"], replace)
            body["path"] = upload.name
            if not return_file:
                return JSONResponse(body)
            if result["output"] is None:
                raise HttpError(409, "not-written", "return_file: nothing was written ("
                                + (body.get("write_refused") or "no tier: nothing to propagate") + ")",
                                {"review": body})
            headers = {"X-AIGC-Tier": str(result["tier"]), "X-AIGC-Record": result["record"],
                       "X-AIGC-Notice": quote(result["notice"]),
                       "Content-Disposition": f"attachment; filename*=UTF-8''{quote(upload.name)}"}
            if result["c2pa_broken"]:
                headers["X-AIGC-C2PA"] = "hard-binding-broken"
            handed_off = True
            return FileResponse(result["output"], media_type=mimes.get(result["format"], "application/octet-stream"),
                                headers=headers, background=BackgroundTask(scratch.release))
        finally:
            if not handed_off:
                scratch.release()

    async def do_verify(request: Request) -> Any:
        scratch = Scratch(cfg.tmp_dir)
        try:
            upload = await receive(request, scratch, cfg, budget)
            opts = _options(request, upload)
            profile = opts.get("profile") or cfg.profile
            if profile not in profiles:
                raise HttpError(400, "profile-error", f"unknown profile {profile!r}; see GET /v1/profiles "
                                f"(shipped: {', '.join(profiles)})")
            scope = opts.get("scope") or "all"
            if scope not in SCOPES:
                raise HttpError(400, "bad-request", f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
            replace = {upload.path: upload.name} if upload.path is not None else {}
            body = await run_job("verify", {**upload.source(), "name": upload.name, "replace": replace,
                                            "profile": profile, "scope": scope, "password": opts.get("password"),
                                            "trusted_keys": cfg.trusted_keys}, request, replace)
            return Response(body, media_type="application/json")
        finally:
            scratch.release()

    review_doc = ("Review one upload as a platform: tier (1/2/3/null), notice, evidence, and the record with this "
                  "platform's propagation fields; with return_file=true, the propagated file itself (headers "
                  "X-AIGC-Tier, X-AIGC-Record). Multipart form (field 'file' plus options) or a raw body with "
                  "options as query parameters.")
    verify_doc = "Verify one upload against a shipped profile (query or form: profile, scope); the report JSON."
    for prefix, include in (("/v1", True), ("", False)):
        app.add_api_route(f"{prefix}/review", do_review, methods=["POST"], tags=["review"], summary="Review an upload",
                          description=review_doc, include_in_schema=include, responses=REVIEW_ERRORS,
                          openapi_extra={**_UPLOAD_BODY, "parameters": _REVIEW_PARAMS})
        direct["POST", f"{prefix}/verify"] = do_verify
        app.add_api_route(f"{prefix}/verify", do_verify, methods=["POST"], tags=["verify"], summary="Verify an upload",
                          description=verify_doc, include_in_schema=include, responses=VERIFY_ERRORS,
                          openapi_extra={**_UPLOAD_BODY, "parameters": [
                              _query("profile", "profile id (GET /v1/profiles)"),
                              _query("scope", "implicit, explicit or all")]})
    from .page import add_page_routes  # the review page at / and POST /v1/inspect

    add_page_routes(app, cfg, run_job)
    return app


def _docs(app: FastAPI) -> None:
    """``/docs`` from packaged assets, and the error body's schema in the OpenAPI components."""
    assets = _swagger_assets()
    if assets is not None:
        from starlette.staticfiles import StaticFiles

        app.mount("/docs/assets", StaticFiles(directory=assets), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")  # behind a proxy that strips a prefix
        if assets is None:
            return HTMLResponse("<!doctype html><title>aigclabel API</title><p>The API documentation viewer is not "
                                "installed (pip install 'aigclabel[service]' brings swagger-ui-bundle). The "
                                f'OpenAPI document is at <a href="{root}/openapi.json">/openapi.json</a>.</p>')
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title="aigclabel API",
                                   swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png")

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain_openapi()
            schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
            if app.state.config.api_keys:
                _declare_api_keys(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_api_keys(schema: dict[str, Any]) -> None:
    """The security schemes, and a 401 on every operation that needs a key (all but the open paths)."""
    from .auth import SECURITY_SCHEMES, UNAUTHORIZED, is_open

    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in schema.get("paths", {}).items():
        if is_open(path):
            continue
        for operation in operations.values():
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
            operation.setdefault("responses", {})["401"] = {
                "description": UNAUTHORIZED, "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _swagger_assets() -> str | None:
    """The directory of the packaged Swagger UI files (swagger-ui-bundle), or None when not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # no type information
    except ImportError:
        return None
    path = str(swagger_ui_path)
    return path if os.path.isfile(os.path.join(path, "swagger-ui-bundle.js")) else None


def _platform(cfg: ServiceConfig, opts: dict[str, str]) -> PlatformConfig:
    code = opts.get("platform_code") or None
    base = cfg.platform
    if base is None and code is None:
        raise HttpError(400, "bad-request", "platform_code is required (this server has no default platform)")
    changes: dict[str, Any] = {k: opts[k] for k in ("language", "detect_explicit") if opts.get(k)}
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


def _mimes() -> dict[str, str]:
    from ..formats import handlers

    return {h.name: h.mime for h in handlers()}


def app_from_env() -> FastAPI:
    """The app for uvicorn's worker processes (``aigclabel serve --workers N``): config from the environment."""
    from . import ENV_CONFIG

    text = os.environ.get(ENV_CONFIG)
    return create_app(ServiceConfig.from_json(text) if text else None)
