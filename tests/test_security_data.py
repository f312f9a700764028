"""TC260 SecurityData (ReservedCode1/2): SM2 signatures checked by OpenSSL 3, content bindings, tamper cases,
vendor forms and trusted keys.  Files are real samples marked through the handlers; exiftool, OpenSSL and
the stdlib ``wave`` module read the results independently."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aigclabel import verify
from aigclabel._io import open_source
from aigclabel.formats import handler_for
from aigclabel.formats.base import ImplicitLabel
from aigclabel.formats.binding import ContentDigest, binding_digest, checker, recompute, selected_ranges
from aigclabel.label import AigcRecord
from aigclabel.security import (Status, label_message, load_signing_key, load_trusted_keys, parse_security_data,
                                sign_fields, verify_field)
from aigclabel.security import crypto
from conftest import PRODUCER, jpeg_segments, tool_values_containing

pytestmark = pytest.mark.skipif(not crypto.available(), reason="needs the sign extra: pip install 'aigclabel[sign]'")

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FAMILIES = {"jpeg": "photo.jpg", "png": "render.png", "mp4": "clip.mp4", "wav": "voice.wav", "mp3": "tone.mp3",
            "pdf": "report.pdf"}
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl (3.x, with SM2) is not installed")
RULE = "implicit.security-data"


@pytest.fixture(scope="module")
def key() -> crypto.PrivateKey:
    return crypto.generate()


def _write(data: bytes, record: AigcRecord) -> bytes:
    """*data* with *record* as its one implicit record, through the format's handler."""
    import io

    with open_source(data) as src:
        handler = handler_for(src)
        out = io.BytesIO()
        handler.write_metadata(src, out, ImplicitLabel(record.to_json()))
    return out.getvalue()


def _digest(data: bytes) -> ContentDigest:
    with open_source(data) as src:
        digest = binding_digest(handler_for(src), src)
    assert digest is not None
    return digest


def sign_into(data: bytes, key: crypto.PrivateKey, produce_id: str, producer: str = PRODUCER) -> bytes:
    """What a signing writer does: hash the content once, sign, then write the record."""
    record = AigcRecord(content_producer=producer, produce_id=produce_id)
    return _write(data, dataclasses.replace(record, reserved_code1=sign_fields(record, key, _digest(data))))


def _record(data: bytes) -> dict[str, Any]:
    from aigclabel import inspect

    labels = [lab for lab in inspect(data).labels if lab.fields]
    assert len(labels) == 1, labels
    return dict(labels[0].fields)


def check(data: bytes, trusted: Any = None) -> Any:
    fields = _record(data)
    with open_source(data) as src:
        return verify_field(fields.get("ReservedCode1"), fields, content=checker(handler_for(src), src),
                            trusted=trusted)


def _openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], capture_output=True, input=stdin, timeout=60)


def _sd(value: str) -> dict[str, Any]:
    return dict(json.loads(value)["SecurityData"])


# ------------------------------------------------------------------------------------ OpenSSL agrees


@needs_openssl
def test_openssl_verifies_our_label_signature(tmp_path: Path, key: crypto.PrivateKey) -> None:
    record = AigcRecord(content_producer=PRODUCER, produce_id="ossl-0001")
    value = sign_fields(record, key)
    sd = _sd(value)
    ds = next(e for e in sd["PubSD"] if e["Type"] == "DS")
    pub = next(e for e in sd["PubSD"] if e["Type"] == "PubKey")
    assert ds["TBSData"] == {"Type": "Md"} and ds["AlgID"] == "1.2.156.10197.1.501"
    msg = tmp_path / "msg"
    msg.write_bytes(b'"Label":"1","ContentProducer":"' + PRODUCER.encode() + b'","ProduceID":"ossl-0001"')
    assert label_message(record.to_dict()) == msg.read_bytes()
    (tmp_path / "sig.der").write_bytes(bytes.fromhex(ds["Signature"]))
    # the public key as the record carries it (04||x||y), turned into PEM by OpenSSL's own tooling via SPKI DER
    spki = bytes.fromhex("3059301306072A8648CE3D020106082A811CCF5501822D034200") + bytes.fromhex(pub["KeyValue"])
    (tmp_path / "pub.der").write_bytes(spki)
    args = ["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-pubin",
            "-keyform", "DER", "-inkey", str(tmp_path / "pub.der"), "-in", str(msg), "-sigfile",
            str(tmp_path / "sig.der")]
    done = _openssl(*args)
    assert done.returncode == 0 and b"Verified Successfully" in done.stdout, done.stderr
    # and OpenSSL rejects it over a changed ProduceID (the check above is not vacuous)
    msg.write_bytes(msg.read_bytes().replace(b"0001", b"0002"))
    assert _openssl(*args).returncode != 0


