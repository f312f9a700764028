"""Platform upload review: tiers 1/2/3/none, propagation written and read back by exiftool, conflicts.

Every file is real: made with Pillow, marked with aigclabel.mark(), or assembled chunk by chunk with the
conftest writers; exiftool reads what review() wrote.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pytest
from click.testing import CliRunner
from PIL import Image

import aigclabel
from aigclabel.cli.main import cli
from aigclabel.errors import LabelError, ProfileError
from aigclabel.formats import Evidence, FormatHandler, ImplicitLabel, register
from aigclabel.formats._image_meta import found_label
from aigclabel.label import AigcRecord
from aigclabel.platform import DEFAULT_NOTICES, PlatformConfig, Review, load_platform, review
from aigclabel.report import Trace
from conftest import (DST_TRAINED, LEGACY_JSON, PRODUCER, TC260_NS, make_exif, make_jpeg, make_png, png_chunks,
                      png_insert, text_chunk, tool_get, xmp_packet)

PLATFORM = "00119144030008867405X220001"
OTHER_PLATFORM = "00119144030008867405X220002"
CFG = PlatformConfig(code=PLATFORM, detect_explicit="never")
IPTC_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"


def kinds(r: Review) -> list[str]:
    return [e.kind for e in r.evidence]


def detail(r: Review, kind: str) -> str:
    return " | ".join(e.detail for e in r.evidence if e.kind == kind)


def producer_part(record_text: str) -> str:
    """The producer's four fields exactly as serialised: everything before ContentPropagator."""
    return record_text[: record_text.index(',"ContentPropagator"')]


def marked_png(tmp_path: Path, name: str = "marked.png", **fields: str) -> tuple[Path, str]:
    """A PNG labelled by aigclabel.mark(); returns its path and the record text it carries."""
    rec = AigcRecord(label=fields.get("label", "1"), content_producer=PRODUCER,
                     produce_id=fields.get("produce_id", "job-42"),
                     reserved_code1=fields.get("reserved_code1", ""),
                     content_propagator=fields.get("propagator", ""), propagate_id=fields.get("propagate_id", ""),
                     reserved_code2=fields.get("reserved_code2", ""))
    png = make_png(xmp=xmp_packet(record=rec.to_json()))
    path = tmp_path / name
    path.write_bytes(png)
    return path, rec.to_json()


# ------------------------------------------------------------------------------------------ tier 1


def test_tier1_record_propagated_and_read_back_by_exiftool(tmp_path: Path, exiftool: Any) -> None:
    src = tmp_path / "gen.png"
    src.write_bytes(make_png())
    aigclabel.mark(src, tmp_path / "marked.png", producer=PRODUCER, produce_id="job-0042", explicit=False)
    original = aigclabel.inspect(tmp_path / "marked.png").labels[0].raw
    before = (tmp_path / "marked.png").read_bytes()

    r = review(tmp_path / "marked.png", platform=CFG, output=tmp_path / "spread.png")
    assert r.tier == 1 and r.notice == "AI-generated" and r.notices["zh"] == "作品含AI生成内容"
    assert "AIGC record (Label \"1\")" in r.relied_on and "xmp:TC260:AIGC" in r.relied_on
    assert kinds(r)[0] == "aigc-record" and "written" in kinds(r)
    assert r.output == str(tmp_path / "spread.png")
    assert (tmp_path / "marked.png").read_bytes() == before  # -o never touches the input

    tags = exiftool(tmp_path / "spread.png")
    written = tool_get(tags, "XMP-TC260:AIGC")
    assert written == r.record.to_json()  # type: ignore[union-attr]
    assert producer_part(written) == producer_part(original)  # producer's fields byte for byte
    fields = json.loads(written)
    assert list(fields) == ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator",
                            "PropagateID", "ReservedCode2"]
    assert fields["ContentPropagator"] == PLATFORM and len(fields["PropagateID"]) == 32
    # the IPTC source type written by mark() is kept
    assert tool_get(tags, "XMP-iptcExt:DigitalSourceType") == DST_TRAINED
    # the pixels are untouched, and the copy verifies compliant (implicit scope)
    assert Image.open(tmp_path / "spread.png").tobytes() == Image.open(tmp_path / "marked.png").tobytes()
    assert aigclabel.verify(tmp_path / "spread.png", scope="implicit").verdict.value == "compliant"


