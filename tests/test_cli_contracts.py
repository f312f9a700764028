"""The installed ``aigclabel`` command as a script sees it: pipes, exit codes, one-line errors (issue 14)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import aigclabel

PRODUCER = "001191110102MACQD9K64010000"


def _command() -> list[str]:
    exe = shutil.which("aigclabel")
    return [exe] if exe else [sys.executable, "-m", "aigclabel.cli.main"]


def run(*args: str, cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_command(), *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          **kw)  # type: ignore[call-overload]


def jpeg(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (seed % 256, 90, 160)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 labelled JPEGs: enough output to fill a pipe's buffer."""
    root = tmp_path_factory.mktemp("many")
    marked = aigclabel.mark(jpeg(), producer=PRODUCER, explicit=False)
    for i in range(300):
        (root / f"f{i:03}.jpg").write_bytes(marked)
    return root


def _pipe_to_head(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``aigclabel ARGS | head -1``; the command's own exit status and stderr."""
    proc = subprocess.Popen([*_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `head -1` does
    err = proc.stderr.read().decode(errors="replace")
    return proc.wait(timeout=300), err


def test_closed_pipe_ends_quietly_with_what_was_decided(many: Path) -> None:
    files = sorted(p.name for p in many.iterdir())
    rc, err = _pipe_to_head(["inspect", "--json", *files], many)
    assert rc == 0 and "internal error" not in err and "BrokenPipe" not in err, err
    rc, err = _pipe_to_head(["verify", "-q", "--scope", "implicit", *files], many)
    assert rc == 0 and err.strip() == "", err  # all compliant: not 1
    rc, err = _pipe_to_head(["verify", "--scope", "implicit", "--jsonl", *files], many)
    assert rc == 0 and "Traceback" not in err, err


def test_noncompliant_is_never_masked_by_could_not_check(tmp_path: Path) -> None:
    (tmp_path / "ok.jpg").write_bytes(aigclabel.mark(jpeg(), producer=PRODUCER, explicit=False))
    (tmp_path / "plain.jpg").write_bytes(jpeg(1))  # no record: non-compliant
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe1\x00")  # truncated: could not check
    res = run("verify", "--scope", "implicit", "-q", "ok.jpg", "broken.jpg", "plain.jpg", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    res = run("verify", "--scope", "implicit", "-q", "ok.jpg", "broken.jpg", cwd=tmp_path)
    assert res.returncode == 3


def test_exit_codes_are_explained_in_help(tmp_path: Path) -> None:
    for cmd in ("verify", "mark", "inspect", "review"):
        text = " ".join(run(cmd, "--help", cwd=tmp_path).stdout.split())
        assert "Exit codes:" in text and "non-compliant" in text and "could not check" in text, cmd


def test_os_errors_are_one_plain_line(tmp_path: Path) -> None:
    src = tmp_path / "gen.jpg"
    src.write_bytes(jpeg())
    # the output's directory is a file: the system refuses, and we say so without "internal error"
    (tmp_path / "notadir").write_text("x")
    res = run("mark", "gen.jpg", "-o", "notadir/out.jpg", "--producer", PRODUCER, cwd=tmp_path)
    assert res.returncode == 3, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0] and "notadir" in lines[0], res.stderr


@pytest.mark.parametrize("args, word", [
    (["--position", "start"], "position must be one of"),
    (["--video-duration", "0"], "video-duration"),
])
def test_bad_option_values_are_usage_errors(tmp_path: Path, args: list[str], word: str) -> None:
    (tmp_path / "gen.jpg").write_bytes(jpeg())
    res = run("mark", "gen.jpg", "-o", "out.jpg", "--producer", PRODUCER, *args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert word in res.stderr and not (tmp_path / "out.jpg").exists()


def test_library_option_errors_stay_in_the_tree() -> None:
    from aigclabel.errors import AigcLabelError, OptionError

    with pytest.raises(OptionError, match="scope must be one of") as info:
        aigclabel.verify(jpeg(), scope="bogus")
    assert isinstance(info.value, AigcLabelError) and "--" not in str(info.value)


def test_os_error_line_names_the_path_and_cause() -> None:
    from aigclabel.cli._common import error_line, exit_code_for

    exc = PermissionError(13, "Permission denied", "/srv/out/.gen.jpg.x.aigctmp")
    assert error_line(exc, "gen.jpg") == "gen.jpg: /srv/out/.gen.jpg.x.aigctmp: Permission denied"
    assert exit_code_for(exc) == 3
    assert "internal error" in error_line(RuntimeError("a bug"), "gen.jpg")  # ours still surface as bugs


def test_batch_marking_mirrors_a_tree_streams_jsonl_and_resumes(tmp_path: Path) -> None:
    import json

    tree = tmp_path / "in"
    (tree / "a" / "b").mkdir(parents=True)
    for i, rel in enumerate(["x.jpg", "a/y.jpg", "a/b/z.jpg"]):
        (tree / rel).write_bytes(jpeg(i))
    (tree / "a" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe1\x00")
    out = tmp_path / "out"
    out.mkdir()
    res = run("mark", "in", "-r", "-o", "out/", "--producer", PRODUCER, "--no-explicit", "--jobs", "2", "--jsonl",
              "--audit-log", "waivers.jsonl", cwd=tmp_path)
    assert res.returncode == 3, res.stderr  # the broken file could not be marked; the rest were
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert sorted(o["path"] for o in lines) == sorted(str(Path("in") / r) for r in
                                                      ["x.jpg", "a/y.jpg", "a/b/z.jpg", "a/bad.jpg"])
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.jpg")) == ["a/b/z.jpg", "a/y.jpg", "x.jpg"]
    for p in out.rglob("*.jpg"):
        assert aigclabel.verify(p, scope="implicit").verdict is aigclabel.Verdict.COMPLIANT
    assert len((tmp_path / "waivers.jsonl").read_text().splitlines()) == 3  # workers append to one log
    assert "4 files: 3 done, 1 error" in res.stderr
    # resume: done files are skipped; the failed one is tried again
    (tmp_path / "log.jsonl").write_text(res.stdout)
    again = run("mark", "in", "-r", "-o", "out/", "--producer", PRODUCER, "--no-explicit", "--jsonl",
                "--skip-done", "log.jsonl", cwd=tmp_path)
    assert [json.loads(line)["path"] for line in again.stdout.splitlines()] == [str(Path("in") / "a" / "bad.jpg")]


def test_a_directory_input_needs_an_output_directory(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jpg").write_bytes(jpeg())
    res = run("mark", "in", "-o", "missing/", "--producer", PRODUCER, cwd=tmp_path)
    assert res.returncode == 3 and "does not exist" in res.stderr


def test_inspect_takes_directories(tmp_path: Path) -> None:
    import json

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.jpg").write_bytes(aigclabel.mark(jpeg(), producer=PRODUCER, explicit=False))
    (tmp_path / "d" / "sub" / "b.jpg").write_bytes(jpeg(3))
    flat = json.loads(run("inspect", "d", "--json", cwd=tmp_path).stdout)
    assert [o["path"] for o in flat] == [str(Path("d") / "a.jpg")] and len(flat[0]["labels"]) == 1
    deep = json.loads(run("inspect", "d", "-r", "--json", cwd=tmp_path).stdout)
    assert sorted(o["path"] for o in deep) == [str(Path("d") / "a.jpg"), str(Path("d") / "sub" / "b.jpg")]


def test_warnings_for_a_misnamed_output_and_options_that_do_not_apply(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 30, 30)).save(buf, "PNG")
    (tmp_path / "gen.png").write_bytes(buf.getvalue())
    res = run("mark", "gen.png", "-o", "z.mp4", "--producer", PRODUCER, "--pages", "all", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "named .mp4 but the content is PNG" in res.stdout
    assert "--pages applies to document content only" in res.stdout
    quiet = run("mark", "gen.png", "-o", "ok.png", "--producer", PRODUCER, cwd=tmp_path)
    assert "warning" not in quiet.stdout


def test_version_flags(tmp_path: Path) -> None:
    for flag in ("-V", "--version"):
        res = run(flag, cwd=tmp_path)
        assert res.returncode == 0 and res.stdout.strip() == f"aigclabel, version {aigclabel.__version__}"


# ------------------------------------------------------------------------------------------ install hints (item 9)


def test_ocr_hint_names_the_system_library_when_opencv_cannot_load(tmp_path: Path) -> None:
    # A slim container has the pip extra but not libGL: OpenCV's import then fails with exactly this message.
    # The shadowing cv2 below raises it the way the real module does on such a machine.
    fake = tmp_path / "site"
    (fake / "cv2").mkdir(parents=True)
    (fake / "cv2" / "__init__.py").write_text(
        'raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")\n')
    image = tmp_path / "gen.png"
    Image.new("RGB", (320, 240), (200, 200, 200)).save(image)
    env = {**__import__("os").environ, "PYTHONPATH": str(fake)}
    res = run("verify", str(image), "--scope", "explicit", "-v", cwd=tmp_path, env=env)
    text = res.stdout + res.stderr
    assert "apt-get install libgl1" in text, text
    assert "install pip install" not in text and "install the OCR extra" not in text


def test_install_hints_read_as_one_instruction() -> None:
    from aigclabel.explicit import ocr

    missing = ocr.unavailable_hint(ModuleNotFoundError("No module named 'rapidocr_onnxruntime'"))
    assert missing == "install the OCR extra: pip install 'aigclabel[ocr]'"
    glib = ocr.unavailable_hint(ImportError("libgthread-2.0.so.0: cannot open shared object file"))
    assert "apt-get install libglib2.0-0" in glib


def test_no_hint_reads_install_pip_install() -> None:
    # the hints are "pip install 'aigclabel[x]'" commands: a message must not put "install" in front of one
    import re

    root = Path(__file__).parent.parent / "aigclabel"
    bad = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.name}: {m.group(0)}" for m in re.finditer(r"install \{[A-Za-z_.]*INSTALL_HINT\}", text)]
        bad += [f"{path.name}: install pip install" for _ in re.finditer(r"install pip install", text)]
    assert bad == []
