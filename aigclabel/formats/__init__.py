"""The format registry: handlers chosen by content, scored like ``mutagen.File``.

Every handler module is listed once in :data:`_BUILTIN`; its classes are imported only when a
file needs detecting, so ``aigclabel --help`` stays fast.  Ties in score are broken by name, so
the order here never matters.
"""

from __future__ import annotations

import importlib

from .._io import CountingReader
from ..errors import UnsupportedFormat
from .base import HEAD_SIZE, Evidence, FormatHandler, ImplicitLabel, OpenOptions

__all__ = ["FormatHandler", "Evidence", "ImplicitLabel", "OpenOptions", "handlers", "detect", "handler_for", "register"]

# module name -> handler class names (one line per format family)
_BUILTIN: dict[str, tuple[str, ...]] = {
    "jpeg": ("JpegHandler",),
    "png": ("PngHandler",),
    "mp3": ("Mp3Handler",),
    "wav": ("WavHandler",),
    "flac": ("FlacHandler",),
    "ogg": ("OggVorbisHandler", "OpusHandler"),
    "aiff": ("AiffHandler",),
    "tiff": ("TiffHandler",),
    "heif": ("HeifHandler",),
    "webp": ("WebpHandler",),
    "gif": ("GifHandler",),
    "pdf": ("PdfHandler",),
    "mp4": ("M4aHandler", "Mp4Handler"),
    "office": ("DocxHandler", "PptxHandler", "XlsxHandler"),
    "text": ("HtmlHandler", "MarkdownHandler", "TextHandler"),
    "matroska": ("MkvHandler", "WebmHandler"),
    "riff_avi": ("AviHandler",),
    "flv": ("FlvHandler",),
}

_registry: list[type[FormatHandler]] = []
_loaded = False


def register(handler: type[FormatHandler]) -> type[FormatHandler]:
    """Add a handler (usable as a class decorator by third-party formats)."""
    if handler not in _registry:
        _registry.append(handler)
    return handler


def handlers() -> list[type[FormatHandler]]:
    global _loaded
    if not _loaded:
        for module, names in _BUILTIN.items():
            mod = importlib.import_module(f"{__name__}.{module}")
            for name in names:
                register(getattr(mod, name))
        _loaded = True
    return sorted(_registry, key=lambda h: h.name)


def detect(head: bytes, name: str | None = None,
           exclude: frozenset[type[FormatHandler]] = frozenset()) -> type[FormatHandler]:
    """Pick the handler that scores *head* highest; :class:`UnsupportedFormat` when none claims it.

    *name* (the source's file name, if it has one) never outweighs content.  It only breaks a tie
    between handlers that declare the same ``tie_group`` -- plain text, Markdown and HTML look
    alike in 64 bytes -- by asking each tied member for ``tie_rank(name)``; the highest rank wins,
    then the name order.  Handlers without a ``tie_group`` are chosen exactly as before.
    Handlers in *exclude* are passed over (see :func:`handler_for`).
    """
    best: tuple[int, str] | None = None
    chosen: type[FormatHandler] | None = None
    scores: dict[type[FormatHandler], int] = {}
    for handler in handlers():
        if handler in exclude:
            continue
        score = scores[handler] = handler.score(head)
        if score > 0 and (best is None or (score, _neg(handler.name)) > best):
            best = (score, _neg(handler.name))
            chosen = handler
    if chosen is None:
        if not head:
            raise UnsupportedFormat("empty file")
        raise UnsupportedFormat("not a supported format (the content matches no handler; "
                                f"supported: {', '.join(h.name.upper() for h in handlers())})")
    group = getattr(chosen, "tie_group", None)
    if group is not None:
        tied = [h for h, s in scores.items() if s == scores[chosen] and getattr(h, "tie_group", None) == group]
        chosen = max(tied, key=lambda h: (h.tie_rank(name), _neg(h.name)))  # type: ignore[attr-defined]
    return chosen


def _neg(name: str) -> str:
    # Higher score wins; among equal scores the alphabetically first name wins.
    return "".join(chr(0x10FFFF - ord(c)) for c in name)


def handler_for(src: CountingReader, options: OpenOptions | None = None) -> FormatHandler:
    """Detect the format of *src* (reading only its first bytes) and return a handler instance.

    64 bytes cannot tell a container's flavour (a ZIP may be DOCX, XLSX, PPTX, EPUB or none).  A
    handler may define ``refine(src) -> handler class | None``: when it wins on the first bytes,
    the registry calls it with the open source; it returns the handler to use (itself or a
    sibling), or None when the content is not its format after all -- then that handler, and
    every handler sharing the same ``refine``, is passed over and detection goes on with the rest.
    Handlers without ``refine`` are chosen exactly as before.  The handler is made with *options*
    (a password and the like), the same object for every format.
    """
    src.seek(0)
    head = src.read(HEAD_SIZE)
    src.seek(0)
    passed: frozenset[type[FormatHandler]] = frozenset()
    while True:
        chosen = detect(head, src.name, passed)
        refine = getattr(chosen, "refine", None)
        if refine is None:
            return chosen(options)
        refined = refine(src)
        src.seek(0)
        if refined is not None:
            return refined(options)
        family = getattr(refine, "__func__", refine)
        passed |= {h for h in handlers() if getattr(getattr(h, "refine", None), "__func__", None) is family}
        passed |= {chosen}
