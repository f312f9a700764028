"""The shared core: the resource budget, the reading prologue's options, the audit log, the exit policy."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import aigclabel
from aigclabel.errors import (CorruptFile, LabelError, LimitExceeded, OutputError, ProfileError, SourceError,
                              UnsupportedFormat)
from aigclabel.limits import (DEFAULT_LIMITS, Limits, check_allocation, check_audio, check_count, check_deadline,
                              check_depth, check_pixels, check_video_frames, current, parse_limits, use_limits)
from aigclabel.report import EXIT_POLICY, Verdict

PRODUCER = "001191110102MACQD9K64010000"


def jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


# -- limits -----------------------------------------------------------------------------------------

def test_parse_limits_names_units_and_errors() -> None:
    lim = parse_limits("pixels=50e6, allocation=128M,max_depth=10,decode-seconds=2.5")
    assert (lim.max_pixels, lim.max_allocation, lim.max_depth, lim.max_decode_seconds) == (
        50_000_000, 128 << 20, 10, 2.5)
    assert lim.max_sample_rate == DEFAULT_LIMITS.max_sample_rate
    assert parse_limits({"structures": "1k"}).max_structures == 1024
    for bad, word in (("nonsense=1", "unknown limit"), ("pixels", "NAME=VALUE"), ("pixels=lots", "not a number"),
                      ("pixels=0", "positive")):
        with pytest.raises(ValueError, match=word):
            parse_limits(bad)


@pytest.mark.parametrize("call, limit", [
    (lambda: check_allocation(1 << 40, "a chunk"), "max_allocation"),
    (lambda: check_allocation(-1, "a chunk"), "max_allocation"),
    (lambda: check_count(10**9, "boxes"), "max_structures"),
    (lambda: check_depth(10**4, "atoms"), "max_depth"),
    (lambda: check_pixels(100_000, 100_000), "max_pixels"),
    (lambda: check_pixels(0, 10), "max_pixels"),
    (lambda: check_audio(4_294_967_295, 2), "max_sample_rate"),
    (lambda: check_audio(48_000, 0), "max_channels"),
    (lambda: check_audio(48_000, 2, 10**6), "max_audio_samples"),
    (lambda: check_video_frames(10**7), "max_video_frames"),
])
def test_each_check_names_its_limit(call, limit: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LimitExceeded) as info:
        call()
    assert info.value.limit == limit and f"[{limit}]" in str(info.value)
    assert isinstance(info.value, CorruptFile)  # "could not check": exit code 3 everywhere


def test_use_limits_nests_and_restores() -> None:
    assert current() == DEFAULT_LIMITS
    with use_limits(Limits(max_depth=3)):
        assert current().max_depth == 3
        with use_limits(Limits(max_depth=5)):
            assert current().max_depth == 5
        assert current().max_depth == 3
        with pytest.raises(LimitExceeded):
            check_depth(4, "x")
    assert current() == DEFAULT_LIMITS


def test_deadline_counts_from_the_start_of_the_operation() -> None:
    with use_limits(Limits(max_decode_seconds=0.05)):
        check_deadline("decoding")  # fresh clock
        import time

        time.sleep(0.08)
        with pytest.raises(LimitExceeded, match="max_decode_seconds"):
            check_deadline("decoding")


def test_bytes_read_budget_stops_a_read(tmp_path: Path) -> None:
    data = aigclabel.mark(jpeg(), producer=PRODUCER, explicit=False)
    assert aigclabel.verify(data, scope="implicit").verdict is Verdict.COMPLIANT
    with pytest.raises(LimitExceeded, match="max_bytes_read"):
        aigclabel.verify(data, scope="implicit", limits=Limits(max_bytes_read=200))
    with pytest.raises(LimitExceeded):
        aigclabel.inspect(data, limits=Limits(max_bytes_read=200))
    path = tmp_path / "m.jpg"
    path.write_bytes(data)
    with pytest.raises(LimitExceeded):
        aigclabel.mark_file(path, tmp_path / "o.jpg", producer=PRODUCER, explicit=False,
                            limits=Limits(max_bytes_read=200))
    assert not (tmp_path / "o.jpg").exists()
    assert current() == DEFAULT_LIMITS  # the call's limits did not leak


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aigclabel.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_cli_limits_flag(tmp_path: Path) -> None:
    (tmp_path / "m.jpg").write_bytes(aigclabel.mark(jpeg(), producer=PRODUCER, explicit=False))
    bad = run_cli("verify", "m.jpg", "--limits", "bogus=1", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown limit 'bogus'" in bad.stderr
    over = run_cli("verify", "m.jpg", "--scope", "implicit", "--limits", "bytes_read=200", cwd=tmp_path)
    assert over.returncode == 3, over.stderr
    assert "[max_bytes_read]" in over.stderr and "Traceback" not in over.stderr
    assert len(over.stderr.strip().splitlines()) == 1
    ok = run_cli("verify", "m.jpg", "--scope", "implicit", "--limits", "bytes_read=10M", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for cmd in (["inspect", "m.jpg"], ["review", "m.jpg", "--platform-code", PRODUCER],
                ["mark", "m.jpg", "-o", "o.jpg", "--producer", PRODUCER, "--no-explicit"]):
        res = run_cli(*cmd, "--limits", "bytes_read=200", cwd=tmp_path)
        assert res.returncode == 3 and "max_bytes_read" in res.stderr, (cmd, res.stderr)
    assert not (tmp_path / "o.jpg").exists()


# -- handler options --------------------------------------------------------------------------------

def test_handlers_get_open_options_not_attributes() -> None:
    from aigclabel.formats import OpenOptions, handler_for
    from aigclabel._io import open_source

    with open_source(jpeg()) as src:
        handler = handler_for(src, OpenOptions(password="pw"))
    assert handler.options.password == "pw"
    with open_source(b"%PDF-1.4\n") as src:
        pdf = handler_for(src, OpenOptions(password="secret"))
    assert pdf.password == "secret"  # the PDF handler reads it from its options


# -- audit log (Measures Art. 9), written by the library ---------------------------------------------

def test_library_writes_the_waiver_log_before_the_output(tmp_path: Path) -> None:
    src = tmp_path / "gen.jpg"
    src.write_bytes(jpeg())
    log = tmp_path / "waivers.jsonl"
    result = aigclabel.mark_file(src, tmp_path / "out.jpg", producer=PRODUCER, explicit=False, audit_log=log)
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(entries) == 1
    assert entries[0]["event"] == "explicit-label-waived"
    assert entries[0]["destination"] == str(tmp_path / "out.jpg")
    assert entries[0]["record"]["ProduceID"] == result.record.to_dict()["ProduceID"]


def test_unwritable_audit_log_stops_before_anything_is_written(tmp_path: Path) -> None:
    src = tmp_path / "gen.jpg"
    src.write_bytes(jpeg())
    with pytest.raises(OutputError, match="audit log"):
        aigclabel.mark_file(src, tmp_path / "out.jpg", producer=PRODUCER, explicit=False,
                            audit_log=tmp_path / "no-such-dir" / "log.jsonl")
    assert not (tmp_path / "out.jpg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.jpg"]  # no temp file either


def test_cli_unwritable_audit_log_is_one_line_and_no_output(tmp_path: Path) -> None:
    (tmp_path / "gen.jpg").write_bytes(jpeg())
    res = run_cli("mark", "gen.jpg", "-o", "out.jpg", "--producer", PRODUCER, "--no-explicit",
                  "--audit-log", "missing/log.jsonl", cwd=tmp_path)
    assert res.returncode == 3 and "audit log" in res.stderr and "internal error" not in res.stderr
    assert not (tmp_path / "out.jpg").exists()


# -- one exit-code policy -----------------------------------------------------------------------------

def test_exit_policy() -> None:
    assert EXIT_POLICY.for_verdict(Verdict.COMPLIANT) == 0
    assert EXIT_POLICY.for_verdict("noncompliant") == 1
    assert EXIT_POLICY.for_verdict(Verdict.INCONCLUSIVE) == 3
    assert EXIT_POLICY.for_error(ProfileError("x")) == EXIT_POLICY.for_error(LabelError("x")) == 2
    for exc in (CorruptFile("x"), SourceError("x"), UnsupportedFormat("x"), LimitExceeded("max_depth", "x"),
                RuntimeError("a bug")):
        assert EXIT_POLICY.for_error(exc) == 3
    # several files: non-compliant is never masked (1 > 3 > 2 > 0)
    assert EXIT_POLICY.worst([0, 1, 3, 2]) == 1 and EXIT_POLICY.worst([3, 2, 0]) == 3
    assert EXIT_POLICY.worst([2, 0]) == 2 and EXIT_POLICY.worst([]) == 0
    from aigclabel.batch import error_exit_code

    assert error_exit_code({"kind": "profile-error"}) == 2 and error_exit_code({"kind": "corrupt-file"}) == 3


def test_no_hasattr_password_left() -> None:
    """Handler options are passed explicitly: no module sets or probes a handler's password attribute."""
    root = Path(aigclabel.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if 'hasattr(handler, "password")' in p.read_text(encoding="utf-8")
                 or "handler.password = " in p.read_text(encoding="utf-8")]
    assert offenders == []
    assert os.path.exists(root / "reading.py")


