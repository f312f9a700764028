"""Content bindings of the remaining formats, and RSA / ECDSA P-256 SecurityData keys (issue 16 leftovers).

For every family a real file (the corpus inputs, made by exiftool/ffmpeg/mutagen/Pillow, or ffmpeg here) is
marked with ``--sign-key`` and read back: *valid* with the binding ``bound``; one content byte changed gives
*invalid*; a metadata-only edit by another tool (exiftool, mutagen, zipfile, a text edit) keeps it *valid*
where the selection is designed to survive it.  Where cheap the hash is recomputed independently: the bytes
extracted with Pillow, mutagen or zipfile, hashed by ``openssl dgst -sm3``.  OpenSSL also verifies the RSA
and ECDSA signatures.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aigclabel import inspect
from aigclabel._io import CountingReader
from aigclabel.cli.main import cli
from aigclabel.formats import handler_for
from aigclabel.formats.binding import SELECTIONS, binding_digest, checker, selected_ranges
from aigclabel.marking import mark_file
from aigclabel.security import crypto, label_message, load_signing_key, load_trusted_keys, verify_field
from conftest import PRODUCER

pytestmark = pytest.mark.skipif(not crypto.available(), reason="needs the sign extra: pip install 'aigclabel[sign]'")

CORPUS = Path(__file__).resolve().parent / "corpus" / "files"
OPENSSL = shutil.which("openssl")
FFMPEG = shutil.which("ffmpeg")
EXIFTOOL = shutil.which("exiftool")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl (3.x, with SM3) is not installed")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed")


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bindkeys") / "sm2"
    done = CliRunner().invoke(cli, ["keys", "init", "--sm2", "--producer", PRODUCER, str(d)])
    assert done.exit_code == 0, done.output
    return d / "sm2-key.pem"


def _open(path: Path) -> tuple[Any, CountingReader, Any]:
    fh = path.open("rb")
    src = CountingReader(fh, path.name, path.stat().st_size)
    return handler_for(src), src, fh


def _sign(src: Path, out: Path, key: Path, *, explicit: bool = False) -> str:
    """Mark *src* into *out* with a signed record; the selection the note names."""
    result = mark_file(src, out, producer=PRODUCER, produce_id="bind-0001", signer=key, explicit=explicit,
                       overwrite=True)
    note = next(n for n in result.notes if n.startswith("signed ReservedCode1"))
    assert "content binding " in note, note
    return note.split("content binding ", 1)[1].split(" ", 1)[0]


def _state(path: Path) -> tuple[str, str]:
    """(status, binding) of ReservedCode1 as inspect reports it."""
    found = [sd for rec in inspect(path).security for sd in rec if sd["field"] == "ReservedCode1"]
    assert found, f"{path.name}: no ReservedCode1 read back"
    return found[0]["status"], found[0]["binding"]


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _ranges(path: Path) -> list[tuple[int, int]]:
    handler, src, fh = _open(path)
    with fh:
        return selected_ranges(handler, src)


def _middle(path: Path) -> int:
    """A byte in the middle of the largest selected range."""
    off, n = max(_ranges(path), key=lambda r: r[1])
    return off + n // 2


def _last(path: Path) -> int:
    """The last byte of the largest selected range (frame data, never an element or tag header)."""
    off, n = max(_ranges(path), key=lambda r: r[1])
    return off + n - 1


def _gif_left(path: Path) -> int:
    """The low byte of the first image's left position: content (where the frame goes), not structure."""
    from aigclabel.formats.gif import IMAGE, walk_blocks

    handler, src, fh = _open(path)
    with fh:
        return next(b.offset for b in walk_blocks(src).blocks if b.kind == IMAGE) + 1


def _openssl_sm3(data: bytes) -> str:
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, "dgst", "-sm3", "-r"], input=data, capture_output=True, check=True, timeout=60)
    return done.stdout.split()[0].decode()


def _fields(path: Path) -> dict[str, Any]:
    """The fields of the signed record the file carries, as inspect reads them."""
    return next(dict(lab.fields) for lab in inspect(path).labels if lab.fields.get("ReservedCode1"))


def _bound_value(path: Path) -> str:
    """The SM3 value the file's own signed Bindings entry carries."""
    sd = json.loads(_fields(path)["ReservedCode1"])["SecurityData"]
    return str(sd["Bindings"][0]["Value"]).lower()


# ------------------------------------------------------------------------------ metadata edits by others


