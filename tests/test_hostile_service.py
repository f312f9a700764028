"""The service under hostile load (issue 12 item 6): the real `aigclabel serve` on 127.0.0.1.

One run mixes 100 concurrent uploads (labelled PNG, JPEG and WAV made with `aigclabel.mark`, their
truncations, flipped headers, random bytes, a WAV declaring a 4.3 GHz rate), oversized bodies,
200 slow connections (slow headers and slow bodies) and malformed requests, and asserts: no 500,
no internal error, the server stays up, every slow connection is closed by the server in bounded
time, the server's peak RSS (its own and its workers' VmHWM, sampled from /proc) is bounded, and no
temporary file is left.  Separate checks: one size limit for raw and multipart bodies (exactly the
limit accepted, one byte over refused, 413 before the body is sent), a request that times out while
queued leaves no file (503 with Retry-After), and work stops when its request is answered or its
client goes away (the worker process is killed).

Run as a script for the figures: ``python3 tests/test_hostile_service.py``.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import wave
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

httpx = pytest.importorskip("httpx", reason="pip install 'aigclabel[service]'")
pytest.importorskip("uvicorn", reason="pip install 'aigclabel[service]'")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aigclabel  # noqa: E402
from conftest import PRODUCER, make_jpeg, make_png  # noqa: E402

PLATFORM = "00119144030008867405X220001"
LIMIT = 1 << 20
CLI = [sys.executable, "-c", "from aigclabel.cli.main import main; main()"]


# ----------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """Every descendant of *pid* (from /proc: no psutil needed)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class RssSampler:
    """Samples VmHWM of the server and all its descendants; keeps each process's peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peaks, self.total_peak = pid, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in [self.pid, *children(self.pid)]:
                hwm = status_kb(pid, "VmHWM") * 1024
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
                total += status_kb(pid, "VmRSS") * 1024
            self.total_peak = max(self.total_peak, total)
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def start_server(scratch: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--platform-code", PLATFORM,
                             "--max-upload", "1M", "--tmp-dir", str(scratch), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        _, err = proc.communicate()
    return err.decode(errors="replace")


def scratch_files(scratch: Path, wait: float = 5.0) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        left = [p.name for p in scratch.iterdir()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def worker_dirs() -> set[str]:
    """The pool workers' private temporary directories now in the system temp dir."""
    import tempfile

    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("aigclabel-worker-")}


def make_wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{int(seconds * rate)}h", *(int(3000 * ((i // 20) % 2 * 2 - 1))
                                                                 for i in range(int(seconds * rate)))))
    return buf.getvalue()


def make_mp3() -> bytes | None:
    try:
        import lameenc
    except ImportError:
        return None
    enc = lameenc.Encoder()
    enc.set_bit_rate(64)
    enc.set_in_sample_rate(16000)
    enc.set_channels(1)
    enc.set_quality(7)
    return bytes(enc.encode(make_wav()[44:]) + enc.flush())


def bad_txxx(mp3: bytes) -> bytes:
    """An ID3v2.3 tag whose TXXX frame claims UTF-16 but holds a lone surrogate (issue 12: crashed the service)."""
    payload = b"\x01\xff\xfe\x00\xd8\x00\x00x"
    frame = b"TXXX" + struct.pack(">I", len(payload)) + b"\x00\x00" + payload
    size = len(frame)
    return (b"ID3\x03\x00\x00" + bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
            + frame + mp3)