def test_text_bytes_need_kind_text() -> None:
    from aigclabel.errors import OptionError

    with pytest.raises(UnsupportedFormat, match="kind='text'"):
        aigclabel.mark(b"Internal Server Error", producer=PRODUCER)
    out = aigclabel.mark(b"A generated poem.\n", producer=PRODUCER, kind="text")
    assert "人工智能" in out.decode("utf-8")
    with pytest.raises(OptionError, match="content is image"):
        aigclabel.mark(jpeg(), producer=PRODUCER, kind="text")


def test_waiver_note_says_whether_it_was_recorded(tmp_path: Path) -> None:
    src = tmp_path / "g.jpg"
    src.write_bytes(jpeg())
    unlogged = aigclabel.mark_file(src, producer=PRODUCER, explicit=False)
    assert any("NOT recorded" in n and "audit_log" in n for n in unlogged.notes)
    logged = aigclabel.mark_file(src, producer=PRODUCER, explicit=False, audit_log=tmp_path / "log.jsonl")
    assert any("recorded in the audit log" in n for n in logged.notes)


def test_remarking_keeps_the_produce_id_unless_one_is_given(tmp_path: Path) -> None:
    first = aigclabel.mark_file(jpeg(), producer=PRODUCER, produce_id="job-1", explicit=False)
    assert first.data is not None
    again = aigclabel.mark_file(first.data, producer=PRODUCER, explicit=False)
    assert again.record.to_dict()["ProduceID"] == "job-1"
    assert any("kept the file's existing ProduceID 'job-1'" in n for n in again.notes)
    assert again.data is not None
    assert [lab.fields["ProduceID"] for lab in aigclabel.inspect(again.data).labels if lab.fields] == ["job-1"]
    replaced = aigclabel.mark_file(first.data, producer=PRODUCER, produce_id="job-2", explicit=False)
    assert replaced.record.to_dict()["ProduceID"] == "job-2" and not any("kept" in n for n in replaced.notes)


