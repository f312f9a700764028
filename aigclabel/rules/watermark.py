"""An imperceptible watermark in the content itself.

No watermark detector exists in this version, so the requirement is always *not checked*: as a
mandatory requirement (EU Code of Practice) it makes the verdict inconclusive; where watermarks are
only encouraged (the Chinese Measures, Art. 5) the profile gives it level ``info``.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.watermark"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "an imperceptible watermark marks the content (no detector yet: not checked)"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    yield Finding(ID, Level.NOT_CHECKED, "not checked: aigclabel has no watermark detector, so an imperceptible "
                  "watermark in the content could not be looked for", expected="an imperceptible watermark")
