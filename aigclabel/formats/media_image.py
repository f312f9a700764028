"""Picture access: what the explicit step and the image rule get from an image handler.

``handler.image_access(src)`` returns one of these.  It holds the file's bytes, has already checked
the container's structure and declared sizes (so a 12 KB TIFF claiming a 4 GB strip, or a PNG
claiming 60000 x 60000 pixels, is refused here, before any pixel is decoded), and offers:

* :meth:`ImageAccess.picture` -- the first frame decoded by Pillow (``max_pixels`` and Pillow's own
  decompression-bomb limit checked on the declared size first; Pillow's exceptions translated);
* :meth:`ImageAccess.encoding` -- facts for a quality-keeping re-encode (taken before drawing);
* :meth:`ImageAccess.write_picture` -- the whole file with the picture replaced, in the same
  container, everything else kept byte for byte (see each subclass);
* for animations, the frames of the container (:mod:`._gif_bits`, :mod:`._png_bits`,
  :mod:`._webp_bits`) and a way to put redrawn frames back.

The drawing itself (planning, palettes, the label) is the explicit step's, in ``explicit/image/``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CorruptFile, LimitExceeded, UnsupportedOperation
from ..foreign import pillow_errors
from ..limits import check_pixels
from . import _gif_bits, _jpeg_bits, _png_bits, _tiff_bits, _webp_bits

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from .._io import CountingReader

__all__ = ["ImageAccess", "Rewrite", "JpegAccess", "PngAccess", "WebpAccess", "GifAccess", "TiffAccess",
           "HeifAccess", "open_picture", "read_all"]


@dataclass
class Rewrite:
    """A new file from :meth:`ImageAccess.write_picture`: its bytes, what was done, and details."""

    data: bytes
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def read_all(src: CountingReader) -> bytes:
    src.seek(0)
    return src.read()


def _bomb_guard(width: int, height: int, what: str, frames: int = 1) -> None:
    """Refuse a declared size over ``max_pixels`` or over Pillow's own decompression-bomb limit."""
    check_pixels(width, height, what, frames)
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise LimitExceeded("max_pixels", f"{what} is {width}x{height} = {width * height:,} pixels, over Pillow's "
                                          f"decompression-bomb limit of {limit:,} pixels (MAX_IMAGE_PIXELS)")


def open_picture(data: bytes, what: str, *, load: bool = True) -> Image.Image:
    """Pillow's image of *data*; the declared size is checked before a pixel is decoded."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with pillow_errors(f"reading the {what} header"):
                im = Image.open(io.BytesIO(data))
        except CorruptFile as exc:
            if isinstance(exc.__cause__, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
                raise LimitExceeded("max_pixels", f"{what} is over Pillow's decompression-bomb limit "
                                                  f"({exc.__cause__})") from None
            raise
    _bomb_guard(*im.size, what)
    if load:
        with pillow_errors(f"decoding the {what}"):
            im.load()
    return im


def exif_orientation(im: Image.Image) -> int:
    """The picture's EXIF orientation (1-8); 1 when absent or unreadable (a broken EXIF block never stops us)."""
    try:
        with pillow_errors("reading the EXIF orientation"):
            value = im.getexif().get(0x0112, 1)
    except CorruptFile:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


class ImageAccess:
    """A picture file's pixels and container, for drawing a label and for checking one."""

    format: str = ""
    #: whether write_picture() can put a redrawn picture back (False: read-only access, e.g. HEIF)
    writable: bool = True

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._header: Image.Image | None = None

    # -- facts ----------------------------------------------------------------------------------

    @property
    def animated(self) -> bool:
        return False

    def header(self) -> Image.Image:
        """The file opened by Pillow, header only (no pixel decoded); size checked against the limits."""
        if self._header is None:
            self._header = open_picture(self.data, f"{self.format.upper()} picture", load=False)
        return self._header

    @property
    def size(self) -> tuple[int, int]:
        """Stored (width, height)."""
        return self.header().size

    @property
    def frames(self) -> int:
        header = self.header()
        with pillow_errors(f"counting the {self.format.upper()} frames"):  # TIFF walks its IFD chain here
            return int(getattr(header, "n_frames", 1) or 1)

    def orientation(self) -> int:
        return exif_orientation(self.header())

    # -- pixels ---------------------------------------------------------------------------------

    def picture(self, *, draft: tuple[int, int] | None = None) -> Image.Image:
        """The first frame decoded (stored orientation); *draft* asks JPEG for a reduced decode of that size."""
        im = open_picture(self.data, f"{self.format.upper()} picture", load=False)
        if getattr(im, "n_frames", 1) > 1:
            with pillow_errors(f"seeking the first {self.format.upper()} frame"):
                im.seek(0)
        if draft is not None and im.format == "JPEG":
            with pillow_errors("choosing a reduced JPEG decode"):
                im.draft("RGB", draft)
        with pillow_errors(f"decoding the {self.format.upper()} picture"):
            im.load()
        return im

    def encoding(self, im: Image.Image) -> dict[str, Any]:
        """Facts about the source's encoding a re-encode keeps (read before the label is drawn)."""
        return {}

    def write_picture(self, im: Image.Image, box: tuple[int, int, int, int],
                      encoding: dict[str, Any] | None = None) -> Rewrite:
        """The whole file with its picture replaced by *im* (changed inside *box*, stored coordinates)."""
        raise UnsupportedOperation(f"cannot write a redrawn picture back into {self.format.upper()}")


