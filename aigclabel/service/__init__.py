"""The HTTP service (``pip install 'aigclabel[service]'``): review and verify uploads over HTTP.

``create_app(config)`` builds the ASGI app (FastAPI on Starlette); ``aigclabel serve`` runs it with
uvicorn.  Importing this package does not import the web framework: the app module loads on the
first call to :func:`create_app`, so the core library never depends on it.

Endpoints: ``POST /v1/review``, ``POST /v1/verify``, ``GET /v1/profiles``, ``GET /healthz``, and
the OpenAPI docs at ``/docs`` (schema at ``/openapi.json``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..platform import PlatformConfig
from ..profiles import DEFAULT_PROFILE

__all__ = ["create_app", "ServiceConfig", "ENV_CONFIG"]

#: the environment variable that carries the configuration to uvicorn worker processes
ENV_CONFIG = "AIGCLABEL_SERVICE_CONFIG"


@dataclass
class ServiceConfig:
    """Limits and defaults of the service.

    * ``platform``: the default platform (a request's ``platform_code`` replaces its code); without
      one, every review request must give ``platform_code``.
    * ``max_upload_bytes``: the largest request body accepted (413 beyond it; checked against
      ``Content-Length`` first, then while streaming).
    * ``upload_timeout_s``: time allowed to receive a body (408); ``timeout_s``: time allowed to
      review or verify it (503; the work is abandoned and its files removed when it ends).
    * ``max_concurrency``: reviews running at once in one worker process (further requests wait).
    * ``tmp_dir``: where uploads are streamed (default: the system's temporary directory); every
      request gets its own directory there, removed when the response is done.
    * ``profile``: the default profile of ``/v1/verify``.
    """

    platform: PlatformConfig | None = None
    max_upload_bytes: int = 256 * 1024 * 1024
    upload_timeout_s: float = 120.0
    timeout_s: float = 120.0
    max_concurrency: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    tmp_dir: str | None = None
    profile: str = DEFAULT_PROFILE

    def to_json(self) -> str:
        data = asdict(self)
        if self.platform is not None:
            data["platform"] = self.platform.to_dict()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ServiceConfig:
        data = json.loads(text)
        platform = data.pop("platform", None)
        if platform is not None:
            platform["ai_source_types"] = tuple(platform.get("ai_source_types", ()))
            platform = PlatformConfig(**platform)
        return cls(platform=platform, **data)


def create_app(config: ServiceConfig | None = None) -> Any:
    """The ASGI application for *config* (see :class:`ServiceConfig` for the defaults)."""
    from .app import create_app as _create

    return _create(config)
