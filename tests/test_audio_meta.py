"""Real-file tests of the audio handlers' implicit label (MP3, WAV, FLAC, Ogg Vorbis, Opus, AIFF).

Test audio is made by ffmpeg (a sine or noise, with title/artist tags), extra tags are added with
mutagen or by hand, then the file is marked with aigclabel and read back by independent readers:
ffprobe (the AIGC tag for MP3, FLAC, Ogg, Opus, AIFF), exiftool (the WAV chunk, the AIFF ID3 tag),
mutagen (TXXX:AIGC, Vorbis comments) and byte-level walkers written here.  The decoded PCM must be
identical, and the payload bytes too where they are copied (everything after the MP3 tag, the WAV
``data`` and AIFF ``SSND`` chunks, the FLAC frames, the Ogg audio packets).
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

import aigclabel
from aigclabel.errors import CorruptFile, InputError, UnsupportedOperation
from aigclabel.formats import detect
from aigclabel.report import Verdict

from conftest import PRODUCER

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(FFMPEG is None or FFPROBE is None,
                                reason="ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg); "
                                       "the audio tests make their files with it")

ENCODERS = {  # format -> (ffmpeg arguments, suffix)
    "mp3": (["-c:a", "libmp3lame"], ".mp3"),
    "mp3-v23": (["-c:a", "libmp3lame", "-id3v2_version", "3"], ".mp3"),
    "mp3-bare": (["-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"], ".mp3"),
    "wav": (["-c:a", "pcm_s16le"], ".wav"),
    "flac": (["-c:a", "flac"], ".flac"),
    "ogg": (["-c:a", "libvorbis"], ".ogg"),
    "opus": (["-c:a", "libopus"], ".opus"),
    "aiff": (["-c:a", "pcm_s16be", "-write_id3v2", "1"], ".aiff"),
    "aifc": (["-c:a", "pcm_s16be"], ".aifc"),
}
HANDLER = {"mp3": "mp3", "mp3-v23": "mp3", "mp3-bare": "mp3", "wav": "wav", "flac": "flac", "ogg": "ogg",
           "opus": "opus", "aiff": "aiff", "aifc": "aiff"}
CARRIER = {"mp3": "id3:TXXX:AIGC", "wav": "riff:AIGC", "flac": "vorbiscomment:AIGC",
           "ogg": "vorbiscomment:AIGC", "opus": "vorbiscomment:AIGC", "aiff": "aiff:ID3:TXXX:AIGC"}


def run(*args: str) -> bytes:
    proc = subprocess.run(list(args), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


_counter = iter(range(1_000_000))


def encode(scratch: Path, fmt: str, *, seconds: float = 1.0, source: str = "sine=frequency=440",
           tags: dict[str, str] | None = None, rate: int = 44100, channels: int = 1) -> bytes:
    """An audio file made by ffmpeg, with title/artist tags unless *tags* says otherwise."""
    args, suffix = ENCODERS[fmt]
    out = scratch / f"gen{next(_counter)}{suffix}"
    meta: list[str] = []
    for key, value in (tags if tags is not None else {"title": "Harbour at dusk", "artist": "Li Wei"}).items():
        meta += ["-metadata", f"{key}={value}"]
    run(FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}:duration={seconds}:sample_rate={rate}",
        "-ac", str(channels), *args, *meta, str(out))
    return out.read_bytes()


def to_file(scratch: Path, data: bytes, suffix: str = ".bin") -> Path:
    path = scratch / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


def pcm(scratch: Path, data: bytes) -> bytes:
    """The decoded audio as ffmpeg gives it (s16le, native rate and channels)."""
    return run(FFMPEG, "-v", "error", "-i", str(to_file(scratch, data)), "-f", "s16le", "-")


def ffprobe_tags(scratch: Path, data: bytes) -> dict[str, str]:
    """The format-level and first-stream tags ffprobe reports (Ogg keeps its comments on the stream)."""
    out = json.loads(run(FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json",
                         str(to_file(scratch, data))))
    tags = dict(out["format"].get("tags", {}))
    for stream in out.get("streams", []):
        tags.update(stream.get("tags", {}))
    return tags


def exiftool_tags(scratch: Path, data: bytes, suffix: str) -> dict[str, Any]:
    exe = shutil.which("exiftool")
    if exe is None:
        pytest.skip("exiftool is not installed (Debian/Ubuntu: apt-get install libimage-exiftool-perl)")
    out = run(exe, "-j", "-G1", "-a", "-u", "-b", str(to_file(scratch, data, suffix)))
    (tags,) = json.loads(out)
    return tags


def mark(data: bytes, produce_id: str = "audio-0001", **kw) -> bytes:
    return aigclabel.mark(data, producer=PRODUCER, produce_id=produce_id, explicit=False, **kw)


def record(produce_id: str) -> str:
    return aigclabel.AigcRecord(label="1", content_producer=PRODUCER, produce_id=produce_id).to_json()


def the_label(data: bytes):
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    assert len(report.labels) == 1, report.labels
    return report.labels[0]


# ------------------------------------------------------------------------------------------ walkers


def id3_size(data: bytes) -> int:
    """Size of the ID3v2 tag at the start (0 when there is none), computed here from the header."""
    if data[:3] != b"ID3":
        return 0
    size = 0
    for b in data[6:10]:
        size = (size << 7) | b
    return 10 + size + (10 if data[3] == 4 and data[5] & 0x10 else 0)


def iff_chunks(data: bytes, big_endian: bool = False) -> list[tuple[bytes, int, bytes]]:
    """(id, offset, data) of each top-level chunk of a RIFF or FORM file."""
    fmt = ">4sI" if big_endian else "<4sI"
    out, pos = [], 12
    end = min(len(data), 8 + struct.unpack(">I" if big_endian else "<I", data[4:8])[0])
    while pos + 8 <= end:
        cid, size = struct.unpack(fmt, data[pos:pos + 8])
        out.append((cid, pos, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def chunk(cid: bytes, body: bytes, big_endian: bool = False) -> bytes:
    return cid + struct.pack(">I" if big_endian else "<I", len(body)) + body + b"\x00" * (len(body) & 1)


def riff_with(data: bytes, chunks: list[bytes], *, before: bytes = b"data", at_end: bool = False) -> bytes:
    """*data* (a WAV) with raw *chunks* inserted before the chunk *before* (or at the end) and the RIFF size fixed."""
    if at_end:
        out = data + b"".join(chunks)
    else:
        at = next(off for cid, off, _ in iff_chunks(data) if cid == before)
        out = data[:at] + b"".join(chunks) + data[at:]
    return out[:4] + struct.pack("<I", len(out) - 8) + out[8:]


def flac_blocks(data: bytes) -> tuple[list[tuple[int, int, bytes]], int]:
    """(type, offset, body) of each FLAC metadata block, and the offset of the first audio frame."""
    assert data[:4] == b"fLaC"
    out, pos = [], 4
    while True:
        head = data[pos]
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        out.append((head & 0x7F, pos, data[pos + 4:pos + 4 + length]))
        pos += 4 + length
        if head & 0x80:
            return out, pos


def ogg_packets(data: bytes) -> list[bytes]:
    """Every packet of the first logical stream, assembled from the pages by this walker."""
    packets, partial, pos, serial = [], b"", 0, None
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS"
        nseg = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + nseg]
        page_serial = struct.unpack("<I", data[pos + 14:pos + 18])[0]
        serial = page_serial if serial is None else serial
        body = pos + 27 + nseg
        if page_serial == serial:
            for lace in lacing:
                partial += data[body:body + lace]
                body += lace
                if lace < 255:
                    packets.append(partial)
                    partial = b""
        pos += 27 + nseg + sum(lacing)
    return packets


# ------------------------------------------------------------------------------------------ marking, all formats


@pytest.mark.parametrize("fmt", list(ENCODERS))
def test_mark_is_read_by_independent_readers_and_audio_is_unchanged(fmt, scratch):
    src = encode(scratch, fmt)
    assert aigclabel.inspect(src).format == HANDLER[fmt]
    assert aigclabel.verify(src, scope="implicit").verdict is Verdict.NONCOMPLIANT  # no record yet
    out = mark(src, f"{fmt}-0001")
    expected = record(f"{fmt}-0001")

    lab = the_label(out)
    assert lab.raw == expected and lab.normative and lab.carrier == CARRIER[HANDLER[fmt]]
    assert lab.before_payload is True

    # the decoded audio is identical
    assert pcm(scratch, out) == pcm(scratch, src)

    # independent readers see the record, and the tags that were there before
    tags = ffprobe_tags(scratch, out)
    if HANDLER[fmt] != "wav":  # ffmpeg's WAV demuxer does not read custom chunks: see the exiftool check
        assert tags.get("AIGC") == expected, tags
    if fmt != "mp3-bare":
        assert tags.get("title") == "Harbour at dusk"
        if fmt not in ("aifc",):  # ffmpeg's AIFF muxer without ID3 writes only NAME (title)
            assert tags.get("artist") == "Li Wei"

    if HANDLER[fmt] in ("mp3", "flac", "ogg", "opus", "aiff"):
        import mutagen

        f = mutagen.File(io.BytesIO(out))
        if HANDLER[fmt] in ("mp3", "aiff"):
            assert [fr.text for fr in f.tags.getall("TXXX:AIGC")] == [[expected]]
        else:
            assert f.tags["AIGC"] == [expected]
    if HANDLER[fmt] == "wav":
        et = exiftool_tags(scratch, out, ".wav")
        raw = et["RIFF:Unknown_AIGC"]
        # exiftool prints the chunk body, including the pad byte of an odd-sized chunk
        text = base64.b64decode(raw[7:]).decode() if raw.startswith("base64:") else raw
        assert text.rstrip("\x00") == expected
        assert et["RIFF:Title"] == "Harbour at dusk" and et["RIFF:Artist"] == "Li Wei"
    if HANDLER[fmt] == "aiff":
        et = exiftool_tags(scratch, out, ".aiff")
        assert "(AIGC) " + expected in [v for k, v in et.items() if k.endswith(":UserDefinedText")]

    # payload bytes are copied, not re-encoded
    if HANDLER[fmt] == "mp3":
        assert out[id3_size(out):] == src[id3_size(src):]
    elif HANDLER[fmt] in ("wav", "aiff"):
        big = HANDLER[fmt] == "aiff"
        payload = b"SSND" if big else b"data"
        before = {cid: body for cid, _, body in iff_chunks(src, big)}
        after = iff_chunks(out, big)
        assert {cid: body for cid, _, body in after}[payload] == before[payload]
        ids = [cid for cid, _, _ in after]
        record_chunk = b"ID3 " if big else b"AIGC"
        assert ids.index(record_chunk) < ids.index(payload)  # "file metadata in the header"
        assert struct.unpack(">I" if big else "<I", out[4:8])[0] == len(out) - 8
        for cid, body in before.items():  # every other chunk is kept as it was
            if cid not in (b"ID3 ",):
                assert {c: b for c, _, b in after}[cid] == body
    elif fmt == "flac":
        assert out[flac_blocks(out)[1]:] == src[flac_blocks(src)[1]:]
    else:
        headers = 3 if fmt == "ogg" else 2
        assert ogg_packets(out)[headers:] == ogg_packets(src)[headers:]
        assert ogg_packets(out)[0] == ogg_packets(src)[0]


@pytest.mark.parametrize("fmt", ["mp3", "mp3-v23", "wav", "flac", "ogg", "opus", "aiff"])
def test_marking_twice_replaces_the_record(fmt, scratch):
    once = mark(encode(scratch, fmt, seconds=0.3), "first-0001")
    twice = mark(once, "second-0002")
    assert the_label(twice).raw == record("second-0002")
    if HANDLER[fmt] != "wav":
        assert ffprobe_tags(scratch, twice)["AIGC"] == record("second-0002")
    assert pcm(scratch, twice) == pcm(scratch, once)


@pytest.mark.parametrize("fmt", ["mp3", "mp3-v23", "flac", "ogg", "opus", "aiff"])
def test_an_old_record_written_by_ffmpeg_is_replaced_not_doubled(fmt, scratch):
    old = '{"Label":"2","ContentProducer":"old","ProduceID":"old-1"}'
    src = encode(scratch, fmt, seconds=0.3, tags={"title": "T", "AIGC": old})
    assert [lab.raw for lab in aigclabel.inspect(src).labels] == [old]
    out = mark(src, "new-0001")
    assert the_label(out).raw == record("new-0001")
    assert ffprobe_tags(scratch, out)["title"] == "T"


# ------------------------------------------------------------------------------------------ MP3


def _png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("version", [3, 4])
def test_mp3_keeps_every_other_frame_and_the_tag_version(version, scratch):
    from mutagen.id3 import APIC, COMM, ID3, TXXX

    src = encode(scratch, "mp3" if version == 4 else "mp3-v23")
    tags = ID3(io.BytesIO(src), translate=False)
    enc = 3 if version == 4 else 1
    tags.add(APIC(encoding=enc, mime="image/png", type=3, desc="cover", data=_png_bytes()))
    tags.add(COMM(encoding=enc, lang="eng", desc="", text=["a comment"]))
    tags.add(TXXX(encoding=enc, desc="MOOD", text=["calm"]))
    tags.add(TXXX(encoding=enc, desc="aigc", text=['{"Label":"3","ContentProducer":"x","ProduceID":"y"}']))
    buf = io.BytesIO(src)
    tags.save(buf, v2_version=version)
    src = buf.getvalue()
    assert len(aigclabel.inspect(src).labels) == 1  # the lower-case description is a record too

    out = mark(src, "mp3-keep")
    assert out[id3_size(out):] == src[id3_size(src):]
    assert out[3] == version
    after = ID3(io.BytesIO(out), translate=False)
    assert after.version[:2] == (2, version)
    keys = lambda t: sorted(k for k in t.keys() if "AIGC" not in k.upper())  # noqa: E731
    assert keys(after) == keys(tags)
    for key in keys(tags):
        assert after[key] == tags[key], key
    assert after.getall("APIC")[0].data == _png_bytes()
    (txxx,) = [f for f in after.getall("TXXX") if "AIGC" in f.desc.upper()]
    assert txxx.desc == "AIGC" and txxx.text == [record("mp3-keep")]
    # the encoding byte of the TXXX frame: UTF-8 in v2.4, UTF-16 in v2.3
    at = out.index(b"TXXX", 10, id3_size(out))
    while out[at + 11:at + 11 + 4] not in (b"AIGC", b"A\x00I\x00", b"\xff\xfeA\x00"):
        at = out.index(b"TXXX", at + 1, id3_size(out))
    assert out[at + 10] == (3 if version == 4 else 1)
    exif = exiftool_tags(scratch, out, ".mp3")
    assert exif.get(f"ID3v2_{version}:Mood") == "calm" or exif.get(f"ID3v2_{version}:UserDefinedText")


def test_mp3_tag_that_fits_keeps_the_audio_in_place(scratch):
    src = encode(scratch, "mp3")
    once = mark(src, "p-0001")
    twice = mark(once, "p-0002")
    assert len(twice) == len(once) and id3_size(twice) == id3_size(once)
    assert twice[id3_size(twice):] == src[id3_size(src):]


def test_mp3_without_a_tag_is_found_by_frame_sync_and_gets_a_v24_tag(scratch):
    src = encode(scratch, "mp3-bare")
    assert src[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xe3")
    assert detect(src[:64]).name == "mp3"
    out = mark(src, "bare-0001")
    assert out[:4] == b"ID3\x04" and out[id3_size(out):] == src


def test_mp3_id3v22_tag_is_read_and_rewritten_as_v23(scratch):
    audio = encode(scratch, "mp3-bare", seconds=0.3)

    def frame22(fid: bytes, body: bytes) -> bytes:
        return fid + len(body).to_bytes(3, "big") + body

    frames = frame22(b"TT2", b"\x00Old title\x00") + frame22(b"TXX", b"\x00AIGC\x00" + record("v22").encode())
    size = len(frames) + 64
    ss = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    src = b"ID3\x02\x00\x00" + ss + frames + bytes(64) + audio
    (lab,) = aigclabel.inspect(src).labels
    assert lab.raw == record("v22")
    out = mark(src, "v22-new")
    assert out[3] == 3 and the_label(out).raw == record("v22-new")
    assert ffprobe_tags(scratch, out)["title"] == "Old title"
    assert out[id3_size(out):] == audio


def test_mp3_verify_reads_only_the_tag(scratch):
    # concatenated MPEG frames are a valid stream: 1 s of frames, 300 times, is a 5-minute file
    src = mark(encode(scratch, "mp3-bare", seconds=1) * 300, "big-mp3")
    assert len(src) > 2_000_000
    report = aigclabel.verify(src, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < id3_size(src) + 200


# ------------------------------------------------------------------------------------------ WAV


def _rich_wav(scratch: Path, **kw) -> bytes:
    """A WAV with LIST/INFO (from ffmpeg), a bext chunk, an odd-sized custom chunk and a chunk after data."""
    src = encode(scratch, "wav", **kw)
    bext = chunk(b"bext", b"A description".ljust(256, b"\x00") + bytes(346))
    odd = chunk(b"xyz1", b"odd")
    src = riff_with(src, [bext, odd])
    return riff_with(src, [chunk(b"cue ", struct.pack("<I", 0))], at_end=True)


def test_wav_chunks_are_kept_and_the_record_goes_before_data(scratch):
    src = _rich_wav(scratch)
    out = mark(src, "wav-rich")
    before, after = iff_chunks(src), iff_chunks(out)
    assert [c for c, _, _ in after] == [b"fmt ", b"LIST", b"bext", b"xyz1", b"AIGC", b"data", b"cue "]
    assert {c: b for c, _, b in after if c != b"AIGC"} == {c: b for c, _, b in before}
    (body,) = [b for c, _, b in after if c == b"AIGC"]
    assert body == record("wav-rich").encode()
    assert struct.unpack("<I", out[4:8])[0] == len(out) - 8
    aigc_off = next(off for c, off, _ in after if c == b"AIGC")
    assert (aigc_off - 12) % 2 == 0 and len(out) % 2 == 0
    assert pcm(scratch, out) == pcm(scratch, src)
    # an odd-length record gets its pad byte
    odd = mark(src, "wav-rich-odd1")
    assert len(record("wav-rich-odd1")) % 2 == 1
    (c, off, b) = next(x for x in iff_chunks(odd) if x[0] == b"AIGC")
    assert odd[off + 8 + len(b)] == 0 and the_label(odd).raw == record("wav-rich-odd1")


def test_wav_old_records_in_every_variant_become_one_chunk(scratch):
    from mutagen.id3 import ID3, TIT3, TXXX

    src = encode(scratch, "wav", seconds=0.3)
    id3 = ID3()
    id3.add(TXXX(encoding=3, desc="AIGC", text=[record("in-id3")]))
    id3.add(TIT3(encoding=3, text=["subtitle"]))
    buf = io.BytesIO()
    id3.save(buf, padding=lambda info: 0)
    info = b"INFO" + chunk(b"INAM", b"Named\x00") + chunk(b"AIGC", record("in-info").encode() + b"\x00")
    src = riff_with(src, [chunk(b"LIST", info), chunk(b"AIGC", record("old-chunk").encode())])
    src = riff_with(src, [chunk(b"id3 ", buf.getvalue())], at_end=True)
    found = aigclabel.inspect(src).labels
    assert sorted(lab.carrier for lab in found) == ["riff:AIGC", "riff:LIST/INFO:AIGC", "riff:id3:TXXX:AIGC"]
    report = aigclabel.verify(src, scope="implicit")
    assert report.verdict is Verdict.NONCOMPLIANT  # three disagreeing records

    out = mark(src, "one-0001")
    assert the_label(out).raw == record("one-0001")
    chunks = iff_chunks(out)
    assert [c for c, _, _ in chunks].count(b"AIGC") == 1
    lists = [b for c, _, b in chunks if c == b"LIST" and b[:4] == b"INFO"]
    assert len(lists) == 2  # ffmpeg's and ours, each keeping its other fields
    assert all(b"AIGC" not in b for b in lists) and any(b"Named" in b for b in lists)
    (id3_body,) = [b for c, _, b in chunks if c == b"id3 "]
    kept = ID3(io.BytesIO(id3_body))
    assert kept["TIT3"].text == ["subtitle"] and not kept.getall("TXXX:AIGC")
    assert pcm(scratch, out) == pcm(scratch, src)


def test_wav_record_after_data_is_reported_and_moved(scratch):
    src = riff_with(encode(scratch, "wav", seconds=0.3), [chunk(b"AIGC", record("late").encode())], at_end=True)
    (lab,) = aigclabel.inspect(src).labels
    assert lab.before_payload is False
    report = aigclabel.verify(src, scope="implicit")
    assert any(f.rule == "implicit.in-header" and f.level.value in ("warning", "error") for f in report.findings)
    out = mark(src, "moved")
    ids = [c for c, _, _ in iff_chunks(out)]
    assert ids.count(b"AIGC") == 1 and ids.index(b"AIGC") < ids.index(b"data")


def test_wav_verify_seeks_past_data(scratch):
    src = mark(encode(scratch, "wav", seconds=60, channels=1), "big-wav")
    assert len(src) > 5_000_000
    report = aigclabel.verify(src, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT and report.bytes_read < 2048


def test_rf64_is_read_and_writing_it_is_refused_clearly(scratch):
    path = scratch / "rf64.wav"
    run(FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=0.3", "-c:a", "pcm_s16le",
        "-rf64", "always", str(path))
    data = path.read_bytes()
    assert data[:4] == b"RF64"
    extra = chunk(b"AIGC", record("rf64").encode())
    data = bytearray(data + extra)
    riff64 = struct.unpack("<Q", data[20:28])[0]
    data[20:28] = struct.pack("<Q", riff64 + len(extra))
    (lab,) = aigclabel.inspect(bytes(data)).labels
    assert lab.raw == record("rf64") and lab.before_payload is False
    with pytest.raises(UnsupportedOperation, match="RF64"):
        mark(bytes(data))


# ------------------------------------------------------------------------------------------ FLAC


def test_flac_keeps_pictures_and_blocks_and_uses_padding(scratch):
    from mutagen.flac import FLAC, Picture

    path = to_file(scratch, encode(scratch, "flac"), ".flac")
    f = FLAC(path)
    pic = Picture()
    pic.type, pic.mime, pic.desc, pic.data = 3, "image/png", "cover", _png_bytes()
    f.add_picture(pic)
    f["GENRE"] = ["ambient"]
    f["aigc"] = ['{"Label":"3"}']
    f.save(padding=lambda info: 4096)
    src = path.read_bytes()
    out = mark(src, "flac-keep")
    blocks_in, audio_in = flac_blocks(src)
    blocks_out, audio_out = flac_blocks(out)
    # padding absorbed the growth: the audio frames did not move, and are the same bytes
    assert audio_out == audio_in and out[audio_out:] == src[audio_in:]
    assert [(t, b) for t, _, b in blocks_out if t not in (1, 4)] == [(t, b) for t, _, b in blocks_in if t not in (1, 4)]
    g = FLAC(io.BytesIO(out))
    assert g["AIGC"] == [record("flac-keep")] and g["GENRE"] == ["ambient"] and g["title"] == ["Harbour at dusk"]
    assert [k for k, _ in g.tags].count("AIGC") == 1 and "aigc" not in [k for k, _ in g.tags]
    assert g.pictures[0].data == _png_bytes()
    assert pcm(scratch, out) == pcm(scratch, src)


def test_flac_without_comment_block_gets_one(scratch):
    src = encode(scratch, "flac", seconds=0.3, tags={})
    blocks, audio = flac_blocks(src)
    # drop ffmpeg's comment block by hand
    kept = [(t, b) for t, _, b in blocks if t != 4]
    raw = b"fLaC" + b"".join(bytes([t | (0x80 if i == len(kept) - 1 else 0)]) + len(b).to_bytes(3, "big") + b
                             for i, (t, b) in enumerate(kept)) + src[audio:]
    assert aigclabel.inspect(raw).labels == []
    out = mark(raw, "flac-new")
    assert the_label(out).raw == record("flac-new")
    assert ffprobe_tags(scratch, out)["AIGC"] == record("flac-new")
    assert out[flac_blocks(out)[1]:] == src[audio:]


def test_flac_verify_reads_metadata_blocks_only(scratch):
    src = mark(encode(scratch, "flac", seconds=60, source="anoisesrc=color=white"), "big-flac")
    assert len(src) > 2_000_000
    report = aigclabel.verify(src, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT and report.bytes_read < 2048


# ------------------------------------------------------------------------------------------ Ogg


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_ogg_large_comment_header_spanning_pages(fmt, scratch):
    """Cover art in the comment header makes it span many pages; marking keeps audio packets and art."""
    from mutagen.flac import Picture
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    cls = OggVorbis if fmt == "ogg" else OggOpus
    path = to_file(scratch, encode(scratch, fmt, seconds=0.5), "." + fmt)
    f = cls(path)
    pic = Picture()
    pic.type, pic.mime, pic.data = 3, "image/png", _png_bytes() * 2000  # ~150 KB: about three pages
    f["METADATA_BLOCK_PICTURE"] = [base64.b64encode(pic.write()).decode()]
    f.save()
    src = path.read_bytes()
    out = mark(src, f"{fmt}-big")
    assert the_label(out).raw == record(f"{fmt}-big")
    g = cls(io.BytesIO(out))
    assert g["METADATA_BLOCK_PICTURE"] == f["METADATA_BLOCK_PICTURE"] and g["title"] == ["Harbour at dusk"]
    headers = 3 if fmt == "ogg" else 2
    assert ogg_packets(out)[headers:] == ogg_packets(src)[headers:]
    assert pcm(scratch, out) == pcm(scratch, src)


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_ogg_verify_reads_the_first_pages_only(fmt, scratch):
    src = mark(encode(scratch, fmt, seconds=40, source="anoisesrc=color=white", channels=2), f"{fmt}-long")
    assert len(src) > 300_000
    report = aigclabel.verify(src, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT and report.bytes_read < 16384


# ------------------------------------------------------------------------------------------ AIFF


def test_aiff_id3_chunk_after_ssnd_moves_before_it(scratch):
    src = encode(scratch, "aiff")
    ids = [c for c, _, _ in iff_chunks(src, True)]
    assert ids.index(b"ID3 ") > ids.index(b"SSND")  # where ffmpeg (and mutagen) put it
    assert aigclabel.inspect(src).labels == []
    out = mark(src, "aiff-0001")
    ids = [c for c, _, _ in iff_chunks(out, True)]
    assert ids.count(b"ID3 ") == 1 and ids.index(b"ID3 ") < ids.index(b"SSND")
    assert the_label(out).before_payload is True


def test_aiff_verify_seeks_past_ssnd(scratch):
    src = mark(encode(scratch, "aiff", seconds=60), "big-aiff")
    assert len(src) > 5_000_000
    assert aigclabel.verify(src, scope="implicit").bytes_read < 4096


# ------------------------------------------------------------------------------------------ detection


def test_detection_does_not_steal_other_formats():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "WEBP")
    assert detect(buf.getvalue()[:64]).name != "wav"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    assert detect(buf.getvalue()[:64]).name != "mp3"
    from aigclabel.formats.mp3 import Mp3Handler

    assert Mp3Handler.score("\ufeffhello".encode("utf-16-le")[:64]) == 0  # FF FE: a UTF-16 byte order mark
    assert Mp3Handler.score(b"\xff\xf1\x50\x80" + bytes(60)) == 0  # AAC ADTS
    assert Mp3Handler.score(b"RIFF\x00\x00\x00\x00AVI LIST") == 0
    assert 0 < Mp3Handler.score(b"\xff\xfb\x90\x64" + bytes(60)) < 50


# ------------------------------------------------------------------------------------------ bad input


def test_zero_length_file_is_an_input_error():
    with pytest.raises(InputError):
        aigclabel.verify(b"")
    with pytest.raises(InputError):
        mark(b"")


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "ogg", "opus", "aiff"])
def test_truncated_header_is_corrupt_file_and_input_is_untouched(fmt, scratch, tmp_path):
    src = mark(encode(scratch, fmt, seconds=0.3), "trunc")
    cut = {"mp3": id3_size(src) - 20, "wav": 60, "flac": 100, "ogg": 200, "opus": 120, "aiff": 40}[fmt]
    bad = src[:cut]
    path = tmp_path / f"bad.{fmt}"
    path.write_bytes(bad)
    with pytest.raises(CorruptFile):
        aigclabel.verify(path)
    with pytest.raises(CorruptFile):
        aigclabel.mark(path, tmp_path / f"out.{fmt}", producer=PRODUCER, explicit=False)
    assert path.read_bytes() == bad and not (tmp_path / f"out.{fmt}").exists()


def test_wav_lying_chunk_sizes_are_corrupt_file(scratch):
    src = encode(scratch, "wav", seconds=0.3)
    data_off = next(off for cid, off, _ in iff_chunks(src) if cid == b"data")
    too_big = bytearray(src)
    too_big[data_off + 4:data_off + 8] = struct.pack("<I", len(src))  # data runs past the end
    with pytest.raises(CorruptFile, match="data"):
        aigclabel.verify(bytes(too_big))
    fmt_off = next(off for cid, off, _ in iff_chunks(src) if cid == b"fmt ")
    misaligned = bytearray(src)
    misaligned[fmt_off + 4:fmt_off + 8] = struct.pack("<I", 19)  # the walk lands mid-chunk
    for op in (aigclabel.verify, mark):
        with pytest.raises(CorruptFile):
            op(bytes(misaligned))
    riff_lies = bytearray(src)
    riff_lies[4:8] = struct.pack("<I", len(src) + 1000)
    with pytest.raises(CorruptFile, match="truncated"):
        aigclabel.verify(bytes(riff_lies))


def test_ogg_bad_crc_and_mutagen_errors_are_corrupt_file(scratch):
    src = encode(scratch, "ogg", seconds=0.3)
    packets_start = 28 + 30 + 40  # inside the comment page
    bad = bytearray(src)
    bad[packets_start] ^= 0x55
    with pytest.raises(CorruptFile, match="CRC"):
        aigclabel.verify(bytes(bad))
    mp3 = mark(encode(scratch, "mp3", seconds=0.3), "m")
    frame = mp3.index(b"TXXX")
    broken = bytearray(mp3)
    broken[5] |= 0x80  # unsynchronisation flag on a tag that is not unsynchronised: mutagen may object
    broken[frame + 4:frame + 8] = b"\x7f\x7f\x7f\x7f"  # a frame size past the tag
    for op in (aigclabel.verify, mark):
        try:
            op(bytes(broken))
        except CorruptFile:
            pass


@pytest.mark.parametrize("fmt", ["mp3", "wav", "flac", "ogg", "opus", "aiff"])
def test_mark_file_to_file_matches_mark_in_memory(fmt, scratch, tmp_path):
    """The path-to-path route (kernel copy, mutagen on the temporary output file) gives the same bytes."""
    src = to_file(scratch, encode(scratch, fmt, seconds=0.3), ENCODERS[fmt][1])
    dest = tmp_path / f"out{ENCODERS[fmt][1]}"
    result = aigclabel.mark(src, dest, producer=PRODUCER, produce_id="path-0001", explicit=False)
    assert result.format == HANDLER[fmt] and not list(tmp_path.glob("*.aigctmp"))
    assert dest.read_bytes() == mark(src.read_bytes(), "path-0001")


def test_mp3_debris_of_a_damaged_frame_is_not_written_back(scratch):
    """A TXXX frame whose size was damaged leaves the old record as an unparsable "frame" called AIGC;
    mutagen would write it back and the new tag would carry two records (found by fuzzing)."""
    src = bytearray(encode(scratch, "mp3", seconds=0.3, tags={"title": "T", "AIGC": record("old")}))
    at = src.index(b"TXXX")
    src[at + 4:at + 8] = b"\x00\x00\x00\x01"
    out = mark(bytes(src), "after-debris")
    assert the_label(out).raw == record("after-debris")
    assert out.count(b"AIGC") == 1


@pytest.mark.parametrize("fmt", ["mp3", "flac", "opus"])
def test_generator_names_in_encoder_fields_are_traces(fmt, scratch):
    src = encode(scratch, fmt, seconds=0.3, tags={"title": "T", "comment": "made with Suno v4"})
    traces = aigclabel.inspect(src).traces
    assert [t.kind for t in traces] == ["generator-metadata"] and "Suno" in traces[0].detail
    plain = encode(scratch, fmt, seconds=0.3, tags={"title": "Sudoku", "comment": "Studio take"})
    assert aigclabel.inspect(plain).traces == []


# FLAC behind an ID3v2 tag (as c2pa-rs writes it) is read now: see tests/test_flac_id3.py.
