"""``make demo``: the skills quarantine end to end on the bundled example skill.

1. makes keys for a signer, a security approver, a runtime owner, an incident
   commander and the startup attestation, and a copy of the
   ``skills-quarantine`` profile that lists them;
2. signs ``fixtures/skills/pdf-text`` and takes it in for the trusted tier;
3. scans it, evaluates it (approved_limited: approvals missing), records two
   signed approvals, evaluates again (approved_trusted) and publishes it;
4. runs the four startup gates on a manifest that loads it (a signed startup
   attestation), then revokes it (a revocation signed by the incident
   commander) and shows the startup refused;
5. removes everything it made.

Run from the repository root: ``.venv/bin/python scripts/demo_skills.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GATE = str(Path(sys.executable).parent / "gate")
SOURCE = "https://github.com/acme/skills@" + "3f1c" * 10
PEOPLE = {"sam": ["security"], "rita": ["runtime-owner"], "ian": ["incident-commander"]}


def gate(
    *args: str, db: str, show: bool = True, ok: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    """Run gate, print the command and its output, fail the demo on an unexpected exit code."""
    if show:
        print("$ gate " + " ".join(a if len(a) < 70 else a[:30] + "..." for a in args))
    result = subprocess.run(
        [GATE, *args], capture_output=True, text=True, env={**os.environ, "GATE_DB": db, "GATE_ACTOR": "demo"}
    )
    if show:
        sys.stdout.write(result.stdout + result.stderr)
    if result.returncode not in ok:
        sys.exit(f"demo: gate {args[0]} {args[1] if len(args) > 1 else ''} exited {result.returncode}")
    return result


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="gate-skills-demo-"))
    try:
        db = str(work / "registry.sqlite")
        for who in [*PEOPLE, "release-bot", "startup"]:
            gate("keygen", "--out", str(work / who), db=db, show=False)
        profile = yaml.safe_load((ROOT / "policy-profiles" / "skills-quarantine.yaml").read_text())
        settings = profile["skills"]
        settings["people"] = {
            w: {"roles": r, "public_key": (work / f"{w}.pub").read_text()} for w, r in PEOPLE.items()
        }
        settings["signers"] = {"release-bot": {"public_key": (work / "release-bot.pub").read_text()}}
        settings["trusted_registries"] = ["https://skills.example/trusted"]
        (work / "profile.yaml").write_text(yaml.safe_dump(profile))
        p = str(work / "profile.yaml")
        (work / "sbom.cdx.json").write_text(
            json.dumps(
                {
                    "bomFormat": "CycloneDX",
                    "specVersion": "1.5",
                    "version": 1,
                    "components": [{"type": "library", "name": "pypdf", "version": "4.2.0"}],
                }
            )
        )
        skill = work / "pdf-text"
        shutil.copytree(ROOT / "fixtures" / "skills" / "pdf-text", skill)
        sig = str(work / "pdf-text.sig.json")
        gate(
            "skill",
            "sign",
            str(skill),
            "--key",
            str(work / "release-bot.key"),
            "--as",
            "release-bot",
            "-o",
            sig,
            db=db,
        )
        gate(
            "skill", "intake", str(skill), "--source", SOURCE, "--maintainer", "alice", "--owner", "alice",
            "--deps", "pypi:pypdf==4.2.0", "--network", "none", "--tier", "trusted", "--submitter", "alice",
            "--rollback", "none", "--update-cadence", "quarterly", "--sbom", str(work / "sbom.cdx.json"),
            "--signature", sig, db=db,
        )  # fmt: skip
        gate("skill", "scan", "pdf-text", "--profile", p, db=db)
        gate("skill", "evaluate", "pdf-text", "--profile", p, db=db)
        gate(
            "skill",
            "approve",
            "pdf-text",
            "--role",
            "security",
            "--key",
            str(work / "sam.key"),
            "--as",
            "sam",
            db=db,
        )
        gate(
            "skill",
            "approve",
            "pdf-text",
            "--role",
            "runtime-owner",
            "--key",
            str(work / "rita.key"),
            "--as",
            "rita",
            db=db,
        )
        gate("skill", "evaluate", "pdf-text", "--profile", p, db=db)
        gate("skill", "publish", "pdf-text", "--profile", p, db=db)
        digest = json.loads(gate("skill", "show", "pdf-text", "-o", "json", db=db, show=False).stdout)[
            "digest"
        ]
        manifest = work / "skills.json"
        manifest.write_text(
            json.dumps(
                {
                    "workflow": "release-bot",
                    "allowRuntimeFetch": False,
                    "skills": [
                        {
                            "name": "pdf-text",
                            "digest": digest,
                            "registry": "https://skills.example/trusted",
                            "path": "pdf-text",
                            "signature": "pdf-text.sig.json",
                            "source": SOURCE,
                        }
                    ],
                }
            )
        )
        gate(
            "enforce", "--manifest", str(manifest), "--profile", p, "--key", str(work / "startup.key"),
            "--attestation", str(work / "startup.json"), db=db,
        )  # fmt: skip
        gate(
            "skill",
            "revoke",
            digest,
            "--reason",
            "demo: suspected compromise",
            "--role",
            "incident-commander",
            "--key",
            str(work / "ian.key"),
            "--as",
            "ian",
            "--profile",
            p,
            db=db,
        )
        gate("enforce", "--manifest", str(manifest), "--profile", p, db=db, ok=(1,))
        gate("skill", "history", "pdf-text", db=db)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
