"""``aigclabel diff``: what a transform did to every label and trace of a file."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from ._common import (EXIT_CODES_HELP, dump_json, exit_code_for, guarded, json_option, limits_option,
                      profile_option)
from .render import _MARK

EPILOG = """\b
Examples:
  aigclabel diff labelled.jpg thumb.webp
  aigclabel diff upload.mp4 720p.mp4 --json
  aigclabel diff labelled.png --pipeline "convert {in} -resize 50% {out}" --suffix .webp
  aigclabel diff labelled.mp4 --pipeline "ffmpeg -y -i {in} -c:v libx264 {out}"
  aigclabel diff labelled.jpg cropped.jpg --explicit

\b
Findings (rule ids): diff.record-removed, diff.record-damaged, diff.producer-altered (a breach),
diff.propagation-removed, diff.fields-rewritten, diff.propagation-added, diff.record-moved,
diff.record-added, diff.record-kept; diff.c2pa-removed, diff.c2pa-invalidated (with the SDK's
reason), diff.c2pa-kept; diff.iptc-lost, diff.iptc-changed, diff.iptc-kept; diff.trace-lost;
with --explicit, diff.explicit-lost (visible label cropped out or shrunk, audible prompt cut) and
diff.explicit-kept; diff.not-checked when a comparison could not be made.

\b
--pipeline "CMD {in} {out}" runs your transform on BEFORE (split like a shell would, run without
one; --timeout bounds it) and diffs its output: AFTER, when given, is where the output goes (kept),
else a scratch file named with --suffix (default: BEFORE's extension) that is removed afterwards.

\b
Exit codes: 0 nothing was lost, 1 a label or trace was lost (an error finding),
2 usage, 3 could not check (unreadable file, a failed pipeline, a comparison that could not run).
"""


@click.command("diff", epilog=EPILOG + "\n\n" + EXIT_CODES_HELP)
@click.argument("before", type=click.Path(dir_okay=False))
@click.argument("after", required=False, type=click.Path(dir_okay=False))
@click.option("--pipeline", metavar="CMD", help='Run this transform on BEFORE first: "CMD ... {in} ... {out}".')
@click.option("--suffix", metavar="EXT", help="Extension of the pipeline's scratch output (default: BEFORE's).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=300.0, show_default=True, metavar="SECONDS",
              help="How long the pipeline command may run.")
@click.option("--explicit", is_flag=True,
              help="Also compare the visible/audible label (the profile's explicit checks: OCR, prompt detection).")
@profile_option
@click.option("-v", "--verbose", is_flag=True, help="Show every finding's clause and expected/actual values.")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@limits_option
@json_option
@guarded
def diff_cmd(before: str, after: str | None, pipeline: str | None, suffix: str | None, timeout: float,
             explicit: bool, profile: str, verbose: bool, password: str | None, limits: Any, as_json: bool) -> None:
    """Show what a transform did to every label and trace: what BEFORE carried that AFTER lost."""
    from aigclabel.diffing import diff, diff_pipeline
    from aigclabel.errors import AigcLabelError

    if pipeline is None and after is None:
        raise click.UsageError("give BEFORE AFTER, or BEFORE --pipeline CMD")
    if suffix is not None and (pipeline is None or after is not None):
        raise click.UsageError("--suffix names the pipeline's scratch output: give it with --pipeline and no AFTER")
    options: dict[str, Any] = {"explicit": explicit, "profile": profile, "password": password, "limits": limits}
    try:
        if pipeline is not None:
            result = diff_pipeline(before, pipeline, after=after, suffix=suffix, timeout=timeout, **options)
        else:
            assert after is not None
            result = diff(before, after, **options)
    except AigcLabelError as exc:
        if as_json:
            from aigclabel.report import error_dict

            dump_json({"before": before, "after": after, "verdict": "error", "error": error_dict(exc)})
        click.echo(f"aigclabel: error: {exc}", err=True)
        sys.exit(exit_code_for(exc))
    if as_json:
        dump_json(result.to_dict())
    else:
        _render(result, verbose)
    sys.exit(result.exit_code)


_VERDICT = {"lost": ("LOST", "red"), "kept": ("NOTHING LOST", "green"), "not-fully-checked": ("NOT FULLY CHECKED",
                                                                                               "magenta")}


def _render(result: Any, verbose: bool) -> None:
    text, colour = _VERDICT[result.verdict]
    how = f" (pipeline: {shlex.join(result.pipeline)})" if result.pipeline else ""
    click.echo(f"{result.before} ({result.before_format}) -> {result.after} ({result.after_format}): "
               f"{click.style(text, fg=colour, bold=True)}{how}")
    if not result.findings:
        click.echo("  BEFORE carries no label or trace: nothing to lose")
    for f in result.findings:
        tag, fg = _MARK[f.level]
        click.echo(f"  {click.style(tag, fg=fg)} {f.rule}: {f.message}")
        if verbose:
            click.echo(click.style(f"       [{f.clause}]" + (f" at {f.location}" if f.location else ""), dim=True))
            for key in ("expected", "actual"):
                value = getattr(f, key)
                if value is not None:
                    click.echo(click.style(f"       {key}: {value}", dim=True))
