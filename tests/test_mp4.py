"""Real-file tests of the MP4 / MOV / M4A handler (implicit label in ``moov/udta/meta``, ``mdta`` keys).

Files are made by ffmpeg (AAC in M4A, H.264 + AAC in MP4 and MOV, moov at the end or first with
``+faststart``, fragmented, with ``-moov_size`` padding, with ``use_metadata_tags`` keys), other
variants by mutagen (iTunes freeform ``----:com.apple.iTunes:AIGC``, ``©too``) or by the small box
walker below (a bare ``moov/meta``, XMP ``uuid`` boxes, a 2 GB sparse file, broken sizes).  Every
marked file is checked with independent readers: ffprobe (``format.tags.AIGC``), exiftool
(``Keys:AIGC``), a full ffmpeg decode without errors, identical packets (``framemd5`` of a stream
copy), identical ``mdat`` bytes, and this file's own walker for the box layout.
"""

from __future__ import annotations

import functools
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
from aigclabel.formats._bmff import Box, BytesSource
from aigclabel.formats.mp4 import Track, _chunk_edits, _chunk_table, _Layout
from aigclabel.report import Level, Verdict

from conftest import PRODUCER, record_json, xmp_packet

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(FFMPEG is None or FFPROBE is None,
                                reason="ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg); "
                                       "the MP4 tests make their files with it")

NORMATIVE = "mp4:moov/udta/meta:mdta:AIGC"
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
TITLE = "Harbour at dusk"

VIDEO = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac"]
#: name -> (ffmpeg arguments, suffix, handler, content kind, moov before mdat)
VARIANTS: dict[str, tuple[list[str], str, str, str, bool]] = {
    "m4a": (AUDIO, ".m4a", "m4a", "audio", False),
    "m4a-faststart": (AUDIO + ["-movflags", "+faststart"], ".m4a", "m4a", "audio", True),
    "mp4": (VIDEO, ".mp4", "mp4", "video", False),
    "mp4-faststart": (VIDEO + ["-movflags", "+faststart"], ".mp4", "mp4", "video", True),
    "mov": (VIDEO, ".mov", "mp4", "video", False),
    "mov-faststart": (VIDEO + ["-movflags", "+faststart"], ".mov", "mp4", "video", True),
    "mp4-fragmented": (VIDEO + ["-movflags", "frag_keyframe+empty_moov", "-g", "10"], ".mp4", "mp4", "video", True),
    "mp4-padded": (VIDEO + ["-moov_size", "20000"], ".mp4", "mp4", "video", True),
    "mp4-keys": (VIDEO + ["-movflags", "+faststart+use_metadata_tags", "-metadata", "com.example.note=kept"],
                 ".mp4", "mp4", "video", True),
    "mp4-audio-only": (AUDIO, ".mp4", "mp4", "audio", False),
}


def run(*args: str) -> bytes:
    proc = subprocess.run(list(args), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mp4")


_counter = iter(range(1_000_000))


def to_file(scratch: Path, data: bytes, suffix: str = ".mp4") -> Path:
    path = scratch / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


@functools.lru_cache(maxsize=None)
def _make(scratch: Path, variant: str, extra: tuple[str, ...] = ()) -> bytes:
    args, suffix, *_ = VARIANTS[variant]
    out = scratch / f"gen-{variant}-{abs(hash(extra))}{suffix}"
    run(FFMPEG, "-v", "error", "-y", *args, "-metadata", f"title={TITLE}", *extra, str(out))
    return out.read_bytes()


def make(scratch: Path, variant: str, *extra: str) -> bytes:
    return _make(scratch, variant, tuple(extra))


def mark(data: bytes, produce_id: str = "video-0001") -> bytes:
    return aigclabel.mark(data, producer=PRODUCER, produce_id=produce_id, explicit=False)


def ffprobe_tags(scratch: Path, data: bytes, suffix: str = ".mp4") -> dict[str, str]:
    out = json.loads(run(FFPROBE, "-v", "error", "-show_format", "-of", "json", str(to_file(scratch, data, suffix))))
    return out["format"].get("tags", {})


def exiftool_tags(scratch: Path, data: bytes, suffix: str = ".mp4") -> dict[str, Any]:
    if EXIFTOOL is None:
        pytest.skip("exiftool is not installed (Debian/Ubuntu: apt-get install libimage-exiftool-perl)")
    (tags,) = json.loads(run(EXIFTOOL, "-j", "-G1", "-a", "-u", str(to_file(scratch, data, suffix))))
    return tags


def decode_errors(scratch: Path, data: bytes, suffix: str = ".mp4") -> str:
    proc = subprocess.run([FFMPEG, "-v", "error", "-i", str(to_file(scratch, data, suffix)), "-f", "null", "-"],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.decode(errors="replace")


def packets(scratch: Path, data: bytes, suffix: str = ".mp4") -> bytes:
    """An MD5 of every audio and video packet (stream copy), as ffmpeg demuxes them."""
    return run(FFMPEG, "-v", "error", "-i", str(to_file(scratch, data, suffix)), "-map", "0", "-c", "copy",
               "-f", "framemd5", "-")


# ------------------------------------------------------------------------------------------ an independent walker

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"ilst", b"moof", b"traf", b"mfra"}


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int, int]]:
    """(type, offset, size, header size) of the boxes in ``[start, end)``."""
    end = len(data) if end is None else end
    out, pos = [], start
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
            head = 16
        elif size == 0:
            size = end - pos
        if btype == b"uuid":
            head += 16
        assert size >= head, (btype, pos, size)
        out.append((btype, pos, size, head))
        pos += size
    return out


