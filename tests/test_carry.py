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