@needs_openssl
def test_we_verify_openssl_signatures(tmp_path: Path) -> None:
    priv = tmp_path / "k.pem"
    assert _openssl("genpkey", "-algorithm", "SM2", "-out", str(priv)).returncode == 0
    spki = _openssl("pkey", "-in", str(priv), "-pubout", "-outform", "DER").stdout
    fields = {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "from-openssl"}
    (tmp_path / "msg").write_bytes(label_message(fields))
    done = _openssl("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
                    "-inkey", str(priv), "-in", str(tmp_path / "msg"))
    assert done.returncode == 0, done.stderr
    value = json.dumps({"SecurityData": {"Type": "TC260PG", "Version": 1, "PubSD": [
        {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "TBSData": {"Type": "Md"}, "Signature": done.stdout.hex()},
        {"Type": "PubKey", "AlgID": "1.2.156.10197.1.501", "KeyValue": spki.hex().upper()}]}})
    res = verify_field(value, fields)
    assert res.status is Status.VALID, res.reason
    assert verify_field(value, {**fields, "ProduceID": "from-opensss"}).status is Status.INVALID
    # a key OpenSSL wrote loads as a signing key too, and its signatures verify in OpenSSL
    ours = load_signing_key(priv)
    (tmp_path / "sig").write_bytes(ours.sign(label_message(fields)))
    (tmp_path / "pub.der").write_bytes(spki)
    assert _openssl("pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678",
                    "-pubin", "-keyform", "DER", "-inkey", str(tmp_path / "pub.der"), "-in", str(tmp_path / "msg"),
                    "-sigfile", str(tmp_path / "sig")).returncode == 0


# ------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_round_trip_is_valid_and_bound(family: str, key: crypto.PrivateKey, tmp_path: Path, exiftool: Any) -> None:
    original = (SAMPLES / FAMILIES[family]).read_bytes()
    signed = sign_into(original, key, f"rt-{family}")
    res = check(signed)
    assert res.status is Status.VALID, res.reason
    assert res.binding == "bound", res.binding_reason
    assert res.key_id == key.public.key_id() and res.form == "guide"
    # the selection did not move: the binding taken before the record went in still matches after
    cnt_sel = _sd(_record(signed)["ReservedCode1"])["Bindings"][0]["CntSel"]
    with open_source(signed) as src:
        assert recompute(handler_for(src), src, cnt_sel).value == _digest(original).value
    # an independent reader sees the signed record in the file
    if family == "wav":  # exiftool does not print an unknown RIFF chunk: walk the chunks here
        assert b"SecurityData" in _riff_chunks(signed)[b"AIGC"]
        return
    path = tmp_path / f"signed{Path(FAMILIES[family]).suffix}"
    path.write_bytes(signed)
    assert tool_values_containing(exiftool(path), "SecurityData"), f"exiftool finds no SecurityData in {family}"


def _riff_chunks(data: bytes) -> dict[bytes, bytes]:
    out, pos = {}, 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        out[cid] = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    return out


def test_jpeg_binding_is_sm3_of_the_scan_bytes(key: crypto.PrivateKey) -> None:
    original = (SAMPLES / "photo.jpg").read_bytes()
    _, sos = jpeg_segments(original)  # the test's own walker, not the handler's
    entry = _sd(_record(sign_into(original, key, "jpeg-sel"))["ReservedCode1"])["Bindings"][0]
    assert entry["CntSel"] == "jpeg-scan"
    assert entry["Value"].lower() == crypto.sm3(original[sos:]).hex()


