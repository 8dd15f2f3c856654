"""Reference documentation in Markdown (``-o markdown``): docs/reason-codes.md is this output."""

from __future__ import annotations

from itertools import groupby

from gate.policy.metadata import RuleMeta

_HEADER = """# Reason codes

Every reason code gate can give, generated from the METADATA of the Rego rule that produces it
(`gate rules -o markdown > docs/reason-codes.md`; a test fails when this file and the policies
disagree). Each code is produced by exactly one rule. `gate rules -o json` gives the same
catalogue for machines.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_rules(rules: list[RuleMeta]) -> str:
    """One section per policy package, one entry per code, in the order gate reports them."""
    out = [_HEADER]
    ordered = sorted(rules, key=lambda meta: meta.package)
    for package, group in groupby(ordered, key=lambda meta: meta.package):
        metas = list(group)
        path = metas[0].location.rsplit(":", 1)[0]
        out.append(f"\n## `{package}` ({len(metas)} codes, `{path}`)\n")
        for meta in metas:
            collections = ", ".join(f"`{name}`" for name in meta.collections) or "none"
            out.append(
                f"\n### `{meta.short_name}`\n\n"
                f"**{_cell(meta.title)}** (severity {meta.severity}; collections: {collections})\n\n"
                f"{_cell(meta.description)}\n\n"
                f"What to do: {_cell(meta.solution)}\n"
            )
    return "".join(out)
