"""Finding a font that can draw the label text — every glyph, never an empty box.

Lookup order for a label text:

1. the font the caller names (``--font PATH``; a ``.ttc`` collection picks its Simplified Chinese face);
2. the bundled subset of Noto Sans CJK SC (``fonts/``), when it has every character;
3. a system font that has every character: fontconfig (``fc-list``) first, then well-known paths
   of common CJK fonts on Linux, macOS and Windows;
4. otherwise :class:`~aigclabel.errors.LabelError` naming the missing characters.

Coverage is read from the font's own ``cmap`` table (a small reader below, so the core needs no
fontTools); a character mapped to glyph 0 (``.notdef``, the "tofu" box) counts as missing.
"""

from __future__ import annotations

import functools
import os
import shutil
import struct
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from ..errors import LabelError

__all__ = ["FontChoice", "BUNDLED_FONT", "resolve_font", "missing_glyphs", "font_coverage", "system_fonts"]

BUNDLED_FONT = Path(__file__).with_name("fonts") / "NotoSansCJKsc-Regular-subset.otf"
BUNDLED_NAME = "Noto Sans CJK SC Regular (bundled subset)"

#: common CJK fonts, tried when fontconfig is not available (paths of Debian/Fedora/Arch packages,
#: macOS and Windows system fonts)
KNOWN_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-vf-fonts/NotoSansCJK-VF.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\simhei.ttf",
    "C:\\Windows\\Fonts\\simsun.ttc",
)
_SIMPLIFIED_HINTS = (" SC", "CJK SC", "CN", "GB", "Hans", "Simplified", "YaHei", "Hei", "PingFang SC")


@dataclass(frozen=True)
class FontChoice:
    """The font a label is drawn in, and where it came from (an option, the bundled subset, the system)."""
    path: str
    index: int  # face index inside a collection (.ttc), 0 otherwise
    name: str  # "family style" as the font names itself
    source: str  # "option" | "bundled" | "system"

    def describe(self) -> str:
        where = "bundled subset" if self.source == "bundled" else self.path
        return f"{self.name} ({where})" if self.source != "bundled" else self.name


# ------------------------------------------------------------------------------------------ cmap


def _u16(b: bytes, o: int) -> int:
    return struct.unpack_from(">H", b, o)[0]


def _u32(b: bytes, o: int) -> int:
    return struct.unpack_from(">I", b, o)[0]


def _read_at(fh: BinaryIO, offset: int, n: int) -> bytes:
    fh.seek(offset)
    data = fh.read(n)
    if len(data) != n:
        raise ValueError("truncated font file")
    return data


def _face_offsets(fh: BinaryIO) -> list[int]:
    head = _read_at(fh, 0, 12)
    if head[:4] == b"ttcf":
        count = _u32(head, 8)
        if not 0 < count <= 256:
            raise ValueError("bad font collection header")
        return list(struct.unpack(f">{count}I", _read_at(fh, 12, 4 * count)))
    if head[:4] in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
        return [0]
    raise ValueError("not a TrueType/OpenType font")


def _cmap_table(fh: BinaryIO, face_offset: int) -> bytes:
    head = _read_at(fh, face_offset, 12)
    num_tables = _u16(head, 4)
    directory = _read_at(fh, face_offset + 12, 16 * num_tables)
    for i in range(num_tables):
        tag, _checksum, offset, length = struct.unpack_from(">4sIII", directory, 16 * i)
        if tag == b"cmap":
            return _read_at(fh, offset, length)
    raise ValueError("font has no cmap table")


