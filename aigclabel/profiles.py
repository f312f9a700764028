"""Profiles: which requirements apply, from which clause, at what level, with which options.

A profile is a TOML file in ``profiles/`` (shipped inside the wheel as ``aigclabel.profiles``)
or any path a user gives.  ``extends = "cn-gb45438-2025"`` starts from another profile; tables
are merged key by key.  Everything is validated on load: an unknown key or a bad option is a
:class:`~aigclabel.errors.ProfileError` naming the file and the key.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import ProfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Profile", "RuleConfig", "Marking", "load_profile", "list_profiles", "DEFAULT_PROFILE",
           "profiles_dir"]

DEFAULT_PROFILE = "cn-gb45438-2025"
_LEVELS = ("error", "warning", "info")
_TOP_KEYS = {"id", "title", "description", "extends", "jurisdiction", "status", "source", "marking", "rules"}
_RULE_KEYS = {"clause", "level", "enabled", "description"}
_MARKING_DEFAULTS: dict[str, Any] = {
    "schema": "gb45438-2025",  # or "tc260-2023": which record form `mark` writes
    # "bare" (the seven-field object; TC260 carrier guides, real generators) or "wrapped" (Annex E b)'s literal)
    "record_form": "bare",
    "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "explicit": True,  # add the visible/audible label by default
    "image_text": "AI生成",  # default explicit label for images and video frames
    "text_notice": "本内容由人工智能生成",  # default notice for text content
    "wording_ai": ["人工智能", "AI"],  # an explicit label must contain one of these ...
    "wording_generation": ["生成", "合成"],  # ... and one of these
}


def profiles_dir() -> Path:
    """Where the shipped profiles live: package data when installed, ``profiles/`` in a checkout."""
    global _profiles_dir
    if _profiles_dir is None:  # importlib.resources costs ~40 us a call, and every mark or verify asks
        _profiles_dir = _find_profiles_dir()
    return _profiles_dir


_profiles_dir: Path | None = None


def _find_profiles_dir() -> Path:
    # Look on disk first: importing importlib.resources (and the zipfile and tempfile it pulls in) was
    # ~4 ms of every command's start-up, to find a directory that sits beside this module.
    here = Path(__file__).resolve().parent
    for candidate in (here / "builtin_profiles", here.parent / "profiles"):  # installed; a checkout
        if (candidate / "cn-gb45438-2025.toml").is_file():
            return candidate
    try:  # a zipped or otherwise unusual install
        from importlib.resources import files

        found = Path(str(files("aigclabel.builtin_profiles")))
        if found.is_dir():
            return found
    except (ModuleNotFoundError, TypeError):
        pass
    return here.parent / "profiles"



def _any_of(words: list[str]) -> Callable[[str], object]:
    """A search for any of *words*, literally (an empty list: a search that never matches)."""
    return re.compile("|".join(map(re.escape, words)) if words else "(?!)").search


@dataclass
class RuleConfig:
    """One rule as a profile configures it: clause, level, whether enabled, options."""
    id: str
    clause: str
    level: str = "error"
    enabled: bool = True
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return self.level == "error"


@dataclass
class Marking:
    """How a profile marks files: record schema and form, source type, explicit wording and sizes."""
    schema: str
    record_form: str
    digital_source_type: str
    explicit: bool
    image_text: str
    text_notice: str
    wording_ai: list[str]
    wording_generation: list[str]


@dataclass
class Profile:
    """A loaded profile: its identity, what it extends, how it marks and which rules it checks."""
    id: str
    title: str
    path: Path | None
    description: str = ""
    jurisdiction: str = ""
    status: str = ""
    source: str = ""
    extends: list[str] = field(default_factory=list)  # the chain of profiles this one extends
    marking: Marking = field(default_factory=lambda: Marking(**_MARKING_DEFAULTS))
    rules: dict[str, RuleConfig] = field(default_factory=dict)

    def enabled_rules(self) -> list[RuleConfig]:
        return [r for r in self.rules.values() if r.enabled]

    def wording_ok(self, text: str) -> bool:
        """Both an AI element and a generation element (GB 45438 explicit-label wording)."""
        ai, generation = self._wording_searches
        return ai(text) is not None and generation(text) is not None

    @functools.cached_property
    def _wording_searches(self) -> tuple[Callable[[str], object], Callable[[str], object]]:
        # each list compiled into one search of its words, taken literally: the text notice check asks for
        # every line of a text (millions in a hostile one), where a loop of ``in`` tests cost ~1.7 us a line
        return _any_of(self.marking.wording_ai), _any_of(self.marking.wording_generation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "description": self.description,
            "jurisdiction": self.jurisdiction, "status": self.status, "source": self.source,
            "extends": self.extends, "path": str(self.path) if self.path else None,
            "marking": dict(vars(self.marking)),
            "rules": [{"id": r.id, "clause": r.clause, "level": r.level, "enabled": r.enabled,
                       "description": r.description, "options": r.options} for r in self.rules.values()],
        }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from None


def _resolve_path(name: str | os.PathLike, relative_to: Path | None = None) -> Path:
    text = os.fspath(name)
    if _looks_like_path(text):
        path = Path(text)
        if not path.is_absolute() and relative_to is not None and not path.exists():
            path = relative_to / path
        return path
    path = profiles_dir() / f"{text}.toml"
    if not path.exists():
        known = ", ".join(p.id for p in list_profiles())
        raise ProfileError(f"unknown profile {text!r} (shipped profiles: {known}; or give a path to a .toml file)")
    return path


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or os.sep in text or "/" in text


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _load_raw(path: Path, chain: tuple[Path, ...],
              files: list[tuple[str, int]] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The merged table of *path* and the ids of the profiles it extends; *files* collects the (path,
    mtime_ns) of each parent read (what the cache checks)."""
    resolved = path.resolve()
    if resolved in chain:
        raise ProfileError(f"{path}: 'extends' forms a cycle")
    data = _read_toml(path)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ProfileError(f"{path}: unknown key {sorted(unknown)[0]!r} "
                           f"(allowed: {', '.join(sorted(_TOP_KEYS))})")
    parent = data.get("extends")
    if parent is None:
        return data, []
    if not isinstance(parent, str) or not parent:
        raise ProfileError(f"{path}: 'extends' must be a profile id or path")
    parent_path = _resolve_path(parent, path.parent)
    if files is not None:
        try:
            files.append((str(parent_path.resolve()), os.stat(parent_path).st_mtime_ns))
        except OSError:
            pass  # reported by the read just below
    base, base_chain = _load_raw(parent_path, chain + (resolved,), files)
    base_id = base.get("id", parent)
    merged = _merge({k: v for k, v in base.items() if k not in ("id", "extends")}, data)
    return merged, [base_id, *base_chain]