# ------------------------------------------------------------------------------------------- JPEG


class JpegAccess(ImageAccess):
    format = "jpeg"

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        _jpeg_bits.jpeg_layout(data)  # the segment structure, checked before any decode

    def write_picture(self, im: Image.Image, box: tuple[int, int, int, int],
                      encoding: dict[str, Any] | None = None) -> Rewrite:
        out, notes, details = _jpeg_bits.jpeg_replace_picture(self.data, im)
        return Rewrite(out, notes, details)


# -------------------------------------------------------------------------------------------- PNG


class PngAccess(ImageAccess):
    """PNG and APNG: ancillary chunks kept byte for byte; APNG frames decoded and re-encoded one at a time."""

    format = "png"

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.chunks, self.end = _png_bits.png_chunks(data)
        self.width, self.height, self.bit_depth, self.colour_type = _png_bits.ihdr_facts(data, self.chunks)
        n = sum(1 for c in self.chunks if c.type == b"fcTL")
        _bomb_guard(self.width, self.height, "the PNG picture", max(1, n))

    @property
    def animated(self) -> bool:
        return any(c.type == b"acTL" for c in self.chunks)

    @property
    def ihdr(self) -> bytes:
        return _png_bits.png_payload(self.data, self.chunks[0])

    def write_picture(self, im: Image.Image, box: tuple[int, int, int, int],
                      encoding: dict[str, Any] | None = None) -> Rewrite:
        buf = io.BytesIO()
        try:
            with pillow_errors("re-encoding the PNG"):
                im.save(buf, "PNG", icc_profile=None, compress_level=6)
        except LimitExceeded:
            raise
        except CorruptFile as exc:
            raise UnsupportedOperation(f"cannot re-encode this PNG (mode {im.mode}): {exc}") from None
        out = _png_bits.png_transplant(self.data, self.chunks, self.end, buf.getvalue())
        return Rewrite(out, ["PNG re-encoded losslessly; ancillary chunks carried over unchanged"])

    # -- APNG

    def animation(self) -> Image.Image:
        """The animation opened by Pillow (frame 0 loaded); seek it for each frame's canvas."""
        im = open_picture(self.data, "APNG")
        return im

    def anim_frames(self) -> list[_png_bits.ApngFrame]:
        return _png_bits.apng_frames(self.data, self.chunks, (self.width, self.height))

    def decode_frame(self, frame: _png_bits.ApngFrame) -> Image.Image:
        """One frame's own pixels (its rectangle only), in the file's mode."""
        w, h = frame.rect[2] - frame.rect[0], frame.rect[3] - frame.rect[1]
        _bomb_guard(w, h, "an APNG frame")
        return open_picture(_png_bits.apng_frame_file(self.data, self.chunks, frame), "APNG frame")

    def frame_chunks(self, frame: _png_bits.ApngFrame, rect: tuple[int, int, int, int],
                     pixels: Image.Image) -> list[bytes]:
        """The chunks that replace *frame*, now drawn over *rect* with *pixels*."""
        stream = _png_bits.apng_encode(pixels, self.ihdr)
        return _png_bits.apng_frame_chunks(self.data, frame, rect, stream)

    def rebuild(self, replaced: dict[int, list[bytes]], palette: bytes | None) -> bytes:
        return _png_bits.apng_rebuild(self.data, self.chunks, self.end, replaced, palette)


# ------------------------------------------------------------------------------------------- WebP


