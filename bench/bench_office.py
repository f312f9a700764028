"""Benchmark: Office (DOCX/XLSX/PPTX) marking against a plain file copy, measured as interleaved pairs.

Target (issue #5, Office): the metadata step on a ~50 MB DOCX costs at most 2x a plain copy of the file --
unchanged members (here the pictures) are copied as raw compressed bytes, never inflated.  exiftool cannot write
Office files, so the copy (the physical limit) is the baseline.  Reported beside it, per format: ``mark()`` of the
record alone (the pipeline around the step: profile, read-back check, the signing step's scan), the full mark
(notice + record), Python's zipfile rebuilding the archive (the naive way: every member inflated and deflated
again), and how much ``verify --scope implicit`` reads.  CPU time (user + system) of this process.

Targets (issue #5):
  DOCX (~50 MB; 20 MB with --quick) metadata step     <= 2x a plain copy

Run: python3 bench/bench_office.py [--quick] [--pairs N] [--big-mb 50] [--target-scale F]
Needs python-docx, python-pptx and openpyxl (the ``test`` extra) to build the inputs.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import PRODUCER, Bench, main, pairs, parser, to_fresh_output  # noqa: E402


def _noise_png(side: int, seed: int) -> bytes:
    from PIL import Image

    raw = os.urandom(side * side * 3 // 2)
    im = Image.frombytes("RGB", (side, side), (raw + bytes([seed]) + raw)[: side * side * 3])
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _pictures(megabytes: int) -> list[bytes]:
    side = 1400  # ~5.9 MB of noise per picture: PNG cannot shrink it, nor can deflate in the ZIP
    count = max(1, round(megabytes / 5.6))
    return [_noise_png(side, n) for n in range(count)]


def make_docx(path: Path, megabytes: int) -> None:
    import docx
    from docx.shared import Cm

    doc = docx.Document()
    doc.add_heading("Benchmark report", 1)
    for n, png in enumerate(_pictures(megabytes)):
        doc.add_paragraph(f"Figure {n + 1}. " + "Lorem ipsum dolor sit amet. " * 20)
        doc.add_picture(io.BytesIO(png), width=Cm(12))
    doc.save(str(path))


def make_pptx(path: Path, megabytes: int) -> None:
    import pptx
    from pptx.util import Cm

    prs = pptx.Presentation()
    for n, png in enumerate(_pictures(megabytes)):
        slide = prs.slides.add_slide(prs.slide_layouts[5])
        slide.shapes.title.text = f"Slide {n + 1}"
        slide.shapes.add_picture(io.BytesIO(png), Cm(2), Cm(4), width=Cm(10))
    prs.save(str(path))


def make_xlsx(path: Path, megabytes: int) -> None:
    """A workbook whose bulk is a big sheet of random numbers (XML that deflates about 2:1)."""
    import random

    import openpyxl

    rnd = random.Random(7)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("data")
    rows = max(1, megabytes * 9000)
    for _ in range(rows):
        ws.append([rnd.random() for _ in range(8)])
    wb.save(str(path))


def zipfile_rebuild(src: Path) -> Callable[[Path], object]:
    """What a zipfile-based writer does: every member read (inflated) and written (deflated) again."""
    def run(dest: Path) -> None:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
            for info in zin.infolist():
                zout.writestr(info, zin.read(info))
    return run


def mark_with(src: Path, *, explicit: bool) -> Callable[[Path], object]:
    import aigclabel

    def run(dest: Path) -> None:
        aigclabel.mark(src, dest, producer=PRODUCER, explicit=explicit)
    return run


def metadata_step(src: Path) -> Callable[[Path], object]:
    """The metadata step alone (the handler's write, no pipeline around it): our share of the cost."""
    from aigclabel._io import open_source
    from aigclabel.formats import ImplicitLabel, handler_for
    from aigclabel.label import AigcRecord

    label = ImplicitLabel(AigcRecord(label="1", content_producer=PRODUCER, produce_id="bench-0001").to_json())

    def run(dest: Path) -> None:
        with open_source(src) as reader, open(dest, "wb") as out:
            handler_for(reader).write_metadata(reader, out, label)
    return run


def body(bench: Bench) -> None:
    import aigclabel

    megabytes = bench.args.big_mb or (20 if bench.quick else 50)
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)
        for kind, make in (("docx", make_docx), ("pptx", make_pptx), ("xlsx", make_xlsx)):
            src = d / f"big.{kind}"
            make(src, megabytes)
            size = src.stat().st_size
            name = f"{size / 1e6:.0f} MB {kind.upper()}"
            print(f"{name}:")
            suffix = f".{kind}"
            copy = to_fresh_output(functools.partial(shutil.copyfile, src), d, suffix)
            base, mine = pairs(copy, to_fresh_output(metadata_step(src), d, suffix), bench.n)
            bench.ratio(f"{name} metadata step", base, mine, 2.0 if kind == "docx" else None, baseline="copy")
            base, mine = pairs(copy, to_fresh_output(mark_with(src, explicit=False), d, suffix), bench.n)
            bench.ratio(f"{name} mark(explicit=False)", base, mine, None, baseline="copy")
            base, mine = pairs(copy, to_fresh_output(mark_with(src, explicit=True), d, suffix), bench.n)
            bench.ratio(f"{name} mark (notice + record)", base, mine, None, baseline="copy")
            base, mine = pairs(copy, to_fresh_output(zipfile_rebuild(src), d, suffix), bench.n)
            bench.ratio(f"{name} zipfile rebuild (naive, for reference)", base, mine, None, baseline="copy")
            report = aigclabel.verify(src, scope="implicit")
            bench.limit(f"{name} verify --scope implicit: bytes read", float(report.bytes_read or 0), None, "B",
                        baseline=float(size))
            src.unlink()


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--big-mb", type=int, default=None, help="size of each file (default 50; 20 with --quick)")
    sys.exit(main("office", ap, body))
