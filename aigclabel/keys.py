"""Development signing credentials for C2PA: a private CA and a signer certificate chain.

``aigclabel keys init DIR`` (or :func:`init_keys`) writes three PEM files::

    DIR/ca.pem            the development root CA: give it to verify as --trust-anchors
    DIR/signer-chain.pem  the signer certificate, then the intermediate CA (the chain a manifest carries)
    DIR/signer-key.pem    the signer's private key (PKCS#8, unencrypted, mode 0600)

Everything is ECDSA P-256 with SHA-256 (C2PA ``es256``).  The signer certificate has what the C2PA
certificate profile asks of a claim signer: version 3, a critical key usage with only
``digitalSignature``, an extended key usage that C2PA validators accept (``emailProtection`` and
``documentSigning``, never ``anyExtendedKeyUsage``), ``cA=false``, and subject/authority key
identifiers that link it to its issuer.

``aigclabel keys init --sm2 DIR`` (or :func:`init_sm2_keys`) writes an SM2 key pair for TC260 SecurityData
signatures in ReservedCode1/2 (:mod:`aigclabel.security`)::

    DIR/sm2-key.pem       the SM2 private key (PKCS#8 PEM, unencrypted, mode 0600): mark --sign-key
    DIR/sm2-pub.pem       the public key (SubjectPublicKeyInfo PEM), for OpenSSL and partners
    DIR/trusted-keys.toml the public key as a trusted-keys entry (see aigclabel.security.trust), with the
                          hex forms SecurityData uses (point 04||x||y, SPKI DER) and its KeyID in comments

``--rsa`` (RSA-3072, RSA/SHA-256 ``1.2.840.113549.1.1.11``) and ``--ecdsa-p256`` (ECDSA P-256/SHA-256
``1.2.840.10045.4.3.2``), the other algorithms the guide allows, write ``rsa-key.pem``/``rsa-pub.pem`` or
``ecdsa-p256-key.pem``/``ecdsa-p256-pub.pem`` and the same ``trusted-keys.toml`` (:func:`init_signing_keys`);
their KeyValue is the SPKI DER.

The C2PA credentials are for trying signing out.  A manifest signed with them validates as *Valid*
everywhere and as *Trusted* only where ``ca.pem`` is configured as a trust anchor; production
signing needs a certificate from a CA on the C2PA trust list.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OutputError

__all__ = ["DevKeys", "Sm2Keys", "SigningKeys", "SIGNING_ALGORITHMS", "init_keys", "init_sm2_keys",
           "init_signing_keys", "CA_FILE", "CHAIN_FILE", "KEY_FILE", "SM2_KEY_FILE",
           "SM2_PUB_FILE", "SM2_TRUST_FILE"]

CA_FILE = "ca.pem"
CHAIN_FILE = "signer-chain.pem"
KEY_FILE = "signer-key.pem"
SM2_KEY_FILE = "sm2-key.pem"
SM2_PUB_FILE = "sm2-pub.pem"
SM2_TRUST_FILE = "trusted-keys.toml"

#: id-kp-documentSigning (RFC 9336); cryptography has no constant for it in older versions
_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
_DEFAULT_ORG = "aigclabel development (not for production)"


@dataclass
class DevKeys:
    """Where :func:`init_keys` wrote the credentials, and what they say."""

    directory: Path
    ca: Path
    chain: Path
    key: Path
    signer_subject: str
    ca_subject: str
    not_after: str  # ISO 8601, UTC: when the signer certificate expires

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "ca": str(self.ca), "chain": str(self.chain),
                "key": str(self.key), "signer_subject": self.signer_subject, "ca_subject": self.ca_subject,
                "not_after": self.not_after}


def _prepare(directory: str | os.PathLike, names: tuple[str, ...]) -> tuple[Path, dict[str, Path]]:
    root_dir = Path(directory)
    if root_dir.exists() and not root_dir.is_dir():
        raise OutputError(f"{root_dir}: not a directory")
    paths = {name: root_dir / name for name in names}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise OutputError(f"{', '.join(existing)}: already exists; keys init never overwrites credentials "
                          "(choose another directory or remove the old files)")
    return root_dir, paths


def _write_all(root_dir: Path, items: list[tuple[Path, bytes, int]]) -> None:
    """Write every file or none (O_EXCL: a file that appears meanwhile is not clobbered either)."""
    root_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for path, data, mode in items:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            except FileExistsError:
                raise OutputError(f"{path}: already exists; keys init never overwrites credentials") from None
            except OSError as exc:
                raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
            written.append(path)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


@dataclass
class Sm2Keys:
    """Where :func:`init_sm2_keys` / :func:`init_signing_keys` wrote the key pair, and the public key's forms."""

    directory: Path
    key: Path
    public: Path
    trusted: Path
    key_id: str
    point_hex: str  # 04||x||y, uppercase hex (the SM2 KeyValue); "" for RSA
    spki_hex: str  # SubjectPublicKeyInfo DER, uppercase hex (the RSA and ECDSA P-256 KeyValue)
    algorithm: str = "sm2"  # one of SIGNING_ALGORITHMS

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "key": str(self.key), "public": str(self.public),
                "trusted": str(self.trusted), "key_id": self.key_id, "point_hex": self.point_hex,
                "spki_hex": self.spki_hex, "algorithm": self.algorithm}


SigningKeys = Sm2Keys

#: keys init's algorithm name -> (file name prefix, the signature OID SecurityData names it by)
SIGNING_ALGORITHMS = {"sm2": ("sm2", "1.2.156.10197.1.501"), "rsa": ("rsa", "1.2.840.113549.1.1.11"),
                      "ecdsa-p256": ("ecdsa-p256", "1.2.840.10045.4.3.2")}


