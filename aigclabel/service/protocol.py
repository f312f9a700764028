"""uvicorn's HTTP protocol with a deadline for the request head (``aigclabel serve`` uses it).

uvicorn bounds an idle keep-alive connection but not a new one that trickles its request line and
headers ("slowloris"): such connections would stay open for ever, each holding a socket.  The body
has its own deadline in the app (``upload_timeout_s``); this closes a connection whose first request
has not finished its headers within ``header_timeout_s``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["HeaderTimeoutProtocol", "PROTOCOL"]

#: the import string uvicorn takes for ``http=``
PROTOCOL = "aigclabel.service.protocol:HeaderTimeoutProtocol"
_DEFAULT = 10.0


def _header_timeout() -> float:
    from . import ENV_CONFIG, ServiceConfig

    text = os.environ.get(ENV_CONFIG)
    return ServiceConfig.from_json(text).header_timeout_s if text else _DEFAULT


class HeaderTimeoutProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    header_timeout: float | None = None  # read once per process from the service's configuration

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        cls = type(self)
        if cls.header_timeout is None:
            cls.header_timeout = _header_timeout()
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(cls.header_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.cycle is None and not self.transport.is_closing():  # no request head completed yet
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()  # type: ignore[union-attr]
            self._head_timer = None
        super().connection_lost(exc)
