"""The request log of ``aigclabel serve``: one line per request on stderr, in our own format.

``aigclabel: POST /v1/verify 200 35.2 ms 1234 B (127.0.0.1)`` -- method, path, status, the time
from the request's arrival to the end of the response body, and the body bytes sent.  Why our
own: uvicorn's access log is written when the response *starts* (no duration, no size) and in its
own format.  Only the path is logged, never the query string: a request may carry a PDF password
or a platform's security data there.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Awaitable, Callable, TextIO

__all__ = ["AccessLog", "log_line"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def log_line(method: str, path: str, status: int | None, seconds: float, sent: int, client: str | None) -> str:
    """One request as the log shows it (status ``-``: no response was sent, the client went away)."""
    who = f" ({client})" if client else ""
    return f"aigclabel: {method} {path} {status if status is not None else '-'} {seconds * 1000:.1f} ms {sent} B{who}"


class AccessLog:
    """ASGI middleware writing :func:`log_line` for each HTTP request to *stream* (default stderr)."""

    def __init__(self, app: App, stream: TextIO | None = None) -> None:
        self.app = app
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state: dict[str, Any] = {"status": None, "sent": 0}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["sent"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except BaseException:
            if state["status"] is None:
                state["status"] = 500  # the server's error handler answers it, outside this middleware
            raise
        finally:
            client = scope.get("client")
            line = log_line(scope.get("method", "?"), scope.get("path", ""), state["status"],
                            time.perf_counter() - start, state["sent"], client[0] if client else None)
            stream = self.stream or sys.stderr
            try:
                stream.write(line + "\n")  # one write per line: lines of several workers do not interleave
                stream.flush()
            except (OSError, ValueError):  # a closed or full stderr never fails the request
                pass
