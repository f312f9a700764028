"""`carry` (issue 17, item 1): the original's AIGC record written into renditions made by other tools.

Each derivative is made by the third-party tool (Pillow, ffmpeg, qpdf); the carried record is read back by a
reader that is not aigclabel (exiftool, ffprobe, a RIFF walk of the test's own, pypdf).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

import aigclabel
from aigclabel.carrying import CARRIED, REFUSED, UNCHANGED, RecordConflict, carry_task
from aigclabel.errors import OptionError, UnsupportedOperation
from aigclabel.formats import ImplicitLabel
from aigclabel.label import AigcRecord, parse_label
from aigclabel.reading import open_handler, write_implicit


def _load_media() -> Any:
    spec = importlib.util.spec_from_file_location("_transform_media", Path(__file__).with_name("_transform_media.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


media = _load_media()
DST_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("carry")


@pytest.fixture(scope="module")
def originals(work: Path) -> dict[str, tuple[Path, str]]:
    return media.originals(work / "originals")


def _derive(originals: dict[str, tuple[Path, str]], work: Path, name: str) -> tuple[Path, Path, str]:
    key, ext, transform, _kept, _iptc = media.TRANSFORMS[name]
    original, record = originals[key]
    derived = work / f"{name}.{ext}"
    if not derived.exists():
        transform(original, derived)
    return original, derived, record


def _write_record(src: Path, dst: Path, text: str, dst_type: str | None = None) -> None:
    with open_handler(src) as (reader, handler), open(dst, "w+b") as out:
        write_implicit(handler, reader, out, ImplicitLabel(text, dst_type))


# ------------------------------------------------------------------------------- the Must-show transforms


@pytest.mark.parametrize("name", ["pillow-webp", "pillow-avif", "pillow-png", "ffmpeg-reencode-mp4",
                                  "ffmpeg-mkv-no-metadata", "ffmpeg-webm", "ffmpeg-mp3-wav", "qpdf-rewrite",
                                  "qpdf-pages"])
def test_carry_restores_the_record_an_independent_reader_sees(originals: dict[str, tuple[Path, str]], work: Path,
                                                                name: str) -> None:
    original, derived, record = _derive(originals, work, name)
    kept = media.TRANSFORMS[name][3]
    # what the tool did, seen by the independent reader: the transform's measured behaviour
    assert (media.record_seen_by_independent_reader(derived) == record) is kept
    out = work / f"carried-{name}{derived.suffix}"
    result = aigclabel.carry(original, derived, out)
    assert result.status == (UNCHANGED if kept else CARRIED)
    assert media.record_seen_by_independent_reader(out) == record
    assert result.record == record and result.format == aigclabel.inspect(out).format
    if derived.suffix in (".webp", ".avif", ".png"):
        assert media.iptc_seen_by_exiftool(out) == DST_TRAINED  # the original's IPTC source type came along
        assert result.digital_source_type == DST_TRAINED
    if kept:
        assert out.read_bytes() == derived.read_bytes()  # nothing to do: a byte-identical copy
        assert any("already carries this record" in n for n in result.notes)


def test_the_derivative_keeps_its_own_metadata_byte_for_byte(originals: dict[str, tuple[Path, str]],
                                                             work: Path) -> None:
    """A PNG thumbnail with its own text chunk, EXIF and ICC profile: every chunk but our XMP is unchanged."""
    original, record = originals["jpg"]
    with Image.open(original) as im:
        thumb = im.copy()
    thumb.thumbnail((48, 48))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made by the CMS thumbnailer")
    exif = Image.Exif()
    exif[0x013B] = "Thumbnail Artist"  # Artist
    derived, out = work / "own-meta.png", work / "own-meta-carried.png"
    thumb.save(derived, "PNG", pnginfo=info, exif=exif.tobytes())
    aigclabel.carry(original, derived, out)

    def chunks(path: Path) -> list[tuple[bytes, bytes]]:  # (type, data + CRC), walked here, not by aigclabel
        data, at, found = path.read_bytes(), 8, []
        while at < len(data):
            size = int.from_bytes(data[at:at + 4], "big")
            found.append((data[at + 4:at + 8], data[at + 8:at + 12 + size]))
            at += 12 + size
        return found

    before, after = chunks(derived), chunks(out)
    assert [c for c in after if c[0] != b"iTXt"] == before  # same chunks, same bytes, same order
    tags = media.exiftool_json(out)
    assert tags["PNG:Comment"] == "made by the CMS thumbnailer" and tags["IFD0:Artist"] == "Thumbnail Artist"
    assert tags["XMP-TC260:Aigc"] == record


def test_video_keeps_its_own_tags(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, record = originals["mp4"]
    derived, out = work / "titled.mp4", work / "titled-carried.mp4"
    media.ffmpeg("-i", str(original), "-c:v", "libx264", "-preset", "ultrafast", "-metadata", "title=Delivery 720p",
                 str(derived))
    aigclabel.carry(original, derived, out)
    tags = media.ffprobe_tags(out)
    assert tags["title"] == "Delivery 720p" and tags["AIGC"] == record


# ------------------------------------------------------------------------------- refusal, no-op, propagation


def test_a_different_record_is_refused_and_nothing_is_written(originals: dict[str, tuple[Path, str]],
                                                              work: Path) -> None:
    original, derived, _ = _derive(originals, work, "pillow-png")
    other = AigcRecord(label="1", content_producer=media.PRODUCER, produce_id="someone-else-0001").to_json()
    foreign = work / "foreign.png"
    _write_record(derived, foreign, other)
    out = work / "foreign-carried.png"
    with pytest.raises(RecordConflict, match="different AIGC record.*ProduceID 'someone-else-0001'"):
        aigclabel.carry(original, foreign, out)
    assert not out.exists()
    assert RecordConflict.kind == "record-conflict" and issubclass(RecordConflict, UnsupportedOperation)
    # the batch form reports it as a refusal (exit 1), not as "could not check"
    refused = carry_task(str(foreign), original=str(original), output=str(out))
    assert refused.status == REFUSED and refused.exit_code == 1 and not out.exists()


def test_the_same_record_is_a_no_op_in_place(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, derived, _ = _derive(originals, work, "pillow-webp")
    target = work / "inplace.webp"
    target.write_bytes(derived.read_bytes())
    first = aigclabel.carry(original, target, in_place=True)
    assert first.status == CARRIED
    written = target.read_bytes()
    stat = target.stat()
    second = aigclabel.carry(original, target, in_place=True)
    assert second.status == UNCHANGED and "left as it is" in second.notes[-1]
    assert target.read_bytes() == written and target.stat().st_mtime_ns == stat.st_mtime_ns


def test_propagation_fields_are_added_and_the_producer_fields_kept(originals: dict[str, tuple[Path, str]],
                                                                   work: Path) -> None:
    original, derived, record = _derive(originals, work, "ffmpeg-reencode-mp4")
    out = work / "propagated.mp4"
    result = aigclabel.carry(original, derived, out, platform_code=media.PLATFORM, propagate_id="spread-0001")
    seen = json.loads(media.record_seen_by_independent_reader(out))
    before = json.loads(record)
    assert {k: seen[k] for k in ("Label", "ContentProducer", "ProduceID", "ReservedCode1")} == \
        {k: before[k] for k in ("Label", "ContentProducer", "ProduceID", "ReservedCode1")}
    assert seen["ContentPropagator"] == media.PLATFORM and seen["PropagateID"] == "spread-0001"
    assert any("propagation fields added" in n for n in result.notes)
    # again without an id: the platform's existing PropagateID is kept, so nothing changes
    again = aigclabel.carry(original, out, work / "propagated-again.mp4", platform_code=media.PLATFORM)
    assert again.status == UNCHANGED
    with pytest.raises(OptionError):
        aigclabel.carry(original, derived, work / "x.mp4", propagate_id="spread-0002")


def test_security_data_and_c2pa_are_said_honestly(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    raw, _ = originals["jpg"]
    security = ('{"SecurityData":{"Type":"TC260PG","Version":"1.0","PubSD":[],"Bindings":[{"Type":"Hash",'
                '"CntSel":"all","Value":"00"}]}}')
    text = AigcRecord(label="1", content_producer=media.PRODUCER, produce_id="signed-0001",
                      reserved_code1=security).to_json()
    signed = work / "security.jpg"
    _write_record(raw, signed, text, DST_TRAINED)
    derived, out = work / "security-thumb.webp", work / "security-carried.webp"
    media.TRANSFORMS["pillow-webp"][2](signed, derived)
    result = aigclabel.carry(signed, derived, out)
    assert media.record_seen_by_independent_reader(out) == text  # carried as text, field for field
    assert any("ReservedCode1 holds the producer's SecurityData" in n and "no longer matches" in n
               for n in result.notes)


def test_a_c2pa_manifest_is_not_carried_and_said_so(originals: dict[str, tuple[Path, str]], work: Path,
                                                    tmp_path: Path) -> None:
    pytest.importorskip("c2pa")
    from aigclabel.c2pa import C2paOptions
    from aigclabel.keys import init_keys
    from aigclabel.marking import mark_file

    keys = init_keys(tmp_path / "keys")
    raw = work / "originals" / "raw.jpg"
    signed = work / "c2pa.jpg"
    mark_file(raw, signed, producer=media.PRODUCER, explicit=False, overwrite=True,
              c2pa=C2paOptions(sign_cert=keys.chain, sign_key=keys.key))
    derived, out = work / "c2pa-thumb.png", work / "c2pa-carried.png"
    media.TRANSFORMS["pillow-png"][2](signed, derived)
    result = aigclabel.carry(signed, derived, out)
    assert result.status == CARRIED
    assert any(n.startswith("C2PA manifest not carried: its hard binding") for n in result.notes)
    assert media.record_seen_by_independent_reader(out) == aigclabel.inspect(signed).labels[0].raw


def test_what_cannot_be_carried_is_a_typed_error(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, _ = originals["jpg"]
    text = work / "notes.txt"
    text.write_text("a plain text rendition has no implicit carrier\n")
    with pytest.raises(UnsupportedOperation, match="TXT is not supported"):
        aigclabel.carry(original, text, work / "notes-carried.txt")
    with pytest.raises(UnsupportedOperation, match="carries no AIGC record"):
        aigclabel.carry(work / "originals" / "raw.jpg", original, work / "nothing.jpg")
    assert not (work / "notes-carried.txt").exists() and not (work / "nothing.jpg").exists()


# ------------------------------------------------------------------------------- the installed command


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["aigclabel", *args], capture_output=True, text=True, timeout=120)


def test_cli_carry_one_file_and_refusal(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, derived, record = _derive(originals, work, "ffmpeg-mp3-wav")
    out = work / "cli-carried.wav"
    proc = _cli("carry", str(original), str(derived), "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    (obj,) = json.loads(proc.stdout)
    assert obj["status"] == "carried" and obj["record"] == record
    assert media.record_seen_by_independent_reader(out) == record
    # the rest of the WAV is the tool's own: every chunk but ours unchanged
    assert [c for c in media.riff_chunks(out) if c[0] != b"AIGC"] == media.riff_chunks(derived)
    other = work / "cli-other.wav"
    _write_record(derived, other, AigcRecord(label="1", content_producer=media.PRODUCER,
                                             produce_id="other-0001").to_json())
    refused = _cli("carry", str(original), str(other), "-o", str(work / "cli-refused.wav"))
    assert refused.returncode == 1 and "different AIGC record" in refused.stdout
    assert not (work / "cli-refused.wav").exists()
    usage = _cli("carry", str(original), str(derived))
    assert usage.returncode == 2 and "--in-place" in usage.stderr


def test_cli_batch_from_original_over_a_directory(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    original, record = originals["jpg"]
    renditions = work / "renditions"
    renditions.mkdir()
    for name in ("pillow-webp", "pillow-avif", "pillow-png"):
        _, derived, _ = _derive(originals, work, name)
        (renditions / derived.name).write_bytes(derived.read_bytes())
    outdir = work / "labelled"
    proc = _cli("carry", "--from", str(original), str(renditions), "-o", str(outdir), "--jsonl")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(os.path.basename(o["path"]) for o in lines) == sorted(os.listdir(renditions))
    assert {o["status"] for o in lines} == {"carried"}
    for name in os.listdir(renditions):
        assert media.record_seen_by_independent_reader(outdir / name) == record
        assert parse_label(record).fields == json.loads(record)
    # in place, the second run finds every rendition already labelled
    proc = _cli("carry", "--from", str(original), str(outdir), "--in-place", "--jsonl")
    assert proc.returncode == 0 and {json.loads(x)["status"] for x in proc.stdout.splitlines()} == {"unchanged"}


# ------------------------------------------------------------------------------- signed originals, re-signed


@pytest.fixture(scope="module")
def c2pa_keys(work: Path) -> Any:
    pytest.importorskip("c2pa")
    from aigclabel.keys import init_keys

    return init_keys(work / "c2pa-keys")


def _sdk_store(path: Path, mime: str, ca: Path) -> dict[str, Any]:
    """The manifest store as the C2PA SDK's own Reader sees it, our development CA its only trust anchor."""
    import c2pa

    ctx = c2pa.Context.from_dict({"trust": {"user_anchors": ca.read_text()},
                                  "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    with open(path, "rb") as fh, c2pa.Reader(mime, fh, None, ctx) as reader:
        return dict(json.loads(reader.json()))


@pytest.mark.parametrize("name,mime", [("pillow-webp", "image/webp"), ("pillow-png", "image/png")])
def test_a_c2pa_signer_signs_the_derivative_with_the_original_as_parent(originals: dict[str, tuple[Path, str]],
                                                                        work: Path, c2pa_keys: Any, name: str,
                                                                        mime: str) -> None:
    from aigclabel.c2pa import C2paOptions, ReadOptions
    from aigclabel.marking import mark_file

    signed = work / "c2pa-parent.jpg"
    if not signed.exists():
        mark_file(work / "originals" / "raw.jpg", signed, producer=media.PRODUCER, explicit=False,
                  c2pa=C2paOptions(sign_cert=c2pa_keys.chain, sign_key=c2pa_keys.key))
    derived, out = work / f"c2pa-{name}.{mime[6:]}", work / f"c2pa-{name}-signed.{mime[6:]}"
    media.TRANSFORMS[name][2](signed, derived)
    assert not derived.read_bytes().count(b"c2pa")  # the tool dropped the manifest (measured, issue 17)
    options = C2paOptions(sign_cert=c2pa_keys.chain, sign_key=c2pa_keys.key)
    result = aigclabel.carry(signed, derived, out, c2pa=options)
    record = aigclabel.inspect(signed).labels[0].raw
    assert result.status == CARRIED and media.record_seen_by_independent_reader(out) == record
    assert not any(n.startswith("C2PA manifest not carried") for n in result.notes)
    # the SDK: the rendition's own manifest is Trusted, opened from the original, whose manifest is its parent
    parent = _sdk_store(signed, "image/jpeg", c2pa_keys.ca)
    store = _sdk_store(out, mime, c2pa_keys.ca)
    assert store["validation_state"] == "Trusted"
    active = store["manifests"][store["active_manifest"]]
    (ingredient,) = active["ingredients"]
    assert ingredient["relationship"] == "parentOf" and ingredient["active_manifest"] == parent["active_manifest"]
    assert store["manifests"][ingredient["active_manifest"]]["signature_info"] == \
        parent["manifests"][parent["active_manifest"]]["signature_info"]
    actions = next(a for a in active["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    assert actions[0]["action"] == "c2pa.opened" and "c2pa.resized" in [a["action"] for a in actions]
    assert not any(a.get("digitalSourceType") for a in actions)  # a resize is not a generative edit
    aigc = next(a for a in active["assertions"] if a["label"] == "org.aigclabel.aigc")["data"]
    assert aigc["record"] == record
    # our verifier: the c2pa profile passes, the AI origin read from the ingredient's c2pa.created
    report = aigclabel.verify(out, profile="c2pa", c2pa=ReadOptions(trust_anchors=c2pa_keys.ca))
    assert report.exit_code == 0
    levels = {f.rule: f.level.value for f in report.findings}
    assert levels["c2pa.manifest"] == "pass" and levels["c2pa.aigc-assertion"] == "pass"
    source_type = next(f for f in report.findings if f.rule == "c2pa.digital-source-type")
    assert source_type.level.value == "warning" and "inception:signal_fullyGenAIMedia" in source_type.message
    # a platform's review: tier 1 from the record, and the rubric's signal from the parent's manifest
    review = aigclabel.review(out, platform=media.PLATFORM)
    assert review.tier == 1
    assert any(e.kind == "c2pa-signal" and e.detail.startswith("inception:signal_fullyGenAIMedia")
               for e in review.evidence)
    # a rendition that already carries a manifest of its own stays refused, signer or not
    with pytest.raises(UnsupportedOperation, match="carries a C2PA manifest"):
        aigclabel.carry(signed, out, work / f"c2pa-{name}-again.{mime[6:]}", c2pa=options)
    assert not (work / f"c2pa-{name}-again.{mime[6:]}").exists()


def test_a_c2pa_signer_without_a_manifest_in_the_original_signs_nothing(originals: dict[str, tuple[Path, str]],
                                                                        work: Path, c2pa_keys: Any) -> None:
    from aigclabel.c2pa import C2paOptions

    original, derived, record = _derive(originals, work, "pillow-webp")
    out = work / "no-parent-manifest.webp"
    result = aigclabel.carry(original, derived, out, c2pa=C2paOptions(sign_cert=c2pa_keys.chain,
                                                                       sign_key=c2pa_keys.key))
    assert result.status == CARRIED and media.record_seen_by_independent_reader(out) == record
    assert any("no readable C2PA manifest" in n for n in result.notes)
    assert b"c2pa" not in out.read_bytes()


def _openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], capture_output=True, timeout=60)


def test_the_propagator_re_binds_security_data_to_the_rendition(originals: dict[str, tuple[Path, str]],
                                                                 work: Path) -> None:
    from aigclabel.keys import init_sm2_keys

    producer, platform = init_sm2_keys(work / "sm2-producer"), init_sm2_keys(work / "sm2-platform")
    signed = work / "sd-original.jpg"
    aigclabel.mark(work / "originals" / "raw.jpg", signed, producer=media.PRODUCER, signer=str(producer.key),
                   explicit=False, overwrite=True)
    before = json.loads(aigclabel.inspect(signed).labels[0].raw)
    derived, out = work / "sd-thumb.webp", work / "sd-thumb-signed.webp"
    media.TRANSFORMS["pillow-webp"][2](signed, derived)
    result = aigclabel.carry(signed, derived, out, platform_code=media.PLATFORM, propagate_id="spread-sd-01",
                             signer=platform.key)
    seen = json.loads(media.record_seen_by_independent_reader(out))
    assert seen["ReservedCode1"] == before["ReservedCode1"]  # the producer's, byte for byte
    assert any("ReservedCode1 is carried byte for byte" in n and "original's content" in n for n in result.notes)
    assert any(n.startswith("signed ReservedCode2") and "content binding webp-bitstream" in n for n in result.notes)
    # our verifier: ReservedCode2 valid and bound to this rendition; ReservedCode1's binding names the original
    (states,) = aigclabel.inspect(out).security
    rc1, rc2 = states
    assert rc2["field"] == "ReservedCode2" and rc2["status"] == "valid" and rc2["binding"] == "bound"
    assert rc2["key_id"] == platform.key_id and rc1["binding"] == "mismatch"
    # OpenSSL verifies the propagator's signature over Label, ContentPropagator, PropagateID
    sd = json.loads(seen["ReservedCode2"])["SecurityData"]
    md = next(e for e in sd["PubSD"] if e["Type"] == "DS" and e["TBSData"] == {"Type": "Md"})
    msg = work / "sd-msg"
    msg.write_bytes(f'"Label":"1","ContentPropagator":"{media.PLATFORM}","PropagateID":"spread-sd-01"'.encode())
    (work / "sd-sig.der").write_bytes(bytes.fromhex(md["Signature"]))
    args = ["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-pubin",
            "-inkey", str(platform.public), "-in", str(msg), "-sigfile", str(work / "sd-sig.der")]
    done = _openssl(*args)
    assert done.returncode == 0 and b"Verified Successfully" in done.stdout, done.stderr
    msg.write_bytes(msg.read_bytes().replace(b"sd-01", b"sd-02"))
    assert _openssl(*args).returncode != 0  # and not over another PropagateID
    with pytest.raises(OptionError, match="signer needs platform_code"):
        aigclabel.carry(signed, derived, work / "sd-x.webp", signer=platform.key)


def test_cli_carry_signs_reserved_code2(originals: dict[str, tuple[Path, str]], work: Path) -> None:
    from aigclabel.keys import init_sm2_keys

    key = init_sm2_keys(work / "sm2-cli").key
    original, derived, _ = _derive(originals, work, "pillow-png")
    out = work / "cli-sd.png"
    proc = _cli("carry", str(original), str(derived), "-o", str(out), "--platform-code", media.PLATFORM,
                "--sign-key", str(key), "--json")
    assert proc.returncode == 0, proc.stderr
    (obj,) = json.loads(proc.stdout)
    assert "SecurityData" in json.loads(media.record_seen_by_independent_reader(out))["ReservedCode2"]
    assert any(n.startswith("signed ReservedCode2") for n in obj["notes"])
    usage = _cli("carry", str(original), str(derived), "-o", str(work / "cli-sd2.png"), "--sign-key", str(key))
    assert usage.returncode == 2 and "--platform-code" in usage.stderr
    assert not (work / "cli-sd2.png").exists()
