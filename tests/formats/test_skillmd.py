"""SKILL.md frontmatter: strict YAML (no aliases, no duplicates, bounded) and Markdown structure."""

from __future__ import annotations

import pytest

from gate.formats.skillmd import FrontmatterError, parse_frontmatter, split_frontmatter, split_markdown


def test_frontmatter_and_body_are_split() -> None:
    front, body, line = split_frontmatter("---\nname: x\n---\n# Title\n")
    assert front == "name: x"
    assert body == "# Title\n"
    assert line == 4
    assert parse_frontmatter(front) == {"name": "x"}


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("a: &x [1]\nb: *x\n", "aliases"),
        ("name: a\nname: b\n", "duplicate key"),
        ("- a\n- b\n", "not a mapping"),
        ("a: [\n", "not valid YAML"),
        ("a: " + "[" * 40 + "]" * 40 + "\n", "deeper"),
        ("x: " + "y" * 70_000 + "\n", "larger"),
        ("!!python/object:os.system {}\n", "not valid YAML"),
    ],
)
def test_bad_frontmatter_is_refused_with_a_reason(source: str, why: str) -> None:
    with pytest.raises(FrontmatterError, match=why):
        parse_frontmatter(source)


def test_unclosed_frontmatter_is_refused() -> None:
    with pytest.raises(FrontmatterError, match="never closed"):
        split_frontmatter("---\nname: x\n# body\n")


def test_fences_comments_and_prose() -> None:
    doc = split_markdown("a\n```bash\nls\n```\n<!-- hidden\nnote -->\n~~~~\nq\n~~~~\nb\n")
    assert [(f.info, f.start, f.text) for f in doc.fences] == [("bash", 3, "ls"), ("", 8, "q")]
    assert [n for n, _ in doc.prose] == [1, 5, 6, 10, 11]
    assert doc.comments == [(5, " hidden\nnote ")]
