"""AI traces a platform must not miss (issue 13): generation parameters in EXIF, Fooocus PNGs, C2PA
provenance that names AI only in an ingredient or an edit, the C2PA 2.4 ``c2pa.ai-disclosure``
assertion, the real failure code of an Invalid manifest, and C2PA-signed AVI.

Every file is real.  EXIF is written by Pillow the way the A1111 web UI's piexif writes it (and by
exiftool), and exiftool reads the same text back; C2PA manifests -- parents, children that only
open them, tampered ingredients -- are signed with the installed c2pa-python SDK and a development CA,
and the SDK's own Reader (and exiftool's CBOR dump) is the independent reader of what we sign.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from PIL import Image

import aigclabel
from aigclabel import c2pa as prov
from aigclabel.keys import DevKeys, init_keys
from aigclabel.marking import mark_file
from aigclabel.platform import PlatformConfig, Review, review
from aigclabel.report import Level, Verdict
from conftest import DST_TRAINED, PRODUCER, make_jpeg, make_png

try:
    import c2pa as c2pa_sdk
except ImportError:  # the EXIF and PNG tests run without it
    c2pa_sdk = None

PLATFORM = "00119144030008867405X220001"
CFG = PlatformConfig(code=PLATFORM, detect_explicit="never")
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
COMPOSITE_AI = IPTC + "compositeWithTrainedAlgorithmicMedia"
EXIFTOOL = shutil.which("exiftool")
FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")

#: an A1111 / Forge infotext, as the web UI writes it (prompt, negative prompt, one settings line)
INFOTEXT = ("一只猫 in space, highly detailed\nNegative prompt: blurry, lowres\n"
            "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 96x64, "
            "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0")
FOOOCUS_JSON = json.dumps({"adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion",
                           "prompt": "a lighthouse at dawn", "negative_prompt": "", "steps": 30,
                           "sampler": "dpmpp_2m_sde_gpu", "seed": "42", "version": "Fooocus v2.5.5"})
FOOOCUS_A1111 = ("a lighthouse at dawn\nNegative prompt: \nSteps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 42, "
                 "Size: 96x64, Model: juggernautXL_v8Rundiffusion, Version: Fooocus v2.5.5")


def generator_traces(data: bytes) -> list[aigclabel.Trace]:
    return [t for t in aigclabel.inspect(data).traces if t.kind == "generator-metadata"]


def reviewed(tmp_path: Path, data: bytes, name: str) -> Review:
    path = tmp_path / name
    path.write_bytes(data)
    return review(path, platform=CFG)


def evidence(r: Review, kind: str) -> str:
    return " | ".join(e.detail for e in r.evidence if e.kind == kind)


# ------------------------------------------------------------------------ SD parameters in EXIF


def user_comment_image(payload: bytes, fmt: str = "JPEG") -> bytes:
    """A picture whose Exif IFD UserComment is *payload* (Pillow writes the EXIF block)."""
    img = Image.new("RGB", (96, 64), (40, 90, 160))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = payload
    buf = io.BytesIO()
    img.save(buf, fmt, exif=exif.tobytes())
    return buf.getvalue()


def exiftool_user_comment(data: bytes, tmp_path: Path, suffix: str = ".jpg") -> str:
    if EXIFTOOL is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    path = tmp_path / f"read{suffix}"
    path.write_bytes(data)
    proc = subprocess.run([EXIFTOOL, "-b", "-UserComment", str(path)], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8")


@pytest.mark.parametrize("how", ["utf16-be (piexif, as A1111 writes)", "utf16-le in a big-endian block"])
def test_a1111_parameters_in_jpeg_user_comment_reach_tier_3(how: str, tmp_path: Path) -> None:
    body = INFOTEXT.encode("utf-16-be" if how.startswith("utf16-be") else "utf-16-le")
    data = user_comment_image(b"UNICODE\x00" + body)
    assert exiftool_user_comment(data, tmp_path) == INFOTEXT  # the independent reader sees the same text

    (trace,) = generator_traces(data)
    # the same trace name as the PNG "parameters" chunk gets
    assert trace.detail.startswith("Stable Diffusion (A1111/Forge) parameters (UserComment: 一只猫 in space")
    assert trace.location.endswith("ExifIFD UserComment")
    r = reviewed(tmp_path, data, "sd.jpg")
    assert r.tier == 3 and r.relied_on == "traces of AI generation: generator-metadata"
    assert "Stable Diffusion (A1111/Forge) parameters" in evidence(r, "generator-metadata")


def test_parameters_written_by_exiftool_are_found(tmp_path: Path) -> None:
    if EXIFTOOL is None:
        pytest.skip("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    path = tmp_path / "tool.jpg"
    path.write_bytes(make_jpeg())
    (tmp_path / "infotext.txt").write_text(INFOTEXT, encoding="utf-8")
    proc = subprocess.run([EXIFTOOL, "-q", "-overwrite_original", f"-UserComment<={tmp_path / 'infotext.txt'}",
                           str(path)], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = path.read_bytes()
    assert exiftool_user_comment(data, tmp_path) == INFOTEXT
    (trace,) = generator_traces(data)
    assert trace.detail.startswith("Stable Diffusion (A1111/Forge) parameters")
    assert review(path, platform=CFG).tier == 3


def test_webp_exif_parameters_are_found(tmp_path: Path) -> None:
    data = user_comment_image(b"UNICODE\x00" + INFOTEXT.encode("utf-16-be"), "WEBP")
    assert exiftool_user_comment(data, tmp_path, ".webp") == INFOTEXT
    (trace,) = generator_traces(data)
    assert trace.detail.startswith("Stable Diffusion (A1111/Forge) parameters")
    assert reviewed(tmp_path, data, "sd.webp").tier == 3


@pytest.mark.parametrize("text", ["Holiday in Kyoto. Steps: 20, Sampler: none", "Steps: 4200 today, 7 km walked",
                                  "ASCII comment from the camera"])
def test_a_photo_comment_is_not_a_trace(text: str, tmp_path: Path) -> None:
    data = user_comment_image(b"UNICODE\x00" + text.encode("utf-16-be"))
    assert exiftool_user_comment(data, tmp_path) == text
    assert generator_traces(data) == []
    r = reviewed(tmp_path, data, "photo.jpg")
    assert r.tier is None and r.notice is None


def test_fooocus_jpeg_user_comment_is_named_fooocus(tmp_path: Path) -> None:
    data = user_comment_image(b"UNICODE\x00" + FOOOCUS_JSON.encode("utf-16-be"))
    assert json.loads(exiftool_user_comment(data, tmp_path))["version"] == "Fooocus v2.5.5"
    (trace,) = generator_traces(data)
    assert trace.detail.startswith("Fooocus parameters (UserComment: {")
    assert reviewed(tmp_path, data, "fooocus.jpg").tier == 3


# ------------------------------------------------------------------------------- Fooocus PNG


def test_fooocus_png_is_named_fooocus(tmp_path: Path, exiftool: Callable[[bytes], dict[str, Any]]) -> None:
    data = make_png(text=[("parameters", FOOOCUS_JSON), ("fooocus_scheme", "fooocus")])
    tags = exiftool(data)
    assert json.loads(tags["PNG:Parameters"])["version"] == "Fooocus v2.5.5"
    assert tags["PNG:Fooocus_scheme"] == "fooocus"
    details = sorted(t.detail for t in generator_traces(data))
    assert details[0].startswith("Fooocus metadata scheme (fooocus_scheme: fooocus)")
    assert details[1].startswith('Fooocus parameters (parameters: {"adm_guidance"')
    assert not any("Stable Diffusion" in d for d in details)
    r = reviewed(tmp_path, data, "fooocus.png")
    assert r.tier == 3 and "Fooocus parameters" in evidence(r, "generator-metadata")


def test_fooocus_a1111_scheme_and_a1111_itself(exiftool: Callable[[bytes], dict[str, Any]]) -> None:
    fooocus = make_png(text=[("parameters", FOOOCUS_A1111), ("fooocus_scheme", "a1111")])
    assert exiftool(fooocus)["PNG:Parameters"] == FOOOCUS_A1111
    assert all(t.detail.startswith("Fooocus") for t in generator_traces(fooocus))
    a1111 = make_png(text=[("parameters", INFOTEXT)])
    (trace,) = generator_traces(a1111)
    assert trace.detail.startswith("Stable Diffusion (A1111/Forge) parameters (parameters: 一只猫")


# -------------------------------------------------------------------------------------- C2PA


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    """Development credentials; every C2PA test asks for them, so without the SDK they skip (and only they)."""
    if c2pa_sdk is None:
        pytest.skip("c2pa-python is not installed: pip install 'aigclabel[c2pa]'")
    return init_keys(tmp_path_factory.mktemp("keys") / "dev")


def sdk_sign(keys: DevKeys, assertions: list[dict[str, Any]], data: bytes, mime: str = "image/jpeg",
             ingredients: tuple[tuple[dict[str, Any], bytes], ...] = ()) -> bytes:
    """Sign *data* with the SDK itself (what another generator or editor would write)."""
    manifest = {"claim_generator_info": [{"name": "test-tool", "version": "1.0"}], "assertions": assertions}
    info = c2pa_sdk.C2paSignerInfo("es256", keys.chain.read_bytes(), keys.key.read_bytes(), None)
    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                "builder": {"thumbnail": {"enabled": False}}}
    with c2pa_sdk.Context.from_dict(settings) as ctx, c2pa_sdk.Signer.from_info(info) as signer, \
            c2pa_sdk.Builder(manifest, context=ctx) as builder:
        for ingredient, content in ingredients:
            builder.add_ingredient(ingredient, mime, io.BytesIO(content))
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
        return out.getvalue()


def actions(*items: dict[str, Any]) -> dict[str, Any]:
    return {"label": "c2pa.actions.v2", "data": {"actions": list(items)}}


def sdk_store(data: bytes, keys: DevKeys, mime: str = "image/jpeg") -> dict[str, Any]:
    """The SDK's own reading of a file (our CA as trust anchor)."""
    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                "trust": {"user_anchors": keys.ca.read_text()}}
    with c2pa_sdk.Context.from_dict(settings) as ctx, c2pa_sdk.Reader(mime, io.BytesIO(data), None, ctx) as reader:
        return json.loads(reader.json())


