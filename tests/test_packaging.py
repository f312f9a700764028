"""The wheel ships every package of the tree (a subpackage missing from pyproject.toml would import
in an editable install and fail after `pip install .`)."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(conf["packages"])
    dirs = {name: Path(path) for name, path in conf["package-dir"].items()}
    found = set()
    for name, base in dirs.items():
        for init in (ROOT / base).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / base)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found == listed
