"""aigclabel: label AI-generated content and check those labels (GB 45438-2025 and friends).

Library use::

    import aigclabel
    marked: bytes = aigclabel.mark(png_bytes, producer="001191110102MACQD9K64010000")
    report = aigclabel.verify(marked)
    assert report.verdict == "compliant" or report.findings

Heavy libraries are imported only by the handlers that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (AigcLabelError, CorruptFile, InputError, LabelError, LimitExceeded, OutputError,
                     PasswordRequired, ProfileError, SigningError, SourceError, UnsupportedFormat,
                     UnsupportedOperation)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "mark", "mark_file", "verify", "inspect", "MarkResult", "Inspection",
    "mark_text", "verify_text", "write_sidecar",
    "AigcRecord", "LegacyRecord", "ParsedLabel", "parse_label",
    "Profile", "load_profile", "list_profiles", "DEFAULT_PROFILE",
    "Finding", "FoundLabel", "Level", "Report", "Trace", "Verdict",
    "AigcLabelError", "CorruptFile", "InputError", "LabelError", "OutputError", "ProfileError",
    "SourceError", "UnsupportedFormat", "UnsupportedOperation", "PasswordRequired", "SigningError",
    "C2paOptions", "ReadOptions", "init_keys", "review", "PlatformConfig", "Review",
    "Limits", "use_limits", "LimitExceeded", "AuditLog", "carry", "diff",
]

if TYPE_CHECKING:  # pragma: no cover - the lazy names below, as type checkers see them
    from .audit import AuditLog
    from .carrying import carry
    from .diffing import diff
    from .c2pa import C2paOptions, ReadOptions
    from .keys import init_keys
    from .label import AigcRecord, LegacyRecord, ParsedLabel, parse_label
    from .limits import Limits, use_limits
    from .profiles import DEFAULT_PROFILE, Profile, list_profiles, load_profile
    from .report import Finding, FoundLabel, Level, Report, Trace, Verdict
    from .marking import MarkResult, mark, mark_file
    from .platform import PlatformConfig, Review, review
    from .textlabel import mark_text, verify_text, write_sidecar
    from .verifier import Inspection, inspect, verify

# Everything but the error classes is loaded on first use, so that `import aigclabel` (and so `aigclabel
# --help`, and a worker that needs one module) stays cheap: the marking and verifying modules pull in the format
# registry, and even the record and profile models cost ~25 ms of regular expressions and dataclasses.
_LAZY = {"mark": "marking", "mark_file": "marking", "MarkResult": "marking",
         "verify": "verifier", "inspect": "verifier", "Inspection": "verifier",
         "mark_text": "textlabel", "verify_text": "textlabel", "write_sidecar": "textlabel",
         "C2paOptions": "c2pa", "ReadOptions": "c2pa", "init_keys": "keys",
         "review": "platform", "PlatformConfig": "platform", "Review": "platform", "AuditLog": "audit",
         "Limits": "limits", "use_limits": "limits",
         "AigcRecord": "label", "LegacyRecord": "label", "ParsedLabel": "label", "parse_label": "label",
         "DEFAULT_PROFILE": "profiles", "Profile": "profiles", "list_profiles": "profiles", "load_profile": "profiles",
         "Finding": "report", "FoundLabel": "report", "Level": "report", "Report": "report", "Trace": "report",
         "Verdict": "report", "carry": "carrying", "diff": "diffing"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aigclabel' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
