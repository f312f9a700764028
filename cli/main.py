from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """aigclabel"""


def main() -> None:
    cli()