def test_tier1_jpeg_in_place_keeps_producer_fields(tmp_path: Path, exiftool: Any) -> None:
    rec = AigcRecord(label="1", content_producer=PRODUCER, produce_id="jpeg-7", reserved_code1="sig:0a1b2c")
    path = tmp_path / "photo.jpg"
    # ReservedCode1 holds the producer's security data: a JPEG with its XMP record, EXIF kept
    path.write_bytes(make_jpeg(exif=make_exif(), xmp=xmp_packet(record=rec.to_json())))
    pixels_before = Image.open(path).tobytes()

    r = review(path, platform=CFG, write=True, propagate_id="plat-0001", reserved_code2="psig:ff00")
    assert r.tier == 1 and r.output == str(path)
    written = tool_get(exiftool(path), "XMP-TC260:AIGC")
    assert written == ('{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"jpeg-7",'
                       '"ReservedCode1":"sig:0a1b2c","ContentPropagator":"00119144030008867405X220001",'
                       '"PropagateID":"plat-0001","ReservedCode2":"psig:ff00"}')
    assert producer_part(written) == producer_part(rec.to_json())
    assert Image.open(path).tobytes() == pixels_before

    # the same platform again: its PropagateID and ReservedCode2 are kept, and the file is not rewritten
    mtime = path.stat().st_mtime_ns
    again = review(path, platform=CFG, write=True)
    assert again.record is not None and again.record.propagate_id == "plat-0001"
    assert again.record.reserved_code2 == "psig:ff00"
    assert "already-propagated" in kinds(again) and "unchanged" in kinds(again)
    assert path.stat().st_mtime_ns == mtime


def test_other_platform_fields_replaced_and_security_data_cleared(tmp_path: Path) -> None:
    path, raw = marked_png(tmp_path, propagator=OTHER_PLATFORM, propagate_id="theirs-1", reserved_code2="theirsig")
    r = review(path, platform=CFG)
    assert r.tier == 1 and r.output is None  # nothing asked: the record is what would be written
    assert r.record is not None and r.record.content_propagator == PLATFORM
    assert r.record.propagate_id != "theirs-1" and r.record.reserved_code2 == ""
    assert OTHER_PLATFORM in detail(r, "propagator-replaced") and "cleared" in detail(r, "propagator-replaced")
    assert producer_part(r.record.to_json()) == producer_part(raw)
    assert path.read_bytes() == make_png(xmp=xmp_packet(record=raw))  # untouched


@pytest.mark.parametrize("label, tier, notice", [("2", 2, "may be AI-generated"), ("3", 3, "suspected AI-generated")])
def test_record_label_2_and_3_map_to_their_tier(tmp_path: Path, label: str, tier: int, notice: str) -> None:
    path, raw = marked_png(tmp_path, label=label)
    r = review(path, platform=CFG, declared_ai=True)
    assert r.tier == tier and r.notice == notice
    assert r.record is not None and r.record.label == label and r.record.content_producer == PRODUCER
    assert "declared-ai" in kinds(r) and f'Label "{label}"' in r.relied_on


def test_legacy_2023_record_is_tier1_and_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "old.png"
    path.write_bytes(make_png(text=[("AIGC", '{"AIGC":' + LEGACY_JSON + "}")]))
    r = review(path, platform=CFG, output=tmp_path / "out.png")
    assert r.tier == 1 and "2023-schema" in r.relied_on and "legacy-record" in kinds(r)
    assert r.record is not None and r.record.content_producer == "ExampleAI" and r.record.produce_id == "legacy-0001"
    assert "Time" in detail(r, "assumption")
    (lab,) = aigclabel.inspect(tmp_path / "out.png").labels
    assert json.loads(lab.raw)["ContentPropagator"] == PLATFORM


# ------------------------------------------------------------------------------------------ tier 2


def test_tier2_declared_creates_record(tmp_path: Path, exiftool: Any) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(make_jpeg())
    r = review(path, platform=CFG, declared_ai=True, output=tmp_path / "out.jpg")
    assert r.tier == 2 and r.notice == "may be AI-generated"
    assert "declaration" in r.relied_on
    assert r.record is not None
    assert (r.record.label, r.record.content_producer, r.record.content_propagator) == ("2", "unknown", PLATFORM)
    assert r.record.produce_id == r.record.propagate_id
    assert "'unknown'" in detail(r, "assumption") and "non-empty" in detail(r, "assumption")
    assert tool_get(exiftool(tmp_path / "out.jpg"), "XMP-TC260:AIGC") == r.record.to_json()


# ------------------------------------------------------------------------------------------ tier 3


