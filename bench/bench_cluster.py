"""Benchmark: batch verify on Dask and from object storage, against the local process pool.

The folder holds 1,000 small JPEGs (300 with --quick), each carrying an AIGC record.  Every side is a whole
``aigclabel verify DIR --scope implicit -q`` process, judged on wall time (the point is throughput):
* ``--scheduler ADDRESS`` of a running 2-worker ``LocalCluster`` (started once by this script, as a platform's
  cluster is already running) against ``--jobs 2``: the engine's overhead;
* ``--scheduler local:2`` (the command starts and stops its own cluster) against ``--jobs 2``: reported only;
* the same files from ``s3://`` on an S3-compatible server on 127.0.0.1 (moto's, a Python server: a real object
  store answers faster) with ``--jobs 2`` against the local folder with ``--jobs 2``: reported only;
* bytes the S3 server sent per verified file, and for one 12 MP JPEG (counted at the server).

Targets (issue 18 "Speed"):
  --scheduler (running cluster, 2 workers) wall      <= 1.176x --jobs 2 (>= 0.85x its throughput)
  bytes requested from S3 per verified 12 MP JPEG     <= 128 KiB (what a local verify reads)

Run: python3 bench/bench_cluster.py [--quick] [--files N] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, Sample, aigclabel_argv, main, make_photo_jpeg, pairs, parser,  # noqa: E402
                     run_process)

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
        self._lock = threading.Lock()
        app = DomainDispatcherApplication(create_backend_app)

        def counting(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
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


def body(bench: Bench) -> None:
    files = bench.args.files or (300 if bench.quick else 1000)
    cli = aigclabel_argv()
    os.environ.update(FAKE_AWS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    from distributed import Client, LocalCluster
    import boto3

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        src = Path(tmp) / "src"
        make_marked_jpegs(src, files)
        print(f"{files} marked JPEGs of 160x120, {sum(p.stat().st_size for p in src.iterdir()) / 1e6:.2f} MB")
        s3 = CountingS3()
        client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        for p in sorted(src.iterdir()):
            client.put_object(Bucket="bench", Key=f"src/{p.name}", Body=p.read_bytes())
        store = ["--storage-option", f"endpoint_url={s3.endpoint}"]
        env = {**os.environ, **FAKE_AWS}

        def verify(*extra: str) -> Callable[[], Sample]:
            return lambda: run_process([*cli, "verify", str(src), "--scope", "implicit", "-q", *extra], env=env,
                                       ok_codes=(0,))

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as lc, Client(lc):
            base, ours = pairs(verify("--jobs", "2"), verify("--scheduler", lc.scheduler_address), bench.n)
            _rates(files, base, ours, "--jobs 2", "--scheduler (running cluster)")
            bench.ratio(f"verify {files} JPEGs: --scheduler (running 2-worker cluster) vs --jobs 2", base, ours,
                        1 / 0.85, baseline="--jobs 2", clock="wall", target_text=">= 0.85x throughput")
        base, ours = pairs(verify("--jobs", "2"), verify("--scheduler", "local:2"), bench.n)
        _rates(files, base, ours, "--jobs 2", "--scheduler local:2")
        bench.ratio(f"verify {files} JPEGs: --scheduler local:2 (starts its cluster) vs --jobs 2", base, ours, None,
                    baseline="--jobs 2", clock="wall")

        def from_s3() -> Sample:
            return run_process([*cli, "verify", "s3://bench/src/", "--scope", "implicit", "-q", "--jobs", "2", *store],
                               env=env)

        s3.sent.clear()
        base, ours = pairs(verify("--jobs", "2"), from_s3, bench.n)
        _rates(files, base, ours, "local --jobs 2", "s3:// --jobs 2")
        bench.ratio(f"verify {files} JPEGs from s3:// (moto server) vs local, --jobs 2", base, ours, None,
                    baseline="local", clock="wall")
        runs = bench.n + 1
        per_file = sum(v for k, v in s3.sent.items() if k.startswith("/bench/src/")) / (files * runs)
        bench.limit("bytes requested from S3 per small JPEG verified", per_file, None, "B",
                    note=f"file size {statistics.mean(p.stat().st_size for p in src.iterdir()):.0f} B")

        big = Path(tmp) / "big.jpg"
        make_photo_jpeg(big)
        big.write_bytes(__import__("aigclabel").mark(big.read_bytes(), producer=PRODUCER, produce_id="big",
                                                     explicit=False))
        client.put_object(Bucket="bench", Key="big/big.jpg", Body=big.read_bytes())
        s3.sent.clear()
        run_process([*cli, "verify", "s3://bench/big/big.jpg", "--scope", "implicit", "-q", *store], env=env)
        bench.limit("bytes requested from S3 per verified 12 MP JPEG", s3.sent.get("/bench/big/big.jpg", 0),
                    128 * 1024, "B", note=f"object {big.stat().st_size / 1e6:.1f} MB")
        s3.stop()


def _rates(files: int, base: list[Sample], ours: list[Sample], base_name: str, ours_name: str) -> None:
    b, o = statistics.median(s.wall for s in base), statistics.median(s.wall for s in ours)
    print(f"  {base_name}: {files / b:.0f} files/s; {ours_name}: {files / o:.0f} files/s; "
          f"ratio {b / o:.2f}x throughput; {1000 * (o - b) / files:+.2f} ms per file")


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--files", type=int, default=None, help="number of JPEGs (default 1,000; 300 with --quick)")
    sys.exit(main("cluster", ap, body))
