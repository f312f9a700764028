"""Batch runs: directory trees, worker processes, JSON Lines streaming, resuming, the summary."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import aigclabel
from aigclabel.batch import BadPath, Summary, discover, load_done, output_for, run
from aigclabel.cli.main import cli
from conftest import PRODUCER, make_jpeg, make_png

PLATFORM = "00119144030008867405X220001"
AIGCLABEL = [sys.executable, "-c", "from aigclabel.cli.main import main; main()"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 small files in nested folders: marked PNGs, plain PNGs, SD PNGs, plain JPEGs, one corrupt file."""
    root = tmp_path_factory.mktemp("tree")
    plain_png = make_png(size=(16, 16))
    marked_png = aigclabel.mark(plain_png, producer=PRODUCER, produce_id="p", explicit=False)
    sd_png = make_png(size=(16, 16), text=[("parameters", "a cat, Steps: 20")])
    plain_jpg = make_jpeg(size=(16, 16))
    kinds = [("marked", ".png", marked_png), ("plain", ".png", plain_png), ("sd", ".png", sd_png),
             ("photo", ".jpg", plain_jpg)]
    for i in range(199):
        name, ext, data = kinds[i % 4]
        folder = root / f"d{i % 5}" / f"e{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}-{i:03d}{ext}").write_bytes(data)
    (root / "d0" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
    (root / ".hidden.png").write_bytes(plain_png)  # skipped: hidden
    return root


def lines_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_review_tree_jobs2_jsonl_streams_every_file(tree: Path, tmp_path: Path) -> None:
    proc = subprocess.run([*AIGCLABEL, "review", str(tree), "-r", "--jobs", "2", "--jsonl", "--platform-code",
                           PLATFORM, "--detect-explicit", "never"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr  # the corrupt file: could not be reviewed
    objs = lines_of(proc.stdout)
    assert len(objs) == 200
    paths = [o["path"] for o in objs]
    assert len(set(paths)) == 200 and not any(".hidden" in p for p in paths)
    bad = [o for o in objs if o.get("error")]
    assert len(bad) == 1 and bad[0]["path"].endswith("corrupt.png") and bad[0]["error"]["kind"] == "corrupt-file"
    tiers = {os.path.basename(o["path"]).split("-")[0]: o["tier"] for o in objs if not o.get("error")}
    assert tiers == {"marked": 1, "plain": None, "sd": 3, "photo": None}
    for o in objs:
        if o["tier"] is not None:
            assert o["record"]["ContentPropagator"] == PLATFORM
    # one error line for the bad file, then the summary counting each verdict and error kind
    err = proc.stderr.strip().splitlines()
    assert len(err) == 2 and "corrupt.png" in err[0]
    assert "200 files" in err[1] and "50 tier-1" in err[1] and "50 tier-3" in err[1] and "99 none" in err[1]
    assert "1 corrupt-file" in err[1]
    assert "\r" not in proc.stderr and "%" not in proc.stderr  # no progress bar when piped

    # resume: the first 120 lines are done; the rest (and the failed file) are done again
    log = tmp_path / "review.jsonl"
    log.write_text("\n".join(proc.stdout.splitlines()[:120]) + '\n{"path": "cut-off', encoding="utf-8")
    done_before = {o["path"] for o in objs[:120] if not o.get("error")}
    rerun = subprocess.run([*AIGCLABEL, "review", str(tree), "-r", "--jobs", "2", "--jsonl", "--platform-code",
                            PLATFORM, "--detect-explicit", "never", "--skip-done", str(log)],
                           capture_output=True, text=True, timeout=120)
    again = {o["path"] for o in lines_of(rerun.stdout)}
    assert again == set(paths) - done_before and not (again & done_before)


def test_verify_tree_jobs_json_order_and_summary(tree: Path) -> None:
    runner = CliRunner()
    one = runner.invoke(cli, ["verify", str(tree), "-r", "--scope", "implicit", "--json"])
    two = runner.invoke(cli, ["verify", str(tree), "-r", "--scope", "implicit", "--json", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 1  # non-compliant files are never masked by the corrupt one (3)
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert len(a) == 200 and [o["path"] for o in a] == [o["path"] for o in b]  # input order kept
    assert [o["verdict"] for o in a] == [o["verdict"] for o in b]
    assert sum(o["verdict"] == "compliant" for o in a) == 50 and sum(o["verdict"] == "error" for o in a) == 1
    assert "50 compliant" in two.stderr and "149 noncompliant" in two.stderr and "1 corrupt-file" in two.stderr

    stream = runner.invoke(cli, ["verify", str(tree), "-r", "--scope", "implicit", "--jsonl", "-j", "2"])
    objs = lines_of(stream.stdout)
    assert len(objs) == 200 and {o["path"] for o in objs} == {o["path"] for o in a}
    # SARIF and text keep working over a directory
    sarif = json.loads(runner.invoke(cli, ["verify", str(tree / "d1"), "-r", "--scope", "implicit",
                                           "--format", "sarif", "-j", "2"]).stdout)
    assert sarif["version"] == "2.1.0"
    text = runner.invoke(cli, ["verify", str(tree / "d1" / "e0"), "--scope", "implicit", "-q"])
    assert text.stdout.count("\n") == len(list((tree / "d1" / "e0").iterdir()))
    res = runner.invoke(cli, ["verify", str(tree), "--json", "--jsonl"])
    assert res.exit_code == 2


def test_review_tree_to_output_mirror(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "spread"
    res = CliRunner().invoke(cli, ["review", str(tree / "d2"), "-r", "-o", str(out), "--platform-code", PLATFORM,
                                   "--detect-explicit", "never", "-j", "2", "--json"])
    assert res.exit_code == 0, res.output
    written = [o for o in json.loads(res.stdout) if o["output"]]
    assert written and all(o["tier"] in (1, 3) for o in written)
    for o in written:
        rel = os.path.relpath(o["path"], tree / "d2")
        assert o["output"] == str(out / rel) and (out / rel).is_file()
        (lab,) = aigclabel.inspect(out / rel).labels
        assert json.loads(lab.raw)["ContentPropagator"] == PLATFORM


def test_progress_bar_on_a_terminal_only(tree: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*AIGCLABEL, "verify", str(tree), "-r", "--scope", "implicit", "--jsonl"],
                                stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        stdout, _ = proc.communicate(timeout=120)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    tty = b"".join(chunks).decode("utf-8", "replace")
    assert "verify" in tty and "100%" in tty  # the bar, on the terminal
    assert len(stdout.splitlines()) == 200  # stdout untouched by it


def _crash_on_boom(path: str) -> str:
    if "boom" in path:
        os._exit(7)  # a native crash, as far as the pool can tell
    if "slow" in path:
        time.sleep(0.05)
    return os.path.basename(path)


def test_jsonl_rows_are_made_on_the_workers(tree: Path) -> None:
    """--jsonl: a worker sends the finished line of each report (batch.Rendered), not the report object, and the
    line is the one the command printed when it serialised the report itself."""
    import functools

    from aigclabel.batch import Rendered, RenderRows, verify_task

    task = functools.partial(verify_task, profile="cn-gb45438-2025", scope="implicit")
    paths = sorted(str(p) for p in tree.rglob("*") if p.is_file() and not p.name.startswith("."))[:40]
    outcomes = list(run(paths, RenderRows(task), jobs=2, chunk_size=4, start_method="fork"))
    assert len(outcomes) == 40
    for outcome in outcomes:
        if outcome.error is not None:
            continue
        assert isinstance(outcome.value, Rendered)  # what crossed the process boundary
        report = task(outcome.path)
        assert outcome.value.line == json.dumps(report.to_dict(), ensure_ascii=False)
        assert outcome.verdict == report.verdict.value and outcome.exit_code == report.exit_code
    # the command's lines are those lines, and the same with one process or two
    one = CliRunner().invoke(cli, ["verify", str(tree), "-r", "--scope", "implicit", "--jsonl"])
    two = CliRunner().invoke(cli, ["verify", str(tree), "-r", "--scope", "implicit", "--jsonl", "--jobs", "2"])
    assert sorted(one.stdout.splitlines()) == sorted(two.stdout.splitlines())
    rows = {json.loads(line)["path"]: line for line in two.stdout.splitlines()}
    first = next(o for o in outcomes if o.error is None)
    assert rows[first.path] == first.value.line


def test_worker_crash_is_one_bad_file(tmp_path: Path) -> None:
    names = [f"f{i:02d}" for i in range(12)] + ["boom"] + [f"g{i:02d}" for i in range(12)]
    items = [str(tmp_path / n) for n in names]
    # fork: the task lives in this test module, which a fork server could not import
    outcomes = list(run(items, _crash_on_boom, jobs=2, chunk_size=3, start_method="fork"))
    assert [o.path for o in outcomes] == items  # ordered
    crashed = [o for o in outcomes if o.error]
    assert len(crashed) == 1 and crashed[0].path.endswith("boom") and crashed[0].error["kind"] == "worker-crashed"
    assert [o.value for o in outcomes if o.ok] == [n for n in names if n != "boom"]


def test_files_beside_a_crashing_one_are_never_blamed(tmp_path: Path) -> None:
    """The pool cannot tell which worker died: the files that were in flight with the crashing one are retried
    one at a time, alone, so only the file that breaks a pool on its own is reported as worker-crashed."""
    names = [f"slow{i}" for i in range(6)] + ["boom"] + [f"slow{i}" for i in range(6, 12)]
    items = [str(tmp_path / n) for n in names]
    for _ in range(3):
        outcomes = list(run(items, _crash_on_boom, jobs=2, chunk_size=2, start_method="fork"))
        assert [o.path for o in outcomes] == items
        assert [o.path for o in outcomes if o.error] == [str(tmp_path / "boom")]
        assert [o.value for o in outcomes if o.ok] == [n for n in names if n != "boom"]


def test_as_completed_and_errors_as_results(tmp_path: Path) -> None:
    items: list[Any] = [str(tmp_path / f"slow{i}") for i in range(4)] + [str(tmp_path / f"fast{i}") for i in range(8)]
    items.insert(3, BadPath("nodir", {"kind": "source-error", "type": "SourceError", "message": "nodir: x"}))
    outcomes = list(run(items, _crash_on_boom, jobs=2, ordered=False, chunk_size=1, start_method="fork"))
    assert sorted(o.index for o in outcomes) == list(range(13))
    assert [o.index for o in outcomes] != list(range(13))  # fast files overtook slow ones
    summary = Summary()
    for o in outcomes:
        summary.add(o)
    assert summary.files == 13 and summary.errors == {"source-error": 1}
    assert summary.to_dict()["verdicts"] == {"done": 12, "error": 1}
    # in-process too: a raising task is an outcome
    (res,) = run([str(tmp_path / "missing.png")], aigclabel.verify)
    assert res.error is not None and res.error["kind"] == "source-error" and res.exit_code == 3


def test_discover_rules(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"x")
    (tmp_path / "top.png").write_bytes(b"x")
    (tmp_path / ".hid").mkdir()
    (tmp_path / ".hid" / "y.png").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    flat = list(discover([tmp_path]))
    assert flat == [str(tmp_path / "top.png")]
    deep = list(discover([tmp_path], recursive=True))
    assert deep == [str(tmp_path / "a" / "x.png"), str(tmp_path / "top.png")]  # an empty subfolder is fine
    (empty,) = discover([tmp_path / "empty"], recursive=True)  # an input that names nothing is an error
    assert isinstance(empty, BadPath) and "is a directory with no files" in empty.error["message"]
    assert list(discover([tmp_path / "nope.png"])) == [str(tmp_path / "nope.png")]
    assert output_for(str(tmp_path / "a" / "x.png"), "/out", [str(tmp_path)]) == "/out/a/x.png"
    assert output_for("elsewhere/z.png", "/out", [str(tmp_path)]) == "/out/z.png"
    log = tmp_path / "log.jsonl"
    log.write_text('{"path": "./a/x.png"}\n{"path": "b.png", "error": {"kind": "x"}}\nnot json\n')
    assert load_done(log) == {"a/x.png"}


def _processes_in_group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields[2] is the process group
            found.append(int(entry))
    return found


@pytest.mark.parametrize("how", ["exit", "sigterm", "closed-pipe"])
def test_no_worker_process_outlives_the_command(tree: Path, how: str) -> None:
    import signal
    import time

    proc = subprocess.Popen([*AIGCLABEL, "verify", str(tree), "-r", "--jobs", "2", "--jsonl", "--scope", "all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    if how == "sigterm":
        proc.stdout.readline()  # work is under way in the workers
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
    elif how == "closed-pipe":
        proc.stdout.readline()
        proc.stdout.close()  # `| head -1`
    if how == "closed-pipe":
        proc.wait(timeout=120)
    else:
        proc.communicate(timeout=120)
    expected = {"exit": 1, "sigterm": 143, "closed-pipe": None}[how]
    if expected is not None:
        assert proc.returncode == expected
    if how == "sigterm":
        assert time.monotonic() - t0 < 3.0  # workers are stopped, not waited for
    deadline = time.monotonic() + 5
    while _processes_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_in_group(proc.pid) == []


_START_METHOD_PROBE = '''
import ctypes, json, os, sys, threading
from aigclabel._pool import _default_start_method
from aigclabel.batch import run


def parent_of(path):
    return os.getppid()


if __name__ == "__main__":
    if sys.argv[1] == "python-thread":
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    elif sys.argv[1] == "native-thread":  # a C library's thread, which the threading module never sees
        libc = ctypes.CDLL(None)
        tid = ctypes.c_ulong()
        assert libc.pthread_create(ctypes.byref(tid), None, ctypes.cast(libc.sleep, ctypes.c_void_p),
                                   ctypes.c_void_p(60)) == 0
        assert threading.active_count() == 1
    method = _default_start_method()
    parents = {o.value for o in run([f"f{i}" for i in range(8)], parent_of, jobs=2, chunk_size=1)}
    print(json.dumps({"method": method, "forked_from_me": parents == {os.getpid()}}))
    sys.stdout.flush()
    os._exit(0)  # the native thread would otherwise keep sleeping
'''


@pytest.mark.parametrize("threads", ["none", "python-thread", "native-thread"])
def test_pool_forks_this_process_only_while_it_has_one_thread(tmp_path: Path, threads: str) -> None:
    """Workers are a plain fork of the caller (warm: no interpreter start, no imports) only while it runs one
    thread; another thread -- a Python one or a native library's -- might hold a lock across the fork, so then
    they come from the fork server (their parent is the server, not the caller)."""
    script = tmp_path / "probe.py"
    script.write_text(_START_METHOD_PROBE)
    done = subprocess.run([sys.executable, str(script), threads], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    if threads == "none":
        assert answer == {"method": "fork", "forked_from_me": True}
    else:
        assert answer == {"method": "forkserver", "forked_from_me": False}
