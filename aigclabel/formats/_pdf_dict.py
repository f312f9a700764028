"""A fast reader for one simple, unencrypted PDF dictionary object (the document Info dictionary).

Why: pypdf parses a literal string a byte at a time in Python (about 0.45 us a byte here), so the Info
dictionary of a signed file - its ``/AIGC`` record carries a 1.2 KB SecurityData value - took ~0.6 ms to read,
more than hashing the whole 100-page document it is bound to.  Here the object is matched with regular
expressions over one window of bytes and built from pypdf's own object classes, equal to what pypdf builds.

Only the plainest form is taken: ``N G obj << /Key value ... >> endobj`` with keys of plain name characters
(no ``#`` escapes, no duplicates) and values that are literal strings (balanced parentheses; the escapes
``\\n \\r \\t \\b \\f \\( \\) \\\\`` and octal ``\\ddd`` up to 255), hex strings, plain names, integers,
``N G R`` references and booleans.  Anything else - a comment, an array, a real number, a line continuation, a
rarer escape, an object in an object stream, an encrypted file - returns None and pypdf reads the object, with
its repairs and warnings.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["read_simple_dictionary", "ascii_text_string"]

#: bytes read at the object's offset; a dictionary that does not end inside the first is tried once more with
#: the second, then left to pypdf
_WINDOWS = (8 << 10, 256 << 10)
_WS = rb"[\x00\t\n\x0c\r ]"
_HEAD = re.compile(_WS + rb"*(\d{1,10})" + _WS + rb"+(\d{1,5})" + _WS + rb"+obj" + _WS + rb"*<<")
_NAME = rb"/([A-Za-z0-9_.+\-:*]{1,127})(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
_KEY = re.compile(_WS + rb"*(?:(>>)|" + _NAME + rb")")
_VALUE = re.compile(
    _WS + rb"*(?:(\()"  # 1: literal string
    + rb"|<([0-9A-Fa-f\t\n\r ]*)>"  # 2: hex string
    + rb"|" + _NAME  # 3: name
    + rb"|(\d{1,10})" + _WS + rb"+(\d{1,5})" + _WS + rb"+R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"  # 4, 5: reference
    + rb"|([+-]?\d{1,18})(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"  # 6: integer
    + rb"|(true|false)(?![^\x00\t\n\x0c\r ()<>\[\]{}/%]))")  # 7: boolean
_END = re.compile(_WS + rb"*endobj")
_LITERAL_SPECIAL = re.compile(rb"[()\\]")
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f",
            ord("("): b"(", ord(")"): b")", ord("\\"): b"\\"}
#: a literal string's body without parentheses or escapes other than the simple ones, then its ")"
_LITERAL_FLAT = re.compile(rb"(?:[^()\\]++|\\[nrtbf()\\])*+\)")
_SIMPLE = [(b"\\" + bytes([k]), v) for k, v in _ESCAPES.items() if k != ord("\\")]
_OCTAL = re.compile(rb"\\([0-7]{1,3})")
_HEX_SPACE = re.compile(rb"[\t\n\r ]")


def _literal(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """The bytes of the literal string whose ``(`` ends at *pos*, and the offset after its ``)``."""
    flat = _LITERAL_FLAT.match(data, pos)
    if flat is not None:  # no parentheses inside, simple escapes only (the record): one pass in C
        body = data[pos:flat.end() - 1]
        if b"\\" in body:
            # every backslash starts a two-byte escape here, so the escaped backslashes are the pairs a
            # left-to-right split (or replace) finds; the other escapes are then replaced between them
            if b"\\" not in body.replace(b"\\\\", b""):  # only escaped backslashes (the record's \\")
                body = body.replace(b"\\\\", b"\\")
            else:
                body = b"\\".join(_unescape_simple(part) for part in body.split(b"\\\\"))
        return body, flat.end()
    return _literal_nested(data, pos)


def _unescape_simple(part: bytes) -> bytes:
    if b"\\" not in part:
        return part
    for escape, byte in _SIMPLE:
        part = part.replace(escape, byte)
    return part


def _literal_nested(data: bytes, pos: int) -> tuple[bytes, int] | None:
    out = bytearray()
    depth = 1
    while True:
        m = _LITERAL_SPECIAL.search(data, pos)
        if m is None:
            return None  # not closed inside the window
        at = m.start()
        out += data[pos:at]
        c = data[at]
        if c == 0x28:  # (
            depth += 1
            out += b"("
            pos = at + 1
        elif c == 0x29:  # )
            depth -= 1
            if depth == 0:
                return bytes(out), at + 1
            out += b")"
            pos = at + 1
        else:
            if at + 1 >= len(data):
                return None
            simple = _ESCAPES.get(data[at + 1])
            if simple is not None:
                out += simple
                pos = at + 2
                continue
            octal = _OCTAL.match(data, at)
            if octal is None or int(octal.group(1), 8) > 255:
                return None  # a line continuation or a rarer escape: pypdf's own reading (and warnings)
            out.append(int(octal.group(1), 8))
            pos = octal.end()


def ascii_text_string(cls: type, text: str, original: bytes | None) -> Any:
    """*cls* (pypdf's ``TextStringObject`` or a subclass) holding printable-ASCII *text*, as pypdf's constructor
    and ``create_string_object`` make it - without their two Python loops over the characters (printable ASCII
    is the same in PDFDocEncoding, so the result is known)."""
    obj: Any = str.__new__(cls, text)
    obj._original_bytes = original
    obj.autodetect_utf16 = False
    obj.autodetect_pdfdocencoding = True
    obj.utf16_bom = b""
    return obj


def _string(raw: bytes) -> Any:
    from pypdf.generic import TextStringObject, create_string_object

    if raw.isascii():
        text = raw.decode("ascii")
        if text.isprintable():
            return ascii_text_string(TextStringObject, text, raw)
    return create_string_object(raw)


def _parse(data: bytes, num: int, gen: int, reader: Any) -> Any:
    from pypdf.generic import BooleanObject, DictionaryObject, IndirectObject, NameObject, NumberObject

    head = _HEAD.match(data)
    if head is None or int(head.group(1)) != num or int(head.group(2)) != gen:
        return None
    out = DictionaryObject()
    pos = head.end()
    while True:
        k = _KEY.match(data, pos)
        if k is None:
            return None
        if k.group(1) is not None:  # >>
            end = _END.match(data, k.end())
            return out if end is not None else None  # a stream, or no endobj: pypdf's
        key = NameObject("/" + k.group(2).decode("ascii"))
        if key in out:
            return None  # a duplicate key: pypdf warns and keeps the first
        v = _VALUE.match(data, k.end())
        if v is None:
            return None
        value: Any
        if v.group(1) is not None:
            lit = _literal(data, v.end())
            if lit is None:
                return None
            value, pos = _string(lit[0]), lit[1]
        else:
            pos = v.end()
            if v.group(2) is not None:
                digits = _HEX_SPACE.sub(b"", v.group(2))
                value = _string(bytes.fromhex((digits + b"0" if len(digits) % 2 else digits).decode("ascii")))
            elif v.group(3) is not None:
                value = NameObject("/" + v.group(3).decode("ascii"))
            elif v.group(4) is not None:
                value = IndirectObject(int(v.group(4)), int(v.group(5)), reader)
            elif v.group(6) is not None:
                value = NumberObject(int(v.group(6)))
            else:
                value = BooleanObject(v.group(7) == b"true")
        out[key] = value


def read_simple_dictionary(reader: Any, num: int, gen: int) -> Any:
    """Object *num* *gen* of pypdf *reader* (not encrypted) as a ``DictionaryObject``, entered in pypdf's cache
    as pypdf enters what it reads, when it has the plain form above; None otherwise (then pypdf reads it)."""
    if getattr(reader, "_encryption", None) is not None or reader.is_encrypted:
        return None
    if (gen, num) in reader.resolved_objects:
        return reader.resolved_objects[(gen, num)]
    if (gen == 0 and num in reader.xref_objStm) or reader.xref_free_entry.get(gen, {}).get(num, False):
        return None
    start = reader.xref.get(gen, {}).get(num)
    if not isinstance(start, int) or start < 0:
        return None
    stream = reader.stream
    for window in _WINDOWS:
        stream.seek(start)
        data = stream.read(window)
        obj = _parse(data, num, gen, reader)
        if obj is not None:
            reader.cache_indirect_object(gen, num, obj)
            return obj
        if len(data) < window:
            return None
    return None
