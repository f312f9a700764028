"""Trusted keys: which public keys sign for which provider code.

The key travels inside the file it signs, so a valid signature proves only that the label was not changed
since someone signed it.  A trusted-keys file (what a platform publishes or receives from its providers)
turns "valid" into "valid, and the key belongs to this ContentProducer" - and a valid signature by a key that
is not listed for the claimed producer into a failure.  Format (TOML, or the same shape as JSON)::

    # aigclabel trusted keys, version 1
    [providers."001191110102MACQD9K64010000"]
    name = "Example Generation Co."        # optional, for reports
    keys = ["04A1B2...", "3059301306..."]   # KeyValue hex in any form SecurityData uses (SM2: point, SPKI,
                                            # x; RSA and ECDSA P-256: SPKI DER)
    pem = ["-----BEGIN PUBLIC KEY-----\\n...\\n-----END PUBLIC KEY-----"]   # optional, any of the three

A producer with no entry is "unpinned" (integrity only); ``aigclabel keys init --sm2`` writes a
``trusted-keys.toml`` entry template beside the key.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import OptionError
from .crypto import OID_SM2_SM3, PublicKey, public_key_from_hex, public_key_from_spki

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["TrustedKeys", "load_trusted_keys", "trusted_keys_from"]


@dataclass
class TrustedKeys:
    """Which public keys sign for which provider codes (the --trusted-keys file)."""
    #: provider code -> the keys that sign for it
    providers: dict[str, list[PublicKey]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def judge(self, producer: str, key: PublicKey) -> tuple[str, str]:
        """("trusted" | "mismatch" | "unpinned", reason) for *key* signing a label that names *producer*."""
        listed = self.providers.get(producer)
        if not listed:
            return "unpinned", f"no trusted key is listed for {producer or 'an empty producer'}"
        who = self.names.get(producer, producer)
        if any(key.same_key(k) for k in listed):
            return "trusted", f"the key is listed for {who} in {self.source or 'the trusted keys'}"
        return "mismatch", (f"the signing key is not one of the {len(listed)} key(s) listed for {who} in "
                            f"{self.source or 'the trusted keys'}: the label may be forged")


def load_trusted_keys(path: str | os.PathLike[str]) -> TrustedKeys:
    """Read a trusted-keys file (TOML, or JSON when it ends in ``.json``); :class:`OptionError` if bad."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{p}: cannot read the trusted keys ({exc})") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise OptionError(f"{p}: not a valid trusted-keys file ({exc})") from None
    providers = data.get("providers") if isinstance(data, dict) else None
    if not isinstance(providers, dict):
        raise OptionError(f"{p}: a trusted-keys file needs a [providers.\"CODE\"] table per provider")
    out = TrustedKeys(source=str(p))
    for code, entry in providers.items():
        if not isinstance(entry, dict):
            raise OptionError(f"{p}: providers.{code} must be a table with keys = [...]")
        keys: list[PublicKey] = []
        for value in entry.get("keys", []):
            decoded = _from_hex(str(value))
            if decoded is None:
                raise OptionError(f"{p}: providers.{code}: {str(value)[:24]}... is not a public key in a known form")
            keys.append(decoded)
        for pem in entry.get("pem", []):
            keys.append(_from_pem(str(pem), f"{p}: providers.{code}"))
        out.providers[str(code)] = keys
        if entry.get("name"):
            out.names[str(code)] = str(entry["name"])
    return out


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> TrustedKeys:
    return load_trusted_keys(path)


def trusted_keys_from(given: str | os.PathLike[str] | TrustedKeys | None) -> TrustedKeys | None:
    """*given* loaded: a path is read once per version of the file (cached by mtime and size, so a service
    worker does not re-parse it for every request, yet sees an update), a loaded value passes through."""
    if given is None or isinstance(given, TrustedKeys):
        return given
    if not isinstance(given, (str, os.PathLike)):
        raise OptionError(f"trusted keys must be a file path or TrustedKeys, not {type(given).__name__}")
    path = os.fspath(given)
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError as exc:
        raise OptionError(f"{path}: cannot read the trusted keys ({exc.strerror})") from None
    return _cached(os.path.abspath(path), st.st_mtime_ns, st.st_size)


def _from_hex(value: str) -> PublicKey | None:
    """A listed key: any SM2 form SecurityData uses, or the SPKI DER of an RSA or ECDSA P-256 key."""
    decoded = public_key_from_hex(value, OID_SM2_SM3)
    if decoded is not None:
        return decoded[0]
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        return None
    return public_key_from_spki(raw) if raw[:1] == b"\x30" else None


def _from_pem(pem: str, where: str) -> PublicKey:
    import base64
    import re

    body = re.search(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", pem, re.S)
    try:
        raw = base64.b64decode("".join((body.group(1) if body else "").split()), validate=True)
    except ValueError:
        raw = b""
    key = public_key_from_spki(raw) if raw else None
    if key is None:
        raise OptionError(f"{where}: not a PEM public key of SM2, RSA or ECDSA P-256")
    return key
