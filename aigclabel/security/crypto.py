"""SM2 / SM3 (and RSA, ECDSA P-256 verification) behind one small seam.

Library choice (measured on this project's machine, 2026; every candidate checked against OpenSSL 3.0's
``pkeyutl -rawin -digest sm3 -pkeyopt distid:1234567812345678`` in both directions):

=================  ===========  ====================  =====================================================
library            vs OpenSSL   sign / verify per s   why (not)
=================  ===========  ====================  =====================================================
tongsuopy 1.0.1    agrees both  ~1300 / ~1500         **chosen**: the Tongsuo project's (OpenAtom, the
                   ways                               OpenSSL fork behind China's certified crypto module)
                                                      binding with pyca/cryptography's API: PEM/PKCS#8/SPKI
                                                      serialisation, DER signatures, SM3 streaming hash, one
                                                      abi3 manylinux wheel for every CPython >= 3.6, no
                                                      stderr noise; last release 2023, hence this seam
gmssl-pyx 2.1.0    agrees       ~120 / ~770           GmSSL 3 wrapper, active; raw key bytes only (we would
                                                      hand-write PKCS#8), a wheel per CPython version, and
                                                      GmSSL prints to stderr on every failed verification
gmssl-fast 0.1.0   agrees       ~330 / ~170           a first release; raw r||s signatures only, a fixed
                                                      signer id, error traces on stderr
gmssl 3.2.2        not run      (pure Python, slow)   draws the SM2 nonce from ``random`` (Mersenne
                                                      Twister): a predictable nonce leaks the private key;
                                                      needs pycryptodomex besides
pyca/cryptography  no SM2       -                     has SM3 but no SM2 curve (UnsupportedAlgorithm)
=================  ===========  ====================  =====================================================

So SM2 and SM3 come from ``tongsuopy`` (the ``sign`` extra: ``pip install aigclabel[sign]``); nothing here
does elliptic-curve arithmetic itself (a bare x coordinate is lifted by the library's point decoder, given
the ``02`` prefix).  RSA/SHA-256 (PKCS#1 v1.5, ``1.2.840.113549.1.1.11``) and ECDSA P-256 with SHA-256
(``1.2.840.10045.4.3.2``), the other algorithms the guide allows, are signed and verified with
``cryptography``, a core dependency; their ``KeyValue`` is the SubjectPublicKeyInfo DER (the only form
without a curve of its own to assume).  Without ``tongsuopy`` :func:`available` is False and callers report
"unverifiable (install aigclabel[sign])", never "tampered".
"""

from __future__ import annotations

import functools
from typing import Any, BinaryIO

from ..errors import OptionError, UnsupportedOperation

__all__ = ["OID_SM2_SM3", "OID_SM3", "OID_RSA_SHA256", "OID_ECDSA_SHA256", "ALGORITHMS", "available", "require",
           "Sm3", "sm3", "PublicKey", "PrivateKey", "generate", "load_private_pem", "public_key_from_hex",
           "public_key_from_spki", "DEFAULT_USER_ID"]

OID_SM2_SM3 = "1.2.156.10197.1.501"  # SM3withSM2 (GM/T 0006)
OID_SM3 = "1.2.156.10197.1.401"
OID_RSA_SHA256 = "1.2.840.113549.1.1.11"  # sha256WithRSAEncryption (Honor)
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
#: signature OID -> the name reports use
ALGORITHMS = {OID_SM2_SM3: "SM3withSM2", OID_RSA_SHA256: "RSA/SHA-256", OID_ECDSA_SHA256: "ECDSA P-256/SHA-256"}
#: RSA keys we generate: 3072 bits (NIST SP 800-57's size for use beyond 2030)
RSA_BITS = 3072
#: GM/T 0009 default SM2 signer id; tongsuopy (like OpenSSL's distid option) uses it for the Z value
DEFAULT_USER_ID = b"1234567812345678"

_INSTALL_HINT = "SM2/SM3 needs the sign extra: pip install 'aigclabel[sign]' (tongsuopy)"


