"""``aigclabel serve``: the HTTP service (optional extra ``[service]``: FastAPI on uvicorn)."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
from typing import Any

import click

from ._common import EXIT_ERROR, EXIT_USAGE, guarded

EPILOG = """\b
Examples:
  aigclabel serve
  aigclabel serve --port 0 --quiet              (any free port, no request log)
  aigclabel serve --host 0.0.0.0 --port 8080 --workers 4 --platform-code 00119144030008867405X220001
  aigclabel serve --platform platform.toml --max-upload 50M --timeout 30
  aigclabel serve --limits max_pixels=50e6,max_decode_seconds=20 --worker-memory 2G --max-queue 32
  AIGCLABEL_API_KEY=$(cat key.txt) aigclabel serve --host 0.0.0.0   (a key on every request)

\b
It prints where it listens ("aigclabel: serving on http://127.0.0.1:8000 (docs at /docs)") and one
line per request on stderr: method, path, status, time, bytes sent (--quiet: none).

\b
Endpoints: POST /v1/review, POST /v1/verify, GET /v1/profiles, GET /healthz; docs at /docs.
  curl -F file=@upload.png -F platform_code=CODE http://127.0.0.1:8000/v1/review
  curl --data-binary @upload.png -H 'Content-Type: application/octet-stream' \\
       'http://127.0.0.1:8000/v1/review?platform_code=CODE&declared_ai=true'
  curl -F file=@upload.png -F return_file=true -o spread.png http://127.0.0.1:8000/v1/review