class WebpAccess(ImageAccess):
    """WebP: lossless stays lossless, lossy is re-encoded at the source's estimated quality."""

    format = "webp"

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.chunks = _webp_bits.riff_chunks(data)
        if not self.chunks:
            raise CorruptFile("empty WebP file")
        first = self.chunks[0]
        self.vp8x = first.payload(data) if first.fourcc == b"VP8X" else None
        if self.vp8x is not None:
            w, h = _webp_bits.canvas_size(self.vp8x)
            _bomb_guard(w, h, "the WebP canvas", max(1, sum(c.fourcc == b"ANMF" for c in self.chunks)))

    @property
    def animated(self) -> bool:
        return self.vp8x is not None and bool(self.vp8x[0] & 0x02)

    @property
    def lossless(self) -> bool:
        return any(c.fourcc == b"VP8L" for c in self.chunks)

    def encoding(self, im: Image.Image) -> dict[str, Any]:
        vp8 = next((c for c in self.chunks if c.fourcc == b"VP8 "), None)
        quality = 100 if vp8 is None else _webp_bits.quality_or_default(vp8.payload(self.data), im)
        return {"lossless": self.lossless, "quality": quality}

    def write_picture(self, im: Image.Image, box: tuple[int, int, int, int],
                      encoding: dict[str, Any] | None = None) -> Rewrite:
        enc = encoding or {"lossless": self.lossless, "quality": 90}
        bits = _webp_bits.webp_frame_encode(im, enc["lossless"], enc["quality"])
        out = _webp_bits.webp_transplant(self.data, self.chunks, bits)
        how = "losslessly" if enc["lossless"] else f"lossy at the source's estimated quality {enc['quality']}"
        return Rewrite(out, [f"WebP re-encoded {how}; every other chunk carried over unchanged"],
                       {"lossless": enc["lossless"], "quality": None if enc["lossless"] else enc["quality"]})

    # -- animation

    @property
    def canvas(self) -> tuple[int, int]:
        assert self.vp8x is not None
        return _webp_bits.canvas_size(self.vp8x)

    @property
    def declares_alpha(self) -> bool:
        return self.vp8x is not None and bool(self.vp8x[0] & 0x10)

    def animation(self) -> Image.Image:
        return open_picture(self.data, "animated WebP")

    def anim_frames(self) -> list[_webp_bits.AnimFrame]:
        return _webp_bits.anim_frames(self.data, self.chunks)

    def decode_frame(self, frame: _webp_bits.AnimFrame) -> Image.Image:
        w, h = frame.rect[2] - frame.rect[0], frame.rect[3] - frame.rect[1]
        _bomb_guard(w, h, "a WebP frame")
        im = open_picture(_webp_bits.frame_file(frame.bits, (w, h)), "WebP frame")
        with pillow_errors("converting a WebP frame"):
            return im.convert("RGBA")

    def frame_quality(self, frame: _webp_bits.AnimFrame, own: Image.Image) -> int:
        return 100 if frame.lossless else _webp_bits.quality_or_default(frame.vp8, own)

    def frame_chunk(self, frame: _webp_bits.AnimFrame, rect: tuple[int, int, int, int], pixels: Image.Image,
                    quality: int) -> tuple[bytes, bool]:
        """(new ANMF chunk, whether its bitstream has alpha) for *frame* drawn over *rect*."""
        bits = _webp_bits.webp_frame_encode(pixels, frame.lossless, quality)
        return _webp_bits.anmf_chunk(frame, rect, bits), _webp_bits.bitstream_has_alpha(bits)

    def rebuild(self, new_frames: dict[int, bytes], any_alpha: bool) -> bytes:
        return _webp_bits.rebuild_animation(self.data, self.chunks, new_frames, any_alpha)


# -------------------------------------------------------------------------------------------- GIF


