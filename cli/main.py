"""Entry point: ``aigclabel`` and its subcommands. Each command lives in its own module."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from aigclabel import __version__

from .checks import checks_cmd
from .clean import clean_cmd
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
  aigclabel clean labelled/ --older-than 1h
  aigclabel checks

\b
Exit codes: 0 compliant, 1 non-compliant, 2 usage or profile error,
3 could not check (corrupt, unsupported, unreadable, or a required check could not run);
with several files the most serious wins: 1 > 3 > 2 > 0;
130 interrupted (SIGINT), 143 terminated (SIGTERM): outputs in progress are removed.
"""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="aigclabel")
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
cli.add_command(clean_cmd)
cli.add_command(checks_cmd)

#: the exit status a shell reports for a process ended by SIGTERM (128 + 15)
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(SystemExit):
    """SIGTERM, raised where the program was: ``finally`` blocks and :func:`~aigclabel._io.atomic_output`
    remove the temporary files of the write in progress, as for Ctrl-C.  A SystemExit, so no
    ``except Exception`` on the way swallows it."""

    def __init__(self) -> None:
        super().__init__(EXIT_TERMINATED)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM during the clean-up ends the process the default way.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print("aigclabel: terminated", file=sys.stderr)
    raise Terminated()


def install_signal_handlers() -> None:
    """SIGTERM handled like SIGINT (an exception at the point of interruption, clean-up, exit 143)."""
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def main() -> None:
    install_signal_handlers()
    cli(prog_name="aigclabel")


if __name__ == "__main__":  # pragma: no cover
    main()
