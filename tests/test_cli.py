"""Every command and exit code, through click's runner and through the installed `aigclabel` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import aigclabel
from aigclabel.cli.main import cli

PRODUCER = "001191110102MACQD9K64010000"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def make_png(path: Path, size: tuple[int, int] = (40, 30)) -> Path:
    Image.new("RGB", size, (200, 30, 30)).save(path, "PNG")
    return path


def make_jpeg(path: Path) -> Path:
    Image.new("RGB", (40, 30), (30, 200, 30)).save(path, "JPEG")
    return path


def test_mark_then_verify(runner: CliRunner, tmp_path: Path) -> None:
    src = make_png(tmp_path / "a.png", (400, 300))
    res = runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "b.png"), "--producer", PRODUCER,
                              "--produce-id", "id-1"])
    assert res.exit_code == 0, res.output
    assert '"ProduceID":"id-1"' in res.output
    res = runner.invoke(cli, ["verify", str(tmp_path / "b.png"), "--scope", "implicit"])
    assert res.exit_code == 0 and "COMPLIANT" in res.output
    res = runner.invoke(cli, ["verify", str(tmp_path / "b.png"), "-v"])  # the visible label is read by OCR
    assert res.exit_code == 0 and "COMPLIANT" in res.output and "PASS explicit.image" in res.output
    short = runner.invoke(cli, ["verify", str(tmp_path / "b.png")])  # default: verdict + what needs attention
    assert short.exit_code == 0 and "PASS" not in short.output and "checks passed" in short.output
    assert max(len(line) for line in short.output.splitlines()) <= 260
    res = runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "c.png"), "--producer", PRODUCER, "--no-explicit"])
    assert res.exit_code == 0 and "waived" in res.output
    res = runner.invoke(cli, ["verify", str(tmp_path / "c.png")])
    assert res.exit_code == 1 and "NONCOMPLIANT" in res.output


def test_wording_and_fit_errors(runner: CliRunner, tmp_path: Path) -> None:
    src = make_png(tmp_path / "a.png", (400, 300))
    res = runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "b.png"), "--producer", PRODUCER,
                              "--text", "由AI提供"])
    assert res.exit_code == 2 and "generation element" in res.stderr and not (tmp_path / "b.png").exists()
    tiny = make_png(tmp_path / "tiny.png", (20, 8))
    out = tmp_path / "out"
    out.mkdir()
    res = runner.invoke(cli, ["mark", str(tiny), str(src), "-o", str(out), "--producer", PRODUCER,
                              "--text", "本内容由人工智能生成合成"])
    assert res.exit_code == 3  # the tiny image cannot hold the label; the other one is marked
    assert sorted(p.name for p in out.iterdir()) == ["a.png"] and "tiny.png" in res.stderr


def test_verify_json_contract(runner: CliRunner, tmp_path: Path) -> None:
    src = make_jpeg(tmp_path / "a.jpg")
    runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "m.jpg"), "--producer", PRODUCER])
    res = runner.invoke(cli, ["verify", str(tmp_path / "m.jpg"), str(src), "--json", "--scope", "implicit"])
    assert res.exit_code == 1  # the unmarked file is non-compliant; worst wins
    data = json.loads(res.stdout)
    assert [d["verdict"] for d in data] == ["compliant", "noncompliant"]
    for item in data:
        assert {"path", "format", "profile", "verdict", "findings", "labels"} <= set(item)
        for f in item["findings"]:
            assert {"rule", "level", "clause", "message"} <= set(f)
    assert data[0]["labels"][0]["carrier"] == "xmp:TC260:AIGC"
    assert data[0]["labels"][0]["fields"]["ContentProducer"] == PRODUCER
    assert data[0]["format"] == "jpeg" and data[0]["profile"] == "cn-gb45438-2025"


def test_refuses_to_overwrite_without_force(runner: CliRunner, tmp_path: Path) -> None:
    src = make_png(tmp_path / "a.png")
    dest = make_png(tmp_path / "b.png")
    before = dest.read_bytes()
    res = runner.invoke(cli, ["mark", str(src), "-o", str(dest), "--producer", PRODUCER])
    assert res.exit_code == 3 and "already exists" in res.stderr and dest.read_bytes() == before
    res = runner.invoke(cli, ["mark", str(src), "-o", str(dest), "--producer", PRODUCER, "--force"])
    assert res.exit_code == 0 and dest.read_bytes() != before


def test_in_place(runner: CliRunner, tmp_path: Path) -> None:
    src = make_jpeg(tmp_path / "a.jpg")
    res = runner.invoke(cli, ["mark", str(src), "--in-place", "--producer", PRODUCER])
    assert res.exit_code == 0
    assert runner.invoke(cli, ["verify", str(src), "--scope", "implicit", "-q"]).exit_code == 0


def test_many_inputs_into_a_directory_one_bad(runner: CliRunner, tmp_path: Path) -> None:
    inputs = [make_png(tmp_path / "a.png"), make_jpeg(tmp_path / "b.jpg")]
    bad = tmp_path / "c.jpg"
    bad.write_bytes(b"\x00\x01 not an image")
    out = tmp_path / "out"
    out.mkdir()
    res = runner.invoke(cli, ["mark", *map(str, inputs), str(bad), "-o", str(out), "--producer", PRODUCER])
    assert res.exit_code == 3
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert "c.jpg" in res.stderr and "not a supported format" in res.stderr
    assert "3 files: 2 done, 1 error" in res.stderr  # the same batch summary as verify and review


def test_output_directory_must_exist(runner: CliRunner, tmp_path: Path) -> None:
    a, b = make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png")
    res = runner.invoke(cli, ["mark", str(a), str(b), "-o", str(tmp_path / "nope"), "--producer", PRODUCER])
    assert res.exit_code == 3 and "does not exist" in res.stderr
    res = runner.invoke(cli, ["mark", str(a), "-o", str(tmp_path / "nope" / "x.png"), "--producer", PRODUCER])
    assert res.exit_code == 3 and "does not exist" in res.stderr


def test_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    a = make_png(tmp_path / "a.png")
    assert runner.invoke(cli, ["mark", str(a), "--producer", PRODUCER]).exit_code == 2  # no -o
    assert runner.invoke(cli, ["mark", str(a), "-o", "x.png"]).exit_code == 2  # no --producer
    res = runner.invoke(cli, ["verify", str(a), "--profile", "no-such"])
    assert res.exit_code == 2 and "unknown profile" in res.stderr
    res = runner.invoke(cli, ["mark", str(a), "-o", str(tmp_path / "o.png"), "--producer", "has space"])
    assert res.exit_code == 2 and "ContentProducer" in res.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "bad"\nwhat = 1\n')
    res = runner.invoke(cli, ["verify", str(a), "--profile", str(bad)])
    assert res.exit_code == 2 and "what" in res.stderr and str(bad) in res.stderr


@pytest.mark.parametrize("content, needle", [
    (b"", "empty file"),
    (b"\x00\x01hello, I am not an image", "not a supported format"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "truncated"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "truncated"),
])
def test_bad_files_exit_3_with_one_line(runner: CliRunner, tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    for cmd in (["verify", str(path)], ["inspect", str(path)],
                ["mark", str(path), "-o", str(tmp_path / "o.jpg"), "--producer", PRODUCER]):
        res = runner.invoke(cli, cmd)
        assert res.exit_code == 3, (cmd, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and str(path) in lines[0], res.stderr
        assert "Traceback" not in res.output
    assert not (tmp_path / "o.jpg").exists()
    assert path.read_bytes() == content


def test_missing_and_directory_inputs(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["verify", str(tmp_path / "missing.png"), str(tmp_path)])
    assert res.exit_code == 3
    assert "no such file" in res.stderr and "is a directory" in res.stderr


def test_inspect_shows_labels_and_traces(runner: CliRunner, tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat, Steps: 20")
    info.add_text("AIGC", '{"AIGC":{"ServiceProvider":"X","Time":"2024-01-01 00:00:00.000","ContentID":"c"}}')
    path = tmp_path / "sd.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    res = runner.invoke(cli, ["inspect", str(path)])
    assert res.exit_code == 0
    assert "png:tEXt:AIGC" in res.output and "legacy-2023" in res.output and "generator-metadata" in res.output
    data = json.loads(runner.invoke(cli, ["inspect", str(path), "--json"]).stdout)
    assert data[0]["labels"][0]["schema"] == "tc260-2023"
    assert data[0]["traces"][0]["kind"] == "generator-metadata"


def test_profiles_list_and_show(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["profiles"])
    assert res.exit_code == 0 and "cn-gb45438-2025" in res.output
    res = runner.invoke(cli, ["profiles", "show", "cn-gb45438-2025"])
    assert res.exit_code == 0 and "GB 45438-2025 Annex E" in res.output and "explicit.image" in res.output
    data = json.loads(runner.invoke(cli, ["profiles", "show", "cn-gb45438-2025", "--json"]).stdout)
    assert data["id"] == "cn-gb45438-2025" and all(r["clause"] for r in data["rules"])
    assert runner.invoke(cli, ["profiles", "show", "nope"]).exit_code == 2


def test_audit_log(runner: CliRunner, tmp_path: Path) -> None:
    a = make_png(tmp_path / "a.png")
    log = tmp_path / "audit.jsonl"
    res = runner.invoke(cli, ["mark", str(a), "-o", str(tmp_path / "b.png"), "--producer", PRODUCER,
                              "--no-explicit", "--audit-log", str(log)])
    assert res.exit_code == 0
    (line,) = log.read_text().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "explicit-label-waived" and entry["record"]["ContentProducer"] == PRODUCER


def test_mark_json(runner: CliRunner, tmp_path: Path) -> None:
    a = make_png(tmp_path / "a.png")
    res = runner.invoke(cli, ["mark", str(a), "-o", str(tmp_path / "b.png"), "--producer", PRODUCER, "--json"])
    (item,) = json.loads(res.stdout)
    assert item["format"] == "png" and item["explicit"] == "added"
    assert item["explicit_details"]["text"] == "AI生成"


def test_demo(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["demo", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "photo.jpg" in res.output and "misnamed.jpg" in res.output
    marked = sorted(p.name for p in tmp_path.iterdir())
    assert "photo.jpg" in marked and "render.png" in marked
    # the rendition part: a thumbnail loses the record, carry brings it back, re-marking adds no second label
    assert "lost: diff.iptc-lost, diff.record-removed" in res.output and "-> nothing lost" in res.output
    assert "explicit label present" in res.output
    thumb = aigclabel.verify(tmp_path / "photo-thumb-labelled.webp", scope="implicit")
    assert thumb.verdict.value == "compliant"
    # the watermark part: the screenshot has no record, yet its watermark is found and matches the record
    assert "no record; watermark found, matches the record" in res.output
    from PIL import Image

    from aigclabel import watermark
    with Image.open(tmp_path / "generated-screenshot.jpg") as shot:
        assert shot.format == "JPEG" and aigclabel.inspect(tmp_path / "generated-screenshot.jpg").labels == []
        found = watermark.detect(shot)
    (lab,) = aigclabel.inspect(tmp_path / "generated-watermarked.png").labels
    assert found.found and found.matches(watermark.payload_for(lab.parsed.fields))


def test_help_has_examples(runner: CliRunner) -> None:
    for cmd in ([], ["mark"], ["verify"], ["inspect"], ["profiles"]):
        res = runner.invoke(cli, [*cmd, "--help"])
        assert res.exit_code == 0 and "Examples:" in res.output


# --- the installed command, in a subprocess ------------------------------------------------------

def _aigclabel() -> list[str]:
    exe = shutil.which("aigclabel")
    if exe is None:
        pytest.fail("the `aigclabel` command is not installed (pip install . puts it on PATH)")
    return [exe]


def test_installed_command_runs_from_any_directory(tmp_path: Path) -> None:
    make_jpeg(tmp_path / "in.jpg")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = lambda *a: subprocess.run([*_aigclabel(), *a], cwd=tmp_path, env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    res = run("mark", "in.jpg", "-o", "out.jpg", "--producer", PRODUCER)
    assert res.returncode == 0, res.stderr
    res = run("verify", "out.jpg", "--scope", "implicit", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)[0]["verdict"] == "compliant"
    res = run("verify", "in.jpg", "--scope", "implicit")
    assert res.returncode == 1
    res = run("verify", "nothing-here.jpg")
    assert res.returncode == 3 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    res = run("profiles")
    assert res.returncode == 0 and "cn-gb45438-2025" in res.stdout


def test_help_and_profiles_import_no_heavy_library() -> None:
    heavy = ["PIL", "mutagen", "pypdf", "c2pa", "rapidocr", "av", "numpy"]
    code = (
        "import sys\n"
        "from aigclabel.cli.main import cli\n"
        "for argv in (['--help'], ['profiles'], ['profiles', 'show', 'cn-gb45438-2025']):\n"
        "    try:\n"
        "        cli.main(argv, prog_name='aigclabel', standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "LOADED []" in res.stdout, res.stdout[-500:]


def _blank_pdf(path: Path, pages: int = 3, password: str | None = None) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if password:
        writer.encrypt(password, algorithm="AES-256")
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def test_pdf_pages_and_password(runner: CliRunner, tmp_path: Path) -> None:
    from pypdf import PdfReader

    src = _blank_pdf(tmp_path / "a.pdf")
    res = runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "b.pdf"), "--producer", PRODUCER,
                              "--pages", "all"])
    assert res.exit_code == 0, res.output
    reader = PdfReader(tmp_path / "b.pdf")
    assert all("人工智能生成" in page.extract_text() for page in reader.pages)
    assert json.loads(reader.metadata["/AIGC"])["ContentProducer"] == PRODUCER
    res = runner.invoke(cli, ["verify", str(tmp_path / "b.pdf"), "-v"])
    assert res.exit_code == 0 and "explicit.document" in res.output, res.output

    locked = _blank_pdf(tmp_path / "locked.pdf", 1, password="s3cret")
    res = runner.invoke(cli, ["mark", str(locked), "-o", str(tmp_path / "l2.pdf"), "--producer", PRODUCER])
    assert res.exit_code == 3 and "password" in res.stderr and not (tmp_path / "l2.pdf").exists()
    res = runner.invoke(cli, ["mark", str(locked), "-o", str(tmp_path / "l2.pdf"), "--producer", PRODUCER,
                              "--password", "s3cret"])
    assert res.exit_code == 0, res.stderr
    assert PdfReader(tmp_path / "l2.pdf").is_encrypted
    res = runner.invoke(cli, ["verify", str(tmp_path / "l2.pdf"), "--password", "s3cret", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["labels"][0]["fields"]["ContentProducer"] == PRODUCER


def test_audio_prompt_flags(runner: CliRunner, tmp_path: Path) -> None:
    import math
    import struct
    import wave

    src = tmp_path / "tone.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 220 * i / 16000)))
                               for i in range(16000 * 3)))
    out = tmp_path / "out.wav"
    res = runner.invoke(cli, ["mark", str(src), "-o", str(out), "--producer", PRODUCER, "--prompt", "rhythm",
                              "--audio-position", "end", "--json"])
    assert res.exit_code == 0, res.output
    with wave.open(str(out)) as w:
        assert w.getnframes() > 16000 * 3  # the prompt was inserted
    res = runner.invoke(cli, ["verify", str(out), "--json"])
    data = json.loads(res.stdout)[0]
    (audio,) = [f for f in data["findings"] if f["rule"] == "explicit.audio"]
    assert audio["level"] == "pass" and "rhythm prompt" in audio["message"], audio
    assert res.exit_code == 0
    res = runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "x.wav"), "--producer", PRODUCER,
                              "--prompt", "loud"])
    assert res.exit_code == 2


def test_verify_sarif(runner: CliRunner, tmp_path: Path) -> None:
    a = make_png(tmp_path / "a.png", (400, 300))
    runner.invoke(cli, ["mark", str(a), "-o", str(tmp_path / "m.png"), "--producer", PRODUCER])
    res = runner.invoke(cli, ["verify", str(tmp_path / "m.png"), str(a), str(tmp_path / "missing.png"),
                              "--format", "sarif"])
    assert res.exit_code == 1  # the unmarked file is non-compliant: never masked by the missing one (3)
    sarif = json.loads(res.stdout)
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert "GB 45438-2025 Annex E" in ids
    fails = [r for r in run["results"] if r["kind"] == "fail"]
    assert any(r["ruleId"].startswith("Measures Art. 5") and r["level"] == "error"
               and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("a.png") for r in fails)
    assert all(r["ruleId"] in ids for r in run["results"])
    assert run["invocations"][0]["executionSuccessful"] is False
    assert runner.invoke(cli, ["verify", str(a), "--json", "--format", "sarif"]).exit_code == 2


def test_plain_text_notice_and_sidecar(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "answer.txt"
    src.write_bytes("第一行\r\n第二行\r\n".encode("gb18030"))
    out = tmp_path / "out.txt"
    res = runner.invoke(cli, ["mark", str(src), "-o", str(out), "--producer", PRODUCER, "--position", "both",
                              "--sidecar"])
    assert res.exit_code == 0, res.output
    text = out.read_bytes().decode("gb18030")  # the encoding and the CRLF line endings are kept
    assert text.startswith("本内容由人工智能生成\r\n") and text.rstrip("\r\n").endswith("本内容由人工智能生成")
    record = json.loads((tmp_path / "out.txt.aigc.json").read_text())
    assert record["ContentProducer"] == PRODUCER
    res = runner.invoke(cli, ["verify", str(out), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["verdict"] == "compliant"
