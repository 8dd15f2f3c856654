"""Evidence verification figures for container promotion (``make bench``).

Prints figures; asserts no timing. Uses the real third-party fixtures in
``fixtures/thirdparty`` (real third-party material; see its README):

1. import time of each evidence module and of the libraries it loads lazily
   (fresh interpreter each);
2. p50 / p95 of verifying the real production Sigstore bundle
   (``bundle_v3_github.whl.sigstore``) offline, warm;
3. p50 / p95 of verifying the real cosign keyless ``.att`` layer (Rekor SET,
   Fulcio chain, SCT, DSSE signature), warm;
4. p50 of parsing and validating the largest SBOM fixture (CycloneDX 1.4,
   62 components) and the syft SPDX 2.3 one;
5. p50 of normalising the 15-match grype 0.94 report, and of a run through a
   stand-in ``grype`` executable (process start-up dominates).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIRDPARTY = ROOT / "fixtures" / "thirdparty"


COSIGN_ENVELOPE = "slsa-v0.2.container-generator.cosign-dsse-envelope.json"


def _timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def _import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    from gate.evidence.interface import Collection
    from gate.evidence.sbom import parse_sbom
    from gate.evidence.signatures import DSSE_ENVELOPE, SignatureOptions, verify_bundle, verify_cosign_layer
    from gate.evidence.vulnerabilities import normalise, run_grype

    print("import time (fresh interpreter, ms):")
    for label, statement in [
        ("gate.evidence.signatures", "import gate.evidence.signatures"),
        ("gate.evidence.sbom", "import gate.evidence.sbom"),
        ("gate.evidence.vulnerabilities", "import gate.evidence.vulnerabilities"),
        ("sigstore verifier (lazy)", "import sigstore.verify, sigstore.models"),
        (
            "spdx-tools parser+validator (lazy)",
            "import spdx_tools.spdx.validation.document_validator, "
            "spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser",
        ),
        (
            "cyclonedx-python-lib model+validator (lazy)",
            "import cyclonedx.model.bom, cyclonedx.validation.json",
        ),
    ]:
        print(f"  {label:48s} {_import_ms(statement):8.1f}")

    sig = THIRDPARTY / "sigstore"
    whl, bundle = (
        (sig / "bundle_v3_github.whl").read_bytes(),
        (sig / "bundle_v3_github.whl.sigstore").read_bytes(),
    )
    options = SignatureOptions()
    p50, p95 = _timed(lambda: verify_bundle(bundle, options, artifact=whl), 50)
    print(f"Sigstore bundle (production, offline, warm): p50 {p50:.2f} ms, p95 {p95:.2f} ms")

    oci = THIRDPARTY / "oci" / "ghcr-slsa-example-package"
    manifest = json.loads(next(oci.glob("cosign-attestations-manifest.*.json")).read_text())
    envelope = (
        THIRDPARTY / "intoto" / "slsa-v0.2.container-generator.cosign-dsse-envelope.json"
    ).read_bytes()
    annotations = manifest["layers"][0]["annotations"]
    p50, p95 = _timed(
        lambda: verify_cosign_layer(envelope, annotations, options, media_type=DSSE_ENVELOPE), 50
    )
    print(f"cosign keyless .att layer (SET, chain, SCT, DSSE): p50 {p50:.2f} ms, p95 {p95:.2f} ms")

    for name, fmt in [
        ("cdx-1.4.cyclonedx-php-composer.laravel-7.12.0.cdx.json", "cyclonedx"),
        ("spdx-2.3.syft-0.76.0.alpine-image.spdx.json", "spdx"),
    ]:
        document = json.loads((THIRDPARTY / "sbom" / name).read_text())
        p50, _ = _timed(lambda d=document, f=fmt: parse_sbom(d, f), 10)
        print(f"SBOM parse + validate {name}: p50 {p50:.1f} ms")

    report = json.loads((THIRDPARTY / "vulns" / "grype-busybox-1.32.1.grype-0.94.0.json").read_text())
    p50, _ = _timed(lambda: normalise(report), 50)
    print(f"grype report normalisation (15 matches): p50 {p50:.3f} ms")

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "grype"
        source = THIRDPARTY / "vulns" / "grype-busybox-1.32.1.grype-0.94.0.json"
        script.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write(open({str(source)!r}).read())\n")
        script.chmod(0o755)
        os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
        digest = "sha256:" + "a" * 64
        p50, _ = _timed(lambda: run_grype("registry.local/nim/model", digest, Collection()), 10)
        print(f"grype run through a stand-in executable (process start-up included): p50 {p50:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