def _exiftool(*args: str) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        assert EXIFTOOL is not None
        subprocess.run([EXIFTOOL, "-q", "-overwrite_original", *args, str(path)], check=True, capture_output=True,
                       timeout=120)
    return edit


def _mutagen_tag(big: bool) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        import mutagen

        audio = mutagen.File(path)
        assert audio is not None and audio.tags is not None
        # a 20 KB tag: the comment header needs more pages, so every audio page is renumbered (new CRCs)
        audio.tags["TITLE"] = "edited " + ("x" * 20000 if big else "")
        audio.save()
    return edit


def _ffmpeg_remux(path: Path) -> None:
    """``ffmpeg -c copy -metadata title=...``: a new container around the same blocks (and our AIGC tag)."""
    assert FFMPEG is not None
    out = path.with_name("remuxed" + path.suffix)
    subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-c", "copy", "-metadata", "title=edited", "-fflags",
                    "+bitexact", str(out)], check=True, timeout=120)
    out.replace(path)


def _zip_properties(path: Path) -> None:
    """Rewrite the package with Python's zipfile at another compression level and a changed title in
    docProps/core.xml (what a document-management system does)."""
    with zipfile.ZipFile(path) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info, data in items:
            if info.filename == "docProps/core.xml":
                data = data.replace(b"</cp:coreProperties>", b"<dc:title>edited</dc:title></cp:coreProperties>")
            zout.writestr(info.filename, data)
    path.write_bytes(buf.getvalue())


def _text_edit(old: bytes, new: bytes) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        data = path.read_bytes()
        assert old in data, data[:200]
        path.write_bytes(data.replace(old, new, 1))
    return edit


def _md_front_matter(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"---\n")
    path.write_bytes(b"---\ntitle: edited by hand\n" + data[4:])


# --------------------------------------------------------------------------------------- the families

#: (corpus file, selection, where a content byte changes, the metadata edit by another tool or None)
FAMILIES: list[tuple[str, str, Callable[[Path], int], Callable[[Path], None] | None]] = [
    ("gif-none.gif", "gif-image", _gif_left, _exiftool("-Comment=edited by exiftool")),
    ("webp-none.webp", "webp-bitstream", _middle, _exiftool("-EXIF:Artist=edited")),
    ("tiff-none.tif", "tiff-strips", _middle, _exiftool("-IFD0:Artist=edited by exiftool")),
    ("heic-none.heic", "heif-items", _middle, _exiftool("-EXIF:Artist=edited")),
    ("avif-none.avif", "heif-items", _middle, _exiftool("-EXIF:Artist=edited")),
    ("flac-none.flac", "flac-frames", _middle, _mutagen_tag(False)),
    ("ogg-none.ogg", "ogg-packets", _middle, _mutagen_tag(True)),
    ("opus-none.opus", "ogg-packets", _middle, _mutagen_tag(True)),
    ("mkv-none.mkv", "mkv-clusters", _last, _ffmpeg_remux),
    # ffmpeg's WebM remux re-times the VP8 blocks (a block timecode 7 -> 14 ms): the binding covers the block
    # timecodes by design, so that is a content change; no metadata-only WebM writer is installed to test
    ("webm-none.webm", "mkv-clusters", _last, None),
    ("docx-none.docx", "ooxml-parts", lambda p: -1, _zip_properties),
    ("xlsx-none.xlsx", "ooxml-parts", lambda p: -1, _zip_properties),
    ("pptx-none.pptx", "ooxml-parts", lambda p: -1, _zip_properties),
    ("md-none.md", "text-visible", lambda p: -1, _md_front_matter),
    ("html-none.html", "text-visible", lambda p: -1, _text_edit(b"<head>", b"<head><meta name=\"description\" "
                                                                       b"content=\"edited\">")),
]
_DERIVED_CHANGE = {"ooxml-parts", "text-visible"}


def _change_content(path: Path, selection: str, where: Callable[[Path], int]) -> None:
    if selection not in _DERIVED_CHANGE:
        _flip(path, where(path))
        return
    if selection == "text-visible":
        data = path.read_bytes()
        assert b"note" in data
        path.write_bytes(data.replace(b"note", b"nOte", 1))  # a word of the body text (HTML: not the <title>)
        return
    with zipfile.ZipFile(path) as zin:
        items = [(i, zin.read(i.filename)) for i in zin.infolist()]
    main = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/slides/slide1.xml"}[path.suffix[1:]]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            if info.filename == main:
                data = data.replace(b"/>", b" />", 1)  # one byte more in the main part
            zout.writestr(info, data)
    path.write_bytes(buf.getvalue())


