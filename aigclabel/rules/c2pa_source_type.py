"""The manifest's first action is ``c2pa.created`` with an AI ``digitalSourceType`` (C2PA 2.x actions).

A manifest that starts with ``c2pa.opened`` (or an edit) is an editor's, not a generator's: when the
provenance chain still says generative AI -- a C2PA Asset Rubrics 1.0 signal such as
``inception:signal_fullyGenAIMedia`` in an ingredient's manifest, or ``perceptibleGenAI`` on the
edit -- that is a warning naming the signal and where it is, not a failure; without one it fails.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level
from .c2pa_manifest import not_read

ID = "c2pa.digital-source-type"
SCOPE = "implicit"
KINDS = None
USES_C2PA = True
OPTIONS: dict[str, Any] = {"accept": [
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
]}
DESCRIPTION = "the first C2PA action is c2pa.created with an AI digitalSourceType"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    from ..c2pa import c2pa_status

    accept = list(options["accept"])
    expected = f"first action c2pa.created with digitalSourceType {accept[0]}"
    found = c2pa_status(ctx.evidence)
    skipped = not_read(found, ID, expected)
    if skipped is not None:
        yield skipped
        return
    if found["status"] != "present":
        return  # no manifest (or an unreadable one): c2pa.manifest says so
    m = found["manifest"]
    where = f"active manifest {m.label}, c2pa.actions"
    first = m.first_action
    if first is None:
        yield Finding(ID, Level.ERROR, "the C2PA manifest has no actions assertion", location=where,
                      expected=expected, actual="no actions")
        return
    action = str(first.get("action"))
    dst = first.get("digitalSourceType")
    if action != "c2pa.created":
        chain = m.genai_signals
        if chain:
            s = chain[0]
            whose = "the active manifest" if s.get("role") == "active" else \
                f"ingredient {s.get('title') or '?'!r} (manifest {s.get('manifest')})"
            yield Finding(ID, Level.WARNING, f"the first C2PA action is {action}, not c2pa.created; generative AI "
                          f"is signalled by {whose}: {s.get('signal')} ({s.get('action')} with "
                          f"{str(s.get('digitalSourceType')).rsplit('/', 1)[-1]}, C2PA Asset Rubrics 1.0)",
                          location=where, expected=expected, actual=action)
            return
        yield Finding(ID, Level.ERROR, f"the first C2PA action is {action}, not c2pa.created", location=where,
                      expected=expected, actual=action)
    elif dst not in accept:
        yield Finding(ID, Level.ERROR, f"c2pa.created has digitalSourceType {dst or 'none'}, not an AI-generation "
                      "URI (the full IPTC URI is required)", location=where, expected=accept[0], actual=str(dst))
    elif m.state == "Invalid":
        yield Finding(ID, Level.WARNING, f"c2pa.created with {dst}, but the manifest is Invalid, so the claim "
                      "is not verified", location=where)
    else:
        yield Finding(ID, Level.PASS, f"c2pa.created with digitalSourceType {dst}", location=where)
