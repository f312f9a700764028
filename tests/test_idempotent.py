"""Marking a labelled file again adds no second explicit label (issue 14 item 1); --force-explicit does.

Every count is taken by a reader that is not ours: rapidocr on the pixels (the image, or the first
frame ffmpeg decodes), ffmpeg's decoded samples and ffprobe's duration for audio, pdftotext for the
PDF stamp, python-docx for the Office notice, plain string counting for text.  The installed
``aigclabel`` command is driven for JPEG, WAV and PDF, the way the issue's user ran it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import aigclabel
from aigclabel.marking import EXPLICIT_ADDED, EXPLICIT_PRESENT

PRODUCER = "001191110102MACQD9K64010000"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NOTICE = "本内容由人工智能生成"

needs_ffmpeg = pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="needs ffmpeg")


def _command() -> list[str]:
    exe = shutil.which("aigclabel")
    return [exe] if exe else [sys.executable, "-m", "aigclabel.cli.main"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_command(), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


# ------------------------------------------------------------------------------------------ readers


@pytest.fixture(scope="module")
def ocr_count():
    """Text lines with the generation element ('生成') that rapidocr reads in a picture (any position)."""
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    import numpy as np

    engine = rapidocr.RapidOCR()

    def count(picture: Path | Image.Image) -> int:
        im = picture if isinstance(picture, Image.Image) else Image.open(picture)
        im = im.convert("RGB")
        im = im.resize((im.width * 2, im.height * 2))  # the samples are small; the labels ~13 px high
        result, _ = engine(np.array(im)[:, :, ::-1])
        return sum(1 for _box, text, score in (result or []) if "生成" in text and score >= 0.5)

    return count


def pixels(path: Path) -> bytes:
    with Image.open(path) as im:
        return im.convert("RGB").tobytes()


def first_frame(path: Path, tmp: Path) -> Image.Image:
    out = tmp / f"{path.stem}-frame0.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-frames:v", "1", str(out)], check=True)
    return Image.open(out)


def decoded_audio(path: Path) -> str:
    """Digest of the samples ffmpeg decodes (mono 16-bit): equal digests, nothing was added."""
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-"],
                         capture_output=True, check=True).stdout
    return hashlib.sha256(pcm).hexdigest()


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def video_packets(path: Path) -> str:
    """Digest of the video stream's packets (stream-copied by ffmpeg): equal, no frame was repainted."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "md5", "-"],
                          capture_output=True, text=True, check=True).stdout.strip()


def produce_ids(path: Path) -> list[str]:
    return [lab.fields["ProduceID"] for lab in aigclabel.inspect(path).labels if lab.fields and lab.normative]


def mark(src: Path, dst: Path, **kw: object) -> aigclabel.MarkResult:
    return aigclabel.mark_file(src, dst, producer=PRODUCER, **kw)  # type: ignore[arg-type]


def present_note(result: aigclabel.MarkResult) -> str:
    (note,) = [n for n in result.notes if n.startswith("explicit label already present")]
    return note


# ------------------------------------------------------------------------------------------ images


@pytest.mark.parametrize("sample", ["photo.jpg", "render.png"])
def test_image_marked_twice_shows_one_label(sample: str, tmp_path: Path, ocr_count) -> None:
    ext = Path(sample).suffix
    once, twice, forced = tmp_path / f"once{ext}", tmp_path / f"twice{ext}", tmp_path / f"forced{ext}"
    first = mark(SAMPLES / sample, once)
    assert first.explicit == EXPLICIT_ADDED and ocr_count(once) == 1
    second = mark(once, twice)
    assert second.explicit == EXPLICIT_PRESENT
    note = present_note(second)
    assert "OCR: 'AI生成' at bottom-right" in note and "% of the shortest side" in note and "--force-explicit" in note
    assert second.explicit_details["found_by"] == "OCR"
    assert pixels(twice) == pixels(once), "no pixel was drawn again"
    assert ocr_count(twice) == 1
    assert produce_ids(twice) == produce_ids(once) == [first.record.produce_id]
    # on purpose: a second label (at another corner, so that a reader can tell the two apart)
    third = mark(once, forced, force_explicit=True, position="top-left")
    assert third.explicit == EXPLICIT_ADDED and ocr_count(forced) == 2


def test_image_without_any_record_is_not_read_for_a_label(tmp_path: Path, ocr_count) -> None:
    """The cheap gate: pixels are OCR'd only when the file carries a record or a trace; a label whose
    metadata was stripped (here: re-saved by Pillow) is therefore drawn again - the documented trade-off."""
    once = tmp_path / "once.png"
    mark(SAMPLES / "render.png", once)
    stripped = tmp_path / "stripped.png"
    Image.open(once).save(stripped)
    assert aigclabel.inspect(stripped).labels == []
    again = mark(stripped, tmp_path / "again.png", position="top-left")
    assert again.explicit == EXPLICIT_ADDED and "found_by" not in again.explicit_details
    assert ocr_count(tmp_path / "again.png") == 2


