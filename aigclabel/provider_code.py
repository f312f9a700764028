"""TC260-PG-20252A provider codes: 27 characters, "0011" + a GB 32100-2015 Unified Social Credit Code
+ a 5-character extension (service type and model code).  Checked as warnings only: names are
still allowed in the record, and real codes sometimes break the layout.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ._text import describe_char as _describe_char
from ._text import json_type_name as _json_type_name
from ._text import snippet as _snippet
from .report import Finding, Level

__all__ = ["PROVIDER_CODE_CLAUSE", "ProviderCode", "parse_provider_code", "uscc_check_char", "is_valid_uscc",
           "check_provider_code"]

PROVIDER_CODE_CLAUSE = "TC260-PG-20252A"


def _finding(rule: str, level: Level, message: str, *, clause: str, expected: str | None = None,
             actual: str | None = None) -> Finding:
    return Finding(rule=rule, level=level, message=message, clause=clause, expected=expected, actual=actual)


# GB 32100-2015: the USCC alphabet leaves out I, O, Z, S and V (easily confused with 1, 0, 2, 5 and U).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_PROVIDER_CODE_RE = re.compile(r"[0-9A-Z]{27}")
_PROVIDER_PREFIX = "0011"  # "00" + "1" organisation + "1" bound to a USCC
_SERVICE_TYPES = {"1": "generation", "2": "dissemination"}


class ProviderCode(NamedTuple):
    """A 27-character TC260-PG-20252A provider code split into its parts (layout not yet checked)."""

    # a NamedTuple, not a dataclass: it is built on the start-up path of every command, where a (frozen)
    # dataclass costs 0.5-1 ms to create at import (issue 15)

    code: str
    prefix: str  # "00"
    entity_type: str  # "1" = organisation
    binding: str  # "1" = bound to a Unified Social Credit Code
    uscc: str  # 18 characters
    extension: str  # "00000", or service type + 4-char model code
    service_type: str | None  # "generation" | "dissemination" | None for "00000" or an unknown digit
    model_code: str | None


def parse_provider_code(code: str) -> ProviderCode | None:
    """Split a code into its parts; None unless it is 27 characters of 0-9 and A-Z."""
    if not isinstance(code, str) or _PROVIDER_CODE_RE.fullmatch(code) is None:
        return None
    extension = code[22:27]
    service_type = _SERVICE_TYPES.get(extension[0])
    return ProviderCode(
        code=code,
        prefix=code[0:2],
        entity_type=code[2],
        binding=code[3],
        uscc=code[4:22],
        extension=extension,
        service_type=service_type,
        model_code=extension[1:] if service_type is not None else None,
    )


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a Unified Social Credit Code."""
    if len(first17) != 17:
        raise ValueError(f"a USCC check character needs exactly 17 characters, got {len(first17)}")
    total = 0
    for ch, weight in zip(first17, _USCC_WEIGHTS, strict=True):
        index = _USCC_ALPHABET.find(ch)
        if index < 0:
            raise ValueError(f"{_describe_char(ch)} is not in the GB 32100-2015 alphabet {_USCC_ALPHABET}")
        total += index * weight
    check = 31 - total % 31
    return _USCC_ALPHABET[0 if check == 31 else check]


def is_valid_uscc(uscc: str) -> bool:
    """True for an 18-character USCC whose characters and check character are right."""
    if not isinstance(uscc, str) or len(uscc) != 18 or any(ch not in _USCC_ALPHABET for ch in uscc):
        return False
    return uscc_check_char(uscc[:17]) == uscc[17]


def _normalise_service_type(value: str | None) -> str | None:
    if value is None:
        return None
    if value in _SERVICE_TYPES.values():
        return value
    if value in _SERVICE_TYPES:
        return _SERVICE_TYPES[value]
    # A wrong argument is a bug in the caller, not a property of the checked code, so it is not a finding.
    raise ValueError(f"expected_service_type must be 'generation' or 'dissemination', got {value!r}")


def check_provider_code(
    code: str, field: str = "ContentProducer", *, expected_service_type: str | None = None
) -> list[Finding]:
    """Warnings about a provider code's layout; an empty list means it looks like a valid TC260 code.

    Only warnings: names are still allowed in the record, and real codes sometimes break the layout.
    An empty value gets no finding here, since ``record.required`` / ``record.propagator`` already cover it.
    ``expected_service_type`` ("generation"/"dissemination", or "1"/"2") is the role the field plays;
    an extension of "00000" declares no service type and so cannot contradict it.
    """
    expected = _normalise_service_type(expected_service_type)
    out: list[Finding] = []

    def warn(message: str, exp: str | None = None, act: str | None = None) -> None:
        out.append(_finding("provider-code", Level.WARNING, message, clause=PROVIDER_CODE_CLAUSE,
                            expected=exp, actual=act))

    if not isinstance(code, str):
        warn(f"{field} is a {_json_type_name(code)}, not a TC260 provider code.", "a 27-character code",
             _json_type_name(code))
        return out
    if code == "":
        return out
    parsed = parse_provider_code(code)
    if parsed is None:
        hint = " (it has lower-case letters; codes use capitals)" if parse_provider_code(code.upper()) else ""
        warn(f"{field} {_snippet(code, 40)} is not a TC260 provider code of 27 digits and capital letters{hint}; "
             "names are allowed but a code is recommended.",
             "27 characters of 0-9 and A-Z", f"{len(code)} characters")
        return out

    head = code[:4]
    if head != _PROVIDER_PREFIX:
        warn(f"{field} starts with {head!r}, but a provider code starts with '0011' "
             "(organisation bound to a Unified Social Credit Code).", _PROVIDER_PREFIX, head)

    uscc = parsed.uscc
    outside = sorted({ch for ch in uscc if ch not in _USCC_ALPHABET})
    if outside:
        warn(f"{field}'s Unified Social Credit Code {uscc} contains {', '.join(outside)}, "
             "which the GB 32100-2015 alphabet leaves out (no I, O, S, V or Z).",
             _USCC_ALPHABET, "".join(outside))
    else:
        want = uscc_check_char(uscc[:17])
        if want != uscc[17]:
            warn(f"{field}'s Unified Social Credit Code {uscc} has check character {uscc[17]!r}, "
                 f"but GB 32100-2015 gives {want!r}.", want, uscc[17])

    ext = parsed.extension
    if ext[0] not in "012":
        warn(f"{field}'s extension {ext} has service type digit {ext[0]!r}; "
             "expected '1' (generation), '2' (dissemination) or '00000'.", "0, 1 or 2", ext[0])
    elif ext[0] == "0" and ext != "00000":
        warn(f"{field}'s extension {ext} starts with '0' (no service type) but is not '00000'.", "00000", ext)
    elif expected is not None and parsed.service_type is not None and parsed.service_type != expected:
        warn(f"{field}'s code declares service type {parsed.service_type}, but this field is for {expected}.",
             expected, parsed.service_type)
    return out
