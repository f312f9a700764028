"""C2PA Content Credentials: development keys, signing as the last write, reading and validating.

Signed files are read back by independent readers: c2pa-python's own ``Reader`` (the C2PA SDK, with
the generated CA as its only trust anchor) and exiftool (JUMBF boxes and the CBOR assertions).
Nothing is mocked except, in one test, the SDK's absence.  Files are made with Pillow, ffmpeg and
pypdf.  Known limits of the SDK version we pin (c2pa-rs 0.91) are marked ``xfail(strict=True)``,
so a fix shows up as a failure to remove the marker.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any, Callable

import pytest

c2pa_sdk = pytest.importorskip("c2pa", reason="c2pa-python is not installed: pip install 'aigclabel[c2pa]'")

from click.testing import CliRunner  # noqa: E402
from conftest import DST_TRAINED, PRODUCER, make_jpeg, make_png  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID  # noqa: E402

import aigclabel  # noqa: E402
from aigclabel import c2pa as prov  # noqa: E402
from aigclabel.cli.main import cli  # noqa: E402
from aigclabel.errors import OutputError, UnsupportedOperation  # noqa: E402
from aigclabel.keys import DevKeys, init_keys  # noqa: E402
from aigclabel.marking import mark_file  # noqa: E402
from aigclabel.report import Level, Verdict  # noqa: E402

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (apt-get install ffmpeg)")
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return init_keys(tmp_path_factory.mktemp("keys") / "dev")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("c2pa")


def options(keys: DevKeys, **kw: Any) -> prov.C2paOptions:
    return prov.C2paOptions(**{"sign_cert": keys.chain, "sign_key": keys.key, **kw})


def ffmpeg(scratch: Path, name: str, *args: str) -> bytes:
    out = scratch / name
    proc = subprocess.run([FFMPEG, "-v", "error", "-y", *args, str(out)], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return out.read_bytes()


def make_wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(8000))
    return buf.getvalue()


def make_pdf() -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def make_image(fmt: str) -> Callable[[Path], bytes]:
    def make(scratch: Path) -> bytes:
        from conftest import picture

        buf = io.BytesIO()
        picture().save(buf, fmt)
        return buf.getvalue()
    return make


def make_heif(fmt: str) -> Callable[[Path], bytes]:
    def make(scratch: Path) -> bytes:
        pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed (aigclabel[heif])")
        from conftest import picture

        pillow_heif.register_heif_opener()
        buf = io.BytesIO()
        try:
            picture().save(buf, fmt)
        except Exception as exc:  # noqa: BLE001 - an encoder missing from this libheif build
            pytest.skip(f"pillow-heif cannot write {fmt} here ({exc})")
        return buf.getvalue()
    return make


def make_av(name: str, *args: str) -> Callable[[Path], bytes]:
    def make(scratch: Path) -> bytes:
        if FFMPEG is None:
            pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
        return ffmpeg(scratch, name, *args)
    return make


SINE = ("-f", "lavfi", "-i", "sine=frequency=440:duration=0.5")
VIDEO = ("-f", "lavfi", "-i", "testsrc=size=64x48:duration=0.5:rate=10", "-pix_fmt", "yuv420p", "-c:v", "libx264")

#: format -> (factory, handler name, MIME type the SDK reads it as, carries IPTC XMP)
FORMATS: dict[str, tuple[Callable[[Path], bytes], str, str, bool]] = {
    "jpeg": (lambda s: make_jpeg(), "jpeg", "image/jpeg", True),
    "png": (lambda s: make_png(), "png", "image/png", True),
    "webp": (make_image("WEBP"), "webp", "image/webp", True),
    "tiff": (make_image("TIFF"), "tiff", "image/tiff", True),
    "gif": (make_image("GIF"), "gif", "image/gif", True),
    "avif": (make_heif("AVIF"), "heif", "image/avif", True),
    "heic": (make_heif("HEIF"), "heif", "image/heic", True),
    "mp4": (make_av("v.mp4", *VIDEO, "-movflags", "+faststart"), "mp4", "video/mp4", False),
    "mov": (make_av("v.mov", *VIDEO), "mp4", "video/quicktime", False),
    "avi": (make_av("v.avi", *VIDEO[:6], "-c:v", "mjpeg"), "avi", "video/x-msvideo", False),
    "m4a": (make_av("a.m4a", *SINE, "-c:a", "aac"), "m4a", "audio/mp4", False),
    "mp3": (make_av("a.mp3", *SINE, "-c:a", "libmp3lame"), "mp3", "audio/mpeg", False),
    "wav": (lambda s: make_wav(), "wav", "audio/wav", False),
    "flac": (make_av("a.flac", *SINE, "-c:a", "flac"), "flac", "audio/flac", False),
    "pdf": (lambda s: make_pdf(), "pdf", "application/pdf", True),
}
def sdk_read(data: bytes, mime: str, anchors: Path | None) -> Any:
    """The independent reader: c2pa-python's Reader, with our CA as the only extra trust anchor."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if anchors is not None:
        settings["trust"] = {"user_anchors": anchors.read_text()}
    ctx = c2pa_sdk.Context.from_dict(settings)
    return c2pa_sdk.Reader(mime, io.BytesIO(data), None, ctx)


