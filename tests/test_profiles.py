"""Profiles load, validate and extend; every shipped requirement names its clause."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigclabel import ProfileError, load_profile, list_profiles
from aigclabel.profiles import DEFAULT_PROFILE, profiles_dir
from aigclabel.rules import all_rules


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_profile_loads_with_clauses() -> None:
    p = load_profile()
    assert p.id == DEFAULT_PROFILE == "cn-gb45438-2025"
    assert p.marking.image_text == "AI生成"
    assert {"implicit.record-present", "implicit.record-fields", "explicit.image"} <= set(p.rules)
    for rule in p.rules.values():
        assert rule.clause, rule.id
    assert p.rules["implicit.provider-code"].level == "warning"
    assert p.rules["explicit.image"].options["min_height_ratio"] == 0.05


def test_every_shipped_profile_is_valid() -> None:
    ids = [p.id for p in list_profiles()]
    assert DEFAULT_PROFILE in ids
    assert all((profiles_dir() / f"{i}.toml").exists() for i in ids)


def test_every_rule_module_is_well_formed() -> None:
    for rule_id, module in all_rules().items():
        assert module.ID == rule_id
        assert module.SCOPE in ("implicit", "explicit")
        assert isinstance(module.OPTIONS, dict) and module.DESCRIPTION


def test_extends_merges_key_by_key(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.toml", """
id = "mine"
extends = "cn-gb45438-2025"
[rules."implicit.carrier"]
level = "error"
[rules."explicit.image"]
enabled = false
[marking]
image_text = "人工智能合成"
""")
    p = load_profile(path)
    assert p.id == "mine" and p.extends == ["cn-gb45438-2025"]
    assert p.rules["implicit.carrier"].level == "error"
    # clause inherited from the parent
    assert p.rules["implicit.carrier"].clause == load_profile().rules["implicit.carrier"].clause
    assert not p.rules["explicit.image"].enabled
    assert p.marking.image_text == "人工智能合成"
    assert p.marking.text_notice == load_profile().marking.text_notice


def test_extends_a_relative_path(tmp_path: Path) -> None:
    write(tmp_path, "base.toml", 'id = "base"\n[rules."implicit.record-present"]\nclause = "X 1"\n')
    child = write(tmp_path, "child.toml", 'id = "child"\nextends = "base.toml"\n')
    p = load_profile(child)
    assert p.extends == ["base"] and p.rules["implicit.record-present"].clause == "X 1"


@pytest.mark.parametrize("text, needle", [
    ('id = "x"\nbogus = 1\n', "unknown key 'bogus'"),
    ('id = "x"\n[rules."no.such-rule"]\nclause = "c"\n', "unknown rule rules.'no.such-rule'"),
    ('id = "x"\n[rules."implicit.record-present"]\nclause = "c"\nlevel = "fatal"\n',
     "rules.implicit.record-present.level must be one of"),
    ('id = "x"\n[rules."explicit.image"]\nclause = "c"\nmin_height_ratio = "big"\n',
     "rules.explicit.image.min_height_ratio must be float"),
    ('id = "x"\n[rules."explicit.image"]\nclause = "c"\ncolour = "red"\n', "unknown key rules.explicit.image.colour"),
    ('id = "x"\n[rules."implicit.record-present"]\nlevel = "error"\n', "needs a clause"),
    ('id = "x"\n[marking]\nschema = "gb2099"\n', "marking.schema"),
    ('id = "x"\n[marking]\nfont = "a.ttf"\n', "unknown key marking.font"),
    ('id = "x"\nextends = "no-such-profile"\n', "unknown profile 'no-such-profile'"),
    ('id = = broken', "not valid TOML"),
])
def test_bad_profiles_name_the_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert needle in str(info.value)
    if "unknown profile" not in needle:
        assert str(path) in str(info.value)


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'id = "a"\nextends = "b.toml"\n')
    write(tmp_path, "b.toml", 'id = "b"\nextends = "a.toml"\n')
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(tmp_path / "a.toml")


def test_unknown_profile_id_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="cn-gb45438-2025"):
        load_profile("nope")


def test_wording_rule() -> None:
    p = load_profile()
    for ok in ("AI生成", "人工智能生成", "本内容由人工智能生成合成", "豆包AI生成"):
        assert p.wording_ok(ok), ok
    for bad in ("由AI提供", "即梦AI", "智枢生成"):
        assert not p.wording_ok(bad), bad
