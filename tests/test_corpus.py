"""The golden corpus (tests/corpus/): every file's report must equal its checked-in expected report.

The files in ``tests/corpus/files/`` were made once by ``tests/corpus/make.py`` (exiftool, ffmpeg, mutagen,
pypdf, Pillow, zipfile, or by hand) and are checked in; this test never regenerates them.  For each file,
``scripts/corpus.py`` computes the stable part of ``aigclabel.verify`` (default profile, scope implicit, and
scope all for the few ``full`` cases) and of ``aigclabel.platform.review`` (tier, evidence kinds), and the
test fails on any difference from ``tests/corpus/expected/<file>.json``.  After a deliberate change:
``python3 scripts/corpus.py --update`` and review the diff.

A second test reads the records of the positive cases with a reader that is not ours (exiftool with the
TC260 namespace defined, mutagen, ffprobe, pypdf, zipfile, PyYAML, html.parser) and checks that the fields
in the expected reports are exactly what that reader sees: the golden answers are not just our own echo.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


golden = _load("aigclabel_corpus_script", ROOT / "scripts" / "corpus.py")
INDEX: dict[str, dict[str, Any]] = golden.load_index()
NAMES = sorted(INDEX)


def test_inventory() -> None:
    """files/, index.json, expected/ and the README table name the same files; the corpus is small and wide."""
    files = {p.name for p in golden.FILES.iterdir()}
    expected = {p.name[:-len(".json")] for p in golden.EXPECTED.glob("*.json")}
    assert files == set(INDEX), f"files/ vs index.json: {sorted(files ^ set(INDEX))} (run tests/corpus/make.py)"
    assert expected == set(INDEX), (f"expected/ vs index.json: {sorted(expected ^ set(INDEX))} "
                                    "(run scripts/corpus.py --update)")
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert [n for n in NAMES if f"`{n}`" not in readme] == [], "README table out of date (run tests/corpus/make.py)"
    assert len(files) >= 60
    total = sum(p.stat().st_size for p in golden.FILES.iterdir())
    assert total < 2_000_000, f"the corpus is {total} bytes; keep it well under 2 MB"
    for name, entry in INDEX.items():
        assert entry["how"] and entry["tests"] and entry["expect"], name


def test_every_format_is_in_the_corpus() -> None:
    """Each built-in handler has at least one positive (a record read) and one empty-shell file."""
    from aigclabel.formats import handlers

    builtin = {h.name for h in handlers() if h.__module__.startswith("aigclabel.formats.")}
    positive: set[str] = set()
    empty: set[str] = set()
    for name in NAMES:
        v = json.loads(golden.expected_path(name).read_text(encoding="utf-8"))["verify"]
        if "error" in v:
            continue
        (positive if v["labels"] else empty).add(v["format"])
    # plain text has no implicit carrier: its positive case is the explicit notice (full scope)
    assert builtin - {"txt"} <= positive, f"formats without a labelled file: {sorted(builtin - {'txt'} - positive)}"
    assert builtin <= empty, f"formats without an empty shell: {sorted(builtin - empty)}"


@pytest.mark.parametrize("name", NAMES)
def test_golden_report(name: str) -> None:
    want = json.loads(golden.expected_path(name).read_text(encoding="utf-8"))
    got = golden.report_for(name, INDEX[name]["full"])
    if got != want:
        pytest.fail(f"{name}: the report differs from tests/corpus/expected/{name}.json "
                    f"(expect: {INDEX[name]['expect']}).\nIf the change is deliberate run "
                    f"`python3 scripts/corpus.py --update --only {name}` and review the diff.\n"
                    + golden.diff(name, INDEX[name]["full"]))


# ------------------------------------------------------------------------- independent readers


def _tool(name: str, package: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed (Debian: {package}); the corpus's independent reader")
    return exe


_EXIFTOOL_CACHE: dict[str, dict[str, Any]] = {}


def _exiftool(name: str) -> dict[str, Any]:
    """exiftool's tags for every exiftool-read corpus file, in one run, with the TC260 namespace defined."""
    if not _EXIFTOOL_CACHE:
        make = _load("aigclabel_corpus_make", CORPUS / "make.py")
        tags = "\n".join(f"    {t} => {{ }}," for t in ("AIGC", *make.FIELDS))
        with tempfile.TemporaryDirectory(prefix="corpus-exiftool-") as tmp:
            cfg = Path(tmp) / "tc260.config"
            cfg.write_text(make._EXIFTOOL_CONFIG.format(uri=make.TC260_NS, tags=tags))
            files = [str(golden.FILES / n) for n, how in INDEPENDENT.items() if how[0].startswith("exiftool")]
            out = subprocess.run([_tool("exiftool", "libimage-exiftool-perl"), "-config", str(cfg), "-j", "-G1",
                                  "-b", "-charset", "UTF8", *files], capture_output=True, timeout=120)
        for item in json.loads(out.stdout):
            _EXIFTOOL_CACHE[Path(item["SourceFile"]).name] = item
    return _EXIFTOOL_CACHE[name]


def _ffprobe_tag(path: Path, tag: str) -> str:
    out = subprocess.run([_tool("ffprobe", "ffmpeg"), "-v", "error", "-show_entries", "format_tags", "-of", "json",
                          str(path)], capture_output=True, timeout=60)
    tags = json.loads(out.stdout)["format"]["tags"]
    return str({k.upper(): v for k, v in tags.items()}[tag])


