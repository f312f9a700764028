"""Entry point: ``aigclabel`` and its subcommands. Each command lives in its own module."""

from __future__ import annotations

import click

from aigclabel import __version__

from .demo import demo
from .inspect import inspect_cmd
from .keys import keys_cmd
from .mark import mark_cmd
from .profiles import profiles_cmd
from .review import review_cmd
from .serve import serve_cmd
from .verify import verify_cmd

EPILOG = """\b
Examples:
  aigclabel mark gen.png -o out.png --producer 001191110102MACQD9K64010000
  aigclabel mark *.jpg -o labelled/ --producer CODE --no-explicit
  aigclabel verify out.png --json
  aigclabel inspect upload.jpg
  aigclabel profiles show cn-gb45438-2025
  aigclabel demo

\b
Exit codes: 0 compliant, 1 non-compliant, 2 usage or profile error,
3 could not check (corrupt, unsupported, unreadable, or a required check could not run).
"""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aigclabel")
def cli() -> None:
    """Label AI-generated content and check the labels (GB 45438-2025, Labelling Measures 2025)."""


cli.add_command(mark_cmd)
cli.add_command(verify_cmd)
cli.add_command(inspect_cmd)
cli.add_command(profiles_cmd)
cli.add_command(demo)
cli.add_command(keys_cmd)
cli.add_command(review_cmd)
cli.add_command(serve_cmd)


def main() -> None:
    cli(prog_name="aigclabel")


if __name__ == "__main__":  # pragma: no cover
    main()
