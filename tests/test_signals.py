"""Interrupted writes (issue 12 item 5): a real `aigclabel mark` subprocess killed mid-write on a 200 MB WAV.

SIGTERM and SIGINT clean up (no temp file, no partial target, exit 143 / 130); SIGKILL cannot, but
leaves only a recognisable `.NAME.p<pid>.XXXXXXXX.aigctmp` that `aigclabel clean` removes -- and
`aigclabel clean` removes nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import aigclabel
from aigclabel._io import aigclabel_tempdir, temp_directory, temp_owner
from conftest import PRODUCER

CLI = [sys.executable, "-c", "from aigclabel.cli.main import main; main()"]
BIG = 200 << 20


def write_big_wav(path: Path, nbytes: int = BIG) -> None:
    """A plain 16-bit stereo 48 kHz WAV of *nbytes* PCM (random, so nothing compresses or sparsifies it)."""
    rate, channels, bits = 48000, 2, 16
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", 36 + nbytes) + b"WAVE")
        fh.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * bits // 8,
                                       channels * bits // 8, bits))
        fh.write(b"data" + struct.pack("<I", nbytes))
        for _ in range(nbytes >> 20):
            fh.write(block)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("src") / "big.wav"
    write_big_wav(path)
    return path, sha256(path)


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if temp_owner(p.name)[0]]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _temp_holding(folder: Path, at_least: int) -> bool:
    """Whether a temp file of ours in *folder* holds at least *at_least* bytes (it may be renamed meanwhile)."""
    for p in folder.iterdir():
        if p.name.endswith(".aigctmp"):
            try:
                return p.stat().st_size >= at_least
            except FileNotFoundError:
                return False
    return False


def mark_and_signal(src: Path, out_dir: Path, sig: int, attempts: int = 6,
                    at_least: int = 0) -> tuple[int, Path, int]:
    """Start `aigclabel mark SRC -o OUT --durable`; send *sig* as soon as its temp file appears (holding at
    least *at_least* bytes).

    Returns (exit status, target, pid) of a run the signal reached before its output was complete.  The whole
    mark takes about 0.5 s here, most of it in one kernel copy and an fsync, which a caught signal does not
    cut short; on a loaded machine the write can be done before the signal lands, and the process then exits
    0 (already finished) or dies of the signal's default action during interpreter shutdown (its handler is
    gone), with the output whole.  Such a run says nothing of the handler and is tried again; a run that
    never gets interrupted in *attempts* tries fails the test (a handler that ignored the signal would look
    like that too).
    """
    target = out_dir / "out.wav"
    late = []
    for _ in range(attempts):
        # SIGINT at its default in the child: a run started in the background of a non-interactive shell
        # inherits it ignored, and a Python started so keeps ignoring it (rightly: that is what nohup asks)
        proc = subprocess.Popen([*CLI, "mark", str(src), "-o", str(target), "--producer", PRODUCER,
                                 "--no-explicit", "--durable"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=_default_sigint)
        deadline = time.monotonic() + 30
        sent = False
        while time.monotonic() < deadline and proc.poll() is None:
            if _temp_holding(out_dir, at_least):
                proc.send_signal(sig)
                sent = True
                break
            time.sleep(0.001)
        rc = proc.wait(timeout=60)
        finished_first = rc in (0, -sig) and target.exists() and not temps(out_dir) and bool(
            aigclabel.inspect(target).labels)
        if sent and not finished_first:
            return rc, target, proc.pid
        late.append(rc)
        target.unlink(missing_ok=True)  # finished before the signal reached it: try again
    pytest.fail(f"no run of {attempts} was interrupted mid-write (exit statuses {late}): the write finished "
                "first every time, or the signal was ignored")


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_clean_up(big_wav: tuple[Path, str], tmp_path: Path, sig: int, status: int) -> None:
    src, digest = big_wav
    rc, target, _pid = mark_and_signal(src, tmp_path, sig)
    assert rc == status
    assert temps(tmp_path) == []  # the handler ran atomic_output's clean-up
    if target.exists():  # the signal came after the rename: then the output is whole
        assert aigclabel.inspect(target).labels
    assert sha256(src) == digest


def test_sigkill_leaves_only_a_recognisable_temp_that_clean_removes(big_wav: tuple[Path, str],
                                                                     tmp_path: Path) -> None:
    src, digest = big_wav
    rc, target, pid = mark_and_signal(src, tmp_path, signal.SIGKILL, at_least=1)  # clean reports bytes freed
    assert rc == -signal.SIGKILL
    assert not target.exists()  # never a partial target
    assert sha256(src) == digest
    (left,) = temps(tmp_path)
    assert left.name.startswith(".out.wav.") and temp_owner(left.name) == (True, pid)
    # things that are not ours, some with look-alike names, and one of ours still young
    keep = {name: tmp_path / name for name in ("notes.aigctmp", "aigclabel-demo-abcd1234", "out.wav.bak",
                                               "aigclabel-upload-x-abcd1234.png", ".hidden.aigctmp.txt")}
    for path in keep.values():
        if "demo" in path.name:
            path.mkdir()
        else:
            path.write_bytes(b"user data")
    live = tmp_path / f".other.wav.p{os.getpid()}.abcd1234.aigctmp"  # our own live process: kept
    live.write_bytes(b"in progress")
    old = time.time() - 7200
    for path in [left, live, *keep.values()]:
        os.utime(path, (old, old))
    young = tmp_path / "aigclabel-video-young123"  # ours (no pid in the name), but new: kept
    young.mkdir()
    (young / "frame.png").write_bytes(b"x")

    dry = subprocess.run([*CLI, "clean", str(tmp_path), "--dry-run", "--json"], capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["removed"] == [str(left)] and left.exists()
    res = subprocess.run([*CLI, "clean", str(tmp_path), "--json"], capture_output=True, text=True, timeout=60)
    body = json.loads(res.stdout)
    assert body["removed"] == [str(left)] and body["bytes"] > 0
    assert body["kept_live"] == [str(live)] and body["kept_young"] == [str(young)]
    assert not left.exists() and live.exists() and young.exists()
    assert all(p.exists() for p in keep.values())


def test_clean_recursive_and_older_than(tmp_path: Path) -> None:
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_dir = sub / f"aigclabel-video-{dead.pid}-abcd1234"
    stale_dir.mkdir()
    (stale_dir / "seg.mp4").write_bytes(b"x" * 1000)
    stale_file = sub / f".clip.mp4.p{dead.pid}.zz_00000.aigctmp"
    stale_file.write_bytes(b"y" * 10)
    legacy = tmp_path / "aigclabel-video-q1w2e3r4"
    legacy.mkdir()
    old = time.time() - 600
    for path in (stale_dir, stale_file, legacy):
        os.utime(path, (old, old))
    flat = subprocess.run([*CLI, "clean", str(tmp_path), "--older-than", "5m", "--json"], capture_output=True,
                          text=True, timeout=60)
    assert json.loads(flat.stdout)["removed"] == [str(legacy)]
    assert stale_dir.exists() and stale_file.exists()
    res = subprocess.run([*CLI, "clean", "-r", str(tmp_path), "--older-than", "20m"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and stale_dir.exists()  # 10 min old: younger than 20m
    res = subprocess.run([*CLI, "clean", "-r", str(tmp_path), "--older-than", "5m"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert not stale_dir.exists() and not stale_file.exists() and sub.is_dir()
    bad = subprocess.run([*CLI, "clean", str(tmp_path), "--older-than", "soon"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_temp_directory_helper_names_and_removes(tmp_path: Path) -> None:
    with temp_directory("audio", tmp_path) as path:
        name = os.path.basename(path)
        assert name.startswith(f"aigclabel-audio-{os.getpid()}-") and temp_owner(name) == (True, os.getpid())
        Path(path, "x.wav").write_bytes(b"x")
    assert not os.path.exists(path)
    with pytest.raises(ValueError):
        aigclabel_tempdir("../x")