@pytest.mark.parametrize("name,selection,where,edit", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_family_round_trip_tamper_and_foreign_edit(name: str, selection: str, where: Callable[[Path], int],
                                                   edit: Callable[[Path], None] | None, key: Path,
                                                   tmp_path: Path) -> None:
    if edit is not None and getattr(edit, "__qualname__", "").startswith("_exiftool") and EXIFTOOL is None:
        pytest.skip("exiftool is not installed")
    if edit is _ffmpeg_remux and FFMPEG is None:
        pytest.skip("ffmpeg is not installed")
    signed = tmp_path / f"signed{Path(name).suffix}"
    explicit = selection == "text-visible"  # text gets its notice first: the binding leaves it out
    assert _sign(CORPUS / name, signed, key, explicit=explicit) == selection
    assert _state(signed) == ("valid", "bound")
    # one content byte changed: tampered
    changed = tmp_path / f"changed{signed.suffix}"
    shutil.copy(signed, changed)
    _change_content(changed, selection, where)
    assert _state(changed) == ("invalid", "mismatch")
    if edit is not None:
        # a metadata-only edit by another tool keeps the content, so the binding still matches
        edited = tmp_path / f"edited{signed.suffix}"
        shutil.copy(signed, edited)
        edit(edited)
        assert edited.read_bytes() != signed.read_bytes()
        assert _state(edited) == ("valid", "bound")


def test_every_writable_format_has_a_selection() -> None:
    from aigclabel.formats import handlers

    # built-in handlers only: another test registers a third-party one (c2patest), which has no selection
    names = {h.name for h in handlers() if h.can_write and h.__module__.startswith("aigclabel.formats.")}
    assert names <= set(SELECTIONS), sorted(names - set(SELECTIONS))


# ------------------------------------------------------------------------ independent hash recomputations


@needs_openssl
def test_tiff_strips_hash_matches_pillow_strips_and_openssl(key: Path, tmp_path: Path) -> None:
    from PIL import Image

    signed = tmp_path / "signed.tif"
    _sign(CORPUS / "tiff-none.tif", signed, key)
    with Image.open(signed) as im:
        offsets, counts = im.tag_v2[273], im.tag_v2[279]  # StripOffsets, StripByteCounts, read by Pillow
    data = signed.read_bytes()
    strips = b"".join(data[o:o + n] for o, n in zip(offsets, counts, strict=True))
    assert _openssl_sm3(strips) == _bound_value(signed)


@needs_openssl
@pytest.mark.parametrize("name,headers", [("ogg-none.ogg", 3), ("opus-none.opus", 2)])
def test_ogg_packets_hash_matches_mutagen_packets_and_openssl(name: str, headers: int, key: Path,
                                                              tmp_path: Path) -> None:
    from mutagen.ogg import OggPage

    signed = tmp_path / f"signed{Path(name).suffix}"
    _sign(CORPUS / name, signed, key)
    _mutagen_tag(True)(signed)  # re-paginated header: the audio pages renumbered, their CRCs new
    pages = []
    with signed.open("rb") as fh:
        while fh.read(1):
            fh.seek(-1, 1)
            pages.append(OggPage(fh))
    serial = pages[0].serial
    packets = OggPage.to_packets([p for p in pages if p.serial == serial], strict=False)
    assert _openssl_sm3(b"".join(packets[headers:])) == _bound_value(signed)
    assert _state(signed) == ("valid", "bound")


@needs_openssl
@pytest.mark.parametrize("name,parts", [
    ("docx-none.docx", ["word/document.xml"]),
    ("pptx-none.pptx", None),
])
def test_ooxml_parts_hash_matches_zipfile_and_openssl(name: str, parts: list[str] | None, key: Path,
                                                      tmp_path: Path) -> None:
    signed = tmp_path / f"signed{Path(name).suffix}"
    _sign(CORPUS / name, signed, key, explicit=True)  # the notice goes into the main part before hashing
    with zipfile.ZipFile(signed) as z:
        if parts is None:
            parts = sorted(["ppt/presentation.xml"] + [n for n in z.namelist()
                                                       if n.startswith("ppt/slides/") and n.endswith(".xml")
                                                       and n.count("/") == 2])
        data = b"".join(z.read(p) for p in parts)
    assert _openssl_sm3(data) == _bound_value(signed)


@needs_openssl
def test_flac_frames_hash_matches_openssl_over_the_bytes_after_mutagens_metadata(key: Path, tmp_path: Path) -> None:
    from mutagen.flac import FLAC

    signed = tmp_path / "signed.flac"
    _sign(CORPUS / "flac-none.flac", signed, key)
    # the audio starts where the metadata blocks mutagen re-serialises end (fLaC + every block, padding kept)
    f = FLAC(signed)
    size = 4 + sum(4 + len(b.write()) for b in f.metadata_blocks)
    data = signed.read_bytes()
    assert data[size:size + 2] in (b"\xff\xf8", b"\xff\xf9")  # a FLAC frame sync code starts there
    assert _openssl_sm3(data[size:]) == _bound_value(signed)


# ------------------------------------------------------------------------- formats marked by other tools


@needs_ffmpeg
def test_avi_movi_binding_round_trip_and_tamper(key: Path, tmp_path: Path) -> None:
    """An AVI whose header holds an old (unsigned, long) record in ICMT: the signed record replaces it, so it
    fits the room the old INFO list and the JUNK after it leave (a bare ffmpeg AVI has 1016 bytes of JUNK,
    less than a signed record needs: refused with UnsupportedOperation, never a moved movi)."""
    assert FFMPEG is not None
    old = json.dumps({"AIGC": {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "old-" + "0" * 1400,
                               "ReservedCode1": "", "ContentPropagator": "", "PropagateID": "",
                               "ReservedCode2": ""}})
    src = tmp_path / "src.avi"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10:duration=0.4",
                    "-c:v", "mpeg4", "-fflags", "+bitexact", "-metadata", f"comment={old}", str(src)], check=True,
                   timeout=120)
    signed = tmp_path / "signed.avi"
    assert _sign(src, signed, key) == "avi-movi"
    assert _state(signed) == ("valid", "bound")
    _flip(signed, _middle(signed))
    assert _state(signed) == ("invalid", "mismatch")