def assertion(manifest: dict[str, Any], label: str) -> Any:
    (data,) = [a["data"] for a in manifest["assertions"] if a["label"] == label]
    return data


def signed_round_trip(scratch: Path, keys: DevKeys, fmt: str, spec: tuple[Any, str, str, bool]) -> None:
    make, handler, mime, iptc = spec
    src = make(scratch)
    result = mark_file(src, producer=PRODUCER, produce_id=f"c2pa-{fmt}", explicit=False, c2pa=options(keys))
    data = result.data
    assert data is not None and result.format == handler
    assert any("C2PA manifest signed last" in n for n in result.notes), result.notes

    # the SDK's own reader: Trusted with our CA, first action c2pa.created with the AI type, our record
    reader = sdk_read(data, mime, keys.ca)
    assert reader.get_validation_state() == "Trusted", reader.get_validation_results()
    manifest = reader.get_active_manifest()
    first = assertion(manifest, "c2pa.actions.v2")["actions"][0]
    assert first["action"] == "c2pa.created" and first["digitalSourceType"] == DST_TRAINED
    assert assertion(manifest, prov.ASSERTION_LABEL) == {"record": result.record_json, "schema": "gb45438-2025"}
    # without the anchor: intact but untrusted
    plain = sdk_read(data, mime, None)
    assert plain.get_validation_state() == "Valid"
    codes = [f["code"] for f in plain.get_validation_results()["activeManifest"]["failure"]]
    assert codes == ["signingCredential.untrusted"]

    # the implicit record (and IPTC type) survived signing
    report = aigclabel.verify(data, scope="implicit")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    assert [lab.raw for lab in report.labels] == [result.record_json]
    if iptc:
        assert [t.detail for t in report.traces if t.kind == "iptc-digital-source-type"] == [DST_TRAINED]
    # our verifier agrees with the SDK
    ours = aigclabel.verify(data, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    assert ours.verdict is Verdict.COMPLIANT, [f.to_dict() for f in ours.findings]
    assert {f.rule: f.level for f in ours.findings}["c2pa.manifest"] is Level.PASS


# ------------------------------------------------------------------------------------------ keys init


def test_keys_init_writes_a_chain_c2pa_accepts(keys: DevKeys) -> None:
    ca = x509.load_pem_x509_certificate(keys.ca.read_bytes())
    leaf, inter = x509.load_pem_x509_certificates(keys.chain.read_bytes())
    leaf.verify_directly_issued_by(inter)
    inter.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert keys.key.stat().st_mode & 0o077 == 0  # the private key is readable by its owner only
    assert prov.C2paOptions(sign_cert=keys.chain, sign_key=keys.key).check().alg == "es256"


def test_keys_init_never_overwrites(tmp_path: Path) -> None:
    first = init_keys(tmp_path / "k")
    before = {p: p.read_bytes() for p in (first.ca, first.chain, first.key)}
    with pytest.raises(OutputError, match="already exists"):
        init_keys(tmp_path / "k")
    assert {p: p.read_bytes() for p in before} == before
    # one stray file is enough to refuse, and nothing else is written
    (tmp_path / "k2").mkdir()
    (tmp_path / "k2" / "signer-key.pem").write_text("mine")
    with pytest.raises(OutputError):
        init_keys(tmp_path / "k2")
    assert sorted(p.name for p in (tmp_path / "k2").iterdir()) == ["signer-key.pem"]


def test_keys_init_command(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["keys", "init", str(tmp_path / "d"), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert Path(info["ca"]).name == "ca.pem" and Path(info["chain"]).exists()
    again = runner.invoke(cli, ["keys", "init", str(tmp_path / "d")])
    assert again.exit_code == 3 and "already exists" in again.output


# ------------------------------------------------------------------------------------------ signing


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_sign_and_verify(fmt: str, scratch: Path, keys: DevKeys) -> None:
    signed_round_trip(scratch, keys, fmt, FORMATS[fmt])


def test_exiftool_sees_the_manifest(keys: DevKeys, exiftool: Callable[[bytes], dict[str, Any]]) -> None:
    for data in (make_jpeg(), make_png()):
        result = mark_file(data, producer=PRODUCER, explicit=False, c2pa=options(keys))
        tags = exiftool(result.data)
        assert tags.get("JUMBF:JUMDLabel") == "c2pa", tags
        # the record travels in the assertion under "record"; the only AIGC-named tag is the XMP one
        assert tags.get("CBOR:Record") == result.record_json
        aigc_keys = [k for k in tags if k.split(":")[-1].upper() == "AIGC"]
        assert aigc_keys == ["XMP-TC260:Aigc"], aigc_keys


def test_manifest_content(keys: DevKeys) -> None:
    """softwareAgent, a composite source type from the profile, the 2023 record schema."""
    prof = aigclabel.load_profile("cn-tc260-2023")
    result = mark_file(make_jpeg(), producer="ExampleAI", explicit=False, profile=prof,
                       c2pa=options(keys, system_name="Seedream", system_version="3.0", title="cat.jpg"))
    m = sdk_read(result.data, "image/jpeg", keys.ca).get_active_manifest()
    first = assertion(m, "c2pa.actions.v2")["actions"][0]
    assert first["softwareAgent"] == {"name": "Seedream", "version": "3.0"} and first["when"]
    assert assertion(m, prov.ASSERTION_LABEL) == {"record": result.record_json, "schema": "tc260-2023"}
    assert m["title"] == "cat.jpg" and m["claim_generator_info"][0]["name"] == "aigclabel"
    # thumbnails are off by default
    assert not any(a["label"].startswith("c2pa.thumbnail") for a in m["assertions"]) and "thumbnail" not in m


def test_tamper_gives_invalid(keys: DevKeys) -> None:
    data = bytearray(mark_file(make_jpeg(), producer=PRODUCER, explicit=False, c2pa=options(keys)).data)
    data[-200] ^= 0xFF  # inside the entropy-coded image data, after every metadata segment
    reader = sdk_read(bytes(data), "image/jpeg", keys.ca)
    assert reader.get_validation_state() == "Invalid"
    report = aigclabel.verify(bytes(data), profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    assert report.verdict is Verdict.NONCOMPLIANT
    (bad,) = [f for f in report.findings if f.rule == "c2pa.manifest"]
    assert bad.level is Level.ERROR and "assertion.dataHash.mismatch" in bad.message
    # the record is still there and still fine: only the signature broke
    assert aigclabel.verify(bytes(data), scope="implicit").verdict is Verdict.COMPLIANT


def test_untrusted_chain(keys: DevKeys, tmp_path: Path) -> None:
    data = mark_file(make_png(), producer=PRODUCER, explicit=False, c2pa=options(keys)).data
    other = init_keys(tmp_path / "other")  # a CA that did not issue the signer
    for anchors in (None, other.ca):
        report = aigclabel.verify(data, profile="c2pa", c2pa=prov.ReadOptions(trust_anchors=anchors))
        (f,) = [f for f in report.findings if f.rule == "c2pa.manifest"]
        assert f.level is Level.WARNING and "signingCredential.untrusted" in f.message
        assert report.verdict is Verdict.COMPLIANT  # Valid is enough unless the profile insists
    strict = tmp_path / "strict.toml"
    strict.write_text('id = "strict"\nextends = "c2pa"\n[rules."c2pa.manifest"]\nrequire_trusted = true\n')
    assert aigclabel.verify(data, profile=str(strict)).verdict is Verdict.NONCOMPLIANT
    # the trusted path: the generated CA as anchor, from the profile (a path relative to it)
    shutil.copy(keys.ca, tmp_path / "anchors.pem")
    trusted = tmp_path / "trusted.toml"
    trusted.write_text('id = "trusted"\nextends = "c2pa"\n[rules."c2pa.manifest"]\nrequire_trusted = true\n'
                       'trust_anchors = "anchors.pem"\n')
    report = aigclabel.verify(data, profile=str(trusted))
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]


def test_missing_profile_anchor_file_is_a_profile_error(keys: DevKeys, tmp_path: Path) -> None:
    data = mark_file(make_png(), producer=PRODUCER, explicit=False, c2pa=options(keys)).data
    prof = tmp_path / "p.toml"
    prof.write_text('id = "p"\nextends = "c2pa"\n[rules."c2pa.manifest"]\ntrust_anchors = "nope.pem"\n')
    with pytest.raises(aigclabel.ProfileError, match=r"p\.toml.*rules\.c2pa\.manifest\.trust_anchors"):
        aigclabel.verify(data, profile=str(prof))


# ------------------------------------------------------------------------------------------ the order


def test_no_metadata_write_after_signing(keys: DevKeys, tmp_path: Path) -> None:
    signed = tmp_path / "signed.jpg"
    mark_file(make_jpeg(), signed, producer=PRODUCER, explicit=False, c2pa=options(keys))
    before = signed.read_bytes()
    for c2pa_opts in (None, options(keys)):  # neither a plain mark nor a re-signing mark
        with pytest.raises(UnsupportedOperation, match="carries a C2PA manifest"):
            mark_file(signed, tmp_path / "again.jpg", producer=PRODUCER, explicit=False, c2pa=c2pa_opts)
        assert not (tmp_path / "again.jpg").exists()
        with pytest.raises(UnsupportedOperation, match="signing is always the last write"):
            mark_file(signed, producer=PRODUCER, explicit=False, in_place=True, c2pa=c2pa_opts)
        assert signed.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".aigctmp")]
    assert sdk_read(before, "image/jpeg", keys.ca).get_validation_state() == "Trusted"


def pdf_with_image(jpeg: bytes, size: tuple[int, int]) -> bytes:
    """A one-page PDF showing *jpeg* stored unchanged (DCTDecode), written by hand."""
    content = b"q 100 0 0 100 50 50 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /XObject << /Im0 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 "
        b"/Filter /DCTDecode /Length %d >>\nstream\n" % (size[0], size[1], len(jpeg)) + jpeg + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_signed_picture_inside_is_not_the_files_manifest(keys: DevKeys) -> None:
    """A PDF that shows a signed JPEG unchanged still gets marked: only the file's own manifest counts."""
    jpeg = mark_file(make_jpeg(), producer=PRODUCER, explicit=False, c2pa=options(keys)).data
    pdf = pdf_with_image(jpeg, (96, 64))
    assert prov.find_manifest_store(io.BytesIO(pdf)) is not None
    out = mark_file(pdf, producer=PRODUCER, explicit=False)
    assert aigclabel.verify(out.data, scope="implicit").verdict is Verdict.COMPLIANT


def test_failed_signing_writes_nothing(keys: DevKeys, tmp_path: Path) -> None:
    """A time-stamp authority that cannot be reached (a closed local port): the signing step fails."""
    src = tmp_path / "in.png"
    src.write_bytes(make_png())
    before = src.read_bytes()
    bad_tsa = options(keys, tsa_url="http://127.0.0.1:9/tsa")
    with pytest.raises(prov.SigningError, match="time-stamp authority .*nothing was written"):
        mark_file(src, tmp_path / "out.png", producer=PRODUCER, explicit=False, c2pa=bad_tsa)
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(prov.SigningError):
        mark_file(src, producer=PRODUCER, explicit=False, in_place=True, c2pa=bad_tsa)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_bad_credentials_are_refused_before_anything_is_written(keys: DevKeys, tmp_path: Path) -> None:
    other = init_keys(tmp_path / "other")
    with pytest.raises(prov.SigningError, match="does not belong"):
        options(keys, sign_key=other.key).check()
    with pytest.raises(prov.SigningError, match="not PEM"):
        prov.C2paOptions(sign_cert=b"junk", sign_key=keys.key).check()
    with pytest.raises(prov.SigningError, match="not an http"):
        options(keys, tsa_url="ftp://x").check()
    with pytest.raises(prov.SigningError, match="does not belong"):
        mark_file(make_png(), tmp_path / "o.png", producer=PRODUCER, explicit=False,
                  c2pa=options(keys, sign_key=other.key))
    assert not (tmp_path / "o.png").exists()


def _marked_jpeg(tmp_path: Path) -> tuple[Path, Any, Any]:
    """An unsigned marked JPEG on disk, its handler and its implicit label (what the signing step starts from)."""
    from aigclabel.formats import ImplicitLabel
    from aigclabel.reading import open_handler

    path = tmp_path / "marked.jpg"
    result = mark_file(make_jpeg(), path, producer=PRODUCER, produce_id="sign-into", explicit=False)
    with open_handler(path) as (_src, handler):
        pass
    return path, handler, ImplicitLabel(result.record_json, DST_TRAINED)


def test_a_signature_that_does_not_validate_is_refused_and_the_output_restored(keys: DevKeys,
                                                                               tmp_path: Path) -> None:
    """The SDK's own check after signing is off (our read-back replaces it): a manifest the SDK signs although it
    does not validate (a c2pa.created action without a digitalSourceType) must still be refused -- by the
    read-back of the bytes as written -- and the stream gets its unsigned bytes back."""
    path, handler, implicit = _marked_jpeg(tmp_path)
    before = path.read_bytes()
    opts = options(keys)
    creds = opts.check()
    manifest = prov._manifest(opts, creds, implicit, "image/jpeg", "gb45438-2025")
    del manifest["assertions"][0]["data"]["actions"][0]["digitalSourceType"]
    with open(path, "r+b") as out:
        with pytest.raises(prov.SigningError, match=r"does not validate \(Invalid \(.*assertion\.action\.malformed"):
            prov._sign_into(out, manifest, "image/jpeg", creds, opts,
                            lambda: prov._check_signed(handler, out, implicit, "image/jpeg", opts))
    assert path.read_bytes() == before
    # the same manifest with the SDK's check on is refused by the SDK itself: the setting is really read
    with open(path, "rb") as src_fh, c2pa_sdk.Context.from_dict(prov._settings(None, allow_network=False)) as ctx, \
            c2pa_sdk.Signer.from_info(c2pa_sdk.C2paSignerInfo(creds.alg, creds.chain_pem, creds.key_pem, None)) \
            as signer, c2pa_sdk.Builder(manifest, context=ctx) as builder:
        with pytest.raises(c2pa_sdk.C2paError, match="assertion.action.malformed"):
            builder.sign(signer, "image/jpeg", src_fh, io.BytesIO())


def test_a_failed_signature_leaves_the_stream_as_it_was(keys: DevKeys, tmp_path: Path) -> None:
    """sign_last writes the signed file over its output stream: when signing fails, the stream's bytes (and
    length) are the unsigned ones again, whoever called it."""
    path, handler, implicit = _marked_jpeg(tmp_path)
    before = path.read_bytes()
    with open(path, "r+b") as out:
        with pytest.raises(prov.SigningError, match="time-stamp authority .*nothing was written"):
            prov.sign_last(handler, out, options(keys, tsa_url="http://127.0.0.1:9/tsa"), implicit, [])
    assert path.read_bytes() == before


@pytest.mark.parametrize("in_memory", [True, False], ids=["input-in-memory", "input-in-a-temporary-file"])
def test_signing_into_a_file(keys: DevKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool) -> None:
    """A file destination, with the SDK's input copy held in memory and (as for long media) in a temporary file:
    the file on disk validates (Trusted with our CA), carries the record once, and no temporary file is left."""
    if not in_memory:
        monkeypatch.setattr(prov, "_INPUT_IN_MEMORY", 0)
    src = tmp_path / "in.png"
    src.write_bytes(make_png())
    dest = tmp_path / "out.png"
    result = mark_file(src, dest, producer=PRODUCER, explicit=False, c2pa=options(keys))
    data = dest.read_bytes()
    reader = sdk_read(data, "image/png", keys.ca)
    assert reader.get_validation_state() == "Trusted", reader.get_validation_results()
    assert assertion(reader.get_active_manifest(), prov.ASSERTION_LABEL)["record"] == result.record_json
    assert [lab.raw for lab in aigclabel.verify(data, scope="implicit").labels] == [result.record_json]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


@needs_ffmpeg
def test_ogg_cannot_be_signed_and_says_so(keys: DevKeys, scratch: Path) -> None:
    ogg = ffmpeg(scratch, "a.ogg", *SINE, "-c:a", "libvorbis")
    with pytest.raises(prov.SigningError, match="not available for OGG.*nothing was written"):
        mark_file(ogg, producer=PRODUCER, explicit=False, c2pa=options(keys))
    marked = mark_file(ogg, producer=PRODUCER, explicit=False).data
    report = aigclabel.verify(marked, profile="c2pa")
    (f,) = [f for f in report.findings if f.rule == "c2pa.manifest"]
    assert f.level is Level.NOT_CHECKED and "OGG cannot carry a C2PA manifest" in f.message
    assert report.verdict is Verdict.INCONCLUSIVE


# ------------------------------------------------------------------------------------------ reading


def test_inspect_shows_the_manifest(keys: DevKeys) -> None:
    data = mark_file(make_jpeg(), producer=PRODUCER, explicit=False,
                     c2pa=options(keys, system_name="Seedream", system_version="3.0")).data
    insp = aigclabel.inspect(data, c2pa=prov.ReadOptions(trust_anchors=keys.ca))
    (trace,) = [t for t in insp.traces if t.kind == "c2pa-manifest"]
    assert trace.detail.startswith("Trusted; signed by CN=aigclabel development signer")
    assert "c2pa.created (trainedAlgorithmicMedia) by Seedream 3.0" in trace.detail
    assert [t.detail for t in insp.traces if t.kind == "c2pa-digital-source-type"] == [DST_TRAINED]
    info = json.loads(json.dumps(insp.to_dict()))["info"]["c2pa"]
    assert info["status"] == "present" and info["manifest"]["state"] == "Trusted"
    assert info["manifest"]["signer"]["alg"].lower() == "es256"
    # an unsigned file: nothing to trace
    plain = aigclabel.inspect(make_jpeg())
    assert plain.info["c2pa"]["status"] == "absent" and not [t for t in plain.traces if "c2pa" in t.kind]


def test_chinese_profiles_do_not_read_manifests(keys: DevKeys) -> None:
    """Verifying against a profile without C2PA rules never hashes the whole file."""
    data = mark_file(make_jpeg(size=(400, 300)), producer=PRODUCER, explicit=False, c2pa=options(keys)).data
    report = aigclabel.verify(data, scope="implicit")
    assert report.bytes_read is not None and report.bytes_read < len(data) // 2
    assert not [t for t in report.traces if t.kind.startswith("c2pa")]


def test_without_the_sdk_c2pa_rules_are_not_checked(keys: DevKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    data = mark_file(make_jpeg(), producer=PRODUCER, explicit=False, c2pa=options(keys)).data

    def missing() -> Any:
        raise ImportError("No module named 'c2pa'")

    monkeypatch.setattr(prov, "_sdk", missing)
    report = aigclabel.verify(data, profile="c2pa")
    mine = [f for f in report.findings if f.rule.startswith("c2pa.")]
    assert mine and all(f.level is Level.NOT_CHECKED and "aigclabel[c2pa]" in f.message for f in mine)
    assert report.verdict is Verdict.INCONCLUSIVE
    with pytest.raises(prov.SigningError, match=r"aigclabel\[c2pa\]"):
        mark_file(make_jpeg(), producer=PRODUCER, explicit=False, c2pa=options(keys))
    # the Chinese profiles do not care
    assert aigclabel.verify(data, scope="implicit").verdict is Verdict.COMPLIANT


# ------------------------------------------------------------------------------------------ command line


def test_cli_mark_c2pa_then_verify(keys: DevKeys, tmp_path: Path) -> None:
    runner = CliRunner()
    src = tmp_path / "in.jpg"
    src.write_bytes(make_jpeg())
    out = tmp_path / "out.jpg"
    sign = ["--c2pa", "--sign-cert", str(keys.chain), "--sign-key", str(keys.key)]
    res = runner.invoke(cli, ["mark", str(src), "-o", str(out), "--producer", PRODUCER, "--no-explicit", *sign])
    assert res.exit_code == 0, res.output
    assert "C2PA manifest signed last" in res.output
    res = runner.invoke(cli, ["verify", str(out), "--profile", "c2pa", "--trust-anchors", str(keys.ca), "--json"])
    assert res.exit_code == 0, res.output
    (report,) = json.loads(res.output)
    assert report["verdict"] == "compliant"
    assert any(t["kind"] == "c2pa-manifest" and t["detail"].startswith("Trusted") for t in report["traces"])
    # eu: signed + IPTC, but the profile also asks for an imperceptible watermark and the detector finds none
    res = runner.invoke(cli, ["verify", str(out), "--profile", "eu-ai-act-art50", "--trust-anchors", str(keys.ca)])
    assert res.exit_code == 1 and "implicit.watermark" in res.output
    # usage errors: exit 2, nothing written
    for args in (["--c2pa"], ["--sign-cert", str(keys.chain)],
                 ["--c2pa", "--sign-cert", str(keys.chain), "--sign-key", str(keys.ca)]):
        res = runner.invoke(cli, ["mark", str(src), "-o", str(tmp_path / "x.jpg"), "--producer", PRODUCER, *args])
        assert res.exit_code == 2, (args, res.output)
    res = runner.invoke(cli, ["verify", str(out), "--trust-anchors", str(keys.key)])
    assert res.exit_code == 2
    assert not (tmp_path / "x.jpg").exists()


def test_cli_mark_c2pa_ogg_is_a_clear_error(keys: DevKeys, scratch: Path, tmp_path: Path) -> None:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not installed")
    ogg = tmp_path / "a.ogg"
    ogg.write_bytes(ffmpeg(scratch, "b.ogg", *SINE, "-c:a", "libvorbis"))
    res = CliRunner().invoke(cli, ["mark", str(ogg), "-o", str(tmp_path / "o.ogg"), "--producer", PRODUCER,
                                   "--no-explicit", "--c2pa", "--sign-cert", str(keys.chain),
                                   "--sign-key", str(keys.key)])
    assert res.exit_code == 3 and "not available for OGG" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o.ogg").exists()


def test_sdk_facts_we_rely_on() -> None:
    """The pinned SDK: supported MIME types and the settings names we use."""
    assert prov.sdk_version() and prov.readable("jpeg") and prov.signable("mp3") and prov.signable("avi")
    assert not prov.signable("ogg") and not prov.readable("opus")
    assert prov.mime_for("heif", {"brand": "avif"}) == "image/avif"
    assert prov.mime_for("mp4", {"container": "quicktime"}) == "video/quicktime"
    c2pa_sdk.Context.from_dict(prov._settings(None, allow_network=False)).close()


def test_manifest_store_scan_finds_the_uuid_across_read_boundaries() -> None:
    uuid = b"c2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"  # ISO 19566-5 C2PA manifest store type
    for pos in [*range(40, 80), 255, 256, 1000]:
        data = bytes(pos) + uuid + bytes(50)
        assert prov.find_manifest_store(io.BytesIO(data), chunk=64) == pos
    assert prov.find_manifest_store(io.BytesIO(bytes(5000) + uuid[:-1]), chunk=64) is None


@pytest.mark.parametrize("fmt", ["png", "gif", "webp", "mp4", "mp3", "wav", "avi"])
def test_a_remote_manifest_reference_still_reaches_the_sdk(fmt: str, scratch: Path, keys: DevKeys) -> None:
    """Handlers with ``c2pa_manifest_read`` skip the SDK when their walk saw no store and no reference; a file
    signed with its manifest kept remote (the SDK's own no-embed signing, which writes dcterms:provenance into
    the XMP) must still be handed to the SDK, which then says the manifest is remote (status ``remote``: the SDK
    raises its base error class with a "Remote:" message, which was once reported as an unreadable store).
    Nothing is fetched."""
    make, _handler, mime, _iptc = FORMATS[fmt]
    manifest = {"claim_generator_info": [{"name": "aigclabel-test"}],
                "assertions": [{"label": "c2pa.actions.v2",
                                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": DST_TRAINED}]}}]}
    info = c2pa_sdk.C2paSignerInfo(b"es256", keys.chain.read_bytes(), keys.key.read_bytes(), None)
    out = io.BytesIO()
    with c2pa_sdk.Signer.from_info(info) as signer, c2pa_sdk.Builder(manifest) as builder:
        builder.set_no_embed()
        builder.set_remote_url("http://127.0.0.1:9/manifest.c2pa")
        builder.sign(signer, mime, io.BytesIO(make(scratch)), out)
    data = out.getvalue()
    assert b"provenance" in data  # the reference the walk must notice
    found = aigclabel.inspect(data).info["c2pa"]
    assert found["status"] == "remote" and "127.0.0.1:9/manifest.c2pa" in found["message"], found
    assert "allow network access" in found["message"]
