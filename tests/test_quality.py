"""The code stays typed and lint-clean: ``mypy aigclabel`` (default settings) and ruff (E, F, bugbear,
complexity <= 25 -- see pyproject.toml) report nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _tool(name: str) -> list[str]:
    if shutil.which(name) is None and subprocess.run([sys.executable, "-m", name, "--version"],
                                                     capture_output=True).returncode != 0:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", name]


def test_mypy_reports_no_errors() -> None:
    res = subprocess.run([*_tool("mypy"), "aigclabel", "cli"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout[-4000:]


def test_ruff_reports_nothing() -> None:
    res = subprocess.run([*_tool("ruff"), "check", "aigclabel", "cli"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-4000:]