"""

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)i?b?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``1048576``, ``512K``, ``50M``, ``2G`` (binary multiples) -> bytes."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a size such as 50M or 1048576")
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
    return int(float(match.group(1)) * unit)


@click.command("serve", epilog=EPILOG)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes (HTTP front ends; each has its own pool of --jobs workers).")
@click.option("--platform-code", metavar="CODE", help="Default platform code (a request's platform_code wins).")
@click.option("--platform", "platform_file", type=click.Path(dir_okay=False), metavar="FILE.toml",
              help="Default platform profile.")
@click.option("--detect-explicit", type=click.Choice(["auto", "always", "never"]),
              help="Default for reviews: look for visible/audible labels only when metadata decides nothing "
                   "(auto), always, or never; a request's detect_explicit wins.")
@click.option("--max-upload", default="256M", show_default=True, metavar="SIZE",
              help="Largest upload accepted (413 beyond it), e.g. 50M.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True, metavar="SECONDS",
              help="Time allowed to process an upload, waiting for a worker included (503 beyond it, the work "
                   "stopped); also to receive it, unless --body-timeout.")
@click.option("--tmp-dir", type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="Where uploads are streamed (default: the system temporary directory).")
@click.option("--memory-upload", default="1M", show_default=True, metavar="SIZE",
              help="A raw body (with Content-Length) of /v1/verify or /v1/review up to this size is kept in memory, "
                   "not written to --tmp-dir (0: every body to disk); at most 64M of bodies are so held at once.")
@click.option("--limits", "limits_spec", metavar="K=V,...",
              help="Resource budget of every request, e.g. max_pixels=50e6,max_allocation=128M "
                   "(names: see aigclabel.limits.Limits); over it, the answer is 422 naming the limit.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Uploads read at once per server process, each in its own worker process "
                   "[default: the number of CPUs, at least 2].")
@click.option("--max-queue", type=click.IntRange(min=0), default=64, show_default=True, metavar="N",
              help="Requests that may wait for a worker per server process; beyond that 503 with Retry-After.")
@click.option("--worker-memory", default="3G", show_default=True, metavar="SIZE",
              help="Address-space cap of each worker process (0: none); a file needing more is a 422.")
@click.option("--max-connections", type=click.IntRange(min=1), default=1000, show_default=True, metavar="N",
              help="Open connections per server process; beyond that 503.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Time allowed to receive a request body (408 beyond it) [default: --timeout].")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              metavar="SECONDS", help="Time allowed for a new connection to send its request headers.")
@click.option("--trusted-keys", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Trusted keys (provider code -> SM2 public keys) every review and verify checks SecurityData "
                   "signers against: a label signed by a key not listed for its producer is an error / not tier 1.")
@click.option("--api-key", "api_keys", multiple=True, metavar="KEY", envvar="AIGCLABEL_API_KEY",
              help="Require this key on every API and page request (Authorization: Bearer KEY or X-API-Key: "
                   "KEY; 401 without it); repeat for several keys [env: AIGCLABEL_API_KEY]. Open without a key: "
                   "the page shell, /healthz and the docs.")
@click.option("-q", "--quiet", is_flag=True, help="No request log (errors are still reported).")
@guarded
def serve_cmd(host: str, port: int, workers: int, platform_code: str | None, platform_file: str | None,
              detect_explicit: str | None, max_upload: str, timeout: float, tmp_dir: str | None, memory_upload: str,
              limits_spec: str | None, jobs: int | None, max_queue: int, worker_memory: str, max_connections: int,
              body_timeout: float | None, header_timeout: float, trusted_keys: str | None, api_keys: tuple[str, ...],
              quiet: bool) -> None:
    """Serve review and verify over HTTP.

    Each upload is read in a worker process under the resource budget (--limits) and a memory cap
    (--worker-memory); a request over --timeout is answered 503 and its work stopped.
    """
    try:
        import uvicorn
    except ImportError:
        click.echo("aigclabel: error: the HTTP service needs the service extra: "
                   "pip install 'aigclabel[service]'", err=True)
        sys.exit(EXIT_USAGE)
    from aigclabel.limits import parse_limits
    from aigclabel.platform import PlatformConfig, load_platform
    from aigclabel.service import ENV_CONFIG, ServiceConfig
    from aigclabel.service.protocol import PROTOCOL

    try:
        limits = parse_limits(limits_spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limits") from None

    platform = None
    if platform_file:
        platform = load_platform(platform_file, code=platform_code, detect_explicit=detect_explicit)
    elif platform_code:
        options: dict[str, Any] = {"detect_explicit": detect_explicit} if detect_explicit else {}
        platform = PlatformConfig(code=platform_code, **options)
    if trusted_keys:
        from aigclabel.errors import OptionError
        from aigclabel.security import load_trusted_keys

        try:
            load_trusted_keys(trusted_keys)  # a bad file stops the server before it listens
        except OptionError as exc:
            raise click.BadParameter(str(exc), param_hint="--trusted-keys") from None
        trusted_keys = os.path.abspath(trusted_keys)
    memory = parse_size(worker_memory)
    extra: dict[str, Any] = {"max_concurrency": jobs} if jobs else {}
    cfg = ServiceConfig(platform=platform, max_upload_bytes=parse_size(max_upload),
                        upload_timeout_s=body_timeout or timeout, timeout_s=timeout,
                        tmp_dir=os.path.abspath(tmp_dir) if tmp_dir else None,
                        memory_upload_bytes=parse_size(memory_upload), limits=limits, max_queue=max_queue,
                        worker_memory_bytes=memory or None, header_timeout_s=header_timeout,
                        access_log=not quiet, trusted_keys=trusted_keys, api_keys=_keys(api_keys), **extra)
    # Every worker process builds its app from the environment (uvicorn imports the factory by name).
    os.environ[ENV_CONFIG] = cfg.to_json()
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it: let that end the process the
    # default way (killed by SIGTERM, which service managers count as a clean stop), not as exit 143.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # uvicorn's own access log is off: the app writes ours (aigclabel.service.access)
    config = uvicorn.Config("aigclabel.service.app:app_from_env", factory=True, host=host, port=port,
                            workers=workers, log_level="warning", access_log=False, http=PROTOCOL,
                            limit_concurrency=max_connections)
    sock = _listen(host, port)  # bound here, so the line below names the real port (also for --port 0)
    shown = f"[{host}]" if ":" in host else host
    keyed = f", {len(cfg.api_keys)} API key(s) required" if cfg.api_keys else ""
    click.echo(f"aigclabel: serving on http://{shown}:{sock.getsockname()[1]} (docs at /docs{keyed})", err=True)
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if workers == 1 and not server.started:
        sys.exit(EXIT_ERROR)  # the app could not start (uvicorn said why)


def _keys(given: tuple[str, ...]) -> list[str]:
    """The API keys, each stripped; an empty or blank key is a usage error, never "no key needed"."""
    keys = [k.strip() for k in given]
    if any(not k for k in keys):
        raise click.BadParameter("an API key must not be empty", param_hint="--api-key")
    if any(not k.isprintable() or " " in k for k in keys):
        raise click.BadParameter("an API key must be printable, without spaces", param_hint="--api-key")
    return keys


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on *host*:*port*, or one line naming the address and the cause (exit 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        click.echo(f"aigclabel: error: cannot listen on {host}:{port} ({exc.strerror or exc})", err=True)
        sys.exit(EXIT_ERROR)
    except (UnicodeError, ValueError) as exc:  # a host name that cannot be resolved or encoded
        sock.close()
        raise click.BadParameter(f"{host!r} is not an address to listen on ({exc})", param_hint="--host") from None
    sock.listen(2048)  # listening now, as the "serving on" line says (uvicorn's default backlog)
    sock.set_inheritable(True)  # the worker processes of --workers N serve it too
    return sock
