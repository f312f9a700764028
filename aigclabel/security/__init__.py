"""Signed labels: TC260-PG-202511A SecurityData in ReservedCode1 (producer) / ReservedCode2 (propagator).

* :func:`sign_fields` - the SecurityData value for a record, signed with an SM2 key (or RSA / ECDSA P-256,
  :func:`load_signing_key`),
  with a content binding from :func:`aigclabel.formats.binding.binding_digest`;
* :func:`verify_field` - absent · opaque · valid · invalid · unverifiable, with the binding and trust results;
* :func:`load_trusted_keys` - provider code -> public keys (see :mod:`aigclabel.security.trust`);
* :func:`check_record` - both fields of one record at once, the binding recomputed from the open file
  (what ``inspect`` and ``review`` show).

Vendor forms (guide, MiniMax, StepFun) are TOML files in ``vendors/``.  SM2/SM3 come from the ``sign`` extra
(:mod:`aigclabel.security.crypto` says why that library).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OptionError
from .core import ROLE_FIELD, ROLES, SecurityResult, Status, label_message, sign_fields, verify_field
from .crypto import PrivateKey, PublicKey, available
from .model import SecurityData, parse_security_data, vendor_forms
from .trust import TrustedKeys, load_trusted_keys, trusted_keys_from

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler
    from ..formats.binding import ContentDigest
    from ..label import AigcRecord

__all__ = ["Status", "SecurityResult", "SecurityData", "TrustedKeys", "PrivateKey", "PublicKey", "ROLES",
           "ROLE_FIELD", "available", "label_message", "sign_fields", "verify_field", "parse_security_data",
           "vendor_forms", "load_trusted_keys", "load_signing_key", "trusted_keys_from", "check_record",
           "sign_record"]

#: the signature algorithm's name as the notes say it, by OID (ECDSA P-256 is the remaining one we sign with)
_ALGORITHM_NAMES = {"1.2.156.10197.1.501": "SM3withSM2", "1.2.840.113549.1.1.11": "SHA256withRSA"}


def sign_record(record: AigcRecord, key: PrivateKey, handler: FormatHandler, src: CountingReader,
                role: str = "producer") -> tuple[AigcRecord, str, ContentDigest | None]:
    """*record* with its *role*'s ReservedCode (1: producer, 2: propagator) signed by *key* over the role's fields
    and the content binding of *src* (one streaming pass; *src* is rewound), the one line saying what was signed,
    and the binding (None: the format has no selection yet).  The one signing step of mark, carry and review."""
    import dataclasses

    from ..formats.binding import binding_digest

    try:
        digest = binding_digest(handler, src)
    finally:
        src.seek(0)
    field = ROLE_FIELD[role]
    attr = "reserved_code1" if field == "ReservedCode1" else "reserved_code2"
    signed = dataclasses.replace(record, **{attr: sign_fields(record, key, digest, role=role)})
    signed.check_writable()
    fields = "ContentProducer, ProduceID" if role == "producer" else "ContentPropagator, PropagateID"
    what = (f"signed {field}: TC260 SecurityData, {_ALGORITHM_NAMES.get(key.algorithm, 'SHA256withECDSA')} by "
            f"KeyID {key.public.key_id()} over Label, {fields}")
    return signed, what, digest


def load_signing_key(path: str | os.PathLike[str]) -> PrivateKey:
    """A signing key from a PEM file: SM2 (``aigclabel keys init --sm2`` or ``openssl genpkey -algorithm SM2``),
    RSA (``--rsa``) or ECDSA P-256 (``--ecdsa-p256``)."""
    from .crypto import load_private_pem

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise OptionError(f"{p}: cannot read the signing key ({exc.strerror})") from None
    return load_private_pem(data, str(p))


def check_record(fields: Mapping[str, Any], handler: FormatHandler | None = None, src: CountingReader | None = None,
                 trusted: TrustedKeys | None = None) -> list[SecurityResult]:
    """The :func:`verify_field` results of ``ReservedCode1`` and ``ReservedCode2`` of one record's *fields*;
    with *handler* and *src* (the open file) content bindings are recomputed, else reported unchecked."""
    import json

    from ..formats.binding import checker

    content = checker(handler, src)
    out = []
    for name in ("ReservedCode1", "ReservedCode2"):
        raw = fields.get(name) or ""
        value = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        out.append(verify_field(value, fields, field=name, content=content, trusted=trusted))
    return out
