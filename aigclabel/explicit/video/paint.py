"""Drawing the planned label onto decoded frames: only the pixels under the plate are converted to
RGB and back, in the frame's own pixel format and colour description; the text is drawn upright for
a viewer who turns the picture by the display rotation."""

from __future__ import annotations

from typing import Any

from ..render import LabelLayout, draw_label, mean_luminance

__all__ = ["Painter", "plane_geometry", "stored_box"]


class Painter:
    """Draws the planned label onto decoded frames, touching only the pixels under the plate."""

    def __init__(self, layout: LabelLayout, rotation: int) -> None:
        self.layout = layout
        self.rotation = rotation
        self.dark: bool | None = None

    def paint(self, av: Any, frame: Any) -> Any:
        import numpy as np

        w, h = frame.width, frame.height
        box = stored_box(self.layout.box, self.rotation, (w, h))
        fmt = frame.format
        sx = max((w + p.width - 1) // p.width for p in frame.planes) if frame.planes else 1
        sy = max((h + p.height - 1) // p.height for p in frame.planes) if frame.planes else 1
        x0, y0 = box[0] - box[0] % sx, box[1] - box[1] % sy
        x1, y1 = min(w, box[2] + (-box[2]) % sx), min(h, box[3] + (-box[3]) % sy)
        region = av.VideoFrame(x1 - x0, y1 - y0, fmt.name)
        geometry = plane_geometry(frame)
        if geometry is None:
            return self._paint_whole(av, frame)
        for plane, sub, (bpp, fx, fy) in zip(frame.planes, region.planes, geometry, strict=False):
            src = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            dst = np.frombuffer(sub, np.uint8).reshape(sub.height, sub.line_size)
            rx0, rx1, ry0, ry1 = x0 // fx, x1 // fx, y0 // fy, y1 // fy
            dst[:ry1 - ry0, :(rx1 - rx0) * bpp] = src[ry0:ry1, rx0 * bpp:rx1 * bpp]
        self._copy_colour(frame, region)
        rgb = region.to_image()
        rgb = self._draw(rgb, (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0))
        back = av.VideoFrame.from_image(rgb).reformat(format=fmt.name, **self._reformat_args(frame))
        frame.make_writable()
        for plane, sub, (bpp, fx, fy) in zip(frame.planes, back.planes, geometry, strict=False):
            dst = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            src = np.frombuffer(sub, np.uint8).reshape(sub.height, sub.line_size)
            rx0, rx1, ry0, ry1 = x0 // fx, x1 // fx, y0 // fy, y1 // fy
            dst[ry0:ry1, rx0 * bpp:rx1 * bpp] = src[:ry1 - ry0, :(rx1 - rx0) * bpp]
        return frame

    def _draw(self, rgb: Any, box: tuple[int, int, int, int]) -> Any:
        """Draw onto the *box* part of *rgb* (stored orientation) as the viewer sees it."""
        from PIL import Image

        # PIL's ROTATE_90 turns counterclockwise; self.rotation is clockwise, as the viewer turns it
        turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_90}.get(self.rotation)
        undo = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_270}.get(self.rotation)
        part = rgb.crop(box)
        if turn is not None:
            part = part.transpose(turn)
        if self.dark is None:
            self.dark = mean_luminance(part) >= 0.5
        draw_label(part, self.layout, dark_plate=self.dark)
        if undo is not None:
            part = part.transpose(undo)
        rgb.paste(part, box[:2])
        return rgb

    def _paint_whole(self, av: Any, frame: Any) -> Any:
        rgb = frame.to_image()
        w, h = frame.width, frame.height
        self._draw(rgb, stored_box(self.layout.box, self.rotation, (w, h)))
        new = av.VideoFrame.from_image(rgb).reformat(format=frame.format.name, **self._reformat_args(frame))
        new.pts, new.time_base = frame.pts, frame.time_base
        self._copy_colour(frame, new)
        return new

    @staticmethod
    def _copy_colour(src: Any, dst: Any) -> None:
        for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
            try:
                setattr(dst, name, getattr(src, name))
            except (AttributeError, ValueError, TypeError):
                pass

    @staticmethod
    def _reformat_args(frame: Any) -> dict[str, Any]:
        args: dict[str, Any] = {}
        try:
            if frame.colorspace not in (None, 2):  # 2: unspecified
                args["dst_colorspace"] = frame.colorspace
            if frame.color_range:
                args["dst_color_range"] = frame.color_range
        except AttributeError:  # pragma: no cover
            pass
        return args


def plane_geometry(frame: Any) -> list[tuple[int, int, int]] | None:
    """(bytes per pixel, horizontal and vertical subsampling) of each plane, or None when the pixel
    format is not planar/semi-planar with whole-byte samples (then the whole frame is converted)."""
    fmt = frame.format
    name = fmt.name
    if any(k in name for k in ("yuyv", "uyvy", "yvyu", "bayer", "pal8", "mono", "rgb4", "bgr4", "rgb8", "bgr8",
                               "565", "555", "444be", "x2rgb", "x2bgr", "v30x", "y210", "xv3")):
        return None
    comps = list(fmt.components)
    out = []
    for i, plane in enumerate(frame.planes):
        mine = [c for c in comps if c.plane == i]
        if not mine:
            return None
        bits = max(c.bits for c in mine)
        bpp = len(mine) * ((bits + 7) // 8) if name not in ("rgb24", "bgr24", "rgba", "bgra", "argb", "abgr",
                                                              "rgb0", "bgr0", "0rgb", "0bgr") else \
            (3 if name in ("rgb24", "bgr24") else 4)
        fx = max(1, round(frame.width / max(1, plane.width)))
        fy = max(1, round(frame.height / max(1, plane.height)))
        out.append((bpp, fx, fy))
    return out


def stored_box(box: tuple[int, int, int, int], rotation: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The stored-frame box that a viewer turning the picture by *rotation* degrees clockwise sees as *box*."""
    w, h = size
    x0, y0, x1, y1 = box
    if rotation == 90:  # displayed = stored turned clockwise: displayed (u, v) <- stored (v, h - 1 - u)
        return y0, h - x1, y1, h - x0
    if rotation == 180:
        return w - x1, h - y1, w - x0, h - y0
    if rotation == 270:
        return w - y1, x0, w - y0, x1
    return box
