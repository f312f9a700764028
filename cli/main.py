"""Entry point: ``aigclabel`` and its subcommands. Each command lives in its own module."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from aigclabel import __version__

#: subcommand -> (module in this package, command object, the one line `aigclabel --help` shows).  Modules are
#: imported when their command runs, so `--help` and every command load only what they use (issue 15); the help
#: lines are kept here for the same reason, and a test checks each equals its command's own short help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "carry": ("carry", "carry_cmd",
              "Carry ORIGINAL's AIGC record into DERIVED, a rendition made by another tool (with --from: many)."),
    "checks": ("checks", "checks_cmd",
               "List every check: its stable id, scope, what passes, and its clause and level per profile."),
    "clean": ("clean", "clean_cmd", "Remove aigclabel's stale temporary files and directories in DIR."),
    "demo": ("demo", "demo", "Mark every bundled sample file and verify the results."),
    "diff": ("diff", "diff_cmd",
             "Show what a transform did to every label and trace: what BEFORE carried that AFTER lost."),
    "inspect": ("inspect", "inspect_cmd",
                "Show every AIGC record and AI-generation trace in each FILE (or each file in DIR)."),
    "keys": ("keys", "keys_cmd", "Signing credentials for C2PA Content Credentials."),
    "mark": ("mark", "mark_cmd", "Label INPUT files (or the files in INPUT directories) as AI-generated: the AIGC "
             "record + the explicit label."),
    "profiles": ("profiles", "profiles_cmd", "List the labelling profiles."),
    "review": ("review", "review_cmd", "Review uploads as a platform: decide the tier and notice of each FILE, add "
               "the propagation fields."),
    "serve": ("serve", "serve_cmd", "Serve review and verify over HTTP."),
    "verify": ("verify", "verify_cmd",
               "Check that each FILE (or each file in DIR) carries the labels the profile requires."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use (click documents this pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        import importlib

        command = getattr(importlib.import_module(f"{__package__}.{entry[0]}"), entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click would import every command for its short help; the lines above say the same without that
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.utils.make_default_short_help(help_line, limit))
                for name, (_, _, help_line) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="aigclabel")
def cli() -> None:
    """Label AI-generated content and check the labels (GB 45438-2025, Labelling Measures 2025)."""


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
