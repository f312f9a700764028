"""The SecurityData JSON held in ``ReservedCode1``/``ReservedCode2`` (TC260-PG-202511A), as a typed model.

The reader is tolerant of the spellings seen in real files and records each departure from the guide in
``SecurityData.spellings``: ``PubSd`` for ``PubSD``, ``Binding`` for ``Bindings``, ``KeyId`` for ``KeyID``,
``"Type":" TC260PG"`` with a leading space, algorithm names (``"sm3"``, ``"SM3withSM2"``) for OIDs, the DS
entry before the PubKey entry (order never matters here).  Vendor forms - which spellings mean which signing
rule - are data: one TOML file per form in ``vendors/`` (:func:`vendor_forms`); a new vendor is one file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .crypto import OID_ECDSA_SHA256, OID_RSA_SHA256, OID_SM2_SM3, OID_SM3

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["KeyEntry", "SigEntry", "BindingEntry", "SecurityData", "VendorForm", "parse_security_data",
           "vendor_forms", "algorithm_oid", "compact_json"]

_ALG_NAMES = {"sm2": OID_SM2_SM3, "sm3withsm2": OID_SM2_SM3, "sm2withsm3": OID_SM2_SM3, "sm2-sm3": OID_SM2_SM3,
              "sm3": OID_SM3, "sha256withrsa": OID_RSA_SHA256, "rsa-sha256": OID_RSA_SHA256,
              "ecdsa-with-sha256": OID_ECDSA_SHA256, "es256": OID_ECDSA_SHA256}


def algorithm_oid(value: object) -> str:
    """An ``AlgID`` as an OID: OIDs pass through, the names seen in files are mapped, others kept."""
    text = str(value).strip() if value is not None else ""
    return _ALG_NAMES.get(text.lower(), text)


def compact_json(value: Any) -> bytes:
    """The compact JSON text of a parsed value (key order as in the file): what an entry signature covers."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class KeyEntry:
    """A PubKey entry of SecurityData: key id, algorithm and key value."""
    key_id: str
    algorithm: str
    value: str


@dataclass
class SigEntry:
    """A DS (signature) entry of SecurityData: key id, algorithm, signature and what it signs."""
    key_id: str
    algorithm: str
    signature: str
    tbs_type: str
    tbs: dict[str, Any]


@dataclass
class BindingEntry:
    """A content binding entry of SecurityData: type, algorithm, content selection and value."""
    raw: dict[str, Any]  # as parsed, key order kept: the binding signature covers its compact JSON
    type: str
    algorithm: str
    cnt_sel: str
    value: str


@dataclass
class SecurityData:
    """Parsed SecurityData: its keys, signatures and bindings, and how its spellings departed from the guide."""
    type: str
    version: Any
    keys: list[KeyEntry] = field(default_factory=list)
    signatures: list[SigEntry] = field(default_factory=list)
    bindings: list[BindingEntry] = field(default_factory=list)
    #: departures from the guide's spellings, for the report ("PubSd for PubSD", ...)
    spellings: list[str] = field(default_factory=list)


def _get(obj: dict[str, Any], name: str, spellings: list[str], *aliases: str) -> Any:
    """obj[name], else a case-insensitive match or an alias (noted as a spelling)."""
    if name in obj:
        return obj[name]
    lowered = {str(k).lower(): k for k in obj}
    for alt in (name, *aliases):
        key = lowered.get(alt.lower())
        if key is not None:
            spellings.append(f"{key} for {name}")
            return obj[key]
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else json.dumps(value))


