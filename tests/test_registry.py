"""The registry's magic-number table agrees with every handler's own ``score()`` (issue 15: start-up).

Detection imports only the format modules whose magic matches the first bytes.  That is right only
if no handler can claim content its module's magic does not match; this checks it on the head of
every sample kind and of thousands of deterministic mutations of them (the fuzzing mutator), and
checks that detection through the table picks what asking every handler would pick.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from aigclabel.formats import (HEAD_SIZE, UNSIGNED_MAX_SCORE, _BUILTIN, _MAGIC, _detect_among, _magic_matches, detect,
                               handlers)
from aigclabel.errors import UnsupportedFormat

sys.path.insert(0, str(Path(__file__).parent))
from fuzz import seeds  # noqa: E402
from fuzz.mutate import Mutator  # noqa: E402


def test_every_module_has_a_magic_entry() -> None:
    assert set(_MAGIC) == set(_BUILTIN)


@pytest.fixture(scope="module")
def heads(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    scratch = tmp_path_factory.mktemp("heads")
    out: list[bytes] = [b"", b"\xff", b"ID3", b"RIFF", b"%PDF-1.7", b"  %PDF-1.4", b"GIF8", b"\x00" * 64]
    rng = random.Random(45438)
    for name in sorted(seeds.SPECS):
        data = seeds.SPECS[name].make(scratch)
        out.append(data[:HEAD_SIZE])
        out.extend(data[:n] for n in range(1, 16))
        mutator = Mutator(data[:4096], run_seed=7, name=name)
        out.extend(mutator.mutate(i)[0][:HEAD_SIZE] for i in range(150))
        out.extend(bytes(rng.getrandbits(8) for _ in range(HEAD_SIZE)) for _ in range(5))
    return out


def test_no_handler_scores_content_its_magic_does_not_match(heads: list[bytes]) -> None:
    # built-in handlers only (a test elsewhere may have registered a third-party one, which has no magic)
    builtin = [cls for cls in handlers() if cls.__module__.startswith("aigclabel.formats.")]
    module_of = {cls: cls.__module__.split(".")[2] for cls in builtin}
    wrong = []
    for head in heads:
        for cls in builtin:
            if cls.score(head) > 0 and not _magic_matches(module_of[cls], head):
                wrong.append((cls.name, head[:16]))
    assert wrong == []


def test_table_detection_equals_asking_every_handler(heads: list[bytes]) -> None:
    for head in heads:
        try:
            full = _detect_among(handlers(), head, None, frozenset())
        except UnsupportedFormat:
            full = None
        try:
            fast = detect(head)
        except UnsupportedFormat:
            fast = None
        assert fast is full, head[:16]


def test_verifying_a_jpeg_imports_only_what_it_needs(tmp_path: Path) -> None:
    code = ("import sys, aigclabel; aigclabel.verify(sys.argv[1], scope='implicit'); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('aigclabel.formats.'))))")
    jpeg = Path(__file__).parent.parent / "samples" / "photo.jpg"
    out = subprocess.run([sys.executable, "-c", code, str(jpeg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    handler_modules = {m.rsplit(".", 1)[1] for m in out.stdout.split()} & set(_BUILTIN)
    # jpeg wins (90, above anything text can score); mp3 (0xFF frame sync) is asked too -- nothing else
    assert handler_modules <= {"jpeg", "mp3"}, handler_modules


def test_unsigned_handlers_never_score_above_the_shortcut(heads: list[bytes]) -> None:
    # detection skips the modules without a signature (text) when a signed handler scores above this
    unsigned = [cls for cls in handlers() if cls.__module__.startswith("aigclabel.formats.")
                and _MAGIC[cls.__module__.split(".")[2]] is None]
    assert unsigned
    texts = [b"<!DOCTYPE html><html><head>", b"---\nAIGC:\n  Label: '1'\n---\n", b"plain words\n",
             "本内容由人工智能生成".encode("utf-8"), b"\xef\xbb\xbf<html>", "\ufeffhi".encode("utf-16")]
    for head in [*heads, *texts]:
        for cls in unsigned:
            assert cls.score(head) <= UNSIGNED_MAX_SCORE, (cls.name, head[:16])
