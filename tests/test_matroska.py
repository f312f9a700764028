"""Real-file tests of the MKV / WebM (global SimpleTag ``AIGC``), AVI (``LIST/INFO/AIGC``) and FLV
(``onMetaData.AIGC``) handlers.

Files are made by ffmpeg (H.264 + AAC in MKV, VP9 + Opus in WebM, live WebM and piped MKV with an
unknown-size Segment, MPEG-4 + MP3 in AVI, FLV with ``-metadata AIGC=...``); other variants are
built or edited with the small EBML walker/writer below, which shares no code with aigclabel
(Tags after the Clusters, unknown-size Clusters, records in non-normative places, Cluster
``Position`` elements under a CRC-32, a second SeekHead).  Every marked file is checked with
independent readers: ffprobe (``format.tags.AIGC``), a full ffmpeg decode, identical packets
(``framemd5`` of a stream copy), identical Cluster bytes, and this file's walker for the layout:
valid CRC-32 elements, SeekHead and Cues positions that land on the elements they name.
"""

from __future__ import annotations

import functools
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

import aigclabel
from aigclabel.errors import AigcLabelError, CorruptFile, InputError, UnsupportedOperation
from aigclabel.formats import detect, register
from aigclabel.formats.flv import FlvHandler
from aigclabel.formats.matroska import MkvHandler, WebmHandler
from aigclabel.formats.riff_avi import AviHandler
from aigclabel.report import Verdict

from conftest import PRODUCER, record_json

# The registry lines for these handlers belong to formats/__init__.py; registering here is a no-op
# once they are there.
for _h in (MkvHandler, WebmHandler, AviHandler, FlvHandler):
    register(_h)

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(FFMPEG is None or FFPROBE is None,
                                reason="ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg); "
                                       "these tests make their files with it")

NORMATIVE = "matroska:Tags/SimpleTag:AIGC"
TITLE = "Harbour at dusk"
SRC = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine=frequency=440",
       "-t", "2"]
VARIANTS: dict[str, tuple[list[str], str, str]] = {
    "mkv": (SRC + ["-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-c:a", "aac"], ".mkv", "mkv"),
    "webm": (SRC + ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "5", "-c:a", "libopus"],
             ".webm", "webm"),
    "webm-live": (SRC + ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus",
                         "-f", "webm", "-live", "1"], ".webm", "webm"),
    "mkv-pipe": (SRC + ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "matroska"], ".mkv", "mkv"),
}
PIPED = {"webm-live", "mkv-pipe"}