def available() -> bool:
    """True when the SM2/SM3 library is installed."""
    try:
        import tongsuopy.crypto.asymciphers.ec  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise UnsupportedOperation(_INSTALL_HINT)


def _ts() -> tuple[Any, Any, Any]:
    require()
    return _ts_modules()


@functools.lru_cache(maxsize=1)
def _ts_modules() -> tuple[Any, Any, Any]:
    """tongsuopy's modules, imported once (a signature asks for them three times; :func:`require` raised first
    when they are missing, so nothing missing is cached)."""
    from tongsuopy.crypto import hashes, serialization  # type: ignore[import-untyped]
    from tongsuopy.crypto.asymciphers import ec  # type: ignore[import-untyped]

    return ec, hashes, serialization


class Sm3:
    """Incremental SM3 (the binding hash): ``update`` in chunks, ``hexdigest`` once."""

    def __init__(self) -> None:
        _, hashes, _ = _ts()
        self._h = hashes.Hash(hashes.SM3())
        self._digest: bytes | None = None

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        if self._digest is None:
            self._digest = self._h.finalize()
        return self._digest

    def hexdigest(self) -> str:
        return self.digest().hex()

    def update_from(self, fh: BinaryIO, start: int, length: int, chunk: int = 1 << 20) -> int:
        """Hash *length* bytes of *fh* from *start*, *chunk* at a time (never the range in memory at once)."""
        fh.seek(start)
        left = length
        while left > 0:
            block = fh.read(min(chunk, left))
            if not block:
                break
            self._h.update(block)
            left -= len(block)
        return length - left


def sm3(data: bytes) -> bytes:
    h = Sm3()
    h.update(data)
    return h.digest()


class PublicKey:
    """A verification key and the forms the SecurityData format writes it in."""

    def __init__(self, key: Any, algorithm: str) -> None:
        self._key = key
        self.algorithm = algorithm  # the signature OID this key verifies

    def spki_der(self) -> bytes:
        if self.algorithm == OID_SM2_SM3:
            _, _, ser = _ts()
        else:
            from cryptography.hazmat.primitives import serialization as ser
        return bytes(self._key.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo))

    def point(self) -> bytes:
        """The uncompressed point ``04||x||y`` (SM2 / EC keys only; ValueError for RSA)."""
        if self.algorithm == OID_RSA_SHA256:
            raise ValueError("an RSA key has no curve point")
        if self.algorithm == OID_SM2_SM3:
            _, _, ser = _ts()
        else:
            from cryptography.hazmat.primitives import serialization as ser
        return bytes(self._key.public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint))

    def pem(self) -> bytes:
        ser = _ts()[2] if self.algorithm == OID_SM2_SM3 else _cser()
        return bytes(self._key.public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))

    def key_value(self) -> str:
        """The ``KeyValue`` we write: the point ``04||x||y`` for SM2 (the guide's form), the SPKI DER for
        RSA and ECDSA P-256 (uppercase hex; encoded once per key, like :meth:`key_id`)."""
        cached: str | None = getattr(self, "_key_value", None)
        if cached is None:
            raw = self.point() if self.algorithm == OID_SM2_SM3 else self.spki_der()
            cached = self._key_value = raw.hex().upper()
        return cached

    def key_id(self) -> str:
        """Our KeyID (a documented choice, the guide gives none we could read): the first 16 bytes of the
        SM3 digest of the SubjectPublicKeyInfo DER, as 32 lowercase hex digits (computed once per key: a batch
        signs thousands of files with one)."""
        cached: str | None = getattr(self, "_key_id", None)
        if cached is None:
            cached = self._key_id = sm3(self.spki_der())[:16].hex()
        return cached

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when *signature* (DER) signs *message*; a malformed signature is False, never an exception."""
        try:
            if self.algorithm == OID_SM2_SM3:
                ec, hashes, _ = _ts()
                self._key.verify(signature, message, ec.ECDSA(hashes.SM3()))
            elif self.algorithm == OID_RSA_SHA256:
                from cryptography.hazmat.primitives import hashes as chashes
                from cryptography.hazmat.primitives.asymmetric import padding

                self._key.verify(signature, message, padding.PKCS1v15(), chashes.SHA256())
            else:
                from cryptography.hazmat.primitives import hashes as chashes
                from cryptography.hazmat.primitives.asymmetric import ec as cec

                self._key.verify(signature, message, cec.ECDSA(chashes.SHA256()))
        except UnsupportedOperation:
            raise
        except Exception:  # noqa: BLE001 - tongsuopy raises InternalError for malformed DER, not InvalidSignature
            return False
        return True

    def same_key(self, other: PublicKey) -> bool:
        return self.algorithm == other.algorithm and self.spki_der() == other.spki_der()


class PrivateKey:
    """A signing key: SM2 (the default), RSA or ECDSA P-256, named by its signature OID."""

    def __init__(self, key: Any, algorithm: str = OID_SM2_SM3) -> None:
        self._key = key
        self.algorithm = algorithm
        self.public = PublicKey(key.public_key(), algorithm)

    def sign(self, message: bytes) -> bytes:
        """A DER signature over *message*: SM3withSM2 with the default user id (``SEQUENCE{r, s}``), ECDSA
        P-256 over SHA-256 (``SEQUENCE{r, s}``) or RSA PKCS#1 v1.5 over SHA-256."""
        if self.algorithm == OID_SM2_SM3:
            ec, hashes, _ = _ts()
            return bytes(self._key.sign(message, ec.ECDSA(hashes.SM3())))
        from cryptography.hazmat.primitives import hashes as chashes

        if self.algorithm == OID_RSA_SHA256:
            from cryptography.hazmat.primitives.asymmetric import padding

            return bytes(self._key.sign(message, padding.PKCS1v15(), chashes.SHA256()))
        from cryptography.hazmat.primitives.asymmetric import ec as cec

        return bytes(self._key.sign(message, cec.ECDSA(chashes.SHA256())))

    def pem(self) -> bytes:
        ser = _ts()[2] if self.algorithm == OID_SM2_SM3 else _cser()
        return bytes(self._key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))


