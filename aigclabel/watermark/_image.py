"""The image watermark itself: a spread-spectrum mark in the mid-band DCT of a fixed-size luma copy.

Embedding
  1. the picture's luma is resized (box filter) to a *working picture* whose short side is
     :data:`WORK_SHORT` pixels, whatever the picture's size;
  2. in each 8x8 block of that working picture, :data:`N_COEFS` mid-band DCT coefficients each carry one
     chip of one payload bit: ``+alpha * chip * bit`` (bit = +-1); which bit and which chip sign a
     coefficient gets comes from a table seeded by the pattern key (:func:`_tables`), indexed by the
     block's row and column modulo :data:`_TABLE`;
  3. the change (a residual at the working size) is inverse-transformed, scaled up bilinearly to the
     picture's size and added to R, G and B alike (which adds it to the luma and leaves the colour).

The tables repeat every :data:`_TABLE` blocks, so the mark is a tile of :data:`TILE` working pixels laid
over the picture like wallpaper.  That is what lets detection survive a crop: a crop moves the tile's
origin (any shift, not a multiple of 8) and, because the working picture is the short side at 256,
changes the scale by up to 1 / (1 - crop).  Detection (:func:`read_bits`) therefore tries a ladder of
scales (:data:`SCALES`, 1.5 % apart: the correlation keeps most of its strength within +-1 % of the true
scale), and at each one *folds* the working picture onto one tile (the sum of every tile: the same
correlation as over the whole picture, on 64 x 64 values) and correlates the fold with each bit's tile
pattern at every one of the 4096 cyclic shifts at once (one FFT per bit).  The shift where the 64 bits'
correlations carry the most energy is the tile's origin; its correlations over their spread across
shifts are z-scores about N(0, 1) on a picture without this mark, and the sign is the bit.  The first
scale whose word passes the check ends the search (scale 1 first: an uncropped or rescaled copy).

Why this shape: the work is done at 256 pixels, so a 12 MP picture costs a resize and an addition of
a smooth residual, not a transform of 12 million pixels; the mark lives in frequencies a JPEG or WebP
encoder keeps and a downscale keeps; contrast scales every coefficient (signs kept) and brightness
moves only the DC term; a crop of up to 25 % of a side is searched for (scale and shift).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

__all__ = ["WORK_SHORT", "MIN_SIDE", "N_BITS", "TILE", "SCALES", "embed_bits", "read_bits", "working_size",
           "luma"]

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
#: the pattern tables cover this many block rows and columns and wrap around: the mark is a periodic tile
_TABLE = 8
#: the tile's side in working pixels
TILE = _TABLE * _B
#: the scales detection tries, in this order: the working picture of a crop that kept a share k of the
#: picture's short side is 1 / k too large, so 1 (uncropped, or rescaled as a whole) up to 1.37 (a crop
#: of 27 % of the short side), 1.5 % apart
SCALES = tuple(1.015 ** k for k in range(22))
#: the width of the moving mean detection takes out before folding: the band starts at 3/16 cycle a pixel
_SMOOTH = 9
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

    Every bit gets the same share of each tile's coefficients (a block holds 22 chips of 22 different
    bits in a keyed order), so a part of the picture lost to clipping or a flat area costs every bit alike.
    """
    seed = int.from_bytes(hashlib.sha256(b"aigclabel-watermark-pattern\x00" + pattern_key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    chips = rng.integers(0, 2, size=(_TABLE, _TABLE, N_COEFS), dtype=np.int8) * 2 - 1
    # Block k of the tile (in a keyed order) holds bits 22k .. 22k + 21 (mod 64): over the tile's 64 blocks
    # every bit gets exactly 22 chips.
    start = (rng.permutation(_TABLE * _TABLE).reshape(_TABLE, _TABLE, 1) * N_COEFS) % N_BITS
    order = np.argsort(rng.random((_TABLE, _TABLE, N_COEFS)), axis=2)
    bits = (start + order) % N_BITS
    return chips.astype(np.float64), bits.astype(np.intp)


#: bytes reading or embedding holds per working pixel at its peak (read_bits measured ~45 with tracemalloc)
_WORK_BYTES = 64


def working_size(size: tuple[int, int]) -> tuple[int, int]:
    """The working picture's (width, height) for a picture of *size*: short side :data:`WORK_SHORT`."""
    w, h = size
    if w <= h:
        return WORK_SHORT, max(WORK_SHORT, round(WORK_SHORT * h / w))
    return max(WORK_SHORT, round(WORK_SHORT * w / h)), WORK_SHORT


def _checked_working_size(size: tuple[int, int]) -> tuple[int, int]:
    """:func:`working_size`, refused (``max_allocation``) before any array exists when the working picture would
    not fit: its long side grows with the picture's aspect ratio, so a 256x65728 strip (a fuzzed PNG header)
    would take a 16.8-megapixel working picture and ~0.8 GB of arrays."""
    from ..limits import check_memory

    w, h = working_size(size)
    check_memory(w * h * _WORK_BYTES, f"the watermark's working picture would be {w}x{h} for a {size[0]}x{size[1]} "
                                      "picture, which")
    return w, h


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

    size = _checked_working_size(im.size)
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


@lru_cache(maxsize=4)
def _tile_spectra(pattern_key: bytes) -> np.ndarray:
    """The conjugate 2-D spectrum of each bit's tile pattern, ``(N_BITS, TILE, TILE // 2 + 1)`` complex64.

    A bit's pattern is what :func:`embed_bits` adds for it over one tile (its chips on their DCT bases),
    so correlating a fold with it at a shift is reading the bit with the tile's origin there.
    """
    chips, bits = _tables(pattern_key)
    basis = np.einsum("cy,cx->cyx", _D[_U], _D[_V])  # (N_COEFS, 8, 8): each band coefficient's DCT basis
    pattern = np.zeros((N_BITS, _TABLE, _TABLE, _B, _B))
    for c in range(N_COEFS):
        np.add.at(pattern, (bits[:, :, c], *np.indices((_TABLE, _TABLE))), chips[:, :, c, None, None] * basis[c])
    tile = pattern.swapaxes(2, 3).reshape(N_BITS, TILE, TILE).astype(np.float32)
    return np.conj(np.fft.rfft2(tile)).astype(np.complex64)


def _fold(y: np.ndarray) -> np.ndarray:
    """*y* summed onto one tile (cell (i, j) gets every pixel at (i, j) modulo TILE), its mean taken out.

    The mean is taken out per pixel before summing: cells at the edge of a picture that is not a whole
    number of tiles hold fewer pixels, and a picture's mean would otherwise print that as a pattern.
    """
    h, w = y.shape
    padded = np.zeros((-(-h // TILE) * TILE, -(-w // TILE) * TILE), dtype=np.float32)
    padded[:h, :w] = y - y.mean()
    return padded.reshape(padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE).sum(axis=(0, 2))


def _box(y: np.ndarray, axis: int) -> np.ndarray:
    """A moving mean of :data:`_SMOOTH` pixels along *axis* (edges repeated)."""
    r = _SMOOTH // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(y, pad, mode="edge"), axis=axis, dtype=np.float64)
    hi = np.take(c, np.arange(_SMOOTH, c.shape[axis]), axis=axis)
    lo = np.take(c, np.arange(0, c.shape[axis] - _SMOOTH), axis=axis)
    return np.asarray((hi - lo) / _SMOOTH, dtype=np.float32)


def _whiten(y: np.ndarray) -> np.ndarray:
    """*y* without what the mark is not: its smooth part (under the band), and the tails of its edges.

    The smooth part would not survive the fold: a gradient folded onto a tile is a saw with a step at the
    tile's edge, a step has energy in the band, and it would read as bits at every shift.  Edges (text on
    white) are the picture's, far louder than the mark: clipping at a few robust deviations keeps them
    from choosing the shift (a detector for heavy-tailed noise).
    """
    high = y - _box(_box(y, 0), 1)
    bound = max(2.0, 3 * 1.4826 * float(np.median(np.abs(high))))
    return np.clip(high, -bound, bound)


def _read_at(y: np.ndarray, spectra: np.ndarray) -> tuple[float, np.ndarray]:
    """(energy, z) at the best shift of the whitened working picture *y*."""
    corr = np.fft.irfft2(np.fft.rfft2(_fold(y))[None] * spectra, s=(TILE, TILE)).reshape(N_BITS, -1)
    # Each bit's correlation over its spread across the 4096 shifts: about N(0, 1) without the mark
    # (the true shift is one of 4096, so the mark hardly moves the spread).
    z = corr / np.maximum(corr.std(axis=1, keepdims=True), 1e-9)
    energy = (z * z).sum(axis=0)  # chi-square with 64 degrees of freedom at a shift without the mark
    best = int(energy.argmax())
    return float(energy[best]), np.asarray(z[:, best], dtype=np.float64)


def read_bits(im: Image.Image, pattern_key: bytes, accept: Callable[[np.ndarray], bool] | None = None) -> np.ndarray:
    """One z-score per payload bit (sign = the bit), about N(0, 1) each on a picture without the mark.

    The scale and shift are searched for (see the module's docstring): the z-scores of the first scale
    whose reading *accept* takes (default: the word passes its check, :func:`aigclabel.watermark.decode_z`),
    else those of the scale with the most energy.

    False positives: each scale tried is one more word read from an unmarked picture, and the shift
    chosen at a scale is the one whose bits are the largest, not the one whose word passes the check -
    on an unmarked picture the signs at any shift are fair coins whatever their size, so each word still
    passes the 24-bit version + check (64 Chase candidates) with a chance of 64 / 2^24 = 3.8e-6.  Over the
    22 scales that is 8.4e-5 per picture, under the 1e-3 target with room; the distance test of
    ``Detection.matches`` (2e-7 a word) likewise becomes 4.4e-6.
    """
    if accept is None:
        from . import decode_z

        def accept(z: np.ndarray) -> bool:
            return decode_z(z).found

    from PIL import Image as _Image

    width, height = _checked_working_size(im.size)
    # Whitened once at scale 1; the other scales are this float picture made smaller (a linear filter and
    # a downscale of at most 1.37 nearly commute), which is a tenth of the cost of a resize and a whitening
    # of the decoded picture at every scale.
    white = _whiten(luma(im, (width, height)).astype(np.float32))
    base = _Image.fromarray(white, "F")
    spectra = _tile_spectra(pattern_key)
    best: tuple[float, np.ndarray] | None = None
    for scale in SCALES:
        size = (max(TILE, round(width / scale)), max(TILE, round(height / scale)))
        y = white if size == base.size else np.asarray(base.resize(size, _Image.Resampling.BILINEAR))
        energy, z = _read_at(y, spectra)
        if accept(z):
            return z
        if best is None or energy > best[0]:
            best = (energy, z)
    assert best is not None
    return best[1]