def test_the_gate_opens_on_a_record_not_on_a_generators_own_metadata(tmp_path: Path) -> None:
    from aigclabel.explicit import label_present
    from aigclabel.profiles import load_profile
    from aigclabel.reading import read_evidence

    profile = load_profile(aigclabel.DEFAULT_PROFILE)
    mark(SAMPLES / "render.png", tmp_path / "once.png")
    for path, looked in ((SAMPLES / "render.png", False), (tmp_path / "once.png", True)):
        with read_evidence(path) as opened:
            if not looked:  # the sample carries a generator chunk, which alone does not open the gate
                assert [t.kind for t in opened.evidence.traces] == ["generator-metadata"]
            found = label_present(opened.evidence, opened.handler, opened.src, profile)
        assert (found is not None) is looked
        assert found is None or (found.found and found.finding.rule == "explicit.image")


def test_command_line_jpeg_twice_then_forced(tmp_path: Path, ocr_count) -> None:
    shutil.copy(SAMPLES / "photo.jpg", tmp_path / "gen.jpg")
    first = run("mark", "gen.jpg", "-o", "out.jpg", "--producer", PRODUCER, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run("mark", "out.jpg", "-o", "r.jpg", "--producer", PRODUCER, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "explicit label already present (OCR: 'AI生成' at bottom-right" in second.stdout
    assert ocr_count(tmp_path / "r.jpg") == 1 and pixels(tmp_path / "r.jpg") == pixels(tmp_path / "out.jpg")
    forced = run("mark", "out.jpg", "-o", "f.jpg", "--producer", PRODUCER, "--force-explicit", "--position",
                 "top-left", "--json", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert '"explicit": "added"' in forced.stdout and ocr_count(tmp_path / "f.jpg") == 2
    both = run("mark", "out.jpg", "-o", "x.jpg", "--producer", PRODUCER, "--force-explicit", "--no-explicit",
               cwd=tmp_path)
    assert both.returncode == 2 and not (tmp_path / "x.jpg").exists()


def test_batch_mark_of_a_marked_tree_adds_nothing(tmp_path: Path) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    mark(SAMPLES / "render.png", tmp_path / "in" / "sub" / "a.png")
    (tmp_path / "out").mkdir()
    done = run("mark", "in", "-r", "-o", "out/", "--producer", PRODUCER, "--jsonl", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"explicit": "present"' in done.stdout
    assert pixels(tmp_path / "out" / "sub" / "a.png") == pixels(tmp_path / "in" / "sub" / "a.png")
    (tmp_path / "out2").mkdir()
    forced = run("mark", "in", "-r", "-o", "out2/", "--producer", PRODUCER, "--jsonl", "--force-explicit",
                 cwd=tmp_path)
    assert forced.returncode == 0 and '"explicit": "added"' in forced.stdout


# ------------------------------------------------------------------------------------------ audio


@needs_ffmpeg
def test_command_line_wav_twice_adds_no_second_prompt(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "voice.wav", tmp_path / "in.wav")
    assert run("mark", "in.wav", "-o", "once.wav", "--producer", PRODUCER, cwd=tmp_path).returncode == 0
    second = run("mark", "once.wav", "-o", "twice.wav", "--producer", PRODUCER, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "explicit label already present (prompt detector: rhythm prompt at" in second.stdout
    assert decoded_audio(tmp_path / "twice.wav") == decoded_audio(tmp_path / "once.wav")
    forced = run("mark", "once.wav", "-o", "forced.wav", "--producer", PRODUCER, "--force-explicit", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    grown = duration(tmp_path / "forced.wav") - duration(tmp_path / "once.wav")
    assert grown > 0.5, "a second rhythm prompt was inserted"


@needs_ffmpeg
def test_voice_prompt_mp3_twice_adds_no_second_prompt(tmp_path: Path) -> None:
    once, twice, forced = tmp_path / "once.mp3", tmp_path / "twice.mp3", tmp_path / "forced.mp3"
    mark(SAMPLES / "tone.mp3", once, prompt="voice")
    second = mark(once, twice, prompt="voice")
    assert second.explicit == EXPLICIT_PRESENT and "voice prompt at" in present_note(second)
    assert decoded_audio(twice) == decoded_audio(once)
    mark(once, forced, prompt="voice", force_explicit=True)
    assert duration(forced) - duration(once) > 0.5


# ------------------------------------------------------------------------------------------ text


def test_text_notice_twice_and_a_notice_that_is_not_ours(tmp_path: Path) -> None:
    src = tmp_path / "reply.txt"
    src.write_text("The answer is 42.\n\nThat is all.\n", encoding="utf-8")
    mark(src, tmp_path / "once.txt")
    second = mark(tmp_path / "once.txt", tmp_path / "twice.txt")
    assert second.explicit == EXPLICIT_PRESENT and NOTICE in present_note(second)
    assert (tmp_path / "twice.txt").read_text(encoding="utf-8").count(NOTICE) == 1
    assert (tmp_path / "twice.txt").read_bytes() == (tmp_path / "once.txt").read_bytes()
    # the generator wrote its own notice: it is the label; forcing adds ours beside it
    own = tmp_path / "own.txt"
    own.write_text("本文由AI生成，仅供参考\n\nThe answer is 42.\n", encoding="utf-8")
    kept = mark(own, tmp_path / "own-once.txt")
    assert kept.explicit == EXPLICIT_PRESENT and "'本文由AI生成，仅供参考' at the start" in present_note(kept)
    assert NOTICE not in (tmp_path / "own-once.txt").read_text(encoding="utf-8")
    mark(own, tmp_path / "own-forced.txt", force_explicit=True)
    text = (tmp_path / "own-forced.txt").read_text(encoding="utf-8")
    assert text.count(NOTICE) == 1 and text.count("本文由AI生成") == 1


def test_html_bytes_twice_keep_one_notice() -> None:
    html = "<!doctype html><html><head><title>t</title></head><body><p>Hi</p></body></html>".encode()
    once = aigclabel.mark(html, producer=PRODUCER, kind="text")
    twice = aigclabel.mark(once, producer=PRODUCER, kind="text")
    assert twice.decode().count(NOTICE) == 1
    forced = aigclabel.mark(once, producer=PRODUCER, kind="text", force_explicit=True)
    assert forced.decode().count(NOTICE) == 1, "our own HTML notice is replaced, never stacked"


# ------------------------------------------------------------------------------------------ documents


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")
def test_command_line_pdf_twice_keeps_one_stamp(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "report.pdf", tmp_path / "report.pdf")
    assert run("mark", "report.pdf", "-o", "once.pdf", "--producer", PRODUCER, cwd=tmp_path).returncode == 0
    second = run("mark", "once.pdf", "-o", "twice.pdf", "--producer", PRODUCER, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "explicit label already present (document text:" in second.stdout
    once, twice = (tmp_path / "once.pdf").read_bytes(), (tmp_path / "twice.pdf").read_bytes()
    assert pdftotext(tmp_path / "twice.pdf").count(NOTICE) == 1
    assert twice.startswith(once) and b"/AigcStamp" not in twice[len(once):], "no second stamp appended"
    # forcing writes our stamp again: the earlier one of ours is replaced, never stacked
    forced = run("mark", "once.pdf", "-o", "forced.pdf", "--producer", PRODUCER, "--force-explicit", cwd=tmp_path)
    assert forced.returncode == 0 and "earlier stamp was replaced" in forced.stdout
    assert pdftotext(tmp_path / "forced.pdf").count(NOTICE) == 1


def test_docx_twice_keeps_one_notice(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_paragraph("Quarterly summary.")
    doc.add_paragraph("Numbers follow.")
    doc.save(tmp_path / "in.docx")
    mark(tmp_path / "in.docx", tmp_path / "once.docx")
    second = mark(tmp_path / "once.docx", tmp_path / "twice.docx")
    assert second.explicit == EXPLICIT_PRESENT and "word/document.xml" in present_note(second)

    def notices(path: Path) -> int:
        return [p.text for p in docx.Document(path).paragraphs].count(NOTICE)

    assert notices(tmp_path / "once.docx") == notices(tmp_path / "twice.docx") == 1
    # a new wording is written as asked: ours is replaced, so there is still one notice
    reworded = mark(tmp_path / "once.docx", tmp_path / "reworded.docx", text="AI生成")
    texts = [p.text for p in docx.Document(tmp_path / "reworded.docx").paragraphs]
    assert reworded.explicit == EXPLICIT_ADDED and texts.count("AI生成") == 1 and NOTICE not in texts


# ------------------------------------------------------------------------------------------ video


@needs_ffmpeg
def test_mp4_twice_keeps_one_opening_label(tmp_path: Path, ocr_count) -> None:
    pytest.importorskip("av")
    once, twice, forced = tmp_path / "once.mp4", tmp_path / "twice.mp4", tmp_path / "forced.mp4"
    mark(SAMPLES / "clip.mp4", once)
    second = mark(once, twice)
    assert second.explicit == EXPLICIT_PRESENT and "OCR of the first frame: 'AI生成'" in present_note(second)
    assert video_packets(twice) == video_packets(once), "no frame was re-encoded"
    assert ocr_count(first_frame(twice, tmp_path)) == 1
    mark(once, forced, force_explicit=True, position="top-left")
    assert ocr_count(first_frame(forced, tmp_path)) == 2
