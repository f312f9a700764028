"""Benchmark: /v1/verify through the real HTTP server against verifying in-process, same files, same processes.

The files are the small JPEGs of ``bench_batch.py`` (1,000 640x480 photos, 300 with --quick), labelled.
In-process: :func:`aigclabel.batch.run` of ``verify_task`` (``--scope implicit``) with ``--jobs W`` worker
processes.  HTTP: ``aigclabel serve --workers 1 --jobs W`` on 127.0.0.1 (W worker processes doing the reads, as
in-process), and concurrent keep-alive clients driven by one asyncio loop with pre-built requests (so the client
costs the shared cores as little as possible) posting each file as a raw body to ``/v1/verify?scope=implicit``.
The two sides run as interleaved pairs and are judged on wall time (the point is throughput); the server's
temporary files are counted after the run.

Also reported (INFO): the HTTP floor -- the same requests and clients against uvicorn serving an empty ASGI app
(no verify, no hand-off to a worker) -- against in-process, and where the HTTP side's CPU goes (front end,
workers, clients).  When the floor alone comes near the target, the target cannot be met on this machine by any
code of ours: the clients and uvicorn itself share the two cores with the workers.

A miss is INCONCLUSIVE (exit 2 unless --allow-inconclusive) only when this machine's own two-process ceiling,
measured in the same run, is below 1.9x: then the HTTP clients and the front end compete with the W workers for
cores the in-process side has to itself; or when the floor's CPU (server and clients) added to the in-process
CPU already exceeds 1.25x the in-process CPU: then not even an empty app could meet the target on these cores.

Targets (issue 15 "Speed and memory targets"):
  HTTP /v1/verify rate >= 0.8x the in-process rate   i.e. HTTP time <= 1.25x in-process time (W = 2)
  temporary files left by the server                 none

Run: python3 bench/bench_service.py [--quick] [--files N] [--jobs W] [--clients C] [--pairs N] [--target-scale F]

``--hostile`` (issue 12): instead, the hostile load of ``tests/test_hostile_service.py`` -- 100
concurrent mixed uploads (labelled and corrupt PNG/JPEG/WAV), oversized bodies, 200 slow connections,
malformed requests -- against ``aigclabel serve --jobs 2``; prints p50/p95 latency, statuses, the
server's peak RSS (itself and its workers, from /proc) and the temporary files left.  Exits 1 on any
500, internal error or file left.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, Sample, aigclabel_argv, main, measure, pairs, parser,  # noqa: E402
                     two_process_ceiling)
from bench_batch import make_jpegs  # noqa: E402

CEILING = 1.9


def floor_app_main(port: int) -> None:
    """The HTTP floor: uvicorn (same protocol and loop choice as ``aigclabel serve``) with an app that reads the
    body and answers a fixed 2 KB JSON body, about the size of a verify report."""
    import uvicorn

    answer = b'{"report":"' + b"x" * 2000 + b'"}'
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int, session: bool = False) -> float:
    """User + system CPU of *pid* (with *session*: of every live process in its session) from /proc."""
    total = 0.0
    for entry in os.listdir("/proc") if session else [str(pid)]:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if not session or int(fields[3]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_serving(port: int, requests: list[bytes], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            over_http(port, requests[:20], 2)
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_process(items: list[str], jobs: int) -> Sample:
    from aigclabel.batch import run, verify_task

    task = functools.partial(verify_task, profile="cn-gb45438-2025", scope="implicit")
    errors: list[int] = []
    # the CPU counts the pool's workers too (they are waited for when the run ends)
    sample = measure(lambda: errors.append(sum(1 for o in run(items, task, jobs=jobs, ordered=False) if o.error)))
    if errors[0]:
        raise RuntimeError(f"{errors[0]} in-process verifications failed")
    return sample


def build_requests(items: list[str], port: int) -> list[bytes]:
    out = []
    for path in items:
        body = Path(path).read_bytes()
        head = (f"POST /v1/verify?scope=implicit&filename=f.jpg HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        out.append(head + body)
    return out


async def _client(port: int, queue: asyncio.Queue[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                request = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if b" 200 " not in status:
                raise RuntimeError(f"server answered {status!r}")
    finally:
        writer.close()


async def _drive(port: int, requests: list[bytes], clients: int) -> tuple[float, list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    latencies: list[float] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, queue, latencies) for _ in range(clients)))
    return len(requests) / (time.perf_counter() - t0), latencies


def over_http(port: int, requests: list[bytes], clients: int) -> tuple[float, list[float]]:
    # The clients share the cores with the server and its workers (the in-process side has them to itself), so
    # they run on the fastest event loop here -- uvloop when installed, as the server's does.
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_drive(port, requests, clients))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_drive(port, requests, clients))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def hostile(uploads: int, slow: int) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import test_hostile_service as hs

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        scratch = Path(tmp)
        proc, port = hs.start_server(scratch, "--jobs", "2", "--timeout", "8", "--header-timeout", "3",
                                     "--max-queue", "200", "--worker-memory", "2G")
        try:
            with hs.RssSampler(proc.pid) as sampler:
                figures = asyncio.run(hs.hostile_load(port, hs.corpus(), uploads=uploads, slow=slow))
            up = proc.poll() is None
            left = hs.scratch_files(scratch)
        finally:
            hs.stop_server(proc)
    print(hs.report(figures, sampler, left))
    statuses = figures["uploads"] + figures["oversized"] + figures["malformed"]
    bad = 500 in statuses or "internal-error" in figures["kinds"] or left or not up
    print("FAILED" if bad else "no 500, no internal error, server up, no temp file left")
    return 1 if bad else 0


def body(bench: Bench) -> None:
    files = bench.args.files or (300 if bench.quick else 1000)
    jobs, clients = bench.args.jobs, bench.args.clients
    root = Path(tempfile.mkdtemp(prefix="aigclabel-bench-"))
    scratch = root / "scratch"
    scratch.mkdir()
    port = free_port()
    server = subprocess.Popen([*aigclabel_argv(), "serve", "--port", str(port), "--workers", "1", "--jobs", str(jobs),
                               "--tmp-dir", str(scratch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        src, marked = root / "src", root / "marked"
        make_jpegs(src, files)
        marked.mkdir()
        subprocess.run([*aigclabel_argv(), "mark", str(src), "-o", str(marked), "--producer", PRODUCER,
                        "--no-explicit"], check=True, capture_output=True)
        items = sorted(str(p) for p in marked.iterdir())
        requests = build_requests(items, port)
        wait_serving(port, requests, server)
        print(f"{files} labelled JPEGs; serve --workers 1 --jobs {jobs}; {clients} HTTP clients; "
              f"in-process --jobs {jobs}")
        latencies: list[float] = []
        spent = {"front end": 0.0, "server in all": 0.0, "clients": 0.0, "requests": 0.0}

        def http() -> Sample:
            front, every, mine = cpu_seconds(server.pid), cpu_seconds(server.pid, session=True), time.process_time()
            t0 = time.perf_counter()
            _rate, lat = over_http(port, requests, clients)
            wall = time.perf_counter() - t0
            spent["clients"] += time.process_time() - mine
            spent["front end"] += cpu_seconds(server.pid) - front
            spent["server in all"] += cpu_seconds(server.pid, session=True) - every  # a recycled worker's is lost
            spent["requests"] += len(requests)
            latencies.extend(lat)
            return Sample(wall, 0.0)

        ceilings = [two_process_ceiling()]
        base, ours = pairs(lambda: in_process(items, jobs), http, bench.n)
        ceilings.append(two_process_ceiling())
        ceiling = min(ceilings)
        print(f"  two-process ceiling before/after: {ceilings[0]:.2f}x / {ceilings[1]:.2f}x; HTTP latency p50 "
              f"{pct(latencies, 0.5) * 1000:.1f} ms, p99 {pct(latencies, 0.99) * 1000:.1f} ms")
        reason = (f"this machine's two-process ceiling measured {ceiling:.2f}x (< {CEILING}x) in the same run"
                  if ceiling < CEILING else None)
        per = {k: v / spent["requests"] * 1000 for k, v in spent.items() if k != "requests"}
        print(f"  HTTP CPU per request: front end {per['front end']:.3f} ms, workers "
              f"{per['server in all'] - per['front end']:.3f} ms, clients {per['clients']:.3f} ms "
              "(/proc, 10 ms ticks)")
        floor_port = free_port()
        floor = subprocess.Popen([sys.executable, __file__, "--floor-server", str(floor_port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            floor_requests = build_requests(items, floor_port)
            wait_serving(floor_port, floor_requests, floor)

            def empty_http() -> Sample:
                server_cpu, mine, t0 = cpu_seconds(floor.pid), time.process_time(), time.perf_counter()
                over_http(floor_port, floor_requests, clients)
                wall = time.perf_counter() - t0
                return Sample(wall, cpu_seconds(floor.pid) - server_cpu + time.process_time() - mine)

            base2, empty = pairs(lambda: in_process(items, jobs), empty_http, bench.n)
        finally:
            stop(floor)
        # On a machine where the clients share the cores, the HTTP side needs at least the in-process work plus
        # the floor's CPU (uvicorn and the clients, no verify at all): its best possible time ratio.
        work = statistics.median(b.cpu for b in base + base2)
        floor_cpu = statistics.median(e.cpu for e in empty)
        best = (work + floor_cpu) / work if work > 0 else float("inf")
        print(f"  CPU: in-process {work * 1000:.0f} ms; HTTP floor (uvicorn + clients) {floor_cpu * 1000:.0f} ms; "
              f"best possible HTTP/in-process on these cores {best:.2f}x (target <= 1.25x)")
        if best > 1 / 0.8:
            reason = "; ".join(filter(None, [reason, (
                f"on these {os.cpu_count()} cores, shared with the clients, uvicorn serving an empty app takes "
                f"{floor_cpu * 1000:.0f} ms of CPU for these requests besides the in-process {work * 1000:.0f} ms: "
                f"no server can beat {best:.2f}x here")]))
        bench.ratio(f"/v1/verify of {files} JPEGs, {jobs} workers", base, ours, 1 / 0.8, baseline="in-process",
                    clock="wall", inconclusive=reason, target_text="rate >= 0.8x")
        bench.ratio("HTTP floor: uvicorn serving an empty app (no verify), same requests and clients", base2, empty,
                    None, baseline="in-process", clock="wall")
        left = [p.name for p in scratch.iterdir()]
        bench.check("no temporary file left by the server", not left, f"{len(left)} left" if left else "none")
    finally:
        stop(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--files", type=int, default=None, help="number of JPEGs (default 1,000; 300 with --quick)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes on both sides")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--hostile", action="store_true", help="the hostile load test's figures instead")
    ap.add_argument("--uploads", type=int, default=100, help="--hostile: concurrent uploads")
    ap.add_argument("--slow", type=int, default=200, help="--hostile: slow connections")
    if "--floor-server" in sys.argv:
        floor_app_main(int(sys.argv[sys.argv.index("--floor-server") + 1]))
        sys.exit(0)
    if "--hostile" in sys.argv:
        opts = ap.parse_args()
        sys.exit(hostile(opts.uploads, opts.slow))
    sys.exit(main("service", ap, body))
