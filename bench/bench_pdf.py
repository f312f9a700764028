"""Benchmark: PDF marking against baselines measured in the same run.

Targets (issue #5):
* stamping and labelling a 100-page PDF takes at most 2x a plain pypdf read-and-write of the same
  file, and the file grows by at most 20 KB plus the embedded font;
* on a ~50 MB PDF (pages with big images) implicit-only marking costs about a file copy (it only
  appends), and stamping adds little: both are reported as ratios to a plain copy;
* ``verify --scope implicit`` reads a small part of the big file.

Run: python3 bench/bench_pdf.py [--repeat N] [--big-mb 50]
Prints the medians, the ratios and whether each target is met; exits 1 if one is not.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Callable

import aigclabel

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import fresh_output_median  # noqa: E402

PRODUCER = "001191110102MACQD9K64010000"
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.")


def _page_content(n: int) -> bytes:
    """A text page as a word processor writes one: 45 lines of Helvetica, a header rule, a page number."""
    lines = [b"BT /F1 10 Tf 12 TL 72 760 Td"]
    for i in range(45):
        words = LOREM.split()
        text = " ".join(words[(i * 3) % len(words):] + words[:(i * 3) % len(words)])[:95]
        lines.append(b"(" + text.encode() + b") Tj T*")
    lines.append(b"ET 0.5 w 72 780 m 523 780 l S")
    lines.append(b"BT /F1 9 Tf 290 40 Td (%d) Tj ET" % n)
    return b"\n".join(lines)


def make_text_pdf(path: Path, pages: int = 100) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    font = w._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                           NameObject("/Subtype"): NameObject("/Type1"),
                                           NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for n in range(1, pages + 1):
        page = w.add_blank_page(595, 842)
        content = DecodedStreamObject()
        content.set_data(_page_content(n))
        page[NameObject("/Contents")] = w._add_object(content.flate_encode())
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    w.add_metadata({"/Title": "Benchmark document", "/Producer": "bench_pdf"})
    with open(path, "wb") as fh:
        w.write(fh)


def make_big_pdf(path: Path, megabytes: int) -> None:
    """Pages each showing one big noisy RGB image (stored Flate, so it stays large)."""
    from pypdf import PdfWriter
    from pypdf.generic import (DecodedStreamObject, DictionaryObject, NameObject, NumberObject,
                               StreamObject)

    w = PdfWriter()
    side = 1400  # 1400 x 1400 RGB, ~5.9 MB raw; noise compresses little
    pages = max(1, round(megabytes * (1 << 20) / (side * side * 3 * 0.9)))
    noise = os.urandom(side * side * 3 // 4) * 4  # quarter random, repeated: fast to make, big after Flate
    for n in range(pages):
        image = StreamObject()
        image.update({NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
                      NameObject("/Width"): NumberObject(side), NameObject("/Height"): NumberObject(side),
                      NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
                      NameObject("/BitsPerComponent"): NumberObject(8),
                      NameObject("/Filter"): NameObject("/FlateDecode")})
        image.set_data(zlib.compress(bytes([n % 256]) + noise[1:], 1))
        ref = w._add_object(image)
        page = w.add_blank_page(595, 842)
        content = DecodedStreamObject()
        content.set_data(b"q 451 0 0 451 72 300 cm /Im0 Do Q")
        page[NameObject("/Contents")] = w._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): ref})})
    with open(path, "wb") as fh:
        w.write(fh)


def pypdf_roundtrip(src: Path) -> Callable[[Path], object]:
    def run(dest: Path) -> None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(src))
        with open(dest, "wb") as fh:
            writer.write(fh)
    return run


def mark_with(src: Path, *, explicit: bool, pages: str = "first") -> Callable[[Path], object]:
    def run(dest: Path) -> None:
        if pages == "first":
            aigclabel.mark(src, dest, producer=PRODUCER, explicit=explicit)
        else:
            _mark_pages(src, dest, pages)
    return run


def _mark_pages(src: Path, dest: Path, pages: str) -> None:
    """Stamp with pages=... until the CLI/mark() take the option: explicit step, then metadata step."""
    from aigclabel._io import CountingReader, open_source
    from aigclabel.explicit import ExplicitOptions
    from aigclabel.explicit.pdf import PdfStampMarker
    from aigclabel.formats import ImplicitLabel, handler_for
    from aigclabel.label import AigcRecord

    with open_source(src) as reader:
        handler = handler_for(reader)
        result = PdfStampMarker().apply(reader, handler, ExplicitOptions(text="本内容由人工智能生成",
                                                                          extra={"pages": pages}))
    stamped = CountingReader(io.BytesIO(result.data), str(src), len(result.data))
    record = AigcRecord(label="1", content_producer=PRODUCER, produce_id="bench-0001")
    with open(dest, "wb") as out:
        handler.write_metadata(stamped, out, ImplicitLabel(record.to_json(), None))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--big-mb", type=int, default=50)
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        small = tmpdir / "text-100.pdf"
        make_text_pdf(small)
        size = small.stat().st_size
        base = fresh_output_median(pypdf_roundtrip(small), args.repeat, tmpdir, ".pdf")
        first = fresh_output_median(mark_with(small, explicit=True), args.repeat, tmpdir, ".pdf")
        every = fresh_output_median(mark_with(small, explicit=True, pages="all"), args.repeat, tmpdir, ".pdf")
        implicit = fresh_output_median(mark_with(small, explicit=False), args.repeat, tmpdir, ".pdf")
        out = tmpdir / "marked.pdf"
        result = aigclabel.mark(small, out, producer=PRODUCER)
        font_bytes = result.explicit_details.get("font_bytes", 0)
        growth = out.stat().st_size - size
        _mark_pages(small, tmpdir / "all.pdf", "all")
        growth_all = (tmpdir / "all.pdf").stat().st_size - size
        print(f"100-page text PDF ({size / 1024:.0f} KB):")
        print(f"  pypdf read + write          {base * 1000:8.1f} ms")
        print(f"  mark, stamp first page      {first * 1000:8.1f} ms   ratio {first / base:5.2f}x (target <= 2x)")
        print(f"  mark, stamp all 100 pages   {every * 1000:8.1f} ms   ratio {every / base:5.2f}x (target <= 2x)")
        print(f"  mark, implicit only         {implicit * 1000:8.1f} ms   ratio {implicit / base:5.2f}x")
        print(f"  growth: first page {growth} B, all pages {growth_all} B; embedded font {font_bytes} B "
              f"(target: <= 20 KB + font)")
        ok &= first <= 2 * base and every <= 2 * base
        ok &= growth <= 20 * 1024 + font_bytes and growth_all <= 20 * 1024 + font_bytes

        big = tmpdir / "big.pdf"
        make_big_pdf(big, args.big_mb)
        big_size = big.stat().st_size
        copy = fresh_output_median(lambda d: shutil.copyfile(big, d), args.repeat, tmpdir, ".pdf")
        big_implicit = fresh_output_median(mark_with(big, explicit=False), args.repeat, tmpdir, ".pdf")
        big_first = fresh_output_median(mark_with(big, explicit=True), args.repeat, tmpdir, ".pdf")
        big_base = fresh_output_median(pypdf_roundtrip(big), max(1, args.repeat // 2), tmpdir, ".pdf")
        report = aigclabel.verify(big, scope="implicit")
        print(f"{big_size / (1 << 20):.0f} MB image PDF:")
        print(f"  plain copy                  {copy * 1000:8.1f} ms")
        print(f"  mark, implicit only         {big_implicit * 1000:8.1f} ms   ratio {big_implicit / copy:5.2f}x copy")
        print(f"  mark, stamp first page      {big_first * 1000:8.1f} ms   ratio {big_first / copy:5.2f}x copy, "
              f"{big_first / big_base:4.2f}x pypdf read+write ({big_base * 1000:.0f} ms)")
        print(f"  verify --scope implicit read {report.bytes_read / 1024:.0f} KiB of {big_size / (1 << 20):.0f} MB")
        ok &= big_first <= 2 * big_base
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
