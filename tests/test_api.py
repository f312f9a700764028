"""The library facade: mark/verify/inspect on paths, bytes and file objects; verdicts; __all__."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

import aigclabel
from aigclabel import Level, Verdict
from aigclabel.report import Finding, Report

PRODUCER = "001191110102MACQD9K64010000"


def jpeg_bytes(size: tuple[int, int] = (80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bytes(size: tuple[int, int] = (80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", size, (10, 120, 200, 128)).save(buf, "PNG")
    return buf.getvalue()


def _module_public_names() -> set[str]:
    """What the package really defines: its module-level names (not ``dir()``, which returns ``__all__``),
    plus the lazily loaded ones, minus submodules and the ``__future__`` import."""
    import types

    names = {n for n, v in vars(aigclabel).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    names |= set(aigclabel._LAZY)
    return names - {"annotations", "TYPE_CHECKING", "Any"}


def test_all_is_complete() -> None:
    # every public name is exported, and everything exported exists
    assert _module_public_names() == set(aigclabel.__all__) - {"__version__"}
    for name in aigclabel.__all__:
        assert getattr(aigclabel, name) is not None


def test_lazy_names_are_visible_to_type_checkers() -> None:
    """Each lazily loaded name is also imported under TYPE_CHECKING, from the module that defines it."""
    import ast
    import inspect as pyinspect

    tree = ast.parse(pyinspect.getsource(aigclabel))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                for alias in imp.names:
                    typed[alias.name] = (imp.module or "").lstrip(".")
    assert typed == aigclabel._LAZY


@pytest.mark.parametrize("make", [jpeg_bytes, png_bytes])
def test_bytes_in_bytes_out(make) -> None:  # type: ignore[no-untyped-def]
    src = make((400, 300))
    out = aigclabel.mark(src, producer=PRODUCER, produce_id="job-1")
    assert isinstance(out, bytes) and out != src
    report = aigclabel.verify(out, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    (label,) = report.labels
    assert label.fields == {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "job-1", "ReservedCode1": "",
                            "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}
    # the visible label was drawn, and OCR (the [ocr] extra) finds it: compliant on both scopes
    full = aigclabel.verify(out)
    assert full.verdict is Verdict.COMPLIANT, [f.message for f in full.findings]
    (explicit,) = [f for f in full.findings if f.rule == "explicit.image"]
    assert explicit.level is Level.PASS and explicit.clause.startswith("Measures Art. 4")


def test_waived_explicit_label_leaves_the_full_verdict_noncompliant() -> None:
    out = aigclabel.mark(png_bytes((400, 300)), producer=PRODUCER, explicit=False)
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT
    full = aigclabel.verify(out)
    assert full.verdict is Verdict.NONCOMPLIANT
    assert [f.level for f in full.findings if f.rule == "explicit.image"] == [Level.ERROR]


def test_file_object_and_path(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_bytes())
    with open(src, "rb") as fh:
        out = aigclabel.mark(fh, producer=PRODUCER, explicit=False)
    assert aigclabel.verify(io.BytesIO(out), scope="implicit").ok
    result = aigclabel.mark(src, tmp_path / "out.jpg", producer=PRODUCER)
    assert result.destination == str(tmp_path / "out.jpg") and result.format == "jpeg"
    assert json.loads(result.record_json)["ContentProducer"] == PRODUCER
    assert result.explicit == "added" and result.explicit_details["height_ratio"] >= 0.05
    assert aigclabel.verify(tmp_path / "out.jpg", scope="implicit").ok


def test_fresh_produce_ids_are_unique() -> None:
    src = png_bytes()
    ids = {aigclabel.inspect(aigclabel.mark(src, producer=PRODUCER, explicit=False)).labels[0].fields["ProduceID"]
           for _ in range(5)}
    assert len(ids) == 5


def test_explicit_waiver_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes())
    res = aigclabel.mark_file(tmp_path / "a.png", tmp_path / "b.png", producer=PRODUCER, explicit=False)
    assert res.explicit == "waived" and "Art. 9" in res.notes[0]
    assert res.audit_record()["event"] == "explicit-label-waived"


def test_in_place_rewrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes())
    path.chmod(0o640)
    aigclabel.mark_file(path, producer=PRODUCER, in_place=True)
    assert aigclabel.verify(path, scope="implicit").ok
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_wording_is_checked_before_drawing() -> None:
    with pytest.raises(aigclabel.LabelError, match="generation element"):
        aigclabel.mark(png_bytes(), producer=PRODUCER, text="由AI提供")


def test_format_without_a_visible_marker_says_not_added(tmp_path: Path) -> None:
    heic = pytest.importorskip("pillow_heif", reason="HEIF needs the [heif] extra (pip install aigclabel[heif])")
    heic.register_heif_opener()
    path = tmp_path / "a.heic"
    Image.new("RGB", (64, 48), (9, 9, 9)).save(path, format="HEIF")
    result = aigclabel.mark_file(path, tmp_path / "b.heic", producer=PRODUCER)
    assert result.explicit == "not-added" and "NOT added" in result.notes[0]
    assert aigclabel.verify(tmp_path / "b.heic", scope="implicit").ok


def test_bad_producer_is_a_label_error() -> None:
    with pytest.raises(aigclabel.LabelError, match="ContentProducer"):
        aigclabel.mark(png_bytes(), producer="字节跳动")


def test_legacy_profile_writes_the_2023_form(tmp_path: Path) -> None:
    prof = tmp_path / "legacy.toml"
    prof.write_text('id = "legacy-writer"\nextends = "cn-gb45438-2025"\n[marking]\nschema = "tc260-2023"\n')
    out = aigclabel.mark(png_bytes(), producer="ExampleAI", produce_id="c-1", profile=prof, explicit=False)
    (label,) = aigclabel.inspect(out).labels
    assert label.parsed.schema == "tc260-2023" and label.fields["ContentID"] == "c-1"
    report = aigclabel.verify(out, scope="implicit")  # default profile: legacy is a breach
    assert report.verdict is Verdict.NONCOMPLIANT
    assert any(f.rule == "implicit.schema" and f.level is Level.ERROR for f in report.findings)


def test_verdict_policy() -> None:
    r = Report(path="x", format="png", profile="p")
    assert r.verdict is Verdict.COMPLIANT and r.exit_code == 0
    r.findings.append(Finding("a", Level.NOT_CHECKED, "m", required=False))
    assert r.verdict is Verdict.COMPLIANT
    r.findings.append(Finding("b", Level.NOT_CHECKED, "m", required=True))
    assert r.verdict is Verdict.INCONCLUSIVE and r.exit_code == 3
    r.findings.append(Finding("c", Level.ERROR, "m"))
    assert r.verdict is Verdict.NONCOMPLIANT and r.exit_code == 1


def test_unlabelled_file_is_noncompliant_not_an_exception() -> None:
    report = aigclabel.verify(jpeg_bytes(), scope="implicit")
    assert report.verdict is Verdict.NONCOMPLIANT
    (f,) = [f for f in report.findings if f.rule == "implicit.record-present"]
    assert f.level is Level.ERROR and "no AIGC record" in f.message and f.clause


def test_profile_level_downgrades_a_breach(tmp_path: Path) -> None:
    prof = tmp_path / "lenient.toml"
    prof.write_text('id = "lenient"\nextends = "cn-gb45438-2025"\n'
                    '[rules."implicit.record-present"]\nlevel = "warning"\n')
    report = aigclabel.verify(jpeg_bytes(), profile=prof, scope="implicit")
    (f,) = [f for f in report.findings if f.rule == "implicit.record-present"]
    assert f.level is Level.WARNING and report.verdict is Verdict.COMPLIANT


def test_scope_filters_rules() -> None:
    out = aigclabel.mark(png_bytes(), producer=PRODUCER, explicit=False)
    assert {f.rule.split(".")[0] for f in aigclabel.verify(out, scope="implicit").findings} == {"implicit"}
    assert {f.rule for f in aigclabel.verify(out, scope="explicit").findings} == {"explicit.image"}
    with pytest.raises(ValueError):
        aigclabel.verify(out, scope="everything")


def test_non_binary_stream_is_a_source_error() -> None:
    with pytest.raises(aigclabel.SourceError, match="binary"):
        aigclabel.verify(io.StringIO("hello"))