@needs_ffmpeg
def test_flv_tags_binding_written_by_ffmpeg(key: Path, tmp_path: Path) -> None:
    """FLV is read-only here: ffmpeg writes the signed record (``-metadata AIGC=``) while copying the tags, and
    the binding computed over the source's audio/video tag data matches the remuxed file."""
    from aigclabel.label import AigcRecord
    from aigclabel.security import sign_fields

    assert FFMPEG is not None
    src = CORPUS / "flv-none.flv"
    handler, reader, fh = _open(src)
    with fh:
        digest = binding_digest(handler, reader)
    assert digest is not None and digest.selection == "flv-tags"
    record = AigcRecord(label="1", content_producer=PRODUCER, produce_id="bind-flv")
    signed_record = dict(record.to_dict(), ReservedCode1=sign_fields(record, load_signing_key(key), digest))
    out = tmp_path / "signed.flv"
    subprocess.run([FFMPEG, "-v", "error", "-i", str(src), "-c", "copy", "-metadata",
                    "AIGC=" + json.dumps(signed_record, separators=(",", ":")), str(out)], check=True, timeout=120)
    assert _state(out) == ("valid", "bound")
    _flip(out, _last(out))
    assert _state(out) == ("invalid", "mismatch")


def test_plain_text_binding_checks_the_record_that_travels_beside_the_file(key: Path, tmp_path: Path) -> None:
    """Plain text has no implicit carrier: the signed record goes in a sidecar, and its binding is the text
    without our notice - so a re-marked notice keeps it, a changed word does not."""
    out = tmp_path / "signed.txt"
    result = mark_file(CORPUS / "txt-none.txt", out, producer=PRODUCER, produce_id="bind-txt", signer=key,
                       overwrite=True)
    fields = result.record.to_dict()

    def status(path: Path) -> tuple[str, str]:
        handler, src, fh = _open(path)
        with fh:
            res = verify_field(fields["ReservedCode1"], fields, content=checker(handler, src))
        return res.status.value, res.binding

    assert "本内容由人工智能生成" in out.read_text("utf-8")
    assert status(out) == ("valid", "bound")
    assert status(CORPUS / "txt-none.txt") == ("valid", "bound")  # the notice is ours: not content
    text = out.read_text("utf-8")
    at = next(i for i, c in enumerate(text) if c.isalpha() and c.isascii())
    (tmp_path / "changed.txt").write_text(text[:at] + text[at].swapcase() + text[at + 1:], "utf-8")
    assert status(tmp_path / "changed.txt") == ("invalid", "mismatch")


