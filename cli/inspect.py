"""``aigclabel inspect``: every label and trace a file carries, whatever the profile."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._common import (EXIT_CODES_HELP, EXIT_ERROR, decided_codes, dump_json, echo_error, error_dict, exit_code_for,
                      final_code, guarded, json_option, limits_option)


EPILOG = """\b
Examples:
  aigclabel inspect upload.jpg
  aigclabel inspect *.png --json
  aigclabel inspect signed.jpg --trusted-keys providers.toml
  aigclabel inspect screenshot.jpg --watermark

\b
Each GB 45438 record's ReservedCode1 (producer) and ReservedCode2 (propagator) is shown as its TC260
SecurityData state: absent, opaque (not SecurityData: recorded, not judged), valid, invalid (tampered)
or unverifiable; with the content binding and, given --trusted-keys, whether the key is the producer's.
"""


@click.command("inspect", epilog=EPILOG + "\n\n" + EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE|DIR...")
@click.option("-r", "--recursive", is_flag=True,
              help="Walk directories recursively (otherwise only their top-level files).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@click.option("--trusted-keys", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Trusted keys (provider code -> SM2 public keys): say whether each signing key is the producer's.")
@click.option("--watermark", is_flag=True,
              help="Also look for the invisible watermark (decodes the picture or audio; [watermark] extra).")
@click.option("--watermark-key", metavar="KEY",
              help="Key the watermark ids were made with, to match a found payload with the record (default: the "
                   "published default key). Implies --watermark.")
@limits_option
@json_option
@guarded
def inspect_cmd(files: tuple[str, ...], recursive: bool, password: str | None, trusted_keys: str | None,
                watermark: bool, watermark_key: str | None, limits: Any, as_json: bool) -> None:
    """Show every AIGC record and AI-generation trace in each FILE (or each file in DIR)."""
    from aigclabel.batch import BadPath, discover
    from aigclabel.verifier import inspect

    from .render import render_inspection

    trusted = None
    if trusted_keys:
        from aigclabel.errors import OptionError
        from aigclabel.security import load_trusted_keys

        try:
            trusted = load_trusted_keys(trusted_keys)
        except OptionError as exc:
            raise click.BadParameter(str(exc), param_hint="--trusted-keys") from None
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
            insp = inspect(path, password=password, limits=limits, trusted_keys=trusted,
                           watermark=watermark_key if watermark_key else watermark)
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
            _render_security(insp)
            if insp.watermark is not None:
                click.echo(f"  watermark  {insp.watermark['status']}: {insp.watermark['message']}")
    if as_json:
        dump_json(out)
    sys.exit(final_code(codes))


def _render_security(insp: Any) -> None:
    """One line per signed field of each record (nothing for records that hold no ReservedCode values)."""
    for results in insp.security:
        if all(r["status"] == "absent" for r in results):
            continue
        for r in results:
            line = f"  sign   {r['field']}: {r['status']}"
            if r["status"] not in ("absent", "opaque"):
                extra = [f"form {r['form']}" if r.get("form") else "",
                         f"KeyID {r['key_id']}" if r.get("key_id") else ""]
                if r["status"] == "valid":
                    extra += [f"binding {r['binding']}", f"trust {r['trust']}"]
                line += " (" + ", ".join(x for x in extra if x) + ")"
            click.echo(line)
            click.echo(f"         {r['reason']}")
            if r["status"] == "valid":
                for why in (r.get("binding_reason"), r.get("trust_reason")):
                    if why:
                        click.echo(f"         {why}")