@needs_openssl
def test_wav_binding_is_sm3_of_the_samples(key: crypto.PrivateKey, tmp_path: Path) -> None:
    original = (SAMPLES / "voice.wav").read_bytes()
    path = tmp_path / "v.wav"
    path.write_bytes(original)
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
    digest = _openssl("dgst", "-sm3", "-binary", stdin=frames).stdout.hex()
    entry = _sd(_record(sign_into(original, key, "wav-sel"))["ReservedCode1"])["Bindings"][0]
    assert (entry["CntSel"], entry["Value"].lower()) == ("wav-data", digest)


def test_pdf_binding_covers_the_original_revision(key: crypto.PrivateKey) -> None:
    original = (SAMPLES / "report.pdf").read_bytes()
    signed = sign_into(original, key, "pdf-sel")
    assert signed.startswith(original)  # the record went in as an incremental update
    entry = _sd(_record(signed)["ReservedCode1"])["Bindings"][0]
    assert entry["CntSel"] == f"pdf-prefix:{len(original)}"
    assert entry["Value"].lower() == crypto.sm3(original).hex()


# ------------------------------------------------------------------------------------ tampering


def _rewrite_fields(data: bytes, **changes: str) -> bytes:
    fields = _record(data)
    fields.update(changes)
    return _write(data, AigcRecord.from_fields(fields))


@pytest.mark.parametrize("family", ["jpeg", "wav", "mp4"])
def test_changed_field_is_invalid(family: str, key: crypto.PrivateKey) -> None:
    signed = sign_into((SAMPLES / FAMILIES[family]).read_bytes(), key, "field-0001")
    res = check(_rewrite_fields(signed, ProduceID="field-0002"))
    assert res.status is Status.INVALID and "label signature" in res.reason
    assert check(_rewrite_fields(signed, ContentProducer=PRODUCER[:-1] + "1")).status is Status.INVALID


def _flip_in_selection(data: bytes) -> bytes:
    with open_source(data) as src:
        ranges = selected_ranges(handler_for(src), src)
    offset, length = max(ranges, key=lambda r: r[1])
    pos = offset + length // 2
    while data[pos] == 0xFF or data[pos - 1] == 0xFF or data[pos] ^ 1 == 0xFF:
        pos += 1  # keep JPEG entropy data free of new markers
    return data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1:]


@pytest.mark.parametrize("family", ["jpeg", "wav", "mp4", "mp3"])
def test_changed_content_byte_is_invalid(family: str, key: crypto.PrivateKey) -> None:
    signed = sign_into((SAMPLES / FAMILIES[family]).read_bytes(), key, "content-0001")
    res = check(_flip_in_selection(signed))
    assert res.status is Status.INVALID and "content changed" in res.reason, res.reason
    assert res.binding == "mismatch"


def test_changed_pixel_in_png_is_invalid(key: crypto.PrivateKey) -> None:
    import io
    from PIL import Image

    original = (SAMPLES / "render.png").read_bytes()
    signed = sign_into(original, key, "png-pixel")
    im = Image.open(io.BytesIO(original)).convert("RGB")
    im.putpixel((3, 3), tuple(255 - c for c in im.getpixel((3, 3))))  # type: ignore[misc]
    buf = io.BytesIO()
    im.save(buf, "PNG")
    moved = _write(buf.getvalue(), AigcRecord.from_fields(_record(signed)))
    assert check(moved).status is Status.INVALID


def test_changed_byte_in_pdf_original_revision_is_invalid(key: crypto.PrivateKey) -> None:
    signed = sign_into((SAMPLES / "report.pdf").read_bytes(), key, "pdf-byte")
    pos = signed.index(b"%", 1)  # a comment byte on the header's second line: the PDF still opens
    tampered = signed[:pos + 1] + bytes([signed[pos + 1] ^ 1]) + signed[pos + 2:]
    assert check(tampered).status is Status.INVALID


