"""Object storage through fsspec: a real S3-compatible server (moto's, over HTTP on 127.0.0.1) and file:// URLs.

Production uses a real object store; moto's server speaks the same S3 protocol, so s3fs's requests
(ranged GETs, ListObjectsV2 pages, multipart uploads) are real HTTP requests we can count at the server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

from PIL import Image  # noqa: E402

import aigclabel  # noqa: E402
from aigclabel import storage  # noqa: E402
from aigclabel.batch import discover, load_done, pending  # noqa: E402
from conftest import PRODUCER, make_jpeg, make_png  # noqa: E402

AIGCLABEL = [sys.executable, "-c", "from aigclabel.cli.main import main; main()"]


def _helpers() -> Any:
    spec = importlib.util.spec_from_file_location("_s3server", Path(__file__).with_name("_s3server.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_s3server = _helpers()
FAKE_AWS: dict[str, str] = _s3server.FAKE_AWS
CountingS3 = _s3server.CountingS3


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    saved = {k: os.environ.get(k) for k in FAKE_AWS}
    os.environ.update(FAKE_AWS)
    server = CountingS3()
    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="uploads")
    storage.configure({"endpoint_url": server.endpoint})
    server.client = client  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        storage.configure({})
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cli(*args: str, endpoint: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAKE_AWS}
    return subprocess.run([*AIGCLABEL, *args, "--storage-option", f"endpoint_url={endpoint}"], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def _big_marked_jpeg() -> bytes:
    """A 12 MP JPEG (4000 x 3000, a noisy image so the scan is megabytes) carrying an AIGC record."""
    import numpy as np

    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    data = make_jpeg(image=Image.fromarray(pixels, "RGB"), quality=85)
    return aigclabel.mark(data, producer=PRODUCER, produce_id="big", explicit=False)


def test_verify_jpeg_over_s3_requests_little_and_answers_as_locally(s3: Any, tmp_path: Path) -> None:
    data = _big_marked_jpeg()
    assert len(data) > 4 << 20
    local = tmp_path / "big.jpg"
    local.write_bytes(data)
    s3.client.put_object(Bucket="uploads", Key="big/big.jpg", Body=data)
    s3.reset()
    remote = _cli("verify", "s3://uploads/big/big.jpg", "--scope", "implicit", "--json", endpoint=s3.endpoint)
    assert remote.returncode == 0, remote.stderr
    requested = s3.sent.get("/uploads/big/big.jpg", 0)
    print(f"bytes requested: {requested}")
    assert 0 < requested <= 128 * 1024, requested  # ranged reads: not the whole 4+ MB object
    here = subprocess.run([*AIGCLABEL, "verify", str(local), "--scope", "implicit", "--json"], capture_output=True,
                          text=True, timeout=60)
    a, b = json.loads(remote.stdout)[0], json.loads(here.stdout)[0]
    assert a["path"] == "s3://uploads/big/big.jpg"
    assert a["verdict"] == b["verdict"] == "compliant"
    assert a["findings"] == b["findings"]


def test_listing_is_paginated_skips_hidden_and_resumes(s3: Any, tmp_path: Path) -> None:
    png = make_png(size=(8, 8))
    names = [f"many/f{i:04d}.png" for i in range(1005)] + ["many/.hidden.png", "many/sub/deep.png"]
    with ThreadPoolExecutor(8) as pool:  # uploading is the slow part of this test
        list(pool.map(lambda name: s3.client.put_object(Bucket="uploads", Key=name, Body=png), names))
    s3.reset()
    top = list(discover(["s3://uploads/many/"]))
    pages = [r for r in s3.requests if r[0] == "GET" and r[1] == "/uploads" and "list-type=2" in r[2]]
    assert len(pages) == 2  # 1,000 keys a page: two ListObjectsV2 requests, not one big listing
    assert top == [f"s3://uploads/{n}" for n in sorted(names[:1005])]
    deep = list(discover(["s3://uploads/many"], recursive=True))
    assert "s3://uploads/many/sub/deep.png" in deep and len(deep) == 1006
    log = tmp_path / "done.jsonl"
    log.write_text("".join(json.dumps({"path": p}) + "\n" for p in top[:1000]))
    assert load_done(log) >= set(top[:1000])
    assert list(pending(["s3://uploads/many/"], skip_done=log)) == top[1000:]
    empty = list(discover(["s3://uploads/nothing-here/"]))
    assert len(empty) == 1 and empty[0].error["kind"] == "source-error"  # type: ignore[union-attr]


def test_atomic_upload_leaves_no_object_when_interrupted(s3: Any) -> None:
    url = "s3://uploads/atomic/big.bin"
    payload = os.urandom(6 << 20)  # past s3fs's 5 MiB block: a multipart upload is under way
    with pytest.raises(RuntimeError):
        with storage.atomic_upload(url) as fh:
            fh.write(payload)
            fh.flush()
            raise RuntimeError("interrupted")
    assert "Contents" not in s3.client.list_objects_v2(Bucket="uploads", Prefix="atomic/")
    assert not s3.client.list_multipart_uploads(Bucket="uploads").get("Uploads")
    with storage.atomic_upload(url) as fh:
        fh.write(payload)
    assert s3.client.get_object(Bucket="uploads", Key="atomic/big.bin")["Body"].read() == payload
    with pytest.raises(aigclabel.errors.OutputError):
        with storage.atomic_upload(url):
            pass  # exists, no overwrite


def test_mark_and_review_from_s3_to_s3(s3: Any, tmp_path: Path) -> None:
    jpg = make_jpeg(size=(64, 48))
    for i in range(3):
        s3.client.put_object(Bucket="uploads", Key=f"gen/d/p{i}.jpg", Body=jpg)
    done = _cli("mark", "s3://uploads/gen/", "-r", "-o", "s3://uploads/out/", "--producer", PRODUCER,
                "--no-explicit", "--jsonl", endpoint=s3.endpoint)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert sorted(x["destination"] for x in lines) == [f"s3://uploads/out/d/p{i}.jpg" for i in range(3)]
    assert all("aigclabel-stage" not in json.dumps(x) for x in lines)  # results name URLs, not scratch files
    got = s3.client.get_object(Bucket="uploads", Key="out/d/p1.jpg")["Body"].read()
    (tmp_path / "p1.jpg").write_bytes(got)
    tags = json.loads(subprocess.run(["exiftool", "-json", "-XMP:all", str(tmp_path / "p1.jpg")],
                                     capture_output=True, text=True, check=True).stdout)[0]
    assert PRODUCER in json.dumps(tags, ensure_ascii=False)  # the record, read by an independent reader
    review = _cli("review", "s3://uploads/out/", "-r", "--platform-code", "00119144030008867405X220001",
                  "--jsonl", endpoint=s3.endpoint)
    assert review.returncode == 0, review.stderr
    tiers = {json.loads(x)["path"]: json.loads(x)["tier"] for x in review.stdout.splitlines()}
    assert tiers == {f"s3://uploads/out/d/p{i}.jpg": 1 for i in range(3)}
    again = _cli("mark", "s3://uploads/gen/", "-r", "-o", "s3://uploads/out/", "--producer", PRODUCER,
                 "--no-explicit", "--jsonl", endpoint=s3.endpoint)
    assert again.returncode == 3 and all(json.loads(x)["error"]["kind"] == "output-error"
                                         for x in again.stdout.splitlines())


def test_file_urls_and_storage_options(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(make_png(size=(8, 8)))
    (tmp_path / "a" / ".h.png").write_bytes(make_png(size=(8, 8)))
    url = (tmp_path / "a").as_uri() + "/"
    assert list(discover([url])) == [(tmp_path / "a" / "x.png").as_uri()]
    out = subprocess.run([*AIGCLABEL, "verify", url, "--scope", "implicit", "--jsonl"], capture_output=True,
                         text=True, timeout=60)
    assert json.loads(out.stdout)["path"] == (tmp_path / "a" / "x.png").as_uri()
    assert storage.parse_options(["a.b=1", "anon=true", "k=v"]) == {"a": {"b": 1}, "anon": True, "k": "v"}
    assert not storage.is_url("C://x") and storage.is_url("gs://b/k") and not storage.is_url("/tmp/x")


def test_parquet_results_on_s3_and_resume_from_them(s3: Any) -> None:
    ds = pytest.importorskip("pyarrow.dataset")
    import s3fs

    png = make_png(size=(8, 8))
    for i in range(5):
        s3.client.put_object(Bucket="uploads", Key=f"pq/in/f{i}.png", Body=png)
    s3.client.put_object(Bucket="uploads", Key="pq/in/broken.png", Body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    results = ["--results", "s3://uploads/pq/results/", "--results-format", "parquet"]
    run = _cli("verify", "s3://uploads/pq/in/", "--scope", "implicit", "--jsonl", *results, endpoint=s3.endpoint)
    assert run.returncode == 1, run.stderr
    lines = {(o := json.loads(x))["path"]: o for x in run.stdout.splitlines()}
    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint)
    rows = ds.dataset("uploads/pq/results", filesystem=fs, format="parquet", partitioning="hive").to_table().to_pylist()
    assert {r["path"]: r["verdict"] for r in rows} == {p: o["verdict"] for p, o in lines.items()}
    assert {r["size"] for r in rows if r["verdict"] != "error"} == {len(png)}  # sizes known without another request
    assert not s3.client.list_multipart_uploads(Bucket="uploads").get("Uploads")  # every part completed
    again = _cli("verify", "s3://uploads/pq/in/", "--scope", "implicit", "--jsonl", "--skip-done",
                 "s3://uploads/pq/results/", *results, endpoint=s3.endpoint)
    assert [json.loads(x)["path"] for x in again.stdout.splitlines()] == ["s3://uploads/pq/in/broken.png"]
