"""Signed labels: TC260-PG-202511A SecurityData in ReservedCode1 (producer) / ReservedCode2 (propagator).

* :func:`sign_fields` - the SecurityData value for a record, signed with an SM2 key (:func:`load_signing_key`),
  with a content binding from :func:`aigclabel.formats.binding.binding_digest`;
* :func:`verify_field` - absent · opaque · valid · invalid · unverifiable, with the binding and trust results;
* :func:`load_trusted_keys` - provider code -> public keys (see :mod:`aigclabel.security.trust`).

Vendor forms (guide, MiniMax, StepFun) are TOML files in ``vendors/``.  SM2/SM3 come from the ``sign`` extra
(:mod:`aigclabel.security.crypto` says why that library).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import OptionError
from .core import ROLE_FIELD, ROLES, SecurityResult, Status, label_message, sign_fields, verify_field
from .crypto import PrivateKey, PublicKey, available
from .model import SecurityData, parse_security_data, vendor_forms
from .trust import TrustedKeys, load_trusted_keys

__all__ = ["Status", "SecurityResult", "SecurityData", "TrustedKeys", "PrivateKey", "PublicKey", "ROLES",
           "ROLE_FIELD", "available", "label_message", "sign_fields", "verify_field", "parse_security_data",
           "vendor_forms", "load_trusted_keys", "load_signing_key"]


def load_signing_key(path: str | os.PathLike[str]) -> PrivateKey:
    """An SM2 private key from a PEM file (``aigclabel keys init --sm2`` or ``openssl genpkey -algorithm SM2``)."""
    from .crypto import load_private_pem

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise OptionError(f"{p}: cannot read the signing key ({exc.strerror})") from None
    return load_private_pem(data, str(p))