def parse_security_data(value: str) -> SecurityData | str:
    """The model of *value*, or a string saying why it is not SecurityData (an opaque value)."""
    try:
        doc = json.loads(value)
    except (ValueError, RecursionError):
        return "not JSON"
    if isinstance(doc, str):  # double-encoded: a JSON string holding the object
        try:
            doc = json.loads(doc)
        except (ValueError, RecursionError):
            return "not JSON"
    if not isinstance(doc, dict):
        return "JSON, but not an object"
    spellings: list[str] = []
    sd = _get(doc, "SecurityData", spellings)
    if not isinstance(sd, dict):
        return "JSON without a SecurityData object"
    raw_type = _text(_get(sd, "Type", spellings))
    if raw_type != raw_type.strip():
        spellings.append(f"Type {raw_type!r} with surrounding spaces")
    out = SecurityData(type=raw_type.strip(), version=_get(sd, "Version", spellings), spellings=spellings)
    entries = _get(sd, "PubSD", spellings, "PubSd", "PubSDs")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        etype = _text(_get(entry, "Type", spellings)).strip()
        key_id = _text(_get(entry, "KeyID", spellings, "KeyId", "KID"))
        alg = algorithm_oid(_get(entry, "AlgID", spellings, "AlgId", "Alg"))
        if etype.lower() == "pubkey":
            out.keys.append(KeyEntry(key_id, alg, _text(_get(entry, "KeyValue", spellings, "Key", "Value"))))
        elif etype.lower() in ("ds", "sig", "signature"):
            tbs = _get(entry, "TBSData", spellings, "TBS", "TbsData")
            tbs = tbs if isinstance(tbs, dict) else {}
            tbs_type = _text(_get(tbs, "Type", spellings)).strip() if tbs else ""
            out.signatures.append(SigEntry(key_id, alg, _text(_get(entry, "Signature", spellings, "Sig", "Value")),
                                           tbs_type, tbs))
    bindings = _get(sd, "Bindings", spellings, "Binding", "Bnd")
    if isinstance(bindings, dict):
        bindings = [bindings]
    for entry in bindings if isinstance(bindings, list) else []:
        if isinstance(entry, dict):
            btype = _get(entry, "Type", spellings, "BType")
            out.bindings.append(BindingEntry(raw=entry, type=_text(btype).strip(),
                                             algorithm=algorithm_oid(_get(entry, "AlgID", spellings, "AlgId")),
                                             cnt_sel=_text(_get(entry, "CntSel", spellings, "CntSelect")),
                                             value=_text(_get(entry, "Value", spellings, "Hash", "Digest"))))
    out.spellings = list(dict.fromkeys(spellings))
    return out


@dataclass(frozen=True)
class VendorForm:
    """One signing rule: which records it claims and how their signatures are checked (``vendors/*.toml``)."""

    name: str
    title: str
    order: int
    label_tbs: tuple[str, ...]
    key_forms: tuple[str, ...]
    verifiable: bool
    reason: str
    fields: dict[str, tuple[str, ...]]  # role -> the signed record fields, in order
    binding_tbs: tuple[str, ...]
    binding_message: str
    binding_content: str  # "cntsel" (recompute) or "unknown"

    def claims(self, tbs_type: str, key_form: str | None) -> bool:
        return tbs_type in self.label_tbs and (key_form is None or key_form in self.key_forms)


def _form(data: dict[str, Any], where: str) -> VendorForm:
    try:
        match, label, binding = data["match"], data["label"], data.get("binding", {})
        return VendorForm(
            name=str(data["name"]), title=str(data.get("title", data["name"])), order=int(data.get("order", 100)),
            label_tbs=tuple(match["label_tbs"]), key_forms=tuple(match.get("key_forms", ())),
            verifiable=bool(label.get("verifiable", True)), reason=str(label.get("reason", "")),
            fields={"producer": tuple(label.get("producer_fields", ("Label", "ContentProducer", "ProduceID"))),
                    "propagator": tuple(label.get("propagator_fields",
                                                  ("Label", "ContentPropagator", "PropagateID")))},
            binding_tbs=tuple(binding.get("tbs", ())), binding_message=str(binding.get("message", "entry-json")),
            binding_content=str(binding.get("content", "unknown")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: bad vendor form ({exc})") from None


@lru_cache(maxsize=1)
def vendor_forms() -> tuple[VendorForm, ...]:
    """Every vendor form shipped in ``vendors/``, in their ``order``."""
    forms = []
    for path in sorted((Path(__file__).parent / "vendors").glob("*.toml")):
        forms.append(_form(tomllib.loads(path.read_text("utf-8")), path.name))
    return tuple(sorted(forms, key=lambda f: (f.order, f.name)))
