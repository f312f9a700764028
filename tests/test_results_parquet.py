"""Parquet results (--results DIR --results-format parquet), read back with pyarrow, the independent reader.

Each row says what the JSON Lines line of the same file says; the dataset is partitioned by date and
verdict; part files appear only when complete, row group by row group; --skip-done resumes from it.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")

import aigclabel  # noqa: E402
from aigclabel.batch import Outcome  # noqa: E402
from aigclabel.results import RECORD_FIELDS, ParquetResults  # noqa: E402
from conftest import PRODUCER, make_jpeg, make_png  # noqa: E402

AIGCLABEL = [sys.executable, "-c", "from aigclabel.cli.main import main; main()"]
PLATFORM = "00119144030008867405X220001"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 files: marked and plain PNGs, an SD PNG, plain JPEGs, a corrupt file, in two folders."""
    root = tmp_path_factory.mktemp("pq-corpus")
    plain = make_png(size=(16, 16))
    kinds = [(".png", aigclabel.mark(plain, producer=PRODUCER, produce_id="p", explicit=False)), (".png", plain),
             (".png", make_png(size=(16, 16), text=[("parameters", "a cat, Steps: 20")])),
             (".jpg", make_jpeg(size=(16, 16)))]
    for i in range(39):
        ext, data = kinds[i % 4]
        folder = root / f"d{i % 2}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i:03d}{ext}").write_bytes(data)
    (root / "d0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    return root


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AIGCLABEL, *args], capture_output=True, text=True, timeout=120)


def _rows(root: Path) -> dict[str, dict[str, Any]]:
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    rows = table.to_pylist()
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == len(rows)  # one row per file
    return by_path


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    return {k: f.get(k) for k in ("rule", "level", "clause", "message", "location", "expected", "actual")}


def test_verify_rows_equal_the_jsonl_lines(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    run = _run("verify", str(corpus), "-r", "--scope", "implicit", "--jsonl", "-j", "2", "--results", str(out),
               "--results-format", "parquet", "--skip-done", str(out))  # resumable from its first run
    assert run.returncode == 1, run.stderr
    lines = {(o := json.loads(x))["path"]: o for x in run.stdout.splitlines()}
    rows = _rows(out)
    assert set(rows) == set(lines) and len(rows) == 40
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    parts = {p.relative_to(out).parts[:2] for p in out.rglob("*.parquet")}
    assert parts == {(f"date={today}", f"verdict={v}") for v in ("compliant", "noncompliant", "error")}
    for path, line in lines.items():
        row = rows[path]
        assert row["verdict"] == line["verdict"] and row["date"] == today
        assert row["format"] == line["format"] and row["outcome"] == line.get("outcome")
        assert row["findings"] == [_finding(f) for f in line["findings"]]
        fields = line["labels"][0]["fields"] if line["labels"] else {}
        assert {k: row[k] for k in RECORD_FIELDS} == {k: fields.get(k) for k in RECORD_FIELDS}
        assert row["size"] == Path(path).stat().st_size and row["command"] == "verify"
        assert row["error_kind"] == (line.get("error") or {}).get("kind")
    marked = next(r for r in rows.values() if r["verdict"] == "compliant")
    assert marked["ContentProducer"] == PRODUCER and marked["ProduceID"] == "p" and marked["records"] == 1
    assert rows[str(corpus / "d0" / "broken.png")]["error_kind"] == "corrupt-file"
    # a query reads one partition only
    errors = ds.dataset(out, format="parquet", partitioning="hive").to_table(filter=ds.field("verdict") == "error")
    assert errors.column("path").to_pylist() == [str(corpus / "d0" / "broken.png")]


def test_review_rows_and_resume_from_the_dataset(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    first = _run("review", str(corpus), "-r", "--platform-code", PLATFORM, "--jsonl", "--results", str(out),
                 "--results-format", "parquet")
    assert first.returncode == 3, first.stderr  # the corrupt file
    lines = {(o := json.loads(x))["path"]: o for x in first.stdout.splitlines()}
    rows = _rows(out)
    assert set(rows) == set(lines)
    for path, line in lines.items():
        row = rows[path]
        assert row["tier"] == line["tier"] and row["notice"] == line["notice"] and row["command"] == "review"
        record = line["record"] or {}
        assert {k: row[k] for k in RECORD_FIELDS} == {k: record.get(k) for k in RECORD_FIELDS}
        assert row["verdict"] == ("error" if line.get("error") else f"tier-{line['tier']}" if line["tier"] else "none")
    assert {r["verdict"] for r in rows.values()} >= {"tier-1", "none", "error"}
    assert any(r["PropagateID"] for r in rows.values())  # the propagation fields the review adds
    # resume: only the file with an error is done again; its new row joins the dataset
    again = _run("review", str(corpus), "-r", "--platform-code", PLATFORM, "--jsonl", "--skip-done", str(out),
                 "--results", str(out), "--results-format", "parquet")
    assert [json.loads(x)["path"] for x in again.stdout.splitlines()] == [str(corpus / "d0" / "broken.png")]
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 41


def test_written_row_group_by_row_group_and_parts_appear_complete(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    results = ParquetResults(str(out), "verify", rows_per_group=5, groups_per_file=2)
    error = {"kind": "corrupt-file", "type": "CorruptFile", "message": "bad"}
    for i in range(23):
        results.add(Outcome(i, f"/x/{i}.png", error=error, seconds=0.5, size=i))
        if i == 16:  # 17 rows: a part of 2 groups of 5 complete, a part with 1 group open, 2 rows buffered
            hidden = [p for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
            assert len(hidden) == 1 and hidden[0].stat().st_size > 0  # its row group is on disk already
            assert ds.dataset(out, format="parquet", partitioning="hive").count_rows() == 10  # readers skip it
    assert results.rows == 23
    results.close()
    files = sorted(out.rglob("*.parquet"))
    assert all(not p.name.startswith(".") for p in out.rglob("*") if p.is_file())  # no temp file left
    groups = [pq.ParquetFile(p).metadata.num_row_groups for p in files]
    assert sorted(groups) == [1, 2, 2] and sum(pq.ParquetFile(p).metadata.num_rows for p in files) == 23
    rows = ds.dataset(out, format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted(r["size"] for r in rows) == list(range(23))
    assert {r["verdict"] for r in rows} == {"error"} and {r["error_kind"] for r in rows} == {"corrupt-file"}


def test_results_jsonl_file_and_usage_errors(corpus: Path, tmp_path: Path) -> None:
    log = tmp_path / "results.jsonl"
    run = _run("verify", str(corpus / "d1"), "--scope", "implicit", "-q", "--results", str(log))
    assert run.returncode == 1, run.stderr
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert sorted(o["path"] for o in lines) == sorted(str(p) for p in (corpus / "d1").iterdir())
    resumed = _run("verify", str(corpus / "d1"), "--scope", "implicit", "--jsonl", "--skip-done", str(log))
    assert resumed.stdout == "" and resumed.returncode == 0
    bad = _run("verify", str(corpus / "d1"), "--results-format", "parquet")
    assert bad.returncode == 2 and "--results" in bad.stderr
