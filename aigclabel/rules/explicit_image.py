"""A visible text label at an edge or corner of the image, tall enough (checked by OCR)."""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "explicit.image"
SCOPE = "explicit"
KINDS = frozenset({"image"})
OPTIONS: dict[str, Any] = {"min_height_ratio": 0.05, "min_height_px": 0, "min_area_ratio": 0.0}
DESCRIPTION = "visible text label with both elements at an edge or corner, tall enough"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    # Detecting a visible label needs OCR, which this version does not ship: report it honestly.
    yield Finding(ID, Level.NOT_CHECKED,
                  "the visible (explicit) label could not be checked: visible-label detection for images "
                  "is not available in this version",
                  expected=f"text label, ink height >= {options['min_height_ratio']:.0%} of the shortest side")
