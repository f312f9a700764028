"""The record is in the file header, before the media payload ("file metadata" per the standard).

A record after the payload is an error (the profile may lower it).  For MP4/MOV/M4A the carrier is the movie box
(``moov``) wherever the file puts it: a ``moov`` after ``mdat`` is the file's layout, reported as info.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..report import Finding, Level

ID = "implicit.in-header"
SCOPE = "implicit"
KINDS = None
OPTIONS: dict[str, Any] = {}
DESCRIPTION = "the record precedes the media payload"


def check(ctx: Any, options: dict[str, Any]) -> Iterator[Finding]:
    index_at_end = ctx.evidence.info.get("moov_before_media") is False
    for lab in ctx.evidence.labels:
        if lab.before_payload is False and index_at_end and lab.carrier.startswith("mp4:moov"):
            # The record is where the MP4 carrier puts it (the movie box); that box sitting after the media data
            # is the file's layout, which marking keeps (it writes metadata only) -- not a misplaced record.
            yield Finding(ID, Level.INFO, f"record {lab.carrier} is in the movie box, which this file keeps after "
                          "the media data (its layout, which marking keeps: it writes metadata only); `ffmpeg -i IN -c "
                          "copy -movflags +faststart+use_metadata_tags OUT` moves the box to the front and keeps "
                          "the record",
                          location=lab.location, expected="before the payload", actual="moov after mdat")
        elif lab.before_payload is False:
            yield Finding(ID, Level.ERROR, f"record {lab.carrier} comes after the media payload",
                          location=lab.location, expected="before the payload", actual="after the payload")
        elif lab.before_payload:
            yield Finding(ID, Level.PASS, "record precedes the media payload", location=lab.location)
