"""``aigclabel clean DIR``: remove the temporary files and directories a killed run left behind.

Only names aigclabel itself creates are considered (:func:`aigclabel._io.temp_patterns`), and of
those only the ones older than ``--older-than`` whose owning process (when the name records it) is
gone: a write in progress is never removed, and nothing else is ever touched.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import click

from aigclabel._io import temp_owner

from ._common import dump_json, guarded

EPILOG = """\b
Examples:
  aigclabel clean labelled/
  aigclabel clean -r /data/out --older-than 1d --dry-run
  aigclabel clean /tmp --older-than 30m --json
"""

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)


def parse_age(text: str) -> float:
    """``90`` (seconds), ``30s``, ``15m``, ``1h``, ``2d`` -> seconds."""
    match = _AGE.fullmatch(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not an age such as 30m, 1h or 2d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2).lower()]
    return float(match.group(1)) * unit


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@dataclass
class CleanResult:
    """What `aigclabel clean` removed, kept (still being written, or too young) and could not remove."""
    removed: list[str] = field(default_factory=list)
    kept_live: list[str] = field(default_factory=list)  # ours, but the owning process still runs
    kept_young: list[str] = field(default_factory=list)  # ours, but newer than --older-than
    failed: list[dict[str, str]] = field(default_factory=list)
    bytes: int = 0

    def to_dict(self, dry_run: bool) -> dict[str, Any]:
        return {"dry_run": dry_run, "removed": self.removed, "bytes": self.bytes, "kept_live": self.kept_live,
                "kept_young": self.kept_young, "failed": self.failed}


def _size(path: str, st: os.stat_result) -> int:
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _candidates(top: str, recursive: bool) -> Iterator[tuple[str, os.stat_result]]:
    """Our temporary names under *top*; never follows symlinks, never descends into what it yields."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        ours, _pid = temp_owner(entry.name)
        if ours and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            yield entry.path, st
        elif recursive and stat.S_ISDIR(st.st_mode):
            yield from _candidates(entry.path, recursive)


def clean(top: str, *, recursive: bool = False, older_than: float = 3600.0, dry_run: bool = False,
          now: float | None = None) -> CleanResult:
    now = time.time() if now is None else now
    result = CleanResult()
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    for path, st in _candidates(top, recursive):
        _ours, pid = temp_owner(os.path.basename(path))
        if uid is not None and st.st_uid != uid:
            continue  # another user's: not ours to remove
        if pid is not None and pid_alive(pid):
            result.kept_live.append(path)
            continue
        if now - st.st_mtime < older_than:
            result.kept_young.append(path)
            continue
        size = _size(path, st)
        if not dry_run:
            try:
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except OSError as exc:
                result.failed.append({"path": path, "error": exc.strerror or str(exc)})
                continue
        result.removed.append(path)
        result.bytes += size
    return result


@click.command("clean", epilog=EPILOG)
@click.argument("directory", type=click.Path(exists=True, file_okay=False), metavar="DIR")
@click.option("-r", "--recursive", is_flag=True, help="Look in subdirectories too.")
@click.option("--older-than", default="1h", show_default=True, metavar="AGE",
              help="Only remove what was last modified longer ago than this (30m, 1h, 2d).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@guarded
def clean_cmd(directory: str, recursive: bool, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Remove aigclabel's stale temporary files and directories in DIR.

    Only names aigclabel creates (.NAME.p<pid>.XXXXXXXX.aigctmp, aigclabel-<kind>-<pid>-XXXXXXXX,
    aigclabel-video-XXXXXXXX) are considered, only when older than --older-than, and never while
    the process that made them still runs.
    """
    result = clean(directory, recursive=recursive, older_than=parse_age(older_than), dry_run=dry_run)
    if as_json:
        dump_json(result.to_dict(dry_run))
        return
    verb = "would remove" if dry_run else "removed"
    for path in result.removed:
        click.echo(f"{verb} {path}")
    for item in result.failed:
        click.echo(f"aigclabel: warning: {item['path']}: cannot remove ({item['error']})", err=True)
    click.echo(f"{verb} {len(result.removed)} item(s), {result.bytes:,} bytes; kept {len(result.kept_live)} in use "
               f"and {len(result.kept_young)} newer than {older_than}", err=True)