def children(data: bytes, box: tuple[bytes, int, int, int]) -> list[tuple[bytes, int, int, int]]:
    btype, off, size, head = box
    skip = 0
    if btype == b"meta" and data[off + head + 4:off + head + 8] != b"hdlr":
        skip = 4  # a full box (QuickTime's moov/meta may lack version and flags)
    return boxes(data, off + head + skip, off + size)


def find(data: bytes, *path: bytes) -> list[tuple[bytes, int, int, int]]:
    level = boxes(data)
    found: list[tuple[bytes, int, int, int]] = []
    for i, name in enumerate(path):
        found = [b for b in level if b[0] == name]
        if i < len(path) - 1:
            level = [c for b in found for c in children(data, b)]
    return found


def payload(data: bytes, box: tuple[bytes, int, int, int]) -> bytes:
    return data[box[1] + box[3]:box[1] + box[2]]


def mdat_bytes(data: bytes) -> bytes:
    return b"".join(payload(data, b) for b in boxes(data) if b[0] == b"mdat")


def top_order(data: bytes) -> list[bytes]:
    return [b[0] for b in boxes(data)]


def chunk_offsets(data: bytes) -> list[list[int]]:
    out = []
    for table in find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco") + \
            find(data, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"co64"):
        body = payload(data, table)
        (count,) = struct.unpack(">I", body[4:8])
        fmt = ">%dI" if table[0] == b"stco" else ">%dQ"
        out.append(list(struct.unpack(fmt % count, body[8:8 + count * (4 if table[0] == b"stco" else 8)])))
    return sorted(out)


def mdta_keys(data: bytes, *where: bytes) -> dict[str, list[tuple[int, bytes]]]:
    """key name -> [(data type, value)] of the mdta meta(s) under *where* (default moov/udta)."""
    out: dict[str, list[tuple[int, bytes]]] = {}
    for meta in find(data, *(where or (b"moov", b"udta")), b"meta"):
        kids = children(data, meta)
        hdlr = [payload(data, k) for k in kids if k[0] == b"hdlr"]
        if not hdlr or hdlr[0][8:12] != b"mdta":
            continue
        keys_body = next(payload(data, k) for k in kids if k[0] == b"keys")
        names, pos = [], 8
        for _ in range(struct.unpack(">I", keys_body[4:8])[0]):
            size = struct.unpack(">I", keys_body[pos:pos + 4])[0]
            assert keys_body[pos + 4:pos + 8] == b"mdta"
            names.append(keys_body[pos + 8:pos + size].decode())
            pos += size
        ilst = next(k for k in kids if k[0] == b"ilst")
        for item in children(data, ilst):
            name = names[int.from_bytes(item[0], "big") - 1]
            for d in boxes(data, item[1] + item[3], item[1] + item[2]):
                body = payload(data, d)
                out.setdefault(name, []).append((int.from_bytes(body[:4], "big"), body[8:]))
                assert body[4:8] == b"\x00\x00\x00\x00", "locale must be 0"
    return out


def meta_handlers(data: bytes) -> list[bytes]:
    """The handler types of the metas in moov/udta, in order."""
    return [payload(data, k)[8:12] for m in find(data, b"moov", b"udta", b"meta")
            for k in children(data, m) if k[0] == b"hdlr"]


def box(btype: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), btype) + body


def replace_moov(data: bytes, new_moov: bytes) -> bytes:
    """*data* (moov after mdat, so no chunk offset moves) with its moov box replaced."""
    (moov,) = find(data, b"moov")
    assert moov[1] > find(data, b"mdat")[0][1], "only for files whose moov comes last"
    return data[:moov[1]] + new_moov + data[moov[1] + moov[2]:]


