#!/usr/bin/env python3
"""Rebuild the bundled label font: a small subset of Noto Sans CJK SC Regular.

Source (exactly what the shipped file was made from):

* Debian package ``fonts-noto-cjk`` version ``1:20220127+repack1-1`` (bookworm), file
  ``/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc``, face index 2 = "Noto Sans CJK SC"
  Regular, font version 2.004 (name ID 5 "Version 2.004;hotconv 1.0.118;makeotfexe 2.5.65603").
* Licence: SIL Open Font License 1.1, text taken from ``/usr/share/doc/fonts-noto-cjk/copyright``
  (stanza ``License: SIL-1.1``) and written to ``OFL.txt`` beside the font, headed by the font's own
  copyright notice (name ID 0).

Characters kept: printable ASCII, every character of every profile's default label strings
(``image_text`` and ``text_notice`` in ``profiles/*.toml``), the platform notices and common label
words listed in :data:`EXTRA_STRINGS`, and common CJK punctuation.  The subset keeps the CFF outlines
and hinting, the default OpenType layout features and the name table (copyright, family, licence
fields).  fontTools does not touch the ``head`` timestamps (``recalc_timestamp`` is off), so the
same source and the same fontTools version give the same bytes; the script prints the SHA-256.

Run from the repository root (needs ``fonttools`` and ``fonts-noto-cjk``)::

    python3 scripts/make_font_subset.py            # writes aigclabel/explicit/fonts/
    python3 scripts/make_font_subset.py --check    # only verify the shipped subset covers the strings
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "aigclabel" / "explicit" / "fonts"
OUT_FONT = OUT_DIR / "NotoSansCJKsc-Regular-subset.otf"
OUT_LICENCE = OUT_DIR / "OFL.txt"

SOURCE_TTC = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SOURCE_FACE = 2  # Noto Sans CJK SC in the Debian OTC (0 JP, 1 KR, 2 SC, 3 TC, 4 HK)
SOURCE_FAMILY = "Noto Sans CJK SC"
DEBIAN_PACKAGE = "fonts-noto-cjk"
DEBIAN_VERSION = "1:20220127+repack1-1"
DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")

#: platform notices (Douyin tiers, creator declaration) and common words of visible labels
EXTRA_STRINGS = (
    "作品含AI生成内容",
    "疑似使用了AI生成技术，请谨慎甄别",
    "内容由AI生成",
    "可能为AI生成",
    "本内容由人工智能生成合成",
    "人工智能生成",
    "由人工智能生成",
    "标识", "合成", "生成", "人工智能", "本", "内容", "由", "图", "片", "视", "频", "音",
)
#: full-width punctuation that label texts commonly use
PUNCTUATION = "，。、：；！？（）《》“”‘’「」【】·—…　"


def profile_strings() -> list[str]:
    strings = []
    for path in sorted((ROOT / "profiles").glob("*.toml")):
        marking = tomllib.loads(path.read_text("utf-8")).get("marking", {})
        strings += [marking[key] for key in ("image_text", "text_notice") if key in marking]
    return strings


def wanted_text() -> str:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for s in (*profile_strings(), *EXTRA_STRINGS, PUNCTUATION):
        chars.update(s)
    return "".join(sorted(chars))


def licence_text() -> str:
    """The OFL 1.1 stanza of the Debian copyright file, with the deb822 continuation markup removed."""
    text = DEBIAN_COPYRIGHT.read_text("utf-8")
    m = re.search(r"^License: SIL-1\.1\n((?: .*\n?)+)", text, re.M)
    if m is None:
        raise SystemExit(f"{DEBIAN_COPYRIGHT}: no 'License: SIL-1.1' stanza with the licence text")
    lines = []
    for line in m.group(1).splitlines():
        body = line[1:]
        lines.append("" if body == "." else body)
    return "\n".join(lines).strip("\n") + "\n"


def check(font_path: Path) -> list[str]:
    from fontTools.ttLib import TTFont

    cmap = TTFont(font_path).getBestCmap()
    return [c for c in wanted_text() if ord(c) not in cmap]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check the shipped subset's coverage")
    ap.add_argument("--source", type=Path, default=SOURCE_TTC, help=f"source OTC (default {SOURCE_TTC})")
    args = ap.parse_args()
    if args.check:
        missing = check(OUT_FONT)
        print("coverage OK" if not missing else f"MISSING: {''.join(missing)!r}")
        return 1 if missing else 0

    from fontTools import subset, version as ft_version
    from fontTools.ttLib import TTFont

    try:
        installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", DEBIAN_PACKAGE],
                                   capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        installed = "unknown (not a dpkg system)"
    if installed != DEBIAN_VERSION:
        print(f"warning: {DEBIAN_PACKAGE} {installed} is installed; the shipped subset was made from "
              f"{DEBIAN_VERSION} — the output may differ", file=sys.stderr)

    probe = TTFont(args.source, fontNumber=SOURCE_FACE, lazy=True)
    family = probe["name"].getDebugName(1)
    if family != SOURCE_FAMILY:
        raise SystemExit(f"{args.source} face {SOURCE_FACE} is {family!r}, expected {SOURCE_FAMILY!r}")
    copyright_notice = probe["name"].getDebugName(0)
    font_version = probe["name"].getDebugName(5)
    probe.close()

    options = subset.Options()
    options.font_number = SOURCE_FACE
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14]  # keep copyright and licence fields
    options.name_languages = [0x0409]
    options.drop_tables += ["BASE", "VORG", "vhea", "vmtx"]  # vertical layout is never used for labels
    options.recalc_timestamp = False
    font = subset.load_font(str(args.source), options, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted_text())
    subsetter.subset(font)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(OUT_FONT), options)

    OUT_LICENCE.write_text(
        f"{copyright_notice}\n"
        f"Subset of {SOURCE_FAMILY} Regular ({font_version}) made by scripts/make_font_subset.py.\n\n"
        + licence_text(), "utf-8")

    missing = check(OUT_FONT)
    if missing:
        raise SystemExit(f"the subset lacks {''.join(missing)!r}")
    digest = hashlib.sha256(OUT_FONT.read_bytes()).hexdigest()
    print(f"wrote {OUT_FONT.relative_to(ROOT)} ({OUT_FONT.stat().st_size} bytes, "
          f"{len(wanted_text())} characters, fontTools {ft_version}) sha256 {digest}")
    print(f"wrote {OUT_LICENCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
