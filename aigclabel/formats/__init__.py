"""The format registry: handlers chosen by content, scored like ``mutagen.File``.

Every handler module is listed once in :data:`_BUILTIN`, with the magic numbers in :data:`_MAGIC`
that its handlers' ``score()`` needs to see before it can be non-zero.  Detection imports only
the modules whose magic matches the first bytes (plus those without a fixed signature), so
verifying one JPEG does not import eighteen format modules; when none of those claims the content
every module is asked, exactly as before.  Ties in score are broken by name, so the order here
never matters.
"""

from __future__ import annotations

import importlib

from .._io import CountingReader
from ..errors import UnsupportedFormat
from .base import HEAD_SIZE, Evidence, FormatHandler, ImplicitLabel, OpenOptions

__all__ = ["FormatHandler", "Evidence", "ImplicitLabel", "OpenOptions", "handlers", "candidates", "detect",
           "handler_for", "register"]

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

#: module -> the (offset, bytes) signatures one of which its handlers need before scoring > 0
#: (offset -1: anywhere in the first HEAD_SIZE bytes); None: no fixed signature, always asked.
#: A test (tests/test_registry.py) checks every handler's score against this table.
_MAGIC: dict[str, tuple[tuple[int, bytes], ...] | None] = {
    "jpeg": ((0, b"\xff\xd8\xff"),),
    "png": ((0, b"\x89PNG\r\n\x1a\n"),),
    # an ID3v2 tag, or a bare MPEG frame sync (11 set bits: 0xFF then 0xE0-0xFF, so a JPEG's FF D8 is not one)
    "mp3": ((0, b"ID3"), *((0, bytes((0xFF, second))) for second in range(0xE0, 0x100))),
    "wav": ((8, b"WAVE"),),
    "flac": ((0, b"fLaC"), (0, b"ID3")),  # FLAC behind an ID3v2 tag too
    "ogg": ((0, b"OggS"),),
    "aiff": ((0, b"FORM"),),
    "tiff": ((0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+")),
    "heif": ((4, b"ftyp"),),
    "webp": ((0, b"RIFF"),),
    "gif": ((0, b"GIF"),),
    "pdf": ((-1, b"%PDF-"),),
    "mp4": ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"wide"), (4, b"pnot"), (4, b"free"), (4, b"skip")),
    "office": ((0, b"PK\x03\x04"),),
    "text": None,  # text is recognised by decoding, not by a signature
    "matroska": ((0, b"\x1a\x45\xdf\xa3"),),
    "riff_avi": ((0, b"RIFF"),),
    "flv": ((0, b"FLV"),),
}

#: the highest score a handler of a module without a signature (None above) may give; a test checks it
UNSIGNED_MAX_SCORE = 80

_registry: list[type[FormatHandler]] = []
_loaded = False
_imported: dict[str, list[type[FormatHandler]]] = {}  # module -> its handler classes, once imported


def _import(module: str) -> list[type[FormatHandler]]:
    classes = _imported.get(module)
    if classes is None:
        mod = importlib.import_module(f"{__name__}.{module}")
        classes = _imported[module] = [getattr(mod, name) for name in _BUILTIN[module]]
        for cls in classes:
            register(cls)
    return classes


def _magic_matches(module: str, head: bytes) -> bool:
    magic = _MAGIC.get(module)
    if magic is None:
        return True
    for offset, sig in magic:
        if offset < 0:
            if sig in head:
                return True
        elif head[offset:offset + len(sig)] == sig:
            return True
    return False


def candidates(head: bytes) -> list[type[FormatHandler]]:
    """The handlers that may claim *head*: those of the modules whose magic matches (imports only those),
    plus handlers registered by third parties."""
    found: set[type[FormatHandler]] = set()
    for module in _BUILTIN:
        if _magic_matches(module, head):
            found.update(_import(module))
    builtin = {cls for classes in _imported.values() for cls in classes}
    found.update(h for h in _registry if h not in builtin)  # third-party formats have no magic here
    return sorted(found, key=lambda h: h.name)


def register(handler: type[FormatHandler]) -> type[FormatHandler]:
    """Add a handler (usable as a class decorator by third-party formats)."""
    if handler not in _registry:
        _registry.append(handler)
    return handler


def handlers() -> list[type[FormatHandler]]:
    """Every handler (imports every format module: detection uses :func:`candidates` instead)."""
    global _loaded
    if not _loaded:
        for module in _BUILTIN:
            _import(module)
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
    if not head:
        raise UnsupportedFormat("empty file")
    if not exclude:
        signed = [m for m in _BUILTIN if _MAGIC.get(m) is not None and _magic_matches(m, head)]
        if signed:
            # A signature-bearing handler that scores above anything an unsigned one (text) can score wins
            # outright, so the text modules are not imported to detect a JPEG (start-up, issue 15).
            pool = sorted({cls for m in signed for cls in _import(m)}, key=lambda h: h.name)
            best = max((h.score(head) for h in pool), default=0)
            if best > UNSIGNED_MAX_SCORE and not [h for h in _registry if h not in _builtin_classes()]:
                return _detect_among(pool, head, name, exclude)
        try:
            return _detect_among(candidates(head), head, name, exclude)
        except UnsupportedFormat:
            pass  # no candidate claims it: ask every handler, as a registry without magic numbers would
    return _detect_among(handlers(), head, name, exclude)


def _builtin_classes() -> set[type[FormatHandler]]:
    return {cls for classes in _imported.values() for cls in classes}


def _detect_among(pool: list[type[FormatHandler]], head: bytes, name: str | None,
                  exclude: frozenset[type[FormatHandler]]) -> type[FormatHandler]:
    best: tuple[int, str] | None = None
    chosen: type[FormatHandler] | None = None
    scores: dict[type[FormatHandler], int] = {}
    for handler in pool:
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