def moov_with(data: bytes, *, drop: bytes | None = None, add: bytes = b"", udta_add: bytes = b"") -> bytes:
    """A new moov from *data*'s: child boxes of type *drop* removed, *add* appended, *udta_add* added to udta."""
    (moov,) = find(data, b"moov")
    parts = []
    for kid in children(data, moov):
        raw = data[kid[1]:kid[1] + kid[2]]
        if kid[0] == drop:
            continue
        if kid[0] == b"udta" and udta_add:
            raw = box(b"udta", payload(data, kid) + udta_add)
        parts.append(raw)
    return box(b"moov", b"".join(parts) + add)


def the_label(data: bytes):
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    assert len(report.labels) == 1, report.labels
    return report.labels[0]


# ------------------------------------------------------------------------------------------ detection


def test_detection_by_brand_does_not_fight_heif() -> None:
    def head(major: bytes, *compat: bytes) -> bytes:
        body = major + b"\x00\x00\x02\x00" + b"".join(compat)
        return box(b"ftyp", body) + b"\x00\x00\x00\x08free"

    assert detect(head(b"isom", b"isom", b"iso2", b"avc1", b"mp41")).name == "mp4"
    assert detect(head(b"qt  ", b"qt  ")).name == "mp4"
    assert detect(head(b"M4A ", b"M4A ", b"isom")).name == "m4a"
    assert detect(head(b"zzzz", b"M4A ")).name == "m4a"  # the major brand decides first
    assert detect(head(b"3gp5", b"3gp5")).name == "mp4"
    assert detect(head(b"dash", b"iso6")).name == "mp4"
    for brand in (b"heic", b"mif1", b"msf1", b"avif", b"avis"):
        assert detect(head(brand, b"mif1", brand)).name == "heif", brand
    assert detect(head(b"zzzz", b"mif1", b"heic")).name == "heif"
    assert detect(head(b"zzzz", b"zzzz")).name == "mp4"  # an unknown brand: still a movie
    # ftyp-less QuickTime
    assert detect(struct.pack(">I4s", 1000, b"moov") + bytes(56)).name == "mp4"
    assert detect(struct.pack(">I4s", 8, b"wide") + struct.pack(">I4s", 100, b"mdat")).name == "mp4"


@pytest.mark.parametrize("variant", ["m4a", "mp4", "mp4-audio-only", "mov", "mp4-fragmented"])
def test_kind_and_info(scratch: Path, variant: str) -> None:
    _args, _suffix, handler, kind, before = VARIANTS[variant]
    found = aigclabel.inspect(make(scratch, variant))
    assert found.format == handler
    assert found.kind == kind  # from the tracks: only sound tracks -> audio
    assert found.labels == []
    info = found.info
    assert info["moov_before_media"] is before
    if kind == "video":
        assert (info["width"], info["height"]) == (320, 240)
        assert info["tracks"] == ["vide", "soun"]
    else:
        assert "width" not in info and info["tracks"] == ["soun"]
    if variant != "mp4-fragmented":  # an empty_moov file has no duration in mvhd
        assert info["duration"] == pytest.approx(2.0 if kind == "video" else 1.0, abs=0.1)
    assert info["container"] == ("quicktime" if variant == "mov" else "mp4")


# ------------------------------------------------------------------------------------------ marking


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mark_round_trip(scratch: Path, variant: str) -> None:
    _args, suffix, handler, kind, before = VARIANTS[variant]
    src = make(scratch, variant)
    out = mark(src)
    rec = record_json("video-0001")

    # our reader: one normative record, in the header when moov comes first
    lab = the_label(out)
    assert (lab.carrier, lab.raw, lab.normative) == (NORMATIVE, rec, True)
    assert lab.before_payload is before
    assert aigclabel.inspect(out).kind == kind

    # independent readers see the record and the old tags
    tags = ffprobe_tags(scratch, out, suffix)
    assert tags["AIGC"] == rec
    assert tags["title"] == TITLE
    if variant == "mp4-keys":
        assert tags["com.example.note"] == "kept"
    et = exiftool_tags(scratch, out, suffix)
    assert et["Keys:AIGC"] == rec
    assert TITLE in [v for k, v in et.items() if k.endswith(":Title")]

    # the structure is what ffmpeg's use_metadata_tags writes: hdlr mdta, key AIGC, a UTF-8 data atom
    assert mdta_keys(out)["AIGC"] == [(1, rec.encode())]
    if variant == "mp4-keys":
        keys = mdta_keys(out)
        assert keys["com.example.note"] == [(1, b"kept")] and keys["title"] == [(1, TITLE.encode())]
        assert len(find(out, b"moov", b"udta", b"meta")) == 1  # merged into ffmpeg's meta

    # the media is untouched: mdat bytes, packets, a clean full decode; moov stays where it was
    assert mdat_bytes(out) == mdat_bytes(src)
    assert packets(scratch, out, suffix) == packets(scratch, src, suffix)
    assert decode_errors(scratch, out, suffix) == ""
    order = [t for t in top_order(out) if t not in (b"free", b"skip")]
    assert order == [t for t in top_order(src) if t not in (b"free", b"skip")]

    # chunk offsets moved by exactly the distance mdat moved
    shift = find(out, b"mdat")[0][1] - find(src, b"mdat")[0][1]
    if variant == "mp4-padded":
        assert shift == 0  # the free box after moov absorbed the growth
    elif before:
        assert shift > 0
    else:
        assert shift == 0
    assert chunk_offsets(out) == [[o + shift for o in table] for table in chunk_offsets(src)]
    if variant == "mp4-fragmented":  # absolute offsets outside moov follow their moof boxes
        moofs = {b[1] for b in boxes(out) if b[0] == b"moof"}
        assert moofs and fragment_offsets(out) == moofs
        assert len(fragment_offsets(src)) == len(moofs)


