"""Text rendering of reports and inspections (JSON comes straight from ``to_dict``)."""

from __future__ import annotations

import click

from aigclabel.report import Level, Report

_MARK = {Level.PASS: ("PASS", "green"), Level.INFO: ("INFO", "blue"), Level.WARNING: ("WARN", "yellow"),
         Level.ERROR: ("FAIL", "red"), Level.NOT_CHECKED: ("N/C ", "magenta")}
_VERDICT_COLOUR = {"compliant": "green", "noncompliant": "red", "inconclusive": "magenta"}


def render_report(report: Report, *, quiet: bool = False) -> None:
    verdict = report.verdict.value
    head = click.style(verdict.upper(), fg=_VERDICT_COLOUR.get(verdict), bold=True)
    click.echo(f"{report.path}: {head}  ({report.format}, profile {report.profile}, scope {report.scope})")
    if quiet:
        return
    for f in report.findings:
        tag, colour = _MARK[f.level]
        click.echo(f"  {click.style(tag, fg=colour)} {f.rule}: {f.message}")
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
