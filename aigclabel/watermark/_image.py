"""The image watermark itself: a spread-spectrum mark in the mid-band DCT of a fixed-size luma copy.

Embedding
  1. the picture's luma is resized (box filter) to a *working picture* whose short side is
     :data:`WORK_SHORT` pixels, whatever the picture's size;
  2. in each 8x8 block of that working picture, :data:`N_COEFS` mid-band DCT coefficients each carry one
     chip of one payload bit: ``+alpha * chip * bit`` (bit = +-1); which bit and which chip sign a
     coefficient gets comes from a table seeded by the pattern key (:func:`_tables`), indexed by the
     block's row and column, so a one-block change of the grid after a resize drops a column instead of
     shifting every bit;
  3. the change (a residual at the working size) is inverse-transformed, scaled up bilinearly to the
     picture's size and added to R, G and B alike (which adds it to the luma and leaves the colour).

Detection resizes any picture to the same working size - so a rescaled copy lines up again - and
correlates each bit's coefficients with its chips; the sign is the bit, and the correlation over its
own energy is a z-score that is about N(0, 1) on a picture without this mark (:func:`read_bits`).

Why this shape: the work is done at 256 pixels, so a 12 MP picture costs a resize and an addition of
a smooth residual, not a transform of 12 million pixels; the mark lives in frequencies a JPEG or WebP
encoder keeps and a downscale keeps; contrast scales every coefficient (signs kept) and brightness
moves only the DC term. A crop moves the grid: it is not survived (measured in bench/bench_watermark.py).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["WORK_SHORT", "MIN_SIDE", "N_BITS", "embed_bits", "read_bits", "working_size", "luma"]

#: the short side of the working picture (pixels)
WORK_SHORT = 256
#: pictures smaller than this on their short side are not marked: the working picture would be an
#: upscale, and its mid band would land above what the picture itself can hold
MIN_SIDE = WORK_SHORT
#: payload length the tables are built for
N_BITS = 64
_B = 8
#: mid-band coefficients: 3 <= u + v <= 6 in an 8x8 block (22 of them), kept by JPEG at q >= 50
_BAND = [(u, v) for u in range(_B) for v in range(_B) if 3 <= u + v <= 6]
N_COEFS = len(_BAND)
#: the pattern tables cover this many block rows and columns; larger grids wrap around
_TABLE = 128
#: chip amplitude at the working size (8-bit luma scale, orthonormal DCT): ~41-42 dB PSNR on the picture
ALPHA = 4.5


def _dct_matrix() -> np.ndarray:
    n = np.arange(_B)
    m = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * _B)) * np.sqrt(2 / _B)
    m[0] /= np.sqrt(2)
    return m.astype(np.float64)


_D = _dct_matrix()
_U = np.array([u for u, _ in _BAND])
_V = np.array([v for _, v in _BAND])


@lru_cache(maxsize=4)
def _tables(pattern_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(chip signs, bit index), each ``(_TABLE, _TABLE, N_COEFS)``, from *pattern_key*.

    Every bit gets the same share of each block's coefficients (a block holds 22 chips of 22 different
    bits in a keyed order), so a part of the picture lost to clipping or a flat area costs every bit alike.
    """
    seed = int.from_bytes(hashlib.sha256(b"aigclabel-watermark-pattern\x00" + pattern_key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    chips = rng.integers(0, 2, size=(_TABLE, _TABLE, N_COEFS), dtype=np.int8) * 2 - 1
    start = rng.integers(0, N_BITS, size=(_TABLE, _TABLE, 1))
    order = np.argsort(rng.random((_TABLE, _TABLE, N_COEFS)), axis=2)
    bits = (start + order) % N_BITS
    return chips.astype(np.float64), bits.astype(np.intp)


def working_size(size: tuple[int, int]) -> tuple[int, int]:
    """The working picture's (width, height) for a picture of *size*: short side :data:`WORK_SHORT`."""
    w, h = size
    if w <= h:
        return WORK_SHORT, max(WORK_SHORT, round(WORK_SHORT * h / w))
    return max(WORK_SHORT, round(WORK_SHORT * w / h)), WORK_SHORT


def luma(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """The picture's luma at *size* (box filter), float64, 0..255."""
    from PIL import Image as _Image

    grey = im.convert("L") if im.mode != "L" else im
    return np.asarray(grey.resize(size, _Image.Resampling.BOX), dtype=np.float64)


def _blocks(y: np.ndarray) -> np.ndarray:
    """(rows, cols, 8, 8) blocks of *y* (its right and bottom remainders left out)."""
    hb, wb = y.shape[0] // _B, y.shape[1] // _B
    return y[:hb * _B, :wb * _B].reshape(hb, _B, wb, _B).swapaxes(1, 2)


def _grid_tables(pattern_key: bytes, hb: int, wb: int) -> tuple[np.ndarray, np.ndarray]:
    chips, bits = _tables(pattern_key)
    rows, cols = np.arange(hb) % _TABLE, np.arange(wb) % _TABLE
    return chips[rows[:, None], cols[None, :]], bits[rows[:, None], cols[None, :]]


def embed_bits(im: Image.Image, bits: np.ndarray, pattern_key: bytes, alpha: float = ALPHA) -> Image.Image:
    """*im* (RGB or L) with *bits* (N_BITS values, 0/1) marked in; the same mode and size."""

    size = working_size(im.size)
    y = luma(im, size)
    blocks = _blocks(y)
    hb, wb = blocks.shape[:2]
    chips, index = _grid_tables(pattern_key, hb, wb)
    signs = np.where(np.asarray(bits, dtype=np.int8)[index] > 0, 1.0, -1.0)
    # Informed embedding: each bit's chips also cancel the picture's own correlation with them, so the
    # picture does not add to or subtract from the bit (host interference is most of the error otherwise).
    coefs = (_D @ blocks @ _D.T)[:, :, _U, _V]
    flat = index.ravel()
    host = (np.bincount(flat, weights=(coefs * chips).ravel(), minlength=N_BITS)
            / np.maximum(np.bincount(flat, minlength=N_BITS), 1))
    delta = np.zeros((hb, wb, _B, _B))
    delta[:, :, _U, _V] = chips * (alpha * signs - host[index])
    spatial = _D.T @ delta @ _D  # inverse DCT of each block
    residual = np.zeros((size[1], size[0]))
    residual[:hb * _B, :wb * _B] = spatial.swapaxes(1, 2).reshape(hb * _B, wb * _B)
    return add_residual(im, residual)


def add_residual(im: Image.Image, residual: np.ndarray) -> Image.Image:
    """*im* plus *residual* (working size, luma units) scaled up bilinearly, on R, G and B alike.

    The scale-up makes a smooth residual, so the mark sits where the working picture's mid band lands
    and a later downscale finds it again.  All full-size work is Pillow's (8-bit, in C): the residual
    travels as an 8-bit picture offset by 128, and ``ImageChops.add`` removes the offset and clips.
    """
    from PIL import Image as _Image
    from PIL import ImageChops

    small = _Image.fromarray(np.clip(np.rint(residual) + 128, 0, 255).astype(np.uint8), "L")
    up = small.resize(im.size, _Image.Resampling.BILINEAR)
    if im.mode == "L":
        return ImageChops.add(im, up, 1.0, -128)
    if im.mode == "RGB":
        return ImageChops.add(im, _Image.merge("RGB", (up, up, up)), 1.0, -128)
    if im.mode == "RGBA":  # the alpha channel is left as it is
        r, g, b, a = im.split()
        rgb = ImageChops.add(_Image.merge("RGB", (r, g, b)), _Image.merge("RGB", (up, up, up)), 1.0, -128)
        return _Image.merge("RGBA", (*rgb.split(), a))
    raise ValueError(f"cannot watermark a picture in mode {im.mode}")


def read_bits(im: Image.Image, pattern_key: bytes) -> np.ndarray:
    """One z-score per payload bit (sign = the bit), about N(0, 1) each on a picture without the mark."""
    y = luma(im, working_size(im.size))
    blocks = _blocks(y)
    hb, wb = blocks.shape[:2]
    coefs = (_D @ blocks @ _D.T)[:, :, _U, _V]  # the mid band of every block's DCT
    chips, index = _grid_tables(pattern_key, hb, wb)
    flat = index.ravel()
    corr = np.bincount(flat, weights=(coefs * chips).ravel(), minlength=N_BITS)
    energy = np.bincount(flat, weights=(coefs * coefs).ravel(), minlength=N_BITS)
    return np.asarray(corr / np.sqrt(np.maximum(energy, 1e-9)))
