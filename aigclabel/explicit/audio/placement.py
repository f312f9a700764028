"""Where a prompt goes: the quiet point near the middle, and the request handed to the container.

The container (``handler.audio_access(src).insert(request)``) puts the prompt in; this module only
decides *what* and *where*: the prompt samples at the file's rate, the positions, and for the
middle the quietest point within :data:`MIDDLE_SEARCH_S` of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ...formats.media_audio import InsertRequest
from .prompt import PromptPlan, prompt_samples

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["quiet_point", "insert_request", "MIDDLE_SEARCH_S"]

#: the middle position moves to the quietest point within this many seconds of the middle
MIDDLE_SEARCH_S = 1.0


def quiet_point(read: Callable[[int, int], np.ndarray], frames: int, rate: int,
                search_s: float = MIDDLE_SEARCH_S) -> int:
    """A frame index near the middle where the audio is quietest: the start of the quietest 10 ms
    block within *search_s* of the middle, moved to its smallest sample.  *read(start, count)*
    returns mono samples; only the searched region is read."""
    import numpy as np

    mid = frames // 2
    reach = int(min(search_s * rate, frames * 0.1))
    if reach < rate // 100 * 2:
        return mid
    start = mid - reach
    x = read(start, 2 * reach)
    blk = max(1, rate // 100)
    nb = len(x) // blk
    if nb == 0:
        return mid
    energy = (x[:nb * blk].reshape(nb, blk) ** 2).mean(axis=1)
    # prefer the block nearest the middle among (almost) equally quiet ones
    dist = np.abs(np.arange(nb) * blk + blk // 2 - reach) / max(1, reach)
    best = int(np.argmin(energy * (1 + 0.05 * dist) + 1e-12 * dist))
    seg = x[best * blk:(best + 1) * blk]
    return start + best * blk + int(np.argmin(np.abs(seg)))


def insert_request(plan: PromptPlan) -> InsertRequest:
    """The container-neutral request for *plan*: prompt samples at any rate, positions, quiet middle."""
    return InsertRequest(positions=plan.positions, prompt=lambda rate: prompt_samples(plan, rate),
                         lead_s=plan.lead_s, trail_s=plan.trail_s, middle=quiet_point)
