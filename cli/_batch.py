"""Batch plumbing shared by ``verify`` and ``review``: the options, progress, JSON Lines, the summary.

What a batch *is* (directory inputs, resuming, worker processes) lives in :mod:`aigclabel.batch`;
this module only renders it: the progress bar (on a terminal only), the JSON Lines stream and the
closing summary line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Iterable

import click


def batch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--recursive, --jobs, --jsonl, --skip-done (shared by verify and review)."""
    func = click.option("--skip-done", type=click.Path(dir_okay=False), metavar="FILE.jsonl",
                        help="Resume: skip files already done in this JSON Lines log (lines without \"error\").")(func)
    func = click.option("--jsonl", is_flag=True,
                        help="Stream one JSON object per line as each file finishes (any order).")(func)
    func = click.option("-j", "--jobs", type=click.IntRange(min=0), default=1, show_default=True, metavar="N",
                        help="Worker processes (0: one per CPU).")(func)
    func = click.option("-r", "--recursive", is_flag=True,
                        help="Walk directories recursively (otherwise only their top-level files).")(func)
    return func


def progress_wanted(text_to_stdout: bool) -> bool:
    """A bar on stderr when it is a terminal, unless text reports share that terminal."""
    if not sys.stderr.isatty():
        return False
    return not (text_to_stdout and sys.stdout.isatty())


def drive(files: tuple[str, ...], task: Callable[[str], Any], *, recursive: bool, jobs: int, jsonl: bool,
          skip_done: str | None, label: str, on_outcome: Callable[[Any], dict[str, Any] | None],
          text_to_stdout: bool) -> Any:
    """Run *task* over the inputs; *on_outcome* handles each outcome and returns its JSON Lines object.

    Returns the :class:`~aigclabel.batch.Summary`; prints it to stderr when there was more than one
    file or a directory input.
    """
    from aigclabel.batch import Summary, jobs_count, pending, run

    items: Iterable[Any] = pending(files, recursive=recursive, skip_done=skip_done)
    summary = Summary()
    bar = None
    if progress_wanted(text_to_stdout):
        items = list(items)
        if len(items) >= 20:
            bar = click.progressbar(length=len(items), label=label, file=sys.stderr)
            bar.__enter__()
    try:
        for outcome in run(items, task, jobs=jobs_count(jobs), ordered=not jsonl):
            summary.add(outcome)
            obj = on_outcome(outcome)
            if jsonl and obj is not None:
                click.echo(json.dumps(obj, ensure_ascii=False))
            if bar is not None:
                bar.update(1)
    finally:  # a closed pipe (`... --jsonl | head`) goes up to `guarded`: it exits with what was decided

        if bar is not None:
            bar.__exit__(None, None, None)
    if summary.files > 1 or any(os.path.isdir(f) for f in files):
        click.echo(f"aigclabel {label}: {summary.line()}", err=True)
    return summary


def report_error(outcome: Any) -> None:
    """One stderr line for a file that could not be processed (as ``echo_error`` words it)."""
    err = outcome.error
    msg = err["message"]
    if err.get("kind") == "internal-error":
        msg = f"internal error ({err.get('type')}: {msg}); please report it"
    if not msg.startswith(outcome.path):
        msg = f"{outcome.path}: {msg}"
    click.echo(f"aigclabel: error: {msg}", err=True)