def _cser() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization


def generate(algorithm: str = OID_SM2_SM3) -> PrivateKey:
    """A new key for *algorithm* (a signature OID of :data:`ALGORITHMS`)."""
    if algorithm == OID_SM2_SM3:
        ec, _, _ = _ts()
        return PrivateKey(ec.generate_private_key(ec.SM2()))
    if algorithm == OID_RSA_SHA256:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return PrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS), algorithm)
    if algorithm == OID_ECDSA_SHA256:
        from cryptography.hazmat.primitives.asymmetric import ec as cec

        return PrivateKey(cec.generate_private_key(cec.SECP256R1()), algorithm)
    raise ValueError(f"unknown signature algorithm {algorithm!r} (one of {', '.join(ALGORITHMS)})")


def _algorithm_of(key: Any) -> str | None:
    """The signature OID a cryptography key object signs with, None for a key we do not sign with."""
    from cryptography.hazmat.primitives.asymmetric import ec as cec
    from cryptography.hazmat.primitives.asymmetric import rsa

    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return OID_RSA_SHA256 if key.key_size >= 2048 else None
    if isinstance(key, (cec.EllipticCurvePrivateKey, cec.EllipticCurvePublicKey)):
        return OID_ECDSA_SHA256 if isinstance(key.curve, cec.SECP256R1) else None
    return None


def load_private_pem(data: bytes, what: str = "key") -> PrivateKey:
    """A private key from PEM (PKCS#8 or SEC1/PKCS#1): SM2 (as ``openssl genpkey -algorithm SM2`` writes it),
    RSA of 2048 bits or more, or ECDSA P-256."""
    try:  # RSA and P-256 first: cryptography cannot load an SM2 key and says so, then tongsuopy does
        ckey = _cser().load_pem_private_key(data, None)
    except Exception:  # noqa: BLE001 - an SM2 key, or not a key at all (told below)
        ckey = None
    if ckey is not None:
        algorithm = _algorithm_of(ckey)
        if algorithm is None:
            raise OptionError(f"{what}: not an SM2, RSA (2048 bits or more) or ECDSA P-256 private key")
        return PrivateKey(ckey, algorithm)
    ec, _, ser = _ts()
    try:
        key = ser.load_pem_private_key(data, None)
    except Exception as exc:  # noqa: BLE001 - the library's errors vary by failure
        raise OptionError(f"{what}: not an unencrypted SM2, RSA or ECDSA P-256 private key in PEM ({exc})") from None
    if not isinstance(getattr(key, "curve", None), ec.SM2):
        raise OptionError(f"{what}: not an SM2, RSA or ECDSA P-256 key")
    return PrivateKey(key)


