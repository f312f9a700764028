"""Explicit (perceivable) labels: the marking pipeline's explicit step, one module per content kind.

Marking runs Profile + label -> plan -> **explicit step** -> metadata step -> signing step.  An
explicit marker takes the open source and returns the whole new file with the visible/audible
label added; the metadata step then writes the implicit record into that result.

Before it, :func:`label_present` asks whether the file already shows an explicit label, so marking a
marked file does not draw a second one.  It runs the verifier's own rule for the content kind
(``aigclabel.rules.explicit_*``), with the cheaper options the rule names in ``PRESENT_OPTIONS``: one
detector, so "present" at marking means what "pass" means at verifying.
"""

from __future__ import annotations

import importlib
import io
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import Evidence, FormatHandler
    from ..profiles import Profile
    from ..report import Finding

__all__ = ["ExplicitOptions", "ExplicitResult", "ExplicitMarker", "marker_for", "POSITIONS", "PresentLabel",
           "label_present", "REPLACES_OWN"]

#: where an image/video label may go: the corners and edges the rules allow
POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "bottom", "top", "left", "right")

#: content kinds whose marker finds the notice it wrote before and replaces it (text notices, PDF stamps,
#: Office notices); pixels and samples cannot be taken back, so image, audio and video labels would stack
REPLACES_OWN = frozenset({"text", "document"})

# content kind -> (module, class), or several such pairs tried in order (the first marker whose
# supports() accepts the handler's format wins); a kind with no entry cannot be explicitly marked yet
_BUILTIN: dict[str, tuple[str, str] | tuple[tuple[str, str], ...]] = {
    "image": ("image", "ImageMarker"),
    "audio": ("audio", "AudioMarker"),
    "text": ("text", "TextMarker"),
    "video": ("video", "VideoMarker"),
    "document": (("pdf", "PdfStampMarker"), ("office", "OfficeNoticeMarker")),  # PDF; DOCX, XLSX, PPTX
}


@dataclass
class ExplicitOptions:
    """How the explicit label is made: its text, place, font and the sizes the profile asks for."""
    text: str  # already validated against the profile's wording rule
    position: str = "bottom-right"
    font: str | None = None  # path to a font file; None: the bundled CJK subset, then system fonts
    #: sizing from the profile (a label passes if it meets any non-zero threshold)
    min_height_ratio: float = 0.05  # ink height / shortest side
    min_height_px: int = 0
    min_area_ratio: float = 0.0  # text box area / picture area (TC260 2023: 0.003)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExplicitResult:
    """The whole new file, same format as the input: bytes, or a binary file holding it from offset 0.

    A marker whose result can be as large as long media (an audible label on an hour of WAV) writes it into a
    temporary file as it goes (:func:`aigclabel._io.spool`) instead of holding it: the metadata step reads it
    from there (:meth:`open`), and :meth:`close` drops it.
    """

    output: bytes | bytearray | BinaryIO
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"box": [...], "height_ratio": 0.06}

    @property
    def data(self) -> bytes:
        """The whole new file in memory (for callers that hold bytes; the marking pipeline uses :meth:`open`)."""
        if isinstance(self.output, (bytes, bytearray)):
            return bytes(self.output)
        self.output.seek(0)
        return self.output.read()

    def open(self) -> tuple[BinaryIO, int]:
        """The result as a file positioned at 0, and its size in bytes."""
        fh = io.BytesIO(self.output) if isinstance(self.output, (bytes, bytearray)) else self.output
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        return fh, size

    def close(self) -> None:
        if not isinstance(self.output, (bytes, bytearray)):
            self.output.close()


class ExplicitMarker(Protocol):
    def supports(self, handler: FormatHandler) -> bool:
        """Whether this marker can label the handler's format (a kind may be only partly covered)."""
        ...

    def apply(self, src: CountingReader, handler: FormatHandler, options: ExplicitOptions) -> ExplicitResult:
        """Return the whole file with the explicit label added (never modifying *src*)."""
        ...


def marker_for(handler: FormatHandler) -> ExplicitMarker | None:
    """The explicit marker for the handler's format, or None if this version cannot label it."""
    entry = _BUILTIN.get(handler.kind)
    if entry is None:
        return None
    candidates = (entry,) if isinstance(entry[0], str) else entry
    for module_name, class_name in candidates:  # type: ignore[misc]
        module = importlib.import_module(f"{__name__}.{module_name}")
        marker: ExplicitMarker = getattr(module, class_name)()
        if marker.supports(handler):
            return marker
    return None


@dataclass
class PresentLabel:
    """What :func:`label_present` found: the rule's finding, and whether it is a label (a pass)."""

    finding: Finding
    how: str  # how the rule looked, e.g. "OCR of the corner and edge bands"
    summary: str  # what and where, short (e.g. "'AI生成' at bottom-right, ink height 13 px (5.4 % ...)")

    @property
    def found(self) -> bool:
        from ..report import Level

        return self.finding.level is Level.PASS

    def describe(self) -> str:
        return f"{self.how}: {self.summary}"


def _ours(trace_kind: str) -> bool:
    """A trace that marking writes beside the record (so a file with it may well show our label)."""
    return trace_kind == "iptc-digital-source-type" or trace_kind.startswith("c2pa-")


def label_present(evidence: Evidence, handler: FormatHandler, src: CountingReader,
                  profile: Profile) -> PresentLabel | None:
    """Whether the file already shows an explicit label, by the verifier's rule for its kind.

    None when nothing was looked at: the content kind has no explicit rule, or -- the cheap gate --
    the file carries no AIGC record and none of the other marks a labelling writes (an IPTC
    digital source type, a C2PA manifest): content never labelled is not decoded or OCR'd for this
    (a generator's own metadata, such as a Stable Diffusion "parameters" chunk, does not open the
    gate).  Plain text is always looked at: it has no carrier, and the check is an exact, cheap scan.
    Otherwise the rule's one finding, run with its ``PRESENT_OPTIONS``
    (bounded: the label region only, the first seconds, no OCR of PDF pages); *src* is left at 0.
    """
    from ..rules import CheckContext, get_rule

    if not (evidence.labels or evidence.kind == "text" or any(_ours(t.kind) for t in evidence.traces)):
        return None
    rule_id = f"explicit.{evidence.kind}"
    module = get_rule(rule_id)
    if module is None:
        return None
    cfg = profile.rules.get(rule_id)
    options = dict(cfg.options) if cfg is not None else dict(module.OPTIONS)
    options.update(getattr(module, "PRESENT_OPTIONS", {}))
    ctx = CheckContext(evidence=evidence, profile=profile, scope="explicit", source=src, handler=handler)
    try:
        findings = list(module.check(ctx, options))
    finally:
        src.seek(0)
    if not findings:
        return None
    finding = findings[0]
    return PresentLabel(finding, str(getattr(module, "PRESENT_HOW", rule_id)), module.summary(finding))