def test_record_moved_to_another_file_is_invalid(key: crypto.PrivateKey) -> None:
    signed = sign_into((SAMPLES / "photo.jpg").read_bytes(), key, "moved-0001")
    other = (SAMPLES / "misnamed.jpg").read_bytes()
    moved = _write(other, AigcRecord.from_fields(_record(signed)))
    res = check(moved)
    assert res.status is Status.INVALID and res.binding == "mismatch"
    # into another format: the selection was made for a JPEG
    into_png = _write((SAMPLES / "render.png").read_bytes(), AigcRecord.from_fields(_record(signed)))
    res = check(into_png)
    assert res.status is Status.INVALID and "another format" in res.reason


def test_signature_pasted_from_another_file_is_invalid(key: crypto.PrivateKey) -> None:
    a = sign_into((SAMPLES / "photo.jpg").read_bytes(), key, "paste-a")
    b = sign_into((SAMPLES / "misnamed.jpg").read_bytes(), key, "paste-b")
    assert check(b).status is Status.VALID
    pasted = _rewrite_fields(b, ReservedCode1=_record(a)["ReservedCode1"])
    assert check(pasted).status is Status.INVALID
    # re-hashing the new content into the pasted binding does not help: the binding is signed
    sd = json.loads(_record(a)["ReservedCode1"])
    sd["SecurityData"]["Bindings"][0]["Value"] = _digest(b).value.upper()
    forged = _rewrite_fields(b, ProduceID="paste-a", ReservedCode1=json.dumps(sd, separators=(",", ":")))
    res = check(forged)
    assert res.status is Status.INVALID and "binding's signature" in res.reason


# ------------------------------------------------------------------------------------ vendor forms


def _even_y_key() -> crypto.PrivateKey:
    while True:
        k = crypto.generate()
        if k.public.point()[-1] % 2 == 0:
            return k


def test_minimax_form_made_with_our_key_verifies() -> None:
    k = _even_y_key()
    fields = {"Label": "1", "ContentProducer": "MiniMax", "ProduceID": "372201234567890123"}
    binding = {"BType": 0, "AlgID": "1.2.156.10197.1.401", "Value": "AB" * 32}
    value = json.dumps({"SecurityData": {"Type": "TC260PG", "Version": 1, "PubSD": [
        {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "TBSData": {"Type": "LabelMataData"},
         "Signature": k.sign(label_message(fields)).hex()},
        {"Type": "DS", "AlgID": "1.2.156.10197.1.501", "TBSData": {"Type": "Binding"},
         "Signature": k.sign(json.dumps(binding, separators=(",", ":")).encode()).hex()},
        {"Type": "PubKey", "AlgID": "1.2.156.10197.1.501", "KeyValue": "00" + k.public.point()[1:33].hex()}],
        "Bindings": [binding]}}, separators=(",", ":"))
    res = verify_field(value, fields)
    assert (res.status, res.form, res.binding) == (Status.VALID, "minimax", "unchecked"), res.reason
    assert verify_field(value, {**fields, "ProduceID": "372201234567890124"}).status is Status.INVALID


# A real StepFun Markdown export's producer fields (public sample); its signature verifies over no known message.
STEPFUN = ('{"SecurityData":{"Type":"TC260PG","Version":1,"PubSD":[{"Type":"DS","AlgID":"1.2.156.10197.1.501",'
           '"TBSData":{"Type":"LabelMataData"},"Signature":"3046022100AE6B84B3342128AE301A597596FCD9EECF3EA0FC2DB6C'
           '250BAF234E167298E9002210097223ABB647B786A90D0A1B93CB9382EA879563B2C7F025FA006BE16AE926C14"},{"Type":'
           '"PubKey","AlgID":"1.2.156.10197.1.501","KeyValue":"3059301306072A8648CE3D020106082A811CCF5501822D034200'
           '045728F08C58D9C72150A705693EF7337859F8FF216E802630041AFAE5C036F0A67CB1FDF8C57F5F8B623284AE09E4E545464B'
           '7140B26BBDA51BAE965F854C57AA"}]}}')
STEPFUN_FIELDS = {"Label": "1", "ContentProducer": "001191310104MACE0YX63918020", "ProduceID": "142569260085903360",
                  "ReservedCode1": STEPFUN}


