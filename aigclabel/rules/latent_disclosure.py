"""A latent (machine-readable) disclosure names the provider, the system and its version, the time and an id.

California's AI Transparency Act (SB 942 as amended by AB 853) asks a covered provider's latent
disclosure to convey: the provider's name; the name and version of the generative AI system that
created or altered the content; the time and date of creation or alteration; a unique identifier.
We read them where a file carries them:

=================  =====================================================  ==============================
field              C2PA manifest (if it does not fail validation)          AIGC metadata record
=================  =====================================================  ==============================
provider           organisation (O) of the signing certificate             ContentProducer / ServiceProvider
system + version   ``softwareAgent`` name and version of c2pa.created     --
                   (else the name alone: c2pa.ai-disclosure ``modelName``)
time               ``when`` of c2pa.created, else the signature time-stamp 2023 record's Time
unique id          the manifest's instance id, else its label             ProduceID / ContentID
=================  =====================================================  ==============================

``sources`` chooses which carriers count and ``kinds`` the content it applies to (SB 942: image,
video and audio).  Each missing field is its own finding.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "provenance.latent-disclosure"
SCOPE = "implicit"
KINDS = None
USES_C2PA = True
OPTIONS: dict[str, Any] = {
    "sources": ["c2pa", "aigc-record"],  # which carriers count
    "kinds": ["image", "video", "audio", "document", "text"],  # content the requirement applies to
}
DESCRIPTION = "latent disclosure with provider, system name and version, time and unique id"

_FIELDS = (
    ("provider", "the provider's name", "the signing certificate's organisation, or ContentProducer"),
    ("system", "the name and version of the generative AI system",
     "softwareAgent name and version in the c2pa.created action"),
    ("time", "the time and date of creation", "the c2pa.created action's 'when', or a signature time-stamp"),
    ("id", "a unique identifier", "the manifest's instance id, or ProduceID"),
)


def _from_manifest(m: Any) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    where = f"C2PA manifest {m.label}"
    if m.signer.get("issuer"):
        out["provider"] = (m.signer["issuer"], f"{where}, signing certificate organisation")
    first = m.first_action or {}
    agent = first.get("softwareAgent") if first.get("action") in ("c2pa.created", "c2pa.edited") else None
    if isinstance(agent, dict) and agent.get("name") and agent.get("version"):
        out["system"] = (f"{agent['name']} {agent['version']}", f"{where}, {first['action']} softwareAgent")
    elif isinstance(agent, dict) and agent.get("name"):
        out["system-name-only"] = (str(agent["name"]), f"{where}, {first['action']} softwareAgent")
    elif isinstance(agent, str) and agent:
        out["system-name-only"] = (agent, f"{where}, {first['action']} softwareAgent")
    if "system" not in out and "system-name-only" not in out:
        # C2PA 2.4: the c2pa.ai-disclosure assertion's modelName names the model, though not its version
        for d in getattr(m, "ai_disclosures", None) or []:
            data = d.get("data")
            if d.get("role") == "active" and isinstance(data, dict) and isinstance(data.get("modelName"), str):
                out["system-name-only"] = (data["modelName"], f"{where}, c2pa.ai-disclosure modelName")
                break
    if first.get("when"):
        out["time"] = (str(first["when"]), f"{where}, {first['action']} when")
    elif m.signer.get("time"):
        out["time"] = (m.signer["time"], f"{where}, signature time-stamp")
    if m.instance_id or m.label:
        out["id"] = (str(m.instance_id or m.label), f"{where}, instance id" if m.instance_id else where)
    return out


def _from_record(lab: Any) -> dict[str, tuple[str, str]]:
    fields = lab.fields or {}
    out: dict[str, tuple[str, str]] = {}
    for key, name in (("provider", "ContentProducer"), ("provider", "ServiceProvider"), ("id", "ProduceID"),
                      ("id", "ContentID"), ("time", "Time")):
        if fields.get(name) and key not in out:
            out[key] = (fields[name], f"AIGC record {name} ({lab.location})")
    return out


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..c2pa import c2pa_status

    if ctx.evidence.kind not in options["kinds"]:
        yield Finding(ID, Level.INFO, f"a latent disclosure is not required for {ctx.evidence.kind} content "
                      f"(only for {', '.join(options['kinds'])})")
        return
    sources = list(options["sources"])
    found: dict[str, tuple[str, str]] = {}
    notes: list[str] = []
    if "c2pa" in sources:
        status = c2pa_status(ctx.evidence)
        if status["status"] == "present":
            m = status["manifest"]
            if m.state == "Invalid":
                notes.append(f"the C2PA manifest is {m.state_text()} and was not used")
            else:
                found.update(_from_manifest(m))
        elif status["status"] not in ("absent",):
            notes.append(status["message"])
    if "aigc-record" in sources:
        for lab in ctx.evidence.labels:
            for key, pair in _from_record(lab).items():
                found.setdefault(key, pair)
    suffix = f" ({'; '.join(notes)})" if notes else ""
    c2pa_unread = any(n.startswith(("C2PA manifests were not read", "the C2PA manifest was not read")) for n in notes)
    for key, what, where in _FIELDS:
        if key in found:
            value, source = found[key]
            yield Finding(ID, Level.PASS, f"latent disclosure names {what}: {value}", location=source)
            continue
        actual = "none"
        if key == "system" and "system-name-only" in found:
            actual = f"{found['system-name-only'][0]} (no version)"
        if c2pa_unread:
            yield Finding(ID, Level.NOT_CHECKED, f"not checked: no {what} found outside the C2PA manifest{suffix}",
                          expected=where)
        else:
            yield Finding(ID, Level.ERROR, f"the latent disclosure does not name {what}{suffix}", expected=where,
                          actual=actual)
