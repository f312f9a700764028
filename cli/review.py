"""``aigclabel review``: the platform's upload review - tier, notice, propagation record."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import click

from ._common import EXIT_CODES_HELP, decided_codes, dump_json, final_code, guarded, json_option, limits_option
from ._batch import batch_options, drive, ensure_output_dir, is_dir_input, output_target, report_error

EPILOG = """\b
Examples:
  aigclabel review upload.png --platform-code 00119144030008867405X220001
  aigclabel review upload.jpg --platform-code CODE --declared-ai --json
  aigclabel review upload.png --platform-code CODE -o spread.png
  aigclabel review incoming/ -r --platform-code CODE --write --jobs 4 --jsonl > review.jsonl
  aigclabel review incoming/ -r --platform platform.toml -o spread/ --jsonl --skip-done review.jsonl >> review.jsonl

\b
Tiers (Measures Art. 6): 1 the AIGC record says AI-generated; 2 no record, the uploader declared
AI; 3 neither, but traces of generation (C2PA/IPTC source type, generator metadata, a visible or
audible label); none otherwise. The platform's ContentPropagator and PropagateID are added to the
record, the producer's fields kept unchanged; tiers 2 and 3 get a new record (Label "2"/"3").
Without -o/--write nothing is written and "record" shows what would be.