def test_stepfun_form_is_unverifiable_not_invalid() -> None:
    res = verify_field(STEPFUN, STEPFUN_FIELDS)
    assert res.status is Status.UNVERIFIABLE and res.form == "stepfun", res.reason


def test_stepfun_markdown_through_the_rule_is_a_warning_not_an_error() -> None:
    lines = ["---", "AIGC:"] + [f"  {k}: '{v}'" for k, v in STEPFUN_FIELDS.items()] + ["---", "", "# Hello", ""]
    report = verify("\n".join(lines).encode(), profile=_strict_profile_path())
    found = [f for f in report.findings if f.rule == RULE]
    assert [f.level.value for f in found] == ["warning"], [f.to_dict() for f in found]


@pytest.mark.parametrize("value,status", [
    ("Jb2N0ZW50SGFzaA==", Status.OPAQUE),  # a base64 digest (Qwen)
    ("0123456789abcdef0123456789abcdef", Status.OPAQUE),  # 32 hex digits (Vidu)
    ('{"Other":1}', Status.OPAQUE),
    ('{"SecurityData":{"Type":" TC260PG","Version":1,"PubSD":[{"Type":"DS","AlgID":"sm3","TBSData":{"Type":"Md"},'
     '"Signature":"00"}]}}', Status.UNVERIFIABLE),  # the partial form: leading space, a hash as the algorithm
    ('{"SecurityData":{"Type":"TC260PG","PubSd":[{"Type":"DS","AlgID":"1.2.840.113549.1.1.11",'
     '"TBSData":{"Type":"Content"},"Signature":"00"}]}}', Status.UNVERIFIABLE),  # Honor's RSA content form
    ("", Status.ABSENT),
])
def test_other_values(value: str, status: Status) -> None:
    res = verify_field(value, {"Label": "1", "ContentProducer": PRODUCER, "ProduceID": "x"})
    assert res.status is status, res.reason


def test_spellings_are_recorded() -> None:
    sd = parse_security_data('{"SecurityData":{"Type":" TC260PG","PubSd":[{"Type":"PubKey","KeyId":"1",'
                             '"AlgID":"SM3withSM2","KeyValue":"00"}]}}')
    assert not isinstance(sd, str)
    assert sd.type == "TC260PG" and sd.keys[0].algorithm == "1.2.156.10197.1.501" and sd.keys[0].key_id == "1"
    assert "PubSd for PubSD" in sd.spellings and "KeyId for KeyID" in sd.spellings


# ------------------------------------------------------------------------------------ trusted keys and the rule


def _strict_profile_path(tmp: Path | None = None, name: str = "strict", **options: Any) -> str:
    """A profile that extends cn-gb45438-2025 with the rule at level error (and *options*)."""
    import tempfile

    folder = Path(tmp or tempfile.mkdtemp(prefix="aigclabel-sd-"))
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
    path = folder / f"{name}.toml"
    path.write_text('id = "sd-strict"\nextends = "cn-gb45438-2025"\n[rules."implicit.security-data"]\n'
                    f'level = "error"\n{extra}', "utf-8")
    return str(path)


def _trusted_file(tmp_path: Path, producer: str, key_hex: str) -> Path:
    path = tmp_path / "trusted.toml"
    path.write_text(f'[providers."{producer}"]\nname = "Example"\nkeys = ["{key_hex}"]\n', "utf-8")
    return path


def test_trusted_keys_match_and_mismatch(key: crypto.PrivateKey, tmp_path: Path) -> None:
    signed = sign_into((SAMPLES / "photo.jpg").read_bytes(), key, "trust-0001")
    mine = load_trusted_keys(_trusted_file(tmp_path, PRODUCER, key.public.spki_der().hex()))
    assert check(signed, mine).trust == "trusted"
    other = load_trusted_keys(_trusted_file(tmp_path, PRODUCER, crypto.generate().public.point().hex()))
    res = check(signed, other)
    assert res.status is Status.VALID and res.trust == "mismatch"
    # through verify(): the profile's trusted_keys turns the forged-by-another-key label into an error
    report = verify(signed, profile=_strict_profile_path(tmp_path, trusted_keys=str(tmp_path / "trusted.toml")))
    found = [f for f in report.findings if f.rule == RULE]
    assert [f.level.value for f in found] == ["error"] and "not one of the 1 key" in found[0].message
    assert report.verdict.value == "noncompliant"


