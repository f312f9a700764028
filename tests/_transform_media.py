"""Tiny labelled media and the common third-party transforms, shared by test_carry.py and test_diff.py.

Loaded by path (the suite runs with --import-mode=importlib, so tests/ is not importable): ::

    media = load_media_helpers()

Every original is made here (Pillow, ffmpeg's test sources, the bundled PDF sample) and labelled
with aigclabel; every derivative is made by the third-party tool itself (Pillow, ffmpeg, qpdf),
never by us.  Video is 0.5 s of 64x48 pixels: the machine is shared.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Callable

from PIL import Image

from aigclabel.marking import mark_file

PRODUCER = "001191110102MACQD9K64010000"
PLATFORM = "00119144030008867405X220001"
SAMPLES = Path(__file__).parent.parent / "samples"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def label(src: Path, out: Path) -> str:
    """Mark *src* (implicit record only) into *out*; return the record text."""
    return mark_file(src, out, producer=PRODUCER, explicit=False, overwrite=True).record_json


def originals(root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (labelled original, its record text): a JPEG, an MP4 (H.264 + AAC), an MP3, a PDF."""
    root.mkdir(parents=True, exist_ok=True)
    picture = Image.radial_gradient("L").convert("RGB").resize((160, 120))
    picture.save(root / "raw.jpg", quality=90)
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x48:d=0.5:r=10", "-f", "lavfi", "-i", "sine=d=0.5",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(root / "raw.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "libmp3lame", "-b:a", "64k", str(root / "raw.mp3"))
    shutil.copyfile(SAMPLES / "report.pdf", root / "raw.pdf")
    out = {}
    for ext in ("jpg", "mp4", "mp3", "pdf"):
        target = root / f"original.{ext}"
        out[ext] = (target, label(root / f"raw.{ext}", target))
    return out


def _pillow_thumb(fmt: str) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        with Image.open(src) as im:
            im = im.copy()
        im.thumbnail((64, 64))
        im.save(dst, fmt)
    return run


def _ffmpeg(*args: str) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        ffmpeg("-i", str(src), *args, str(dst))
    return run


def _qpdf(*args: str) -> Callable[[Path, Path], None]:
    def run(src: Path, dst: Path) -> None:
        argv = ["qpdf", *[a.replace("{in}", str(src)) for a in args]] if args else ["qpdf", str(src)]
        subprocess.run([*argv, str(dst)], check=True, timeout=60)
    return run


#: name -> (original's key, derivative's extension, the transform, record kept by the tool?, IPTC kept?)
#: "kept" is what was measured with the tools installed here (docs/transforms.md has the full table).
TRANSFORMS: dict[str, tuple[str, str, Callable[[Path, Path], None], bool, bool]] = {
    "pillow-webp": ("jpg", "webp", _pillow_thumb("WEBP"), False, False),
    "pillow-avif": ("jpg", "avif", _pillow_thumb("AVIF"), False, False),
    "pillow-png": ("jpg", "png", _pillow_thumb("PNG"), False, False),
    "ffmpeg-reencode-mp4": ("mp4", "mp4", _ffmpeg("-c:v", "libx264", "-preset", "ultrafast"), False, False),
    "ffmpeg-mkv": ("mp4", "mkv", _ffmpeg("-c", "copy"), True, False),
    "ffmpeg-mkv-no-metadata": ("mp4", "mkv", _ffmpeg("-map_metadata", "-1", "-c", "copy"), False, False),
    "ffmpeg-webm": ("mp4", "webm", _ffmpeg("-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus"), True,
                    False),
    "ffmpeg-mp3-wav": ("mp3", "wav", _ffmpeg(), False, False),
    "qpdf-rewrite": ("pdf", "pdf", _qpdf(), True, True),
    "qpdf-pages": ("pdf", "pdf", _qpdf("--empty", "--pages", "{in}", "--"), False, False),
}


# ---------------------------------------------------------------------------------- independent readers


def exiftool_json(path: Path) -> dict[str, object]:
    proc = subprocess.run(["exiftool", "-j", "-a", "-G1", "-s", str(path)], capture_output=True, text=True,
                          check=True, timeout=60)
    return json.loads(proc.stdout)[0]


def ffprobe_tags(path: Path) -> dict[str, str]:
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
                          capture_output=True, text=True, check=True, timeout=60)
    return json.loads(proc.stdout).get("format", {}).get("tags", {})


def riff_chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """(id, body) of each top-level chunk of a RIFF file, by a walker of its own (not aigclabel's)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF"
    out, at = [], 12
    while at + 8 <= len(data):
        cid, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        out.append((cid, data[at + 8:at + 8 + size]))
        at += 8 + size + (size & 1)
    return out


def pdf_info(path: Path) -> dict[str, str]:
    from pypdf import PdfReader

    meta = PdfReader(str(path)).metadata or {}
    return {str(k): str(v) for k, v in meta.items()}


def record_seen_by_independent_reader(path: Path) -> str | None:
    """The AIGC record as a reader that is not aigclabel sees it (exiftool, ffprobe, a RIFF walk, pypdf)."""
    ext = path.suffix.lower()
    if ext in (".mp4", ".mkv", ".webm"):
        tags = ffprobe_tags(path)
        return next((v for k, v in tags.items() if k.upper() == "AIGC"), None)
    if ext == ".wav":
        return next((body.rstrip(b"\0").decode() for cid, body in riff_chunks(path) if cid == b"AIGC"), None)
    if ext == ".pdf":
        return pdf_info(path).get("/AIGC")
    tags = exiftool_json(path)
    return next((str(v) for k, v in tags.items() if k.endswith(":AIGC") or k == "XMP-TC260:Aigc"), None)


def iptc_seen_by_exiftool(path: Path) -> str | None:
    tags = exiftool_json(path)
    return next((str(v) for k, v in tags.items() if k.endswith(":DigitalSourceType")), None)
