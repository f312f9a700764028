"""``aigclabel carry``: write an original's AIGC record into renditions another tool made."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import click

from ._batch import batch_options, drive, ensure_output_dir, is_dir_input, output_target, report_error
from ._common import (EXIT_CODES_HELP, c2pa_signing_options, decided_codes, dump_json, final_code, guarded,
                      json_option, limits_option)

EPILOG = """\b
Examples:
  aigclabel carry gen.jpg thumb.webp -o thumb-labelled.webp
  aigclabel carry upload.mp4 h264-720p.mp4 -o delivery/720p.mp4 --platform-code 00119144030008867405X220001
  aigclabel carry song.mp3 cut.wav --in-place
  aigclabel carry --from gen.jpg renditions/ -o labelled/ --jsonl
  aigclabel carry --from gen.jpg renditions/ --in-place
  aigclabel carry signed.jpg thumb.webp -o out.webp --c2pa --sign-cert keys/signer-chain.pem \\
      --sign-key keys/signer-key.pem
  aigclabel carry gen.jpg thumb.webp -o out.webp --platform-code CODE --sign-key keys/sm2-key.pem

\b
The record is the original's, field for field; --platform-code (and --propagate-id, else kept or
fresh) adds a platform's ContentPropagator/PropagateID, never changing the producer's fields.
DERIVED keeps its own metadata: only the record's carriers (and the IPTC digital source type)
change. A DERIVED that already carries a different record is refused; one that carries the same
record is left as it is. What cannot be carried is said as a note: a C2PA manifest (its hard
binding covers the original's bytes) and SecurityData's content binding (carried as text, but
it no longer matches the derivative). With --c2pa --sign-cert --sign-key, DERIVED gets a C2PA
manifest of its own, signed last, naming the original (and its manifest) as parent ingredient.
With --platform-code and --sign-key (an SM2, RSA or ECDSA P-256 key; --security-key with --c2pa),
ReservedCode2 gets the platform's SecurityData, bound to DERIVED's content.

\b
Exit codes: 0 carried (or already there), 1 refused (DERIVED carries a different record),
2 usage, 3 could not carry (unreadable, unsupported format, no record in ORIGINAL).
"""


@click.command("carry", epilog=EPILOG + "\n\n" + EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True, metavar="ORIGINAL DERIVED | --from ORIGINAL FILE|DIR...")
@click.option("--from", "original", metavar="ORIGINAL", type=click.Path(dir_okay=False),
              help="Batch form: carry ORIGINAL's record into every rendition given (files, or the files in DIRs).")
@click.option("-o", "--output", metavar="OUT", help="Where to write: a file (one DERIVED), else a directory.")
@click.option("--in-place", is_flag=True, help="Rewrite each DERIVED in place (atomically).")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--platform-code", metavar="CODE",
              help="Add the propagation fields: your platform's provider code as ContentPropagator.")
@click.option("--propagate-id", metavar="ID", help="PropagateID (one DERIVED only; default: kept or fresh).")
@click.option("--c2pa", "c2pa", is_flag=True,
              help="When ORIGINAL carries a C2PA manifest, sign one for DERIVED (last write) naming ORIGINAL as "
                   "parent ingredient. Needs --sign-cert and --sign-key, and the [c2pa] extra.")
@click.option("--sign-cert", type=click.Path(exists=True, dir_okay=False), metavar="CHAIN.pem",
              help="C2PA signing certificate chain (signer first, then intermediates).")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False), metavar="KEY.pem",
              help="With --platform-code: an SM2 (or RSA / ECDSA P-256) key signing ReservedCode2 (TC260 "
                   "SecurityData; [sign] extra). With --c2pa: the private key of the C2PA signing certificate.")
@click.option("--security-key", type=click.Path(exists=True, dir_okay=False), metavar="SM2.pem",
              help="The key that signs ReservedCode2 (what --sign-key means without --c2pa).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@limits_option
@json_option
@batch_options
@guarded
def carry_cmd(files: tuple[str, ...], original: str | None, output: str | None, in_place: bool, force: bool,
              platform_code: str | None, propagate_id: str | None, c2pa: bool, sign_cert: str | None,
              sign_key: str | None, security_key: str | None, password: str | None, limits: Any,
              as_json: bool, recursive: bool, jobs: int, jsonl: bool, skip_done: str | None) -> None:
    """Carry ORIGINAL's AIGC record into DERIVED, a rendition made by another tool (with --from: many)."""
    from aigclabel.carrying import carry_task

    if original is None:
        if len(files) != 2:
            raise click.UsageError("give ORIGINAL DERIVED (two files), or --from ORIGINAL and the renditions")
        original, files = files[0], files[1:]
    if bool(output) == in_place:
        raise click.UsageError("give either -o/--output or --in-place")
    if as_json and jsonl:
        raise click.UsageError("give either --json or --jsonl, not both")
    if propagate_id and platform_code is None:
        raise click.UsageError("--propagate-id needs --platform-code")
    c2pa_options = c2pa_signing_options(c2pa, sign_cert, sign_key)
    signer = _propagator_key(security_key or (None if c2pa else sign_key), platform_code,
                             "--security-key" if security_key else "--sign-key")
    single, out_file, out_dir = output_target(files, output)
    if propagate_id and not single:
        raise click.UsageError("--propagate-id belongs to one piece of content; give one DERIVED")
    ensure_output_dir(out_dir)
    roots = tuple(f for f in files if is_dir_input(f))
    task = functools.partial(carry_task, original=original, output=out_file, out_dir=out_dir, roots=roots,
                             platform_code=platform_code, propagate_id=propagate_id, overwrite=force,
                             in_place=in_place, password=password, limits=limits, c2pa=c2pa_options,
                             signer=signer)
    results: list[dict[str, Any]] = []
    codes: list[int] = decided_codes()

    def on_outcome(outcome: Any) -> dict[str, Any]:
        codes.append(outcome.exit_code)
        if outcome.error is not None:
            report_error(outcome)
            obj = {"original": original, "path": outcome.path, "status": "error", "error": outcome.error}
        else:
            obj = outcome.value.to_dict()
            if not (as_json or jsonl):
                _render(outcome.value)
        if as_json:
            results.append(obj)
        return obj

    drive(files, task, recursive=recursive, jobs=1 if single else jobs, jsonl=jsonl, skip_done=skip_done,
          label="carry", on_outcome=on_outcome, text_to_stdout=not (as_json or jsonl))
    if as_json:
        dump_json(results)
    sys.exit(final_code(codes))


def _propagator_key(path: str | None, platform_code: str | None, hint: str) -> str | None:
    """The ReservedCode2 key path, loaded once here so a bad key stops the run before any file (exit 2); the
    workers get the path (a key object does not cross processes)."""
    if path is None:
        return None
    if platform_code is None:
        raise click.UsageError(f"{hint} signs the propagator's ReservedCode2: give --platform-code too")
    from aigclabel.errors import OptionError
    from aigclabel.security import load_signing_key

    try:
        load_signing_key(path)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None
    return os.path.abspath(path)


_STATUS_COLOUR = {"carried": "green", "unchanged": "blue", "refused": "red"}


def _render(r: Any) -> None:
    status = click.style(r.status, fg=_STATUS_COLOUR.get(r.status), bold=True)
    where = f" -> {r.destination}" if r.destination and r.destination != r.derived else ""
    click.echo(f"{r.derived}{where}: {status}" + (f"  ({r.format})" if r.format else ""))
    if r.record is not None:
        click.echo(f"  record: {r.record}")
    if r.digital_source_type:
        click.echo(f"  IPTC digital source type: {r.digital_source_type}")
    for note in r.notes:
        click.echo(f"  note: {note}")
