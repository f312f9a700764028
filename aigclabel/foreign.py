"""Translating the exceptions of the libraries we call into ours, at the call.

Each adapter wraps the *narrow* block where we hand untrusted bytes to one library (Pillow,
pillow-heif, PyAV, pypdf, mutagen, fontTools, c2pa, rapidocr, numpy) and turns what that library
raises on bad data into :class:`~aigclabel.errors.CorruptFile` (or
:class:`~aigclabel.errors.LimitExceeded` for memory), with one clear line naming what was being
done.  Wrap only the library call, never our own code around it: a bug of ours must still surface
as an internal error, so the fuzzing harness can find it::

    with pillow_errors("decoding the JPEG frame"):
        image.load()

Why these exception types: each library is known to raise them on hostile input (seen in our
mutation campaigns) -- e.g. Pillow raises ``SyntaxError`` and ``KeyError`` from TIFF tags, PyAV
``UnicodeDecodeError`` from metadata strings and ``ValueError`` from resamplers, pypdf ``KeyError``
and ``RecursionError`` from object graphs.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from typing import Iterator

from .errors import AigcLabelError, CorruptFile, LimitExceeded

__all__ = ["pillow_errors", "heif_errors", "av_errors", "pypdf_errors", "mutagen_errors",
           "fonttools_errors", "c2pa_errors", "ocr_errors", "numpy_errors", "foreign_errors"]

# Raised by parsers of untrusted data in every library above.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, EOFError, IndexError, KeyError, struct.error, zlib.error, OverflowError,
    UnicodeError, SyntaxError, RecursionError, OSError,
)


def _library_errors(library: str) -> tuple[type[BaseException], ...]:
    """The library's own exception root(s), imported lazily (the library may not be installed)."""
    found: list[type[BaseException]] = []
    try:
        if library == "PyAV":
            import av

            found.append(av.error.FFmpegError)
        elif library == "pypdf":
            from pypdf import errors

            found.append(errors.PyPdfError)
        elif library == "mutagen":
            import mutagen

            found.append(mutagen.MutagenError)
        elif library == "Pillow":
            from PIL import Image

            found.append(Image.DecompressionBombError)
        elif library == "fontTools":
            from fontTools import ttLib

            found.append(ttLib.TTLibError)
        elif library == "c2pa":
            import c2pa

            found.append(c2pa.C2paError)
    except (ImportError, AttributeError):
        pass
    return tuple(found)


@contextlib.contextmanager
def foreign_errors(library: str, what: str, *, extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn *library*'s exceptions (and the data errors it raises) inside the block into ours."""
    try:
        yield
    except AigcLabelError:
        raise
    except MemoryError:
        raise LimitExceeded("max_allocation", f"{what}: {library} ran out of memory") from None
    except (_library_errors(library) + _DATA_ERRORS + extra) as exc:  # noqa: B030 - a computed tuple
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise CorruptFile(f"{what}: {library} could not read the content ({detail})") from exc


def pillow_errors(what: str) -> contextlib.AbstractContextManager[None]:
    # Pillow's TIFF plugin raises TypeError on mistyped tags.
    return foreign_errors("Pillow", what, extra=(TypeError,))


def heif_errors(what: str) -> contextlib.AbstractContextManager[None]:
    return foreign_errors("pillow-heif", what, extra=(RuntimeError,))


def av_errors(what: str) -> contextlib.AbstractContextManager[None]:
    # PyAV raises AttributeError/TypeError on streams whose codec context is missing or half-set.
    return foreign_errors("PyAV", what, extra=(AttributeError, TypeError, RuntimeError))


def pypdf_errors(what: str) -> contextlib.AbstractContextManager[None]:
    # pypdf raises TypeError/AttributeError when an object has the wrong type (a dict where an array is due).
    return foreign_errors("pypdf", what, extra=(TypeError, AttributeError, AssertionError))


def mutagen_errors(what: str) -> contextlib.AbstractContextManager[None]:
    return foreign_errors("mutagen", what)


def fonttools_errors(what: str) -> contextlib.AbstractContextManager[None]:
    return foreign_errors("fontTools", what, extra=(TypeError, AssertionError))


def c2pa_errors(what: str) -> contextlib.AbstractContextManager[None]:
    return foreign_errors("c2pa", what, extra=(RuntimeError,))


def ocr_errors(what: str) -> contextlib.AbstractContextManager[None]:
    return foreign_errors("rapidocr", what, extra=(RuntimeError,))


def numpy_errors(what: str) -> contextlib.AbstractContextManager[None]:
    return foreign_errors("numpy", what, extra=(FloatingPointError,))
