"""What every command shares: options, error rendering, exit codes, progress."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Iterable, Iterator, TypeVar

import click

from aigclabel.errors import AigcLabelError
from aigclabel.profiles import DEFAULT_PROFILE
from aigclabel.report import EXIT_POLICY, error_dict  # noqa: F401 - error_dict is shared by the commands

T = TypeVar("T")

EXIT_OK, EXIT_NONCOMPLIANT, EXIT_USAGE, EXIT_ERROR = (EXIT_POLICY.OK, EXIT_POLICY.NONCOMPLIANT, EXIT_POLICY.USAGE,
                                                    EXIT_POLICY.ERROR)

#: appended to every file-processing command's --help
EXIT_CODES_HELP = """\b
Exit codes:
  0  compliant / done
  1  non-compliant (a required label is missing or wrong)
  2  usage error: a bad option value, profile or label text
  3  could not check: unreadable, corrupt, unsupported, over a --limits budget, or a required check could not run
With several files the most serious wins: 1 > 3 > 2 > 0 (a non-compliant file is never masked)."""

profile_option = click.option(
    "--profile", "-p", default=DEFAULT_PROFILE, show_default=True, metavar="ID|PATH",
    help="Labelling profile: a shipped id (see `aigclabel profiles`) or a path to a .toml file.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _parse_limits(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if not value:
        return None
    from aigclabel.limits import parse_limits

    try:
        return parse_limits(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


limits_option = click.option(
    "--limits", callback=_parse_limits, metavar="NAME=VALUE,...",
    help="Resource budget for hostile input, e.g. 'pixels=50e6,allocation=128M,decode_seconds=20' "
         "(names: allocation, depth, structures, pixels, sample_rate, channels, audio_samples, video_frames, "
         "decode_seconds, bytes_read; see aigclabel.limits). A file over a limit is 'could not check' (exit 3).")


#: the exit codes decided so far by the running command (see :func:`decided_codes`)
_DECIDED: list[int] = []


def decided_codes() -> list[int]:
    """The running command's list of per-file exit codes, emptied; append each file's code to it.

    When the reader of our output goes away (``aigclabel verify a b c | head -1``), the command ends
    quietly with the code of what was decided so far, as ``grep`` and ``exiftool`` do.
    """
    _DECIDED.clear()
    return _DECIDED


def final_code(codes: Iterable[int]) -> int:
    """The command's exit code: the most serious per-file outcome (1 > 3 > 2 > 0, see ExitPolicy)."""
    return EXIT_POLICY.worst(codes)


def exit_code_for(exc: BaseException) -> int:
    """Usage-type errors are 2 (bad profile, bad label value); everything else that stops a file is 3."""
    return EXIT_POLICY.for_error(exc)


def error_line(exc: BaseException, path: str | None = None) -> str:
    """One clear line naming the file and the cause; the path is not repeated if the message has it."""
    msg = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        # the system refused (permissions, a full disk, a read-only file system): say so plainly
        where = exc.filename if exc.filename is not None else path
        msg = f"{where}: {exc.strerror}" if where else exc.strerror
    elif not isinstance(exc, AigcLabelError):
        msg = f"internal error ({type(exc).__name__}: {msg}); please report it"
    if path and not msg.startswith(path):
        msg = f"{path}: {msg}"
    return msg


def echo_error(exc: BaseException, path: str | None = None) -> None:
    click.echo(f"aigclabel: error: {error_line(exc, path)}", err=True)
    if os.environ.get("AIGCLABEL_DEBUG"):
        import traceback  # only when asked for: a normal run never prints one

        traceback.print_exception(exc)


def fail(exc: BaseException) -> None:
    """Abort the whole command with one line (never a traceback)."""
    echo_error(exc)
    sys.exit(exit_code_for(exc))


def guarded(func: Callable[..., T]) -> Callable[..., T]:
    """Turn any escaping aigclabel error into one stderr line and its exit code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(final_code(_DECIDED))
        except KeyboardInterrupt:
            click.echo("aigclabel: interrupted", err=True)
            sys.exit(130)
        except BaseException as exc:  # noqa: BLE001 - the CLI never shows a traceback
            fail(exc)
            raise  # unreachable

    return wrapper


def _quiet_stdout() -> None:
    """The reader went away: point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass


def dump_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def progress(items: list[T], label: str) -> Iterator[T]:
    """A progress bar on a terminal for long runs; silent when stderr is piped."""
    if len(items) < 20 or not sys.stderr.isatty():
        yield from items
        return
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar


def expand_inputs(paths: Iterable[str]) -> list[str]:
    """Inputs as given (shell globs are expanded by the shell; one process handles them all)."""
    return [os.fspath(p) for p in paths]


def c2pa_signing_options(c2pa: bool, sign_cert: str | None, sign_key: str | None, tsa: str | None = None,
                 system: str | None = None) -> Any:
    """The C2PA signing options of ``mark`` and ``carry``, checked before any file (unusable credentials: exit 2;
    the extra missing: exit 3)."""
    given = [flag for flag, value in (("--sign-cert", sign_cert), ("--tsa", tsa), ("--system", system)) if value]
    if given and not c2pa:
        raise click.UsageError(f"{', '.join(given)} {'goes' if len(given) == 1 else 'go'} with --c2pa")
    if not c2pa:
        return None
    if not (sign_cert and sign_key):
        raise click.UsageError("--c2pa needs --sign-cert CHAIN.pem and --sign-key KEY.pem "
                               "(for a development pair: aigclabel keys init DIR)")
    from aigclabel.c2pa import C2paOptions, SigningError, available

    if not available():  # a missing extra is "could not do it": exit 3, like any unsupported operation
        raise SigningError("--c2pa needs c2pa-python, which is not installed: pip install 'aigclabel[c2pa]'")
    system_name, _, system_version = (system or "").partition("/")
    options = C2paOptions(sign_cert=sign_cert, sign_key=sign_key, tsa_url=tsa,
                          system_name=system_name or None, system_version=system_version or None)
    try:
        options.check()
    except SigningError as exc:
        raise click.BadParameter(str(exc), param_hint="/".join(["--sign-cert", "--sign-key"] + (["--tsa"] if tsa
                                                                                                   else []))) from None
    return options