def test_rule_levels_through_verify(key: crypto.PrivateKey, tmp_path: Path) -> None:
    signed = sign_into((SAMPLES / "photo.jpg").read_bytes(), key, "rule-0001")
    profile = _strict_profile_path(tmp_path)
    found = [f for f in verify(signed, profile=profile).findings if f.rule == RULE]
    assert [f.level.value for f in found] == ["pass"] and "content binding matches" in found[0].message
    found = [f for f in verify(_flip_in_selection(signed), profile=profile).findings if f.rule == RULE]
    assert [f.level.value for f in found] == ["error"] and "tampered" in found[0].message
    unsigned = _write((SAMPLES / "photo.jpg").read_bytes(), AigcRecord(content_producer=PRODUCER, produce_id="u"))
    assert not [f for f in verify(unsigned, profile=profile).findings if f.rule == RULE]
    required = _strict_profile_path(tmp_path, "required", require=True)
    found = [f for f in verify(unsigned, profile=required).findings if f.rule == RULE]
    assert [f.level.value for f in found] == ["warning"]
    # the default profile still runs the rule (at its own level) without failing on a valid signature
    assert all(f.level.value != "error" for f in verify(signed).findings if f.rule == RULE)


# ------------------------------------------------------------------------------------ keys init --sm2


@needs_openssl
def test_keys_init_sm2(tmp_path: Path) -> None:
    from aigclabel.cli.main import cli

    target = tmp_path / "k"
    done = CliRunner().invoke(cli, ["keys", "init", "--sm2", "--producer", PRODUCER, "--json", str(target)])
    assert done.exit_code == 0, done.output
    info = json.loads(done.output)
    assert os.stat(target / "sm2-key.pem").st_mode & 0o777 == 0o600
    text = _openssl("pkey", "-in", str(target / "sm2-key.pem"), "-noout", "-text").stdout.decode()
    assert "ASN1 OID: SM2" in text
    assert info["point_hex"].lower() in text.replace(":", "").replace("\n", "").replace(" ", "")
    spki = _openssl("pkey", "-pubin", "-in", str(target / "sm2-pub.pem"), "-outform", "DER").stdout
    assert spki.hex().upper() == info["spki_hex"]
    assert info["key_id"] == crypto.sm3(spki)[:16].hex()
    trusted = load_trusted_keys(target / "trusted-keys.toml")
    signer = load_signing_key(target / "sm2-key.pem")
    assert trusted.judge(PRODUCER, signer.public)[0] == "trusted"
    again = CliRunner().invoke(cli, ["keys", "init", "--sm2", str(target)])
    assert again.exit_code != 0 and "already exists" in again.output


def test_propagator_signs_reservedcode2_without_breaking_the_producer(key: crypto.PrivateKey) -> None:
    signed = sign_into((SAMPLES / "photo.jpg").read_bytes(), key, "prop-0001")
    platform = crypto.generate()
    fields = {**_record(signed), "ContentPropagator": "00119144030008867405X220001", "PropagateID": "p-77"}
    fields["ReservedCode2"] = sign_fields(fields, platform, _digest(signed), role="propagator")
    both = _write(signed, AigcRecord.from_fields(fields))
    seen = _record(both)
    with open_source(both) as src:
        content = checker(handler_for(src), src)
        producer = verify_field(seen["ReservedCode1"], seen, field="ReservedCode1", content=content)
        propagator = verify_field(seen["ReservedCode2"], seen, field="ReservedCode2", content=content)
    assert producer.status is Status.VALID and propagator.status is Status.VALID
    assert propagator.key_id == platform.public.key_id() != producer.key_id
    changed = {**seen, "PropagateID": "p-78"}
    assert verify_field(seen["ReservedCode2"], changed, field="ReservedCode2").status is Status.INVALID
    assert verify_field(seen["ReservedCode1"], changed, field="ReservedCode1").status is Status.VALID
