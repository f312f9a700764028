"""``aigclabel demo``: mark every bundled sample and verify the results, as a table."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from ._common import guarded

#: a well-formed but fictitious provider code (valid GB 32100 check character), for the demo only
DEMO_PRODUCER = "001191110108MA01AB3CDF10001"


def samples_dir() -> Path:
    """Bundled samples: package data when installed, ``samples/`` in a checkout."""
    try:
        from importlib.resources import files

        candidate = Path(str(files("aigclabel.samples")))
        if candidate.is_dir():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "samples"


@click.command("demo", epilog="\b\nExamples:\n  aigclabel demo\n  aigclabel demo --out demo-out/")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to write the marked copies (default: a new temporary directory).")
@guarded
def demo(out_dir: str | None) -> None:
    """Mark every bundled sample file and verify the results."""
    from aigclabel.marking import mark_file
    from aigclabel.verifier import inspect, verify

    src_dir = samples_dir()
    samples = sorted(p for p in src_dir.iterdir()
                     if p.is_file() and p.suffix.lower() not in (".py", ".md", ".txt") and not p.name.startswith("_"))
    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="aigclabel-demo-")
    os.makedirs(out_dir, exist_ok=True)
    click.echo(f"samples: {src_dir}\nmarked copies: {out_dir}\nproducer code: {DEMO_PRODUCER} (fictitious)\n")
    header = (f"{'sample':<18}{'format':<8}{'before':<24}{'explicit label':<16}{'after: implicit':<17}"
              f"{'after: all':<15}traces")
    click.echo(header)
    click.echo("-" * len(header))
    failures = 0
    notes: list[str] = []
    for sample in samples:
        before = inspect(sample)
        if before.labels:
            schemas = {lab.parsed.schema or "invalid" for lab in before.labels if lab.parsed is not None}
            was = f"{len(before.labels)} record ({', '.join(sorted(schemas))})"
        else:
            was = "no record"
        dest = os.path.join(out_dir, sample.name)
        try:
            explicit = mark_file(sample, dest, producer=DEMO_PRODUCER, overwrite=True).explicit
            implicit = verify(dest, scope="implicit").verdict.value
            overall = verify(dest, scope="all").verdict.value
        except Exception as exc:  # noqa: BLE001 - show it in the table and carry on
            explicit, implicit, overall = "-", "error", type(exc).__name__
            notes.append(f"{sample.name}: {exc}")
        if implicit != "compliant":
            failures += 1
        traces = ", ".join(sorted({t.kind for t in before.traces})) or "-"
        click.echo(f"{sample.name:<18}{before.format:<8}{was:<24}{explicit:<16}{implicit:<17}{overall:<15}{traces}")
    for note in notes:
        click.echo(f"  error: {note}")
    click.echo("\n'explicit label' is what marking drew or inserted (visible text, audible prompt, PDF stamp). "
               "'after: all' is\ninconclusive where a label could not be checked (e.g. OCR not installed): "
               "a check that cannot run is\nreported as not checked, never as a pass.")
    failures += _rendition_demo(Path(out_dir))
    failures += _watermark_demo(src_dir, Path(out_dir))
    click.echo(f"\nTry: aigclabel verify {os.path.join(out_dir, samples[0].name) if samples else ''}")
    sys.exit(1 if failures else 0)


def _rendition_demo(out_dir: Path) -> int:
    """A platform's thumbnail of the marked photo: what the resize lost (diff), the label carried back (carry),
    and marking the photo again (no second label).  Returns 1 when a step did not do what it says."""
    from PIL import Image

    from aigclabel.carrying import carry
    from aigclabel.diffing import diff
    from aigclabel.marking import mark_file

    photo = out_dir / "photo.jpg"
    if not photo.exists():
        return 0
    click.echo("\nA platform's rendition of the marked photo (Pillow resize to WebP, as most pipelines do):")
    thumb, carried = out_dir / "photo-thumb.webp", out_dir / "photo-thumb-labelled.webp"
    with Image.open(photo) as im:
        im.convert("RGB").resize((im.width // 4, im.height // 4)).save(thumb, "WEBP", quality=80)
    before = diff(photo, thumb)
    lost = ", ".join(sorted({f.rule for f in before.lost})) or "nothing"
    click.echo(f"  aigclabel diff photo.jpg photo-thumb.webp          -> lost: {lost}")
    carry(photo, thumb, carried, overwrite=True)
    after = diff(photo, carried)
    kept = "nothing lost" if not after.lost else ", ".join(sorted({f.rule for f in after.lost}))
    click.echo(f"  aigclabel carry photo.jpg photo-thumb.webp -o ... -> {kept}")
    again = mark_file(photo, out_dir / "photo-again.jpg", producer=DEMO_PRODUCER, overwrite=True)
    click.echo(f"  aigclabel mark photo.jpg (already marked)         -> explicit label {again.explicit}, "
               "not drawn twice")
    return 0 if before.lost and not after.lost and again.explicit == "present" else 1


def _watermark_demo(src_dir: Path, out_dir: Path) -> int:
    """The invisible watermark: the photo marked with it, then a screenshot-like copy (cropped, scaled, re-saved as
    JPEG: no metadata left) in which it is still found.  Returns 1 when a step did not do what it says."""
    source = src_dir / "photo.jpg"
    if not source.exists():  # (a checkout or install without the samples)
        return 0
    try:
        import numpy  # noqa: F401  # the [watermark] extra (also installed by [ocr])
    except ImportError:
        click.echo("\nThe invisible watermark: not shown (needs numpy: pip install 'aigclabel[watermark]').")
        return 0
    from PIL import Image

    from aigclabel import watermark
    from aigclabel.marking import mark_file
    from aigclabel.verifier import inspect

    click.echo("\nThe invisible watermark, a second implicit layer for when the metadata is gone:")
    generated = out_dir / "generated.png"  # a generator's output: the sample photo at 960x720 (the mark needs >= 256)
    marked, shot = out_dir / "generated-watermarked.png", out_dir / "generated-screenshot.jpg"
    with Image.open(source) as im:
        im.convert("RGB").resize((im.width * 3, im.height * 3), Image.Resampling.LANCZOS).save(generated, "PNG")
    result = mark_file(generated, marked, producer=DEMO_PRODUCER, watermark=True, overwrite=True)
    fields = next(lab.parsed.fields for lab in inspect(marked).labels if lab.parsed is not None)
    with Image.open(marked) as im:
        w, h = im.size
        crop = im.convert("RGB").crop((w // 10, h // 10, w - w // 20, h - h // 20))  # about 15 % cut away
        crop.resize((crop.width * 2 // 3, crop.height * 2 // 3), Image.Resampling.BILINEAR).save(shot, "JPEG",
                                                                                                quality=80)
    with Image.open(shot) as im:
        found = watermark.detect(im)
    left = "no record" if not inspect(shot).labels else "record kept"
    ident = watermark.payload_for(fields)  # the keyed id of ContentProducer + ProduceID (the default key)
    matches = found.found and found.matches(ident)
    click.echo(f"  aigclabel mark generated.png --watermark         -> payload {ident:010x} "
               f"({'embedded' if result.notes else 'not embedded'})")
    click.echo(f"  cropped ~15 %, scaled to 67 %, re-saved as JPEG  -> {left}; watermark "
               f"{'found, matches the record' if matches else 'not found'}")
    return 0 if matches and left == "no record" else 1
