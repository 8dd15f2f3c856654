"""SKILL.md: YAML frontmatter and Markdown structure, parsed without trusting either.

The frontmatter is the block between a first line ``---`` and the next line
``---``. It is parsed with PyYAML's safe loader extended to refuse anchors
and aliases (no billion-laughs expansion), duplicate keys, and anything but
plain mappings, sequences and scalars; it is capped in bytes, nodes and
depth. The Markdown body is split into prose and fenced code blocks (CommonMark
rules for backtick and tilde fences; an unclosed fence is not a fence, so
nothing hides behind an opening fence that never ends) and HTML comments,
which a reader of the rendered page never sees but an agent reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_FRONTMATTER_BYTES = 64 * 1024
MAX_NODES = 10_000
MAX_DEPTH = 16

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)


class FrontmatterError(ValueError):
    """The frontmatter is missing, malformed or over a bound."""


class _Loader(yaml.SafeLoader):
    _gate_nodes = 0


def _compose_node(self: _Loader, parent: Any, index: Any) -> Any:
    if self.check_event(yaml.AliasEvent):
        raise FrontmatterError("anchors and aliases are not allowed")
    event = self.peek_event()  # type: ignore[no-untyped-call]
    if getattr(event, "anchor", None):
        raise FrontmatterError("anchors and aliases are not allowed")
    self._gate_nodes = getattr(self, "_gate_nodes", 0) + 1
    if self._gate_nodes > MAX_NODES:
        raise FrontmatterError(f"more than {MAX_NODES} YAML nodes")
    return yaml.SafeLoader.compose_node(self, parent, index)


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise FrontmatterError(f"line {key_node.start_mark.line + 1}: keys must be strings")
        if key in out:
            raise FrontmatterError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.compose_node = _compose_node  # type: ignore[method-assign,assignment]
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level])
    return level


def _plain(value: Any) -> Any:
    """Dates and other YAML scalars as JSON-able values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def split_frontmatter(text: str) -> tuple[str | None, str, int]:
    """(frontmatter text or None, body, line number where the body starts)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise FrontmatterError("the frontmatter opened by '---' is never closed")


def parse_frontmatter(source: str) -> dict[str, Any]:
    """The frontmatter mapping, or FrontmatterError."""
    if len(source.encode("utf-8", "replace")) > MAX_FRONTMATTER_BYTES:
        raise FrontmatterError(f"frontmatter larger than {MAX_FRONTMATTER_BYTES} bytes")
    try:
        loader = _Loader(source)
        try:
            value = loader.get_single_data()
        finally:
            loader.dispose()
    except FrontmatterError:
        raise
    except yaml.YAMLError as exc:
        raise FrontmatterError(f"not valid YAML: {str(exc).splitlines()[0][:200]}") from None
    except RecursionError:
        raise FrontmatterError("YAML nested too deeply") from None
    if not isinstance(value, dict):
        raise FrontmatterError("frontmatter is not a mapping")
    if _depth(value) > MAX_DEPTH:
        raise FrontmatterError(f"frontmatter nested deeper than {MAX_DEPTH}")
    return dict(_plain(value))


@dataclass
class Fence:
    """A closed fenced code block."""

    info: str
    """The first word of the info string, lower-case (``bash``, ``python``, ``text``, "")."""
    start: int
    """Line number (1-based) of the first content line."""
    text: str


@dataclass
class Markdown:
    """A Markdown document split into what is prose and what is quoted."""

    prose: list[tuple[int, str]] = field(default_factory=list)
    """(line number, text) of every line outside closed fences (HTML comments included)."""
    fences: list[Fence] = field(default_factory=list)
    comments: list[tuple[int, str]] = field(default_factory=list)
    """(line number, text) of HTML comments: invisible when rendered, read by agents."""


def split_markdown(text: str, first_line: int = 1) -> Markdown:
    """Prose lines, closed fences and HTML comments of *text*."""
    out = Markdown()
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match:
            marker = match.group(2)
            closer = re.compile(r"^ {0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}\s*$")
            end = next((j for j in range(i + 1, len(lines)) if closer.match(lines[j])), None)
            if end is not None:
                out.fences.append(
                    Fence(match.group(3).lower(), first_line + i + 1, "\n".join(lines[i + 1 : end]))
                )
                i = end + 1
                continue
        out.prose.append((first_line + i, lines[i]))
        i += 1
    joined = "\n".join(line for _, line in out.prose)
    numbers = [n for n, _ in out.prose]
    for match in _COMMENT.finditer(joined):
        line_index = joined.count("\n", 0, match.start())
        out.comments.append((numbers[line_index] if numbers else first_line, match.group(1)))
    return out
