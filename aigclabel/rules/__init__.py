"""Checks the verifier runs, one small module each (the yamllint model).

Each module defines ``ID``, ``SCOPE`` ("implicit" or "explicit"), ``KINDS`` (content kinds it
applies to, or ``None`` for all), ``OPTIONS`` (name -> default), ``DESCRIPTION`` and
``check(ctx, options)`` yielding :class:`~aigclabel.report.Finding` objects.  A breach is yielded
at ``Level.ERROR``; the engine maps it to the level the profile gives the requirement and adds
the profile's clause.  Adding a check is one module here plus its line in :data:`_BUILTIN`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterator, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import Evidence, FormatHandler
    from ..profiles import Profile
    from ..report import Finding

__all__ = ["Rule", "CheckContext", "get_rule", "all_rules", "uses_c2pa"]

_BUILTIN = (
    "implicit_present",
    "implicit_single",
    "implicit_schema",
    "implicit_fields",
    "implicit_provider_code",
    "implicit_carrier",
    "implicit_header",
    "implicit_digital_source_type",
    "implicit_security_data",
    "explicit_image",
    "explicit_audio",
    "explicit_text",
    "explicit_document",
    "explicit_video",
    "watermark",
    "c2pa_manifest",
    "c2pa_source_type",
    "c2pa_timestamp",
    "c2pa_aigc_assertion",
    "latent_disclosure",
)


@dataclass
class CheckContext:
    """What a rule sees: the evidence, the profile, and (for checks that need the content itself,
    such as OCR of a visible label) the open source, positioned anywhere - seek before reading."""

    evidence: Evidence
    profile: Profile
    scope: str
    source: CountingReader | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the handler that read the evidence: rules that need the content (pixels, PCM, frames, text
    #: blocks) ask it (``handler.image_access(source)`` ...) instead of parsing the file themselves
    handler: FormatHandler | None = None


class Rule(Protocol):
    ID: str
    SCOPE: str
    KINDS: frozenset[str] | None
    OPTIONS: dict[str, Any]
    DESCRIPTION: str

    def check(self, ctx: CheckContext, options: dict[str, Any]) -> Iterator[Finding]: ...


_rules: dict[str, ModuleType] | None = None


def all_rules() -> dict[str, ModuleType]:
    global _rules
    if _rules is None:
        _rules = {}
        for name in _BUILTIN:
            mod = importlib.import_module(f"{__name__}.{name}")
            _rules[mod.ID] = mod
    return _rules


def get_rule(rule_id: str) -> ModuleType | None:
    return all_rules().get(rule_id)


_c2pa_rule_ids: frozenset[str] | None = None


def uses_c2pa(profile: Profile) -> bool:
    """True when an enabled rule of *profile* looks at C2PA manifests (``USES_C2PA`` in its module).

    Asked for every file a batch reads: the ids of such rules are collected once."""
    global _c2pa_rule_ids
    if _c2pa_rule_ids is None:
        _c2pa_rule_ids = frozenset(rid for rid, mod in all_rules().items() if getattr(mod, "USES_C2PA", False))
    ids = _c2pa_rule_ids
    return any(cfg.enabled and cfg.id in ids for cfg in profile.rules.values())
