"""Which pixels of the label box show the label, frame after frame of an animation.

Animated pictures are rewritten frame by frame: a frame whose rectangle does not touch the label
box keeps its bytes; the others get the label drawn into them.  Every frame's timing, disposal and
position stay as they were, so the frame count, durations and loop are exactly the source's.  The
label must be visible on *every* displayed frame, so the marker follows what each frame's disposal
does to the label box: where an earlier frame's disposal cleared the label and the next frame does
not cover it, that frame's rectangle is grown to the label box, the new area transparent (it shows
what was there) except the label.
"""

from __future__ import annotations

from PIL import Image, ImageChops

__all__ = ["LabelState"]


class LabelState:
    """Which pixels of the label box show the label on the canvas, frame after frame."""

    def __init__(self, box: tuple[int, int, int, int]) -> None:
        self.box = box
        self.size = (box[2] - box[0], box[3] - box[1])
        self.shown = Image.new("1", self.size, 0)

    def _rect_mask(self, rect: tuple[int, int, int, int]) -> Image.Image:
        m = Image.new("1", self.size, 0)
        x0, y0 = max(rect[0], self.box[0]) - self.box[0], max(rect[1], self.box[1]) - self.box[1]
        x1, y1 = min(rect[2], self.box[2]) - self.box[0], min(rect[3], self.box[3]) - self.box[1]
        if x1 > x0 and y1 > y0:
            m.paste(255, (x0, y0, x1, y1))
        return m

    def missing_outside(self, rect: tuple[int, int, int, int]) -> bool:
        """Would pixels of the box outside *rect* lack the label while this frame shows?"""
        return _has_hole(ImageChops.logical_or(self.shown, self._rect_mask(rect)))

    def after(self, rect: tuple[int, int, int, int], clear: bool, restore: bool) -> None:
        """Update for a frame drawn over *rect* (label inside it), then disposed (clear/restore)."""
        if restore:
            return  # restore-to-previous: the box shows what it showed before this frame
        drawn = ImageChops.logical_or(self.shown, self._rect_mask(rect))
        if clear:
            drawn = ImageChops.logical_and(drawn, ImageChops.invert(self._rect_mask(rect)))
        self.shown = drawn


def _has_hole(mask: Image.Image) -> bool:
    return mask.convert("L").point([255] + [0] * 255).getbbox() is not None
