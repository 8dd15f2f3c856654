"""Skills scanned per second on a 200-skill tree, and the same tree through cisco-ai-skill-scanner.

Run: .venv/bin/python bench/skills.py [--count 200]

The tree is built from the test builders (tests/skills/factory.py): the five
realistic skills and every malicious one, cycled to --count folders. gate's
figure is collect + decide per skill in one process (what ``gate skill scan``
does after start-up) and the verdicts it reached; the side-by-side runs
``skill-scanner scan-all --recursive`` over the same tree when it is
installed (.ci/run puts it in .ci/cache/skill-scanner), static analyzers only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gate.evidence.skill.collect import SkillRequest, collect_document  # noqa: E402
from gate.profile import load_profile  # noqa: E402
from gate.skills.pipeline import decide  # noqa: E402
from tests.skills.factory import BENIGN, MALICIOUS  # noqa: E402
from tests.skills.pairs import PAIRS  # noqa: E402

SOURCE = "https://github.com/acme/skills@" + "3f1c" * 10


def build(tree: Path, count: int) -> dict[Path, str]:
    """Folders -> "benign" or the attack class (reason code) each one carries."""
    builders: list[tuple[str, object]] = [("benign", b) for b in BENIGN.values()]
    builders += [(code, b) for code, b in MALICIOUS.values()]
    out = {}
    for i in range(count):
        target = tree / f"skill-{i:03d}"
        kind, builder = builders[i % len(builders)]
        builder(target)  # type: ignore[operator]
        out[target] = kind
    return out


def agreement(label: str, unsafe: dict[Path, bool], kinds: dict[Path, str]) -> None:
    benign = [p for p, k in kinds.items() if k == "benign"]
    attacks = [p for p, k in kinds.items() if k != "benign"]
    false_positives = sum(1 for p in benign if unsafe.get(p, True))
    caught = sum(1 for p in attacks if unsafe.get(p, False))
    missed = sorted({kinds[p] for p in attacks if not unsafe.get(p, False)})
    print(
        f"  {label}: {caught}/{len(attacks)} malicious refused, "
        f"{false_positives}/{len(benign)} realistic benign refused"
        + (f"; classes missed: {', '.join(missed)}" if missed else "")
    )


def pairs(profile: object) -> None:
    """Benign skills and their one-construct malicious twins (tests/skills/pairs.py), by tier."""
    with tempfile.TemporaryDirectory(prefix="gate-bench-pairs-") as folder:
        built = {}
        for name, (tier, benign, twin, _code) in PAIRS.items():
            built[name] = (tier, benign(Path(folder, "b", name)), twin(Path(folder, "m", name)))
        for tier in ("untrusted", "semi-trusted"):
            fp = caught = 0
            counted = [n for n, (t, _b, _m) in built.items() if tier == "semi-trusted" or t == tier]
            for name in counted:
                _t, benign_path, twin_path = built[name]
                for path, is_benign in ((benign_path, True), (twin_path, False)):
                    request = SkillRequest(str(path), source=SOURCE, tier=tier)
                    verdict = decide(collect_document(request, profile), profile, "regorus")["verdict"]  # type: ignore[arg-type]
                    if is_benign and verdict != "promote":
                        fp += 1
                    if not is_benign and verdict == "block":
                        caught += 1
            n = len(counted)
            print(f"  pairs, {tier}: {fp}/{n} benign refused, {caught}/{n} twins refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    profile = load_profile("skills-quarantine")
    with tempfile.TemporaryDirectory(prefix="gate-bench-skills-") as folder:
        tree = Path(folder)
        kinds = build(tree, args.count)
        skills = list(kinds)
        files = sum(1 for p in tree.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        refused: dict[Path, bool] = {}
        start = time.perf_counter()
        for skill in skills:
            document = collect_document(SkillRequest(str(skill), source=SOURCE, tier="semi-trusted"), profile)
            refused[skill] = decide(document, profile, "regorus")["verdict"] != "promote"
        took = time.perf_counter() - start
        print(f"tree: {len(skills)} skills, {files} files, {size / 1024:.0f} KiB")
        print(f"gate (collect + decide, one process): {len(skills) / took:.1f} skills/s ({took:.2f} s)")
        agreement("gate", refused, kinds)
        pairs(profile)
        scanner = ROOT / ".ci" / "cache" / "skill-scanner" / "bin" / "skill-scanner"
        if not scanner.exists():
            print("cisco-ai-skill-scanner: not installed (.ci/run installs it); no side-by-side figure")
            return
        report = tree / "scanner.json"
        start = time.perf_counter()
        done = subprocess.run(
            [
                str(scanner),
                "scan-all",
                str(tree),
                "--recursive",
                "--format",
                "json",
                "--output-json",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        took = time.perf_counter() - start
        try:
            value = json.loads(report.read_text())
            results = value.get("results", []) if isinstance(value, dict) else []
        except (OSError, ValueError):
            results = []
        flagged = {Path(r["skill_path"]): r.get("is_safe") is False for r in results if isinstance(r, dict)}
        print(
            f"cisco-ai-skill-scanner scan-all (static analyzers): {len(skills) / took:.1f} skills/s "
            f"({took:.2f} s, exit {done.returncode}); {len(results)} reported"
        )
        agreement("skill-scanner (is_safe false)", flagged, kinds)


if __name__ == "__main__":
    main()
