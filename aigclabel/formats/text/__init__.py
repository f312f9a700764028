"""Plain text, Markdown and HTML: encodings, structure, and the implicit record where one is defined.

Carriers (shared/spec/labelling-rules.md §4):

* **Markdown**: YAML front matter at the head holding an ``AIGC:`` mapping with the seven keys
  (normative), in block or flow style and in any key order (read in Annex E order; the style and
  order are ``format.markdown`` info findings); keys are passed on as written (a misspelt
  ``ReserveCode1`` reaches the record check as it is).  Existing front matter is kept line for line;
  only the ``AIGC`` entry is ours.
* **HTML**: ``<meta name="AIGC" content='…'>`` in ``<head>`` (our convention: the guides define no
  HTML carrier).  The document is edited by inserting and removing byte ranges found by a linear
  tokenizer; nothing is re-serialised.
* **Plain text**: no carrier is defined.  Evidence says so (``info["implicit_carrier"] = False``)
  and writing the record leaves the content untouched; only the explicit notice applies.

Also read (non-normative): an HTML comment ``<!-- AIGC{...} -->`` / ``<!-- {"AIGC":...} -->`` in
HTML and Markdown, and a line ``AIGC{...}`` / ``{"AIGC":...}`` in plain text.

Encodings: UTF-8 (with or without BOM), UTF-16 LE/BE with a BOM, and GB18030 (a superset of GBK
and GB2312).  The file's encoding, BOM, line endings and final newline are kept: edits are made on
the decoded text and encoded back with the same codec, and everything outside the edits keeps its
bytes.

Detection (the first 64 bytes) cannot tell plain text from Markdown.  All three handlers claim any
text weakly (score 10); strong signals win by content (``<!doctype html``/``<html``: HTML 80; a
front matter opener ``---``: Markdown 60).  The handlers share ``tie_group = "text"``: when they
tie, the registry asks each for ``tie_rank(file name)`` so ``notes.md`` is Markdown and ``page.htm``
HTML; without a name (bytes, streams) plain text wins.  The name never outweighs content.

The package: :mod:`.encoding` (sniffing and decoding), :mod:`.frontmatter` (Markdown's YAML),
:mod:`.htmlscan` (the HTML tokenizer), :mod:`.records` (carriers and visible blocks),
:mod:`.handlers` (the registry's handlers).
"""

from __future__ import annotations

from .encoding import _EOL, TextDoc, apply_edits, decode_bytes, newline_of, sniff
from .frontmatter import FrontMatter, _unclosed, find_front_matter, set_front_matter_record
from .handlers import HANDLERS, HtmlHandler, MarkdownHandler, TextHandler
from .htmlscan import HtmlMap, _removals, scan_html, set_html_record
from .records import TEXT_EXTENSIONS, TEXT_FORMATS, read_labels, set_record, visible_blocks

__all__ = ["TextHandler", "MarkdownHandler", "HtmlHandler", "TextDoc", "decode_bytes", "sniff",
           "newline_of", "FrontMatter", "find_front_matter", "set_front_matter_record", "set_html_record",
           "set_record", "read_labels", "scan_html", "HtmlMap", "visible_blocks", "apply_edits",
           "TEXT_FORMATS", "TEXT_EXTENSIONS", "HANDLERS", "_EOL", "_removals", "_unclosed"]
