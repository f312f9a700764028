"""Start-up stays cheap (issue 15, item 1): what `aigclabel --help` and a single-file implicit verify import.

The import set is the cause of start-up time (measured: `handlers()` importing every format module was 77 % of a
verify).  These tests keep it from growing; `bench/bench_startup.py` times it against `python3 -c pass`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from aigclabel.cli.main import COMMANDS, cli

SAMPLES = Path(__file__).parent.parent / "samples"

_RUN = """import sys
at_start = set(sys.modules)  # what the interpreter and site (.pth files) loaded before us
sys.argv = ["aigclabel", *sys.argv[1:]]
from aigclabel.cli.main import main
try:
    main()
except SystemExit:
    pass
print("MODULES " + " ".join(sorted(sys.modules)), file=sys.stderr)
print("OURS " + " ".join(sorted(set(sys.modules) - at_start)), file=sys.stderr)
made = sorted(f"{name}.{value.__qualname__}" for name, mod in list(sys.modules.items()) if name.startswith("aigclabel")
              for value in vars(mod).values()
              if isinstance(value, type) and "__dataclass_fields__" in vars(value) and value.__module__ == name)
print("DATACLASSES " + " ".join(made), file=sys.stderr)
"""


def _modules(*args: str, prefix: str = "MODULES ") -> set[str]:
    proc = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=120)
    line = next(x for x in proc.stderr.splitlines() if x.startswith(prefix))
    return set(line.split()[1:])


def test_help_imports_no_subcommand_and_no_model() -> None:
    ours = {m for m in _modules("--help") if m.startswith("aigclabel")}
    assert ours == {"aigclabel", "aigclabel.errors", "aigclabel.cli", "aigclabel.cli.main"}


def test_single_jpeg_implicit_verify_imports_only_what_it_uses() -> None:
    mods = _modules("verify", str(SAMPLES / "photo.jpg"), "--scope", "implicit")
    heavy = {m.split(".")[0] for m in mods} & {"c2pa", "numpy", "av", "PIL", "ssl", "fontTools", "pypdf", "mutagen",
                                               "onnxruntime", "rapidocr", "fastapi", "uvicorn", "http"}
    assert heavy == set()
    # nothing of a batch's machinery (pool, sandbox, Dask, object storage's libraries) nor the watermark detector
    stdlib_heavy = mods & {"multiprocessing", "concurrent.futures", "subprocess", "pickle", "fsspec", "dask",
                           "distributed", "aigclabel._pool", "aigclabel._sandbox", "aigclabel.cluster",
                           "aigclabel.watermark", "difflib", "traceback", "unicodedata"}
    assert stdlib_heavy == set()
    formats = {m.split(".")[2] for m in mods if m.startswith("aigclabel.formats.") and not m.split(".")[2][0] == "_"}
    assert formats <= {"base", "jpeg"}, formats  # (a JPEG's first bytes no longer ask the mp3 handler)
    commands = {m.split(".")[2] for m in mods if m.startswith("aigclabel.cli.") and not m.split(".")[2][0] == "_"}
    assert commands <= {"main", "verify", "render"}, commands


#: the dataclasses a single-file implicit verify of a JPEG builds: the public models (records, reports, findings,
#: profiles, limits, evidence, batch outcomes).  Each costs 0.5-1 ms of CPU to create at import (its methods are
#: compiled from source), so internal value records are NamedTuples or plain classes; a new one on this path
#: should be one of those too, or raise this bound with a reason.
MAX_START_UP_DATACLASSES = 19


def test_single_verify_builds_only_the_public_models_as_dataclasses() -> None:
    made = _modules("verify", str(SAMPLES / "photo.jpg"), "--scope", "implicit", prefix="DATACLASSES ")
    assert "aigclabel.report.Report" in made  # the probe sees dataclasses at all
    assert len(made) <= MAX_START_UP_DATACLASSES, sorted(made)


def test_single_verify_does_not_load_what_only_writing_needs() -> None:
    """importlib.resources (to find the profiles: ~4 ms with the zipfile and tempfile it loads) and tempfile (for
    spooling and atomic writes) are a writer's business.  Judged on what *this command* imported: a site hook
    that loads them first (an installation's .pth file) is not ours -- the benchmark says so too."""
    ours = _modules("verify", str(SAMPLES / "photo.jpg"), "--scope", "implicit", prefix="OURS ")
    assert "aigclabel.cli.verify" in ours  # the command did run
    assert ours & {"importlib.resources", "importlib.readers", "zipfile", "tempfile"} == set(), ours


def test_the_help_lines_are_the_commands_own() -> None:
    ctx = click.Context(cli)
    for name, (_module, _attr, line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, name
        assert command.get_short_help_str(limit=1000) == line, name
    assert cli.get_command(ctx, "no-such-command") is None


def test_every_dataclass_has_a_docstring() -> None:
    """A dataclass without one gets ``inspect.signature`` computed at import to make one: a 4-field class takes
    0.47 ms to create instead of 0.22 ms, paid by every command for every such class on its import path."""
    import ast

    root = Path(__file__).resolve().parent.parent
    missing = []
    for folder in ("aigclabel", "cli"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.ClassDef) and ast.get_docstring(node) is None
                        and any("dataclass" in ast.unparse(d) for d in node.decorator_list)):
                    missing.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    assert not missing, missing
