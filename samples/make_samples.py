"""Regenerate the bundled sample files (deterministic; run from anywhere: python samples/make_samples.py).

Every sample is made here with Pillow from nothing but code, so its origin and licence are ours
(Apache-2.0, like the project).  See samples/README.md for what each one demonstrates.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

HERE = Path(__file__).resolve().parent


def _picture(w: int = 320, h: int = 240) -> Image.Image:
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (x * 255 // w, y * 255 // h, 160)
    d = ImageDraw.Draw(im)
    d.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), outline=(255, 255, 255), width=4)
    return im


def _exif(software: str, user_comment: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "aigclabel samples"  # Make
    exif[0x0131] = software  # Software
    if user_comment is not None:
        exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + user_comment.encode("ascii")
    return exif.tobytes()


def main() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pic = _picture()

    # A camera-like JPEG: EXIF and an ICC profile that marking must keep byte for byte.
    pic.save(HERE / "photo.jpg", "JPEG", quality=85, exif=_exif("ExampleCam 1.0"), icc_profile=srgb)

    # A JPEG from an old pipeline: the 2023 TC260 record in EXIF UserComment (legacy, non-standard carrier).
    legacy = {"AIGC": {"ServiceProvider": "ExampleAI", "Time": "2024-05-01 12:00:00.000",
                       "ContentID": "legacy-0001"}}
    pic.save(HERE / "legacy-2023.jpg", "JPEG", quality=85,
             exif=_exif("ExampleAI renderer", json.dumps(legacy, separators=(",", ":"))))

    # A PNG from a Stable Diffusion front end: a `parameters` text chunk (a tier-3 trace).
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42")
    pic.resize((160, 120)).save(HERE / "render.png", "PNG", pnginfo=info)

    # A PNG that already has XMP (title, creator): marking merges into it and keeps both.
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
           '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour study</rdf:li></rdf:Alt></dc:title>'
           '<dc:creator><rdf:Seq><rdf:li>Sample Studio</rdf:li></rdf:Seq></dc:creator>'
           '</rdf:Description></rdf:RDF></x:xmpmeta>')
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    pic.resize((160, 120)).save(HERE / "with-xmp.png", "PNG", pnginfo=info)

    # A PNG saved under a .jpg name: formats are detected by content, not by extension.
    buf = io.BytesIO()
    pic.resize((96, 72)).save(buf, "PNG")
    (HERE / "misnamed.jpg").write_bytes(buf.getvalue())

    # Two seconds of a quiet chord as 16 kHz mono WAV: audible prompt and RIFF AIGC chunk.
    rate = 16000
    frames = b"".join(
        struct.pack("<h", int(2500 * (math.sin(2 * math.pi * 220 * i / rate) + math.sin(2 * math.pi * 330 * i / rate))))
        for i in range(rate * 2))
    with wave.open(str(HERE / "voice.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)

    # A one-page PDF made with pypdf: the stamp and the /AIGC Info record.
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Sample report", "/Author": "Sample Studio"})
    with open(HERE / "report.pdf", "wb") as fh:
        writer.write(fh)

    # An MP3 and an MP4, made with Debian's ffmpeg when it is there (committed, so the demo needs no ffmpeg).
    if shutil.which("ffmpeg"):
        run = lambda *a: subprocess.run(["ffmpeg", "-v", "error", "-y", *a], check=True)  # noqa: E731
        run("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "1", "-ar", "22050",
            "-c:a", "libmp3lame", "-b:a", "32k", "-metadata", "title=Sample tone", str(HERE / "tone.mp3"))
        run("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "veryslow", "-crf", "35", "-movflags", "+faststart",
            "-metadata", "title=Sample clip", str(HERE / "clip.mp4"))


if __name__ == "__main__":
    main()
