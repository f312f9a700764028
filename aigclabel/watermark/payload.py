"""The 64-bit word a watermark carries: a version, a keyed hash of the record, and a check.

``version`` (4 bits, now 1) | ``id`` (40 bits) | ``check`` (20 bits)

* ``id`` = the first 40 bits of HMAC-SHA256(key, ContentProducer NUL ProduceID): the record can be
  looked up from the picture alone, and a file's own record can be matched against its watermark.
  The key is the caller's (``--watermark-key`` / ``key=`` / the profile's ``key`` option); without one a
  published default key is used - then anyone can compute the id of a record, which is all an id is
  for (it is an index, not a signature: see the threat model in :mod:`aigclabel.watermark`).
* ``check`` = the first 20 bits of SHA-256 over version and id: a word read from a picture that never
  carried one passes it about once in a million tries, so "found" does not need the record.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

__all__ = ["VERSION", "DEFAULT_KEY", "ID_BITS", "payload_for", "word_for", "split_word", "to_bits", "from_bits"]

VERSION = 1
#: the key used when none is given: published, so not a secret (an id under it is a plain lookup index)
DEFAULT_KEY = b"aigclabel-watermark-public-key-v1"
ID_BITS = 40
_CHECK_BITS = 20
WORD_BITS = 4 + ID_BITS + _CHECK_BITS


def _key_bytes(key: str | bytes | None) -> bytes:
    if key is None or key == "" or key == b"":
        return DEFAULT_KEY
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def payload_for(record: Any, key: str | bytes | None = None) -> int:
    """The 40-bit id of *record* (an :class:`~aigclabel.label.AigcRecord`, a dict of its fields, or a
    ``(ContentProducer, ProduceID)`` pair) under *key*."""
    if isinstance(record, tuple):
        producer, produce_id = record
    elif isinstance(record, dict):
        producer, produce_id = record.get("ContentProducer", ""), record.get("ProduceID", "")
    else:
        producer, produce_id = getattr(record, "content_producer", ""), getattr(record, "produce_id", "")
    message = f"{producer}\x00{produce_id}".encode()
    digest = hmac.new(_key_bytes(key), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - ID_BITS)


def _check(version: int, ident: int) -> int:
    digest = hashlib.sha256(b"aigclabel-wm" + bytes([version]) + ident.to_bytes(5, "big")).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - _CHECK_BITS)


def word_for(ident: int, version: int = VERSION) -> int:
    """The 64-bit word for *ident*: version | id | check."""
    if not 0 <= ident < 1 << ID_BITS:
        raise ValueError(f"a watermark id has {ID_BITS} bits (0 .. {(1 << ID_BITS) - 1}), not {ident}")
    return (version << (ID_BITS + _CHECK_BITS)) | (ident << _CHECK_BITS) | _check(version, ident)


def split_word(word: int) -> tuple[int, int] | None:
    """(version, id) of *word* when its check holds and its version is one we write, else None."""
    version = word >> (ID_BITS + _CHECK_BITS)
    ident = (word >> _CHECK_BITS) & ((1 << ID_BITS) - 1)
    if version != VERSION or word & ((1 << _CHECK_BITS) - 1) != _check(version, ident):
        return None
    return version, ident


def to_bits(word: int) -> list[int]:
    """*word* as WORD_BITS bits, most significant first."""
    return [(word >> (WORD_BITS - 1 - i)) & 1 for i in range(WORD_BITS)]


def from_bits(bits: Any) -> int:
    word = 0
    for b in bits:
        word = (word << 1) | (1 if b else 0)
    return word
