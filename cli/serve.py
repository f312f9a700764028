"""``aigclabel serve``: the HTTP service (optional extra ``[service]``: FastAPI on uvicorn)."""

from __future__ import annotations

import os
import re
import sys

import click

from ._common import EXIT_USAGE, guarded

EPILOG = """\b
Examples:
  aigclabel serve
  aigclabel serve --host 0.0.0.0 --port 8080 --workers 4 --platform-code 00119144030008867405X220001
  aigclabel serve --platform platform.toml --max-upload 50M --timeout 30

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
              help="Worker processes (each reviews in threads; use about one per CPU).")
@click.option("--platform-code", metavar="CODE", help="Default platform code (a request's platform_code wins).")
@click.option("--platform", "platform_file", type=click.Path(dir_okay=False), metavar="FILE.toml",
              help="Default platform profile.")
@click.option("--detect-explicit", type=click.Choice(["auto", "always", "never"]),
              help="Default for reviews: look for visible/audible labels only when metadata decides nothing "
                   "(auto), always, or never; a request's detect_explicit wins.")
@click.option("--max-upload", default="256M", show_default=True, metavar="SIZE",
              help="Largest upload accepted (413 beyond it), e.g. 50M.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True, metavar="SECONDS",
              help="Time allowed to receive an upload, and again to process it.")
@click.option("--tmp-dir", type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="Where uploads are streamed (default: the system temporary directory).")
@guarded
def serve_cmd(host: str, port: int, workers: int, platform_code: str | None, platform_file: str | None,
              detect_explicit: str | None, max_upload: str, timeout: float, tmp_dir: str | None) -> None:
    """Serve review and verify over HTTP."""
    try:
        import uvicorn
    except ImportError:
        click.echo("aigclabel: error: the HTTP service needs the service extra: "
                   "pip install 'aigclabel[service]'", err=True)
        sys.exit(EXIT_USAGE)
    from aigclabel.platform import PlatformConfig, load_platform
    from aigclabel.service import ENV_CONFIG, ServiceConfig

    platform = None
    if platform_file:
        platform = load_platform(platform_file, code=platform_code, detect_explicit=detect_explicit)
    elif platform_code:
        platform = PlatformConfig(code=platform_code, **({"detect_explicit": detect_explicit} if detect_explicit else {}))
    cfg = ServiceConfig(platform=platform, max_upload_bytes=parse_size(max_upload), upload_timeout_s=timeout,
                        timeout_s=timeout, tmp_dir=os.path.abspath(tmp_dir) if tmp_dir else None)
    # Every worker process builds its app from the environment (uvicorn imports the factory by name).
    os.environ[ENV_CONFIG] = cfg.to_json()
    uvicorn.run("aigclabel.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)
