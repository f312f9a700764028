"""Sign and verify the SecurityData of one ReservedCode field.

What aigclabel writes (the guide's form; every name below is a key of the JSON)::

    {"SecurityData":{"Type":"TC260PG","Version":1,"PubSD":[
       {"Type":"PubKey","AlgID":"1.2.156.10197.1.501","KeyID":K,"KeyValue":"04..."},
       {"Type":"DS","AlgID":"1.2.156.10197.1.501","KeyID":K,"TBSData":{"Type":"Md"},"Signature":S1},
       {"Type":"DS","AlgID":"1.2.156.10197.1.501","KeyID":K,"TBSData":{"Type":"Bnd"},"Signature":S2}],
     "Bindings":[{"Type":"Bnd","AlgID":"1.2.156.10197.1.401","CntSel":SEL,"Value":H}]}}

* ``S1`` is SM3withSM2 (user id ``1234567812345678``) over appendix A.1's message, the JSON-encoded pairs
  joined by commas without braces: ``"Label":"1","ContentProducer":"…","ProduceID":"…"`` (a propagator's
  ``ReservedCode2``: ``"Label":"1","ContentPropagator":"…","PropagateID":"…"``).
* ``H`` is SM3 over the content bytes that selection ``SEL`` names (:mod:`aigclabel.formats.binding`): bytes
  the metadata step never touches, so the hash is taken once before the record goes in and re-checked after.
* ``S2`` signs the compact JSON of the Bindings entry, so the hash cannot be swapped for another file's.
* ``K`` is the first 16 bytes of SM3 over the key's SubjectPublicKeyInfo DER, in hex (our documented choice).

Known limit: the two signatures are separate (as in MiniMax's files), so entries of two records signed by the
same key could be spliced - the result still names the true producer, only the ProduceID pairs wrongly.

Verification outcome per field (:class:`Status`): ``absent`` · ``opaque`` (not SecurityData: recorded, not
judged) · ``valid`` · ``invalid`` (a signature fails or the content changed since signing: tampered) ·
``unverifiable`` (well-formed, but no known signing rule applies - never called tampered).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

from . import crypto
from .model import BindingEntry, SecurityData, SigEntry, VendorForm, compact_json, parse_security_data, vendor_forms
from .trust import TrustedKeys

if TYPE_CHECKING:  # pragma: no cover
    from ..formats.binding import ContentDigest

__all__ = ["Status", "SecurityResult", "label_message", "sign_fields", "verify_field", "ContentCheck", "ROLES",
           "ROLE_FIELD"]

_json_ascii = json.encoder.encode_basestring_ascii
_json_text = json.encoder.encode_basestring

ROLES = ("producer", "propagator")
ROLE_FIELD = {"producer": "ReservedCode1", "propagator": "ReservedCode2"}
_FIELD_ROLE = {v: k for k, v in ROLE_FIELD.items()}
_GUIDE_FIELDS = {"producer": ("Label", "ContentProducer", "ProduceID"),
                 "propagator": ("Label", "ContentPropagator", "PropagateID")}

#: recompute a binding: the entry -> (SM3 hex of the selected bytes, ""), or ("", why) when the selection
#: cannot fit this file (a mismatch), or (None, why) when it cannot be checked
ContentCheck = Callable[[BindingEntry], "tuple[str | None, str]"]


class Status(str, enum.Enum):
    ABSENT = "absent"
    OPAQUE = "opaque"
    VALID = "valid"
    INVALID = "invalid"
    UNVERIFIABLE = "unverifiable"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


@dataclass
class SecurityResult:
    """The verdict on one ReservedCode field's SecurityData: status, why, the form and key used, the binding."""
    field: str
    status: Status
    reason: str
    form: str | None = None  # the vendor form whose rule was applied
    key_id: str | None = None
    #: "none" (no binding) | "bound" (hash matches) | "mismatch" | "unchecked" | "unsigned"
    binding: str = "none"
    binding_reason: str = ""
    #: "trusted" | "mismatch" | "unpinned"
    trust: str = "unpinned"
    trust_reason: str = ""
    spellings: list[str] = dc_field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "status": self.status.value, "reason": self.reason, "form": self.form,
                "key_id": self.key_id, "binding": self.binding, "binding_reason": self.binding_reason,
                "trust": self.trust, "trust_reason": self.trust_reason, "spellings": list(self.spellings)}