def _validate(path: Path, data: dict[str, Any], chain: list[str]) -> Profile:
    from .rules import all_rules

    def need_str(key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ProfileError(f"{path}: {key} must be a string, not {type(value).__name__}")
        return value

    pid = need_str("id", data.get("id", path.stem))
    marking_raw = data.get("marking", {})
    if not isinstance(marking_raw, dict):
        raise ProfileError(f"{path}: [marking] must be a table")
    marking: dict[str, Any] = dict(_MARKING_DEFAULTS)
    for key, value in marking_raw.items():
        if key not in _MARKING_DEFAULTS:
            raise ProfileError(f"{path}: unknown key marking.{key} (allowed: {', '.join(_MARKING_DEFAULTS)})")
        default = _MARKING_DEFAULTS[key]
        if type(value) is not type(default) or (isinstance(value, list)
                                                 and not all(isinstance(v, str) for v in value)):
            raise ProfileError(f"{path}: marking.{key} must be {type(default).__name__}, got {value!r}")
        marking[key] = value
    if marking["schema"] not in ("gb45438-2025", "tc260-2023"):
        raise ProfileError(f"{path}: marking.schema must be 'gb45438-2025' or 'tc260-2023', "
                           f"got {marking['schema']!r}")
    if marking["record_form"] not in ("bare", "wrapped"):
        raise ProfileError(f"{path}: marking.record_form must be 'bare' or 'wrapped', got {marking['record_form']!r}")

    known = all_rules()
    rules_raw = data.get("rules", {})
    if not isinstance(rules_raw, dict):
        raise ProfileError(f"{path}: [rules] must be a table of rule tables")
    rules: dict[str, RuleConfig] = {}
    for rule_id, table in rules_raw.items():
        module = known.get(rule_id)
        if module is None:
            raise ProfileError(f"{path}: unknown rule rules.{rule_id!r} (known: {', '.join(sorted(known))})")
        if not isinstance(table, dict):
            raise ProfileError(f"{path}: rules.{rule_id} must be a table")
        options = dict(module.OPTIONS)
        cfg = RuleConfig(id=rule_id, clause="", description=module.DESCRIPTION)
        for key, value in table.items():
            where = f"rules.{rule_id}.{key}"
            if key == "clause":
                cfg.clause = need_str(where, value)
            elif key == "level":
                if value not in _LEVELS:
                    raise ProfileError(f"{path}: {where} must be one of {', '.join(_LEVELS)}, got {value!r}")
                cfg.level = value
            elif key == "enabled":
                if not isinstance(value, bool):
                    raise ProfileError(f"{path}: {where} must be true or false")
                cfg.enabled = value
            elif key == "description":
                cfg.description = need_str(where, value)
            elif key in options:
                default = options[key]
                ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int)
                                                          and not isinstance(value, bool))
                if not ok or isinstance(value, bool) != isinstance(default, bool):
                    raise ProfileError(f"{path}: {where} must be {type(default).__name__}, got {value!r}")
                options[key] = value
            else:
                allowed = sorted(_RULE_KEYS | set(options))
                raise ProfileError(f"{path}: unknown key {where} (allowed: {', '.join(allowed)})")
        if not cfg.clause:
            raise ProfileError(f"{path}: rules.{rule_id} needs a clause (every requirement names its source)")
        cfg.options = options
        rules[rule_id] = cfg
    return Profile(
        id=pid, title=need_str("title", data.get("title", pid)), path=path,
        description=need_str("description", data.get("description", "")),
        jurisdiction=need_str("jurisdiction", data.get("jurisdiction", "")),
        status=need_str("status", data.get("status", "")),
        source=need_str("source", data.get("source", "")),
        extends=chain, marking=Marking(**marking), rules=rules,
    )


