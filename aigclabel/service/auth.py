"""API keys (``aigclabel serve --api-key KEY`` or ``AIGCLABEL_API_KEY``): every data request must carry one.

A request names its key as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; without a listed key
it is answered 401 with the service's error body (``kind`` ``unauthorized``) and a
``WWW-Authenticate: Bearer`` header, *before* its body is read, so an unauthenticated upload is never
streamed to disk.  Keys are compared in constant time; never logged, never accepted in the query
string (which ends up in logs and browser history).

Open without a key: the parts that hold no data and that a browser or a probe must reach before it
can send one -- the page shell (``/`` and its script and style under ``/ui/``, which then asks for the
key and sends it with every request it makes), ``/healthz``, and the API documentation (``/docs``,
its assets, ``/openapi.json``, whose "Authorize" button uses the declared security schemes).
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable, Iterable

__all__ = ["ApiKeys", "ENV_API_KEY", "OPEN_PATHS", "is_open", "presented_key", "SECURITY_SCHEMES", "UNAUTHORIZED"]

#: the environment variable ``aigclabel serve`` reads a key from (one key; ``--api-key`` may be repeated)
ENV_API_KEY = "AIGCLABEL_API_KEY"
#: exact paths, and prefixes ending in "/", that need no key (see the module docs)
OPEN_PATHS = ("/", "/healthz", "/docs", "/openapi.json", "/ui/", "/docs/assets/")

#: the OpenAPI security schemes (components/securitySchemes) of a server with keys
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "X-API-Key: <API key>"},
}
UNAUTHORIZED = ("a valid API key is required: send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
                "(the server was started with --api-key)")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_open(path: str) -> bool:
    return any(path.startswith(p) if p.endswith("/") and p != "/" else path == p for p in OPEN_PATHS)


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key a request carries (``Authorization: Bearer`` first, then ``X-API-Key``), or None."""
    bearer = api_key = None
    for name, value in headers:
        lower = name.lower()
        if lower == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif lower == b"x-api-key" and value.strip():
            api_key = value.decode("latin-1").strip()
    return bearer or api_key


class ApiKeys:
    """ASGI middleware: 401 for a request outside :data:`OPEN_PATHS` without one of *keys*."""

    def __init__(self, app: App, keys: Iterable[str]) -> None:
        self.app = app
        self.keys = [k.encode("utf-8") for k in keys if k]

    def accepts(self, key: str | None) -> bool:
        if key is None:
            return False
        given = key.encode("utf-8", "replace")
        # every key is compared, so the time taken does not tell which one (or how much of one) matched
        return sum(hmac.compare_digest(given, k) for k in self.keys) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope.get("path", "")) or self.accepts(
                presented_key(scope.get("headers") or [])):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": {"kind": "unauthorized", "message": UNAUTHORIZED}}).encode("utf-8")
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii")),
            (b"www-authenticate", b'Bearer realm="aigclabel"'), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
