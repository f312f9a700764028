"""`diff` (issue 17, item 2): what a transform did to every label and trace, with the shared Finding model.

The transforms are run by the third-party tools (Pillow, ffmpeg, qpdf, exiftool); what they lose is checked
against an independent reader before it is checked against the diff.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

import aigclabel
from aigclabel.diffing import diff_pipeline, run_pipeline
from aigclabel.errors import OptionError, UnsupportedOperation
from aigclabel.formats import ImplicitLabel
from aigclabel.label import AigcRecord
from aigclabel.reading import open_handler, write_implicit
from aigclabel.report import Level


def _load_media() -> Any:
    spec = importlib.util.spec_from_file_location("_transform_media", Path(__file__).with_name("_transform_media.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


media = _load_media()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("diff")


@pytest.fixture(scope="module")
def originals(work: Path) -> dict[str, tuple[Path, str]]:
    return media.originals(work / "originals")


def _derive(originals: dict[str, tuple[Path, str]], work: Path, name: str) -> tuple[Path, Path]:
    key, ext, transform, _kept, _iptc = media.TRANSFORMS[name]
    original, _record = originals[key]
    derived = work / f"{name}.{ext}"
    if not derived.exists():
        transform(original, derived)
    return original, derived


def _rewrite(src: Path, dst: Path, **changes: str) -> None:
    """*src*'s record with some fields changed, written by aigclabel's metadata step (a propagator's edit)."""
    (lab,) = aigclabel.inspect(src).labels
    fields = {**(lab.fields or {}), **changes}
    with open_handler(src) as (reader, handler), open(dst, "w+b") as out:
        write_implicit(handler, reader, out, ImplicitLabel(AigcRecord.from_fields(fields).to_json(), None))


# ------------------------------------------------------------------------- each transform, before and after carry

#: what each transform loses, as diff rule ids (images also lose the IPTC source type)
EXPECTED_LOSS = {
    "pillow-webp": {"diff.record-removed", "diff.iptc-lost"},
    "pillow-avif": {"diff.record-removed", "diff.iptc-lost"},
    "pillow-png": {"diff.record-removed", "diff.iptc-lost"},
    "ffmpeg-reencode-mp4": {"diff.record-removed"},
    "ffmpeg-mkv": set(),
    "ffmpeg-mkv-no-metadata": {"diff.record-removed"},
    "ffmpeg-webm": set(),
    "ffmpeg-mp3-wav": {"diff.record-removed"},
    "qpdf-rewrite": set(),
    "qpdf-pages": {"diff.record-removed", "diff.iptc-lost"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_LOSS))
def test_diff_before_and_after_carry(originals: dict[str, tuple[Path, str]], work: Path, name: str) -> None:
    original, derived = _derive(originals, work, name)
    record = originals[media.TRANSFORMS[name][0]][1]
    seen = media.record_seen_by_independent_reader(derived)
    lost = EXPECTED_LOSS[name]
    assert ("diff.record-removed" in lost) is (seen != record)  # the independent reader agrees with the table

    before = aigclabel.diff(original, derived)
    assert {f.rule for f in before.lost} == lost
    assert before.exit_code == (1 if lost else 0) and before.verdict == ("lost" if lost else "kept")
    if not lost:
        assert "diff.record-kept" in before.rules

    carried = work / f"diff-carried-{name}{derived.suffix}"
    aigclabel.carry(original, derived, carried)
    after = aigclabel.diff(original, carried)
    assert after.lost == [] and after.exit_code == 0, [f.message for f in after.findings]
    assert "diff.record-kept" in after.rules
    if "diff.iptc-lost" in lost and derived.suffix != ".pdf":
        assert "diff.iptc-kept" in after.rules  # the IPTC source type came back with the record


# ------------------------------------------------------------------------- what a propagator may and may not do


def test_propagation_added_is_info_and_producer_change_is_a_breach(originals: dict[str, tuple[Path, str]],
                                                                     work: Path) -> None:
    original, _ = originals["mp4"]
    spread, altered, replaced, dropped = (work / f"{n}.mp4" for n in ("spread", "altered", "replaced", "dropped"))
    _rewrite(original, spread, ContentPropagator=media.PLATFORM, PropagateID="p-0001")
    _rewrite(spread, altered, Label="2", ProduceID="rewritten-0001")
    _rewrite(spread, replaced, ContentPropagator="00119144030008867405X220002", PropagateID="p-0002")
    _rewrite(spread, dropped, ContentPropagator="", PropagateID="")
    assert media.ffprobe_tags(spread)["AIGC"] != media.ffprobe_tags(original)["AIGC"]

    added = aigclabel.diff(original, spread)
    assert [(f.rule, f.level) for f in added.findings] == [("diff.propagation-added", Level.INFO)]
    assert added.exit_code == 0 and media.PLATFORM in added.findings[0].message

    breach = aigclabel.diff(spread, altered)
    (finding,) = breach.by_rule("diff.producer-altered")
    assert finding.level is Level.ERROR and breach.exit_code == 1
    assert "Label '1' -> '2'" in finding.message and "ProduceID" in finding.message
    assert "ContentProducer" not in finding.message and finding.clause == "Measures Art. 10"

    rewritten = aigclabel.diff(spread, replaced)
    assert [(f.rule, f.level) for f in rewritten.findings] == [("diff.fields-rewritten", Level.WARNING)]
    assert "ContentPropagator" in rewritten.findings[0].message and rewritten.exit_code == 0

    removed = aigclabel.diff(spread, dropped)
    assert removed.by_rule("diff.propagation-removed")[0].level is Level.ERROR and removed.exit_code == 1


def test_c2pa_removed_and_invalidated_with_the_sdks_reason(originals: dict[str, tuple[Path, str]], work: Path,
                                                           tmp_path: Path) -> None:
    pytest.importorskip("c2pa")
    from aigclabel.c2pa import C2paOptions
    from aigclabel.keys import init_keys
    from aigclabel.marking import mark_file

    keys = init_keys(tmp_path / "keys")
    signed = work / "signed.jpg"
    mark_file(work / "originals" / "raw.jpg", signed, producer=media.PRODUCER, explicit=False, overwrite=True,
              c2pa=C2paOptions(sign_cert=keys.chain, sign_key=keys.key))
    resaved, tagged = work / "signed-resaved.webp", work / "signed-tagged.jpg"
    media.TRANSFORMS["pillow-webp"][2](signed, resaved)
    tagged.write_bytes(signed.read_bytes())
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Artist=Someone", str(tagged)], check=True, timeout=60)

    gone = aigclabel.diff(signed, resaved)
    assert {"diff.c2pa-removed", "diff.record-removed", "diff.iptc-lost"} <= set(gone.rules)
    broken = aigclabel.diff(signed, tagged)
    (finding,) = broken.by_rule("diff.c2pa-invalidated")
    assert "assertion.dataHash.mismatch" in finding.message  # the SDK's failure code, verbatim
    assert "diff.record-kept" in broken.rules and broken.exit_code == 1
    same = aigclabel.diff(signed, signed)
    assert same.by_rule("diff.c2pa-kept")[0].level is Level.PASS and same.exit_code == 0


def test_other_traces_and_added_records(work: Path) -> None:
    """A generator's PNG parameters chunk is lost on a JPEG resave (a warning: a trace, not a label)."""
    src = work / "generated.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat, Steps: 20, Sampler: Euler a, Model: sd_xl_base_1.0")
    Image.new("RGB", (32, 32), (40, 90, 160)).save(src, "PNG", pnginfo=info)
    out = work / "generated.jpg"
    Image.open(src).convert("RGB").save(out, "JPEG")
    result = aigclabel.diff(src, out)
    assert [(f.rule, f.level) for f in result.findings] == [("diff.trace-lost", Level.WARNING)]
    assert result.exit_code == 0
    labelled = work / "generated-labelled.png"
    media.label(src, labelled)
    added = aigclabel.diff(src, labelled)
    assert "diff.record-added" in added.rules and added.exit_code == 0