def _sm2_point(data: bytes) -> PublicKey | None:
    ec, _, _ = _ts()
    try:
        return PublicKey(ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), data), OID_SM2_SM3)
    except Exception:  # noqa: BLE001 - not a point on the curve
        return None


def public_key_from_hex(value: str, algorithm: str = OID_SM2_SM3) -> tuple[PublicKey, str] | None:
    """Decode a ``KeyValue`` in any form seen in real files, with the name of the form.

    Forms: ``spki`` (SubjectPublicKeyInfo DER, StepFun), ``point`` (``04||x||y``), ``xy`` (64 bytes, no
    prefix), ``compressed`` (``02``/``03||x``), ``x`` (a bare x coordinate, 32 bytes, or 33 with a leading
    ``00`` as MiniMax writes it: lifted to the even-y point).  None when it is none of them.

    Decoded once per value: a verification asks for its key twice (to pick the vendor form, then to check),
    and a batch meets one producer's key in thousands of files; a key object is never changed after it is made.
    """
    return _public_key_from_hex(value.strip(), algorithm)  # (a missing library raises: never cached)


@functools.lru_cache(maxsize=256)
def _public_key_from_hex(value: str, algorithm: str) -> tuple[PublicKey, str] | None:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    if not raw:
        return None
    if raw[0] == 0x30:  # DER SEQUENCE: a SubjectPublicKeyInfo
        return _spki(raw, algorithm)
    if algorithm != OID_SM2_SM3:
        return None
    if len(raw) == 65 and raw[0] == 4:
        key, form = _sm2_point(raw), "point"
    elif len(raw) == 64:
        key, form = _sm2_point(b"\x04" + raw), "xy"
    elif len(raw) == 33 and raw[0] in (2, 3):
        key, form = _sm2_point(raw), "compressed"
    elif len(raw) == 33 and raw[0] == 0:
        key, form = _sm2_point(b"\x02" + raw[1:]), "x-padded"
    elif len(raw) == 32:
        key, form = _sm2_point(b"\x02" + raw), "x"
    else:
        return None
    return (key, form) if key is not None else None


def _spki(raw: bytes, algorithm: str) -> tuple[PublicKey, str] | None:
    if algorithm == OID_SM2_SM3:
        ec, _, ser = _ts()
        try:
            key = ser.load_der_public_key(raw)
        except Exception:  # noqa: BLE001
            return None
        return (PublicKey(key, algorithm), "spki") if isinstance(getattr(key, "curve", None), ec.SM2) else None
    try:
        ckey = _cser().load_der_public_key(raw)
    except Exception:  # noqa: BLE001
        return None
    # a key of another kind than the algorithm names cannot verify it (say so here, not by a failed check)
    return (PublicKey(ckey, algorithm), "spki") if _algorithm_of(ckey) == algorithm else None


def public_key_from_spki(raw: bytes) -> PublicKey | None:
    """A SubjectPublicKeyInfo DER of any algorithm we verify (SM2, RSA, ECDSA P-256), or None."""
    if available():
        found = _spki(raw, OID_SM2_SM3)
        if found is not None:
            return found[0]
    try:
        ckey = _cser().load_der_public_key(raw)
    except Exception:  # noqa: BLE001 - not a key, or an SM2 key without the library to read it
        return None
    algorithm = _algorithm_of(ckey)
    return PublicKey(ckey, algorithm) if algorithm is not None else None
