"""SecurityData wired through mark, review, verify, inspect and the service (issue 16).

Real files from samples/ are marked through the CLI and the library; exiftool (the record in the file),
OpenSSL 3 (the SM2 signatures) and the stdlib read the results back independently of our readers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aigclabel import inspect, verify
from aigclabel.cli.main import cli
from aigclabel.marking import mark, mark_file
from aigclabel.platform import PlatformConfig, review
from aigclabel.security import crypto, label_message, load_signing_key, load_trusted_keys
from conftest import PRODUCER, tool_values_containing

pytestmark = pytest.mark.skipif(not crypto.available(), reason="needs the sign extra: pip install 'aigclabel[sign]'")

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PLATFORM = "00119144030008867405X220001"
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl (3.x, with SM2) is not installed")
RULE = "implicit.security-data"
# the SPKI DER prefix of an SM2 public key (id-ecPublicKey, curve sm2p256v1) before the 65-byte point
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072A8648CE3D020106082A811CCF5501822D034200")


def _keys(tmp: Path, name: str, producer: str = PRODUCER) -> Path:
    done = CliRunner().invoke(cli, ["keys", "init", "--sm2", "--producer", producer, str(tmp / name)])
    assert done.exit_code == 0, done.output
    return tmp / name


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sdkeys")
    return {"producer": _keys(tmp, "producer"), "forger": _keys(tmp, "forger"),
            "platform": _keys(tmp, "platform", PLATFORM)}


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def _exif_record(tags: dict[str, Any]) -> dict[str, Any]:
    """The AIGC record as exiftool reads it (the one tag whose value is the record's JSON)."""
    for value in tool_values_containing(tags, "ContentProducer").values():
        doc = json.loads(value) if isinstance(value, str) else value
        if isinstance(doc, dict):
            return dict(doc.get("AIGC", doc))
    raise AssertionError(f"exiftool finds no AIGC record in {sorted(tags)}")


def _sd(value: str) -> dict[str, Any]:
    return dict(json.loads(value)["SecurityData"])


def _openssl_verifies(tmp: Path, sd_value: str, message: bytes, tbs: str = "Md") -> bool:
    """OpenSSL 3 verifies the DS entry of type *tbs* over *message* with the PubKey the value carries."""
    assert OPENSSL is not None
    sd = _sd(sd_value)
    ds = next(e for e in sd["PubSD"] if e["Type"] == "DS" and e["TBSData"]["Type"] == tbs)
    pub = next(e for e in sd["PubSD"] if e["Type"] == "PubKey")
    (tmp / "pub.der").write_bytes(SM2_SPKI_PREFIX + bytes.fromhex(pub["KeyValue"]))
    (tmp / "msg").write_bytes(message)
    (tmp / "sig").write_bytes(bytes.fromhex(ds["Signature"]))
    done = subprocess.run([OPENSSL, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt",
                           "distid:1234567812345678", "-pubin", "-keyform", "DER", "-inkey", str(tmp / "pub.der"),
                           "-in", str(tmp / "msg"), "-sigfile", str(tmp / "sig")], capture_output=True, timeout=60)
    return done.returncode == 0 and b"Verified Successfully" in done.stdout


def _security_findings(report: Any) -> list[Any]:
    return [f for f in report.findings if f.rule == RULE]


def _flip_scan_byte(data: bytes) -> bytes:
    """One byte of JPEG entropy-coded data changed (after the first SOS header, before EOI)."""
    sos = data.index(b"\xff\xda")
    at = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big") + 10
    while data[at] in (0xFF, 0x00, 0xFE):  # keep the marker structure intact
        at += 1
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


# ------------------------------------------------------------------------------------ mark --sign-key


@needs_openssl
def test_cli_mark_sign_key_verifies_valid_and_a_changed_byte_is_invalid(keys: dict[str, Path], tmp_path: Path,
                                                                        exiftool: Any) -> None:
    out = tmp_path / "signed.jpg"
    done = _run("mark", str(SAMPLES / "photo.jpg"), "-o", str(out), "--producer", PRODUCER, "--produce-id",
                "wire-0001", "--sign-key", str(keys["producer"] / "sm2-key.pem"))
    assert done.exit_code == 0, done.output
    assert "signed ReservedCode1" in done.output and "content binding jpeg-scan" in done.output
    # exiftool sees the signed record; OpenSSL verifies its label signature over the A.1 message
    record = _exif_record(exiftool(out))
    assert record["ProduceID"] == "wire-0001" and record["ReservedCode1"]
    message = b'"Label":"1","ContentProducer":"' + PRODUCER.encode() + b'","ProduceID":"wire-0001"'
    assert _openssl_verifies(tmp_path, record["ReservedCode1"], message)
    assert not _openssl_verifies(tmp_path, record["ReservedCode1"], message.replace(b"0001", b"0002"))
    # the binding OpenSSL checks too: the Bnd signature covers the compact JSON of the Bindings entry
    entry = _sd(record["ReservedCode1"])["Bindings"][0]
    assert _openssl_verifies(tmp_path, record["ReservedCode1"],
                             json.dumps(entry, separators=(",", ":")).encode(), tbs="Bnd")
    # aigclabel verify: valid
    done = _run("verify", str(out), "--json")
    assert done.exit_code == 0, done.output
    found = [f for f in json.loads(done.output)[0]["findings"] if f["rule"] == RULE]
    assert [f["level"] for f in found] == ["pass"] and "content binding matches" in found[0]["message"]
    # one content byte changed afterwards: invalid (tampered), an error
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(_flip_scan_byte(out.read_bytes()))
    done = _run("verify", str(tampered), "--json")
    assert done.exit_code == 1, done.output
    found = [f for f in json.loads(done.output)[0]["findings"] if f["rule"] == RULE]
    assert [f["level"] for f in found] == ["error"] and "content changed since signing" in found[0]["message"]


@pytest.mark.parametrize("sample", ["render.png", "clip.mp4", "report.pdf", "voice.wav", "tone.mp3"])
def test_library_mark_file_signer_path_round_trips(sample: str, keys: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / f"signed-{sample}"
    result = mark_file(SAMPLES / sample, out, producer=PRODUCER, signer=keys["producer"] / "sm2-key.pem")
    note = next(n for n in result.notes if n.startswith("signed ReservedCode1"))
    assert "content binding" in note and "no content binding" not in note
    assert result.record.reserved_code1.startswith('{"SecurityData"')  # type: ignore[union-attr]
    found = _security_findings(verify(out))
    assert [f.level.value for f in found] == ["pass"], [f.message for f in found]
    assert "content binding matches" in found[0].message


def test_library_mark_bytes_with_a_loaded_key(keys: dict[str, Path]) -> None:
    key = load_signing_key(keys["producer"] / "sm2-key.pem")
    data = mark((SAMPLES / "render.png").read_bytes(), producer=PRODUCER, signer=key)
    res = inspect(data).security[0][0]
    assert res["status"] == "valid" and res["binding"] == "bound" and res["key_id"] == key.public.key_id()


def test_signing_twice_keeps_the_binding(keys: dict[str, Path], tmp_path: Path) -> None:
    """Re-marking a signed file (same or new key) re-signs over the same content: still valid and bound."""
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    mark_file(SAMPLES / "report.pdf", first, producer=PRODUCER, signer=keys["producer"] / "sm2-key.pem")
    mark_file(first, second, producer=PRODUCER, signer=keys["forger"] / "sm2-key.pem")
    res = inspect(second).security[0][0]
    assert res["status"] == "valid" and res["binding"] == "bound"
    assert res["key_id"] == load_signing_key(keys["forger"] / "sm2-key.pem").public.key_id()


def test_batch_mark_directory_signs_every_file(keys: dict[str, Path], tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    out.mkdir()
    shutil.copy(SAMPLES / "photo.jpg", src / "a.jpg")
    shutil.copy(SAMPLES / "render.png", src / "sub" / "b.png")
    done = _run("mark", str(src), "-r", "-o", f"{out}/", "--producer", PRODUCER,
                "--sign-key", str(keys["producer"] / "sm2-key.pem"))
    assert done.exit_code == 0, done.output
    for path in (out / "a.jpg", out / "sub" / "b.png"):
        assert [f.level.value for f in _security_findings(verify(path))] == ["pass"], path


def test_mark_refuses_a_key_that_is_not_sm2_and_a_2023_profile(keys: dict[str, Path], tmp_path: Path) -> None:
    # ECDSA P-256 and RSA keys now sign SecurityData too (tests/test_bindings.py); an Ed25519 key does not
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    other = tmp_path / "ed25519.pem"
    other.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    done = _run("mark", str(SAMPLES / "photo.jpg"), "-o", str(tmp_path / "x.jpg"), "--producer", PRODUCER,
                "--sign-key", str(other))
    assert done.exit_code == 2 and "ECDSA P-256 private key" in done.output and "--c2pa" in done.output
    assert not (tmp_path / "x.jpg").exists()
    from aigclabel.errors import OptionError

    with pytest.raises(OptionError, match="no ReservedCode1"):
        mark_file(SAMPLES / "photo.jpg", tmp_path / "y.jpg", producer="SP-1", profile="cn-tc260-2023",
                  signer=keys["producer"] / "sm2-key.pem")


def test_mark_refuses_clearly_without_the_sign_extra(keys: dict[str, Path], tmp_path: Path) -> None:
    """In a fresh interpreter where tongsuopy cannot be imported: exit 3 naming the extra, nothing written."""
    code = ("import sys; sys.modules['tongsuopy'] = None\n"
            "from aigclabel.cli.main import cli\n"
            "cli(sys.argv[1:])\n")
    out = tmp_path / "never.jpg"
    done = subprocess.run([sys.executable, "-c", code, "mark", str(SAMPLES / "photo.jpg"), "-o", str(out),
                           "--producer", PRODUCER, "--sign-key", str(keys["producer"] / "sm2-key.pem")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert "aigclabel[sign]" in done.stderr and not out.exists()


# ------------------------------------------------------------------------------------ trusted keys


def test_verify_trusted_keys_cli_and_library(keys: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    mark_file(SAMPLES / "render.png", out, producer=PRODUCER, signer=keys["producer"] / "sm2-key.pem")
    done = _run("verify", str(out), "--json", "--trusted-keys", str(keys["producer"] / "trusted-keys.toml"))
    assert done.exit_code == 0, done.output
    found = [f for f in json.loads(done.output)[0]["findings"] if f["rule"] == RULE]
    assert [f["level"] for f in found] == ["pass"] and "by a trusted key" in found[0]["message"]
    # the key list names another key for this producer: the label may be forged -> error, exit 1
    done = _run("verify", str(out), "--json", "--trusted-keys", str(keys["forger"] / "trusted-keys.toml"))
    assert done.exit_code == 1, done.output
    found = [f for f in json.loads(done.output)[0]["findings"] if f["rule"] == RULE]
    assert [f["level"] for f in found] == ["error"] and "may be forged" in found[0]["message"]
    # library: a loaded TrustedKeys, and a profile that has no SecurityData rule still checks it
    report = verify(out, profile="c2pa", trusted_keys=load_trusted_keys(keys["forger"] / "trusted-keys.toml"))
    assert [f.level.value for f in _security_findings(report)] == ["error"]
    assert not _security_findings(verify(out, profile="c2pa"))
    # a bad trusted-keys file is a usage error before anything is read
    bad = tmp_path / "bad.toml"
    bad.write_text("[providers]\nx = 1\n", "utf-8")
    assert _run("verify", str(out), "--trusted-keys", str(bad)).exit_code == 2


def test_batch_verify_trusted_keys_reach_the_workers(keys: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        mark_file(SAMPLES / "render.png", folder / name, producer=PRODUCER, signer=keys["producer"] / "sm2-key.pem")
    done = _run("verify", str(folder), "--jobs", "2", "--jsonl", "--trusted-keys",
                str(keys["forger"] / "trusted-keys.toml"))
    lines = [json.loads(line) for line in done.output.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and done.exit_code == 1, done.output
    for obj in lines:
        assert [f["level"] for f in obj["findings"] if f["rule"] == RULE] == ["error"]


# ------------------------------------------------------------------------------------ review


@needs_openssl
def test_review_write_sign_key_fills_reservedcode2_and_keeps_the_producer(keys: dict[str, Path], tmp_path: Path,
                                                                           exiftool: Any) -> None:
    path = tmp_path / "up.jpg"
    mark_file(SAMPLES / "photo.jpg", path, producer=PRODUCER, produce_id="rv-0001",
              signer=keys["producer"] / "sm2-key.pem")
    before = _exif_record(exiftool(path))
    done = _run("review", str(path), "--platform-code", PLATFORM, "--write", "--reserved-code2", "mine",
                "--sign-key", str(keys["platform"] / "sm2-key.pem"), "--json")
    assert done.exit_code != 0 and "not both" in done.output  # a value of one's own, or a signature: not both
    assert _exif_record(exiftool(path)) == before
    done = _run("review", str(path), "--platform-code", PLATFORM, "--write",
                "--sign-key", str(keys["platform"] / "sm2-key.pem"),
                "--trusted-keys", str(keys["producer"] / "trusted-keys.toml"), "--json")
    assert done.exit_code == 0, done.output
    body = json.loads(done.output)[0]
    assert body["tier"] == 1 and "trusted for its ContentProducer" in body["relied_on"]
    after = _exif_record(exiftool(path))
    # the producer's fields byte for byte, ReservedCode1 included
    for name in ("Label", "ContentProducer", "ProduceID", "ReservedCode1"):
        assert after[name] == before[name], name
    assert after["ContentPropagator"] == PLATFORM and after["ReservedCode2"]
    message = (b'"Label":"1","ContentPropagator":"' + PLATFORM.encode() + b'","PropagateID":"'
               + after["PropagateID"].encode() + b'"')
    assert _openssl_verifies(tmp_path, after["ReservedCode2"], message)
    assert _openssl_verifies(tmp_path, after["ReservedCode1"],
                             b'"Label":"1","ContentProducer":"' + PRODUCER.encode() + b'","ProduceID":"rv-0001"')
    rc1, rc2 = inspect(path).security[0]
    assert rc1["status"] == rc2["status"] == "valid" and rc2["binding"] == "bound"
    assert rc2["key_id"] == load_signing_key(keys["platform"] / "sm2-key.pem").public.key_id() != rc1["key_id"]


def test_review_tier_with_trusted_keys(keys: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "forged.png"
    # a label naming PRODUCER, signed by someone else's key (valid signature, wrong key)
    mark_file(SAMPLES / "render.png", path, producer=PRODUCER, signer=keys["forger"] / "sm2-key.pem")
    trusted = str(keys["producer"] / "trusted-keys.toml")
    plain = review(path, platform=PLATFORM)
    assert plain.tier == 1 and "not pinned" in plain.relied_on  # integrity only, no list given
    r = review(path, platform=PLATFORM, trusted_keys=trusted)
    assert r.tier == 3 and "not tier 1" in r.relied_on and "may be forged" in r.relied_on
    assert any(e.kind == "security-demoted" for e in r.evidence)
    assert review(path, platform=PLATFORM, trusted_keys=trusted, declared_ai=True).tier == 2
    # the same list from the platform config (what a batch review and the service carry)
    cfg = PlatformConfig(code=PLATFORM, trusted_keys=trusted)
    out = tmp_path / "spread.png"
    r = review(path, platform=cfg, output=out)
    assert r.tier == 3 and r.write_refused and "may be forged" in r.write_refused and not out.exists()
    # a content byte changed after signing: invalid -> not tier 1 either, even without a key list
    good = tmp_path / "good.jpg"
    mark_file(SAMPLES / "photo.jpg", good, producer=PRODUCER, signer=keys["producer"] / "sm2-key.pem")
    good.write_bytes(_flip_scan_byte(good.read_bytes()))
    r = review(good, platform=PLATFORM)
    assert r.tier == 3 and "invalid" in r.relied_on
    # an unsigned record stays tier 1 whatever the key list says (signing is optional)
    unsigned = tmp_path / "unsigned.png"
    mark_file(SAMPLES / "render.png", unsigned, producer=PRODUCER)
    assert review(unsigned, platform=PLATFORM, trusted_keys=trusted).tier == 1


# ------------------------------------------------------------------------------------ inspect


def test_inspect_shows_each_reservedcode_state(keys: dict[str, Path], tmp_path: Path) -> None:
    signed = tmp_path / "s.jpg"
    mark_file(SAMPLES / "photo.jpg", signed, producer=PRODUCER, signer=keys["producer"] / "sm2-key.pem")
    done = _run("inspect", str(signed), "--trusted-keys", str(keys["producer"] / "trusted-keys.toml"))
    assert done.exit_code == 0, done.output
    assert "sign   ReservedCode1: valid" in done.output and "binding bound, trust trusted" in done.output
    assert "sign   ReservedCode2: absent" in done.output
    tampered = tmp_path / "t.jpg"
    tampered.write_bytes(_flip_scan_byte(signed.read_bytes()))
    done = _run("inspect", str(tampered), "--json")
    item = json.loads(done.output)[0]["labels"][0]["security"]
    assert [r["status"] for r in item] == ["invalid", "absent"] and item[0]["binding"] == "mismatch"
    # an opaque vendor value: recorded, not judged
    opaque = tmp_path / "o.png"
    from aigclabel.formats.base import ImplicitLabel
    from aigclabel.label import AigcRecord
    from aigclabel.reading import open_handler, write_implicit

    record = AigcRecord(content_producer=PRODUCER, produce_id="o-1", reserved_code1="qwen-7f3a9c")
    with open_handler(str(SAMPLES / "render.png")) as (src, handler), open(opaque, "w+b") as fh:
        write_implicit(handler, src, fh, ImplicitLabel(record.to_json()))
    item = inspect(opaque).to_dict()["labels"][0]["security"]
    assert [r["status"] for r in item] == ["opaque", "absent"]
    # an unsigned record: both absent, and the text output stays as it was
    assert _run("inspect", str(SAMPLES / "photo.jpg")).output.count("sign ") == 0


# ------------------------------------------------------------------------------------ service


def test_service_applies_trusted_keys_to_every_request(keys: dict[str, Path], tmp_path: Path) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    import threading

    import uvicorn

    from aigclabel.service import ServiceConfig, create_app
    sys.path.insert(0, str(Path(__file__).parent))
    from test_service import free_port, wait_ready  # the service tests' own start-up helpers

    path = tmp_path / "forged.png"
    mark_file(SAMPLES / "render.png", path, producer=PRODUCER, signer=keys["forger"] / "sm2-key.pem")
    cfg = ServiceConfig(platform=PlatformConfig(code=PLATFORM, detect_explicit="never"), tmp_dir=str(tmp_path),
                        trusted_keys=str(keys["producer"] / "trusted-keys.toml"), max_concurrency=1)
    assert ServiceConfig.from_json(cfg.to_json()).trusted_keys == cfg.trusted_keys  # reaches --workers N too
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=free_port(), log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.config.port}"
        wait_ready(base)
        res = httpx.post(f"{base}/v1/review", content=path.read_bytes(), timeout=60)
        assert res.status_code == 200 and res.json()["tier"] == 3, res.text
        res = httpx.post(f"{base}/v1/verify", content=path.read_bytes(), timeout=60)
        found = [f for f in res.json()["findings"] if f["rule"] == RULE]
        assert [f["level"] for f in found] == ["error"] and "may be forged" in found[0]["message"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_serve_refuses_a_bad_trusted_keys_file(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    bad = tmp_path / "bad.toml"
    bad.write_text("not = [valid\n", "utf-8")
    done = _run("serve", "--trusted-keys", str(bad), "--port", "0")
    assert done.exit_code == 2 and "trusted" in done.output


def test_openssl_message_helper_matches_ours() -> None:
    """The message the OpenSSL checks above sign is appendix A.1's, as the library builds it."""
    fields = {"Label": "1", "ContentPropagator": PLATFORM, "PropagateID": "x"}
    assert label_message(fields, ("Label", "ContentPropagator", "PropagateID")) == (
        b'"Label":"1","ContentPropagator":"' + PLATFORM.encode() + b'","PropagateID":"x"')
    assert os.path.isfile(SAMPLES / "photo.jpg")
