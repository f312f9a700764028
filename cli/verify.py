"""``aigclabel verify``: check files against a profile, clause by clause.

Also home of the batch plumbing that ``verify`` and ``review`` share: directory inputs
(``--recursive``), worker processes (``--jobs``), JSON Lines streaming (``--jsonl``), resuming
(``--skip-done``), the progress bar (on a terminal only) and the closing summary.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any, Callable, Iterable, Iterator

import click

from ._common import dump_json, guarded, json_option, limits_option, profile_option

EPILOG = """\b
Examples:
  aigclabel verify out.png
  aigclabel verify *.jpg --scope implicit --json
  aigclabel verify photo.jpg --profile my-profile.toml
  aigclabel verify out/*.png --format sarif > aigclabel.sarif
  aigclabel verify signed.jpg --profile c2pa --trust-anchors devkeys/ca.pem
  aigclabel verify uploads/ -r --jobs 4 --jsonl > verify.jsonl
  aigclabel verify uploads/ -r --jobs 4 --jsonl --skip-done verify.jsonl >> verify.jsonl   # resume

\b
--jsonl prints one JSON object per file as it finishes (any order), so a long run can be piped;
to resume an interrupted run, pass its log to --skip-done and append to it: files whose line has
no "error" are skipped, files that failed are tried again. The summary goes to stderr.
"""


# ------------------------------------------------------------------------------ shared batch plumbing


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


def jobs_count(jobs: int) -> int:
    return jobs if jobs > 0 else (os.cpu_count() or 1)


def batch_items(files: Iterable[str], recursive: bool, skip_done: str | None) -> Iterator[Any]:
    from aigclabel.batch import BadPath, discover, load_done

    items = discover(files, recursive=recursive)
    if not skip_done:
        return iter(items)
    done = load_done(skip_done)
    return (i for i in items if isinstance(i, BadPath) or os.path.normpath(i) not in done)


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
    from aigclabel.batch import Summary, run

    items: Iterable[Any] = batch_items(files, recursive, skip_done)
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
    except BrokenPipeError:
        # The reader went away (`... --jsonl | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    finally:
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


# ------------------------------------------------------------------------------ verify


@click.command("verify", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, metavar="FILE|DIR...")
@profile_option
@click.option("--scope", type=click.Choice(["implicit", "explicit", "all"]), default="all", show_default=True,
              help="Which labels to check.")
@click.option("-q", "--quiet", is_flag=True, help="Only the verdict line per file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default=None,
              help="Output format (default text; --json is short for --format json).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@click.option("--trust-anchors", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="PEM file of CA certificates trusted as C2PA signers (e.g. keys init's ca.pem).")
@click.option("--allow-network", is_flag=True,
              help="Let C2PA validation fetch remote manifests and OCSP status (off by default).")
@limits_option
@json_option
@batch_options
@guarded
def verify_cmd(files: tuple[str, ...], profile: str, scope: str, quiet: bool, fmt: str | None,
               password: str | None, trust_anchors: str | None, allow_network: bool, limits: Any, as_json: bool,
               recursive: bool, jobs: int, jsonl: bool, skip_done: str | None) -> None:
    """Check that each FILE (or each file in DIR) carries the labels the profile requires."""
    from aigclabel.batch import verify_task
    from aigclabel.profiles import load_profile

    from .render import render_report

    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json means --format json; give one of them")
    if jsonl and (as_json or fmt not in (None, "json")):
        raise click.UsageError("--jsonl is an output format of its own; drop --json/--format")
    fmt = "jsonl" if jsonl else ("json" if as_json else (fmt or "text"))
    prof = load_profile(profile)  # a bad profile stops everything: exit 2
    c2pa_options = None
    if trust_anchors or allow_network:
        from aigclabel.c2pa import ReadOptions, SigningError, load_anchors

        try:
            anchors = load_anchors(trust_anchors, "--trust-anchors file") if trust_anchors else None
        except SigningError as exc:
            raise click.BadParameter(str(exc), param_hint="--trust-anchors") from None
        c2pa_options = ReadOptions(trust_anchors=anchors, allow_network=allow_network)
    task = functools.partial(verify_task, profile=profile, scope=scope, password=password, limits=limits,
                             c2pa=c2pa_options)
    out: list[dict[str, Any]] = []
    reports: list[Any] = []
    errors: list[dict[str, Any]] = []
    codes: list[int] = []

    def on_outcome(outcome: Any) -> dict[str, Any] | None:
        codes.append(outcome.exit_code)
        if outcome.error is not None:
            obj = {"path": outcome.path, "format": None, "profile": prof.id, "verdict": "error",
                   "error": outcome.error, "findings": [], "labels": []}
            errors.append(obj)
            if fmt == "json":
                out.append(obj)
            report_error(outcome)
            return obj
        report = outcome.value
        if fmt == "jsonl":
            return report.to_dict()
        if fmt == "json":
            out.append(report.to_dict())
        elif fmt == "sarif":
            reports.append(report)
        else:
            render_report(report, quiet=quiet)
        return None

    drive(files, task, recursive=recursive, jobs=jobs, jsonl=jsonl, skip_done=skip_done, label="verify",
          on_outcome=on_outcome, text_to_stdout=fmt == "text")
    if fmt == "json":
        dump_json(out)
    elif fmt == "sarif":
        from .sarif import to_sarif

        dump_json(to_sarif(reports, errors))
    sys.exit(max(codes) if codes else 0)
