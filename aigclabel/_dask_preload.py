"""A Dask worker plugin that imports the modules a task needs before the worker's first task.

The local pool preloads them in its fork server (``aigclabel._pool.PRELOAD``); a Dask worker of a
running cluster (``dask worker``) would otherwise import them inside its first chunk, which then takes
half a second longer than the others and skews the chunk sizing. Registered by :mod:`aigclabel.cluster`;
kept apart from it because importing ``distributed`` costs over a second, and ``local[:N]`` starts its
fork server before paying that.
"""

from __future__ import annotations

import importlib
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

NAME = "aigclabel-preload"


class Preload(WorkerPlugin):
    """Import *modules* on each worker, present and future (a worker the nanny restarts gets it too)."""

    #: registering it again (every run) is a no-op once the scheduler has it
    idempotent = True

    def __init__(self, modules: list[str]) -> None:
        self.modules = list(modules)

    def setup(self, worker: Any) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional format's dependency missing on this worker: its task will say so
                continue