\b
-o OUT writes a copy: a file for one input file, else a directory (mirroring input directories).
--write rewrites each input in place (atomically); refused for C2PA-signed files (the change would
break the manifest's hard binding) - write a copy with -o instead.

\b
--platform FILE.toml is a platform profile: code, name, language ("zh"/"en"), [notices.zh] /
[notices.en] with tier1..tier3, detect_explicit, unknown_producer, replace_malformed.

\b
Exit codes: 0 reviewed (and written when asked), 1 a requested write was refused (conflicting or
malformed records, C2PA in place, format not writable), 2 usage, 3 a file could not be reviewed.
"""


@click.command("review", epilog=EPILOG + "\n\n" + EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE|DIR...")
@click.option("--platform-code", metavar="CODE",
              help="ContentPropagator: your platform's provider code (27-character TC260 code, service type 2).")
@click.option("--platform", "platform_file", type=click.Path(dir_okay=False), metavar="FILE.toml",
              help="Platform profile (code, notices, options); --platform-code overrides its code.")
@click.option("--declared-ai", is_flag=True, help="The uploader declared the content AI-generated (tier 2).")
@click.option("-o", "--output", metavar="OUT", help="Write the propagated copy here (file, or directory).")
@click.option("--write", is_flag=True, help="Write the propagation record into each input, in place.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--propagate-id", metavar="ID", help="PropagateID (one file only; default: kept or fresh).")
@click.option("--reserved-code2", metavar="DATA", help="ReservedCode2: the platform's security data (one file only).")
@click.option("--language", type=click.Choice(["zh", "en"]), help="Language of the notice (default: profile, else en).")
@click.option("--detect-explicit", type=click.Choice(["auto", "always", "never"]),
              help="Look for visible/audible labels (OCR, Morse): only when metadata decides nothing (auto, "
                   "default), always, or never (metadata only, fastest).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False), metavar="SM2.pem",
              help="Sign the platform's fields into ReservedCode2 (TC260 SecurityData; [sign] extra) when writing.")
@click.option("--trusted-keys", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Trusted keys (provider code -> SM2 public keys): a record signed by a key not listed for its "
                   "ContentProducer, or with an invalid signature, is not tier 1.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), metavar="REPORT.html",
              help="Also write the review page of these files as one self-contained HTML file (no external "
                   "request): verdicts, records, findings, OCR boxes, waveforms, notices, C2PA chains.")
@limits_option
@json_option
@batch_options
@guarded
def review_cmd(files: tuple[str, ...], platform_code: str | None, platform_file: str | None, declared_ai: bool,
               output: str | None, write: bool, force: bool, propagate_id: str | None, reserved_code2: str | None,
               language: str | None, detect_explicit: str | None, password: str | None, sign_key: str | None,
               trusted_keys: str | None, limits: Any, as_json: bool,
               recursive: bool, jobs: int, jsonl: bool, skip_done: str | None, html_out: str | None = None) -> None:
    """Review uploads as a platform: decide the tier and notice of each FILE, add the propagation fields."""
    from aigclabel.batch import review_task
    from aigclabel.platform import PlatformConfig, load_platform

    if output and write:
        raise click.UsageError("give either -o/--output or --write, not both")
    if as_json and jsonl:
        raise click.UsageError("give either --json or --jsonl, not both")
    overrides = {"code": platform_code, "language": language, "detect_explicit": detect_explicit,
                 "sign_key": sign_key and os.path.abspath(sign_key),
                 "trusted_keys": trusted_keys and os.path.abspath(trusted_keys)}
    if platform_file:
        cfg = load_platform(platform_file, **overrides)
    elif platform_code:
        cfg = PlatformConfig(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    else:
        raise click.UsageError("give --platform-code CODE (or --platform FILE.toml)")
    for warning in cfg.code_warnings():
        click.echo(f"aigclabel: warning: {warning}", err=True)
    single, out_file, out_dir = output_target(files, output)
    if (propagate_id or reserved_code2) and not single:
        raise click.UsageError("--propagate-id/--reserved-code2 belong to one piece of content; give one file")
    ensure_output_dir(out_dir)
    roots = tuple(f for f in files if is_dir_input(f))

    if single:
        # one file: the library call directly, so --propagate-id and --reserved-code2 apply
        from aigclabel.platform import review

        def task(path: str) -> Any:
            return review(path, platform=cfg, declared_ai=declared_ai, write=write, output=out_file,
                          propagate_id=propagate_id, reserved_code2=reserved_code2, overwrite=force,
                          password=password, limits=limits)
    else:
        task = functools.partial(review_task, platform=cfg, declared_ai=declared_ai, write=write, out_dir=out_dir,
                                 roots=roots, overwrite=force, password=password, limits=limits)

    results: list[dict[str, Any]] = []
    codes: list[int] = decided_codes()

    reviewed: list[tuple[str, Any]] = []  # (path, error) for --html

    def on_outcome(outcome: Any) -> Any:
        reviewed.append((outcome.path, outcome.error))
        codes.append(outcome.exit_code)
        if outcome.error is not None:
            report_error(outcome)
            obj = {"path": outcome.path, "tier": None, "notice": None, "evidence": [], "record": None,
                   "error": outcome.error}
        elif jsonl:
            return outcome.value  # a batch.Rendered: the line the worker made of the review's to_dict()
        else:
            obj = outcome.value.to_dict()
            if not as_json:
                _render(outcome.value)
        if as_json:
            results.append(obj)
        return obj

    drive(files, task, recursive=recursive, jobs=1 if single else jobs, jsonl=jsonl, skip_done=skip_done,
          label="review", on_outcome=on_outcome, text_to_stdout=not (as_json or jsonl), rows_are_values=True)
    if as_json:
        dump_json(results)
    if html_out:
        _write_html(html_out, reviewed, cfg, declared_ai, password, limits)
    sys.exit(final_code(codes))


def _write_html(dest: str, reviewed: list[tuple[str, Any]], cfg: Any, declared_ai: bool, password: str | None,
                limits: Any) -> None:
    """--html: each file's view (the review page's data model) in one self-contained file."""
    from aigclabel.errors import AigcLabelError
    from aigclabel.reviewpage import build_view, render_html

    views, errors = [], []
    for path, error in reviewed:
        if error is None:
            try:
                views.append(build_view(path, platform=cfg, declared_ai=declared_ai, password=password,
                                        limits=limits, name=path))
                continue
            except AigcLabelError as exc:
                error = {"message": str(exc)}
        errors.append({"path": path, "error": str(error.get("message", error) if isinstance(error, dict) else error)})
    try:
        with open(dest, "w", encoding="utf-8") as fh:
            fh.write(render_html(views, errors))
    except OSError as exc:
        click.echo(f"aigclabel: error: {dest}: cannot write the HTML report ({exc.strerror})", err=True)
        sys.exit(3)
    click.echo(f"aigclabel: review page of {len(views)} file(s) written to {dest}", err=True)


_TIER_COLOUR = {1: "red", 2: "yellow", 3: "magenta"}


def _render(r: Any) -> None:
    tier = click.style(f"tier {r.tier}", fg=_TIER_COLOUR[r.tier], bold=True) if r.tier else "no tier"
    notice = f" - {r.notice}" if r.notice else ""
    click.echo(f"{r.path}: {tier}{notice}  ({r.format})")
    click.echo(f"  relied on: {r.relied_on}")
    for item in r.evidence:
        click.echo(f"  {item.kind}: {item.detail}")
    if r.record is not None and r.output is None:
        click.echo(f"  record (not written): {r.record.to_json()}")

