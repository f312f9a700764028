"""Text rendering of reports and inspections (JSON comes straight from ``to_dict``)."""

from __future__ import annotations

import click

from aigclabel.report import Level, Report

_MARK = {Level.PASS: ("PASS", "green"), Level.INFO: ("INFO", "blue"), Level.WARNING: ("WARN", "yellow"),
         Level.ERROR: ("FAIL", "red"), Level.NOT_CHECKED: ("N/C ", "magenta")}
_VERDICT_COLOUR = {"compliant": "green", "noncompliant": "red", "inconclusive": "magenta"}


#: what the default (short) report shows; ``-v`` shows every finding in full
_SHORT_LEVELS = (Level.ERROR, Level.WARNING, Level.NOT_CHECKED)
_SHORT_MESSAGE = 200


def render_report(report: Report, *, quiet: bool = False, verbose: bool = False) -> None:
    """One verdict line per file; then the findings that need attention (all of them with *verbose*)."""
    verdict = report.verdict.value
    head = click.style(verdict.upper(), fg=_VERDICT_COLOUR.get(verdict), bold=True)
    if report.outcome == "not-labelled":
        head += " (no label found)"
    passed = sum(1 for f in report.findings if f.level is Level.PASS)
    click.echo(f"{report.path}: {head}  ({report.format}, profile {report.profile}, scope {report.scope}; "
               f"{passed} of {len(report.findings)} checks passed)")
    if quiet:
        return
    for f in report.findings:
        if not verbose and f.level not in _SHORT_LEVELS:
            continue
        tag, colour = _MARK[f.level]
        message = f.message if verbose or len(f.message) <= _SHORT_MESSAGE else f.message[:_SHORT_MESSAGE - 1] + "…"
        click.echo(f"  {click.style(tag, fg=colour)} {f.rule}: {message}")
        click.echo(click.style(f"       [{f.clause}]" + (f" at {f.location}" if f.location else ""), dim=True))


def render_inspection(insp) -> None:  # type: ignore[no-untyped-def]
    dims = f", {insp.info['width']}x{insp.info['height']}" if "width" in insp.info else ""
    click.echo(f"{insp.path}: {insp.format}{dims}")
    if not insp.labels:
        click.echo("  no AIGC record")
    for lab in insp.labels:
        schema = lab.parsed.schema if lab.parsed is not None else None
        click.echo(f"  label  {lab.carrier} [{lab.form}{', ' + schema if schema else ''}"
                   f"{', normative' if lab.normative else ', non-standard carrier'}] at {lab.location}")
        click.echo(f"         {lab.raw}")
    for t in insp.traces:
        click.echo(f"  trace  {t.kind}: {t.detail}" + (f" ({t.location})" if t.location else ""))
    for f in insp.findings:
        click.echo(f"  note   {f.message}")