def inspect_c2pa(data: bytes, keys: DevKeys) -> list[aigclabel.Trace]:
    return [t for t in aigclabel.inspect(data, c2pa=prov.ReadOptions(trust_anchors=keys.ca)).traces
            if t.kind.startswith("c2pa")]


@pytest.fixture(scope="module")
def ai_parent(keys: DevKeys) -> bytes:
    """What an image generator writes: c2pa.created with trainedAlgorithmicMedia."""
    return sdk_sign(keys, [actions({"action": "c2pa.created", "digitalSourceType": DST_TRAINED})], make_jpeg())


@pytest.fixture(scope="module")
def opened_child(keys: DevKeys, ai_parent: bytes) -> bytes:
    """ChatGPT/Sora style: the active manifest only opens the AI parent, which is its ingredient."""
    return sdk_sign(keys, [actions({"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}})],
                    make_jpeg(), ingredients=(({"title": "generated.jpg", "relationship": "parentOf",
                                                "label": "parent"}, ai_parent),))


def test_ai_type_only_in_the_ingredient_reaches_tier_3(keys: DevKeys, opened_child: bytes, tmp_path: Path) -> None:
    store = sdk_store(opened_child, keys)
    active = store["manifests"][store["active_manifest"]]
    # the SDK agrees on the shape: no digitalSourceType in the active manifest, the AI type in the ingredient's
    assert "digitalSourceType" not in json.dumps(active["assertions"])
    (parent_label,) = [ing["active_manifest"] for ing in active["ingredients"]]
    assert DST_TRAINED in json.dumps(store["manifests"][parent_label]["assertions"])
    assert store["validation_state"] == "Trusted"

    traces = inspect_c2pa(opened_child, keys)
    (signal,) = [t for t in traces if t.kind == "c2pa-signal"]
    assert signal.detail.startswith("inception:signal_fullyGenAIMedia (C2PA Asset Rubrics 1.0): c2pa.created "
                                    "with digitalSourceType trainedAlgorithmicMedia")
    assert f"ingredient manifest {parent_label} (ingredient 'generated.jpg')" in signal.location
    assert not [t for t in traces if t.kind == "c2pa-digital-source-type"]  # nothing in the active manifest

    r = reviewed(tmp_path, opened_child, "chatgpt.jpg")
    assert r.tier == 3 and r.notice == CFG.notice(3)
    assert r.relied_on == "traces of AI generation: c2pa-signal"
    assert "inception:signal_fullyGenAIMedia" in evidence(r, "c2pa-signal")

    # the EU profile's source-type rule: an editor's c2pa.opened whose chain says AI is a warning, not a failure
    report = aigclabel.verify(opened_child, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    (dst,) = [f for f in report.findings if f.rule == "c2pa.digital-source-type"]
    assert dst.level is Level.WARNING and "inception:signal_fullyGenAIMedia" in dst.message
    assert "'generated.jpg'" in dst.message


def test_an_ai_edit_is_perceptible_genai(keys: DevKeys, tmp_path: Path) -> None:
    photo = sdk_sign(keys, [actions({"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"})],
                     make_jpeg())
    edited = sdk_sign(keys, [actions({"action": "c2pa.opened", "parameters": {"ingredientIds": ["p"]}},
                                     {"action": "c2pa.edited", "digitalSourceType": COMPOSITE_AI,
                                      "description": "generative fill"})],
                      make_jpeg(), ingredients=(({"title": "photo.jpg", "relationship": "parentOf", "label": "p"},
                                                 photo),))
    store = sdk_store(edited, keys)
    edits = store["manifests"][store["active_manifest"]]["assertions"][0]["data"]["actions"]
    assert [a["action"] for a in edits] == ["c2pa.opened", "c2pa.edited"]
    assert edits[1]["digitalSourceType"] == COMPOSITE_AI
    signals = {t.detail.split(" ")[0]: t for t in inspect_c2pa(edited, keys) if t.kind == "c2pa-signal"}
    assert set(signals) == {"transformation:signal_perceptibleGenAI", "inception:signal_capturedMedia"}
    assert "active manifest" in signals["transformation:signal_perceptibleGenAI"].location
    r = reviewed(tmp_path, edited, "edited.jpg")
    assert r.tier == 3 and "perceptibleGenAI" in evidence(r, "c2pa-signal")
    # the photo alone: a captured picture is no trace
    assert reviewed(tmp_path, photo, "photo.jpg").tier is None


def test_may_contain_genai_is_evidence_not_a_trace(keys: DevKeys, tmp_path: Path) -> None:
    composite = sdk_sign(keys, [actions({"action": "c2pa.created", "digitalSourceType": IPTC + "composite"})],
                         make_jpeg())
    assert sdk_store(composite, keys)["validation_state"] == "Trusted"
    r = reviewed(tmp_path, composite, "composite.jpg")
    assert r.tier is None
    assert "inception:signal_compositionMayContainGenAI" in evidence(r, "c2pa-signal")
    assert "may contain generative AI: not a trace by itself" in evidence(r, "c2pa-signal")


def test_ai_disclosure_assertion_alone_is_a_trace(keys: DevKeys, tmp_path: Path,
                                                  exiftool: Callable[[bytes], dict[str, Any]]) -> None:
    disclosure = {"modelType": "c2pa.types.model", "modelName": "ExampleGen 2",
                  "contentProfile": {"humanOversightLevel": "prompt_guided"}}
    data = sdk_sign(keys, [actions({"action": "c2pa.created", "digitalSourceType": IPTC + "algorithmicMedia"}),
                           {"label": "c2pa.ai-disclosure", "data": disclosure}], make_jpeg())
    tags = exiftool(data)
    assert tags["CBOR:ModelType"] == "c2pa.types.model" and tags["CBOR:ModelName"] == "ExampleGen 2"
    (trace,) = [t for t in inspect_c2pa(data, keys) if t.kind == "c2pa-ai-disclosure"]
    assert trace.detail == ("c2pa.ai-disclosure (C2PA 2.4): an AI model made the content: modelType c2pa.types.model, "
                            "modelName ExampleGen 2, humanOversightLevel prompt_guided")
    assert not [t for t in inspect_c2pa(data, keys) if t.kind == "c2pa-signal"]  # algorithmicMedia: no signal
    r = reviewed(tmp_path, data, "disclosed.jpg")
    assert r.tier == 3 and r.relied_on == "traces of AI generation: c2pa-ai-disclosure"


def test_invalid_manifest_names_the_ingredients_failure(keys: DevKeys, opened_child: bytes, tmp_path: Path) -> None:
    """Tamper with the parent's manifest inside the child: the SDK lists only signingCredential.untrusted for
    the active manifest, the real failure is in the ingredient deltas."""
    parent_with_disclosure = sdk_sign(keys, [actions({"action": "c2pa.created", "digitalSourceType": DST_TRAINED}),
                                             {"label": "c2pa.ai-disclosure",
                                              "data": {"modelType": "c2pa.types.model", "modelName": "GenA"}}],
                                      make_jpeg())
    child = sdk_sign(keys, [actions({"action": "c2pa.opened", "parameters": {"ingredientIds": ["p"]}})],
                     make_jpeg(), ingredients=(({"title": "generated.jpg", "relationship": "parentOf", "label": "p"},
                                                parent_with_disclosure),))
    at = child.index(b"GenA")
    tampered = child[:at] + b"GenB" + child[at + 4:]

    store = sdk_store(tampered, keys)  # the independent reader: Invalid, the reason in the ingredient deltas
    assert store["validation_state"] == "Invalid"
    delta_codes = [f["code"] for d in store["validation_results"]["ingredientDeltas"]
                   for f in d["validationDeltas"]["failure"]]
    assert "ingredient.manifest.mismatch" in delta_codes
    assert "ingredient.manifest.mismatch" not in [f["code"] for f in
                                                  store["validation_results"]["activeManifest"]["failure"]]

    report = aigclabel.verify(tampered, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    (bad,) = [f for f in report.findings if f.rule == "c2pa.manifest"]
    assert bad.level is Level.ERROR and report.verdict is Verdict.NONCOMPLIANT
    assert "Invalid (ingredient 'generated.jpg': ingredient.manifest.mismatch" in bad.message
    assert "signingCredential.untrusted" not in bad.message
    # still a trace for the platform: the (unverified) chain says AI
    assert reviewed(tmp_path, tampered, "tampered.jpg").tier == 3
    # the untampered child validates and names no failure
    good = aigclabel.verify(child, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    assert {f.rule: f.level for f in good.findings}["c2pa.manifest"] is Level.PASS


def test_an_ingredient_that_was_invalid_when_added_is_a_warning(keys: DevKeys, ai_parent: bytes) -> None:
    broken = bytearray(ai_parent)
    broken[-200] ^= 0xFF  # the parent's image data: its hard binding no longer holds
    child = sdk_sign(keys, [actions({"action": "c2pa.opened", "parameters": {"ingredientIds": ["p"]}})],
                     make_jpeg(), ingredients=(({"title": "broken.jpg", "relationship": "parentOf", "label": "p"},
                                                bytes(broken)),))
    store = sdk_store(child, keys)
    (ing,) = store["manifests"][store["active_manifest"]]["ingredients"]
    assert "assertion.dataHash.mismatch" in [f["code"] for f in ing["validation_results"]["activeManifest"]["failure"]]
    report = aigclabel.verify(child, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    levels = [(f.level, f.message) for f in report.findings if f.rule == "c2pa.manifest"]
    assert levels[0][0] is Level.PASS
    assert (Level.WARNING, "ingredient 'broken.jpg' failed validation when it was added "
            "(assertion.dataHash.mismatch): its provenance is not verified") in levels


def test_signing_writes_the_ai_disclosure_assertion(keys: DevKeys,
                                                    exiftool: Callable[[bytes], dict[str, Any]]) -> None:
    result = mark_file(make_jpeg(), producer=PRODUCER, explicit=False,
                       c2pa=prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key, system_name="Seedream",
                                             system_version="3.0"))
    assert result.data is not None
    store = sdk_store(result.data, keys)
    assert store["validation_state"] == "Trusted"
    active = store["manifests"][store["active_manifest"]]
    (disclosure,) = [a["data"] for a in active["assertions"] if a["label"] == "c2pa.ai-disclosure"]
    assert disclosure == {"modelType": "c2pa.types.model", "modelName": "Seedream 3.0"}
    tags = exiftool(result.data)
    assert tags["CBOR:ModelType"] == "c2pa.types.model" and tags["CBOR:ModelName"] == "Seedream 3.0"
    assert any("c2pa.ai-disclosure (modelType c2pa.types.model, modelName Seedream 3.0)" in n for n in result.notes)
    kinds = {t.kind for t in inspect_c2pa(result.data, keys)}
    assert {"c2pa-manifest", "c2pa-digital-source-type", "c2pa-signal", "c2pa-ai-disclosure"} <= kinds
    # without a system name the disclosure still says "a model"
    plain = mark_file(make_jpeg(), producer=PRODUCER, explicit=False,
                      c2pa=prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key)).data
    assert plain is not None
    plain_store = sdk_store(plain, keys)
    assert [a["data"] for a in plain_store["manifests"][plain_store["active_manifest"]]["assertions"]
            if a["label"] == "c2pa.ai-disclosure"] == [{"modelType": "c2pa.types.model"}]


# --------------------------------------------------------------------------------------- AVI


def make_avi(tmp_path: Path) -> bytes:
    if FFMPEG is None or FFPROBE is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    out = tmp_path / "in.avi"
    proc = subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:duration=0.5:rate=10",
                           "-c:v", "mjpeg", str(out)], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


def test_c2pa_signed_avi(keys: DevKeys, tmp_path: Path) -> None:
    assert prov.signable("avi") and prov.readable("avi")
    signed = tmp_path / "signed.avi"
    result = mark_file(make_avi(tmp_path), signed, producer=PRODUCER, explicit=False,
                       c2pa=prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key))
    assert any("C2PA manifest signed last" in n for n in result.notes)
    data = signed.read_bytes()
    # independent readers: the SDK validates the manifest, ffprobe still reads the video and the record
    store = sdk_store(data, keys, "video/x-msvideo")
    assert store["validation_state"] == "Trusted"
    first = store["manifests"][store["active_manifest"]]["assertions"][0]["data"]["actions"][0]
    assert first == {**first, "action": "c2pa.created", "digitalSourceType": DST_TRAINED}
    probe = json.loads(subprocess.run([str(FFPROBE), "-v", "error", "-show_format", "-show_streams", "-of", "json",
                                       str(signed)], capture_output=True, timeout=60, check=True).stdout)
    assert probe["format"]["tags"]["AIGC"] == result.record_json and probe["streams"][0]["codec_name"] == "mjpeg"

    report = aigclabel.verify(data, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    assert {f.rule: f.level for f in report.findings}["c2pa.manifest"] is Level.PASS
    assert any(t.kind == "c2pa-manifest" and t.detail.startswith("Trusted") for t in inspect_c2pa(data, keys))
    r = review(signed, platform=CFG)
    assert r.tier == 1 and "c2pa-hard-binding" in [e.kind for e in r.evidence]
    # a later metadata write would break the binding: refused, as for every other signed format
    with pytest.raises(aigclabel.UnsupportedOperation, match="carries a C2PA manifest"):
        mark_file(data, producer=PRODUCER, explicit=False)
