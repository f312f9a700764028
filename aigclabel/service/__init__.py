"""The HTTP service (``pip install 'aigclabel[service]'``): review and verify uploads over HTTP.

``create_app(config)`` builds the ASGI app (FastAPI on Starlette); ``aigclabel serve`` runs it with
uvicorn.  Importing this package does not import the web framework: the app module loads on the
first call to :func:`create_app`, so the core library never depends on it.

Endpoints: ``POST /v1/review``, ``POST /v1/verify``, ``GET /v1/profiles``, ``GET /healthz``, and
the OpenAPI docs at ``/docs`` (schema at ``/openapi.json``; the Swagger UI assets are served from
the ``swagger-ui-bundle`` package, so the page works on a host without internet access).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..limits import DEFAULT_LIMITS, Limits
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
    * ``max_upload_bytes``: the largest file accepted, the same for a raw body and a multipart form's
      ``file`` part (413 beyond it; checked against ``Content-Length`` first, then while streaming).
    * ``upload_timeout_s``: time allowed to receive a body (408); ``timeout_s``: time allowed to
      review or verify it, waiting for a worker included (503 with Retry-After; the work is stopped
      -- its worker process killed -- and its files removed at once).
    * ``max_concurrency``: worker processes reading uploads at once, per server process; up to
      ``max_queue`` more requests wait for one (beyond that: 503 with Retry-After at once).
    * ``limits``: the resource budget every job runs under (:class:`aigclabel.limits.Limits`;
      exceeding it is a 422 naming the limit).
    * ``worker_memory_bytes``: the address-space cap of each worker (``RLIMIT_AS``; a job that needs
      more is a 422 ``limit-exceeded`` / ``memory``); ``None``: no cap.
    * ``recycle_rss_bytes``: a worker whose resident memory is over this after a job is replaced.
    * ``tmp_dir``: where uploads are streamed (default: the system's temporary directory), as
      ``aigclabel-upload-<pid>-XXXXXXXX`` files removed when the response is done.
    * ``memory_upload_bytes``: a raw body of ``/v1/verify`` or ``/v1/review`` that declares a ``Content-Length``
      of at most this is kept in memory, not streamed to ``tmp_dir`` (0: every body to disk), while the bodies so
      held in one server process stay under ``memory_uploads_total``.
    * ``profile``: the default profile of ``/v1/verify``.
    * ``header_timeout_s``: ``aigclabel serve`` closes a connection whose request head has not
      arrived within this (:mod:`.protocol`).
    * ``access_log``: one line per request on stderr (method, path, status, ms, bytes; :mod:`.access`);
      ``aigclabel serve`` turns it on unless ``--quiet``.
    * ``trusted_keys``: a trusted-keys file applied to every request (``aigclabel serve --trusted-keys``).
    * ``api_keys``: keys a request must present (``Authorization: Bearer KEY`` or ``X-API-Key``; 401
      without one); empty: no key needed (``aigclabel serve --api-key`` / ``AIGCLABEL_API_KEY``).
    """

    platform: PlatformConfig | None = None
    max_upload_bytes: int = 256 * 1024 * 1024
    upload_timeout_s: float = 120.0
    timeout_s: float = 120.0
    max_concurrency: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    tmp_dir: str | None = None
    memory_upload_bytes: int = 1 << 20
    memory_uploads_total: int = 64 << 20
    profile: str = DEFAULT_PROFILE
    limits: Limits = DEFAULT_LIMITS
    max_queue: int = 64
    worker_memory_bytes: int | None = 3 << 30
    recycle_rss_bytes: int | None = 768 << 20
    header_timeout_s: float = 10.0
    access_log: bool = False
    #: a trusted-keys file (provider code -> SM2 keys) every review and verify checks SecurityData against
    trusted_keys: str | None = None
    #: API keys: when any, every request but the page shell, /healthz and the docs needs one (:mod:`.auth`)
    api_keys: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        if self.platform is not None:
            data["platform"] = self.platform.to_dict()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ServiceConfig:
        data = json.loads(text)
        platform = data.pop("platform", None)
        if isinstance(data.get("limits"), dict):
            data["limits"] = Limits(**data["limits"])
        if platform is not None:
            platform["ai_source_types"] = tuple(platform.get("ai_source_types", ()))
            platform = PlatformConfig(**platform)
        return cls(platform=platform, **data)


def create_app(config: ServiceConfig | None = None) -> Any:
    """The ASGI application for *config* (see :class:`ServiceConfig` for the defaults)."""
    from .app import create_app as _create

    return _create(config)