def fragment_offsets(data: bytes) -> set[int]:
    """Every tfhd base data offset and tfra moof offset (ffmpeg points both at moof boxes)."""
    out = set()
    for traf in find(data, b"moof", b"traf"):
        for kid in children(data, traf):
            body = payload(data, kid)
            if kid[0] == b"tfhd" and int.from_bytes(body[1:4], "big") & 1:
                out.add(int.from_bytes(body[8:16], "big"))
    for tfra in find(data, b"mfra", b"tfra"):
        body = payload(data, tfra)
        width = 8 if body[0] == 1 else 4
        sizes = int.from_bytes(body[8:12], "big")
        extra = ((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3
        pos = 16
        for _ in range(int.from_bytes(body[12:16], "big")):
            out.add(int.from_bytes(body[pos + width:pos + 2 * width], "big"))
            pos += 2 * width + extra
    return out


def test_layout_matches_ffmpeg(scratch: Path) -> None:
    """Byte for byte, the new meta is what ffmpeg writes for -metadata AIGC=... use_metadata_tags."""
    rec = record_json("video-0001")
    ours = mark(make(scratch, "mp4", "-metadata", "title="))
    theirs = make(scratch, "mp4", "-metadata", "title=", "-metadata", f"AIGC={rec}", "-movflags", "use_metadata_tags")

    def parts(data: bytes) -> tuple[bytes, bytes, bytes]:
        (meta,) = [m for m in find(data, b"moov", b"udta", b"meta")
                   if any(payload(data, k)[8:12] == b"mdta" for k in children(data, m) if k[0] == b"hdlr")]
        kids = {k[0]: data[k[1]:k[1] + k[2]] for k in children(data, meta)}
        keys = kids[b"keys"]
        at = keys.index(b"mdtaAIGC") - 4
        entry = keys[at:at + 12]
        item = next(data[i[1]:i[1] + i[2]] for i in children(data, next(k for k in children(data, meta)
                                                                        if k[0] == b"ilst"))
                    if rec.encode() in data[i[1]:i[1] + i[2]])
        return kids[b"hdlr"], entry, item[8:]  # the item's data box (its type is the key index)

    assert data_full_meta(ours) and data_full_meta(theirs)
    assert parts(ours) == parts(theirs)


def data_full_meta(data: bytes) -> bool:
    """udta/meta is a full box (4 bytes of version and flags before hdlr)."""
    (meta,) = [m for m in find(data, b"moov", b"udta", b"meta")][-1:]
    return data[meta[1] + 8:meta[1] + 12] == b"\x00\x00\x00\x00" and data[meta[1] + 16:meta[1] + 20] == b"hdlr"


@pytest.mark.parametrize("variant", ["mp4-faststart", "m4a"])
def test_remarking_replaces_the_record(scratch: Path, variant: str) -> None:
    suffix = VARIANTS[variant][1]
    once = mark(make(scratch, variant), "first-0001")
    twice = mark(once, "later-0002")
    lab = the_label(twice)
    assert lab.raw == record_json("later-0002")
    assert mdta_keys(twice)["AIGC"] == [(1, record_json("later-0002").encode())]
    assert meta_handlers(twice) == meta_handlers(once) == [b"mdir", b"mdta"]  # no second mdta meta
    assert ffprobe_tags(scratch, twice, suffix)["AIGC"] == record_json("later-0002")
    assert [k for k in exiftool_tags(scratch, twice, suffix) if "AIGC" in k.upper()] == ["Keys:AIGC"]
    # the same record length: the moov keeps its size, nothing moves the second time
    assert len(twice) == len(once)
    assert packets(scratch, twice, suffix) == packets(scratch, make(scratch, variant), suffix)


def test_old_record_key_replaced_in_ffmpeg_meta(scratch: Path) -> None:
    old = record_json("old-0001")
    src = make(scratch, "mp4-faststart", "-metadata", f"AIGC={old}", "-movflags", "+use_metadata_tags",
               "-metadata", "com.example.AIGC.copy=" + old)
    found = aigclabel.inspect(src)
    assert sorted(lab.carrier for lab in found.labels) == [
        "mp4:moov/udta/meta:mdta:AIGC", "mp4:moov/udta/meta:mdta:com.example.AIGC.copy"]
    out = mark(src, "new-0002")
    assert the_label(out).raw == record_json("new-0002")
    keys = mdta_keys(out)
    assert "com.example.AIGC.copy" not in keys and keys["AIGC"] == [(1, record_json("new-0002").encode())]
    assert keys["title"] == [(1, TITLE.encode())] and "encoder" in keys
    tags = ffprobe_tags(scratch, out)
    assert tags["AIGC"] == record_json("new-0002") and tags["title"] == TITLE
    assert packets(scratch, out) == packets(scratch, src)


def test_shrinking_moov_leaves_a_free_box(scratch: Path) -> None:
    """A long old record replaced by a short one: moov shrinks, a free box fills the gap, nothing moves."""
    src = make(scratch, "mp4-faststart", "-metadata", "AIGC=" + record_json("x" * 300), "-movflags",
               "+use_metadata_tags")
    out = mark(src, "short")
    assert find(out, b"mdat")[0][1] == find(src, b"mdat")[0][1]
    assert top_order(out)[:3] == [b"ftyp", b"moov", b"free"]
    assert chunk_offsets(out) == chunk_offsets(src)
    assert the_label(out).raw == record_json("short")
    assert packets(scratch, out) == packets(scratch, src)


def test_itunes_meta_kept_beside_the_new_one(scratch: Path) -> None:
    """ffmpeg's default output keeps tags in an iTunes-style (mdir) meta: it stays, the record gets its own."""
    src = make(scratch, "m4a-faststart", "-metadata", "artist=Li Wei")
    out = mark(src)
    metas = find(out, b"moov", b"udta", b"meta")
    assert meta_handlers(out) == [b"mdir", b"mdta"]
    (old_meta,) = find(src, b"moov", b"udta", b"meta")
    assert out[metas[0][1]:metas[0][1] + metas[0][2]] == src[old_meta[1]:old_meta[1] + old_meta[2]]
    tags = ffprobe_tags(scratch, out, ".m4a")
    assert (tags["title"], tags["artist"], tags["AIGC"]) == (TITLE, "Li Wei", record_json("video-0001"))
    et = exiftool_tags(scratch, out, ".m4a")
    assert et["ItemList:Title"] == TITLE and et["ItemList:Artist"] == "Li Wei"
    assert et["Keys:AIGC"] == record_json("video-0001")
    from mutagen.mp4 import MP4

    assert MP4(to_file(scratch, out, ".m4a"))["\xa9nam"] == [TITLE]


def test_itunes_freeform_record_is_read_and_replaced(scratch: Path) -> None:
    from mutagen.mp4 import MP4, MP4FreeForm

    path = to_file(scratch, make(scratch, "m4a"), ".m4a")
    tags = MP4(path)
    tags["----:com.apple.iTunes:AIGC"] = [MP4FreeForm(record_json("itunes").encode())]
    tags.save()
    src = path.read_bytes()
    (lab,) = aigclabel.inspect(src).labels
    assert lab.carrier == "mp4:moov/udta/meta:----:com.apple.iTunes:AIGC"
    assert (lab.raw, lab.normative) == (record_json("itunes"), False)
    report = aigclabel.verify(src, scope="implicit")
    assert any(f.rule == "implicit.carrier" and f.level.value == "warning" for f in report.findings)

    out = mark(src)
    assert the_label(out).raw == record_json("video-0001")
    marked = MP4(to_file(scratch, out, ".m4a"))
    assert "----:com.apple.iTunes:AIGC" not in marked and marked["\xa9nam"] == [TITLE]
    assert [k for k in exiftool_tags(scratch, out, ".m4a") if "AIGC" in k.upper()] == ["Keys:AIGC"]
    assert packets(scratch, out, ".m4a") == packets(scratch, src, ".m4a")


def test_generator_trace_in_encoding_tool(scratch: Path) -> None:
    from mutagen.mp4 import MP4

    path = to_file(scratch, make(scratch, "mp4"))
    tags = MP4(path)
    tags["\xa9too"] = ["Kling AI 1.6"]
    tags.save()
    found = aigclabel.inspect(path)
    assert [t.kind for t in found.traces] == ["generator-metadata"]
    assert "Kling" in found.traces[0].detail


@pytest.mark.parametrize("order", ["after-udta", "before-udta", "no-udta"])
def test_bare_moov_meta_is_read_and_cleaned(scratch: Path, order: str) -> None:
    """iPhone-style: mdta keys in a bare moov/meta, QuickTime-style (no version/flags); ffmpeg names
    every ilst item by the first 'keys' box it meets, so the new udta meta must not break those."""
    src = make(scratch, "mov")
    make_key = b"com.apple.quicktime.make"
    keys = box(b"keys", struct.pack(">II", 0, 2) + struct.pack(">I4s", 12, b"mdta") + b"AIGC"
               + struct.pack(">I4s", 8 + len(make_key), b"mdta") + make_key)
    items = box(b"ilst", box(struct.pack(">I", 1),
                             box(b"data", struct.pack(">II", 1, 0) + record_json("bare").encode()))
                + box(struct.pack(">I", 2), box(b"data", struct.pack(">II", 1, 0) + b"Apple")))
    hdlr = box(b"hdlr", bytes(8) + b"mdta" + bytes(12) + b"\x00")
    bare = box(b"meta", hdlr + keys + items)
    if order == "after-udta":
        moov = moov_with(src, add=bare)
    elif order == "no-udta":
        moov = moov_with(src, drop=b"udta", add=bare)
    else:
        (old,) = find(src, b"moov")
        kids = [src[k[1]:k[1] + k[2]] for k in children(src, old)]
        moov = box(b"moov", b"".join(kids[:-1]) + bare + kids[-1])  # udta is ffmpeg's last child
    data = replace_moov(src, moov)
    assert ffprobe_tags(scratch, data, ".mov")["AIGC"] == record_json("bare")  # a real reader agrees
    (lab,) = aigclabel.inspect(data).labels
    assert (lab.carrier, lab.normative) == ("mp4:moov/meta:mdta:AIGC", False)

    out = mark(data)
    assert the_label(out).carrier == NORMATIVE
    assert mdta_keys(out, b"moov") == {"com.apple.quicktime.make": [(1, b"Apple")]}  # renumbered to 1
    assert mdta_keys(out)["AIGC"] == [(1, record_json("video-0001").encode())]
    moov_kids = [k[0] for k in children(out, find(out, b"moov")[0])]
    assert moov_kids.index(b"udta") < moov_kids.index(b"meta")
    tags = ffprobe_tags(scratch, out, ".mov")
    assert tags["AIGC"] == record_json("video-0001")
    assert tags["com.apple.quicktime.make"] == "Apple"
    if order != "no-udta":
        assert tags["title"] == TITLE
    et = exiftool_tags(scratch, out, ".mov")
    assert et["Keys:AIGC"] == record_json("video-0001") and et["Keys:Make"] == "Apple"
    assert packets(scratch, out, ".mov") == packets(scratch, src, ".mov")

    # marking again keeps one copy of the item-less prefix: keys are [make, AIGC], not [make, make, AIGC]
    again = mark(out, "again-0002")
    (udta_meta,) = [mt for mt in find(again, b"moov", b"udta", b"meta")
                    if any(payload(again, k)[8:12] == b"mdta" for k in children(again, mt) if k[0] == b"hdlr")]
    keys_body = next(payload(again, k) for k in children(again, udta_meta) if k[0] == b"keys")
    assert struct.unpack(">I", keys_body[4:8])[0] == 2 and keys_body.count(make_key) == 1
    assert ffprobe_tags(scratch, again, ".mov")["AIGC"] == record_json("again-0002")


@pytest.mark.parametrize("place", ["top-level", "udta", "udta-XMP_"])
def test_xmp_record_is_read_and_removed(scratch: Path, place: str) -> None:
    src = make(scratch, "mp4")
    packet = xmp_packet(record=record_json("xmp"))
    if place == "top-level":
        data = src + box(b"uuid", XMP_UUID + packet)  # after moov: nothing moves
    elif place == "udta":
        data = replace_moov(src, moov_with(src, udta_add=box(b"uuid", XMP_UUID + packet)))
    else:
        data = replace_moov(src, moov_with(src, udta_add=box(b"XMP_", packet)))
    (lab,) = aigclabel.inspect(data).labels
    assert (lab.carrier, lab.raw, lab.normative) == ("xmp:TC260:AIGC", record_json("xmp"), False)
    if place != "udta":
        et = exiftool_tags(scratch, data)
        assert et.get("XMP-dc:Title") == TITLE

    out = mark(data)
    assert the_label(out).carrier == NORMATIVE
    et = exiftool_tags(scratch, out)
    if place != "udta":
        assert et.get("XMP-dc:Title") == TITLE  # the packet stays, without the record
    assert not [k for k in et if "AIGC" in k.upper() and k != "Keys:AIGC"]
    assert b"TC260:AIGC" not in out and mdat_bytes(out) == mdat_bytes(src)
    assert packets(scratch, out) == packets(scratch, src)


def test_quicktime_text_atom_record_is_read_and_removed(scratch: Path) -> None:
    src = make(scratch, "mov")
    text = record_json("qt").encode()
    atom = box(b"\xa9cmt", struct.pack(">HH", len(text), 0x55C4) + text)
    data = replace_moov(src, moov_with(src, udta_add=atom + b"\x00\x00\x00\x00"))  # with the 32-bit terminator
    (lab,) = aigclabel.inspect(data).labels
    assert (lab.carrier, lab.normative) == ("mp4:moov/udta:©cmt", False)
    out = mark(data)
    assert the_label(out).carrier == NORMATIVE
    assert find(out, b"moov", b"udta", b"\xa9cmt") == []
    assert ffprobe_tags(scratch, out, ".mov")["title"] == TITLE
    assert packets(scratch, out, ".mov") == packets(scratch, src, ".mov")


def test_unsupported_cases_are_refused_clearly(scratch: Path) -> None:
    # media kept in another file (a dref entry without the self-contained flag) cannot be told apart
    src = bytearray(make(scratch, "mp4-faststart"))
    for dref in find(bytes(src), b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref"):
        entry = dref[1] + dref[3] + 8
        assert src[entry + 4:entry + 8] == b"url "
        src[entry + 11] = 0  # flags: not in this file
    with pytest.raises(UnsupportedOperation, match="another file"):
        mark(bytes(src))
    # a compressed movie header cannot take metadata; reading says why nothing was found
    plain = make(scratch, "mp4")
    data = replace_moov(plain, box(b"moov", box(b"cmov", box(b"dcom", b"zlib"))))
    found = aigclabel.inspect(data)
    assert found.labels == [] and any("cmov" in f.message for f in found.findings)
    with pytest.raises(UnsupportedOperation, match="compressed"):
        mark(data)


# ------------------------------------------------------------------------------------------ reading by seeking


def test_two_gigabyte_file_with_moov_at_the_end_is_read_by_seeking(scratch: Path) -> None:
    """A 2 GB sparse file (no disk cost): ftyp, a 2 GB mdat, then a marked moov; verify reads < 1 MB."""
    small = mark(make(scratch, "mp4"))
    (mdat,) = find(small, b"mdat")
    (moov,) = find(small, b"moov")
    big_mdat = 2 << 30
    path = scratch / "sparse-2g.mp4"
    with open(path, "wb") as fh:
        fh.write(small[:mdat[1]] + struct.pack(">I4s", big_mdat, b"mdat") + payload(small, mdat))
        fh.truncate(mdat[1] + big_mdat)
        fh.seek(mdat[1] + big_mdat)
        fh.write(small[moov[1]:moov[1] + moov[2]])
    assert path.stat().st_size > big_mdat
    report = aigclabel.verify(path, scope="implicit")
    assert report.bytes_read is not None and report.bytes_read < 1 << 20, report.bytes_read
    assert [lab.raw for lab in report.labels] == [record_json("video-0001")]
    assert aigclabel.inspect(path).info["width"] == 320


def test_stco_widens_to_co64_past_4_gib() -> None:
    """Chunk offsets that would pass 2**32 after the shift turn the stco into a co64."""
    offsets = [0x100, 0xFFFFFFF0]
    stco = box(b"stco", struct.pack(">II", 0, 2) + struct.pack(">2I", *offsets))
    m = BytesSource(stco, 40)
    table = Box(b"stco", 40, len(stco), 8)
    moov = Box(b"moov", 32, 100, 8)
    mdat = Box(b"mdat", 132, 0x1_0000_0000, 16)
    layout = _Layout([Box(b"ftyp", 0, 32, 8), moov, mdat], {32: bytes(164)}, {})  # moov grows by 64
    widened: set[int] = set()
    edits = _chunk_edits(m, [(Track(moov, track_id=1), table, _chunk_table(m, table))], layout, widened)
    new = edits[40]
    assert new[4:8] == b"co64" and widened == {40}
    assert struct.unpack(">2Q", new[16:]) == (0x100 + 64, 0xFFFFFFF0 + 64)


# ------------------------------------------------------------------------------------------ bad input


def corrupt_variants(src: bytes) -> dict[str, bytes]:
    (moov,) = find(src, b"moov")
    (mdat,) = find(src, b"mdat")
    trak = find(src, b"moov", b"trak")[0]
    lying = bytearray(src)
    struct.pack_into(">I", lying, mdat[1], mdat[2] + 1000)  # mdat claims more than the file holds
    small = bytearray(src)
    struct.pack_into(">I", small, trak[1], 4)  # a box smaller than its own header
    nested = bytearray(src)
    struct.pack_into(">I", nested, trak[1], moov[2] + 100)  # a trak longer than its moov
    return {
        "truncated-no-moov": src[:moov[1] + 100],
        "truncated-in-mdat": src[:mdat[1] + 500],
        "lying-mdat-size": bytes(lying),
        "box-smaller-than-header": bytes(small),
        "nested-exceeds-parent": bytes(nested),
        "ftyp-only": src[:find(src, b"ftyp")[0][2]],
    }


@pytest.mark.parametrize("case", ["truncated-no-moov", "truncated-in-mdat", "lying-mdat-size",
                                  "box-smaller-than-header", "nested-exceeds-parent", "ftyp-only"])
def test_bad_input_is_a_typed_error(scratch: Path, case: str) -> None:
    data = corrupt_variants(make(scratch, "mp4"))[case]
    with pytest.raises(CorruptFile) as info:
        aigclabel.verify(data)
    message = str(info.value)
    if case.startswith("truncated") or case == "ftyp-only":
        assert "moov" in message and ("truncated" in message or "no 'moov'" in message), message
    src = to_file(scratch, data)
    dest = scratch / f"never-{case}.mp4"
    with pytest.raises(CorruptFile):
        aigclabel.mark(src, dest, producer=PRODUCER, explicit=False)
    assert not dest.exists() and src.read_bytes() == data


def test_empty_file(scratch: Path) -> None:
    with pytest.raises(InputError):
        aigclabel.verify(b"")


# ------------------------------------------------------------------------------------------ fuzzing


def test_large_shift_is_padded_to_an_aligned_free_box(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When much media must move, a free box pads the shift to 64 KiB (a fast kernel copy); a second
    mark then fits in that free box and moves nothing."""
    from aigclabel.formats import mp4

    monkeypatch.setattr(mp4, "ALIGN_FROM", 0)  # treat the small test movie as a large one
    src = make(scratch, "mp4-faststart")
    once = mark(src, "first-0001")
    shift = find(once, b"mdat")[0][1] - find(src, b"mdat")[0][1]
    assert shift > 0 and shift % mp4.SHIFT_ALIGN == 0
    assert top_order(once)[:3] == [b"ftyp", b"moov", b"free"]
    assert chunk_offsets(once) == [[o + shift for o in t] for t in chunk_offsets(src)]
    assert packets(scratch, once) == packets(scratch, src) and decode_errors(scratch, once) == ""
    twice = mark(once, "longer-id-0002")  # the moov grows again: the free box absorbs it
    assert find(twice, b"mdat")[0][1] == find(once, b"mdat")[0][1]
    assert chunk_offsets(twice) == chunk_offsets(once)
    assert the_label(twice).raw == record_json("longer-id-0002")
    assert packets(scratch, twice) == packets(scratch, src)


def test_moov_after_mdat_is_the_files_layout_not_a_misplaced_record(tmp_path: Path) -> None:
    # issue 14 item 15: ffmpeg writes moov after mdat by default; marking keeps that layout (metadata only), and
    # verify must not then warn about a layout we chose to keep: the MP4 carrier is the movie box wherever it is
    src = tmp_path / "last.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10:duration=0.5", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src)],
                   check=True)
    out = tmp_path / "marked.mp4"
    aigclabel.mark_file(src, out, producer=PRODUCER, explicit=False)
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_format", "-of", "json", str(out)],
                                      capture_output=True, text=True, check=True).stdout)
    assert "AIGC" in probe["format"]["tags"]
    report = aigclabel.verify(out, scope="implicit")
    header = [f for f in report.findings if f.rule == "implicit.in-header"]
    assert [f.level for f in header] == [Level.INFO] and "movie box" in header[0].message
    assert report.verdict is Verdict.COMPLIANT
