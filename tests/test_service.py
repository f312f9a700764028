"""The HTTP service, over loopback: the real `aigclabel serve` (uvicorn) and, for limits that need odd
settings, the same app on a uvicorn server in a thread."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx",
                            reason="the service tests need the service extra: pip install 'aigclabel[service]'")
uvicorn = pytest.importorskip("uvicorn", reason="pip install 'aigclabel[service]'")
pytest.importorskip("fastapi", reason="pip install 'aigclabel[service]'")

import aigclabel  # noqa: E402
from aigclabel.platform import PlatformConfig  # noqa: E402
from aigclabel.service import ServiceConfig, create_app  # noqa: E402
from conftest import PRODUCER, make_png  # noqa: E402

PLATFORM = "00119144030008867405X220001"
OTHER = "00119144030008867405X220002"
LIMIT = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`aigclabel serve` in a subprocess on 127.0.0.1, 2 workers, 1 MiB limit, its own temp dir."""
    scratch = tmp_path_factory.mktemp("uploads")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "serve",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                             "--platform-code", PLATFORM, "--max-upload", "1M", "--tmp-dir", str(scratch)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base, scratch
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    plain = make_png(size=(64, 48))
    return {
        "marked": aigclabel.mark(plain, producer=PRODUCER, produce_id="svc-1", explicit=False),
        "plain": plain,
        "sd": make_png(size=(64, 48), text=[("parameters", "a cat, Steps: 20")]),
    }