def run(*args: str) -> bytes:
    proc = subprocess.run(list(args), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mkv")


_counter = iter(range(1_000_000))


def to_file(scratch: Path, data: bytes, suffix: str = ".mkv") -> Path:
    path = scratch / f"f{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


@functools.lru_cache(maxsize=None)
def _make(scratch: Path, variant: str, extra: tuple[str, ...] = ()) -> bytes:
    args, suffix, _ = VARIANTS[variant]
    if variant in PIPED:
        return run(FFMPEG, "-v", "error", *args, "-metadata", f"title={TITLE}", *extra, "pipe:1")
    out = scratch / f"gen-{variant}-{abs(hash(extra))}{suffix}"
    run(FFMPEG, "-v", "error", "-y", *args, "-metadata", f"title={TITLE}", *extra, str(out))
    return out.read_bytes()


def make(scratch: Path, variant: str, *extra: str) -> bytes:
    return _make(scratch, variant, tuple(extra))


def mark(data: bytes, produce_id: str = "video-0001") -> bytes:
    return aigclabel.mark(data, producer=PRODUCER, produce_id=produce_id, explicit=False)


def ffprobe_tags(scratch: Path, data: bytes, suffix: str = ".mkv") -> dict[str, str]:
    out = json.loads(run(FFPROBE, "-v", "error", "-show_format", "-of", "json", str(to_file(scratch, data, suffix))))
    return out["format"].get("tags", {})


def decodes(scratch: Path, data: bytes, suffix: str = ".mkv") -> None:
    proc = subprocess.run([FFMPEG, "-v", "error", "-err_detect", "crccheck", "-i", str(to_file(scratch, data, suffix)),
                           "-f", "null", "-"], capture_output=True, timeout=120)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


def packets(scratch: Path, data: bytes, suffix: str = ".mkv") -> bytes:
    return run(FFMPEG, "-v", "error", "-i", str(to_file(scratch, data, suffix)), "-map", "0", "-c", "copy",
               "-f", "framemd5", "-")


def the_label(data: bytes):
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    assert len(report.labels) == 1, report.labels
    return report.labels[0]


# ------------------------------------------------------------------------------------------ an independent EBML walker

SEGMENT, CLUSTER, TAGS, CUES, SEEKHEAD, VOID, CRC = (0x18538067, 0x1F43B675, 0x1254C367, 0x1C53BB6B, 0x114D9B74,
                                                     0xEC, 0xBF)
LEVEL1 = {0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1F43B675, 0x1C53BB6B, 0x1941A469, 0x1043A770, 0x1254C367}
MASTERS = {SEGMENT, SEEKHEAD, 0x4DBB, 0x1549A966, 0x1654AE6B, 0xAE, 0xE0, 0xE1, CLUSTER, 0xA0, CUES, 0xBB, 0xB7,
           TAGS, 0x7373, 0x63C0, 0x67C8}


def read_id(b: bytes, p: int) -> tuple[int, int]:
    n = 1
    while not b[p] & (0x80 >> (n - 1)):
        n += 1
    return int.from_bytes(b[p:p + n], "big"), n


def read_size(b: bytes, p: int) -> tuple[int | None, int]:
    n = 1
    while not b[p] & (0x80 >> (n - 1)):
        n += 1
    v = int.from_bytes(b[p:p + n], "big") & ((1 << (7 * n)) - 1)
    return (None if v == (1 << (7 * n)) - 1 else v), n


def elems(b: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(id, offset, header size, data size) of the elements in [start, end); unknown sizes resolved."""
    out, p = [], start
    while p < end:
        eid, n = read_id(b, p)
        size, m = read_size(b, p + n)
        if size is None:  # a Cluster (or the Segment): up to the next level-1 element
            q = p + n + m
            while q < end:
                cid, k = read_id(b, q)
                if cid in LEVEL1:
                    break
                csize, j = read_size(b, q + k)
                q += k + j + csize
            size = q - (p + n + m)
        out.append((eid, p, n + m, size))
        p += n + m + size
    return out


def segment(b: bytes) -> tuple[int, int, int]:
    """(offset, data offset, end) of the Segment."""
    _, off, head, size = elems(b, 0, 64)[0]
    seg_id, n = read_id(b, off + head + size)
    assert seg_id == SEGMENT
    size2, m = read_size(b, off + head + size + n)
    start = off + head + size
    data = start + n + m
    return start, data, (len(b) if size2 is None else data + size2)


def level1(b: bytes) -> list[tuple[int, int, int, int]]:
    _, data, end = segment(b)
    return elems(b, data, end)


def kids(b: bytes, e: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    return elems(b, e[1] + e[2], e[1] + e[2] + e[3])


def body(b: bytes, e: tuple[int, int, int, int]) -> bytes:
    return b[e[1] + e[2]:e[1] + e[2] + e[3]]


def uint(b: bytes, e: tuple[int, int, int, int]) -> int:
    return int.from_bytes(body(b, e), "big")


def crc_problems(b: bytes, e: tuple[int, int, int, int], depth: int = 0) -> list[str]:
    """CRC-32 elements (first child of a master) whose value does not match the data after them."""
    out = []
    if e[0] not in MASTERS or e[0] == SEGMENT and depth:
        return out
    ks = kids(b, e)
    if ks and ks[0][0] == CRC:
        c = ks[0]
        rest = b[c[1] + c[2] + c[3]:e[1] + e[2] + e[3]]
        if struct.unpack("<I", body(b, c))[0] != zlib.crc32(rest):
            out.append(f"bad CRC in element {e[0]:X} at {e[1]}")
    for k in ks:
        if k[0] in MASTERS and k[0] not in (CLUSTER,):
            out += crc_problems(b, k, depth + 1)
    return out


def check_layout(b: bytes) -> dict[str, Any]:
    """Structural invariants of a Matroska file; returns facts for further asserts."""
    _, data, _ = segment(b)
    top = level1(b)
    starts = {off: eid for eid, off, _h, _s in top}
    for e in top:
        if e[0] == CLUSTER:
            ks = kids(b, e)
            if ks and ks[0][0] == CRC:
                rest = b[ks[0][1] + ks[0][2] + 4:e[1] + e[2] + e[3]]
                assert struct.unpack("<I", body(b, ks[0]))[0] == zlib.crc32(rest), f"bad Cluster CRC at {e[1]}"
            for k in ks:
                if k[0] == 0xA7:  # Position
                    assert uint(b, k) == e[1] - data, "Cluster Position does not match where it is"
        else:
            assert not crc_problems(b, e), crc_problems(b, e)
    for sh in [e for e in top if e[0] == SEEKHEAD]:
        for seek in kids(b, sh):
            if seek[0] != 0x4DBB:
                continue
            f = {k[0]: k for k in kids(b, seek)}
            target = int.from_bytes(body(b, f[0x53AB]), "big")
            at = data + uint(b, f[0x53AC])
            assert starts.get(at) == target, f"SeekHead entry {target:X} points at {at}, which holds {starts.get(at)}"
    for cues in [e for e in top if e[0] == CUES]:
        for cp in kids(b, cues):
            for tp in [k for k in kids(b, cp) if k[0] == 0xB7]:
                for k in kids(b, tp):
                    if k[0] == 0xF1:
                        assert starts.get(data + uint(b, k)) == CLUSTER, "a CueClusterPosition misses its Cluster"
    tags = [e for e in top if e[0] == TAGS]
    first_cluster = next((e[1] for e in top if e[0] == CLUSTER), None)
    return {"top": top, "tags": tags, "first_cluster": first_cluster, "data": data}


def clusters(b: bytes) -> list[bytes]:
    return [b[e[1]:e[1] + e[2] + e[3]] for e in level1(b) if e[0] == CLUSTER]


def simple_tags(b: bytes) -> list[tuple[str, str, list[int]]]:
    """(name, value, target UIDs) of every top-level SimpleTag."""
    out = []
    for t in [e for e in level1(b) if e[0] == TAGS]:
        for tag in [k for k in kids(b, t) if k[0] == 0x7373]:
            uids = []
            for k in kids(b, tag):
                if k[0] == 0x63C0:
                    uids = [uint(b, x) for x in kids(b, k) if x[0] in (0x63C5, 0x63C9, 0x63C4, 0x63C6)]
            for s in [k for k in kids(b, tag) if k[0] == 0x67C8]:
                f = {x[0]: x for x in kids(b, s)}
                name = body(b, f[0x45A3]).decode()
                value = body(b, f[0x4487] if 0x4487 in f else f[0x4485]).decode()
                out.append((name, value, uids))
    return out


# a tiny EBML writer for the hand-made variants


def vsize(n: int, width: int | None = None) -> bytes:
    w = width or next(k for k in range(1, 9) if n < (1 << (7 * k)) - 1)
    return ((1 << (7 * w)) | n).to_bytes(w, "big")


def el(eid: int, payload: bytes, width: int | None = None) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + vsize(len(payload), width) + payload


def u(eid: int, v: int, width: int = 0) -> bytes:
    return el(eid, v.to_bytes(max(width, (v.bit_length() + 7) // 8 or 1), "big"))


def s(eid: int, text: str) -> bytes:
    return el(eid, text.encode())


def crc(payload: bytes) -> bytes:
    return el(CRC, struct.pack("<I", zlib.crc32(payload))) + payload


def simple(name: str, value: str, *, binary: bool = False, nested: bytes = b"") -> bytes:
    return el(0x67C8, s(0x45A3, name) + s(0x4485 if binary else 0x4487, value) + nested)


def tag(*simples: bytes, track: int | None = None, ttv: int | None = None) -> bytes:
    targets = (u(0x68CA, ttv) if ttv is not None else b"") + (u(0x63C5, track) if track else b"")
    return el(0x7373, el(0x63C0, targets) + b"".join(simples))


def synthetic(*, tags_at_end: bool = True, position: bool = True, with_crc: bool = True, second_seekhead: bool = True,
              header_void: int = 0, tags: bytes | None = None) -> bytes:
    """A small Matroska file built by hand: SeekHead, Info, Tracks, three Clusters (Timestamp, Position,
    CRC-32, fake SimpleBlocks), Cues, a second SeekHead and Tags after the Clusters."""
    ebml = el(0x1A45DFA3, u(0x4286, 1) + u(0x42F7, 1) + u(0x42F2, 4) + u(0x42F3, 8) + s(0x4282, "matroska")
              + u(0x4287, 4) + u(0x4285, 2))
    info = el(0x1549A966, u(0x2AD7B1, 1_000_000) + el(0x4489, struct.pack(">d", 3000.0)) + s(0x4D80, "handmade")
              + s(0x5741, "handmade"))
    tracks = el(0x1654AE6B, el(0xAE, u(0xD7, 1) + u(0x73C5, 77) + u(0x83, 1) + s(0x86, "V_MS/VFW/FOURCC")
                               + el(0xE0, u(0xB0, 64) + u(0xBA, 48))))
    tags_el = el(TAGS, tags if tags is not None else tag(simple("TITLE", TITLE), simple("ENCODER", "handmade 1.0")))
    seekhead_len = 2 * 70
    head = [info, tracks] + ([] if tags_at_end else [tags_el])
    if header_void:
        head.append(el(VOID, bytes(header_void - 9), 8))

    def cluster(i: int, pos: int) -> bytes:
        block = el(0xA3, b"\x81\x00\x00\x80" + bytes([i]) * 300)
        inner = u(0xE7, i * 1000) + (u(0xA7, pos, 8) if position else b"") + block + block
        return el(CLUSTER, crc(inner) if with_crc else inner, 8)

    # positions: lay out once with a fixed-size SeekHead, then fill it in
    def build(seek_positions: dict[int, int]) -> tuple[bytes, dict[int, int], list[int]]:
        entries = b"".join(el(0x4DBB, el(0x53AB, t.to_bytes(4, "big")) + u(0x53AC, p, 8))
                           for t, p in sorted(seek_positions.items()))
        sh = el(SEEKHEAD, entries, 8)
        sh += el(VOID, bytes(seekhead_len - len(sh) - 9), 8)
        pos = len(sh)
        where = {}
        for piece in head:
            if piece[0] != VOID:
                where[int.from_bytes(piece[:4], "big")] = pos
            pos += len(piece)
        cl_pos = []
        cls = b""
        for i in range(3):
            cl_pos.append(pos + len(cls))
            cls += cluster(i, pos + len(cls))
        pos += len(cls)
        cues = el(CUES, b"".join(el(0xBB, u(0xB3, i * 1000) + el(0xB7, u(0xF7, 1) + u(0xF1, p)))
                                 for i, p in enumerate(cl_pos)))
        where[CUES] = pos
        tail = cues
        pos += len(cues)
        if tags_at_end:
            where[TAGS] = pos
            tail += tags_el
            pos += len(tags_el)
        if second_seekhead:
            tail += el(SEEKHEAD, b"".join(el(0x4DBB, el(0x53AB, CLUSTER.to_bytes(4, "big")) + u(0x53AC, p, 4))
                                          for p in cl_pos))
        return sh + b"".join(head) + cls + tail, where, cl_pos

    _, where, _ = build({0x1549A966: 0, 0x1654AE6B: 0, CUES: 0, TAGS: 0})
    payload, _, _ = build(where)
    return ebml + struct.pack(">I", SEGMENT) + vsize(len(payload), 8) + payload


# ------------------------------------------------------------------------------------------ detection & reading


def test_detection() -> None:
    assert detect(make_head("matroska")).name == "mkv"
    assert detect(make_head("webm")).name == "webm"
    assert detect(make_head("something")).name == "mkv"  # an EBML file of another DocType: the generic handler
    assert detect(b"RIFF\x00\x00\x00\x00AVI LIST").name == "avi"
    assert detect(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00").name == "flv"


def make_head(doctype: str) -> bytes:
    return el(0x1A45DFA3, u(0x4286, 1) + s(0x4282, doctype)) + struct.pack(">I", SEGMENT) + b"\x01" + bytes(7)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_read_what_ffmpeg_writes(scratch: Path, variant: str) -> None:
    rec = record_json("ffmpeg-0001")
    data = make(scratch, variant, "-metadata", f"AIGC={rec}")
    found = aigclabel.inspect(data)
    assert found.format == VARIANTS[variant][2] and found.kind == "video"
    (lab,) = found.labels
    assert (lab.carrier, lab.raw, lab.normative, lab.before_payload) == (NORMATIVE, rec, True, True)
    assert found.info["tracks"] == ["video", "audio"]
    assert (found.info["width"], found.info["height"]) == (160, 120)
    assert found.info["unknown_sizes"] is (variant in PIPED)
    assert aigclabel.verify(data, scope="implicit").verdict is Verdict.COMPLIANT


def test_audio_only_matroska_is_audio(scratch: Path) -> None:
    out = scratch / "a.mka"
    run(FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "libopus", str(out))
    found = aigclabel.inspect(out.read_bytes())
    assert found.format == "mkv" and found.kind == "audio" and found.info["tracks"] == ["audio"]


# ------------------------------------------------------------------------------------------ marking


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mark_round_trip(scratch: Path, variant: str) -> None:
    _args, suffix, name = VARIANTS[variant]
    src = make(scratch, variant, "-metadata", "COMMENT=kept")
    out = mark(src)
    rec = record_json("video-0001")
    lab = the_label(out)
    assert (lab.carrier, lab.raw, lab.normative, lab.before_payload) == (NORMATIVE, rec, True, True)
    assert aigclabel.inspect(out).format == name

    # independent readers: the record and the old tags, a clean decode (CRCs checked), the same packets
    tags = ffprobe_tags(scratch, out, suffix)
    assert tags["AIGC"] == rec
    assert tags["title"] == TITLE and tags["COMMENT"] == "kept"
    decodes(scratch, out, suffix)
    assert packets(scratch, out, suffix) == packets(scratch, src, suffix)

    # layout: one Tags element before the Clusters, every position and CRC right, Cluster bytes unchanged
    facts = check_layout(out)
    (tags_el,) = facts["tags"]
    assert tags_el[1] < facts["first_cluster"]
    assert clusters(out) == clusters(src)
    names = [(n, v) for n, v, uids in simple_tags(out) if not uids]
    assert ("AIGC", rec) in names and ("COMMENT", "kept") in names
    assert len(out) - len(src) < 4096 or len(src) > (16 << 20)


def test_second_mark_moves_nothing(scratch: Path) -> None:
    first = mark(make(scratch, "mkv"), "first-0001")
    second = mark(first, "second-000000000000000000000000000000001")
    assert len(second) == len(first)
    assert [e[1] for e in level1(second) if e[0] == CLUSTER] == [e[1] for e in level1(first) if e[0] == CLUSTER]
    # everything from the first Cluster on is byte-identical: the header's padding took the change
    fc = check_layout(first)["first_cluster"]
    assert second[fc:] == first[fc:]
    assert the_label(second).raw == record_json("second-000000000000000000000000000000001")


def test_header_void_absorbs_the_tags(scratch: Path) -> None:
    """A writer's Void before the Clusters takes the new Tags: no Cluster moves, Cues untouched."""
    src = synthetic(tags_at_end=False, header_void=1500, position=False)
    out = mark(src)
    assert len(out) == len(src)
    fc = check_layout(out)["first_cluster"]
    assert fc == check_layout(src)["first_cluster"] and out[fc:] == src[fc:]


def test_tags_after_the_clusters_move_into_the_header() -> None:
    src = synthetic()  # Tags after the Clusters, a second SeekHead listing the Clusters, Position + CRC-32
    out = mark(src)
    facts = check_layout(out)  # CRCs, Cluster Positions, both SeekHeads and the Cues all follow the move
    (tags_el,) = facts["tags"]
    assert tags_el[1] < facts["first_cluster"]
    assert len([e for e in facts["top"] if e[0] == VOID]) >= 2  # the old Tags became a Void; the header pad
    names = [(n, v) for n, v, _u in simple_tags(out)]
    assert names[-3:] == [("TITLE", TITLE), ("ENCODER", "handmade 1.0"), ("AIGC", record_json("video-0001"))] \
        or set(names) == {("TITLE", TITLE), ("ENCODER", "handmade 1.0"), ("AIGC", record_json("video-0001"))}
    # the blocks are unchanged; only the Position values (and the CRCs over them) differ
    strip = [b"".join(body(c, k) for k in kids(c, elems(c, 0, len(c))[0]) if k[0] == 0xA3) for c in clusters(out)]
    assert strip == [b"".join(body(c, k) for k in kids(c, elems(c, 0, len(c))[0]) if k[0] == 0xA3)
                     for c in clusters(src)]
    assert the_label(out).normative


def test_unknown_size_clusters(scratch: Path) -> None:
    """Live WebM with unknown-size Clusters (rewritten here from ffmpeg's output)."""
    src = make(scratch, "webm-live")
    _, data, _ = segment(src)
    edited = bytearray(src)
    for e in level1(src):
        if e[0] == CLUSTER:
            width = e[2] - 4
            # the marker bit and all value bits set: "unknown size"
            edited[e[1] + 4:e[1] + 4 + width] = ((1 << (7 * width)) | ((1 << (7 * width)) - 1)).to_bytes(width, "big")
    edited = bytes(edited)
    assert aigclabel.inspect(edited).info["unknown_sizes"]
    out = mark(edited)
    assert ffprobe_tags(scratch, out, ".webm")["AIGC"] == record_json("video-0001")
    decodes(scratch, out, ".webm")
    assert packets(scratch, out, ".webm") == packets(scratch, src, ".webm")


def test_records_in_other_places_are_read_and_replaced() -> None:
    rec = record_json("old-0001")
    tags = (tag(simple("TITLE", TITLE), simple("AIGC", rec, nested=simple("AIGC_NOTE", rec)))
            + tag(simple("AIGC", rec), track=77)
            + tag(simple("AIGC", rec, binary=True), ttv=30)
            + tag(simple("AIGC_LABEL", rec), simple("COMMENT", rec), simple("DESCRIPTION", "made with Midjourney")))
    src = synthetic(tags=tags, tags_at_end=False, position=False)
    found = aigclabel.inspect(src)
    carriers = sorted((lab.carrier, lab.normative) for lab in found.labels)
    assert carriers == sorted([
        (NORMATIVE, True),
        ("matroska:Tags/SimpleTag:AIGC/AIGC_NOTE", False),
        ("matroska:Tags/SimpleTag:AIGC (track target)", False),
        ("matroska:Tags/SimpleTag:AIGC (TargetTypeValue 30) (TagBinary)", False),
        ("matroska:Tags/SimpleTag:AIGC_LABEL", False),
        ("matroska:Tags/SimpleTag:COMMENT", False),
    ])
    assert any("Midjourney" in t.detail for t in found.traces)
    report = aigclabel.verify(src, scope="implicit")
    assert report.verdict is Verdict.NONCOMPLIANT  # more than one record
    out = mark(src)
    assert the_label(out).normative
    names = [n for n, _v, _u in simple_tags(out)]
    assert names.count("AIGC") == 1 and "TITLE" in names and "DESCRIPTION" in names
    assert "COMMENT" not in names and "AIGC_LABEL" not in names
    check_layout(out)


def test_verification_reads_little(scratch: Path) -> None:
    src = run(FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25,noise=alls=60:allf=t",
              "-t", "4", "-c:v", "mpeg4", "-q:v", "2", "-f", "matroska", "-metadata", "title=big", "pipe:1")
    assert len(src) > 2_000_000
    out = mark(src)
    path = to_file(scratch, out)
    report = aigclabel.verify(path, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT
    assert report.bytes_read < 64 * 1024, report.bytes_read


# ------------------------------------------------------------------------------------------ bad input


def test_empty_and_truncated(scratch: Path) -> None:
    with pytest.raises(AigcLabelError):
        aigclabel.inspect(b"")
    src = make(scratch, "mkv")
    facts = check_layout(src)
    for cut in (10, 40, 60, facts["first_cluster"] - 5, facts["first_cluster"] + 100, len(src) - 3):
        with pytest.raises(CorruptFile):
            aigclabel.inspect(src[:cut])
        with pytest.raises(CorruptFile):
            mark(src[:cut])


def test_lying_sizes(scratch: Path) -> None:
    src = bytearray(make(scratch, "mkv"))
    start, data, _ = segment(bytes(src))
    bad = bytearray(src)
    bad[start + 4:data] = vsize(len(src) * 2, data - start - 4)  # the Segment claims more than the file holds
    with pytest.raises(CorruptFile):
        aigclabel.inspect(bytes(bad))
    tags_el = [e for e in level1(bytes(src)) if e[0] == TAGS][0]
    bad = bytearray(src)
    # Tags runs past the file
    bad[tags_el[1] + 4:tags_el[1] + tags_el[2]] = vsize((1 << (7 * (tags_el[2] - 4))) - 2, tags_el[2] - 4)
    with pytest.raises(CorruptFile):
        aigclabel.inspect(bytes(bad))
    bad = bytearray(src)
    bad[tags_el[1] + tags_el[2]] = 0x00  # an invalid EBML ID inside Tags
    with pytest.raises(CorruptFile):
        aigclabel.inspect(bytes(bad))


# ------------------------------------------------------------------------------------------ AVI


@functools.lru_cache(maxsize=None)
def avi(scratch: Path) -> bytes:
    out = scratch / "a.avi"
    run(FFMPEG, "-v", "error", "-y", *SRC, "-c:v", "mpeg4", "-c:a", "libmp3lame", "-metadata", f"title={TITLE}",
        str(out))
    return out.read_bytes()


def riff(b: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    out, p = [], start
    while p + 8 <= end:
        cid, size = struct.unpack("<4sI", b[p:p + 8])
        out.append((cid, p, size))
        p += 8 + size + (size & 1)
    return out


def test_avi_mark_in_place(scratch: Path) -> None:
    src = avi(scratch)
    assert aigclabel.inspect(src).labels == []
    out = mark(src)
    assert len(out) == len(src)
    lab = the_label(out)
    assert (lab.carrier, lab.normative, lab.before_payload) == ("riff:LIST/INFO:AIGC", True, True)
    tags = ffprobe_tags(scratch, out, ".avi")
    assert tags["AIGC"] == record_json("video-0001") and tags["title"] == TITLE
    decodes(scratch, out, ".avi")
    assert packets(scratch, out, ".avi") == packets(scratch, src, ".avi")
    top = riff(out, 12, len(out))
    movi = next(c for c in top if out[c[1] + 8:c[1] + 12] == b"movi")
    assert out[movi[1]:] == src[movi[1]:]  # the media and the index did not move
    info = next(c for c in top if out[c[1] + 8:c[1] + 12] == b"INFO")
    subs = {cid: out[p + 8:p + 8 + size] for cid, p, size in riff(out, info[1] + 12, info[1] + 8 + info[2])}
    assert subs[b"AIGC"] == record_json("video-0001").encode() and subs[b"INAM"].rstrip(b"\0") == TITLE.encode()
    # marked again: still one record, still in place
    again = mark(out, "again-0001")
    assert len(again) == len(src) and the_label(again).raw == record_json("again-0001")


def test_avi_without_padding_is_refused(scratch: Path) -> None:
    src = avi(scratch)
    top = riff(src, 12, len(src))
    junk = next(c for c in top if c[0] == b"JUNK")
    info = next(c for c in top if src[c[1] + 8:c[1] + 12] == b"INFO")
    # turn the JUNK padding into an unknown chunk: nothing may be overwritten now
    no_pad = src[:junk[1]] + b"abcd" + src[junk[1] + 4:]
    with pytest.raises(UnsupportedOperation):
        mark(no_pad)
    # a record in an INFO sub-chunk with another name, and a top-level AIGC chunk: both read, both non-normative
    rec = record_json("avi-0001")
    sub = b"ICMT" + struct.pack("<I", len(rec)) + rec.encode() + (b"\0" if len(rec) & 1 else b"")
    body_ = src[info[1] + 12:info[1] + 8 + info[2]] + sub
    new_info = b"LIST" + struct.pack("<I", 4 + len(body_)) + b"INFO" + body_
    grown = src[:info[1]] + new_info + src[info[1] + 8 + info[2]:junk[1]] + \
        b"JUNK" + struct.pack("<I", junk[2] - len(sub)) + bytes(junk[2] - len(sub)) + src[junk[1] + 8 + junk[2]:]
    assert len(grown) == len(src)
    found = aigclabel.inspect(grown)
    assert [(lab.carrier, lab.normative) for lab in found.labels] == [("riff:LIST/INFO:ICMT", False)]
    out = mark(grown)
    assert the_label(out).carrier == "riff:LIST/INFO:AIGC"


def test_avi_bad_input(scratch: Path) -> None:
    src = avi(scratch)
    with pytest.raises(InputError):  # too short to be told from other RIFF files: not claimed at all
        aigclabel.inspect(src[:11])
    for cut in (30, 5000, len(src) // 2):
        with pytest.raises(CorruptFile):
            aigclabel.inspect(src[:cut])
    with pytest.raises(CorruptFile):
        aigclabel.inspect(src[:12] + b"\xff\xff\xff\xff" * 4)


# ------------------------------------------------------------------------------------------ FLV


def flv(scratch: Path, *extra: str) -> bytes:
    out = scratch / f"f{next(_counter)}.flv"
    run(FFMPEG, "-v", "error", "-y", *SRC, "-c:v", "flv1", "-c:a", "libmp3lame", "-ar", "44100", *extra, str(out))
    return out.read_bytes()


def test_flv_read(scratch: Path) -> None:
    rec = record_json("flv-0001")
    data = flv(scratch, "-metadata", f"AIGC={rec}", "-metadata", "comment=made with Stable Diffusion")
    found = aigclabel.inspect(data)
    assert found.format == "flv" and found.kind == "video"
    (lab,) = found.labels
    assert (lab.carrier, lab.raw, lab.normative, lab.before_payload) == ("flv:onMetaData:AIGC", rec, True, True)
    assert (found.info["width"], found.info["height"]) == (160, 120)
    assert any("Stable Diffusion" in t.detail for t in found.traces)
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT and report.bytes_read < 4096
    with pytest.raises(UnsupportedOperation):
        mark(data)


def test_flv_bad_input(scratch: Path) -> None:
    data = flv(scratch, "-metadata", f"AIGC={record_json()}")
    with pytest.raises(InputError):
        aigclabel.inspect(data[:5])
    for cut in (12, 30, 200):
        with pytest.raises(CorruptFile):
            aigclabel.inspect(data[:cut])
    bad = bytearray(data)
    bad[13 + 11] = 0x99  # an unknown AMF0 type where "onMetaData" starts
    with pytest.raises(CorruptFile):
        aigclabel.inspect(bytes(bad))
