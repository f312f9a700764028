"""Explicit (perceivable) labels: the marking pipeline's explicit step, one module per content kind.

Marking runs Profile + label -> plan -> **explicit step** -> metadata step -> signing step.  An
explicit marker takes the open source and returns the whole new file with the visible/audible
label added; the metadata step then writes the implicit record into that result.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .._io import CountingReader
    from ..formats.base import FormatHandler

__all__ = ["ExplicitOptions", "ExplicitResult", "ExplicitMarker", "marker_for", "POSITIONS"]

#: where an image/video label may go: the corners and edges the rules allow
POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "bottom", "top", "left", "right")

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
    data: bytes  # the whole new file, same format as the input
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"box": [...], "height_ratio": 0.06}


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
