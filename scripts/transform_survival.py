#!/usr/bin/env python3
"""Which common transforms keep aigclabel's carriers: a Markdown table measured with the tools installed here.

    python3 scripts/transform_survival.py            # prints the table (docs/transforms.md holds a copy)
    python3 scripts/transform_survival.py --keep DIR # keeps the files it made in DIR

For each input format (JPEG, PNG, MP4, MP3, PDF) it makes a tiny original, labels it with aigclabel
(the AIGC record, the IPTC digital source type where the format carries one) and signs a C2PA
manifest with throw-away development keys (``aigclabel keys init``).  Each transform is run by the
third-party tool itself; ``aigclabel.diff`` compares original and result, then ``aigclabel.carry``
writes the original's record into the result and ``diff`` says whether the record (and the IPTC
source type) are back.  A tool that is not installed (or, for ImageMagick, a stand-in that is not
the real program) is listed as skipped, never guessed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image

import aigclabel
from aigclabel.errors import AigcLabelError
from aigclabel.marking import mark_file

PRODUCER = "001191110102MACQD9K64010000"
SAMPLE_PDF = Path(__file__).resolve().parent.parent / "samples" / "report.pdf"


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)


def _ffmpeg(*args: str) -> Callable[[Path, Path], None]:
    return lambda src, dst: _run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(dst)])


def _pillow(fmt: str, resize: float | None = None, mode: str | None = None) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        with Image.open(src) as im:
            im.load()
            out = im.convert(mode) if mode else im.copy()
        if resize:
            out = out.resize((max(1, int(out.width * resize)), max(1, int(out.height * resize))))
        out.save(dst, fmt)
    return run


def _exiftool(*args: str) -> Callable[[Path, Path], None]:
    return lambda src, dst: _run(["exiftool", "-q", *args, "-o", str(dst), str(src)])


def _qpdf(*args: str) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        middle = [a.replace("{in}", str(src)) for a in args] if args else [str(src)]
        _run(["qpdf", *middle, str(dst)])
    return run


def _magick(*args: str) -> Callable[[Path, Path], None]:
    return lambda src, dst: _run(["convert", str(src), *args, str(dst)])


def _have(tool: str) -> bool:
    if shutil.which(tool) is None:
        return False
    if tool == "convert":  # only the real ImageMagick counts, not a stand-in of the same name
        proc = subprocess.run(["convert", "-version"], capture_output=True, text=True, timeout=30)
        return "Version: ImageMagick" in proc.stdout
    return True


@dataclass
class Transform:
    name: str  # as shown in the table (the invocation)
    tool: str
    source: str  # key of the original
    ext: str  # extension of the output
    run: Callable[[Path, Path], None]


TRANSFORMS = [
    Transform("ffmpeg -i in.mp4 out.mp4 (default: re-encode)", "ffmpeg", "mp4", "mp4", _ffmpeg()),
    Transform("ffmpeg -c copy (remux)", "ffmpeg", "mp4", "mp4", _ffmpeg("-c", "copy")),
    Transform("ffmpeg -c copy -movflags +faststart", "ffmpeg", "mp4", "mp4", _ffmpeg("-c", "copy", "-movflags",
                                                                                   "+faststart")),
    Transform("ffmpeg -c:v libx264 -crf 30 (re-encode)", "ffmpeg", "mp4", "mp4",
              _ffmpeg("-c:v", "libx264", "-crf", "30", "-preset", "ultrafast")),
    Transform("ffmpeg -c copy -movflags use_metadata_tags", "ffmpeg", "mp4", "mp4",
              _ffmpeg("-c", "copy", "-movflags", "use_metadata_tags")),
    Transform("ffmpeg -c copy, MP4 -> MKV", "ffmpeg", "mp4", "mkv", _ffmpeg("-c", "copy")),
    Transform("ffmpeg MP4 -> WebM (VP8/Opus)", "ffmpeg", "mp4", "webm",
              _ffmpeg("-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus")),
    Transform("ffmpeg MP3 -> WAV", "ffmpeg", "mp3", "wav", _ffmpeg()),
    Transform("ffmpeg MP3 -> MP3 (re-encode)", "ffmpeg", "mp3", "mp3", _ffmpeg("-c:a", "libmp3lame")),
    Transform("ffmpeg MP3 -c copy", "ffmpeg", "mp3", "mp3", _ffmpeg("-c", "copy")),
    Transform("Pillow open + save (JPEG)", "pillow", "jpg", "jpg", _pillow("JPEG")),
    Transform("Pillow resize 50 % (JPEG)", "pillow", "jpg", "jpg", _pillow("JPEG", 0.5)),
    Transform("Pillow JPEG -> WebP", "pillow", "jpg", "webp", _pillow("WEBP")),
    Transform("Pillow JPEG -> PNG", "pillow", "jpg", "png", _pillow("PNG")),
    Transform("Pillow JPEG -> AVIF", "pillow", "jpg", "avif", _pillow("AVIF")),
    Transform("Pillow open + save (PNG)", "pillow", "png", "png", _pillow("PNG")),
    Transform("ImageMagick convert (JPEG)", "convert", "jpg", "jpg", _magick()),
    Transform("ImageMagick convert -resize 50% (JPEG)", "convert", "jpg", "jpg", _magick("-resize", "50%")),
    Transform("ImageMagick convert JPEG -> WebP", "convert", "jpg", "webp", _magick()),
    Transform("exiftool -all= (JPEG)", "exiftool", "jpg", "jpg", _exiftool("-all=")),
    Transform("exiftool -Artist=... (JPEG)", "exiftool", "jpg", "jpg", _exiftool("-Artist=Someone")),
    Transform("exiftool -all= (PNG)", "exiftool", "png", "png", _exiftool("-all=")),
    Transform("exiftool -Title=... (MP4)", "exiftool", "mp4", "mp4", _exiftool("-Title=Someone")),
    Transform("exiftool -Title=... (PDF)", "exiftool", "pdf", "pdf", _exiftool("-Title=Someone")),
    Transform("qpdf in.pdf out.pdf (rewrite)", "qpdf", "pdf", "pdf", _qpdf()),
    Transform("qpdf --linearize", "qpdf", "pdf", "pdf", _qpdf("--linearize", "{in}")),
    Transform("qpdf --empty --pages in.pdf -- (page copy)", "qpdf", "pdf", "pdf", _qpdf("--empty", "--pages", "{in}",
                                                                                        "--")),
]


def make_originals(root: Path, signer: object | None) -> dict[str, tuple[Path, list[str]]]:
    """key -> (labelled original, notes): tiny media, labelled and (where the SDK can) C2PA-signed."""
    picture = Image.radial_gradient("L").convert("RGB").resize((160, 120))
    picture.save(root / "raw.jpg", quality=90)
    picture.save(root / "raw.png")
    _run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=64x48:d=0.5:r=10", "-f", "lavfi", "-i",
          "sine=d=0.5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(root / "raw.mp4")])
    _run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "libmp3lame", "-b:a", "64k",
          str(root / "raw.mp3")])
    shutil.copyfile(SAMPLE_PDF, root / "raw.pdf")
    out = {}
    for key in ("jpg", "png", "mp4", "mp3", "pdf"):
        target = root / f"original.{key}"
        notes: list[str] = []
        try:
            mark_file(root / f"raw.{key}", target, producer=PRODUCER, explicit=False, overwrite=True,
                      c2pa=signer)  # type: ignore[arg-type]
        except AigcLabelError as exc:
            notes.append(f"not signed: {exc}")
            mark_file(root / f"raw.{key}", target, producer=PRODUCER, explicit=False, overwrite=True)
        out[key] = (target, notes)
    return out


def _state(result: aigclabel.diffing.Diff, kept: str, lost: tuple[str, ...], absent: str = "—") -> str:
    rules = set(result.rules)
    if kept in rules:
        return "yes"
    for rule in lost:
        if rule in rules:
            finding = result.by_rule(rule)[0]
            if rule.endswith("invalidated"):
                codes = list(dict.fromkeys(re.findall(r"\b[a-z][A-Za-z]+\.[A-Za-z.]*[A-Za-z]\b", finding.message)))
                return f"no (invalidated: {', '.join(codes) or 'the manifest store no longer reads'})"
            return "no" if rule.endswith(("removed", "lost")) else f"no ({rule})"
    return absent


def _c2pa_column(t: Transform, signed: dict[str, tuple[Path, list[str]]], derived: Path) -> str:
    """The same transform on the C2PA-signed original: is the manifest still there and valid?"""
    if t.source not in signed:
        return "— (C2PA SDK not installed)"
    original, notes = signed[t.source]
    if notes:
        return "— (" + notes[0][:60] + ")"
    try:
        t.run(original, derived)
        d = aigclabel.diff(original, derived)
    except (subprocess.CalledProcessError, OSError, AigcLabelError) as exc:
        return f"tool failed: {str(exc)[:60]}"
    return _state(d, "diff.c2pa-kept", ("diff.c2pa-removed", "diff.c2pa-invalidated"), "— (not signed)")


def measure(work: Path) -> list[list[str]]:
    from aigclabel.carrying import UNCHANGED

    signer = None
    try:
        from aigclabel.c2pa import C2paOptions, available
        from aigclabel.keys import init_keys

        if available():
            keys = init_keys(work / "keys")
            signer = C2paOptions(sign_cert=keys.chain, sign_key=keys.key)
    except ImportError:
        pass
    plain_dir, signed_dir = work / "plain", work / "signed"
    plain_dir.mkdir(exist_ok=True)
    signed_dir.mkdir(exist_ok=True)
    originals = make_originals(plain_dir, None)
    signed = make_originals(signed_dir, signer) if signer is not None else {}
    rows = []
    for index, t in enumerate(TRANSFORMS):
        original, _ = originals[t.source]
        fmt = f"{t.source.upper().replace('JPG', 'JPEG')} -> {t.ext.upper().replace('JPG', 'JPEG')}"
        if not _have("ffmpeg" if t.tool == "ffmpeg" else t.tool) and t.tool != "pillow":
            rows.append([t.name, fmt, "skipped: not installed", "", "", ""])
            continue
        derived = work / f"t{index:02d}.{t.ext}"
        try:
            t.run(original, derived)
        except (subprocess.CalledProcessError, OSError, ValueError) as exc:
            rows.append([t.name, fmt, f"tool failed: {str(exc)[:60]}", "", "", ""])
            continue
        try:
            d = aigclabel.diff(original, derived)
        except AigcLabelError as exc:
            rows.append([t.name, fmt, f"output not readable: {exc}", "", "", ""])
            continue
        record = _state(d, "diff.record-kept", ("diff.record-removed", "diff.record-damaged", "diff.producer-altered"))
        if "diff.record-moved" in d.rules:
            record = "moved (non-normative carrier)"
        iptc = _state(d, "diff.iptc-kept", ("diff.iptc-lost", "diff.iptc-changed"))
        c2pa = _c2pa_column(t, signed, work / f"t{index:02d}-signed.{t.ext}")
        carried = work / f"t{index:02d}-carried.{t.ext}"
        try:
            result = aigclabel.carry(original, derived, carried)
            after = aigclabel.diff(original, carried)
            back = not any(f.rule.startswith(("diff.record", "diff.iptc", "diff.producer")) for f in after.lost)
            restored = ("yes (already there)" if result.status == UNCHANGED else "yes") if back else "no"
        except AigcLabelError as exc:
            restored = f"no: {type(exc).__name__} ({str(exc)[:70]})"
        rows.append([t.name, fmt, record, iptc, c2pa, restored])
    return rows


def table(rows: list[list[str]]) -> str:
    head = ["transform", "format", "record kept?", "IPTC kept?", "C2PA kept?", "after `carry`: restored?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def versions() -> str:
    import PIL

    def first_line(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return "not installed"

    return "; ".join([first_line(["ffmpeg", "-version"]).split(" Copyright")[0], f"Pillow {PIL.__version__}",
                      f"exiftool {first_line(['exiftool', '-ver'])}", first_line(["qpdf", "--version"]),
                      "ImageMagick " + ("installed" if _have("convert") else "not installed"),
                      f"aigclabel {aigclabel.__version__}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", metavar="DIR", help="keep the files made in DIR (default: a removed temp dir)")
    args = parser.parse_args(argv)
    if args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True, exist_ok=True)
        rows = measure(work)
    else:
        with tempfile.TemporaryDirectory(prefix="aigclabel-survival-") as tmp:
            rows = measure(Path(tmp))
    print(table(rows))
    print()
    print(f"Measured with: {versions()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