def test_explicit_label_cropped_out(work: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    from aigclabel.marking import mark_file

    raw = work / "visible-raw.jpg"
    Image.radial_gradient("L").convert("RGB").resize((320, 240)).save(raw, quality=90)
    visible = work / "visible.jpg"
    mark_file(raw, visible, producer=media.PRODUCER, overwrite=True)  # the bottom-right "AI生成" label
    cropped = work / "visible-cropped.jpg"
    with Image.open(visible) as im:
        im.crop((0, 0, 320, 180)).save(cropped, quality=90)  # a banner crop cuts the bottom off
    result = aigclabel.diff(visible, cropped, explicit=True)
    (finding,) = result.by_rule("diff.explicit-lost")
    assert finding.level is Level.ERROR and "cropped out or shrunk" in finding.message
    kept = aigclabel.diff(visible, visible, explicit=True)
    assert kept.by_rule("diff.explicit-kept") and kept.exit_code == 0


# ------------------------------------------------------------------------- --pipeline


_RESAVE = f"{sys.executable} -c \"import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2])\""


def test_pipeline_runs_the_users_transform(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, _ = originals["jpg"]
    result = diff_pipeline(original, f"{_RESAVE} {{in}} {{out}}", suffix=".png")
    assert {f.rule for f in result.lost} == {"diff.record-removed", "diff.iptc-lost"}
    assert result.after_format == "png" and result.pipeline is not None and result.pipeline[-1].endswith(".png")
    kept_out = work / "pipeline-exiftool.jpg"
    kept = diff_pipeline(original, "exiftool -q -Artist=Someone -o {out} {in}", after=kept_out)
    assert kept.exit_code == 0 and kept_out.exists() and media.exiftool_json(kept_out)["IFD0:Artist"] == "Someone"
    with pytest.raises(OptionError, match=r"\{in\} and \{out\}"):
        run_pipeline("cp {in} elsewhere", original, work / "x.jpg")
    with pytest.raises(UnsupportedOperation, match="failed \\(exit 1\\)"):
        run_pipeline("false {in} {out}", original, work / "x.jpg")
    with pytest.raises(UnsupportedOperation, match="timed out"):
        run_pipeline(f"{sys.executable} -c 'import time; time.sleep(5)' {{in}} {{out}}", original, work / "x.jpg",
                     timeout=0.2)
    with pytest.raises(UnsupportedOperation, match="not found"):
        run_pipeline("no-such-tool-aigclabel {in} {out}", original, work / "x.jpg")


# ------------------------------------------------------------------------- the installed command


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["aigclabel", *args], capture_output=True, text=True, timeout=120)


def test_cli_diff_exit_codes_and_json(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, derived = _derive(originals, work, "ffmpeg-reencode-mp4")
    lost = _cli("diff", str(original), str(derived), "--json")
    assert lost.returncode == 1, lost.stderr
    obj = json.loads(lost.stdout)
    assert obj["verdict"] == "lost" and [f["rule"] for f in obj["findings"]] == ["diff.record-removed"]
    assert set(obj["findings"][0]) >= {"rule", "level", "clause", "message", "expected", "actual"}
    same = _cli("diff", str(original), str(original))
    assert same.returncode == 0 and "NOTHING LOST" in same.stdout and "diff.record-kept" in same.stdout
    piped = _cli("diff", str(originals["jpg"][0]), "--pipeline", f"{_RESAVE} {{in}} {{out}}", "--suffix", "webp")
    assert piped.returncode == 1 and "diff.record-removed" in piped.stdout
    assert _cli("diff", str(original)).returncode == 2
    missing = _cli("diff", str(original), str(work / "no-such.mp4"))
    assert missing.returncode == 3 and "no such file" in missing.stderr
    failed = _cli("diff", str(original), "--pipeline", "false {in} {out}")
    assert failed.returncode == 3 and "pipeline command failed" in failed.stderr
