"""``aigclabel verify``: check files against a profile, clause by clause."""

from __future__ import annotations

import sys

import click

from ._common import dump_json, echo_error, error_dict, exit_code_for, guarded, json_option, profile_option, progress

EPILOG = """\b
Examples:
  aigclabel verify out.png
  aigclabel verify *.jpg --scope implicit --json
  aigclabel verify photo.jpg --profile my-profile.toml
  aigclabel verify out/*.png --format sarif > aigclabel.sarif
"""


@click.command("verify", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@profile_option
@click.option("--scope", type=click.Choice(["implicit", "explicit", "all"]), default="all", show_default=True,
              help="Which labels to check.")
@click.option("-q", "--quiet", is_flag=True, help="Only the verdict line per file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default=None,
              help="Output format (default text; --json is short for --format json).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@json_option
@guarded
def verify_cmd(files: tuple[str, ...], profile: str, scope: str, quiet: bool, fmt: str | None,
               password: str | None, as_json: bool) -> None:
    """Check that each FILE carries the labels the profile requires."""
    from aigclabel.profiles import load_profile
    from aigclabel.verifier import verify

    from .render import render_report

    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json means --format json; give one of them")
    fmt = "json" if as_json else (fmt or "text")
    prof = load_profile(profile)
    out, codes, reports, errors = [], [], [], []
    for path in progress(list(files), "verifying"):
        try:
            report = verify(path, profile=prof, scope=scope, password=password)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
            codes.append(exit_code_for(exc))
            errors.append({"path": path, "format": None, "profile": prof.id, "verdict": "error",
                           "error": error_dict(exc), "findings": [], "labels": []})
            out.append(errors[-1])
            echo_error(exc, path)
            continue
        codes.append(report.exit_code)
        if fmt == "json":
            out.append(report.to_dict())
        elif fmt == "sarif":
            reports.append(report)
        else:
            render_report(report, quiet=quiet)
    if fmt == "json":
        dump_json(out)
    elif fmt == "sarif":
        from .sarif import to_sarif

        dump_json(to_sarif(reports, errors))
    sys.exit(max(codes) if codes else 0)