def _subtable_chars(cmap: bytes, off: int) -> set[int]:
    """Code points mapped to a real glyph (not glyph 0) by one cmap subtable."""
    fmt = _u16(cmap, off)
    chars: set[int] = set()
    if fmt == 4:
        segx2 = _u16(cmap, off + 6)
        ends, starts = off + 14, off + 16 + segx2
        deltas, ranges = starts + segx2, starts + 2 * segx2
        for s in range(segx2 // 2):
            end, start = _u16(cmap, ends + 2 * s), _u16(cmap, starts + 2 * s)
            delta, range_off = _u16(cmap, deltas + 2 * s), _u16(cmap, ranges + 2 * s)
            for c in range(start, min(end, 0xFFFE) + 1):
                if range_off == 0:
                    glyph = (c + delta) & 0xFFFF
                else:
                    at = ranges + 2 * s + range_off + 2 * (c - start)
                    glyph = _u16(cmap, at) if at + 2 <= len(cmap) else 0
                    if glyph:
                        glyph = (glyph + delta) & 0xFFFF
                if glyph:
                    chars.add(c)
    elif fmt in (12, 13):
        groups = _u32(cmap, off + 12)
        for g in range(groups):
            start, end, glyph = struct.unpack_from(">III", cmap, off + 16 + 12 * g)
            if fmt == 13:
                if glyph:
                    chars.update(range(start, end + 1))
            else:
                first = start if glyph else start + 1  # only the first code of a group can map to 0
                chars.update(range(first, end + 1))
    elif fmt == 6:
        first, count = _u16(cmap, off + 6), _u16(cmap, off + 8)
        chars.update(first + i for i in range(count) if _u16(cmap, off + 10 + 2 * i))
    elif fmt == 0:
        chars.update(i for i in range(256) if cmap[off + 6 + i])
    return chars


def _best_unicode_chars(cmap: bytes) -> set[int]:
    """The characters of the Unicode subtable FreeType would select (full-repertoire tables first)."""
    n = _u16(cmap, 2)
    records = [struct.unpack_from(">HHI", cmap, 4 + 8 * i) for i in range(n)]
    formats = {(p, e): _u16(cmap, off) for p, e, off in records}
    offsets = {(p, e): off for p, e, off in records}
    for key in ((3, 10), (0, 6), (0, 4)):
        if key in offsets and formats[key] in (12, 13):
            return _subtable_chars(cmap, offsets[key])
    for key in ((3, 1), (0, 3), (0, 2), (0, 1), (0, 0), (3, 0)):
        if key in offsets:
            return _subtable_chars(cmap, offsets[key])
    return set()


@functools.lru_cache(maxsize=64)
def _coverage_cached(path: str, index: int, _mtime: float) -> frozenset[int]:
    with open(path, "rb") as fh:
        faces = _face_offsets(fh)
        if not 0 <= index < len(faces):
            raise ValueError(f"no face {index} in the collection (it has {len(faces)})")
        return frozenset(_best_unicode_chars(_cmap_table(fh, faces[index])))


def font_coverage(path: str | os.PathLike, index: int = 0) -> frozenset[int]:
    """Every code point the font maps to a real glyph; ``ValueError`` if it is not a readable font."""
    p = os.fspath(path)
    try:
        mtime = os.stat(p).st_mtime
    except OSError as exc:
        raise ValueError(f"cannot read font {p}: {exc.strerror}") from None
    try:
        return _coverage_cached(p, index, mtime)
    except (struct.error, IndexError) as exc:
        raise ValueError(f"{p}: not a readable font ({exc})") from None


def _needed(text: str) -> list[str]:
    """The characters that must have glyphs (control and format characters are not drawn)."""
    seen: dict[str, None] = {}
    for ch in text:
        if unicodedata.category(ch) not in ("Cc", "Cf"):
            seen.setdefault(ch, None)
    return list(seen)


def missing_glyphs(path: str | os.PathLike, text: str, index: int = 0) -> list[str]:
    cover = font_coverage(path, index)
    return [ch for ch in _needed(text) if ord(ch) not in cover]


def describe_missing(chars: Iterable[str]) -> str:
    chars = list(chars)
    return f"'{''.join(chars)}' ({', '.join(f'U+{ord(c):04X}' for c in chars)})"


# ------------------------------------------------------------------------------------------ faces


def face_count(path: str) -> int:
    with open(path, "rb") as fh:
        return len(_face_offsets(fh))


def face_name(path: str, index: int = 0) -> str:
    from PIL import ImageFont

    try:
        family, style = ImageFont.truetype(path, 12, index=index).getname()
    except OSError:
        return Path(path).stem
    return f"{family or Path(path).stem} {style or ''}".strip()


def _face_score(name: str) -> int:
    score = 0
    if any(h in name for h in _SIMPLIFIED_HINTS):
        score += 4
    if "Sans" in name or "Hei" in name:
        score += 2
    if "Mono" not in name:
        score += 1
    if "Bold" not in name and "Black" not in name and "Light" not in name and "Thin" not in name:
        score += 1
    return score


def pick_face(path: str, text: str) -> tuple[int, list[str]]:
    """The face of *path* to use for *text*: covering faces first, Simplified Chinese preferred.

    Returns (index, missing characters of that face).
    """
    try:
        n = face_count(path)
    except (OSError, ValueError):
        return 0, []  # let Pillow report the unreadable file
    best: tuple[tuple[int, int, int], int, list[str]] | None = None
    for i in range(n):
        try:
            missing = missing_glyphs(path, text, i)
        except ValueError:
            continue
        key = (-len(missing), _face_score(face_name(path, i)) if n > 1 else 0, -i)
        if best is None or key > best[0]:
            best = (key, i, missing)
    if best is None:
        return 0, []
    return best[1], best[2]


# ------------------------------------------------------------------------------------------ system


def _fontconfig_candidates(text: str) -> list[tuple[str, int, str]]:
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    charset = " ".join(f"{ord(c):x}" for c in _needed(text) if c != " ")
    try:
        proc = subprocess.run([exe, "--format", "%{file}\t%{index}\t%{family[0]} %{style[0]}\n",
                               f":scalable=true:charset={charset}"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] and parts[1].isdigit():
            out.append((parts[0], int(parts[1]), parts[2].strip()))
    return out


@functools.lru_cache(maxsize=32)
def _system_fonts(chars: str) -> tuple[tuple[str, int, str], ...]:
    found: list[tuple[str, int, str]] = []
    seen: set[tuple[str, int]] = set()
    candidates = _fontconfig_candidates(chars)
    for path in KNOWN_PATHS:
        if os.path.isfile(path):
            try:
                n = face_count(path)
            except (OSError, ValueError):
                continue
            candidates += [(path, i, face_name(path, i)) for i in range(n)]
    for path, index, name in candidates:
        if (path, index) in seen:
            continue
        seen.add((path, index))
        try:
            if missing_glyphs(path, chars, index):
                continue
        except ValueError:
            continue
        found.append((path, index, name))
    found.sort(key=lambda f: (-_face_score(f[2]), f[0], f[1]))
    return tuple(found)


def system_fonts(text: str) -> list[FontChoice]:
    """Installed fonts that have every character of *text*, best first (Simplified Chinese sans)."""
    chars = "".join(sorted(_needed(text)))
    return [FontChoice(p, i, n, "system") for p, i, n in _system_fonts(chars)]


# ------------------------------------------------------------------------------------------ lookup


def resolve_font(text: str, font: str | os.PathLike | None = None, *, use_system: bool = True) -> FontChoice:
    """The font to draw *text* with, following the module's lookup order.

    Raises :class:`LabelError` naming the characters no usable font has ("glyphs missing for ...").
    """
    if font is not None:
        path = os.fspath(font)
        if not os.path.isfile(path):
            raise LabelError(f"font {path}: no such file")
        index, missing = pick_face(path, text)
        try:
            missing = missing_glyphs(path, text, index)
        except ValueError as exc:
            raise LabelError(f"font {path} cannot be used: {exc}") from None
        if missing:
            raise LabelError(f"font {path}: glyphs missing for {describe_missing(missing)}; "
                             "choose a font that has them (or omit --font to search the system)")
        return FontChoice(path, index, face_name(path, index), "option")
    bundled_missing = missing_glyphs(BUNDLED_FONT, text)
    if not bundled_missing:
        return FontChoice(str(BUNDLED_FONT), 0, BUNDLED_NAME, "bundled")
    if use_system:
        found = system_fonts(text)
        if found:
            return found[0]
    where = "the bundled font" + (" or any installed font" if use_system else "")
    raise LabelError(f"glyphs missing for {describe_missing(bundled_missing)} in {where}; install a CJK "
                     "font that has them (e.g. Debian fonts-noto-cjk) or pass --font PATH")
