"""ReservedCode1/2 SecurityData (TC260-PG-202511A) verifies: SM3withSM2 label signature, content binding, key.

For each of ``ReservedCode1`` (producer) and ``ReservedCode2`` (propagator) of a GB 45438 record:

* absent - nothing said (a warning for ReservedCode1 when ``require`` is set);
* opaque - a value that is not SecurityData (Qwen, Vidu, Wan...): recorded as info, not judged;
* valid - the label signature verifies (and the content binding matches when the file's format is bound,
  see :mod:`aigclabel.formats.binding`): pass; with ``trusted_keys``, a key not listed for the producer
  it claims is an error (a forged label re-signed with another key), and ``require_trusted`` makes an
  unlisted producer an error too;
* invalid - a signature fails or the content changed since signing: error (tampered);
* unverifiable - well-formed, but no known signing rule applies (e.g. StepFun's form, or the ``sign`` extra
  is not installed): a warning, never called tampered.

Vendor forms are data (``aigclabel/security/vendors/*.toml``).  ``trusted_keys`` is a path to a
trusted-keys file (:mod:`aigclabel.security.trust`); a caller may also pass one as ``ctx.extra["trusted_keys"]``
(a path or a loaded :class:`~aigclabel.security.TrustedKeys`).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from ..errors import AigcLabelError
from ..report import Finding, Level

ID = "implicit.security-data"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {
    "require": False,  # a warning when ReservedCode1 holds no SecurityData
    "trusted_keys": "",  # path of a trusted-keys file (provider code -> public keys)
    "require_trusted": False,  # an error when a valid signature's producer has no trusted key (platforms)
}
DESCRIPTION = "SecurityData in ReservedCode1/2 verifies (SM2 signature, content binding, trusted key)"


def _trusted_keys(ctx: Any, options: dict[str, Any]) -> Any:
    from ..security import trusted_keys_from

    return trusted_keys_from((ctx.extra or {}).get("trusted_keys") or options.get("trusted_keys") or None)


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..label import SCHEMA_GB

    labels = [lab for lab in ctx.evidence.labels
              if lab.parsed is not None and lab.parsed.schema == SCHEMA_GB and lab.fields]
    if not any(lab.fields.get(f) for lab in labels for f in ("ReservedCode1", "ReservedCode2")):
        # nothing to verify: say so only when it is required (and import no crypto for an unsigned file)
        if options["require"]:
            for lab in labels:
                yield Finding(ID, Level.WARNING, "ReservedCode1: no SecurityData: the label is not signed",
                              location=lab.location, expected="SecurityData (TC260-PG-202511A)", actual="empty")
        return
    from ..formats.binding import checker
    from ..security import Status, verify_field

    try:
        trusted = _trusted_keys(ctx, options)
    except (AigcLabelError, OSError) as exc:
        yield Finding(ID, Level.NOT_CHECKED, f"the trusted keys could not be read: {exc}")
        trusted = None
    content = checker(ctx.handler, ctx.source)
    for lab in labels:
        for field in ("ReservedCode1", "ReservedCode2"):
            raw = lab.fields.get(field) or ""
            value = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
            res = verify_field(value, lab.fields, field=field, content=content, trusted=trusted)
            yield from _findings(res, field, lab.location, options, Status)


def _findings(res: Any, field: str, location: str | None, options: dict[str, Any], status: Any) -> Iterator[Finding]:
    where = f"{field}: "
    if res.status is status.ABSENT:
        if field == "ReservedCode1" and options["require"]:
            yield Finding(ID, Level.WARNING, f"{where}no SecurityData: the label is not signed", location=location,
                          expected="SecurityData (TC260-PG-202511A)", actual="empty")
        return
    if res.status is status.OPAQUE:
        yield Finding(ID, Level.INFO, f"{where}{res.reason}; recorded, not judged", location=location)
        if field == "ReservedCode1" and options["require"]:
            yield Finding(ID, Level.WARNING, f"{where}no TC260 SecurityData: the label is not verifiably signed",
                          location=location)
        return
    if res.status is status.UNVERIFIABLE:
        yield Finding(ID, Level.WARNING, f"{where}SecurityData cannot be verified: {res.reason} (not a sign of "
                      "tampering)", location=location)
        return
    if res.status is status.INVALID:
        yield Finding(ID, Level.ERROR, f"{where}SecurityData is invalid - tampered: {res.reason}",
                      location=location, expected="a signature that verifies", actual="it does not")
        return
    bound = {"bound": "content binding matches",
             "none": "no content binding", "unsigned": "content binding not signed",
             "unchecked": "content binding not checked"}.get(res.binding, res.binding)
    if res.trust == "mismatch":
        yield Finding(ID, Level.ERROR, f"{where}the signature is valid but {res.trust_reason}", location=location,
                      expected="a key trusted for this provider", actual=f"KeyID {res.key_id or '(none)'}")
        return
    if res.trust != "trusted" and options["require_trusted"]:
        yield Finding(ID, Level.ERROR, f"{where}the signature is valid but not by a trusted key: "
                      f"{res.trust_reason}", location=location)
        return
    who = "by a trusted key" if res.trust == "trusted" else "(integrity only: the key is not pinned)"
    yield Finding(ID, Level.PASS, f"{where}SecurityData valid {who}; {bound}: {res.reason}", location=location)
    if res.binding != "bound":
        yield Finding(ID, Level.INFO, f"{where}{res.binding_reason}", location=location)