def test_a_binding_for_another_format_is_a_mismatch(key: Path, tmp_path: Path) -> None:
    """The record of a signed GIF pasted into a WebP: the selection does not fit (moved from another file)."""
    signed = tmp_path / "signed.gif"
    _sign(CORPUS / "gif-none.gif", signed, key)
    fields = _fields(signed)
    handler, src, fh = _open(CORPUS / "webp-none.webp")
    with fh:
        res = verify_field(fields["ReservedCode1"], fields, content=checker(handler, src))
    assert (res.status.value, res.binding) == ("invalid", "mismatch")


# ------------------------------------------------------------------------------ RSA and ECDSA P-256 keys


def _openssl_verify(pub_pem: Path, message: bytes, signature: bytes, tmp: Path) -> bool:
    assert OPENSSL is not None
    (tmp / "msg").write_bytes(message)
    (tmp / "sig").write_bytes(signature)
    done = subprocess.run([OPENSSL, "dgst", "-sha256", "-verify", str(pub_pem), "-signature", str(tmp / "sig"),
                           str(tmp / "msg")], capture_output=True, timeout=60)
    return done.returncode == 0 and b"Verified OK" in done.stdout


@needs_openssl
@pytest.mark.parametrize("flag,oid,prefix", [("--rsa", crypto.OID_RSA_SHA256, "rsa"),
                                             ("--ecdsa-p256", crypto.OID_ECDSA_SHA256, "ecdsa-p256")])
def test_rsa_and_ecdsa_keys_sign_marks_that_openssl_and_we_verify(flag: str, oid: str, prefix: str,
                                                                  tmp_path: Path) -> None:
    d = tmp_path / "keys"
    done = CliRunner().invoke(cli, ["keys", "init", flag, "--producer", PRODUCER, str(d), "--json"])
    assert done.exit_code == 0, done.output
    info = json.loads(done.output)
    key_file, pub_file = d / f"{prefix}-key.pem", d / f"{prefix}-pub.pem"
    assert info["key"] == str(key_file) and (key_file.stat().st_mode & 0o777) == 0o600
    # OpenSSL reads the key pair we wrote, and its public key is ours
    assert OPENSSL is not None
    pub_der = subprocess.run([OPENSSL, "pkey", "-in", str(key_file), "-pubout", "-outform", "DER"],
                             capture_output=True, check=True, timeout=60).stdout
    assert pub_der.hex().upper() == info["spki_hex"]
    signed = tmp_path / "signed.gif"
    assert _sign(CORPUS / "gif-none.gif", signed, key_file) == "gif-image"
    fields = _fields(signed)
    sd = json.loads(fields["ReservedCode1"])["SecurityData"]
    pub = next(e for e in sd["PubSD"] if e["Type"] == "PubKey")
    assert pub["AlgID"] == oid and pub["KeyValue"] == info["spki_hex"]
    md = next(e for e in sd["PubSD"] if e["Type"] == "DS" and e["TBSData"]["Type"] == "Md")
    bnd = next(e for e in sd["PubSD"] if e["Type"] == "DS" and e["TBSData"]["Type"] == "Bnd")
    assert md["AlgID"] == bnd["AlgID"] == oid
    message = label_message(fields)
    assert message == f'"Label":"1","ContentProducer":"{PRODUCER}","ProduceID":"bind-0001"'.encode()
    assert _openssl_verify(pub_file, message, bytes.fromhex(md["Signature"]), tmp_path)
    assert not _openssl_verify(pub_file, message + b" ", bytes.fromhex(md["Signature"]), tmp_path)
    entry = json.dumps(sd["Bindings"][0], separators=(",", ":")).encode()
    assert _openssl_verify(pub_file, entry, bytes.fromhex(bnd["Signature"]), tmp_path)
    # we verify it, and the trusted-keys file keys init wrote pins the key to the producer
    assert _state(signed) == ("valid", "bound")
    trusted = load_trusted_keys(d / "trusted-keys.toml")
    handler, src, fh = _open(signed)
    with fh:
        res = verify_field(fields["ReservedCode1"], fields, content=checker(handler, src), trusted=trusted)
    assert (res.status.value, res.trust) == ("valid", "trusted")
    assert crypto.ALGORITHMS[oid] in res.reason
    # a changed field fails the label signature
    forged = dict(fields, ProduceID="bind-0002")
    assert verify_field(fields["ReservedCode1"], forged).status.value == "invalid"


