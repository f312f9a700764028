"""Imported by the pool's fork server: one tiny review there, so every worker forked from it starts warm.

(Lazy imports and first-call set-up otherwise cost each fresh worker about a second of its first
request; a worker replaces every stopped one, so that second would land on a client.)
"""

from __future__ import annotations

from .jobs import warm

warm()