def label_message(fields: Mapping[str, Any], names: tuple[str, ...] = _GUIDE_FIELDS["producer"]) -> bytes:
    """Appendix A.1's message: ``"Label":"1","ContentProducer":"…","ProduceID":"…"`` (UTF-8)."""
    parts = []
    for name in names:
        value = fields.get(name, "")
        text = value if isinstance(value, str) else str(value)
        # json.dumps(name) and json.dumps(text, ensure_ascii=False), by the encoders json.dumps itself ends in
        # (six dumps a signature, each building an encoder, were a tenth of a PDF's signing overhead)
        parts.append(f"{_json_ascii(name)}:{_json_text(text)}")
    return ",".join(parts).encode("utf-8")


def _record_fields(record: Any) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    to_dict = getattr(record, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError("record must be an AigcRecord or a mapping of its JSON fields")


def sign_fields(record: Any, key: crypto.PrivateKey, binding_digest: ContentDigest | None = None,
                role: str = "producer") -> str:
    """The ``ReservedCode1`` (producer) or ``ReservedCode2`` (propagator) value: SecurityData signed by *key*
    over *record*'s fields for *role*, with a content binding when *binding_digest* is given.

    *key*'s algorithm (SM3withSM2, RSA/SHA-256 or ECDSA P-256/SHA-256) names every ``AlgID`` of the PubKey and
    DS entries; the binding hash stays SM3 (``1.2.156.10197.1.401``) whatever signs it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    fields = _record_fields(record)
    kid, alg = key.public.key_id(), key.algorithm
    pub = {"Type": "PubKey", "AlgID": alg, "KeyID": kid, "KeyValue": key.public.key_value()}
    md = {"Type": "DS", "AlgID": alg, "KeyID": kid, "TBSData": {"Type": "Md"},
          "Signature": key.sign(label_message(fields, _GUIDE_FIELDS[role])).hex().upper()}
    sd: dict[str, Any] = {"Type": "TC260PG", "Version": 1, "PubSD": [pub, md]}
    if binding_digest is not None:
        entry = {"Type": "Bnd", "AlgID": crypto.OID_SM3, "CntSel": binding_digest.selection,
                 "Value": binding_digest.value.upper()}
        sd["PubSD"].append({"Type": "DS", "AlgID": alg, "KeyID": kid, "TBSData": {"Type": "Bnd"},
                            "Signature": key.sign(compact_json(entry)).hex().upper()})
        sd["Bindings"] = [entry]
    return json.dumps({"SecurityData": sd}, separators=(",", ":"), ensure_ascii=True)


def _key_for(sd: SecurityData, sig: SigEntry) -> tuple[crypto.PublicKey, str] | None | str:
    """The public key a signature names (by KeyID; the only key when it names none), or why there is none."""
    candidates = [k for k in sd.keys if k.key_id == sig.key_id] or (sd.keys if len(sd.keys) == 1 else [])
    if not candidates:
        return f"no PubKey entry for KeyID {sig.key_id!r}" if sig.key_id else "no public key to check it with"
    entry = candidates[0]
    decoded = crypto.public_key_from_hex(entry.value, sig.algorithm)
    if decoded is None:
        return f"the PubKey value ({len(entry.value)} hex digits) is not a key in a known form"
    return decoded


def _key_form(sd: SecurityData, sig: SigEntry) -> str | None:
    if not crypto.available():
        return None
    found = _key_for(sd, sig)
    return found[1] if isinstance(found, tuple) else None


def verify_field(value: str | None, fields: Mapping[str, Any], *, field: str = "ReservedCode1",
                 content: ContentCheck | None = None, trusted: TrustedKeys | None = None) -> SecurityResult:
    """Judge the SecurityData in *field* (``ReservedCode1``/``ReservedCode2``) of a record with *fields*.

    *content* recomputes a binding's hash from the file (see :func:`aigclabel.formats.binding.checker`);
    without it bindings are "unchecked".  *trusted* pins keys to provider codes.
    """
    role = _FIELD_ROLE.get(field, "producer")
    if not value:
        return SecurityResult(field, Status.ABSENT, f"{field} is empty")
    sd = parse_security_data(value)
    if isinstance(sd, str):
        return SecurityResult(field, Status.OPAQUE, f"{field} holds a value that is not SecurityData ({sd})")
    res = SecurityResult(field, Status.UNVERIFIABLE, "", spellings=list(sd.spellings))
    if sd.type != "TC260PG":
        res.status, res.reason = Status.OPAQUE, f"SecurityData of type {sd.type!r}, not TC260PG"
        return res
    if not sd.signatures:
        res.reason = "SecurityData without a signature (DS entry)"
        return res
    known = {t for f in vendor_forms() for t in f.label_tbs}
    labels = [s for s in sd.signatures if s.tbs_type in known]
    if not labels:
        res.reason = ("no known signing rule matches: TBSData.Type "
                      + ", ".join(repr(s.tbs_type) for s in sd.signatures))
        return res
    if not crypto.available():
        res.reason = "SM2 verification is not installed: pip install 'aigclabel[sign]'"
        return res
    sig = labels[0]
    form = next((f for f in vendor_forms() if f.claims(sig.tbs_type, _key_form(sd, sig))), None)
    if form is None:
        res.reason = (f"no known signing rule matches (TBSData.Type {sig.tbs_type!r}, "
                      f"key form {_key_form(sd, sig) or 'unknown'})")
        return res
    res.form, res.key_id = form.name, sig.key_id or None
    if not form.verifiable:
        res.reason = f"{form.title}: {form.reason or 'no known signing rule'}"
        return res
    if sig.algorithm not in (crypto.OID_SM2_SM3, crypto.OID_RSA_SHA256, crypto.OID_ECDSA_SHA256):
        res.reason = f"the label signature's algorithm {sig.algorithm!r} is not a signature algorithm we verify"
        return res
    found = _key_for(sd, sig)
    if not isinstance(found, tuple):
        res.reason = found or "no public key"
        return res
    key = found[0]
    names = form.fields[role]
    try:
        signature = bytes.fromhex(sig.signature.strip())
    except ValueError:
        signature = b""
    if not key.verify(label_message(fields, names), signature):
        res.status = Status.INVALID
        res.reason = (f"the label signature does not verify over {', '.join(names)}: a field was changed after "
                      "signing, or the signature belongs to another record")
        return res
    bad = _check_bindings(res, sd, form, key, content)
    if bad:
        res.status, res.reason = Status.INVALID, bad
        return res
    res.status = Status.VALID
    res.reason = (f"the label signature verifies ({form.title}, {crypto.ALGORITHMS[sig.algorithm]} over "
                  f"{', '.join(names)})")
    if trusted is not None:
        producer = str(fields.get("ContentProducer" if role == "producer" else "ContentPropagator", ""))
        res.trust, res.trust_reason = trusted.judge(producer, key)
    else:
        res.trust_reason = "no trusted keys given: the key travels in the file, so this proves integrity only"
    return res


def _check_bindings(res: SecurityResult, sd: SecurityData, form: VendorForm, key: crypto.PublicKey,
                    content: ContentCheck | None) -> str:
    """Fill res.binding; return the reason when a binding proves tampering ("" otherwise)."""
    if not sd.bindings:
        res.binding, res.binding_reason = "none", "no content binding: the label is not tied to the content"
        return ""
    bsigs = [s for s in sd.signatures if s.tbs_type in form.binding_tbs]
    if not bsigs:
        res.binding = "unsigned"
        res.binding_reason = "the Bindings entry carries no signature of its own, so it proves nothing"
        return ""
    for i, entry in enumerate(sd.bindings):
        bsig = bsigs[min(i, len(bsigs) - 1)]
        try:
            signature = bytes.fromhex(bsig.signature.strip())
        except ValueError:
            signature = b""
        if not key.verify(compact_json(entry.raw), signature):
            res.binding = "mismatch"
            return "the content binding's signature does not verify: the Bindings entry was changed after signing"
    if form.binding_content != "cntsel":
        res.binding = "unchecked"
        res.binding_reason = (f"{form.title}: the binding signature verifies, but the content selection is not "
                              "known, so the content hash is not recomputed")
        return ""
    if content is None:
        res.binding, res.binding_reason = "unchecked", "the content was not available to recompute the binding"
        return ""
    for entry in sd.bindings:
        if entry.algorithm != crypto.OID_SM3:
            res.binding, res.binding_reason = "unchecked", f"binding hash algorithm {entry.algorithm!r} is not SM3"
            return ""
        computed, why = content(entry)
        if computed == "":
            res.binding = "mismatch"
            return f"the content binding does not fit this file: {why} (the record was moved from another file)"
        if computed is None:
            res.binding, res.binding_reason = "unchecked", why
            return ""
        if computed.lower() != entry.value.strip().lower():
            res.binding = "mismatch"
            return (f"the content changed since signing: SM3 over {entry.cnt_sel} is {computed[:16]}..., the "
                    f"binding says {entry.value[:16]}... (or the record was moved from another file)")
    res.binding, res.binding_reason = "bound", f"SM3 over {', '.join(e.cnt_sel for e in sd.bindings)} matches"
    return ""
