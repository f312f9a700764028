"""Benchmark: PDF marking and verification, as whole processes against qpdf, and verify time against page count.

Sides, run as interleaved pairs and judged on CPU time (user + system, the process and its children):
* ``aigclabel mark X.pdf -o Y --producer P --no-explicit`` (an incremental update: it only appends) against a full
  ``qpdf X.pdf Y`` rewrite, the strongest tool a user would pick, on a 1,000-page text PDF;
* the stamped mark (first page and all pages) of a 100-page text PDF in-process against pypdf's read + write
  (issue #5's baseline: the library the stamp is drawn with), and as a whole process against the qpdf rewrite
  (reported); the file growth;
* ``aigclabel.verify(pdf, scope="implicit")`` in-process on a 1,000-page PDF against the same on a 10-page PDF
  (it should not walk the page tree);
* a ~50 MB image PDF (20 MB with --quick): the implicit mark against a plain copy (reported), the stamped mark
  against pypdf's read + write and (reported) qpdf; the bytes ``verify --scope implicit`` reads (reported).

Targets (issue 15 "Speed and memory targets"; issue #5):
  1,000-page mark --no-explicit, whole process          <= 1x a qpdf rewrite
  implicit verify, 1,000 pages vs 10 pages               <= 1.5x
  100-page stamp (first page / all pages), in-process    <= 2x a pypdf read + write (issue #5; qpdf reported)
  100-page stamp growth                                  <= 20 KiB + the embedded font
  50 MB image PDF stamp, in-process                      <= 2x a pypdf read + write (issue #5; qpdf reported)

Run: python3 bench/bench_pdf.py [--quick] [--pairs N] [--big-mb 50] [--target-scale F]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import (PRODUCER, Bench, Sample, aigclabel_argv, in_process, main, need, pairs, parser,  # noqa: E402
                     process, to_fresh_output)

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


def mark_pages(src: Path, pages: str) -> Callable[[Path], object]:
    import aigclabel

    return lambda dest: aigclabel.mark_file(src, dest, producer=PRODUCER, pages=pages)


def body(bench: Bench) -> None:
    import aigclabel

    qpdf_exe, cli = need("qpdf"), aigclabel_argv()
    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)

        def qpdf(src: Path) -> Callable[[], Sample]:
            return process(lambda dest: [qpdf_exe, str(src), str(dest)], d, ".pdf")

        def ours(src: Path, *extra: str) -> Callable[[], Sample]:
            return process(lambda dest: [*cli, "mark", str(src), "-o", str(dest), "--producer", PRODUCER, *extra],
                           d, ".pdf")

        thousand, hundred, ten = d / "text-1000.pdf", d / "text-100.pdf", d / "text-10.pdf"
        for path, count in ((thousand, 1000), (hundred, 100), (ten, 10)):
            make_text_pdf(path, count)
        print(f"text PDFs: 10 pages {ten.stat().st_size / 1024:.0f} KiB, 100 pages {hundred.stat().st_size / 1024:.0f}"
              f" KiB, 1,000 pages {thousand.stat().st_size / 1024:.0f} KiB")
        base, mine = pairs(qpdf(thousand), ours(thousand, "--no-explicit"), bench.n)
        bench.ratio("1,000-page PDF mark --no-explicit, whole process", base, mine, 1.0, baseline="qpdf rewrite")

        marked10, marked1000 = d / "m10.pdf", d / "m1000.pdf"
        aigclabel.mark(ten, marked10, producer=PRODUCER, explicit=False)
        aigclabel.mark(thousand, marked1000, producer=PRODUCER, explicit=False)
        base, mine = pairs(in_process(lambda: aigclabel.verify(marked10, scope="implicit"), inner=3),
                           in_process(lambda: aigclabel.verify(marked1000, scope="implicit"), inner=3), bench.n)
        bench.ratio("verify --scope implicit, 1,000 pages vs 10 pages, in-process", base, mine, 1.5,
                    baseline="10-page verify")

        # issue #5's stamping target is against pypdf's own read + write in-process (the library the stamp uses);
        # qpdf, the faster rewrite a user would run, is reported beside it as a whole process
        cases: list[tuple[tuple[str, ...], str]] = [((), "first"), (("--pages", "all"), "all")]
        for extra, pages in cases:
            base, mine = pairs(to_fresh_output(pypdf_roundtrip(hundred), d, ".pdf"),
                               to_fresh_output(mark_pages(hundred, pages), d, ".pdf"), bench.n)
            where = "first page" if pages == "first" else "all pages"
            bench.ratio(f"100-page PDF stamp ({where}) + record, in-process", base, mine, 2.0,
                        baseline="pypdf read+write")
            base, mine = pairs(qpdf(hundred), ours(hundred, *extra), bench.n)
            bench.ratio(f"100-page PDF mark ({where}), whole process", base, mine, None, baseline="qpdf rewrite")
        size = hundred.stat().st_size
        out = d / "marked.pdf"
        result = aigclabel.mark(hundred, out, producer=PRODUCER)
        font = int(result.explicit_details.get("font_bytes", 0))
        bench.limit("100-page PDF stamp: file growth", float(out.stat().st_size - size), 20 * 1024 + font, "B",
                    note=f"embedded font {font} B")

        big = d / "big.pdf"
        make_big_pdf(big, bench.args.big_mb or (20 if bench.quick else 50))
        big_size = big.stat().st_size
        print(f"image PDF: {big_size / 1e6:.0f} MB")
        base, mine = pairs(to_fresh_output(lambda dest: shutil.copyfile(big, dest), d, ".pdf"),
                           to_fresh_output(lambda dest: aigclabel.mark(big, dest, producer=PRODUCER, explicit=False),
                                           d, ".pdf"), bench.n)
        bench.ratio(f"{big_size / 1e6:.0f} MB image PDF mark(explicit=False), in-process", base, mine, None,
                    baseline="copy")
        base, mine = pairs(to_fresh_output(pypdf_roundtrip(big), d, ".pdf"),
                           to_fresh_output(mark_pages(big, "first"), d, ".pdf"), bench.n)
        bench.ratio(f"{big_size / 1e6:.0f} MB image PDF stamp + record, in-process", base, mine, 2.0,
                    baseline="pypdf read+write")
        base, mine = pairs(qpdf(big), ours(big), bench.n)
        bench.ratio(f"{big_size / 1e6:.0f} MB image PDF mark (stamp), whole process", base, mine, None,
                    baseline="qpdf rewrite")
        report = aigclabel.verify(big, scope="implicit")
        bench.limit("image PDF verify --scope implicit: bytes read", float(report.bytes_read or 0), None, "B",
                    baseline=float(big_size))


if __name__ == "__main__":
    ap = parser(__doc__)
    ap.add_argument("--big-mb", type=int, default=None, help="size of the image PDF (default 50, 20 with --quick)")
    sys.exit(main("pdf", ap, body))
