"""``aigclabel profiles``: list the shipped profiles or show one, resolved, with its clauses."""

from __future__ import annotations

import click

from ._common import dump_json, guarded, json_option


@click.group("profiles", invoke_without_command=True,
             epilog="\b\nExamples:\n  aigclabel profiles\n  aigclabel profiles show cn-gb45438-2025\n"
                    "  aigclabel profiles show ./my-profile.toml --json")
@json_option
@click.pass_context
@guarded
def profiles_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the labelling profiles."""
    if ctx.invoked_subcommand is not None:
        return
    from aigclabel.profiles import DEFAULT_PROFILE, list_profiles

    profiles = list_profiles()
    if as_json:
        dump_json([{"id": p.id, "title": p.title, "jurisdiction": p.jurisdiction, "status": p.status,
                    "default": p.id == DEFAULT_PROFILE} for p in profiles])
        return
    for p in profiles:
        star = "*" if p.id == DEFAULT_PROFILE else " "
        click.echo(f"{star} {p.id:<24} {p.jurisdiction:<4} {p.status:<12} {p.title}")


@profiles_cmd.command("show")
@click.argument("profile", metavar="ID|PATH")
@json_option
@guarded
def show_cmd(profile: str, as_json: bool) -> None:
    """Show a profile with `extends` resolved: marking defaults and every requirement with its clause."""
    from aigclabel.profiles import load_profile

    p = load_profile(profile)
    if as_json:
        dump_json(p.to_dict())
        return
    click.echo(f"{p.id}: {p.title}")
    if p.extends:
        click.echo(f"  extends: {' -> '.join(p.extends)}")
    for key in ("description", "jurisdiction", "status", "source"):
        if getattr(p, key):
            click.echo(f"  {key}: {getattr(p, key)}")
    click.echo("  marking:")
    for key, value in vars(p.marking).items():
        click.echo(f"    {key} = {value!r}")
    click.echo("  requirements:")
    for r in p.rules.values():
        state = r.level if r.enabled else "disabled"
        click.echo(f"    {r.id:<30} {state:<8} {r.clause}")
        extra = {k: v for k, v in r.options.items()}
        if extra:
            click.echo(f"    {'':<30} {'':<8} options: {extra}")