def test_tier3_stable_diffusion_parameters(tmp_path: Path, exiftool: Any) -> None:
    path = tmp_path / "sd.png"
    path.write_bytes(make_png(text=[("parameters", "a cat, Steps: 20, Sampler: Euler a, Seed: 1")]))
    r = review(path, platform=CFG, output=tmp_path / "out.png")
    assert r.tier == 3 and r.notice == "suspected AI-generated"
    assert r.relied_on == "traces of AI generation: generator-metadata"
    assert "Stable Diffusion" in detail(r, "generator-metadata")
    tags = exiftool(tmp_path / "out.png")
    assert json.loads(tool_get(tags, "XMP-TC260:AIGC"))["Label"] == "3"
    assert "a cat" in json.dumps(tags)  # the parameters chunk is kept


def test_tier3_comfyui_and_exif_software(tmp_path: Path) -> None:
    comfy = tmp_path / "comfy.png"
    comfy.write_bytes(make_png(text=[("prompt", '{"3": {"class_type": "KSampler"}}'), ("workflow", "{}")]))
    r = review(comfy, platform=CFG)
    assert r.tier == 3 and "ComfyUI" in detail(r, "generator-metadata")
    jpg = tmp_path / "mj.jpg"
    jpg.write_bytes(make_jpeg(exif=make_exif(software="Midjourney v6")))
    r = review(jpg, platform=CFG)
    assert r.tier == 3 and "Midjourney" in detail(r, "generator-metadata")


def test_tier3_iptc_source_type_only_when_it_names_ai(tmp_path: Path) -> None:
    def with_dst(uri: str) -> Path:
        path = tmp_path / f"{uri.rsplit('/', 1)[-1]}.png"
        path.write_bytes(make_png(xmp=xmp_packet(
            extra_ns=f'\n    xmlns:Iptc4xmpExt="{IPTC_NS}"',
            extra_elements=f"   <Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>\n")))
        return path

    r = review(with_dst(DST_TRAINED), platform=CFG)
    assert r.tier == 3 and r.relied_on.endswith("iptc-digital-source-type")
    photo = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    r = review(with_dst(photo), platform=CFG)
    assert r.tier is None and "not an AI-generation value" in detail(r, "iptc-digital-source-type")


def test_tier3_visible_label_found_by_ocr(tmp_path: Path) -> None:
    from aigclabel.explicit import ocr

    if not ocr.available():
        pytest.skip("OCR is not installed (pip install 'aigclabel[ocr]')")
    src = tmp_path / "gen.png"
    Image.new("RGB", (400, 300), (200, 205, 230)).save(src)
    aigclabel.mark(src, tmp_path / "labelled.png", producer=PRODUCER)  # visible label + record
    im = Image.open(tmp_path / "labelled.png")
    stripped = tmp_path / "stripped.png"
    Image.frombytes(im.mode, im.size, im.tobytes()).save(stripped)  # pixels only: no metadata at all
    assert aigclabel.inspect(stripped).labels == []

    r = review(stripped, platform=PlatformConfig(code=PLATFORM))  # detect_explicit="auto"
    assert r.tier == 3 and r.relied_on == "an explicit (perceivable) label found in the content"
    assert "AI生成" in detail(r, "explicit-label")
    # never: metadata only
    assert review(stripped, platform=CFG).tier is None
    # a plain picture: the check ran and found nothing
    r = review(src, platform=PlatformConfig(code=PLATFORM))
    assert r.tier is None and r.notice is None and r.record is None and "explicit-checked" in kinds(r)


