"""Benchmark: batch verify on Dask and from object storage, against the local process pool.

The corpus is a mixed upload stream of 3,000 files (1,000 with --quick): a third marked 160x120 JPEGs, the rest
marked and plain PNGs, plain JPEGs, WAVs, and one corrupt file in a hundred.  Every side is the whole command a
user runs, ``aigclabel verify DIR -r --scope implicit --jsonl`` (a process; its JSON Lines go to /dev/null), judged
on wall time (the point is throughput); the machine's load average is printed with each comparison:
* scale-out: a ``dask scheduler`` started once (as a platform's is already running) and ``dask worker --nworkers N
  --nthreads 1`` for N = 1, 2, 4 (two per core at most on this 2-core machine), each against ``--jobs N``:
  files/s of the whole command, and, past the fixed cost of a run (the same commands over a one-file folder,
  measured alongside), files/s, the per-file overhead the engine adds, and the client's (the CLI's) CPU per
  file -- the workers are not its children, so its CPU time is what the one client process spends per result;
* the 2-worker row of the scale-out, judged: a running cluster's engine overhead against the fork pool;
* ``--scheduler local:2`` (the command starts and stops its own cluster: it imports ``distributed`` and starts a
  scheduler and two worker processes, a fixed cost of about a second on this machine) against ``--jobs 2``;
* the same files from ``s3://`` on an S3-compatible server on 127.0.0.1 (moto's, a Python server: a real object
  store answers faster) with ``--jobs 2`` against the local folder: reported only, with requests per file;
* bytes the S3 server sent for one verified 12 MP JPEG (counted at the server).
It ends with what a 16-node cluster would do, projected from those numbers.

Targets (issue 18 "Speed"):
  --scheduler ADDRESS of a running 2-worker cluster  <= 1.176x --jobs 2 wall (>= 0.85x its throughput)
  --scheduler local:2 (the whole command)            <= 1.176x --jobs 2 wall (>= 0.85x its throughput)
  bytes requested from S3 per verified 12 MP JPEG    <= 256 KiB

Run: python3 bench/bench_cluster.py [--quick] [--files N] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (MIN_PAIRS, PRODUCER, Bench, Sample, aigclabel_argv, main, make_photo_jpeg, pairs,  # noqa: E402
                     parser, run_process)

#: fake credentials: the only endpoint contacted is the server this script starts on 127.0.0.1
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true"}


class CountingS3:
    """moto's S3 server on 127.0.0.1 (random port), counting the GET body bytes it sends per request path."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.sent: dict[str, int] = {}
        self.requests = 0
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
            with self._lock:
                self.requests += 1
            for chunk in app(environ, start_response):
                if environ["REQUEST_METHOD"] == "GET":
                    with self._lock:
                        key = environ.get("PATH_INFO", "")
                        self.sent[key] = self.sent.get(key, 0) + len(chunk)
                yield chunk

        self._server = make_server("127.0.0.1", 0, counting, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()


def make_marked_jpegs(folder: Path, files: int) -> None:
    """*files* distinct 160x120 JPEGs carrying an AIGC record (one pixel row differs per file)."""
    from PIL import Image

    import aigclabel

    folder.mkdir(parents=True, exist_ok=True)
    base = Image.effect_noise((160, 120), 40).convert("RGB")
    for i in range(files):
        im = base.copy()
        im.paste((i % 256, (i // 256) % 256, 0), (0, 0, 16, 1))
        path = folder / f"img{i:05d}.jpg"
        im.save(path, "JPEG", quality=85)
        path.write_bytes(aigclabel.mark(path.read_bytes(), producer=PRODUCER, produce_id=f"b{i}", explicit=False))


def make_mixed(folder: Path, files: int) -> None:
    """*files* files of a mixed upload stream (see the module docstring), in one folder."""
    import io
    import wave

    import aigclabel
    from PIL import Image

    jpegs = files // 3
    make_marked_jpegs(folder, jpegs)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(os.urandom(32000))
    png, jpg = io.BytesIO(), io.BytesIO()
    Image.effect_noise((160, 120), 40).convert("RGB").save(png, "PNG")
    Image.effect_noise((160, 120), 40).convert("RGB").save(jpg, "JPEG", quality=85)
    kinds = [(".png", aigclabel.mark(png.getvalue(), producer=PRODUCER, produce_id="p", explicit=False)),
             (".png", png.getvalue()), (".jpg", jpg.getvalue()), (".wav", buf.getvalue()),
             (".wav", aigclabel.mark(buf.getvalue(), producer=PRODUCER, produce_id="w", explicit=False))]
    for i in range(jpegs, files):
        ext, data = kinds[i % len(kinds)]
        if i % 100 == 0:
            ext, data = ".png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10
        (folder / f"up{i:05d}{ext}").write_bytes(data)


class DaskPair:
    """A ``dask scheduler`` subprocess on 127.0.0.1 (random port), and ``dask worker`` subprocesses on demand."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        from distributed import Client

        self.env = env
        info = tmp / "scheduler.json"
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(info)])
        deadline = time.monotonic() + 60
        while not (info.exists() and info.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.address = json.loads(info.read_text())["address"]
        self.client = Client(self.address, timeout=30)
        self.workers: subprocess.Popen[bytes] | None = None

    def _start(self, args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "dask", *args], env=self.env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def workers_up(self, n: int) -> None:
        self.workers = self._start(["worker", self.address, "--nworkers", str(n), "--nthreads", "1", "--host",
                                    "127.0.0.1", "--no-dashboard"])
        self.client.wait_for_workers(n, timeout=120)

    def workers_down(self) -> None:
        if self.workers is not None:
            _stop(self.workers)
            self.workers = None
        deadline = time.monotonic() + 30
        while self.client.scheduler_info()["workers"] and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self.workers_down()
        self.client.close()
        _stop(self.scheduler)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def body(bench: Bench) -> None:
    files = bench.args.files or (1000 if bench.quick else 3000)
    cli = aigclabel_argv()
    os.environ.update(FAKE_AWS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    import boto3

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        src = Path(tmp) / "src"
        make_mixed(src, files)
        print(f"{files} files (mixed: JPEG, PNG, WAV, marked and not, 1 % corrupt), "
              f"{sum(p.stat().st_size for p in src.iterdir()) / 1e6:.1f} MB")
        env = {**os.environ, **FAKE_AWS}

        one = Path(tmp) / "one"  # one file of the corpus: what a run costs before its first file
        one.mkdir()
        first = sorted(src.iterdir())[0]
        (one / first.name).write_bytes(first.read_bytes())

        def verify(*extra: str, folder: Path = src) -> Callable[[], Sample]:
            return lambda: run_process([*cli, "verify", str(folder), "-r", "--scope", "implicit", "--jsonl", *extra],
                                       env=env, ok_codes=(0, 1))

        scale: dict[int, tuple[float, float, float]] = {}  # workers -> (files/s, overhead s/file, client cpu s/file)
        pair = DaskPair(Path(tmp), env)
        try:
            for n in (1, 2, 4):
                pair.workers_up(n)
                base, ours = pairs(verify("--jobs", str(n)), verify("--scheduler", pair.address), bench.n)
                # the same commands over one file: the fixed cost of a run (start-up, connecting, listing, summary),
                # which the per-file figures below leave out -- a platform's client runs for hours, not 3,000 files
                base1, ours1 = pairs(verify("--jobs", str(n), folder=one),
                                     verify("--scheduler", pair.address, folder=one), MIN_PAIRS)
                pair.workers_down()
                b, o = statistics.median(s.wall for s in base), statistics.median(s.wall for s in ours)
                b1, o1 = statistics.median(s.wall for s in base1), statistics.median(s.wall for s in ours1)
                per_file_o, per_file_b = max(o - o1, 1e-9) / (files - 1), max(b - b1, 1e-9) / (files - 1)
                client_cpu = max(statistics.median(s.cpu for s in ours) - statistics.median(s.cpu for s in ours1),
                                 0.0) / (files - 1)
                scale[n] = (1 / per_file_o, per_file_o - per_file_b, client_cpu)
                print(f"  {n} worker process{'es' if n > 1 else ''}, whole command: --scheduler {files / o:.0f} "
                      f"files/s, --jobs {n} {files / b:.0f} files/s; fixed cost of a run: --scheduler {o1:.2f} s, "
                      f"--jobs {n} {b1:.2f} s; past it: --scheduler {1 / per_file_o:.0f} files/s, --jobs {n} "
                      f"{1 / per_file_b:.0f} files/s, the engine adds {1000 * (per_file_o - per_file_b):+.3f} ms per "
                      f"file; the client's CPU per file {1000 * client_cpu:.3f} ms; {_load()}")
                bench.limit(f"scale-out: files/s with {n} dask worker process(es), 1 thread each, past the fixed cost",
                            1 / per_file_o, None, "files/s",
                            note=f"--jobs {n}: {1 / per_file_b:.0f} files/s; whole command {files / o:.0f} vs "
                                 f"{files / b:.0f} files/s; fixed {o1:.2f} s vs {b1:.2f} s")
                if n == 2:
                    bench.ratio(f"verify {files} mixed files: --scheduler ADDRESS (a running 2-worker cluster) vs "
                                "--jobs 2", base, ours, 1 / 0.85, baseline="--jobs 2", clock="wall",
                                target_text=">= 0.85x throughput")
        finally:
            pair.close()

        base, ours = pairs(verify("--jobs", "2"), verify("--scheduler", "local:2"), bench.n)
        _rates(files, base, ours, "--jobs 2", "--scheduler local:2")
        extra = statistics.median(o.wall - b.wall for b, o in zip(base, ours, strict=True))
        print(f"  (local:2 pays its cluster's start-up: {extra:.2f} s more wall per run, median of the pairs; "
              f"{_load()})")
        bench.ratio(f"verify {files} mixed files: --scheduler local:2 (starts its cluster) vs --jobs 2", base, ours,
                    1 / 0.85, baseline="--jobs 2", clock="wall", target_text=">= 0.85x throughput")

        s3 = CountingS3()
        client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p: client.put_object(Bucket="bench", Key=f"src/{p.name}", Body=p.read_bytes()),
                          sorted(src.iterdir())))
        store = ["--storage-option", f"endpoint_url={s3.endpoint}"]

        def from_s3() -> Sample:
            return run_process([*cli, "verify", "s3://bench/src/", "--scope", "implicit", "-q", "--jobs", "2", *store],
                               env=env, ok_codes=(1,))

        s3.sent.clear()
        s3.requests = 0
        runs = 2
        base, ours = pairs(verify("--jobs", "2"), from_s3, runs - 1)
        _rates(files, base, ours, "local --jobs 2", "s3:// --jobs 2")
        per_file = sum(v for k, v in s3.sent.items() if k.startswith("/bench/src/")) / (files * runs)
        requests = s3.requests / (files * runs)
        bench.limit("bytes requested from S3 per file verified (mixed corpus)", per_file, None, "B",
                    note=f"mean file size {statistics.mean(p.stat().st_size for p in src.iterdir()):.0f} B")
        bench.limit("S3 requests per file verified (HEAD, ranged GETs, listing pages)", requests, None, "")

        big = Path(tmp) / "big.jpg"
        make_photo_jpeg(big)
        big.write_bytes(__import__("aigclabel").mark(big.read_bytes(), producer=PRODUCER, produce_id="big",
                                                     explicit=False))
        client.put_object(Bucket="bench", Key="big/big.jpg", Body=big.read_bytes())
        s3.sent.clear()
        run_process([*cli, "verify", "s3://bench/big/big.jpg", "--scope", "implicit", "-q", *store], env=env)
        bench.limit("bytes requested from S3 per verified 12 MP JPEG", s3.sent.get("/bench/big/big.jpg", 0),
                    256 * 1024, "B", note=f"object {big.stat().st_size / 1e6:.1f} MB")
        s3.stop()
        _projection(scale, requests)


def _projection(scale: dict[int, tuple[float, float, float]], requests: float) -> None:
    """What 16 nodes of this machine's kind would do, from the measured numbers (printed, not judged)."""
    per_core = scale[1][0]
    cluster = 16 * 2 * per_core  # 16 nodes x 2 cores, one worker process per core
    client_cap = 1 / max(max(v[2] for v in scale.values()), 1e-9)
    print(f"\n16-node projection (2 cores each, one worker per core): {cluster:.0f} files/s from the measured "
          f"{per_core:.0f} files/s per worker process (past the fixed cost of a run); the one client (listing, "
          f"JSONL, summary) handles up to {client_cap:.0f} files/s at its measured CPU per file "
          f"({'the client limits first' if client_cap < cluster else 'the workers limit first'}); the object store "
          "would see "
          f"{cluster * requests:.0f} requests/s ({requests:.1f} per file; S3 serves 5,500 GET/HEAD per second "
          "per prefix).")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} on {os.cpu_count()} CPUs"


def _rates(files: int, base: list[Sample], ours: list[Sample], base_name: str, ours_name: str) -> None:
    b, o = statistics.median(s.wall for s in base), statistics.median(s.wall for s in ours)
    print(f"  {base_name}: {files / b:.0f} files/s; {ours_name}: {files / o:.0f} files/s; "
          f"ratio {b / o:.2f}x throughput; {1000 * (o - b) / files:+.2f} ms per file")


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--files", type=int, default=None, help="number of files (default 3,000; 1,000 with --quick)")
    sys.exit(main("cluster", ap, body))
