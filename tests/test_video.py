"""The visible video label (explicit/video/) and its check (rules/explicit_video.py), on real files.

Source clips are made by ffmpeg: H.264 with B-frames + AAC in MP4 and MKV, VP9 + Opus in WebM,
MPEG-4 Part 2 in MP4 (no splicing: re-encoded whole), a rotated MP4.  Independent checks: ffprobe
(codec, size, pixel format, frame rate, the AIGC tag), a full ffmpeg decode, ``framemd5`` of the
audio packets (unchanged) and of the video packets after the re-encoded span (unchanged), pixels
decoded by ffmpeg and measured here with numpy (ink height, where the label is and for how long).
OCR (the ``[ocr]`` extra) reads the label through the verifier.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aigclabel
from aigclabel.errors import LabelError, UnsupportedOperation
from aigclabel.marking import mark_file
from aigclabel.report import Level, Verdict

from conftest import PRODUCER, record_json

np = pytest.importorskip("numpy")
pytest.importorskip("av", reason="PyAV is not installed (pip install 'aigclabel[audio]')")

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(FFMPEG is None or FFPROBE is None,
                                reason="ffmpeg is not installed (Debian/Ubuntu: apt-get install ffmpeg)")

W, H = 320, 240
FPS = 10
SRC = ["-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=440"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", str(FPS)]
CLIPS: dict[str, tuple[list[str], str]] = {
    "mp4": (X264 + ["-c:a", "aac"], ".mp4"),
    "mkv": (X264 + ["-c:a", "aac"], ".mkv"),
    "webm": (["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", str(FPS), "-c:a", "libopus"],
             ".webm"),
    "mpeg4": (["-c:v", "mpeg4", "-q:v", "3", "-g", str(FPS), "-c:a", "aac"], ".mp4"),
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video")


def run(*args: str) -> bytes:
    proc = subprocess.run(list(args), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@functools.lru_cache(maxsize=None)
def clip(scratch: Path, kind: str, seconds: float = 5.0, size: tuple[int, int] = (W, H)) -> Path:
    args, suffix = CLIPS[kind]
    out = scratch / f"{kind}-{seconds}-{size[0]}x{size[1]}{suffix}"
    source = ["-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={FPS}", *SRC[4:]]
    run(FFMPEG, "-v", "error", "-y", *source, "-t", str(seconds), *args, "-metadata", "title=Harbour", str(out))
    return out


def marked(scratch: Path, src: Path, name: str, **kw: Any) -> tuple[Path, Any]:
    out = scratch / f"{name}{src.suffix}"
    out.unlink(missing_ok=True)
    extra = kw.pop("extra", None)
    result = mark_file(src, out, producer=PRODUCER, produce_id="video-0001", explicit_extra=extra, **kw)
    return out, result


def probe(path: Path) -> dict[str, Any]:
    return json.loads(run(FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)))


def packet_md5s(path: Path, stream: str) -> dict[float, str]:
    """Presentation time (s) -> MD5 of each packet of the stream, as ffprobe demuxes them."""
    listed = json.loads(run(FFPROBE, "-v", "error", "-select_streams", stream, "-show_entries",
                            "packet=pts_time,data_hash", "-show_data_hash", "MD5", "-of", "json", str(path)))
    return {round(float(p["pts_time"]), 3): p["data_hash"] for p in listed["packets"]}


@functools.lru_cache(maxsize=32)
def _frames(path: Path, mtime: float) -> Any:
    """Every frame (RGB, display rotation applied) as ffmpeg decodes it: shape (n, height, width, 3)."""
    info = next(s for s in probe(path)["streams"] if s["codec_type"] == "video")
    w, h = info["width"], info["height"]
    rotation = next((int(sd.get("rotation", 0)) for sd in info.get("side_data_list", []) if "rotation" in sd), 0)
    if rotation % 180:
        w, h = h, w  # turned by the display matrix
    raw = run(FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def frame_at(path: Path, seconds: float) -> Any:
    """The RGB frame shown at *seconds* from the first one."""
    frames = _frames(path, path.stat().st_mtime)
    return frames[min(len(frames) - 1, int(seconds * FPS + 1e-6))]


def decodes_cleanly(path: Path) -> None:
    proc = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, timeout=120)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr


def ink_rows(frame: Any, box: list[int]) -> int:
    """Height of the text ink inside the plate *box*: rows holding pixels far from the plate colour."""
    x0, y0, x1, y1 = box
    region = frame[y0:y1, x0:x1].astype(int)
    plate = np.median(region.reshape(-1, 3), axis=0)
    far = np.abs(region - plate).max(axis=2) > 100
    rows = np.nonzero(far.sum(axis=1) >= 2)[0]
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def label_seen(frame: Any, source: Any, box: list[int]) -> bool:
    x0, y0, x1, y1 = box
    return float(np.abs(frame[y0:y1, x0:x1].astype(int) - source[y0:y1, x0:x1].astype(int)).mean()) > 20


# ------------------------------------------------------------------------------------------ marking


@pytest.mark.parametrize("kind", ["mp4", "mkv", "webm"])
def test_partial_reencode(scratch: Path, kind: str) -> None:
    src = clip(scratch, kind)
    out, result = marked(scratch, src, f"partial-{kind}")
    assert result.explicit == "added"
    d = result.explicit_details
    assert d["mode"] == "partial", result.notes
    assert any("re-encoded" in n and "copied unchanged" in n for n in result.notes), result.notes
    assert d["height_ratio"] >= 0.05 and d["position"] == "bottom-right"

    # same container, codec and picture parameters; the implicit record and the old tags
    before, after = probe(src), probe(out)
    assert len(before["streams"]) == len(after["streams"])
    for a, b in zip(before["streams"], after["streams"], strict=True):
        for key in ("codec_name", "width", "height", "pix_fmt", "r_frame_rate", "sample_rate", "channels"):
            assert a.get(key) == b.get(key), key
    tags = {k.lower(): v for k, v in after["format"].get("tags", {}).items()}
    assert tags["aigc"] == record_json("video-0001") and tags["title"] == "Harbour"
    assert aigclabel.inspect(out).format == {"mp4": "mp4", "mkv": "mkv", "webm": "webm"}[kind]
    decodes_cleanly(out)

    # audio packets untouched; every video packet after the re-encoded span untouched
    assert packet_md5s(out, "a") == packet_md5s(src, "a")
    v0, v1 = packet_md5s(src, "v"), packet_md5s(out, "v")
    assert sorted(v0) == sorted(v1)  # the same time stamps
    later = [t for t in v0 if t > max(b for _a, b in d["windows"]) + 1.0]  # after the next key frame
    assert later and all(v0[t] == v1[t] for t in later)
    assert sum(v0[t] != v1[t] for t in v0) <= 4 * FPS + 1  # at most the labelled span and one GOP

    # the pixels: the label during the first 3 s, tall enough (measured here), gone afterwards
    box = d["box"]
    for t in (0.0, 1.0, 2.5):
        frame = frame_at(out, t)
        assert label_seen(frame, frame_at(src, t), box), t
        assert ink_rows(frame, box) >= 0.05 * min(W, H), ink_rows(frame, box)
    assert not label_seen(frame_at(out, 3.6), frame_at(src, 3.6), box)
    # outside the plate the picture is the source's (re-encoded at its quality)
    frame, ref = frame_at(out, 1.0).astype(int), frame_at(src, 1.0).astype(int)
    mask = np.ones(frame.shape[:2], bool)
    mask[box[1]:box[3], box[0]:box[2]] = False
    assert np.abs(frame - ref)[mask].mean() < 6

    # and the verifier (OCR) finds it in the opening frames
    report = aigclabel.verify(out, scope="explicit")
    (f,) = [f for f in report.findings if f.rule == "explicit.video"]
    assert f.level is Level.PASS, f.message  # CI installs PyAV and the OCR extra: "not checked" is a failure
    assert "all 5 frames" in f.message and "AI" in f.message


def test_mp4_layout_and_tags_are_kept(scratch: Path) -> None:
    """moov stays first (+faststart source), mdta keys stay mdta keys, the brand is the source's."""
    src = scratch / "fast-src.mp4"
    run(FFMPEG, "-v", "error", "-y", *SRC, "-t", "3", *CLIPS["mp4"][0], "-brand", "mp42", "-movflags",
        "+faststart+use_metadata_tags", "-metadata", "com.example.note=kept", str(src))
    out, result = marked(scratch, src, "fast")
    assert result.explicit_details["mode"] == "partial"
    found = aigclabel.inspect(out)
    assert found.info["moov_before_media"] is True and found.info["brand"] == "mp42"
    tags = probe(out)["format"]["tags"]
    assert tags["com.example.note"] == "kept" and tags["AIGC"] == record_json("video-0001")
    assert the_one(out).normative


