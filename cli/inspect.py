"""``aigclabel inspect``: every label and trace a file carries, whatever the profile."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import (EXIT_CODES_HELP, EXIT_ERROR, decided_codes, dump_json, echo_error, error_dict, exit_code_for,
                      final_code, guarded, json_option, limits_option)


@click.command("inspect", epilog="\b\nExamples:\n  aigclabel inspect upload.jpg\n  aigclabel inspect *.png --json\n\n"
                                 + EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE|DIR...")
@click.option("-r", "--recursive", is_flag=True,
              help="Walk directories recursively (otherwise only their top-level files).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@limits_option
@json_option
@guarded
def inspect_cmd(files: tuple[str, ...], recursive: bool, password: str | None, limits: Any, as_json: bool) -> None:
    """Show every AIGC record and AI-generation trace in each FILE (or each file in DIR)."""
    from aigclabel.batch import BadPath, discover
    from aigclabel.verifier import inspect

    from .render import render_inspection

    out: list[dict[str, Any]] = []
    codes = decided_codes()
    for item in discover(files, recursive=recursive):
        if isinstance(item, BadPath):
            codes.append(EXIT_ERROR)
            out.append({"path": item.path, "error": item.error})
            click.echo(f"aigclabel: error: {item.path}: {item.error['message']}", err=True)
            continue
        path = item
        try:
            insp = inspect(path, password=password, limits=limits)
        except Exception as exc:  # noqa: BLE001
            codes.append(exit_code_for(exc))
            out.append({"path": path, "error": error_dict(exc)})
            echo_error(exc, path)
            continue
        codes.append(0)
        if as_json:
            out.append(insp.to_dict())
        else:
            render_inspection(insp)
    if as_json:
        dump_json(out)
    sys.exit(final_code(codes))