def corpus() -> dict[str, list[tuple[str, bytes]]]:
    """Labelled files of three or four formats (made by the real marker) and corrupt ones."""
    good = [("a.png", aigclabel.mark(make_png(size=(96, 64)), producer=PRODUCER, produce_id="h-1", explicit=False)),
            ("b.jpg", aigclabel.mark(make_jpeg(size=(96, 64)), producer=PRODUCER, produce_id="h-2", explicit=False)),
            ("c.wav", aigclabel.mark(make_wav(), producer=PRODUCER, produce_id="h-3", explicit=False))]
    mp3 = make_mp3()
    if mp3 is not None:
        good.append(("d.mp3", aigclabel.mark(mp3, producer=PRODUCER, produce_id="h-4", explicit=False)))
    rng = random.Random(12)
    bad: list[tuple[str, bytes]] = []
    for name, data in good:
        bad.append(("cut-" + name, data[: len(data) // 2]))
        bad.append(("head-" + name, data[:40]))
        flipped = bytearray(data)
        for i in rng.sample(range(8, min(len(data), 200)), 6):
            flipped[i] ^= 0xFF
        bad.append(("flip-" + name, bytes(flipped)))
    bad.append(("noise.bin", rng.randbytes(5000)))
    if mp3 is not None:
        bad.append(("txxx.mp3", bad_txxx(mp3)))
    wav = bytearray(good[2][1])
    at = wav.index(b"fmt ") + 12
    wav[at:at + 4] = struct.pack("<I", 4_290_000_000)  # fmt sample rate: 4.3 GHz (the MemoryError)
    bad.append(("rate.wav", bytes(wav)))
    return {"good": good, "bad": bad}


# ----------------------------------------------------------------------------------------- the load


async def _raw(port: int, payload: bytes, read_timeout: float = 20.0) -> bytes:
    """Send *payload* as is; the server's whole answer (until it closes or the timeout)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        with_status = await asyncio.wait_for(reader.read(65536), read_timeout)
        return with_status
    except (ConnectionError, asyncio.TimeoutError):
        return b""
    finally:
        writer.close()


def _status(answer: bytes) -> int:
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0  # closed without an answer


async def _slow(port: int, kind: str, hold: float) -> tuple[str, float]:
    """A slow client: headers (or a body) trickled, then silence; how long until the server hung up."""
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if kind == "head":
            writer.write(b"POST /v1/review HTTP/1.1\r\nHost: x\r\n")
        else:
            writer.write(b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: 100000\r\n\r\n\x89PNG")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), hold)
        return (str(_status(answer)) if answer else "closed"), time.monotonic() - t0
    except asyncio.TimeoutError:
        return "still-open", time.monotonic() - t0
    except ConnectionError:
        return "closed", time.monotonic() - t0
    finally:
        writer.close()


MALFORMED: list[bytes] = [
    b"GARBAGE\r\n\r\n",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE /v1/review HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" + b"b" * 200
    + b"\r\nContent-Length: 4\r\n\r\nabcd",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
    b"Content-Length: 30\r\n\r\n--XX\r\nno headers, no end........",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 60\r\n"
    b"\r\n--XX\r\nContent-Disposition: form-data; name=file\r\n\r\n--XX--\r\n" + b" " * 6,
    b"POST /v1/verify?scope=nope HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /v1/review?declared_ai=maybe HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 3\r\n\r\na=b",
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",  # body shorter than declared
    b"POST /v1/review HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 100_000 + b"\r\n\r\n",
]


def _form(field: str, name: str, data: bytes, boundary: str = "hostileBOUNDARY") -> tuple[bytes, str]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def _upload(client: Any, base: str, i: int, name: str, data: bytes) -> tuple[int, str, float]:
    t0 = time.monotonic()
    endpoint = "/v1/verify" if i % 4 == 3 else "/v1/review"
    params = {"scope": "implicit"} if endpoint == "/v1/verify" else {}
    if i % 2:
        res = await client.post(base + endpoint, files={"file": (name, data)}, data=params)
    else:
        res = await client.post(base + endpoint, content=data, params={**params, "filename": name},
                                headers={"Content-Type": "application/octet-stream"})
    kind = ""
    if res.status_code >= 400:
        try:
            kind = res.json()["error"]["kind"]
        except ValueError:
            kind = "not-json"
    return res.status_code, kind, time.monotonic() - t0


async def _oversized(client: Any, base: str, i: int, port: int) -> tuple[int, str, float]:
    t0 = time.monotonic()
    if i % 3 == 0:  # a huge Content-Length, no body at all: the answer must not wait for it
        answer = await _raw(port, b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n", 10)
        return _status(answer), "raw-huge", time.monotonic() - t0
    big = os.urandom(LIMIT + 4096)
    if i % 3 == 1:
        async def chunks() -> Any:
            for k in range(0, len(big), 65536):
                yield big[k:k + 65536]
        res = await client.post(base + "/v1/review", content=chunks())
    else:
        res = await client.post(base + "/v1/review", files={"file": ("big.png", big)})
    return res.status_code, "", time.monotonic() - t0


async def hostile_load(port: int, files: dict[str, list[tuple[str, bytes]]], *, uploads: int = 100,
                       slow: int = 200, oversized: int = 12, slow_hold: float = 30.0) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    mixed = files["good"] * 3 + files["bad"]
    limits = httpx.Limits(max_connections=uploads + oversized, max_keepalive_connections=20)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        slow_tasks = [asyncio.ensure_future(_slow(port, "head" if k % 2 else "body", slow_hold)) for k in range(slow)]
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        upload_tasks = [_upload(client, base, i, *mixed[i % len(mixed)]) for i in range(uploads)]
        big_tasks = [_oversized(client, base, i, port) for i in range(oversized)]
        results = await asyncio.gather(*upload_tasks, *big_tasks)
        malformed = await asyncio.gather(*(_raw(port, m, 15) for m in MALFORMED))
        wall = time.monotonic() - t0
        slow_results = await asyncio.gather(*slow_tasks)
        health = (await client.get(base + "/healthz")).status_code
    ups, bigs = results[:uploads], results[uploads:]
    latencies = [r[2] for r in ups]
    good_names = {name for name, _ in files["good"]}
    labelled = [r[2] for i, r in enumerate(ups) if mixed[i % len(mixed)][0] in good_names]
    return {
        "uploads": Counter(r[0] for r in ups), "kinds": Counter(r[1] for r in ups if r[1]),
        "oversized": Counter(r[0] for r in bigs), "oversized_seconds": max((r[2] for r in bigs), default=0.0),
        "malformed": Counter(_status(a) for a in malformed),
        "slow": Counter(r[0] for r in slow_results), "slow_seconds": max((r[1] for r in slow_results), default=0.0),
        "p50": statistics.median(latencies), "p95": sorted(latencies)[int(0.95 * len(latencies)) - 1],
        "p50_labelled": statistics.median(labelled) if labelled else 0.0,
        "wall": wall, "health": health,
    }


def report(figures: dict[str, Any], sampler: RssSampler, left: list[str]) -> str:
    statuses = figures["uploads"] + figures["oversized"] + figures["malformed"]
    return (f"uploads: p50 {figures['p50'] * 1000:.0f} ms, p95 {figures['p95'] * 1000:.0f} ms "
            f"(labelled files alone: p50 {figures['p50_labelled'] * 1000:.0f} ms); "
            f"uploads, oversized and malformed all answered in {figures['wall']:.1f} s\n"
            f"statuses (uploads + oversized + malformed): {dict(sorted(statuses.items()))}\n"
            f"error kinds of uploads: {dict(figures['kinds'])}\n"
            f"slow connections: {dict(figures['slow'])}, all ended within {figures['slow_seconds']:.1f} s\n"
            f"server peak RSS: {sampler.total_peak / 2**20:.0f} MiB in all (sampled), largest process VmHWM "
            f"{max(sampler.peaks.values()) / 2**20:.0f} MiB over {len(sampler.peaks)} processes\n"
            f"temp files left: {len(left)}")


# ----------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def files() -> dict[str, list[tuple[str, bytes]]]:
    return corpus()


def test_hostile_load(tmp_path: Path, files: dict[str, list[tuple[str, bytes]]]) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = worker_dirs()
    proc, port = start_server(scratch, "--jobs", "2", "--timeout", "8", "--header-timeout", "3",
                              "--max-queue", "200", "--worker-memory", "2G")
    try:
        with RssSampler(proc.pid) as sampler:
            figures = asyncio.run(hostile_load(port, files))
        assert proc.poll() is None, "the server went down"
        left = scratch_files(scratch)
    finally:
        err = stop_server(proc)
    assert worker_dirs() - before == set()  # the workers' private temp dirs went with them
    print("\n" + report(figures, sampler, left))
    statuses = figures["uploads"] + figures["oversized"] + figures["malformed"]
    assert 500 not in statuses and figures["health"] == 200, err[-3000:]
    assert "internal-error" not in figures["kinds"] and "not-json" not in figures["kinds"], err[-3000:]
    assert set(figures["uploads"]) <= {200, 415, 422, 503}
    assert figures["uploads"][200] >= 30  # the good files (those not shed as 503) were answered
    assert set(figures["oversized"]) == {413} and figures["oversized_seconds"] < 10
    assert set(figures["malformed"]) <= {0, 400, 404, 405, 408, 413, 415, 422, 431}
    # every slow connection was ended by the server: slow heads closed, slow bodies answered 408
    assert "still-open" not in figures["slow"] and figures["slow_seconds"] < 20
    assert sampler.total_peak < 1536 * 2**20
    assert left == []


def test_one_size_limit_for_every_body_form(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc, port = start_server(scratch, "--jobs", "1")
    base = f"http://127.0.0.1:{port}"
    try:
        for size, accepted in ((LIMIT, True), (LIMIT + 1, False)):
            body = b"\x00" * size  # not a format: accepted bodies are 415, refused ones 413
            raw = httpx.post(f"{base}/v1/review", content=body, timeout=30)
            form = httpx.post(f"{base}/v1/review", files={"file": ("x.bin", body)}, timeout=30)

            def chunks(data: bytes = body) -> Iterator[bytes]:
                for k in range(0, len(data), 65536):
                    yield data[k:k + 65536]

            chunked = httpx.post(f"{base}/v1/review", content=chunks(), timeout=30)
            want = 415 if accepted else 413
            assert (raw.status_code, form.status_code, chunked.status_code) == (want, want, want), size
        # a declared length over the limit is refused before the body is sent
        answer = asyncio.run(_raw(port, b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                                  b"boundary=b\r\nContent-Length: 2000000\r\n\r\n", 5))
        assert _status(answer) == 413
        assert scratch_files(scratch) == []
    finally:
        stop_server(proc)


def scanned_pdf(pages: int = 2) -> bytes:
    """A scanned-looking PDF (each page one 300 dpi image dense with text): the explicit check OCRs its first
    and last page, which takes seconds -- a job that reliably outlives a 1 s request timeout."""
    from PIL import Image, ImageDraw

    images = []
    for _ in range(pages):
        im = Image.new("RGB", (2480, 3508), (255, 255, 255))
        draw = ImageDraw.Draw(im)
        for y in range(0, 3508, 40):
            draw.text((40, y), "lorem ipsum dolor sit amet consectetur adipiscing " * 5, fill=(0, 0, 0))
        images.append(im)
    buf = io.BytesIO()
    images[0].save(buf, "PDF", resolution=300, save_all=True, append_images=images[1:])
    return buf.getvalue()


def test_timeouts_stop_the_work_and_leave_no_files(tmp_path: Path) -> None:
    """Issue 12: a request that timed out while queued left its upload (15 of 20); the work went on after the 503."""
    from aigclabel.explicit import ocr

    if not ocr.available():
        pytest.skip("needs OCR (a slow job)")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = worker_dirs()
    proc, port = start_server(scratch, "--jobs", "1", "--timeout", "1.0", "--detect-explicit", "always",
                              "--max-upload", "4M",
                              "--max-queue", "8")
    base = f"http://127.0.0.1:{port}"
    slow_png = scanned_pdf()  # OCR of its two A4 pages takes >= 2 s here (warm); the first also loads the model
    quick = aigclabel.mark(make_png(size=(32, 32)), producer=PRODUCER, explicit=False)
    try:
        started = set(children(proc.pid))  # the fork server, and the worker started with the server

        async def many() -> list[Any]:
            async with httpx.AsyncClient(timeout=30) as client:
                return await asyncio.gather(*(client.post(f"{base}/v1/review", content=slow_png) for _ in range(20)))

        answers = asyncio.run(many())
        assert [a.status_code for a in answers] == [503] * 20
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers)
        kinds = Counter(a.json()["error"]["kind"] for a in answers)
        assert set(kinds) == {"timeout", "overloaded"} and kinds["timeout"] <= 9, kinds  # 1 running + 8 queued
        assert scratch_files(scratch, wait=2) == []  # the queued ones too
        # the job that was running was stopped: its worker is gone, not still reading
        idle = set(children(proc.pid))
        assert started - idle, "the worker of the timed-out request was not stopped"
        # a fresh worker took its place, started in the background at once
        deadline = time.monotonic() + 20
        while not set(children(proc.pid)) - started and time.monotonic() < deadline:
            time.sleep(0.05)
        res = httpx.post(f"{base}/v1/review?detect_explicit=never", content=quick, timeout=30)
        assert res.status_code == 200, res.text
        worker = set(children(proc.pid)) - started
        assert worker

        async def walk_away() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /v1/review HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(slow_png)
                         + slow_png)
            await writer.drain()
            await asyncio.sleep(0.7)
            writer.close()  # the client goes away mid-job

        asyncio.run(walk_away())
        deadline = time.monotonic() + 3
        while worker & set(children(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not worker & set(children(proc.pid)), "the worker of the abandoned request was not stopped"
        assert scratch_files(scratch) == []
        assert len(worker_dirs() - before) <= 1  # only the live worker's: the killed ones' were removed
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        stop_server(proc)


def test_worker_memory_cap_is_a_422_and_the_server_stays_up(tmp_path: Path) -> None:
    """A job over the worker's address-space cap (here: OCR, whose model needs ~1.2 GB of it) is refused."""
    from aigclabel.explicit import ocr

    if not ocr.available():
        pytest.skip("needs OCR (a job that needs memory)")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc, port = start_server(scratch, "--jobs", "1", "--timeout", "30", "--detect-explicit", "always",
                              "--worker-memory", "500M")
    base = f"http://127.0.0.1:{port}"
    try:
        res = httpx.post(f"{base}/v1/review", content=make_png(size=(900, 700)), timeout=60)
        assert res.status_code == 422, res.text
        assert res.json()["error"]["kind"] in {"limit-exceeded", "worker-stopped", "corrupt-file"}
        marked = aigclabel.mark(make_png(size=(32, 32)), producer=PRODUCER, explicit=False)
        res = httpx.post(f"{base}/v1/review?detect_explicit=never", content=marked, timeout=60)  # a fresh worker
        assert res.status_code == 200 and res.json()["tier"] == 1
        assert scratch_files(scratch) == []
    finally:
        stop_server(proc)


def main() -> None:  # pragma: no cover - the figures for the note
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        proc, port = start_server(scratch, "--jobs", "2", "--timeout", "8", "--header-timeout", "3",
                                  "--max-queue", "200", "--worker-memory", "2G")
        try:
            with RssSampler(proc.pid) as sampler:
                figures = asyncio.run(hostile_load(port, corpus()))
            left = scratch_files(scratch)
        finally:
            stop_server(proc)
    print(report(figures, sampler, left))


if __name__ == "__main__":  # pragma: no cover
    main()
