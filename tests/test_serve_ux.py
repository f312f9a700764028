"""``aigclabel serve`` as its user meets it (issue 14 item 13): where it listens, one log line per request,
``--quiet``, ``/docs`` with no asset from outside the server, and an OpenAPI document that declares the
error answers the endpoints really give.  The real server, started by the installed command on
127.0.0.1 with ``--port 0``; the port is the one it prints.
"""

from __future__ import annotations

import io
import json
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Iterator
from urllib.parse import urljoin

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
from PIL import Image  # noqa: E402

PLATFORM = "00119144030008867405X220001"
_LISTENING = re.compile(r"^aigclabel: serving on (http://127\.0\.0\.1:(\d+)) \(docs at /docs\)$")
_REQUEST = re.compile(r"^aigclabel: (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}|-) (?P<ms>\d+\.\d) ms "
                      r"(?P<bytes>\d+) B \((?P<client>[^)]+)\)$")


def _command() -> list[str]:
    exe = shutil.which("aigclabel")
    return [exe] if exe else [sys.executable, "-m", "aigclabel.cli.main"]


class Server:
    """The running command: its base URL and every stderr line so far."""

    def __init__(self, proc: subprocess.Popen[str], base: str, lines: queue.Queue[str]) -> None:
        self.proc, self.base, self._lines = proc, base, lines
        self.seen: list[str] = []

    def lines(self, settle: float = 0.3) -> list[str]:
        deadline = time.monotonic() + settle
        while True:
            try:
                self.seen.append(self._lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return list(self.seen)

    def requests(self) -> list[dict[str, str]]:
        return [m.groupdict() for m in map(_REQUEST.match, self.lines()) if m]


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def run(*extra: str) -> Server:
        scratch = tmp_path_factory.mktemp("uploads")
        proc = subprocess.Popen([*_command(), "serve", "--host", "127.0.0.1", "--port", "0", "--jobs", "1",
                                 "--tmp-dir", str(scratch), *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stderr is not None

        def pump(stream: io.TextIOBase = proc.stderr) -> None:
            for line in stream:
                lines.put(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()
        first = lines.get(timeout=60)
        match = _LISTENING.match(first)
        assert match, f"first line: {first!r}"
        server = Server(proc, match.group(1), lines)
        server.seen.append(first)
        deadline = time.monotonic() + 60
        while True:  # the port is listening already; the app answers once its worker pool has started
            try:
                if httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    yield run
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


@pytest.fixture(scope="module")
def server(start: Any) -> Server:
    # no default platform (review needs platform_code: a real 400); a small upload limit (a real 413);
    # a short body deadline (a real 408)
    return start("--max-upload", "8K", "--body-timeout", "0.5")  # type: ignore[no-any-return]


def png(size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ the log


def test_it_says_where_it_listens_and_logs_each_request_in_one_line(server: Server) -> None:
    before = len(server.requests())
    res = httpx.get(f"{server.base}/healthz", params={"password": "s3cret"})
    bad = httpx.post(f"{server.base}/v1/verify", params={"profile": "no-such"}, content=png())
    logged = server.requests()[before:]
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [("GET", "/healthz", "200"),
                                                                       ("POST", "/v1/verify", "400")]
    assert int(logged[0]["bytes"]) == len(res.content) and int(logged[1]["bytes"]) == len(bad.content)
    assert logged[0]["client"] == "127.0.0.1" and float(logged[0]["ms"]) >= 0
    assert not any("s3cret" in line for line in server.lines()), "the query string is never logged"
    # nothing of uvicorn's own access log
    assert not any('HTTP/1.1"' in line for line in server.lines())


def test_quiet_turns_the_request_log_off(start: Any) -> None:
    quiet = start("--quiet")
    assert httpx.get(f"{quiet.base}/healthz").status_code == 200
    assert httpx.get(f"{quiet.base}/v1/profiles").status_code == 200
    lines = quiet.lines(settle=0.5)
    assert _LISTENING.match(lines[0]) and quiet.requests() == [], lines


def test_serve_names_a_busy_port_in_one_line(server: Server) -> None:
    port = server.base.rsplit(":", 1)[1]
    done = subprocess.run([*_command(), "serve", "--host", "127.0.0.1", "--port", port], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [f"aigclabel: error: cannot listen on 127.0.0.1:{port} "
                                                "(Address already in use)"]


# ------------------------------------------------------------------------------------------ /docs


def test_docs_page_loads_nothing_from_outside(server: Server) -> None:
    page = httpx.get(f"{server.base}/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    refs += re.findall(r"""\burl:\s*["']([^"']+)["']""", page.text)  # the OpenAPI document Swagger UI fetches
    assert len(refs) >= 4, refs  # the CSS, the favicon, the bundle, the document
    for ref in refs:
        assert not re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", ref, re.IGNORECASE), f"external reference {ref!r}"
        answer = httpx.get(urljoin(f"{server.base}/docs", ref))
        assert answer.status_code == 200 and answer.content, ref
    bundle = httpx.get(urljoin(f"{server.base}/docs", next(r for r in refs if r.endswith(".js"))))
    assert "SwaggerUIBundle" in bundle.text and bundle.headers["content-type"].startswith(("application/javascript",
                                                                                          "text/javascript"))
    assert httpx.get(f"{server.base}/redoc").status_code == 404  # ReDoc has no packaged assets: off


# ------------------------------------------------------------------------------------------ OpenAPI errors


def _raw_request(base: str, head: str, body: bytes, wait: float) -> tuple[int, bytes]:
    """Send *head* and part of a body, wait, and read the answer (a body that never finishes)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        time.sleep(wait)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    match = re.search(rb"(?i)content-length:\s*(\d+)", data)
    return int(match.group(1)) if match else 0


def test_openapi_declares_every_error_the_endpoints_give(server: Server) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = httpx.get(f"{server.base}/openapi.json").json()
    error_schema = doc["components"]["schemas"]["Error"]
    base = server.base
    form_png = {"file": ("a.png", png())}
    provoked: list[tuple[str, int, bytes]] = []

    def record(path: str, res: Any) -> None:
        provoked.append((path, res.status_code, res.content))

    record("/v1/verify", httpx.post(f"{base}/v1/verify", params={"profile": "no-such"}, content=png()))
    record("/v1/verify", httpx.post(f"{base}/v1/verify", params={"scope": "bogus"}, content=png()))
    record("/v1/review", httpx.post(f"{base}/v1/review", files=form_png))  # no platform_code, no default: 400
    record("/v1/review", httpx.post(f"{base}/v1/review", files=form_png,
                                    data={"platform_code": PLATFORM, "declared_ai": "maybe"}))
    big = png((200, 200)) + b"\0" * 9000
    record("/v1/verify", httpx.post(f"{base}/v1/verify", content=big))
    record("/v1/review", httpx.post(f"{base}/v1/review", params={"platform_code": PLATFORM}, content=big))
    record("/v1/verify", httpx.post(f"{base}/v1/verify", content=b"a=b",
                                    headers={"content-type": "application/x-www-form-urlencoded"}))
    record("/v1/verify", httpx.post(f"{base}/v1/verify", content=b"\x00\x01\x02\x03binary of no known format\xff"))
    corrupt = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\xff" * 40
    record("/v1/verify", httpx.post(f"{base}/v1/verify", content=corrupt))
    record("/v1/review", httpx.post(f"{base}/v1/review", params={"platform_code": PLATFORM}, content=corrupt))
    record("/v1/review", httpx.post(f"{base}/v1/review", files=form_png,  # no tier: nothing to return
                                    data={"platform_code": PLATFORM, "return_file": "true"}))
    for path in ("/v1/verify", "/v1/review"):
        head = (f"POST {path}?platform_code={PLATFORM} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream"
                "\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n")
        status, body = _raw_request(base, head, b"\x89PNG", wait=1.2)
        provoked.append((path, status, body))

    seen: dict[str, set[int]] = {}
    for path, status, body in provoked:
        declared = doc["paths"][path]["post"]["responses"]
        assert str(status) in declared, f"{path} answered {status}, which the document does not declare"
        jsonschema.validate(json.loads(body), error_schema)
        seen.setdefault(path, set()).add(status)
    assert seen["/v1/verify"] == {400, 408, 413, 415, 422}
    assert seen["/v1/review"] == {400, 408, 409, 413, 422}
    # and nothing is declared that an endpoint cannot give: 409 is review's alone
    assert "409" not in doc["paths"]["/v1/verify"]["post"]["responses"]
    assert doc["openapi"].startswith("3.0")
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
