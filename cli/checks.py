"""``aigclabel checks``: every check the verifier runs, with the clause and level each profile gives it."""

from __future__ import annotations

import click

from ._common import dump_json, guarded, json_option


@click.command("checks", epilog="\b\nExamples:\n  aigclabel checks\n  aigclabel checks --profile iptc\n"
                                "  aigclabel checks --json\n  aigclabel checks --findings\n"
                                "  aigclabel checks --markdown > docs/checks.md")
@click.option("--profile", "-p", "profile_id", metavar="ID", help="Only the checks this shipped profile uses.")
@click.option("--markdown", is_flag=True, help="The full catalogue as Markdown (docs/checks.md).")
@click.option("--findings", "findings", is_flag=True,
              help="The ids of the readers' structural findings, the record checks and diff instead.")
@json_option
@guarded
def checks_cmd(profile_id: str | None, markdown: bool, findings: bool, as_json: bool) -> None:
    """List every check: its stable id, scope, what passes, and its clause and level per profile."""
    from aigclabel.checks import READER_FINDINGS, catalogue, to_markdown

    if findings:
        if as_json:
            dump_json([{"id": fid, "from": where, "levels": levels.split(", "), "meaning": meaning}
                       for fid, (where, levels, meaning) in sorted(READER_FINDINGS.items())])
        else:
            for fid, (where, levels, meaning) in sorted(READER_FINDINGS.items()):
                click.echo(f"{fid:32} {levels:16} {meaning} ({where})")
        return

    entries = catalogue()
    if profile_id:
        from aigclabel.profiles import load_profile

        prof = load_profile(profile_id)  # unknown: a ProfileError, exit 2
        entries = [e for e in entries if prof.id in e.profiles]
    if markdown:
        click.echo(to_markdown(entries), nl=False)
    elif as_json:
        dump_json([e.to_dict() for e in entries])
    else:
        for e in entries:
            uses = ", ".join(f"{pid}: {u['level'] if u['enabled'] else 'off'}" for pid, u in sorted(e.profiles.items()))
            click.echo(f"{e.id:32} {e.scope:9} {e.summary}")
            click.echo(click.style(f"{'':32} {'':9} {uses or 'no shipped profile'}", dim=True))