def scratch_empty(scratch: Path, wait: float = 5.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not any(scratch.iterdir()):
            return True
        time.sleep(0.05)
    return False


# ----------------------------------------------------------------------------------------- the real server


def test_review_multipart_marked_png_is_tier1(server: tuple[str, Path], files: dict[str, bytes]) -> None:
    base, scratch = server
    res = httpx.post(f"{base}/v1/review", files={"file": ("../../etc/passwd.png", files["marked"], "image/png")})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["tier"] == 1 and body["notice"] == "AI-generated"
    assert body["path"] == "passwd.png"  # the client's name is display only
    assert body["record"]["ContentProducer"] == PRODUCER and body["record"]["ContentPropagator"] == PLATFORM
    assert {"path", "tier", "notice", "evidence", "record"} <= set(body)
    assert str(scratch) not in res.text  # no server path leaks
    # form fields: another platform code, the declaration, Chinese notice
    res = httpx.post(f"{base}/v1/review", files={"file": ("a.png", files["plain"])},
                     data={"platform_code": OTHER, "declared_ai": "true", "language": "zh"})
    body = res.json()
    assert body["tier"] == 2 and body["notice"] == "可能为AI生成内容" and body["record"]["ContentPropagator"] == OTHER
    assert scratch_empty(scratch)


def test_review_raw_body_and_return_file(server: tuple[str, Path], files: dict[str, bytes], tmp_path: Path) -> None:
    base, scratch = server
    res = httpx.post(f"{base}/v1/review?declared_ai=false", content=files["sd"],
                     headers={"Content-Type": "application/octet-stream"})
    assert res.status_code == 200 and res.json()["tier"] == 3
    res = httpx.post(f"{base}/v1/review?return_file=true&propagate_id=web-77", content=files["marked"],
                     headers={"Content-Type": "application/octet-stream"})
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    assert res.headers["x-aigc-tier"] == "1"
    (lab,) = aigclabel.inspect(res.content).labels
    record = json.loads(lab.raw)
    assert record["PropagateID"] == "web-77" and record["ProduceID"] == "svc-1"
    assert json.loads(res.headers["x-aigc-record"]) == record
    res = httpx.post(f"{base}/v1/review?return_file=true", content=files["plain"])
    assert res.status_code == 409 and res.json()["error"]["kind"] == "not-written"
    assert res.json()["review"]["tier"] is None
    assert scratch_empty(scratch)


def test_limits_and_errors_are_json(server: tuple[str, Path], files: dict[str, bytes]) -> None:
    base, scratch = server
    big = os.urandom(LIMIT + 10)
    res = httpx.post(f"{base}/v1/review", content=big)  # Content-Length over the limit: refused up front
    assert res.status_code == 413 and res.json()["error"]["kind"] == "too-large"

    def chunks() -> Iterator[bytes]:  # no Content-Length (chunked): cut off while streaming
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    res = httpx.post(f"{base}/v1/review", content=chunks())
    assert res.status_code == 413
    res = httpx.post(f"{base}/v1/review", files={"file": ("big.png", big)})
    assert res.status_code == 413
    res = httpx.post(f"{base}/v1/review", files={"file": ("junk.bin", b"\x00\x01garbage" * 10)})
    assert res.status_code == 415 and res.json()["error"]["kind"] == "unsupported-format"
    res = httpx.post(f"{base}/v1/review", files={"file": ("cut.png", files["marked"][:60])})
    assert res.status_code == 422 and res.json()["error"]["kind"] == "corrupt-file"
    res = httpx.post(f"{base}/v1/review", data={"platform_code": PLATFORM}, files={"other": ("x", b"x")})
    assert res.status_code == 400 and "'file'" in res.json()["error"]["message"]
    res = httpx.post(f"{base}/v1/review", content=b"")
    assert res.status_code == 400
    res = httpx.post(f"{base}/v1/review", data={"a": "b"})
    assert res.status_code == 415
    res = httpx.post(f"{base}/v1/review", files={"file": ("a.png", files["plain"])}, data={"declared_ai": "maybe"})
    assert res.status_code == 400
    res = httpx.post(f"{base}/v1/review", files={"file": ("a.png", files["plain"])},
                     data={"platform_code": "平台 code"})
    assert res.status_code == 400 and res.json()["error"]["kind"] == "label-error"
    assert scratch_empty(scratch)


def test_verify_profiles_health_docs(server: tuple[str, Path], files: dict[str, bytes]) -> None:
    base, scratch = server
    res = httpx.post(f"{base}/v1/verify?profile=cn-gb45438-2025&scope=implicit", content=files["marked"])
    assert res.status_code == 200 and res.json()["verdict"] == "compliant"
    res = httpx.post(f"{base}/v1/verify", files={"file": ("p.png", files["plain"])}, data={"scope": "implicit"})
    assert res.json()["verdict"] == "noncompliant" and res.json()["path"] == "p.png"
    for profile in ("no-such", "../profiles/cn-gb45438-2025.toml", "/etc/passwd"):
        res = httpx.post(f"{base}/v1/verify", params={"profile": profile}, content=files["marked"])
        assert res.status_code == 400 and res.json()["error"]["kind"] == "profile-error"
    ids = [p["id"] for p in httpx.get(f"{base}/v1/profiles").json()]
    assert "cn-gb45438-2025" in ids
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    schema = httpx.get(f"{base}/openapi.json").json()
    assert {"/v1/review", "/v1/verify", "/v1/profiles", "/healthz"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/v1/review"]["post"]["requestBody"]["content"]
    assert httpx.get(f"{base}/docs").status_code == 200
    assert scratch_empty(scratch)


def test_concurrent_clients(server: tuple[str, Path], files: dict[str, bytes]) -> None:
    base, scratch = server
    results: list[int] = []

    def client() -> None:
        with httpx.Client() as c:
            for _ in range(5):
                r = c.post(f"{base}/v1/review", files={"file": ("m.png", files["marked"])})
                results.append(r.json()["tier"])

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 30
    assert scratch_empty(scratch)


# ----------------------------------------------------------------------------------------- odd settings


@pytest.fixture
def threaded(tmp_path: Path) -> Iterator[Any]:
    """Start create_app(config) on uvicorn in a thread on 127.0.0.1; yields a starter."""
    servers: list[tuple[Any, threading.Thread]] = []

    def start(config: ServiceConfig) -> str:
        server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=free_port(),
                                               log_level="warning", access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        base = f"http://127.0.0.1:{server.config.port}"
        wait_ready(base)
        return base

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_timeouts_and_cleanup(threaded: Any, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    from aigclabel.explicit import ocr

    cfg = ServiceConfig(platform=PlatformConfig(code=PLATFORM, detect_explicit="always"), timeout_s=0.05,
                        upload_timeout_s=0.5, tmp_dir=str(scratch))
    base = threaded(cfg)
    if ocr.available():
        big = make_png(size=(900, 700))  # OCR of this takes far longer than 50 ms
        res = httpx.post(f"{base}/v1/review", content=big, timeout=30)
        assert res.status_code == 503 and res.json()["error"]["kind"] == "timeout"
        assert scratch_empty(scratch, wait=30)  # the abandoned job removed its upload when it ended

    def slow() -> Iterator[bytes]:
        yield b"\x89PNG\r\n\x1a\n"
        time.sleep(1.5)
        yield b"\x00" * 10

    res = httpx.post(f"{base}/v1/review", content=slow(), timeout=30)
    assert res.status_code == 408 and res.json()["error"]["kind"] == "timeout"
    assert scratch_empty(scratch)


def test_no_default_platform_needs_a_code(threaded: Any, tmp_path: Path) -> None:
    base = threaded(ServiceConfig(tmp_dir=str(tmp_path)))
    png = make_png()
    res = httpx.post(f"{base}/v1/review", content=png)
    assert res.status_code == 400 and "platform_code" in res.json()["error"]["message"]
    res = httpx.post(f"{base}/v1/review", params={"platform_code": PLATFORM, "declared_ai": "1"}, content=png)
    assert res.status_code == 200 and res.json()["tier"] == 2
    assert not any(tmp_path.iterdir())


def test_core_does_not_import_the_web_framework() -> None:
    code = ("import sys, aigclabel, aigclabel.platform, aigclabel.batch, aigclabel.service; "
            "aigclabel.review if hasattr(aigclabel, 'review') else None; "
            "print(any(m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_limits_apply_per_request_and_name_the_limit(threaded: Any, tmp_path: Path) -> None:
    """The service's Limits reach the readers in the worker; over one, a 422 naming it (issue 12)."""
    from aigclabel.limits import Limits

    cfg = ServiceConfig(platform=PlatformConfig(code=PLATFORM), tmp_dir=str(tmp_path),
                        limits=Limits(max_bytes_read=100))
    assert ServiceConfig.from_json(cfg.to_json()).limits == cfg.limits  # it reaches `serve --workers N` too
    base = threaded(cfg)
    png = make_png()
    for res in (httpx.post(f"{base}/v1/review", content=png, timeout=30),
                httpx.post(f"{base}/v1/verify", files={"file": ("a.png", png)}, timeout=30)):
        assert res.status_code == 422, res.text
        error = res.json()["error"]
        assert error["kind"] == "limit-exceeded" and error["limit"] == "max_bytes_read"
        assert str(tmp_path) not in res.text and error["message"].split(":")[0] in ("upload", "a.png")
    assert not any(tmp_path.iterdir())


def test_serve_rejects_bad_limits() -> None:
    res = subprocess.run([sys.executable, "-c", "from aigclabel.cli.main import main; main()", "serve",
                          "--limits", "max_nothing=1"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unknown limit" in res.stderr


# ----------------------------------------------------------------------------------------- small bodies in memory


def test_small_raw_body_is_read_in_memory_and_answered_as_from_disk(threaded: Any, tmp_path: Path,
                                                                    files: dict[str, bytes]) -> None:
    """Issue 15: a small raw body goes to the worker as bytes, never to a temporary file; the answer is the same.

    The in-memory servers are given a temporary directory that does not exist: a body written to disk there
    would be a 503 (server-storage), so a 200 proves nothing was written.
    """
    gone = str(tmp_path / "no-such-dir")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    platform = PlatformConfig(code=PLATFORM)
    memory = threaded(ServiceConfig(platform=platform, tmp_dir=gone))
    disk = threaded(ServiceConfig(platform=platform, tmp_dir=str(scratch), memory_upload_bytes=0))
    never = threaded(ServiceConfig(platform=platform, tmp_dir=gone, memory_upload_bytes=0))
    tight = threaded(ServiceConfig(platform=platform, tmp_dir=gone, memory_uploads_total=len(files["marked"]) - 1))
    query = {"scope": "implicit", "filename": "m.png"}
    for path in ("/v1/verify", "/verify", "/v1/review"):
        from_memory = httpx.post(f"{memory}{path}", params=query, content=files["marked"], timeout=30)
        from_disk = httpx.post(f"{disk}{path}", params=query, content=files["marked"], timeout=30)
        assert from_memory.status_code == from_disk.status_code == 200, (from_memory.text, from_disk.text)
        assert from_memory.headers["content-type"] == from_disk.headers["content-type"] == "application/json"
        answers = [from_memory.json(), from_disk.json()]
        for answer in answers:  # a review's record gets a fresh PropagateID each time
            answer.get("record", {}).pop("PropagateID", None)
        assert answers[0] == answers[1]
        assert answers[0]["path"] == "m.png"
        # the same body where it must go to disk: too big for the memory budget, or in-memory bodies off
        for base in (never, tight):
            res = httpx.post(f"{base}{path}", params=query, content=files["marked"], timeout=30)
            assert res.status_code == 503 and res.json()["error"]["kind"] == "server-storage", res.text
    verdict = httpx.post(f"{memory}/v1/verify", params=query, content=files["marked"]).json()
    assert verdict["verdict"] == "compliant" and verdict["format"] == "png"
    assert httpx.post(f"{memory}/v1/review", content=files["marked"]).json()["tier"] == 1
    # a review that sends the file back writes it beside the upload: that upload goes to disk
    res = httpx.post(f"{memory}/v1/review", params={"return_file": "true"}, content=files["marked"], timeout=30)
    assert res.status_code == 503 and res.json()["error"]["kind"] == "server-storage"
    # a body without a Content-Length (chunked) is streamed to disk
    res = httpx.post(f"{memory}/v1/verify", content=iter([files["marked"]]), timeout=30)
    assert res.status_code == 503 and res.json()["error"]["kind"] == "server-storage"
    assert scratch_empty(scratch)


def test_in_memory_bodies_keep_the_limits_and_errors(threaded: Any, tmp_path: Path, files: dict[str, bytes]) -> None:
    gone = str(tmp_path / "no-such-dir")
    cfg = ServiceConfig(platform=PlatformConfig(code=PLATFORM), tmp_dir=gone, max_upload_bytes=len(files["marked"]),
                        api_keys=["k1"])
    base = threaded(cfg)
    key = {"X-API-Key": "k1"}
    res = httpx.post(f"{base}/v1/verify", content=files["marked"], timeout=30)
    assert res.status_code == 401 and res.json()["error"]["kind"] == "unauthorized"  # the direct route is guarded
    res = httpx.post(f"{base}/v1/verify?scope=implicit", content=files["marked"], headers=key, timeout=30)
    assert res.status_code == 200 and res.json()["verdict"] == "compliant"
    res = httpx.post(f"{base}/v1/verify", content=files["marked"] + b"x", headers=key, timeout=30)
    assert res.status_code == 413 and res.json()["error"]["kind"] == "too-large"
    res = httpx.post(f"{base}/v1/verify", params={"profile": "nope"}, content=files["marked"], headers=key)
    assert res.status_code == 400 and res.json()["error"]["kind"] == "profile-error"
    res = httpx.post(f"{base}/v1/verify", content=bytes(range(256)) * 2, headers=key, timeout=30)
    assert res.status_code == 415 and res.json()["error"]["kind"] == "unsupported-format"
    res = httpx.post(f"{base}/v1/verify", content=files["marked"][:200], params={"filename": "cut.png"}, headers=key)
    assert res.status_code == 422 and res.json()["error"]["kind"] == "corrupt-file" and str(tmp_path) not in res.text
    res = httpx.get(f"{base}/v1/verify", headers=key)  # other methods: FastAPI's own answer
    assert res.status_code == 405 and res.json()["error"]["kind"] == "method-not-allowed"
    assert cfg.memory_upload_bytes == ServiceConfig.from_json(cfg.to_json()).memory_upload_bytes