def init_sm2_keys(directory: str | os.PathLike, *, producer: str = "") -> Sm2Keys:
    """Create an SM2 key pair for SecurityData signatures in *directory* (never overwrites).

    *producer* (a provider code) names the trusted-keys entry; without it the entry says where to put it.
    Needs the ``sign`` extra (:class:`~aigclabel.errors.UnsupportedOperation` otherwise).
    """
    return init_signing_keys(directory, "sm2", producer=producer)


def init_signing_keys(directory: str | os.PathLike, algorithm: str = "sm2", *, producer: str = "") -> Sm2Keys:
    """Create a SecurityData signing key pair of *algorithm* (``sm2``, ``rsa``: RSA-3072 for RSA/SHA-256
    ``1.2.840.113549.1.1.11``, ``ecdsa-p256``: ECDSA P-256/SHA-256 ``1.2.840.10045.4.3.2``) in *directory*:
    ``<alg>-key.pem`` (PKCS#8, mode 0600), ``<alg>-pub.pem`` and ``trusted-keys.toml``; never overwrites.

    SM2 needs the ``sign`` extra; RSA and ECDSA keys come from ``cryptography`` (marking still hashes the
    content binding with SM3, so signing with them needs the extra too).
    """
    from .security import crypto

    if algorithm not in SIGNING_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(SIGNING_ALGORITHMS)}, not {algorithm!r}")
    if any(c in producer for c in '"\\\n\r'):
        raise ValueError("producer must not contain quotes, backslashes or line breaks")
    prefix, oid = SIGNING_ALGORITHMS[algorithm]
    key_file, pub_file = f"{prefix}-key.pem", f"{prefix}-pub.pem"
    root_dir, paths = _prepare(directory, (key_file, pub_file, SM2_TRUST_FILE))
    key = crypto.generate(oid)
    spki, kid = key.public.spki_der().hex().upper(), key.public.key_id()
    point = key.public.point().hex().upper() if algorithm != "rsa" else ""
    value = key.public.key_value()
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    trusted = (f"# aigclabel trusted keys, version 1 (aigclabel.security.trust); made by keys init --{algorithm}, "
               f"{now}\n"
               f"# {crypto.ALGORITHMS[oid]} ({oid}); KeyID {kid} (SM3 of the SubjectPublicKeyInfo DER, first 16 "
               "bytes)\n"
               + (f"# SPKI DER hex: {spki}\n" if value != spki else "")
               + ("" if producer else "# replace the code below with your provider code (27 characters)\n")
               + f'[providers."{producer or "PROVIDER-CODE"}"]\n'
               f'keys = ["{value}"]\n')
    _write_all(root_dir, [(paths[key_file], key.pem(), 0o600),
                          (paths[pub_file], key.public.pem(), 0o644),
                          (paths[SM2_TRUST_FILE], trusted.encode("ascii"), 0o644)])
    return Sm2Keys(directory=root_dir, key=paths[key_file], public=paths[pub_file],
                   trusted=paths[SM2_TRUST_FILE], key_id=kid, point_hex=point, spki_hex=spki, algorithm=algorithm)


def init_keys(directory: str | os.PathLike, *, organization: str = _DEFAULT_ORG,
              common_name: str = "aigclabel development signer", days: int = 365) -> DevKeys:
    """Create a development root CA, an intermediate CA and a signer certificate in *directory*.

    The directory is created if needed.  Existing files are never overwritten: if any of the three
    exists, :class:`~aigclabel.errors.OutputError` is raised and nothing is written.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if days < 1:
        raise ValueError("days must be at least 1")
    if not organization or not common_name:
        raise ValueError("organization and common name must not be empty")
    root_dir = Path(directory)
    if root_dir.exists() and not root_dir.is_dir():
        raise OutputError(f"{root_dir}: not a directory")
    paths = {name: root_dir / name for name in (CA_FILE, CHAIN_FILE, KEY_FILE)}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise OutputError(f"{', '.join(existing)}: already exists; keys init never overwrites credentials "
                          "(choose another directory or remove the old files)")

    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    start = now - _dt.timedelta(minutes=5)  # tolerate small clock skew between signer and validator

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])

    def key_usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                             crl_sign=not sign, encipher_only=False, decipher_only=False)

    def certificate(subject: x509.Name, key: Any, issuer: x509.Name, issuer_key: Any, *, ca: bool,
                    path_length: int | None, lifetime: int) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(now + _dt.timedelta(days=lifetime))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
                   .add_extension(key_usage(sign=not ca), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage([
                ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier(_DOCUMENT_SIGNING)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    # The CAs outlive the signer so that a renewed signer can chain to the same anchor.
    ca_days = max(days, 5 * 365)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name(f"{organization} root CA")
    root = certificate(root_name, root_key, root_name, root_key, ca=True, path_length=1, lifetime=ca_days)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = name(f"{organization} signing CA")
    inter = certificate(inter_name, inter_key, root_name, root_key, ca=True, path_length=0, lifetime=ca_days)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_name = name(common_name)
    signer = certificate(signer_name, signer_key, inter_name, inter_key, ca=False, path_length=None, lifetime=days)

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    key_pem = signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    _write_all(root_dir, [(paths[KEY_FILE], key_pem, 0o600), (paths[CHAIN_FILE], pem(signer) + pem(inter), 0o644),
                          (paths[CA_FILE], pem(root), 0o644)])
    return DevKeys(directory=root_dir, ca=paths[CA_FILE], chain=paths[CHAIN_FILE], key=paths[KEY_FILE],
                   signer_subject=signer_name.rfc4514_string(), ca_subject=root_name.rfc4514_string(),
                   not_after=signer.not_valid_after_utc.isoformat())
