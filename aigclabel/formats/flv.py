"""FLV (Flash Video): the record is the ``onMetaData`` property ``AIGC`` (TC260 2025 video guide).

An FLV file is a 9-byte header (``FLV``, version, audio/video flags, header size), then tags, each
followed by a 32-bit "previous tag size"::

    tag: type (8 audio, 9 video, 18 script data), 24-bit data size, 24+8-bit timestamp,
         24-bit stream id, data
    script data (AMF0): the name "onMetaData", then an ECMA array (or object) of properties
                        duration, width, height, videocodecid, encoder ... AIGC

``ffmpeg -metadata AIGC=...`` writes the property as an AMF0 string.  Reading walks tag headers
only and stops at the first audio or video tag after :data:`MAX_TAGS` tags or :data:`MAX_SCAN`
bytes (``onMetaData`` comes first in practice), parsing script-data tags with a bounded AMF0
reader.  Besides the normative property it reports a property whose name contains ``AIGC``, a
string property that *is* a record, and the same inside nested objects or in other script tags;
``encoder``/``metadatacreator`` naming an AI generator is a trace.

Read-only: growing ``onMetaData`` moves every later tag, and writers store absolute file
positions of keyframes inside it (``keyframes.filepositions``), so it is not written in place.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from .._io import CountingReader
from ..errors import CorruptFile, UnsupportedOperation
from ._audio_meta import audio_generator_trace, is_record_key
from ._image_meta import found_label, looks_like_record
from .base import Evidence, FormatHandler
from .media_video import VideoAccess

__all__ = ["FlvHandler", "parse_amf0", "RECORD_KEY"]

RECORD_KEY = "AIGC"
#: script tags are looked for among the first tags only
MAX_TAGS = 64
MAX_SCAN = 4 << 20
#: a script-data tag is read whole
MAX_SCRIPT = 16 << 20
_MAX_DEPTH = 32
_TRACE_KEYS = ("encoder", "metadatacreator", "creator", "software", "comment", "description", "tool")


class _AmfError(Exception):
    pass


@dataclass
class _Amf:
    """A cursor over AMF0 script data, collecting the string values met (for record detection)."""
    data: bytes
    pos: int = 0
    #: (path, value) of every string value met, for record detection
    strings: list[tuple[tuple[str, ...], str]] = field(default_factory=list)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _AmfError("AMF0 data ends in the middle of a value")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def utf8(self, long: bool = False) -> str:
        raw = self.take(self.u32() if long else self.u16())
        return raw.decode("utf-8", "replace")

    def properties(self, path: tuple[str, ...], depth: int, count: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            if self.pos + 3 <= len(self.data) and self.data[self.pos:self.pos + 3] == b"\x00\x00\x09":
                self.pos += 3
                return out
            if self.pos >= len(self.data):
                if count is not None:  # a truncated ECMA array end marker is common: accept what was read
                    return out
                raise _AmfError("AMF0 object without its end marker")
            key = self.utf8()
            out[key] = self.value((*path, key), depth + 1)

    def value(self, path: tuple[str, ...], depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _AmfError("AMF0 values nested too deep")
        marker = self.u8()
        if marker == 0:
            return struct.unpack(">d", self.take(8))[0]
        if marker == 1:
            return bool(self.u8())
        if marker in (2, 12):
            text = self.utf8(long=marker == 12)
            self.strings.append((path, text))
            return text
        if marker == 3:
            return self.properties(path, depth)
        if marker == 8:
            count = self.u32()
            return self.properties(path, depth, count)
        if marker == 10:
            count = self.u32()
            if count > len(self.data) - self.pos:
                raise _AmfError("AMF0 strict array longer than its data")
            return [self.value((*path, str(i)), depth + 1) for i in range(count)]
        if marker == 11:
            millis = struct.unpack(">d", self.take(8))[0]
            self.take(2)
            return millis
        if marker in (5, 6, 13):  # null, undefined, unsupported
            return None
        if marker == 7:  # reference
            return self.u16()
        if marker == 16:  # typed object
            self.utf8()
            return self.properties(path, depth)
        raise _AmfError(f"unknown AMF0 type marker {marker}")


def parse_amf0(data: bytes) -> tuple[list[Any], list[tuple[tuple[str, ...], str]]]:
    """The AMF0 values of a script-data tag and every string in them as (path, text).

    Raises :class:`CorruptFile` on malformed data.
    """
    amf = _Amf(data)
    values = []
    try:
        while amf.pos < len(data):
            if len(data) - amf.pos <= 3 and not data[amf.pos:].strip(b"\x00\x09"):
                break  # a stray end marker / padding
            values.append(amf.value((), 0))
    except _AmfError as exc:
        raise CorruptFile(f"corrupt FLV script data: {exc}") from None
    return values, amf.strings


class FlvHandler(FormatHandler):
    name = "flv"
    kind = "video"
    mime = "video/x-flv"
    extensions = (".flv", ".f4v-flv")
    normative_carrier = "flv:onMetaData:AIGC"
    can_write = False

    @classmethod
    def score(cls, head: bytes) -> int:
        if head[:3] != b"FLV" or len(head) < 9:
            return 0
        return 100 if head[3] == 1 and int.from_bytes(head[5:9], "big") >= 9 else 60

    def read(self, src: CountingReader) -> Evidence:
        if src.size == 0:
            raise CorruptFile("empty file")
        head = src.read_at(0, 9)
        if len(head) < 9 or head[:3] != b"FLV":
            raise CorruptFile("not an FLV file (bad header)")
        flags = head[4]
        offset = int.from_bytes(head[5:9], "big")
        if offset < 9 or offset > src.size:
            raise CorruptFile(f"corrupt FLV: header size {offset}")
        if src.size < offset + 4:
            raise CorruptFile("truncated: the FLV ends inside its header")
        kind = "video" if flags & 0x01 else "audio" if flags & 0x04 else self.kind
        ev = Evidence(self.name, kind, info={"container": "flv", "version": head[3],
                                             "has_video": bool(flags & 0x01), "has_audio": bool(flags & 0x04)})
        pos = offset + 4  # PreviousTagSize0
        media_at = None
        for count in range(MAX_TAGS):
            if pos >= src.size or pos > MAX_SCAN:
                break
            th = src.read_at(pos, 11)
            if len(th) < 11:
                raise CorruptFile(f"truncated: the FLV ends inside the tag header at offset {pos}")
            ttype = th[0] & 0x1F
            size = int.from_bytes(th[1:4], "big")
            end = pos + 11 + size
            if end > src.size:
                raise CorruptFile(f"truncated: the FLV tag at offset {pos} claims {size} bytes, past the end of "
                                  "the file")
            if ttype not in (8, 9, 18):
                raise CorruptFile(f"corrupt FLV: unknown tag type {th[0]} at offset {pos}")
            if ttype == 18:
                if size > MAX_SCRIPT:
                    raise CorruptFile(f"corrupt FLV: script tag at offset {pos} claims {size} bytes")
                data = src.read_at(pos + 11, size)
                if len(data) != size:
                    raise CorruptFile(f"truncated: the FLV ends inside the script tag at offset {pos}")
                self._script(data, pos, media_at, ev)
            elif media_at is None:
                media_at = pos
                if count >= 8:
                    break
            pos = end + 4
        return ev

    def _script(self, data: bytes, pos: int, media_at: int | None, ev: Evidence) -> None:
        values, strings = parse_amf0(data)
        name = values[0] if values and isinstance(values[0], str) else ""
        props_index = 1
        if name == "@setDataFrame" and len(values) > 1 and isinstance(values[1], str):
            name, props_index = values[1], 2
        props = values[props_index] if len(values) > props_index and isinstance(values[props_index], dict) else {}
        where = f"script tag {name!r} at offset {pos}"
        before = True if media_at is None else pos < media_at
        if name == "onMetaData":
            for key, target in (("width", "width"), ("height", "height"), ("duration", "duration")):
                v = props.get(key)
                if isinstance(v, float) and v > 0:
                    ev.info.setdefault(target, int(v) if key != "duration" else round(v, 6))
            for key in ("videocodecid", "audiocodecid"):
                if key in props:
                    ev.info.setdefault(key, props[key])
        for path, text in strings:
            key = path[-1] if path else ""
            dotted = ".".join(path)
            loc = f"{where}, property {dotted!r}"
            if is_record_key(key) or (looks_like_record(text) and path):
                normative = name == "onMetaData" and path == (RECORD_KEY,)
                ev.labels.append(found_label(f"flv:{name or 'script'}:{dotted}", loc, text, normative=normative,
                                             offset=pos, before_payload=before))
            elif key.lower() in _TRACE_KEYS and (t := audio_generator_trace(text, loc)):
                ev.traces.append(t)

    def write_metadata(self, src: CountingReader, dst: Any, label: Any) -> None:
        raise UnsupportedOperation("writing the implicit label into FLV is not supported (read-only): growing "
                                   "onMetaData would move every later tag and the keyframe file positions "
                                   "stored in it; convert to MP4 or MKV to label the video")

    def video_access(self, src: CountingReader) -> VideoAccess:
        # frames for the check of the visible label; the marker does not rewrite FLV
        return VideoAccess(src, self.name)