def test_tier3_morse_rhythm_prompt_in_audio(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    import numpy as np

    src = tmp_path / "speech.wav"
    rate = 16000
    t = np.arange(int(rate * 3.0)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((tone * 32767).astype("<i2").tobytes())
    marked = tmp_path / "marked.wav"
    aigclabel.mark(src, marked, producer=PRODUCER)  # Morse "AI" at the start + the AIGC chunk
    with wave.open(str(marked), "rb") as rd:  # copy the samples only: no AIGC chunk
        params, frames = rd.getparams(), rd.readframes(rd.getnframes())
    stripped = tmp_path / "stripped.wav"
    with wave.open(str(stripped), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    assert aigclabel.inspect(stripped).labels == []
    r = review(stripped, platform=PlatformConfig(code=PLATFORM))
    assert r.tier == 3 and "explicit.audio" in detail(r, "explicit-label")
    assert review(src, platform=PlatformConfig(code=PLATFORM)).tier is None


def test_no_tier_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(make_png())
    r = review(path, platform=CFG, output=tmp_path / "out.png")
    assert (r.tier, r.notice, r.record, r.output, r.write_refused) == (None, None, None, None, None)
    assert r.relied_on.startswith("nothing") and not (tmp_path / "out.png").exists()
    assert r.to_dict()["tier"] is None


# ------------------------------------------------------------------------------------------ bad records


def test_conflicting_records_are_evidence_and_block_writing(tmp_path: Path) -> None:
    rec_a = AigcRecord(label="1", content_producer=PRODUCER, produce_id="A").to_json()
    rec_b = AigcRecord(label="3", content_producer=PRODUCER, produce_id="B").to_json()
    data = png_insert(make_png(xmp=xmp_packet(record=rec_a)), [text_chunk("AIGC", rec_b)])
    path = tmp_path / "two.png"
    path.write_bytes(data)
    r = review(path, platform=CFG, write=True)
    assert r.tier == 1 and "normative carrier" in r.relied_on  # the XMP copy decides the tier
    assert "Label, ProduceID" in detail(r, "conflicting-records")
    assert r.record is None and r.output is None and "disagree" in (r.write_refused or "")
    assert r.exit_code == 1 and path.read_bytes() == data


def test_same_record_twice_is_a_duplicate_not_a_conflict(tmp_path: Path) -> None:
    rec = AigcRecord(label="1", content_producer=PRODUCER, produce_id="A").to_json()
    path = tmp_path / "dup.png"
    path.write_bytes(png_insert(make_png(xmp=xmp_packet(record=rec)), [text_chunk("AIGC", rec)]))
    r = review(path, platform=CFG, output=tmp_path / "out.png")
    assert r.tier == 1 and "duplicate-record" in kinds(r) and r.output
    assert len(aigclabel.inspect(tmp_path / "out.png").labels) == 1


@pytest.mark.parametrize("text, needle", [
    ('{"Label":"1","ContentProducer":', "not valid JSON"),
    ('{"Label":"7","ContentProducer":"P","ProduceID":"x","ReservedCode1":"","ContentPropagator":"",'
     '"PropagateID":"","ReservedCode2":""}', "Label is '7'"),
])
def test_malformed_record_is_evidence_never_a_crash(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(make_png(itext=[("AIGC", text)]))
    r = review(path, platform=CFG, write=True)
    assert needle in detail(r, "malformed-record")
    assert r.tier == 3 and "malformed-record" in r.relied_on  # someone meant to label it
    assert r.write_refused and "Art. 10" in r.write_refused and r.record is None
    assert review(path, platform=CFG, declared_ai=True).tier == 2
    fixed = review(path, platform=PlatformConfig(code=PLATFORM, detect_explicit="never", replace_malformed=True),
                   output=tmp_path / "out.png")
    assert fixed.output and fixed.record is not None and fixed.record.label == "3"


def test_non_ascii_producer_is_tier_1_but_not_propagated(tmp_path: Path) -> None:
    """A non-ASCII value is a warning (Annex E j): "mainly" those characters), so the record decides the tier;
    the writer does not write such a value, and the producer's fields are never altered: the write is refused."""
    text = AigcRecord(label="1", content_producer="某公司", produce_id="x").to_json().replace(
        "\\u67d0\\u516c\\u53f8", "某公司")
    path = tmp_path / "cn.png"
    path.write_bytes(make_png(itext=[("AIGC", text)]))
    before = path.read_bytes()
    r = review(path, platform=CFG, write=True)
    assert r.tier == 1 and "valid GB 45438 record" in detail(r, "aigc-record")
    assert r.write_refused and "cannot be propagated as read" in r.write_refused and r.record is None
    assert "ContentProducer contains" in r.write_refused and path.read_bytes() == before


def test_unreadable_files_raise_input_errors(tmp_path: Path) -> None:
    bad = tmp_path / "cut.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(aigclabel.CorruptFile):
        review(bad, platform=CFG)
    with pytest.raises(aigclabel.SourceError):
        review(tmp_path / "missing.png", platform=CFG)
    with pytest.raises(LabelError):
        review(marked_png(tmp_path)[0], platform=CFG, propagate_id="has space")


# ------------------------------------------------------------------------------------------ C2PA


class _C2paTestHandler(FormatHandler):
    """A tiny container for the C2PA policy: magic, a manifest flag byte, then the record.

    It stands in for the real C2PA reader (another module) through the public ``register`` hook;
    what matters here is only that the evidence carries a ``c2pa-manifest`` trace.
    """

    name = "c2patest"
    kind = "image"
    mime = "application/x-c2patest"
    extensions: ClassVar[tuple[str, ...]] = (".c2pt",)
    normative_carrier = "record"
    can_write = True
    MAGIC = b"C2PATEST"

    @classmethod
    def score(cls, head: bytes) -> int:
        return 100 if head.startswith(cls.MAGIC) else 0

    def read(self, src: Any) -> Evidence:
        src.seek(0)
        data = src.read()
        ev = Evidence(self.name, self.kind)
        if data[8:9] == b"M":
            ev.traces.append(Trace("c2pa-manifest", f"c2pa.created, digitalSourceType {DST_TRAINED}", "manifest"))
        if len(data) > 9:
            ev.labels.append(found_label("record", "after the header", data[9:].decode(), normative=True))
        return ev

    def write_metadata(self, src: Any, dst: BinaryIO, label: ImplicitLabel) -> None:
        src.seek(0)
        dst.write(src.read(9) + label.record_json.encode())


register(_C2paTestHandler)


def test_c2pa_manifest_not_silently_invalidated(tmp_path: Path) -> None:
    path = tmp_path / "signed.c2pt"
    path.write_bytes(b"C2PATESTM")
    r = review(path, platform=CFG, write=True)
    assert r.tier == 3 and "c2pa-manifest" in r.relied_on
    assert "hard binding" in detail(r, "c2pa-hard-binding") and r.write_refused and r.output is None
    assert path.read_bytes() == b"C2PATESTM"  # in place: refused
    r = review(path, platform=CFG, output=tmp_path / "copy.c2pt")
    assert r.output and r.write_refused is None and "new file" in detail(r, "c2pa-hard-binding")
    assert path.read_bytes() == b"C2PATESTM"
    assert json.loads((tmp_path / "copy.c2pt").read_bytes()[9:])["Label"] == "3"
    unsigned = tmp_path / "plain.c2pt"
    unsigned.write_bytes(b"C2PATEST-")
    assert review(unsigned, platform=CFG).tier is None


def test_real_c2pa_signed_file(tmp_path: Path) -> None:
    """A PNG signed by aigclabel's own C2PA step (development keys): tier 3 from the manifest's
    digitalSourceType, in-place write refused, a copy written only when asked, with the warning."""
    pytest.importorskip("c2pa", reason="c2pa-python is not installed: pip install 'aigclabel[c2pa]'")
    from aigclabel.c2pa import C2paOptions
    from aigclabel.keys import init_keys
    from aigclabel.marking import mark_file

    keys = init_keys(tmp_path / "keys")
    signed = tmp_path / "signed.png"
    mark_file(make_png(), signed, producer=PRODUCER, produce_id="c2pa-1", explicit=False,
              c2pa=C2paOptions(sign_cert=keys.chain, sign_key=keys.key))
    before = signed.read_bytes()
    r = review(signed, platform=CFG, write=True)
    assert r.tier == 1  # the AIGC record signed inside the manifest still decides
    assert "c2pa-manifest" in kinds(r) and "hard binding" in detail(r, "c2pa-hard-binding")
    assert r.write_refused and r.output is None and signed.read_bytes() == before
    r = review(signed, platform=CFG, output=tmp_path / "copy.png")
    assert r.output and "new file" in detail(r, "c2pa-hard-binding") and signed.read_bytes() == before
    assert json.loads(aigclabel.inspect(tmp_path / "copy.png").labels[0].raw)["ContentPropagator"] == PLATFORM


# ------------------------------------------------------------------------------------------ config


def test_platform_profile_from_toml(tmp_path: Path) -> None:
    toml = tmp_path / "platform.toml"
    toml.write_text(f'code = "{PLATFORM}"\nname = "Example"\nlanguage = "zh"\ndetect_explicit = "never"\n'
                    '[notices.zh]\ntier3 = "疑似AI生成"\n', encoding="utf-8")
    cfg = load_platform(toml)
    assert cfg.language == "zh" and cfg.notices["zh"][3] == "疑似AI生成"
    assert cfg.notices["zh"][1] == DEFAULT_NOTICES["zh"][1] and cfg.notices["en"] == DEFAULT_NOTICES["en"]
    path = tmp_path / "sd.png"
    path.write_bytes(make_png(text=[("parameters", "x, Steps: 1")]))
    r = review(path, platform=cfg)
    assert r.notice == "疑似AI生成" and r.notices["en"] == "suspected AI-generated"
    assert load_platform(toml, code=OTHER_PLATFORM).code == OTHER_PLATFORM
    bad = tmp_path / "bad.toml"
    bad.write_text(f'code = "{PLATFORM}"\ncolour = "red"\n')
    with pytest.raises(ProfileError, match="colour"):
        load_platform(bad)
    with pytest.raises(LabelError):
        PlatformConfig(code="平台")
    with pytest.raises(ProfileError):
        PlatformConfig(code=PLATFORM, language="fr")
    assert PlatformConfig(code=PLATFORM).code_warnings() == []
    assert PlatformConfig(code="myplatform").code_warnings()


# ------------------------------------------------------------------------------------------ CLI


def test_cli_review_json_contract(tmp_path: Path) -> None:
    marked, _ = marked_png(tmp_path)
    plain = tmp_path / "plain.png"
    plain.write_bytes(make_png())
    sd = tmp_path / "sd.png"
    sd.write_bytes(make_png(text=[("parameters", "x, Steps: 1")]))
    runner = CliRunner()
    res = runner.invoke(cli, ["review", str(marked), str(plain), str(sd), "--platform-code", PLATFORM,
                              "--declared-ai", "--json", "--detect-explicit", "never"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [o["tier"] for o in out] == [1, 2, 2]
    for obj in out:
        assert {"path", "tier", "notice", "evidence", "record"} <= set(obj)
        assert all(set(e) == {"kind", "detail"} for e in obj["evidence"])
        assert list(obj["record"]) == ["Label", "ContentProducer", "ProduceID", "ReservedCode1",
                                       "ContentPropagator", "PropagateID", "ReservedCode2"]
    res = runner.invoke(cli, ["review", str(plain), "--platform-code", PLATFORM, "--json",
                              "--detect-explicit", "never"])
    assert json.loads(res.stdout)[0]["record"] is None and json.loads(res.stdout)[0]["tier"] is None


def test_cli_review_write_output_and_errors(tmp_path: Path) -> None:
    marked, raw = marked_png(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["review", str(marked), "--platform-code", PLATFORM, "-o", str(tmp_path / "o.png"),
                              "--propagate-id", "pid-1"])
    assert res.exit_code == 0, res.output
    assert "tier 1" in res.stdout and "AI-generated" in res.stdout
    (lab,) = aigclabel.inspect(tmp_path / "o.png").labels
    assert json.loads(lab.raw)["PropagateID"] == "pid-1"
    res = runner.invoke(cli, ["review", str(marked), "--platform-code", PLATFORM, "--write", "--language", "zh"])
    assert res.exit_code == 0 and "作品含AI生成内容" in res.stdout
    assert json.loads(aigclabel.inspect(marked).labels[0].raw)["ContentPropagator"] == PLATFORM
    # usage errors: exit 2
    res = runner.invoke(cli, ["review", str(marked)])
    assert res.exit_code == 2 and "--platform-code" in res.stderr
    res = runner.invoke(cli, ["review", str(marked), str(marked), "--platform-code", PLATFORM, "--propagate-id", "x"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["review", str(marked), "--platform-code", PLATFORM, "--write", "-o", "x.png"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["review", str(marked), "--platform-code", "has space"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    # a refused write: exit 1; an unreadable file: exit 3, one line
    two = tmp_path / "two.png"
    two.write_bytes(png_insert(make_png(xmp=xmp_packet(record=raw)),
                               [text_chunk("AIGC", raw.replace("job-42", "job-43"))]))
    res = runner.invoke(cli, ["review", str(two), "--platform-code", PLATFORM, "--write"])
    assert res.exit_code == 1 and "conflicting-records" in res.stdout
    cut = tmp_path / "cut.png"
    cut.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    res = runner.invoke(cli, ["review", str(cut), "--platform-code", PLATFORM])
    assert res.exit_code == 3 and len(res.stderr.strip().splitlines()) == 1 and str(cut) in res.stderr


def test_png_chunks_of_written_copy_are_in_order(tmp_path: Path) -> None:
    """The propagated copy keeps the record before IDAT (the header), as Annex E's readers expect."""
    path, _ = marked_png(tmp_path)
    review(path, platform=CFG, output=tmp_path / "o.png")
    types = [c.type for c in png_chunks((tmp_path / "o.png").read_bytes())]
    assert types.index(b"iTXt") < types.index(b"IDAT")
    assert TC260_NS.encode() in (tmp_path / "o.png").read_bytes()