#: loaded profiles by resolved path: the profile and the (path, mtime_ns) of every file it was built from (its
#: ``extends`` chain included), so an edited parent is reloaded too; a hit costs one stat per file
_cache: dict[str, tuple[Profile, tuple[tuple[str, int], ...]]] = {}
#: a shipped profile's id -> its resolved path (ids are looked up on every call: mark, verify, batch files)
_id_paths: dict[str, str] = {}


def load_profile(name: str | os.PathLike | Profile = DEFAULT_PROFILE) -> Profile:
    """Load a shipped profile by id, or a profile file by path, with ``extends`` resolved.

    Parsed profiles are cached by path and modification time, so a batch pays the TOML parse and validation
    once, while an edited file (or an edited profile it extends) is read again.
    """
    if isinstance(name, Profile):
        return name
    resolved = _id_paths.get(name) if isinstance(name, str) else None
    path: Path | None = None
    if resolved is None:
        path = _resolve_path(name)
        try:
            resolved = str(path.resolve())
        except OSError:
            raise ProfileError(f"{path}: profile file not found") from None
        if isinstance(name, str) and not _looks_like_path(name):
            _id_paths[name] = resolved
    cached = _cache.get(resolved)
    if cached is not None and _unchanged(cached[1]):
        return cached[0]
    path = path or Path(resolved)  # as given (messages name the file as the user wrote it)
    try:
        stamp = (resolved, os.stat(resolved).st_mtime_ns)
    except OSError:
        if isinstance(name, str):
            _id_paths.pop(name, None)
        raise ProfileError(f"{path}: profile file not found") from None
    files: list[tuple[str, int]] = [stamp]
    data, chain = _load_raw(path, (), files)
    profile = _validate(path, data, chain)
    _cache[resolved] = (profile, tuple(files))
    return profile


def _unchanged(files: tuple[tuple[str, int], ...]) -> bool:
    try:
        return all(os.stat(path).st_mtime_ns == mtime for path, mtime in files)
    except OSError:
        return False


def list_profiles() -> list[Profile]:
    """Every shipped profile, sorted by id."""
    out = []
    for path in sorted(profiles_dir().glob("*.toml")):
        out.append(load_profile(path))
    return out
