"""``aigclabel mark``: write the implicit record (and, where available, the explicit label)."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import click

from ._batch import batch_options, drive, is_dir_input, report_error
from ._common import (EXIT_CODES_HELP, EXIT_ERROR, EXIT_OK, c2pa_signing_options, decided_codes, dump_json,
                      final_code, guarded, json_option, limits_option, profile_option)

EPILOG = """\b
Examples:
  aigclabel mark gen.jpg -o labelled.jpg --producer 001191110102MACQD9K64010000
  aigclabel mark a.png b.jpg c.png -o outdir/ --producer CODE
  aigclabel mark gen.png --in-place --producer CODE --produce-id job-42
  aigclabel mark gen.png -o out.png --producer CODE --no-explicit --audit-log waivers.jsonl
  aigclabel mark labelled.jpg -o again.jpg --producer CODE --force-explicit
  aigclabel mark speech.mp3 -o out.mp3 --producer CODE --prompt both --audio-position start --audio-position end
  aigclabel mark report.pdf -o out.pdf --producer CODE --pages all
  aigclabel mark gen.jpg -o out.jpg --producer CODE --sign-key keys/sm2-key.pem
  aigclabel mark gen/ -r -o out/ --producer CODE --sign-key keys/sm2-key.pem
  aigclabel mark gen.jpg -o out.jpg --producer CODE --c2pa \\
      --sign-cert keys/signer-chain.pem --sign-key keys/signer-key.pem [--security-key keys/sm2-key.pem]

