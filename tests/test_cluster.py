"""Batch runs on Dask (a real LocalCluster of worker processes on 127.0.0.1) and per-file limits.

The same JSON Lines come out of the serial run, the process pool and the cluster; a worker killed
mid-run (SIGKILL, by its pid) loses nothing and duplicates nothing; a file that hangs its reader is
cut off by --file-timeout while the others finish.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("distributed")

import aigclabel  # noqa: E402
from conftest import PRODUCER, make_jpeg, make_png  # noqa: E402

AIGCLABEL = [sys.executable, "-c", "from aigclabel.cli.main import main; main()"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 small files: marked and plain PNGs, SD PNGs, plain JPEGs, one corrupt file."""
    root = tmp_path_factory.mktemp("corpus")
    plain_png = make_png(size=(16, 16))
    kinds = [(".png", aigclabel.mark(plain_png, producer=PRODUCER, produce_id="p", explicit=False)),
             (".png", plain_png), (".png", make_png(size=(16, 16), text=[("parameters", "a cat, Steps: 20")])),
             (".jpg", make_jpeg(size=(16, 16)))]
    for i in range(1999):
        ext, data = kinds[i % 4]
        folder = root / f"d{i % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i:04d}{ext}").write_bytes(data)
    (root / "d0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    return root


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes, one thread each, a small memory limit; the CLI connects to its address."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      memory_limit="1GiB") as lc, Client(lc) as client:
        yield client


def _sorted_lines(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        obj = json.loads(line)
        out.append(json.dumps(obj, sort_keys=True))
    return sorted(out)


def _verify(corpus: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AIGCLABEL, "verify", str(corpus), "-r", "--scope", "implicit", "--jsonl", *extra],
                          capture_output=True, text=True, timeout=120)


def test_same_answers_serial_pool_and_cluster(corpus: Path, cluster: Any) -> None:
    serial = _verify(corpus)
    assert serial.returncode == 1  # noncompliant files (and one corrupt file: 1 outranks 3)
    baseline = _sorted_lines(serial.stdout)
    assert len(baseline) == 2000
    pool = _verify(corpus, "-j", "2")
    remote = _verify(corpus, "--scheduler", cluster.scheduler.address)
    local = _verify(corpus, "--scheduler", "local:2")
    for run in (pool, remote, local):
        assert run.returncode == 1, run.stderr
        assert _sorted_lines(run.stdout) == baseline
    assert "2000 files" in local.stderr and "1 corrupt-file" in local.stderr


def test_killed_worker_loses_and_duplicates_nothing(corpus: Path, cluster: Any, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    workers = cluster.run(os.getpid)  # {address: pid}
    with open(log, "w") as out:
        proc = subprocess.Popen([*AIGCLABEL, "verify", str(corpus), "-r", "--scope", "implicit", "--jsonl",
                                 "--scheduler", cluster.scheduler.address], stdout=out, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and log.stat().st_size < 2000:
            time.sleep(0.01)
        victim = sorted(workers.values())[0]
        assert proc.poll() is None and log.stat().st_size < 200_000  # mid-run: most files not yet reported
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    lines = log.read_text().splitlines()
    paths = [json.loads(line)["path"] for line in lines]  # every line whole
    assert len(paths) == len(set(paths)) == 2000, err
    assert {p for p in paths} == {str(p) for p in corpus.rglob("*") if p.is_file()}
    cluster.wait_for_workers(2, timeout=30)  # the nanny restarted it
    assert victim not in cluster.run(os.getpid).values()


class _Stall(http.server.BaseHTTPRequestHandler):
    """Serves one object whose body never comes (a hostile upload that hangs its reader)."""

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(206)
        self.send_header("Content-Length", "65536")
        self.end_headers()
        time.sleep(30)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("engine", [[], ["-j", "2"], ["--scheduler", "local:1"]])
def test_file_timeout_cuts_off_a_hanging_file(tmp_path: Path, engine: list[str]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stall)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    good = tmp_path / "good.png"
    good.write_bytes(make_png(size=(8, 8)))
    hang = f"http://127.0.0.1:{server.server_address[1]}/hang.jpg"
    try:
        t0 = time.monotonic()
        run = subprocess.run([*AIGCLABEL, "verify", hang, str(good), str(good), "--scope", "implicit", "--jsonl",
                              "--file-timeout", "3", *engine], capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        server.shutdown()
    objs = {json.loads(x)["path"]: json.loads(x) for x in run.stdout.splitlines()}
    assert objs[hang]["error"]["kind"] == "timeout"
    assert objs[str(good)]["verdict"] == "noncompliant"
    assert run.returncode == 1 and elapsed < 25  # 1: the good files are noncompliant (outranks 3)
    assert "1 timeout" in run.stderr


def test_file_memory_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    from PIL import Image

    Image.new("RGB", (6000, 6000), "white").save(big)  # decoding needs ~100 MB
    small = tmp_path / "small.png"
    small.write_bytes(make_png(size=(400, 300)))
    (tmp_path / "out").mkdir()
    run = subprocess.run([*AIGCLABEL, "mark", str(big), str(small), "-o", str(tmp_path / "out"), "--producer",
                          PRODUCER, "--jsonl", "--file-memory", "60M"], capture_output=True, text=True, timeout=60)
    objs = {Path(json.loads(x)["path"]).name: json.loads(x) for x in run.stdout.splitlines()}
    assert objs["big.png"]["error"]["kind"] == "memory", objs["big.png"]
    assert "error" not in objs["small.png"]
    assert run.returncode == 3 and "1 memory" in run.stderr
