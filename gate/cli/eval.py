"""``gate eval``: decide on one subject."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gate.cli.collect_artifact import artifact_options, build_request, collect_with_progress, write_document
from gate.cli.collect_container import CONTAINER_ONLY, eval_container_options
from gate.cli.collect_skill import SKILL_OPTIONS, skill_options
from gate.cli.common import (
    EXIT_CODES_HELP,
    engine_option,
    output_option,
    policy_dir_option,
    profile_option,
    renderer,
    verdict_exit,
    write,
)
from gate.cli.record import record_decision, record_options
from gate.errors import UsageError

EVAL_EPILOG = (
    """\b
examples:
  gate eval --input fixtures/container/unsigned.input.json --profile nim-promotion
  gate eval --input - --profile ./my-profile.yaml -o json < input.json
  gate eval --artifact ./model.safetensors --profile standalone
  gate eval --artifact ./model-dir/ --source-url https://huggingface.co/org/model \
      --lock models.lock.yaml --profile appliance -o json --save-input input.json
  gate eval --image nvcr.io/nim/meta/llama-3.3-70b:1.5.0 --pin sha256:... --prod-digest sha256:... \
      --identity SAN --issuer URL --mode runtime --profile nim-promotion --save-input input.json
  gate eval --skill ./skills/pdf-text --profile skills-quarantine --tier untrusted

Exactly one of --input, --artifact, --image and --skill is given. With
--artifact, --image or --skill, gate first collects the input document (as
gate collect artifact / container / skill do), then decides. With --image the cosign public
key is --cosign-key (--key signs the attestation).
The input document is validated against schemas/input.schema.json first; a
document that does not match is rejected with one line per problem, each
naming its JSON pointer, and nothing is evaluated.

"""
    + EXIT_CODES_HELP
)


@click.command(
    "eval", epilog=EVAL_EPILOG, short_help="decide on one subject (promote / block / manual-review)"
)
@click.option(
    "-i",
    "--input",
    "input_path",
    metavar="FILE",
    help="input document (JSON), or - for standard input",
)
@click.option(
    "--artifact",
    "artifact_path",
    metavar="PATH",
    help="collect the input document for this model file or directory first",
)
@artifact_options
@click.option("--image", metavar="REF", help="collect the input document for this container image first")
@eval_container_options
@click.option(
    "--skill",
    "skill_path",
    metavar="PATH",
    help="collect the input document for this skill folder or archive first",
)
@skill_options
@click.option(
    "--save-input", metavar="FILE", help="also write the collected input document here (atomically)"
)
@profile_option()
@policy_dir_option
@output_option()
@engine_option
@click.option(
    "--opa-url",
    metavar="URL",
    help="ask a running OPA or gate serve (http://HOST:PORT) instead of an embedded engine; "
    "bearer token from $GATE_OPA_TOKEN",
)
@record_options
def eval_command(
    input_path: str | None,
    artifact_path: str | None,
    image: str | None,
    skill_path: str | None,
    save_input: str | None,
    profile: str,
    policy_dir: Path | None,
    output: str,
    engine: str,
    opa_url: str | None,
    **artifact: Any,
) -> int:
    """Evaluate an input document under a profile and print the decision."""
    from gate.decide import Decider
    from gate.document import load_input
    from gate.profile import load_profile

    container = {key: artifact.pop(key) for key in CONTAINER_ONLY}
    declared = {key: artifact.pop(key) for key in SKILL_OPTIONS}
    subjects = [value for value in (input_path, artifact_path, image, skill_path) if value is not None]
    if len(subjects) != 1:
        raise UsageError("give exactly one of --input FILE, --artifact PATH, --image REF and --skill PATH")
    skill_given = sorted(f"--{k.replace('_', '-')}" for k, v in declared.items() if v not in (None, ()))
    if skill_given and skill_path is None:
        raise UsageError(f"{', '.join(skill_given)}: only with --skill")
    if skill_path is not None:
        return _eval_skill(
            skill_path, declared, artifact, container, save_input, profile, policy_dir, output, engine
        )
    from gate.cli.collect_container import SHARED_OPTIONS
    from gate.cli.collect_container import given as container_given

    given = sorted(f"--{k.replace('_', '-')}" for k, v in artifact.items() if v is not None)
    stray = container_given(container)
    if input_path is not None and (given or stray or save_input):
        names = [*given, *stray, *(["--save-input"] if save_input else [])]
        raise UsageError(f"{', '.join(names)}: only with --artifact or --image, not with --input")
    if artifact_path is not None and stray:
        raise UsageError(f"{', '.join(stray)}: only with --image")
    artifact_only = [name for name in given if name[2:].replace("-", "_") not in SHARED_OPTIONS]
    if image is not None and artifact_only:
        raise UsageError(f"{', '.join(artifact_only)}: only with --artifact")
    loaded = load_profile(profile)
    if artifact_path is not None:
        collected = collect_with_progress(build_request(artifact_path, artifact), loaded)
        if save_input:
            write_document(collected, save_input)
        document = _validated(collected)
    elif image is not None:
        from gate.cli.collect_container import collect_document

        shared = {key: artifact.get(key) for key in SHARED_OPTIONS}
        collected = collect_document(image, loaded, {**container, **shared})
        if save_input:
            write_document(collected, save_input)
        document = _validated(collected)
    else:
        document = load_input(str(input_path))
    backend = None
    if opa_url:
        from gate.engine.sidecar import SidecarEngine

        backend = SidecarEngine(opa_url)
    decider = Decider(loaded, engine, policy_dir, backend=backend)
    decision = decider.decide(document)
    write(renderer(output).render_decision(decision))
    record_decision(decider, document, decision)
    return verdict_exit(decision["verdict"])


def _eval_skill(
    path: str,
    declared: dict[str, Any],
    artifact: dict[str, Any],
    container: dict[str, Any],
    save_input: str | None,
    profile: str,
    policy_dir: Path | None,
    output: str,
    engine: str,
) -> int:
    """gate eval --skill: collect the skill's input document, then decide (as gate skill scan PATH)."""
    from gate.cli.collect_container import given as container_given
    from gate.cli.collect_skill import build_request
    from gate.decide import Decider
    from gate.evidence.skill.collect import collect_document
    from gate.profile import load_profile

    signature = artifact.pop("signature", None)
    stray = sorted(f"--{k.replace('_', '-')}" for k, v in artifact.items() if v is not None)
    stray += container_given(container)
    if stray:
        raise UsageError(f"{', '.join(stray)}: not with --skill")
    loaded = load_profile(profile)
    collected = collect_document(build_request(path, declared, signature), loaded)
    if save_input:
        write_document(collected, save_input)
    document = _validated(collected)
    decider = Decider(loaded, engine, policy_dir)
    decision = decider.decide(document)
    write(renderer(output).render_decision(decision))
    record_decision(decider, document, decision)
    return verdict_exit(decision["verdict"])


def _validated(value: dict[str, Any]) -> Any:
    """A collected document, schema-checked like any input document.

    A collected document that does not match the schema is a gate bug:
    exit 4, never a verdict.
    """
    import json

    from gate import schemas
    from gate.document import parse_json
    from gate.errors import GateError

    document = parse_json("collected input document", json.dumps(value, ensure_ascii=False).encode("utf-8"))
    found = schemas.problems("input", document.value)
    if found:
        raise GateError(f"collected input document does not match the input schema (a gate bug): {found[0]}")
    return document