\b
--sign-key with an SM2 key (aigclabel keys init --sm2 DIR; RSA and ECDSA P-256 keys too) signs the label:
ReservedCode1 gets TC260 SecurityData (SM3withSM2 over Label/ContentProducer/ProduceID, and a content
binding where the format has one), checked by 'aigclabel verify'. With --c2pa, --sign-key is the C2PA
certificate's key; give the signing key as --security-key to sign both. Needs the [sign] extra.
"""


def _video_extra(duration: float | None, at: tuple[str, ...], reencode: str | None) -> dict[str, object]:
    extra: dict[str, object] = {}
    if duration is not None:
        extra["duration_s"] = duration
    if at:
        extra["at"] = list(dict.fromkeys(at))
    if reencode is not None:
        extra["reencode"] = reencode
    return extra


@click.command("mark", epilog=EPILOG + "\n\n" + EXIT_CODES_HELP)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT|DIR...")
@click.option("-o", "--output", metavar="PATH",
              help="Output file, or an existing directory for several inputs (directory inputs are mirrored in it).")
@click.option("--in-place", is_flag=True, help="Rewrite each INPUT atomically instead of writing a new file.")
@click.option("--producer", required=True, metavar="CODE",
              help="ContentProducer: your provider code (27-character TC260 code recommended).")
@click.option("--produce-id", metavar="ID", help="ProduceID for this content (default: a fresh unique id).")
@profile_option
@click.option("--no-explicit", is_flag=True,
              help="Write only the implicit record; the waiver is recorded (Measures Art. 9).")
@click.option("--force-explicit", is_flag=True,
              help="Add the explicit label even when the file already shows one (by default a labelled file "
                   "gets no second label, prompt or notice).")
@click.option("--text", metavar="TEXT", help="Explicit label text (default from the profile, e.g. 'AI生成'); "
              "must contain an AI element and a generation element.")
@click.option("--position", type=click.Choice(["bottom-right", "bottom-left", "top-right", "top-left", "bottom",
                                               "top", "left", "right", "start", "end", "both"]),
              help="Images/video: corner or edge for the visible label (default bottom-right). "
                   "Text: start, end or both for the notice (default per format).")
@click.option("--prompt", type=click.Choice(["rhythm", "voice", "both"]),
              help="Audio: the audible label - Morse 'AI' rhythm, spoken '人工智能生成', or both (default rhythm).")
@click.option("--audio-position", "audio_positions", multiple=True, type=click.Choice(["start", "end", "middle"]),
              help="Audio: where the prompt goes; repeatable (default start).")
@click.option("--font", type=click.Path(exists=True, dir_okay=False), metavar="PATH",
              help="Font for the visible label (default: the bundled CJK subset, then system fonts).")
@click.option("--video-duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Video: how long the visible label stays in the opening frames (default 3; the rules ask >= 2).")
@click.option("--video-at", "video_at", multiple=True, type=click.Choice(["start", "end", "middle"]),
              help="Video: where the visible label appears; repeatable (default start).")
@click.option("--video-reencode", type=click.Choice(["auto", "full"]),
              help="Video: 'auto' re-encodes only the opening segment when it can; 'full' re-encodes everything.")
@click.option("--pages", type=click.Choice(["first", "last", "all"]),
              help="PDF: which pages get the visible stamp (default first).")
@click.option("--password", metavar="PASSWORD", help="Password of an encrypted PDF (the output stays encrypted).")
@click.option("--sidecar", is_flag=True,
              help="Also write the record to NAME.aigc.json beside each output (plain text has no carrier).")
@click.option("--audit-log", type=click.Path(dir_okay=False), metavar="FILE",
              help="Append one JSON line per marked file (what Art. 9 asks you to keep for 6 months).")
@click.option("--c2pa", "c2pa", is_flag=True,
              help="Also sign a C2PA manifest (c2pa.created, AI digitalSourceType, the AIGC record), as the "
                   "last write. Needs --sign-cert and --sign-key, and the [c2pa] extra.")
@click.option("--sign-cert", type=click.Path(exists=True, dir_okay=False), metavar="CHAIN.pem",
              help="C2PA signing certificate chain (signer first, then intermediates).")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False), metavar="KEY.pem",
              help="An SM2 (or RSA / ECDSA P-256) key: sign the label into ReservedCode1 (TC260 SecurityData; "
                   "[sign] extra). With --c2pa: the private key of the C2PA signing certificate.")
@click.option("--security-key", type=click.Path(exists=True, dir_okay=False), metavar="SM2.pem",
              help="The SM2 (or RSA / ECDSA P-256) key that signs ReservedCode1 (what --sign-key means without "
                   "--c2pa).")
@click.option("--tsa", metavar="URL", help="RFC 3161 time-stamp authority for the C2PA signature (network request).")
@click.option("--system", "system", metavar="NAME[/VERSION]",
              help="The generative AI system (and version) named in the C2PA c2pa.created action (SB 942).")
@click.option("--watermark", is_flag=True,
              help="Also embed the invisible watermark (after the explicit label, before the record): images are "
                   "re-encoded once, WAV/AIFF samples rewritten in place, FLAC re-encoded losslessly, MP3 and "
                   "Ogg Vorbis/Opus re-encoded once at their bitrate (tags kept); M4A is refused. Needs the "
                   "[watermark] extra.")
@click.option("--watermark-key", metavar="KEY",
              help="Key of the watermark's record id (default: the profile's implicit.watermark key, else the "
                   "published default key). Implies --watermark.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--durable", is_flag=True, help="fsync each output before renaming it into place (survives power loss).")
@limits_option
@json_option
@batch_options
@guarded
def mark_cmd(inputs: tuple[str, ...], output: str | None, in_place: bool, producer: str, produce_id: str | None,
             profile: str, no_explicit: bool, force_explicit: bool, text: str | None, position: str | None,
             font: str | None,
             prompt: str | None, audio_positions: tuple[str, ...], video_duration: float | None,
             video_at: tuple[str, ...], video_reencode: str | None, pages: str | None, password: str | None,
             sidecar: bool, audit_log: str | None, c2pa: bool, sign_cert: str | None, sign_key: str | None,
             security_key: str | None, tsa: str | None, system: str | None, watermark: bool,
             watermark_key: str | None, force: bool, durable: bool, limits: Any,
             as_json: bool,
             recursive: bool, jobs: int, jsonl: bool, skip_done: str | None) -> None:
    """Label INPUT files (or the files in INPUT directories) as AI-generated: the AIGC record + the explicit label."""
    from aigclabel.batch import mark_task
    from aigclabel.errors import LabelError
    from aigclabel.marking import build_record
    from aigclabel.profiles import load_profile

    if in_place and output:
        raise click.UsageError("give either -o/--output or --in-place, not both")
    if not in_place and not output:
        raise click.UsageError("give -o/--output PATH (or --in-place to rewrite the input)")
    if force_explicit and no_explicit:
        raise click.UsageError("--force-explicit adds the explicit label and --no-explicit waives it; give one")
    if as_json and jsonl:
        raise click.UsageError("--jsonl is an output format of its own; drop --json")
    if produce_id and len(inputs) > 1:
        raise click.UsageError("--produce-id names one piece of content; omit it for several inputs "
                               "(each gets a fresh id)")
    prof = load_profile(profile)  # a bad profile stops everything: exit 2
    # What is wrong for every file (producer code, label wording) stops the run before any file: exit 2.
    # Later label errors depend on the file (e.g. text too wide for a small image) and are per file.
    build_record(prof, producer=producer, produce_id=produce_id)
    if text is not None and not no_explicit and not prof.wording_ok(text):
        raise LabelError(f"explicit label text {text!r} lacks an AI element or a generation element, "
                         f"as profile {prof.id} requires")
    signer = _security_key(c2pa, sign_key, security_key, prof)
    c2pa_options = c2pa_signing_options(c2pa, sign_cert, sign_key if c2pa else None, tsa, system)
    dirs = tuple(i for i in inputs if is_dir_input(i))
    to_dir = output is not None and (len(inputs) > 1 or bool(dirs) or output.endswith(("/", os.sep))
                                     or is_dir_input(output))
    if to_dir and not is_dir_input(output):  # type: ignore[arg-type]  # to_dir implies an output
        click.echo(f"aigclabel: error: {output}: output directory does not exist", err=True)
        sys.exit(EXIT_ERROR)
    if dirs and produce_id:
        raise click.UsageError("--produce-id names one piece of content; omit it for a directory")
    if audit_log:
        from aigclabel.audit import AuditLog

        AuditLog(audit_log).close()  # unwritable: stops the run before any file (exit 3)
    task = functools.partial(
        mark_task, output=None if (to_dir or in_place) else output, out_dir=output if to_dir else None, roots=dirs,
        sidecar=sidecar, audit_log=audit_log, producer=producer, produce_id=produce_id, profile=profile,
        explicit=not no_explicit, force_explicit=force_explicit, overwrite=force, in_place=in_place,
        durable=durable, text=text, position=position,
        font=font, pages=pages, password=password, prompt=prompt, audio_positions=list(audio_positions) or None,
        explicit_extra=_video_extra(video_duration, video_at, video_reencode), c2pa=c2pa_options, limits=limits,
        signer=signer, watermark=watermark_key if watermark_key else watermark)
    results: list[dict[str, Any]] = []
    codes = decided_codes()

    def on_outcome(outcome: Any) -> dict[str, Any] | None:
        if outcome.error is not None:
            # a label that does not fit this file (text too wide for a tiny image) is this file's failure: 3
            codes.append(EXIT_ERROR if outcome.error.get("kind") == "label-error" else outcome.exit_code)
            obj = {"path": outcome.path, "source": outcome.path, "error": outcome.error}
            results.append(obj)
            report_error(outcome)
            return obj
        codes.append(EXIT_OK)
        result = outcome.value
        obj = {"path": outcome.path, **result.to_dict()}
        if as_json:
            results.append(obj)
        elif not jsonl:
            click.echo(f"{outcome.path} -> {result.destination}: {result.format}, record {result.record_json}")
            for note in result.notes:
                click.echo(f"  note: {note}")
        return obj

    drive(inputs, task, recursive=recursive, jobs=jobs, jsonl=jsonl, skip_done=skip_done, label="mark",
          on_outcome=on_outcome, text_to_stdout=not (as_json or jsonl))
    if as_json:
        dump_json(results)
    sys.exit(final_code(codes))


def _security_key(c2pa: bool, sign_key: str | None, security_key: str | None, prof: Any) -> str | None:
    """The signing key path for ReservedCode1, loaded once here so a bad key or a missing extra stops the run
    before any file (exit 2 / 3); the workers get the path (a key object does not cross processes)."""
    path = security_key or (None if c2pa else sign_key)
    if path is None:
        return None
    from aigclabel.errors import OptionError
    from aigclabel.marking import load_signer

    try:
        load_signer(path, prof)
    except OptionError as exc:
        hint = "" if c2pa or security_key else " (a C2PA key? add --c2pa and --sign-cert)"
        raise click.BadParameter(f"{exc}{hint}", param_hint="--security-key" if security_key else "--sign-key") \
            from None
    return os.path.abspath(path)


