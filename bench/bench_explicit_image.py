"""Benchmark: visible + implicit marking of a 12-megapixel JPEG against a plain Pillow decode + encode.

Sides (interleaved pairs; CPU time = user + system of this process): ``aigclabel.mark_file(src, dest)`` with the
explicit label (draw, re-encode with the source's quantisation, carry the metadata over, then write the implicit
record) against Pillow decoding and encoding the same file with the same quantisation (``quality="keep"``): the
least any visible label costs, since the pixels must be decoded and encoded once.

Targets (issue #3):
  mark_file with the visible label, in-process     <= 1.3x a Pillow decode + encode

Run: python3 bench/bench_explicit_image.py [--quick] [--pairs N] [--target-scale F]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import PRODUCER, Bench, main, make_photo_jpeg, pairs, parser, to_fresh_output  # noqa: E402


def body(bench: Bench) -> None:
    import aigclabel
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="aigclabel-bench-") as tmp:
        d = Path(tmp)
        src, out = d / "src.jpg", d / "marked.jpg"
        make_photo_jpeg(src)
        print(f"source: 4000x3000 JPEG, {src.stat().st_size / 1e6:.2f} MB")

        def mark(dest: Path) -> None:
            aigclabel.mark_file(src, dest, producer=PRODUCER)  # explicit label on by default

        def reencode(dest: Path) -> None:
            with Image.open(src) as im:
                im.save(dest, "JPEG", quality="keep", exif=im.info.get("exif", b""))

        base, mine = pairs(to_fresh_output(reencode, d, ".jpg"), to_fresh_output(mark, d, ".jpg"), bench.n)
        bench.ratio("12 MP JPEG mark_file with the visible label", base, mine, 1.3, baseline="Pillow decode+encode")
        result = aigclabel.mark_file(src, out, producer=PRODUCER)
        report = aigclabel.verify(out, scope="implicit")
        det = result.explicit_details
        bench.check("label added and the record verifies", result.explicit == "added" and report.ok,
                    f"label {det.get('text')!r}, ink {det.get('height_ratio', 0):.2%} of the short side; implicit "
                    f"verdict {report.verdict.value}")


if __name__ == "__main__":
    sys.exit(main("explicit_image", parser(__doc__), body))