class GifAccess(ImageAccess):
    """GIF: redrawn frames put back in place, every other block kept byte for byte."""

    format = "gif"

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.layout = _gif_bits.gif_walk(data)
        if not self.layout.frames:
            raise CorruptFile("GIF has no image")
        _bomb_guard(self.layout.width, self.layout.height, "the GIF screen", len(self.layout.frames))

    @property
    def animated(self) -> bool:
        return True  # every GIF is drawn frame by frame (one frame is an animation of one)

    def palette_of(self, frame: _gif_bits.GifFrame) -> tuple[list[tuple[int, int, int]], bytes]:
        return _gif_bits.frame_palette(self.data, self.layout, frame)

    def decode_frame(self, frame: _gif_bits.GifFrame, table: bytes) -> Image.Image:
        """The frame's own palette indices (mode P), decoded by Pillow from a one-frame GIF."""
        from PIL import Image

        w, h = frame.rect[2] - frame.rect[0], frame.rect[3] - frame.rect[1]
        _bomb_guard(w, h, "a GIF frame")
        im = open_picture(_gif_bits.gif_frame_file(self.data, frame, table), "GIF frame")
        if im.mode == "P":
            return im
        if im.mode != "L":
            raise CorruptFile(f"unexpected GIF frame decoding (mode {im.mode})")
        indices = Image.new("P", im.size)  # a grey ramp palette decodes as L: the values are the indices
        indices.frombytes(im.tobytes())
        return indices

    def frame_bytes(self, frame: _gif_bits.GifFrame, rect: tuple[int, int, int, int], indices: Image.Image,
                    palette: list[tuple[int, int, int]], keep_global: bool, transparent: int | None,
                    grown: bool) -> bytes:
        lzw = _gif_bits.gif_encode_frame(indices, palette)
        return _gif_bits.gif_frame_bytes(self.data, frame, rect, lzw, palette, keep_global, transparent, grown)

    def rebuild(self, replaced: dict[int, bytes], grown: bool) -> bytes:
        """The GIF with frames in *replaced* (index -> GCE-through-image bytes) swapped in."""
        data = self.data
        parts: list[bytes] = []
        pos = 0
        for i, f in enumerate(self.layout.frames):
            if i not in replaced:
                continue
            cut = f.gce[0] if f.gce is not None else f.start
            parts.append(data[pos:cut])
            parts.append(replaced[i])
            pos = f.end
        parts.append(data[pos:])
        out = b"".join(parts)
        if grown and out[:6] == b"GIF87a":
            out = b"GIF89a" + out[6:]  # the added graphic control extensions need GIF89a
        return out


# ------------------------------------------------------------------------------------------- TIFF


class TiffAccess(ImageAccess):
    """TIFF: only the strips or tiles under the label are re-encoded, with the file's own compression."""

    format = "tiff"

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.layout = _tiff_bits.tiff_layout(data)  # structure and declared sizes, before any decode

    def orientation(self) -> int:
        return self.layout.orientation

    def picture(self, *, draft: tuple[int, int] | None = None) -> Image.Image:
        im = super().picture(draft=draft)
        if im.size != (self.layout.width, self.layout.height):
            raise CorruptFile(f"corrupt TIFF: the decoder sees {im.size[0]}x{im.size[1]} pixels, IFD0 declares "
                              f"{self.layout.width}x{self.layout.height}")
        return im

    def write_picture(self, im: Image.Image, box: tuple[int, int, int, int],
                      encoding: dict[str, Any] | None = None) -> Rewrite:
        lay = self.layout
        out, rewritten, appended = _tiff_bits.tiff_write_pieces(self.data, lay, im, box)
        check = open_picture(out, "relabelled TIFF")
        with pillow_errors("comparing the relabelled TIFF"):
            same = check.mode == im.mode and check.tobytes() == im.tobytes()
        if not same:
            raise UnsupportedOperation(f"re-encoding this TIFF's strips ({lay.compression_name}, mode {im.mode}) did "
                                       "not reproduce the picture; nothing was written")
        notes = [f"TIFF: {rewritten} of {len(lay.pieces)} {'tile' if lay.tiled else 'strip'}(s) re-encoded "
                 f"losslessly ({lay.compression_name}); every tag and all other image data kept byte for byte"]
        if appended:
            notes.append(f"{appended} re-encoded piece(s) grew and were appended; their old bytes stay in the file, "
                         "unreferenced")
        return Rewrite(out, notes, {"appended_pieces": appended})


# ------------------------------------------------------------------------------------------- HEIF


def _register_heif() -> None:
    try:
        import pillow_heif  # type: ignore[import-not-found]
    except ImportError:
        raise UnsupportedOperation("HEIF/AVIF pixels need pillow-heif (pip install 'aigclabel[heif]')") from None
    pillow_heif.register_heif_opener()


class HeifAccess(ImageAccess):
    """HEIF / HEIC / AVIF pixels through pillow-heif, for checking (no visible label is written into HEIF)."""

    format = "heif"
    writable = False

    def __init__(self, data: bytes, declared: tuple[int, int] | None) -> None:
        super().__init__(data)
        if declared is not None:
            _bomb_guard(*declared, "the HEIF primary image")  # its ispe property, before pillow-heif sees it

    def header(self) -> Image.Image:
        from ..foreign import heif_errors

        _register_heif()
        with heif_errors("reading the HEIF header"):
            return super().header()

    def picture(self, *, draft: tuple[int, int] | None = None) -> Image.Image:
        from ..foreign import heif_errors

        _register_heif()
        with heif_errors("decoding the HEIF picture"):
            return super().picture(draft=None)
