"""Coverage-guided fuzzing of the pure parsers with atheris (optional: ``pip install atheris``).

Targets (``--coverage``):

``label``  :func:`aigclabel.label.parse_label` on bytes and on text
``xmp``    :meth:`aigclabel.formats._xmp.XmpPacket.parse`, then every read accessor and ``serialize()``
``read``   format detection and the handler's ``read()`` on bytes (the implicit readers)

Only :class:`~aigclabel.errors.AigcLabelError` (and, for XMP, the ``ValueError`` family the packet
parser documents as "not XMP") is expected; anything else stops the run with the input saved in
``OUT/coverage-<target>/crash-*`` by libFuzzer.  The corpus starts from the labelled seeds (for
``label`` and ``xmp``, the record and packet texts cut out of them).
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from . import seeds as seedlib


def _corpus(target: str, out: Path, formats: list[str]) -> Path:
    seedlib.build(out / "seeds", formats)
    data = seedlib.load(out / "seeds", formats)
    corpus = out / f"coverage-{target}" / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, body in data.items():
        if target == "read":
            pieces = [body]
        elif target == "label":
            pieces = [m.group(0) for m in re.finditer(rb'\{"AIGC":\{.*?\}\}|\{"Label".*?\}', body)]
        else:
            pieces = [m.group(0) for m in re.finditer(rb"<x:xmpmeta.*?</x:xmpmeta>", body, re.S)]
        for i, piece in enumerate(pieces[:4]):
            (corpus / f"{name}-{i}").write_bytes(piece)
    return corpus


def _target(target: str):  # type: ignore[no-untyped-def]
    from aigclabel.errors import AigcLabelError

    if target == "label":
        from aigclabel.label import parse_label

        def label_one(data: bytes) -> None:
            parse_label(data)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return
            parse_label(text)
        return label_one
    if target == "xmp":
        from aigclabel.formats._xmp import XmpPacket

        def xmp_one(data: bytes) -> None:
            try:
                packet = XmpPacket.parse(data)
            except AigcLabelError:
                return
            packet.properties()
            packet.aigc_properties()
            packet.digital_source_types()
            packet.serialize()
        return xmp_one

    from aigclabel._io import CountingReader
    from aigclabel.formats import handler_for

    def one(data: bytes) -> None:
        try:
            src = CountingReader(io.BytesIO(data), "<fuzz>", len(data))
            handler = handler_for(src)
            src.seek(0)
            handler.read(src)
        except AigcLabelError:
            return
    return one


def main(target: str, out: Path, formats: list[str], runs: int, seed: int) -> int:
    try:
        import atheris
    except ImportError:
        print("atheris is not installed (pip install atheris); the mutation fuzzer (no --coverage) needs nothing",
              file=sys.stderr)
        return 2
    corpus = _corpus(target, out, formats)
    one = _target(target)
    atheris.instrument_all()  # aigclabel is already imported (the seeds were made by it): instrument in place
    # the typed errors are caught inside `one`; anything else is a finding
    artifacts = out / f"coverage-{target}"
    atheris.Setup([sys.argv[0], f"-runs={runs}", f"-seed={seed}", f"-artifact_prefix={artifacts}/crash-",
                   "-rss_limit_mb=2048", "-timeout=2", "-max_len=262144", str(corpus)], one)
    atheris.Fuzz()
    return 0
