"""CRC-16/ARC arithmetic for the LAME tag of MP3 files (its music CRC and tag CRC).

The CRC is linear: ``crc(A + B) = shift(crc(A), |B|) ^ crc(B)``, so the CRC of spliced audio follows
from the stored CRC of the original plus the CRCs of the pieces that changed (:func:`crc_shift`,
:func:`crc_unshift`, :func:`crc_combine`), and :func:`crc16` is vectorised with numpy.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["crc16", "crc_shift", "crc_unshift", "crc_combine", "CRC_TABLE"]


def _crc_table() -> list[int]:
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def _apply(m: list[int], v: int) -> int:
    """Apply a linear map on 16-bit values, given as the images of the 16 basis bits."""
    out = 0
    i = 0
    while v:
        if v & 1:
            out ^= m[i]
        v >>= 1
        i += 1
    return out


def _compose(a: list[int], b: list[int]) -> list[int]:
    """The linear map a∘b on the 16-bit CRC state."""
    return [_apply(a, b[i]) for i in range(16)]


def _powers(one: list[int]) -> list[list[int]]:
    out = [one]
    for _ in range(40):
        out.append(_compose(out[-1], out[-1]))
    return out


@functools.lru_cache(maxsize=1)
def _zero_shifts() -> tuple[list[list[int]], list[list[int]]]:
    """Maps feeding 2**k zero bytes into the CRC register (k = 0..40), and their inverses."""
    import numpy as np

    one = [(1 << i >> 8) ^ CRC_TABLE[(1 << i) & 0xFF] for i in range(16)]
    values = np.arange(1 << 16, dtype=np.int64)
    image = np.zeros(1 << 16, dtype=np.int64)
    for i in range(16):
        image ^= np.where((values >> i) & 1 == 1, one[i], 0)
    inverse = np.empty(1 << 16, dtype=np.int64)
    inverse[image] = values  # the map is a bijection (the CRC polynomial has a constant term)
    return _powers(one), _powers([int(inverse[1 << i]) for i in range(16)])


def _shift_by(crc: int, n: int, maps: list[list[int]]) -> int:
    k = 0
    while n and crc:
        if n & 1:
            crc = _apply(maps[k], crc)
        n >>= 1
        k += 1
    return crc


def crc_shift(crc: int, n: int) -> int:
    """The CRC register after *n* more zero bytes (CRC-16/ARC is linear: crc(A+B) = shift(crc(A), |B|) ^ crc(B))."""
    return _shift_by(crc, n, _zero_shifts()[0])


def crc_unshift(crc: int, n: int) -> int:
    """The inverse of :func:`crc_shift`."""
    return _shift_by(crc, n, _zero_shifts()[1])


def crc_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    return crc_shift(crc_a, len_b) ^ crc_b


@functools.lru_cache(maxsize=1)
def _pair_table() -> Any:
    """CRC of every 2-byte message, indexed by the little-endian 16-bit word of its bytes."""
    import numpy as np

    table = np.array(CRC_TABLE, dtype=np.uint16)
    words = np.arange(1 << 16, dtype=np.uint32)
    first = table[words & 0xFF]
    shifted = (first >> 8) ^ table[first & 0xFF]  # the first byte's CRC after one more (zero) byte
    return (shifted ^ table[words >> 8]).astype(np.uint16)


_CRC_CHUNK = 1 << 20


@functools.lru_cache(maxsize=1)
def _level_tables() -> list[tuple[Any, Any]]:
    """For k = 1..20: look-up tables (low byte, high byte) of the map "append 2**k zero bytes"."""
    import numpy as np

    shifts = _zero_shifts()[0]
    basis = np.arange(256, dtype=np.int64)
    tables = []
    for k in range(1, 21):
        m = shifts[k]
        lo = np.zeros(256, dtype=np.uint16)
        hi = np.zeros(256, dtype=np.uint16)
        for bit in range(8):
            sel = ((basis >> bit) & 1) == 1
            lo[sel] ^= np.uint16(m[bit])
            hi[sel] ^= np.uint16(m[bit + 8])
        tables.append((lo, hi))
    return tables


def crc16(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0), as LAME and FFmpeg use in the LAME tag.

    Vectorised with numpy by the CRC's linearity: the CRC of every byte pair from a table, then
    neighbouring blocks combined pairwise in log2(n) rounds (one table look-up per block per round),
    1 MiB at a time.
    """
    import numpy as np

    if len(data) < 256:
        c = 0
        for b in data:
            c = (c >> 8) ^ CRC_TABLE[(c ^ b) & 0xFF]
        return c
    pairs = _pair_table()
    level_tables = _level_tables()
    crc = 0
    view = memoryview(data)
    for start in range(0, len(data), _CRC_CHUNK):
        piece = view[start:start + _CRC_CHUNK]
        buf = np.zeros(_CRC_CHUNK, dtype=np.uint8)
        buf[_CRC_CHUNK - len(piece):] = np.frombuffer(piece, np.uint8)  # leading zeros: no effect
        c = pairs[buf.view("<u2")]
        for lo, hi in level_tables:
            if len(c) == 1:
                break
            left, right = c[0::2], c[1::2]
            c = lo[left & 0xFF] ^ hi[left >> 8] ^ right
        crc = crc_combine(crc, int(c[0]), len(piece))
    return crc