def test_outcome_tells_no_label_from_a_broken_one() -> None:
    plain = jpeg()
    assert aigclabel.verify(plain, scope="implicit").outcome == "not-labelled"
    marked = aigclabel.mark(plain, producer=PRODUCER, explicit=False)
    assert aigclabel.verify(marked, scope="implicit").outcome == "compliant"
    broken = marked.replace(b'"Label":"1"', b'"Label":"7"')
    report = aigclabel.verify(broken, scope="implicit")
    assert report.verdict is Verdict.NONCOMPLIANT and report.outcome == "non-compliant"
    assert report.to_dict()["outcome"] == "non-compliant"


def test_damaged_metadata_is_not_reported_as_no_label() -> None:
    # an XMP packet that is not XML any more could have held the record: "could not check", never "not labelled"
    marked = aigclabel.mark(jpeg(), producer=PRODUCER, explicit=False)
    start = marked.index(b"<x:xmpmeta")
    damaged = marked[:start] + b"<x:xmpmeta><<<" + marked[start + 14:]
    assert len(damaged) == len(marked)
    report = aigclabel.verify(damaged, scope="implicit")
    (present,) = [f for f in report.findings if f.rule == "implicit.record-present"]
    assert present.level.value == "not-checked" and "could not be read" in present.message
    assert report.verdict is Verdict.INCONCLUSIVE and report.outcome == "not-fully-checked"
    assert report.exit_code == 3


def test_no_deadline_outside_an_operation() -> None:
    import time

    check_deadline("a helper called on its own")  # no operation: no clock, nothing raised
    with use_limits(Limits(max_decode_seconds=0.01)):
        time.sleep(0.02)
        with pytest.raises(LimitExceeded):
            check_deadline("decoding")
        with use_limits():  # a new operation restarts the clock
            check_deadline("decoding")
