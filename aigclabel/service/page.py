"""The review page: ``GET /`` (the page), ``GET /ui/*`` (its script and style), ``POST /v1/inspect`` (a file's view).

The page is plain JavaScript and CSS from the package (``static/``): no CDN, no build step, nothing
requested from anywhere but this server, which a strict Content-Security-Policy also enforces
(``default-src 'none'``; script, style and requests only from this origin; pictures from this origin
and ``data:``).  ``/v1/inspect`` takes an upload as ``/v1/review`` does and answers the view of
:func:`aigclabel.reviewpage.build_view` (review, findings, evidence to draw), computed in a pool
worker under the same limits; the page asks ``/v1/review`` at the same time, to show the tier first.
"""

from __future__ import annotations

import html
from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..reviewpage import page_asset
from . import ServiceConfig
from .app import _UPLOAD_BODY, _flag, _options, _platform, _query, _scrub
from .errors import REVIEW_ERRORS, HttpError
from .upload import Scratch, receive

__all__ = ["add_page_routes", "CSP"]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache"}
_ASSETS = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}

RunJob = Callable[[str, dict[str, Any], Request, dict[str, str]], Awaitable[Any]]


def add_page_routes(app: FastAPI, cfg: ServiceConfig, run_job: RunJob) -> None:
    assets = {name: page_asset(name) for name in _ASSETS}  # read once: the package does not change under us
    code = cfg.platform.code if cfg.platform is not None else ""
    index = page_asset("index.html").replace("<!--CSP-->", "").replace(
        "<body>", f'<body data-platform="{html.escape(code, quote=True)}">')

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(index, headers=_HEADERS)

    @app.get("/ui/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in assets:
            raise HttpError(404, "not-found", f"no asset {name!r}")
        return Response(assets[name], media_type=_ASSETS[name], headers=_HEADERS)

    async def inspect(request: Request) -> JSONResponse:
        scratch = Scratch(cfg.tmp_dir)
        try:
            upload = await receive(request, scratch, cfg)
            opts = _options(request, upload)
            path = upload.on_disk()
            replace = {path: upload.name}
            job = {"path": path, "name": upload.name, "platform": _platform(cfg, opts),
                   "declared_ai": _flag(opts, "declared_ai"), "password": opts.get("password")}
            result = await run_job("inspect", job, request, replace)
            body = _scrub(result["body"], replace)
            body["review"]["path"] = upload.name
            return JSONResponse(body)
        finally:
            scratch.release()

    app.add_api_route("/v1/inspect", inspect, methods=["POST"], tags=["review"], summary="A file's review view",
                      description="What the review page shows for one upload: the review (as /v1/review), the "
                                  "profile's findings with their structured data, the record's fields with the "
                                  "provider codes decoded, the SecurityData state, and the evidence to draw: a "
                                  "preview picture with the OCR boxes (original pixels) and the required edge band, "
                                  "an audio waveform (min/max columns) with the prompt segments (seconds), the "
                                  "passage where a document's notice was found, the C2PA manifest chain. Same body "
                                  "and limits as /v1/review.",
                      responses=REVIEW_ERRORS,
                      openapi_extra={**_UPLOAD_BODY, "parameters": [
                          _query("platform_code", "ContentPropagator: the platform's provider code"),
                          _query("declared_ai", "the uploader declared the content AI-generated", "boolean"),
                          _query("filename", "raw bodies: the file's name (its extension tells text formats apart)")]})
