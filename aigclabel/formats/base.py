"""The handler interface every container format implements.

A handler is chosen by :func:`aigclabel.formats.detect` from the first bytes of the content
(never the file name).  Reading returns :class:`Evidence`: every label and trace found, and
where.  Writing copies the source to a destination stream with the implicit record added,
touching nothing the record does not own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

from .._io import CountingReader
from ..errors import UnsupportedOperation
from ..report import Finding, FoundLabel, Level, Trace

__all__ = ["FormatHandler", "Evidence", "ImplicitLabel", "OpenOptions", "HEAD_SIZE"]

#: how many leading bytes detection looks at
HEAD_SIZE = 64


@dataclass
class ImplicitLabel:
    """What the metadata step writes: the record text plus convention properties."""

    record_json: str  # the exact JSON text of the record (Annex E, or the 2023 legacy form)
    #: IPTC DigitalSourceType URI to write beside the record (None: leave as is)
    digital_source_type: str | None = None


@dataclass(frozen=True)
class OpenOptions:
    """What a caller tells a handler about how to open the content (one object for every format)."""

    #: opens an encrypted document (PDF); other formats ignore it
    password: str | None = None


@dataclass
class Evidence:
    """Everything a handler found in one file."""

    format: str
    kind: str  # "image" | "audio" | "video" | "document" | "text"
    labels: list[FoundLabel] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    #: structural problems that did not stop reading (e.g. a malformed XMP packet that was ignored)
    findings: list[Finding] = field(default_factory=list)
    #: format facts: width, height, ... (what later checks need)
    info: dict[str, Any] = field(default_factory=dict)


#: ``Finding.actual`` of a metadata structure that could hold a record but could not be read
UNREADABLE = "unreadable"


def unreadable(rule: str, what: str, problem: object, location: str | None = None) -> Finding:
    """The finding for metadata that could carry a record but could not be read (a damaged XMP packet or custom
    properties part, an oversized text chunk): with no other record found, ``implicit.record-present`` then says
    "could not be checked" instead of "no record" -- a damaged label is not the same answer as no label."""
    return Finding(rule, Level.WARNING, f"{what} ignored: {problem}", location=location,
                   expected=f"a readable {what}", actual=UNREADABLE)


class FormatHandler(ABC):
    """Base class of format handlers. Subclasses register themselves in ``formats/__init__.py``."""

    name: ClassVar[str]  # short id, e.g. "jpeg"
    kind: ClassVar[str]  # "image", "audio", ...
    mime: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]
    #: the normative carrier for the implicit record, as named in findings
    normative_carrier: ClassVar[str]
    can_write: ClassVar[bool] = False
    #: True when :meth:`read` walks every place the format keeps a C2PA manifest store and records the one it
    #: finds in ``Evidence.info["c2pa_store"]``: marking then asks that instead of byte-scanning its output
    c2pa_store_read: ClassVar[bool] = False
    #: True when :meth:`read` notes every manifest store *and* remote-manifest reference the C2PA SDK would find
    #: (``Evidence.info["c2pa_store"]`` / ``["c2pa_remote_ref"]``): with neither, the SDK is not asked to read
    #: the file (its own parser is what a hostile file then meets -- c2pa-rs took 49 s over an ID3 tag of
    #: 40,000 frames)
    c2pa_manifest_read: ClassVar[bool] = False

    def __init__(self, options: OpenOptions | None = None) -> None:
        self.options = options if options is not None else OpenOptions()

    @classmethod
    @abstractmethod
    def score(cls, head: bytes) -> int:
        """0 when *head* is not this format, up to 100 when certain."""

    @abstractmethod
    def read(self, src: CountingReader) -> Evidence:
        """Find every label and trace; read as little as possible."""

    def write_metadata(self, src: CountingReader, dst: BinaryIO, label: ImplicitLabel) -> None:
        """Copy *src* to *dst* with *label* as the file's one implicit record."""
        raise UnsupportedOperation(f"writing the implicit label into {self.name.upper()} is not supported yet")

    def write_notes(self, src: CountingReader) -> list[str]:
        """What writing the record into *src* will do that the caller should be told (where it goes when that
        is not the obvious place); marking adds these to its result's notes."""
        return []

    # -- structured access for the explicit step and the rules ---------------------------------
    # The handler is the only door to a file's structure: markers (explicit/) and checks (rules/)
    # ask for these instead of walking container bytes themselves, under the same resource limits
    # (aigclabel.limits) as the metadata reader.  Each content kind's handlers override the ones
    # that apply; the concrete return types are defined beside them in formats/ (media_*.py).

    def image_access(self, src: CountingReader) -> Any:
        """Decoded frames of a picture and a way to write changed pixels back (images)."""
        raise UnsupportedOperation(f"{self.name.upper()} offers no picture access")

    def audio_access(self, src: CountingReader) -> Any:
        """PCM windows of the audio stream and a way to splice a prompt in (audio)."""
        raise UnsupportedOperation(f"{self.name.upper()} offers no audio access")

    def video_access(self, src: CountingReader) -> Any:
        """Stream facts and decoded frames of the opening seconds (video)."""
        raise UnsupportedOperation(f"{self.name.upper()} offers no video access")

    def document_access(self, src: CountingReader) -> Any:
        """Pages / visible text blocks of a document or text file (document, text)."""
        raise UnsupportedOperation(f"{self.name.upper()} offers no document access")