@needs_openssl
def test_openssl_made_ecdsa_key_signs_and_a_wrong_curve_is_refused(tmp_path: Path) -> None:
    assert OPENSSL is not None
    p256 = tmp_path / "p256.pem"
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                    str(p256)], check=True, capture_output=True, timeout=60)
    key = load_signing_key(p256)
    assert key.algorithm == crypto.OID_ECDSA_SHA256
    p384 = tmp_path / "p384.pem"
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out",
                    str(p384)], check=True, capture_output=True, timeout=60)
    from aigclabel.errors import OptionError

    with pytest.raises(OptionError, match="ECDSA P-256"):
        load_signing_key(p384)


def test_keys_init_refuses_two_algorithms(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["keys", "init", "--rsa", "--sm2", str(tmp_path / "k")])
    assert done.exit_code != 0 and "choose one" in done.output
    assert not (tmp_path / "k").exists()


# ------------------------------------------------------------------------------ the signed corpus files

CORPUS_KEYS = CORPUS.parent / "keys"


@needs_openssl
@pytest.mark.parametrize("name", ["jpeg-signed.jpg", "mp3-signed.mp3"])
def test_signed_corpus_files_verify_with_the_committed_test_key(name: str) -> None:
    path = CORPUS / name
    fields = _fields(path)
    sd = json.loads(fields["ReservedCode1"])["SecurityData"]
    test_key = load_signing_key(CORPUS_KEYS / "sm2-test-key.pem")
    assert {e["KeyID"] for e in sd["PubSD"]} == {test_key.public.key_id()}
    handler, src, fh = _open(path)
    with fh:
        res = verify_field(fields["ReservedCode1"], fields, content=checker(handler, src),
                           trusted=load_trusted_keys(CORPUS_KEYS / "trusted-keys.toml"))
    assert (res.status.value, res.binding, res.trust) == ("valid", "bound", "trusted")
    # the binding recomputed without our walkers: the bytes from the first SOS marker (JPEG, Pillow wrote no
    # SOS-like bytes in its headers), or after the ID3v2 tag mutagen measures (MP3, no trailing tags)
    data = path.read_bytes()
    if name.endswith(".jpg"):
        start = data.index(b"\xff\xda")
    else:
        from mutagen.id3 import ID3

        start = ID3(path).size
    assert _openssl_sm3(data[start:]) == str(sd["Bindings"][0]["Value"]).lower()


def test_tampered_corpus_file_is_invalid() -> None:
    assert _state(CORPUS / "jpeg-signed-tampered.jpg") == ("invalid", "mismatch")


# ---------------------------------------------------------------------------------------- broken input

_BROKEN = ["gif-none.gif", "webp-none.webp", "tiff-none.tif", "heic-none.heic", "flac-none.flac", "ogg-none.ogg",
           "opus-none.opus", "mkv-none.mkv", "webm-none.webm", "avi-none.avi", "flv-none.flv", "docx-none.docx",
           "md-none.md", "html-none.html"]


@pytest.mark.parametrize("name", _BROKEN)
def test_recomputing_a_binding_over_broken_files_gives_a_typed_error(name: str, tmp_path: Path) -> None:
    """Truncations and overwritten header bytes: the recomputation raises CorruptFile (or another AigcLabelError)
    or ValueError - which the checker reports as "unchecked" or "mismatch" - never anything else."""
    from aigclabel.errors import AigcLabelError
    from aigclabel.formats.binding import recompute

    data = (CORPUS / name).read_bytes()
    handler, src, fh = _open(CORPUS / name)
    with fh:
        selection = binding_digest(handler, src)
    assert selection is not None
    variants = [data[:n] for n in (len(data) // 3, len(data) // 2, len(data) - 7)]
    variants += [data[:at] + b"\xff\xff\xff\xff" + data[at + 4:] for at in range(16, min(len(data) - 4, 400), 23)]
    for i, broken in enumerate(variants):
        path = tmp_path / f"b{i}{Path(name).suffix}"
        path.write_bytes(broken)
        with path.open("rb") as bfh:
            bsrc = CountingReader(bfh, path.name, len(broken))
            try:
                recompute(handler, bsrc, selection.selection)
            except (AigcLabelError, ValueError):
                pass
