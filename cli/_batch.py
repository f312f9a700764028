"""Batch plumbing shared by ``verify`` and ``review``: the options, progress, JSON Lines, the summary.

What a batch *is* (directory inputs, resuming, worker processes) lives in :mod:`aigclabel.batch`;
this module only renders it: the progress bar (on a terminal only), the JSON Lines stream and the
closing summary line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Iterable, Sequence

import click


_META = "aigclabel.batch"


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Store an engine option in the context for :func:`drive`, so commands need not pass it along."""
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return _keep(ctx, param, None)
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = value.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    try:
        size = int(float(number) * units[unit])
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a size such as 512M or 2G") from None
    if size < 1 << 20:
        raise click.BadParameter(f"{value!r}: at least 1M (the interpreter alone needs more)")
    return _keep(ctx, param, size)


def _storage_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, Any]:
    if not value:  # the common case: no object-store options, and no reason to load the storage layer
        return _keep(ctx, param, {})  # type: ignore[no-any-return]
    from aigclabel.storage import parse_options

    try:
        return _keep(ctx, param, parse_options(value))  # type: ignore[no-any-return]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        from aigclabel.cluster import parse_scheduler

        try:
            parse_scheduler(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return _keep(ctx, param, value)  # type: ignore[no-any-return]


def batch_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--recursive, --jobs, --jsonl, --skip-done, and the engine options (shared by the batch commands).

    --scheduler, --file-timeout, --file-memory, --storage-option, --results and --results-format are not
    passed to the command: :func:`drive` reads them from the click context.
    """
    func = click.option("--storage-option", "storage_options", multiple=True, metavar="KEY=VALUE",
                        expose_value=False, callback=_storage_options,
                        help="fsspec option for URL inputs/outputs (s3://...), e.g. endpoint_url=http://minio:9000 "
                             "or client_kwargs.region_name=cn-north-1; repeatable.")(func)
    func = click.option("--file-memory", metavar="SIZE", expose_value=False, callback=_size,
                        help="Memory cap per file (e.g. 512M, 2G): a file that needs more is 'error: memory'.")(func)
    func = click.option("--file-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                        expose_value=False, callback=_keep,
                        help="Time limit per file: a file still running after it is stopped, 'error: timeout'.")(func)
    func = click.option("--scheduler", metavar="ADDRESS", expose_value=False, callback=_scheduler,
                        help="Run on a Dask cluster: a scheduler address (tcp://host:8786), or local[:N] for N "
                             "worker processes on this host (needs the [cluster] extra; --jobs is then unused).")(func)
    func = click.option("--results-format", type=click.Choice(["jsonl", "parquet"]), default="jsonl",
                        show_default=True, expose_value=False, callback=_keep,
                        help="Format of --results: JSON Lines, or a Parquet dataset partitioned by date and verdict "
                             "(needs pyarrow, the [cluster] extra).")(func)
    func = click.option("--results", "results_dest", metavar="DEST", expose_value=False, callback=_keep,
                        help="Also write every file's result here: a JSON Lines file (appended), or with "
                             "--results-format parquet a dataset directory or URL (s3://bucket/results/).")(func)
    func = click.option("--skip-done", metavar="LOG",
                        help="Resume: skip files already done in this JSON Lines log (lines without \"error\") or "
                             "Parquet results dataset (rows without an error).")(func)
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
          skip_done: str | None, label: str, on_outcome: Callable[[Any], Any],
          text_to_stdout: bool, rows_are_values: bool = False) -> Any:
    """Run *task* over the inputs; *on_outcome* handles each outcome and returns its JSON Lines object
    (a dict, or the outcome's :class:`~aigclabel.batch.Rendered` value, whose line is echoed as it is).

    *rows_are_values*: a file's JSON Lines object is its value's ``to_dict()``; with ``--jsonl`` the workers
    then send the finished line (:class:`~aigclabel.batch.RenderRows`) and *on_outcome* gets it as the value.

    Returns the :class:`~aigclabel.batch.Summary`; prints it to stderr when there was more than one
    file or a directory input.
    """
    from aigclabel import storage
    from aigclabel.batch import FileLimits, Rendered, RenderRows, Summary, jobs_count, pending, run

    engine = click.get_current_context().meta.get(_META, {})
    options = engine.get("storage_options") or {}
    storage.configure(options)
    task = storage.wrap(task, options)
    if jsonl and rows_are_values:
        task = RenderRows(task)
    limits = FileLimits(engine.get("file_timeout"), engine.get("file_memory"))
    results = _open_results(engine, label)
    items: Iterable[Any] = pending(files, recursive=recursive, skip_done=skip_done)
    summary = Summary()
    bar = None
    if progress_wanted(text_to_stdout):
        items = list(items)
        if len(items) >= 20:
            bar = click.progressbar(length=len(items), label=label, file=sys.stderr)
            bar.__enter__()
    try:
        for outcome in run(items, task, jobs=jobs_count(jobs), ordered=not jsonl, scheduler=engine.get("scheduler"),
                           file_limits=limits or None):
            summary.add(outcome)
            obj = on_outcome(outcome)
            if jsonl and obj is not None:
                click.echo(obj.line if isinstance(obj, Rendered) else json.dumps(obj, ensure_ascii=False))
            if results is not None:
                results.add(outcome, obj.to_dict() if isinstance(obj, Rendered) else obj)
            if bar is not None:
                bar.update(1)
    finally:  # a closed pipe (`... --jsonl | head`) goes up to `guarded`: it exits with what was decided
        if bar is not None:
            bar.__exit__(None, None, None)
        if results is not None:
            results.close()  # also when interrupted: the rows written are of finished files
    if summary.files > 1 or any(is_dir_input(f) for f in files):
        click.echo(f"aigclabel {label}: {summary.line()}", err=True)
    return summary


def _open_results(engine: dict[str, Any], label: str) -> Any:
    """The --results writer (None without --results); a bad destination stops the run before any file."""
    dest = engine.get("results_dest")
    fmt = engine.get("results_format") or "jsonl"
    if dest is None:
        if fmt != "jsonl":
            raise click.UsageError(f"--results-format {fmt} needs --results DIR|URL (where the dataset goes)")
        return None
    from aigclabel.results import JsonlResults, ParquetResults

    if fmt == "parquet":
        return ParquetResults(dest, label)
    return JsonlResults(dest)


def is_dir_input(path: str) -> bool:
    """A directory, or a URL prefix (``s3://bucket/prefix/``): its files are the inputs."""
    from aigclabel import storage

    if storage.is_url(path):
        try:
            return storage.is_dir(path)
        except Exception:  # noqa: BLE001 - an unreachable URL is a file input; processing it says why
            return False
    return os.path.isdir(path)


def make_output_dir(path: str) -> None:
    """Create a local output directory (a URL prefix needs nothing: objects have no parents)."""
    from aigclabel import storage

    if not storage.is_url(path):
        os.makedirs(path, exist_ok=True)


def output_target(files: Sequence[str], output: str | None) -> tuple[bool, str | None, str | None]:
    """(one file input?, the output file, the output directory) for ``-o OUTPUT``: one file input and an output
    that is not a directory (nor ends in "/") is a file, anything else a directory (see :func:`ensure_output_dir`)."""
    single = len(files) == 1 and not is_dir_input(files[0])
    if not output:
        return single, None, None
    if single and not (output.endswith(("/", os.sep)) or is_dir_input(output)):
        return single, output, None
    return single, None, output


def ensure_output_dir(out_dir: str | None) -> None:
    """Create the output directory (after the usage checks: a usage error writes nothing); exit 3 if it cannot be."""
    if out_dir is None:
        return
    try:
        make_output_dir(out_dir)
    except OSError as exc:
        click.echo(f"aigclabel: error: {out_dir}: cannot create output directory ({exc.strerror})", err=True)
        sys.exit(3)


def report_error(outcome: Any) -> None:
    """One stderr line for a file that could not be processed (as ``echo_error`` words it)."""
    err = outcome.error
    msg = err["message"]
    if err.get("kind") == "internal-error":
        msg = f"internal error ({err.get('type')}: {msg}); please report it"
    if not msg.startswith(outcome.path):
        msg = f"{outcome.path}: {msg}"
    click.echo(f"aigclabel: error: {msg}", err=True)
