"""``gate collect skill``: the input document for an agent skill folder or archive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gate.cli.common import EXIT_CODES_HELP, profile_option

F = TypeVar("F", bound=Callable[..., Any])

SKILL_OPTIONS = (
    "source",
    "artifact_digest",
    "maintainer",
    "deps",
    "network",
    "tier",
    "submitter",
    "owner",
    "rollback",
    "update_cadence",
    "sbom",
)
"""What a submitter declares about a skill (gate eval --skill takes them too; --signature is shared)."""

COLLECT_EPILOG = (
    """\b
examples:
  gate collect skill ./skills/pdf-text --profile skills-quarantine -o input.json
  gate collect skill pdf-text.zip --source https://github.com/acme/skills@3f1c... \\
      --network none --tier untrusted --profile skills-quarantine

Every file of the package is read (archives are read in place, never
unpacked to disk) and analysed by content; nothing is decided here.

"""
    + EXIT_CODES_HELP
)


def skill_options(f: F) -> F:
    """The declarations of a skill submission (shared by gate skill intake/scan and gate eval --skill)."""
    options = [
        click.option(
            "--source", metavar="REPO_URL@SHA", help="immutable source: https repository @ full commit SHA"
        ),
        click.option(
            "--artifact-digest", metavar="sha256:HEX", help="release artifact digest (instead of --source)"
        ),
        click.option("--maintainer", multiple=True, metavar="ID", help="declared maintainer (repeatable)"),
        click.option(
            "--deps",
            multiple=True,
            metavar="DEP",
            help="declared runtime dependency, e.g. pypi:requests==2.32.3 (repeatable)",
        ),
        click.option(
            "--network",
            metavar="none|HOST,...",
            help="declared network needs: none, or the hosts it contacts",
        ),
        click.option(
            "--tier",
            type=click.Choice(["untrusted", "semi-trusted", "trusted"]),
            help="intended trust tier (default: the profile's default_tier)",
        ),
        click.option("--submitter", metavar="ID", help="who submits this version (cannot approve it)"),
        click.option("--owner", metavar="ID", help="owner who answers for the skill"),
        click.option(
            "--rollback", metavar="sha256:HEX|none", help="digest to roll back to (none for a first version)"
        ),
        click.option("--update-cadence", metavar="TEXT", help="how often the skill is reviewed and updated"),
        click.option(
            "--sbom", metavar="FILE", help="SPDX or CycloneDX JSON SBOM of the skill's dependencies"
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_request(path: str, options: dict[str, Any], signature: str | None) -> Any:
    """The collector request from the CLI options."""
    from gate.evidence.skill.collect import SkillRequest

    return SkillRequest(
        path=path,
        source=options.get("source"),
        artifact_digest=options.get("artifact_digest"),
        maintainers=tuple(options.get("maintainer") or ()),
        deps=tuple(options.get("deps") or ()),
        network=options.get("network"),
        tier=options.get("tier"),
        submitter=options.get("submitter"),
        owner=options.get("owner"),
        rollback=options.get("rollback"),
        update_cadence=options.get("update_cadence"),
        signature=signature,
        sbom=options.get("sbom"),
    )


@click.command(
    "skill", epilog=COLLECT_EPILOG, short_help="input document for an agent skill folder or archive"
)
@click.argument("path", metavar="PATH")
@skill_options
@click.option("--signature", metavar="FILE", help="skill signature (gate skill sign) over the package digest")
@profile_option(default="skills-quarantine")
@click.option(
    "-o", "--output", "output_file", metavar="FILE", help="write the document here (default: stdout)"
)
def collect_skill(
    path: str, signature: str | None, profile: str, output_file: str | None, **options: Any
) -> int:
    """Read, analyse and record a skill package (never deciding)."""
    from gate.cli.collect_artifact import write_document
    from gate.evidence.skill.collect import collect_document
    from gate.profile import load_profile

    document = collect_document(build_request(path, options, signature), load_profile(profile))
    write_document(document, output_file)
    return 0
