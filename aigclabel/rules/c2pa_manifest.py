"""A signed C2PA manifest is embedded in the file and validates (C2PA 2.x).

The state is the C2PA SDK's: ``Trusted`` (signature and hard binding intact, signer chains to a
trust anchor), ``Valid`` (intact, signer not on a trust list), ``Invalid`` (with the failure codes
that made it so: the active manifest's, or an ingredient's -- ``ingredient.manifest.mismatch`` --
when the SDK lists only ``signingCredential.untrusted`` for the active one).  An ingredient whose
manifest already failed when it was added is a warning.
Trust anchors: ``verify --trust-anchors FILE`` and this rule's ``trust_anchors`` option (a PEM file,
relative to the profile).  Without c2pa-python the requirement is *not checked*.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "c2pa.manifest"
SCOPE = "implicit"
KINDS = None
USES_C2PA = True
OPTIONS: dict[str, Any] = {
    "require_trusted": False,  # an intact manifest from a signer on no trust list fails (else: a warning)
    "trust_anchors": "",  # PEM file of extra trust anchors, relative to the profile file
}
DESCRIPTION = "a signed C2PA manifest is embedded and validates"
EXPECTED = "an embedded C2PA manifest that validates (Trusted, or at least Valid)"


def not_read(found: dict[str, Any], rule: str, expected: str) -> Finding | None:
    """The finding for a manifest that could not be examined (shared by the C2PA rules)."""
    status = found["status"]
    if status in ("not-installed", "not-read", "unsupported-format", "remote"):
        return Finding(rule, Level.NOT_CHECKED, f"not checked: {found['message']}", expected=expected)
    return None


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..c2pa import c2pa_status

    found = c2pa_status(ctx.evidence)
    skipped = not_read(found, ID, EXPECTED)
    if skipped is not None:
        yield skipped
        return
    if found["status"] == "error":
        yield Finding(ID, Level.ERROR, found["message"], expected=EXPECTED, actual="unreadable manifest store")
        return
    if found["status"] == "absent":
        yield Finding(ID, Level.ERROR, "no C2PA manifest in the file", expected=EXPECTED, actual="none")
        return
    m = found["manifest"]
    where = f"active manifest {m.label}"
    if m.state == "Invalid":
        yield Finding(ID, Level.ERROR, f"the C2PA manifest is {m.state_text()}: the file was changed after "
                      "signing or the manifest is damaged", location=where, expected=EXPECTED, actual=m.state)
    elif m.trusted:
        yield Finding(ID, Level.PASS, f"C2PA manifest Trusted, signed by {m.signed_by}", location=where)
    elif m.untrusted:
        level = Level.ERROR if options["require_trusted"] else Level.WARNING
        yield Finding(ID, level, f"C2PA manifest {m.state_text()}, signed by {m.signed_by}; give the "
                      "signer's CA with --trust-anchors (or the rule's trust_anchors option) if you trust it",
                      location=where, expected="a signer that chains to a trust anchor", actual=m.state)
    else:
        yield Finding(ID, Level.PASS, f"C2PA manifest {m.state}, signed by {m.signed_by}", location=where)
    if m.state != "Invalid":
        # The active manifest holds, but the SDK recorded, when an ingredient was added, that its
        # manifest did not: the provenance behind the file is broken there.
        for note in m.ingredient_notes():
            yield Finding(ID, Level.WARNING, f"{note}: its provenance is not verified", location=where)