def the_one(path: Path) -> Any:
    report = aigclabel.verify(path, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    (lab,) = report.labels
    return lab


def test_position_end_and_middle(scratch: Path) -> None:
    src = clip(scratch, "mp4", 9.0)
    out, result = marked(scratch, src, "end-middle", position="top-left",
                         extra={"at": ["start", "middle", "end"], "duration_s": 2.0})
    d = result.explicit_details
    assert d["mode"] == "partial" and d["position"] == "top-left"
    x0, y0, x1, y1 = d["box"]
    assert x0 < 0.1 * W and y0 < 0.1 * H
    assert [round(a, 1) for a, _b in d["windows"]] == [0.0, 3.5, 7.0]
    for t, shown in ((0.5, True), (2.5, False), (4.5, True), (6.0, False), (8.5, True)):
        assert label_seen(frame_at(out, t), frame_at(src, t), d["box"]) is shown, t
    decodes_cleanly(out)
    assert packet_md5s(out, "a") == packet_md5s(src, "a")


def test_whole_reencode(scratch: Path) -> None:
    # MPEG-4 Part 2 is not spliced: the whole stream is re-encoded with the same codec
    src = clip(scratch, "mpeg4", 4.0)
    out, result = marked(scratch, src, "mpeg4")
    assert result.explicit_details["mode"] == "full"
    assert any("whole video was re-encoded" in n for n in result.notes), result.notes
    s0, s1 = probe(src)["streams"][0], probe(out)["streams"][0]
    assert (s1["codec_name"], s1["width"], s1["height"], s1["pix_fmt"]) == \
        (s0["codec_name"], s0["width"], s0["height"], s0["pix_fmt"])
    assert packet_md5s(out, "a") == packet_md5s(src, "a")
    decodes_cleanly(out)
    # asked for: H.264 re-encoded whole, at the source's CRF read from its x264 settings
    out, result = marked(scratch, clip(scratch, "mkv", 4.0), "full-h264", extra={"reencode": "full"})
    assert result.explicit_details["mode"] == "full" and "CRF" in result.explicit_details["quality"]
    decodes_cleanly(out)


def test_rotated_video_gets_an_upright_label(scratch: Path) -> None:
    plain = clip(scratch, "mp4", 4.0)
    src = scratch / "rotated-src.mp4"
    run(FFMPEG, "-v", "error", "-y", "-i", str(plain), "-c", "copy", "-metadata:s:v", "rotate=90", str(src))
    out, result = marked(scratch, src, "rotated")
    d = result.explicit_details
    assert d["rotation"] in (90, 270)
    assert d["box"][2] <= H and d["box"][3] <= W  # planned on the displayed (portrait) picture
    frame, ref = frame_at(out, 1.0), frame_at(src, 1.0)
    assert frame.shape[:2] == (W, H)
    assert label_seen(frame, ref, d["box"])  # where a viewer expects it: bottom-right as displayed
    report = aigclabel.verify(out, scope="explicit")
    (f,) = [f for f in report.findings if f.rule == "explicit.video"]
    assert f.level is Level.PASS, f.message
    assert "turned by" in f.message, f.message


def test_options_are_checked(scratch: Path) -> None:
    src = clip(scratch, "mp4", 4.0)
    with pytest.raises(LabelError):
        marked(scratch, src, "bad1", extra={"duration_s": 1.0})  # shorter than the profile's 2 s
    with pytest.raises(LabelError):
        marked(scratch, src, "bad2", extra={"at": ["sometime"]})
    with pytest.raises(LabelError):
        marked(scratch, src, "bad3", extra={"reencode": "sometimes"})


def test_audio_only_matroska_is_refused(scratch: Path) -> None:
    path = scratch / "a.mka"
    run(FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libopus", str(path))
    with pytest.raises(UnsupportedOperation, match="no video stream"):
        marked(scratch, path, "audio-only")
    # the implicit label alone is fine
    out = scratch / "audio-only-implicit.mka"
    mark_file(path, out, producer=PRODUCER, explicit=False)
    assert aigclabel.verify(out, scope="implicit").verdict is Verdict.COMPLIANT


# ------------------------------------------------------------------------------------------ the check


def _video_finding(path: Path) -> Any:
    report = aigclabel.verify(path, scope="explicit")
    (f,) = [f for f in report.findings if f.rule == "explicit.video"]
    assert f.level is not Level.NOT_CHECKED, f.message  # CI installs PyAV and the OCR extra
    return f, report


def test_check_fails_without_a_label(scratch: Path) -> None:
    f, report = _video_finding(clip(scratch, "mp4", 4.0))
    assert f.level is Level.ERROR and "first frame" in f.message and report.verdict is Verdict.NONCOMPLIANT
    assert report.bytes_read < clip(scratch, "mp4", 4.0).stat().st_size


def test_check_fails_when_shown_too_briefly(scratch: Path) -> None:
    src = clip(scratch, "mkv", 4.0)
    out, _ = marked(scratch, src, "brief", extra={"duration_s": 1.0, "min_duration_s": 0.5})
    f, _ = _video_finding(out)
    assert f.level is Level.ERROR, f.message
    assert "seen only until" in f.message and "of 5 frames" in f.message


def test_check_fails_when_too_small(scratch: Path) -> None:
    from aigclabel.explicit import ExplicitOptions
    from aigclabel.explicit.video import VideoMarker
    from aigclabel._io import open_source
    from aigclabel.formats import handler_for

    src = clip(scratch, "mkv", 2.5, (640, 480))  # 5 % is 24 px here; the label is drawn 3 % high
    with open_source(src) as fh:
        res = VideoMarker().apply(fh, handler_for(fh), ExplicitOptions(text="AI生成", min_height_ratio=0.03))
    path = scratch / "small.mkv"
    path.write_bytes(res.data)
    f, _ = _video_finding(path)
    assert f.level is Level.ERROR and "too small" in f.message, f.message


def test_short_video_labelled_throughout_passes(scratch: Path) -> None:
    out, _ = marked(scratch, clip(scratch, "mp4", 1.2), "short")
    f, _ = _video_finding(out)
    assert f.level is Level.PASS and "shorter than the required 2 s" in f.message, f.message


def test_without_ocr_not_checked(scratch: Path) -> None:
    # a process where the OCR package cannot be imported (as if not installed): no production code is patched
    code = ("import sys; from aigclabel.explicit import ocr; sys.modules[ocr._MODULE] = None\n"
            "import aigclabel\n"
            "report = aigclabel.verify(sys.argv[1], scope='explicit')\n"
            "(f,) = [f for f in report.findings if f.rule == 'explicit.video']\n"
            "print(f.level.value, report.verdict.value, f.message)")
    proc = subprocess.run([sys.executable, "-c", code, str(clip(scratch, "mp4", 4.0))], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    level, verdict, message = proc.stdout.strip().split(" ", 2)
    assert level == Level.NOT_CHECKED.value and "OCR" in message
    assert verdict == Verdict.INCONCLUSIVE.value


# ------------------------------------------------------------------------------------------ the handler's access


def test_video_access_through_the_handler(scratch: Path) -> None:
    """What the rule and the marker read comes from the format handler's video_access (ffprobe agrees)."""
    from aigclabel._io import open_source
    from aigclabel.formats import handler_for

    src = clip(scratch, "mp4", 4.0)
    info = next(s for s in probe(src)["streams"] if s["codec_type"] == "video")
    with open_source(src) as fh:
        access = handler_for(fh).video_access(fh)
        facts = access.stream_facts(str(src))
        assert (facts.codec, facts.width, facts.height, facts.rotation) == ("h264", W, H, 0)
        assert facts.rate == FPS
        table = access.packet_table(str(src), facts)
        assert len(table.packets) == int(info["nb_frames"])
        assert [i for i, p in enumerate(table.packets) if p.clean] == list(range(0, 4 * FPS, FPS))  # -g 10
        assert table.nal is not None and table.nal.length_size == 4 and len(table.nal.param_sets) == 2
        assert "crf=" in table.encoder_sei
        remux = access.remux()
        assert remux.muxer == "mp4" and remux.options.get("brand") == "isom"
        opening = access.opening_frames(2.0, 3)
    assert [round(t, 2) for t, _image in opening.samples] == [0.0, 0.9, 1.9]
    assert all(image.size == (W, H) for _t, image in opening.samples)
    assert opening.covered == 2.0 and opening.length is None
    # the first picture decoded here is ffmpeg's first picture
    assert np.abs(np.asarray(opening.samples[0][1], dtype=int) - frame_at(src, 0.0).astype(int)).mean() < 1


@pytest.mark.parametrize("suffix, codec", [(".avi", ["-c:v", "mpeg4"]), (".flv", ["-c:v", "flv1"])])
def test_avi_and_flv_are_checked_through_their_handlers(scratch: Path, suffix: str, codec: list[str]) -> None:
    src = scratch / f"check{suffix}"
    run(FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate={FPS}", "-t", "3", *codec,
        str(src))
    f, _ = _video_finding(src)
    assert f.level is Level.ERROR and "first frame" in f.message, f.message  # decoded and read: no label
