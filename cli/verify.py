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
"""


@click.command("verify", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@profile_option
@click.option("--scope", type=click.Choice(["implicit", "explicit", "all"]), default="all", show_default=True,
              help="Which labels to check.")
@click.option("-q", "--quiet", is_flag=True, help="Only the verdict line per file.")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@json_option
@guarded
def verify_cmd(files: tuple[str, ...], profile: str, scope: str, quiet: bool, password: str | None,
               as_json: bool) -> None:
    """Check that each FILE carries the labels the profile requires."""
    from aigclabel.profiles import load_profile
    from aigclabel.verifier import verify

    from .render import render_report

    prof = load_profile(profile)
    out, codes = [], []
    for path in progress(list(files), "verifying"):
        try:
            report = verify(path, profile=prof, scope=scope, password=password)
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the run
            codes.append(exit_code_for(exc))
            out.append({"path": path, "format": None, "profile": prof.id, "verdict": "error",
                        "error": error_dict(exc), "findings": [], "labels": []})
            echo_error(exc, path)
            continue
        codes.append(report.exit_code)
        if as_json:
            out.append(report.to_dict())
        else:
            render_report(report, quiet=quiet)
    if as_json:
        dump_json(out)
    sys.exit(max(codes) if codes else 0)
