"""Every exception aigclabel raises, in one place.

A file that breaks the rules is *not* an exception: it is a :class:`~aigclabel.report.Report`
with findings.  Exceptions mean "could not do what was asked"::

    AigcLabelError                  root; catch this to catch everything below
    ├── ProfileError                a profile file or option is invalid (exit code 2)
    ├── InputError                  the input could not be checked or marked (exit code 3)
    │   ├── SourceError             missing, unreadable, a directory, not a binary stream
    │   ├── UnsupportedFormat       no format handler claims the content
    │   └── CorruptFile             the content is truncated or malformed
    │       └── LimitExceeded       the content declares more than a resource budget allows (limits.py)
    ├── UnsupportedOperation        the format is known but cannot do this (e.g. write) (exit code 3)
    │   ├── PasswordRequired        the file is encrypted and no (or a wrong) password was given
    │   └── SigningError            a C2PA manifest could not be signed in (nothing was written)
    ├── LabelError                  a label value cannot be written (bad characters, missing field)
    ├── OptionError                 an option value is not one the call accepts (exit code 2)
    └── OutputError                 the output cannot be written: exists, no such directory (exit code 3)
"""

from __future__ import annotations

__all__ = [
    "AigcLabelError",
    "ProfileError",
    "InputError",
    "SourceError",
    "UnsupportedFormat",
    "CorruptFile",
    "LimitExceeded",
    "UnsupportedOperation",
    "PasswordRequired",
    "SigningError",
    "LabelError",
    "OptionError",
    "OutputError",
]


class AigcLabelError(Exception):
    """Root of every error raised by aigclabel."""

    #: short machine-readable name used in JSON output and batch summaries
    kind: str = "error"


class ProfileError(AigcLabelError):
    """A profile could not be found, parsed or validated; the message names the file and key."""

    kind = "profile-error"


class InputError(AigcLabelError):
    """The input could not be read well enough to check or mark it."""

    kind = "input-error"


class SourceError(InputError):
    """The source is missing, unreadable, a directory, or not a binary stream."""

    kind = "source-error"


class UnsupportedFormat(InputError):
    """No format handler recognises the content (the file extension is never trusted)."""

    kind = "unsupported-format"


class CorruptFile(InputError):
    """The content claims a known format but is truncated or malformed."""

    kind = "corrupt-file"


class LimitExceeded(CorruptFile):
    """The content declares (or would need) more than a budget of :mod:`aigclabel.limits` allows.

    ``limit`` names the budget (e.g. ``"max_allocation"``), so a caller can raise that one knowingly.
    """

    kind = "limit-exceeded"

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(f"{message} [{limit}]")
        self.limit = limit


class UnsupportedOperation(AigcLabelError):
    """The format is recognised but the requested operation is not available for it."""

    kind = "unsupported-operation"


class PasswordRequired(UnsupportedOperation):
    """The file is encrypted and the password given (or the empty one) does not open it."""

    kind = "password-required"


class SigningError(UnsupportedOperation):
    """A C2PA manifest could not be signed into the file (nothing was written)."""

    kind = "signing-error"


class LabelError(AigcLabelError, ValueError):
    """A label record cannot be written as given (e.g. characters outside the allowed set)."""

    kind = "label-error"


class OptionError(AigcLabelError, ValueError):
    """An option is not one the call accepts (a scope, a position, a duration); the message lists the allowed ones."""

    kind = "option-error"


class OutputError(AigcLabelError):
    """The destination cannot be written: it exists (without force), or its directory does not."""

    kind = "output-error"
