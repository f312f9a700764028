"""The one reading prologue: open a source, pick its handler, read its evidence, add C2PA.

``verify``, ``inspect``, ``mark`` and ``review`` all start the same way; they share this so a
handler option (a password), the resource budget or the C2PA read is decided in one place::

    with read_evidence(path, password=pw, profile=prof) as opened:
        opened.handler, opened.evidence, opened.src

The whole block runs under the :class:`~aigclabel.limits.Limits` given (or those in force), with
the decode clock started when the source is opened.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, BinaryIO, Iterator, NamedTuple

from ._io import CountingReader, SourceLike, open_source
from .errors import AigcLabelError, CorruptFile
from .formats import Evidence, FormatHandler, ImplicitLabel, OpenOptions, handler_for
from .limits import Limits, use_limits

if TYPE_CHECKING:  # pragma: no cover
    from .c2pa import ReadOptions as C2paReadOptions
    from .profiles import Profile

__all__ = ["Opened", "read_evidence", "open_handler", "write_implicit", "C2PA_SKIP", "C2PA_RAISE", "C2PA_NOTE"]

#: how the C2PA manifest is merged into the evidence
C2PA_SKIP = "skip"  # not read (marking: the signing step decides what to do with a manifest)
C2PA_RAISE = "raise"  # read; a manifest that cannot be read is an error (verify, inspect)
C2PA_NOTE = "note"  # read; one that cannot be read is recorded in ``evidence.info["c2pa_error"]`` (review)


class Opened(NamedTuple):
    """An open source with its handler and what the handler read."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    src: CountingReader
    handler: FormatHandler
    evidence: Evidence


@contextlib.contextmanager
def open_handler(source: SourceLike, *, password: str | None = None,
                 limits: Limits | None = None) -> Iterator[tuple[CountingReader, FormatHandler]]:
    """Open *source* and detect its format; the handler gets the :class:`OpenOptions`."""
    with use_limits(limits), open_source(source) as src:
        yield src, handler_for(src, OpenOptions(password=password))


@contextlib.contextmanager
def read_evidence(source: SourceLike, *, password: str | None = None, profile: Profile | None = None,
                  c2pa: C2paReadOptions | None = None, c2pa_mode: str = C2PA_RAISE, scope: str = "all",
                  limits: Limits | None = None) -> Iterator[Opened]:
    """Open, detect, read and (per *c2pa_mode*) merge the C2PA manifest, under *limits*.

    With a *profile*, the manifest is read only when one of its rules needs it.
    """
    with open_handler(source, password=password, limits=limits) as (src, handler):
        evidence = handler.read(src)
        if c2pa_mode != C2PA_SKIP and _wants_c2pa(profile, scope):
            from .c2pa import merge_evidence  # lazy: the SDK wrapper is not needed for most reads

            try:
                merge_evidence(evidence, src, profile=profile, options=c2pa, scope=scope, handler=handler)
            except AigcLabelError as exc:
                if c2pa_mode == C2PA_RAISE:
                    raise
                evidence.info["c2pa_error"] = str(exc)
        yield Opened(src, handler, evidence)


def _wants_c2pa(profile: Profile | None, scope: str) -> bool:
    """Whether the manifest must be read: always without a profile, else when one of its checks needs it
    (decided here so that verifying against the Chinese profiles never imports the C2PA module)."""
    if profile is None:
        return True
    if scope == "explicit":
        return False
    from .rules import uses_c2pa

    return uses_c2pa(profile)


def write_implicit(handler: FormatHandler, src: CountingReader, dst: BinaryIO, implicit: ImplicitLabel) -> Evidence:
    """The metadata step: write *implicit* into a copy of *src*, then read the copy back.

    The result is read back (with the same handler, header only) before it replaces anything, so
    a bug never ships a file that does not carry exactly the record asked for.  Returns what that
    read found (the signing step asks it whether the output already carries a C2PA manifest).
    """
    handler.write_metadata(src, dst, implicit)
    dst.flush()
    dst.seek(0)
    end = dst.seek(0, os.SEEK_END)
    dst.seek(0)
    check = CountingReader(dst, "<output>", end)
    try:
        found = handler.read(check)
    except CorruptFile as exc:
        raise CorruptFile(f"internal check failed: the written file does not read back ({exc}); "
                          "nothing was written") from exc
    if found.info.get("implicit_carrier", True) is False:
        return found  # plain text: nothing is embedded, so there is nothing to read back
    texts = [lab.raw for lab in found.labels]
    if texts != [implicit.record_json]:
        raise CorruptFile(f"internal check failed: the written file carries {texts!r}; nothing was written")
    return found
