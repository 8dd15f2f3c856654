"""Configuration loaders: safe, bounded, JSON-compatible."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.check.loaders import load
from gate.errors import InputError


def test_multi_document_yaml_and_plain_values(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("when: 2026-11-22\nyes: on\n1: x\n---\n- b\n---\n")
    assert load(str(path)).documents == [{"when": "2026-11-22", "true": True, "1": "x"}, ["b"], None]


def test_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "a.toml"
    toml.write_text('title = "x"\n[owner]\ndob = 1979-05-27T07:32:00Z\n')
    assert load(str(toml)).documents == [{"title": "x", "owner": {"dob": "1979-05-27T07:32:00+00:00"}}]
    js = tmp_path / "a.json"
    js.write_text('{"a": 1, "a": 2}')
    with pytest.raises(InputError, match="duplicate key"):
        load(str(js))


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(
            f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]"
        )
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="alias bomb"):
        load(str(path))


def test_small_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert load(str(path)).documents == [{"base": {"x": 1}, "other": {"x": 1, "y": 2}}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "duplicate key"),
        ("x: !!python/object:os.system {}\n", "not valid YAML"),
        ("x: .nan\n", "not a JSON number"),
        ("x: " + "[" * 100 + "]" * 100 + "\n", "nested deeper"),
        ("x: !!binary aGk=\n", "binary values"),
    ],
)
def test_unsafe_or_non_json_yaml_is_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load(str(path))
