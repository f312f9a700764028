"""``aigclabel verify``: check files against a profile, clause by clause (batch plumbing: ``_batch.py``)."""

from __future__ import annotations

import functools
import sys
from typing import Any

import click

from ._batch import batch_options, drive, report_error
from ._common import (EXIT_CODES_HELP, decided_codes, dump_json, final_code, guarded, json_option, limits_option,
                      profile_option)

EPILOG = """\b
Examples:
  aigclabel verify out.png
  aigclabel verify *.jpg --scope implicit --json
  aigclabel verify photo.jpg --profile my-profile.toml
  aigclabel verify out/*.png --format sarif > aigclabel.sarif
  aigclabel verify signed.jpg --profile c2pa --trust-anchors devkeys/ca.pem
  aigclabel verify labelled.jpg --trusted-keys providers.toml     # SecurityData signers pinned to producers
  aigclabel verify uploads/ -r --jobs 4 --jsonl > verify.jsonl
  aigclabel verify uploads/ -r --jobs 4 --jsonl --skip-done verify.jsonl >> verify.jsonl   # resume

\b
--jsonl prints one JSON object per file as it finishes (any order), so a long run can be piped;
to resume an interrupted run, pass its log to --skip-done and append to it: files whose line has
no "error" are skipped, files that failed are tried again. The summary goes to stderr.
"""


# ------------------------------------------------------------------------------ verify


def trusted_profile(prof: Any, trusted_keys: str) -> Any:
    """*prof* with the SecurityData rule pinned to *trusted_keys*, the file checked now (a bad one: exit 2).

    The keys ride in the profile because that is what every batch task already receives."""
    from aigclabel.errors import OptionError
    from aigclabel.security import load_trusted_keys
    from aigclabel.verifier import with_trusted_keys

    try:
        load_trusted_keys(trusted_keys)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--trusted-keys") from None
    return with_trusted_keys(prof, trusted_keys)


@click.command("verify", epilog=EPILOG + "\n\n" + EXIT_CODES_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE|DIR...")
@profile_option
@click.option("--scope", type=click.Choice(["implicit", "explicit", "all"]), default="all", show_default=True,
              help="Which labels to check.")
@click.option("-q", "--quiet", is_flag=True, help="Only the verdict line per file.")
@click.option("-v", "--verbose", is_flag=True,
              help="Every finding in full, passes included (default: the verdict and what needs attention).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default=None,
              help="Output format (default text; --json is short for --format json).")
@click.option("--password", metavar="PASSWORD", help="Password of encrypted PDFs.")
@click.option("--trust-anchors", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="PEM file of CA certificates trusted as C2PA signers (e.g. keys init's ca.pem).")
@click.option("--trusted-keys", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Trusted keys (provider code -> SM2 public keys, TOML/JSON; keys init --sm2 writes one): a "
                   "ReservedCode1/2 signature by a key not listed for the producer it names is an error.")
@click.option("--allow-network", is_flag=True,
              help="Let C2PA validation fetch remote manifests and OCSP status (off by default).")
@limits_option
@json_option
@batch_options
@guarded
def verify_cmd(files: tuple[str, ...], profile: str, scope: str, quiet: bool, verbose: bool, fmt: str | None,
               password: str | None, trust_anchors: str | None, trusted_keys: str | None, allow_network: bool,
               limits: Any, as_json: bool,
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
    task_profile: Any = profile
    if trusted_keys:
        task_profile = trusted_profile(prof, trusted_keys)
    task = functools.partial(verify_task, profile=task_profile, scope=scope, password=password, limits=limits,
                             c2pa=c2pa_options)
    out: list[dict[str, Any]] = []
    reports: list[Any] = []
    errors: list[dict[str, Any]] = []
    codes: list[int] = decided_codes()

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
            return report  # a batch.Rendered: the line the worker made of report.to_dict()
        if fmt == "json":
            out.append(report.to_dict())
        elif fmt == "sarif":
            reports.append(report)
        else:
            render_report(report, quiet=quiet, verbose=verbose)
        return None

    drive(files, task, recursive=recursive, jobs=jobs, jsonl=jsonl, skip_done=skip_done, label="verify",
          on_outcome=on_outcome, text_to_stdout=fmt == "text", rows_are_values=True)
    if fmt == "json":
        dump_json(out)
    elif fmt == "sarif":
        from .sarif import to_sarif

        dump_json(to_sarif(reports, errors))
    sys.exit(final_code(codes))