def _mutagen_tag(path: Path, key: str) -> str:
    import mutagen

    f = mutagen.File(path)
    assert f is not None and f.tags is not None, path
    value = f.tags[key]
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, bytes):  # an MP4 freeform atom
        return value.decode("utf-8")
    return str(value.text[0]) if hasattr(value, "text") else str(value)


def _custom_xml(path: Path, _key: str) -> str:
    from xml.etree import ElementTree

    with zipfile.ZipFile(path) as z:
        root = ElementTree.fromstring(z.read("docProps/custom.xml"))
    for prop in root:
        if prop.get("name") == "AIGC":
            return "".join(prop.itertext())
    raise AssertionError(f"{path.name}: no AIGC custom property")


def _pdf_info(path: Path, _key: str) -> str:
    from pypdf import PdfReader

    info = PdfReader(path).metadata
    assert info is not None
    return str(info["/AIGC"])


def _front_matter(path: Path, _key: str) -> str:
    import yaml

    head = path.read_text(encoding="utf-8").split("---\n")[1]
    return json.dumps(yaml.safe_load(head)["AIGC"])


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("name") and a.get("content") is not None:
            self.found[str(a["name"])] = str(a["content"])


def _html_meta(path: Path, key: str) -> str:
    parser = _Meta()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.found[key]


def _exiftool_fields(path: Path, prefix: str) -> str:
    """The seven per-field properties (``XMP-TC260:Label`` ...) as one record."""
    tags = _exiftool(path.name)
    return json.dumps({key: str(tags[prefix + key]) for key in ("Label", "ContentProducer", "ProduceID",
                                                                "ReservedCode1", "ContentPropagator",
                                                                "PropagateID", "ReservedCode2")})


_READERS: dict[str, Callable[[Path, str], str]] = {
    "exiftool": lambda path, key: str(_exiftool(path.name)[key]), "exiftool-fields": _exiftool_fields,
    "ffprobe": _ffprobe_tag, "mutagen": _mutagen_tag, "zipfile": _custom_xml, "pypdf": _pdf_info,
    "yaml": _front_matter, "html.parser": _html_meta,
}

#: corpus file -> (independent reader, the tag it names the record by)
INDEPENDENT: dict[str, tuple[str, str]] = {
    **{n: ("exiftool", "XMP-TC260:AIGC") for n in (
        "jpeg-bare.jpg", "jpeg-wrapped.jpg", "jpeg-nonascii.jpg", "jpeg-securitydata.jpg",
        "jpeg-doubao-empty-propagator.jpg", "png-itxt-xmp.png", "png-text-xmp.png", "png-ztxt-xmp.png",
        "apng-bare.png", "webp-bare.webp", "gif-bare.gif", "gif-wrapped.gif", "tiff-bare.tif", "heic-bare.heic",
        "avif-bare.avif", "pdf-xmp.pdf", "mp4-uuid-xmp.mp4")},
    "jpeg-per-field.jpg": ("exiftool-fields", "XMP-TC260:"),
    "jpeg-exif-usercomment.jpg": ("exiftool", "ExifIFD:UserComment"),
    "webp-exif-usercomment.webp": ("exiftool", "ExifIFD:UserComment"),
    "png-text-aigc.png": ("exiftool", "PNG:AIGC"),
    **{n: ("ffprobe", "AIGC") for n in ("m4a-mdta.m4a", "mp4-mdta.mp4", "mp4-moov-last.mp4", "mov-mdta.mov",
                                         "mkv-simpletag.mkv", "mkv-wrapped.mkv", "webm-simpletag.webm",
                                         "flv-onmetadata.flv")},
    **{n: ("mutagen", "TXXX:AIGC") for n in ("mp3-bare.mp3", "mp3-wrapped.mp3", "mp3-securitydata.mp3",
                                            "aiff-bare.aiff")},
    **{n: ("mutagen", "AIGC") for n in ("flac-bare.flac", "ogg-bare.ogg", "opus-bare.opus")},
    "m4a-itunes.m4a": ("mutagen", "----:com.apple.iTunes:AIGC"),
    **{n: ("zipfile", "AIGC") for n in ("docx-custom.docx", "xlsx-custom.xlsx", "pptx-custom.pptx")},
    "pdf-info.pdf": ("pypdf", "/AIGC"),
    **{n: ("yaml", "AIGC") for n in ("md-front-matter.md", "md-alphabetical.md", "md-flow.md",
                                     "md-title-first.md", "md-securitydata.md")},
    "html-meta.html": ("html.parser", "AIGC"),
}


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_expected_fields_match_an_independent_reader(name: str) -> None:
    reader, key = INDEPENDENT[name]
    raw = _READERS[reader](golden.FILES / name, key)
    record = json.loads(raw)
    if set(record) == {"AIGC"}:  # the wrapped form (Annex E b) literal)
        record = record["AIGC"]
    labels = json.loads(golden.expected_path(name).read_text(encoding="utf-8"))["verify"]["labels"]
    assert record in [lab["fields"] for lab in labels], (
        f"{name}: {reader} reads {record}, the expected report holds {[lab['fields'] for lab in labels]}")
