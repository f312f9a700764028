"""Labelled seed files of every format aigclabel reads, made from code and marked by aigclabel itself.

Each seed starts as small generated content (Pillow pictures, ffmpeg's lavfi sine and test pattern,
pypdf, python-docx / openpyxl / python-pptx, plain text) -- the same way ``samples/make_samples.py``
and the tests build their files -- and is then labelled by our own :func:`aigclabel.mark_file`, with
the explicit label where this version adds one (else the implicit record only).  Seeds are cached in
``OUT/seeds/`` with a ``seeds.json`` saying how each was made, so a long run and its reproducers
always start from the same bytes.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

PRODUCER = "001191110102MACQD9K64010000"

# ------------------------------------------------------------------------------------------ content


def _picture(size: tuple[int, int] = (64, 48), shift: int = 0):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageDraw

    w, h = size
    im = Image.new("RGB", size)
    px = im.load()
    assert px is not None
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255) // (w - 1), (y * 255) // (h - 1), ((x ^ y) * 7 + shift) & 0xFF)
    ImageDraw.Draw(im).ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), outline=(255, 255, 255), width=2)
    return im


def _pillow(fmt: str, size: tuple[int, int] = (64, 48), **kw: object) -> Callable[[Path], bytes]:
    def make(_scratch: Path) -> bytes:
        if fmt == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        from PIL import Image

        buf = io.BytesIO()
        if kw.get("frames"):
            frames = [_picture(shift=40 * i) for i in range(int(kw["frames"]))]  # type: ignore[call-overload]
            extra = {k: v for k, v in kw.items() if k != "frames"}
            frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
        else:
            exif = Image.Exif()
            exif[0x010F] = "aigclabel fuzz seeds"  # Make
            exif[0x0131] = "seed generator 1.0"  # Software
            _picture(size).save(buf, fmt, exif=exif.tobytes(), **kw)
        return buf.getvalue()
    return make


_AUDIO_SRC = ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5:sample_rate=16000"]
#: long enough to carry the audio watermark (>= 10 s at a rate it accepts), so mark-watermark reaches the embedder
_WATERMARK_AUDIO_SRC = ["-f", "lavfi", "-i", "sine=frequency=440:duration=10.5:sample_rate=16000"]
_VIDEO_SRC = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5",
              "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-shortest"]
_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-pix_fmt", "yuv420p"]


def _ffmpeg(suffix: str, *args: str) -> Callable[[Path], bytes]:
    def make(scratch: Path) -> bytes:
        exe = shutil.which("ffmpeg")
        if exe is None:
            raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg); the audio and video seeds need it")
        out = scratch / f"src{suffix}"
        proc = subprocess.run([exe, "-v", "error", "-y", *args, "-metadata", "title=Fuzz seed", str(out)],
                              capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed for {suffix}: {proc.stderr.decode(errors='replace')}")
        return out.read_bytes()
    return make


def _pdf(_scratch: Path) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": "Fuzz seed", "/Author": "aigclabel"})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _docx(_scratch: Path) -> bytes:
    import docx

    doc = docx.Document()
    doc.add_heading("A generated report", 1)
    doc.add_paragraph("The body text of the report.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _xlsx(_scratch: Path) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in range(1, 4):
        ws.append([f"row {r}", r, r * 1.5])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _pptx(_scratch: Path) -> bytes:
    import pptx

    prs = pptx.Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "Slide 1"
    slide.placeholders[1].text = "Point 1"
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


def _text(body: str) -> Callable[[Path], bytes]:
    return lambda _scratch: body.encode("utf-8")


_MARKDOWN = "# Harbour at dusk\n\nA short *generated* note.\n\n- one\n- two\n\n```\ncode\n```\n"
_HTML = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fuzz seed</title></head>\n"
         "<body><h1>Harbour at dusk</h1><p>A short generated note &amp; a <b>bold</b> word.</p></body></html>\n")


@dataclass(frozen=True)
class SeedSpec:
    name: str  # the format as the results table names it
    suffix: str  # the file name extension (text formats are told apart by it)
    make: Callable[[Path], bytes]  # unlabelled content
    kind: str  # image | audio | video | document | text: which independent reader checks outputs
    c2pa: bool = False  # also sign a C2PA manifest in (development keys), so the manifest reader is fuzzed too
    #: a larger copy of the plain seed of its format, big enough for the invisible watermark (``-wm``)
    watermark_size: bool = False


#: every format aigclabel reads (see aigclabel/formats/__init__.py _BUILTIN), one seed each
SPECS: dict[str, SeedSpec] = {s.name: s for s in [
    SeedSpec("jpeg", ".jpg", _pillow("JPEG", quality=80), "image"),
    SeedSpec("png", ".png", _pillow("PNG"), "image"),
    SeedSpec("apng", ".png", _pillow("PNG", frames=2), "image"),
    SeedSpec("webp", ".webp", _pillow("WEBP", quality=80), "image"),
    SeedSpec("gif", ".gif", _pillow("GIF", frames=2), "image"),
    SeedSpec("tiff", ".tif", _pillow("TIFF"), "image"),
    SeedSpec("heic", ".heic", _pillow("HEIF", quality=60), "image"),
    SeedSpec("avif", ".avif", _pillow("AVIF", quality=60), "image"),
    SeedSpec("mp3", ".mp3", _ffmpeg(".mp3", *_AUDIO_SRC, "-c:a", "libmp3lame", "-b:a", "32k"), "audio"),
    SeedSpec("wav", ".wav", _ffmpeg(".wav", *_AUDIO_SRC, "-c:a", "pcm_s16le"), "audio"),
    SeedSpec("flac", ".flac", _ffmpeg(".flac", *_AUDIO_SRC, "-c:a", "flac"), "audio"),
    SeedSpec("ogg", ".ogg", _ffmpeg(".ogg", *_AUDIO_SRC, "-c:a", "libvorbis"), "audio"),
    SeedSpec("opus", ".opus", _ffmpeg(".opus", *_AUDIO_SRC, "-c:a", "libopus", "-b:a", "16k"), "audio"),
    SeedSpec("aiff", ".aiff", _ffmpeg(".aiff", *_AUDIO_SRC, "-c:a", "pcm_s16be", "-write_id3v2", "1"), "audio"),
    SeedSpec("m4a", ".m4a", _ffmpeg(".m4a", *_AUDIO_SRC, "-c:a", "aac", "-b:a", "24k"), "audio"),
    SeedSpec("mp4", ".mp4", _ffmpeg(".mp4", *_VIDEO_SRC, *_X264, "-c:a", "aac", "-movflags", "+faststart"),
             "video"),
    SeedSpec("mov", ".mov", _ffmpeg(".mov", *_VIDEO_SRC, *_X264, "-c:a", "aac"), "video"),
    SeedSpec("mkv", ".mkv", _ffmpeg(".mkv", *_VIDEO_SRC, *_X264, "-c:a", "aac"), "video"),
    SeedSpec("webm", ".webm", _ffmpeg(".webm", *_VIDEO_SRC, "-c:v", "libvpx-vp9", "-deadline", "realtime",
                                      "-cpu-used", "8", "-g", "5", "-c:a", "libopus"), "video"),
    SeedSpec("avi", ".avi", _ffmpeg(".avi", *_VIDEO_SRC, "-c:v", "mpeg4", "-c:a", "libmp3lame", "-ar", "22050"),
             "video"),
    SeedSpec("flv", ".flv", _ffmpeg(".flv", *_VIDEO_SRC, "-c:v", "flv1", "-c:a", "libmp3lame", "-ar", "22050"),
             "video"),
    SeedSpec("pdf", ".pdf", _pdf, "document"),
    SeedSpec("docx", ".docx", _docx, "document"),
    SeedSpec("xlsx", ".xlsx", _xlsx, "document"),
    SeedSpec("pptx", ".pptx", _pptx, "document"),
    SeedSpec("txt", ".txt", _text("A short generated note.\nA second line.\n"), "text"),
    SeedSpec("markdown", ".md", _text(_MARKDOWN), "text"),
    SeedSpec("html", ".html", _text(_HTML), "text"),
    # big enough for the invisible watermark (a 256-pixel short side, 10 s of audio): mutated inputs reach the
    # embedder and the detector, not only their "too small" refusal
    SeedSpec("jpeg-wm", ".jpg", _pillow("JPEG", size=(320, 256), quality=80), "image", watermark_size=True),
    SeedSpec("flac-wm", ".flac", _ffmpeg(".flac", *_WATERMARK_AUDIO_SRC, "-c:a", "flac"), "audio",
             watermark_size=True),
    SeedSpec("mp3-wm", ".mp3", _ffmpeg(".mp3", *_WATERMARK_AUDIO_SRC, "-c:a", "libmp3lame", "-b:a", "32k"), "audio",
             watermark_size=True),
    # signed copies: mutated manifests reach aigclabel.c2pa (inspect, review, and mark's "already signed" refusal)
    SeedSpec("jpeg-c2pa", ".jpg", _pillow("JPEG", quality=80), "image", c2pa=True),
    SeedSpec("png-c2pa", ".png", _pillow("PNG"), "image", c2pa=True),
    SeedSpec("mp4-c2pa", ".mp4", _ffmpeg(".mp4", *_VIDEO_SRC, *_X264, "-c:a", "aac", "-movflags", "+faststart"),
             "video", c2pa=True),
    SeedSpec("pdf-c2pa", ".pdf", _pdf, "document", c2pa=True),
]}
#: the formats a run takes by default: every one aigclabel reads, and the signed variants
DEFAULT_FORMATS = list(SPECS)


# ------------------------------------------------------------------------------------------ marking


def _label(content: bytes, spec: SeedSpec, scratch: Path) -> tuple[bytes, str]:
    """*content* marked by aigclabel (explicit label where it can, else the implicit record only)."""
    import aigclabel
    from aigclabel.errors import AigcLabelError

    path = scratch / f"unlabelled{spec.suffix}"
    path.write_bytes(content)
    notes = []
    c2pa = None
    if spec.c2pa:
        from aigclabel.c2pa import C2paOptions
        from aigclabel.keys import init_keys

        keys = init_keys(scratch / "keys")
        c2pa = C2paOptions(sign_cert=keys.chain, sign_key=keys.key)
    for explicit in (True, False):
        try:
            result = aigclabel.mark_file(path, producer=PRODUCER, produce_id=f"fuzz-seed-{spec.name}",
                                         explicit=explicit, c2pa=c2pa)
        except AigcLabelError as exc:
            notes.append(f"mark(explicit={explicit}) refused: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in marking must not stop the run; the note says so
            notes.append(f"mark(explicit={explicit}) FAILED untyped: {type(exc).__name__}: {exc}")
            continue
        assert result.data is not None
        signed = ", C2PA-signed" if c2pa is not None else ""
        return result.data, "; ".join([f"marked (explicit {result.explicit}{signed})", *notes])
    return content, "; ".join(["NOT labelled", *notes])


def build(out_dir: Path, formats: list[str]) -> dict[str, dict[str, str]]:
    """Make (or reuse) the seed of each format in *out_dir*; returns ``{format: {file, how}}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    index_path = out_dir / "seeds.json"
    index: dict[str, dict[str, str]] = json.loads(index_path.read_text()) if index_path.exists() else {}
    for name in formats:
        spec = SPECS[name]
        target = out_dir / f"{name}{spec.suffix}"
        if name in index and target.exists():
            continue
        with tempfile.TemporaryDirectory(prefix="aigclabel-fuzz-seed-") as tmp:
            content = spec.make(Path(tmp))
            data, how = _label(content, spec, Path(tmp))
        target.write_bytes(data)
        index[name] = {"file": target.name, "how": how, "bytes": str(len(data))}
        index_path.write_text(json.dumps(index, indent=1, sort_keys=True))
    return {name: index[name] for name in formats}


def load(out_dir: Path, formats: list[str]) -> dict[str, bytes]:
    index = json.loads((out_dir / "seeds.json").read_text())
    return {name: (out_dir / index[name]["file"]).read_bytes() for name in formats}
