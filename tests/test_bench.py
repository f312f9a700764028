"""The benchmarks in bench/ can fail (issue 15, item 5): a missed target is a FAIL row and a non-zero exit.

One cheap bench (start-up of ``aigclabel --help``, whole processes) is run with every target multiplied by 0.001,
which no machine can meet, alone and through ``run_all.py``; every ``bench/bench_*.py`` must take ``--quick`` and
``--help`` and state its targets in its help.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=BENCH.parent)


def _rows(out: str, status: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("| ") and line.rstrip().endswith(f"| {status} |")
            or f"| {status} —" in line]


def test_an_impossible_target_fails_the_bench() -> None:
    proc = _run(str(BENCH / "bench_startup.py"), "--case", "help", "--target-scale", "0.001")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _rows(proc.stdout, "FAIL"), proc.stdout
    assert "| bench | metric | ours | baseline | ratio | target | result |" in proc.stdout
    assert "load average" in proc.stdout and "interleaved pairs" in proc.stdout


def test_run_all_reports_the_failure_in_one_table() -> None:
    proc = _run(str(BENCH / "run_all.py"), "--only", "startup", "--bench-args", "--case help", "--target-scale",
                "0.001")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    table = proc.stdout.rsplit("all benches:", 1)[-1]
    assert _rows(table, "FAIL") and "| startup | aigclabel --help" in table, proc.stdout


def test_fewer_than_five_pairs_is_refused() -> None:
    proc = _run(str(BENCH / "bench_startup.py"), "--pairs", "3")
    assert proc.returncode == 2 and "at least 5" in proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_every_bench_takes_quick_and_help_and_states_its_targets(script: Path) -> None:
    proc = _run(str(script), "--help")
    assert proc.returncode == 0, proc.stderr
    for option in ("--quick", "--target-scale", "--allow-inconclusive", "--pairs"):
        assert option in proc.stdout, (script.name, option)
    assert "Targets" in proc.stdout, script.name
